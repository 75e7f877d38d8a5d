//! Reading a `POST /import/bulk_import` body (§4.1-§4.3): size and JSON
//! first, then every contact. Any failure refuses the whole request (the
//! 400 shapes of §4.3), returned as a [`BulkRefusal`] the routes render.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::super::model::records::ContactPatch;
use super::super::model::values::{email_well_formed, lenient_id, lenient_string};
use super::batches::{BulkContact, ExcludeAutomationsAt, FailureIndexBase};

/// §4.1: at most 250 contacts and 399,999 bytes per request.
pub const MAX_CONTACTS: usize = 250;
pub const MAX_BYTES: usize = 399_999;

/// A request refused whole: `{"success":0,"message","failureReasons"}`;
/// `reasons` holds strings or `{contact, failureReason}` objects.
#[derive(Debug, PartialEq)]
pub struct BulkRefusal {
    pub message: String,
    pub reasons: Value,
}

/// First stage of validation: size and JSON (§4.1). Runs before the bulk
/// rate limit, which needs the contact count to pick its budget.
pub fn parse_body(body: &[u8]) -> Result<Value, BulkRefusal> {
    if body.len() > MAX_BYTES {
        return Err(general(
            "Payload too large. The maximum payload size is 399,999 bytes.",
        ));
    }
    serde_json::from_slice(body).map_err(|e| general(&format!("Invalid JSON payload: {e}")))
}

/// Number of contacts in a parsed body (0 when there is no array).
pub fn count(v: &Value) -> usize {
    v.get("contacts")
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
}

/// Second stage: the contacts themselves. Every failure rejects the whole
/// request (§4.3 "The import was not queued"). `refuse` holds emails
/// (lowercase) refused at this stage whatever their form: AC's full rule
/// list is not documented, so a test names the address it refuses.
/// `exclude_automations` is read only where the account honours it (`at`);
/// a refused contact is named counting from `base`.
pub fn validate(
    v: &Value,
    refuse: &HashSet<String>,
    at: ExcludeAutomationsAt,
    base: FailureIndexBase,
) -> Result<Vec<BulkContact>, BulkRefusal> {
    let Some(items) = v.get("contacts").and_then(Value::as_array) else {
        return Err(general("'contacts' is a required field."));
    };
    if items.is_empty() {
        return Err(general("'contacts' must contain at least one contact."));
    }
    if items.len() > MAX_CONTACTS {
        return Err(general("Up to 250 contacts may be imported per request."));
    }
    let top_level = flag(v.get("exclude_automations"));
    let mut reasons = Vec::new();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match parse_contact(item, refuse) {
            Ok(mut c) => {
                if at == ExcludeAutomationsAt::TopLevel {
                    c.exclude_automations = top_level;
                }
                out.push(c);
            }
            Err(reason) => {
                let index = i + usize::from(base == FailureIndexBase::One);
                reasons.push(json!({"contact": index, "failureReason": reason}));
            }
        }
    }
    if reasons.is_empty() {
        return Ok(out);
    }
    Err(rejected(reasons))
}

/// ActiveCampaign's documented whole-batch rejection, word for word
/// (§4.3): it names contact 230, whatever the batch holds.
pub fn documented_rejection() -> BulkRefusal {
    rejected(vec![
        json!({"contact": 230, "failureReason": "Field' email' incorrect format"}),
    ])
}

fn rejected(reasons: Vec<Value>) -> BulkRefusal {
    BulkRefusal {
        message: "JSON payload did not pass validation. Please fix failure Reasons and retry. \
                  The import was not queued for processing."
            .into(),
        reasons: Value::Array(reasons),
    }
}

/// A failure "more general" than one contact: string reasons (§4.3).
fn general(reason: &str) -> BulkRefusal {
    BulkRefusal {
        message: "JSON payload did not pass validation. The import was not queued for processing."
            .into(),
        reasons: json!([reason]),
    }
}

/// The rate-limit 400 of §4.3 (a 400, not a 429).
pub fn rate_limited(limit: u32) -> BulkRefusal {
    BulkRefusal {
        message: "Rate limit exceeded.".into(),
        reasons: json!([format!(
            "Up to {limit} imports may be requested per minute.Please batch contacts into \
             larger requests, or retry this request in a minute."
        )]),
    }
}

fn parse_contact(item: &Value, refuse: &HashSet<String>) -> Result<BulkContact, String> {
    let email = match item.get("email").and_then(Value::as_str) {
        Some(e) if refuse.contains(&e.trim().to_lowercase()) => {
            return Err("Field' email' incorrect format".into());
        }
        Some(e) if email_well_formed(e.trim()) => e.trim().to_lowercase(),
        Some(_) => return Err("Field' email' incorrect format".into()),
        None => return Err("Field' email' is required".into()),
    };
    let text = |k: &str| item.get(k).and_then(lenient_string);
    let mut patch = ContactPatch {
        first_name: text("first_name"),
        last_name: text("last_name"),
        phone: text("phone"),
        ..ContactPatch::default()
    };
    if let Some(tags) = item.get("tags") {
        let tags = tags.as_array().ok_or("Field' tags' incorrect format")?;
        patch.tags = tags.iter().filter_map(lenient_string).collect();
    }
    for f in array(item, "fields")? {
        let id = f
            .get("id")
            .and_then(lenient_id)
            .ok_or("Field' fields' incorrect format")?;
        let value = f.get("value").and_then(lenient_string).unwrap_or_default();
        patch.fields.push((id, value));
    }
    let lists = |key: &str| -> Result<Vec<u64>, String> {
        array(item, key)?
            .iter()
            .map(|s| s.get("listid").and_then(lenient_id))
            .collect::<Option<Vec<u64>>>()
            .ok_or_else(|| format!("Field' {key}' incorrect format"))
    };
    // `callback` is accepted and ignored. The simulator runs no automations
    // but counts the contacts that would run them.
    Ok(BulkContact {
        email,
        patch,
        subscribe: lists("subscribe")?,
        unsubscribe: lists("unsubscribe")?,
        exclude_automations: flag(item.get("exclude_automations")),
    })
}

/// An `exclude_automations` value: `true`, `"true"`, `"1"` or `1`.
fn flag(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true") || s == "1",
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        _ => false,
    }
}

/// An optional array member; absent or null reads as empty.
fn array<'a>(item: &'a Value, key: &str) -> Result<&'a [Value], String> {
    match item.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(format!("Field' {key}' incorrect format")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_batch_rejected_on_one_bad_email_section_4_3_and_12() {
        let body = json!({"contacts": [{"email": "ok@x.io"}, {"email": "nope"}, {}]});
        let Err(BulkRefusal { reasons, .. }) = validate(
            &body,
            &HashSet::new(),
            ExcludeAutomationsAt::EachContact,
            FailureIndexBase::Zero,
        ) else {
            panic!("accepted a batch with a malformed email");
        };
        assert_eq!(reasons[0]["contact"], 1);
        assert_eq!(
            reasons[0]["failureReason"],
            "Field' email' incorrect format"
        );
        assert_eq!(reasons[1]["contact"], 2);
        // §12: the base is undocumented; the switch counts from 1.
        let base = FailureIndexBase::One;
        let Err(BulkRefusal { reasons, .. }) = validate(
            &body,
            &HashSet::new(),
            ExcludeAutomationsAt::EachContact,
            base,
        ) else {
            panic!("accepted a batch with a malformed email");
        };
        assert_eq!(
            (&reasons[0]["contact"], &reasons[1]["contact"]),
            (&json!(2), &json!(3))
        );
        let refuse: HashSet<String> = ["ok@x.io".to_string()].into();
        let one = json!({"contacts": [{"email": "a@x.io"}, {"email": "OK@x.io"}]});
        let Err(BulkRefusal { reasons, .. }) = validate(
            &one,
            &refuse,
            ExcludeAutomationsAt::EachContact,
            FailureIndexBase::Zero,
        ) else {
            panic!("accepted a batch holding a refused email");
        };
        assert_eq!(
            reasons,
            json!([{"contact": 1, "failureReason": "Field' email' incorrect format"}])
        );
    }

    #[test]
    fn exclude_automations_read_only_where_honoured_section_12() {
        let excluded = |body: Value, at| {
            let contacts =
                validate(&body, &HashSet::new(), at, FailureIndexBase::Zero).expect("valid");
            contacts
                .iter()
                .map(|c| c.exclude_automations)
                .collect::<Vec<_>>()
        };
        let inside = json!({"contacts": [{"email": "a@x.io", "exclude_automations": true}]});
        let top = json!({"contacts": [{"email": "a@x.io"}], "exclude_automations": "1"});
        assert_eq!(
            excluded(inside.clone(), ExcludeAutomationsAt::EachContact),
            [true]
        );
        assert_eq!(excluded(inside, ExcludeAutomationsAt::TopLevel), [false]);
        assert_eq!(
            excluded(top.clone(), ExcludeAutomationsAt::EachContact),
            [false]
        );
        assert_eq!(excluded(top, ExcludeAutomationsAt::TopLevel), [true]);
    }
}
