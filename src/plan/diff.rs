//! What an update changes, field by field, for `acsync plan` (docs/commands.md, plan):
//! "which fields change from what to what". Pure.
//!
//! The value a field has now is known where acsync read it: first name,
//! last name and phone after a full read of the list (`plan --full-read`).
//! Otherwise (custom fields are not in a list read) the value this export
//! last sent, as the run history recorded it, stands in
//! ([`fill_from_last_sent`]); failing both, the old value is unknown. A
//! field whose known value already equals the new one is left out: it does
//! not change.

use serde::Serialize;

use crate::model::{Fields, LiveMember, quoted};

/// How many updates a plan describes field by field.
pub const DIFF_SAMPLES: usize = 10;

/// The most characters of a value [`describe`] shows.
const VALUE_MAX: usize = 60;

/// One update, field by field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateDiff {
    /// Lowercased, unmasked: whoever prints it masks it.
    pub email: String,
    pub fields: Vec<FieldDiff>,
}

/// One field of an update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldDiff {
    /// `first_name`, `last_name`, `phone` or a `[mapping.fields]` key.
    pub field: String,
    /// The value now; `None` when empty, or when not known (see `known`).
    pub from: Option<String>,
    /// Whether `from` is known (read, or last sent), rather than unknown.
    pub known: bool,
    /// Where a known `from` comes from: `read` (a full read's value) or
    /// `last_sent` (the run history).
    pub from_source: Option<&'static str>,
    pub to: String,
}

/// The standard fields (first name, last name, phone) we send whose value
/// on ActiveCampaign (`live`, from a read) differs: they drifted and a run
/// writes them again. `None` in the profile is "not sent", so never drift;
/// an empty live value is the same as none. Custom fields are not in a
/// list read, so never judged here.
pub fn drifted_fields(ours: &Fields, live: &LiveMember) -> Vec<&'static str> {
    standard(ours, live)
        .into_iter()
        .filter(|(_, ours, theirs)| drifted(*ours, *theirs))
        .map(|(name, _, _)| name)
        .collect()
}

/// Each standard field: its name, our value and the live one.
fn standard<'a>(
    ours: &'a Fields,
    live: &'a LiveMember,
) -> [(&'static str, Option<&'a str>, Option<&'a str>); 3] {
    [
        ("first_name", ours.first_name(), live.first_name.as_deref()),
        ("last_name", ours.last_name(), live.last_name.as_deref()),
        ("phone", ours.phone(), live.phone.as_deref()),
    ]
}

/// A fingerprint of the live values of the standard fields `ours` sends
/// (empty and absent alike), stored as a member's `read_back_hash`: equal
/// fingerprints of two reads mean ActiveCampaign showed the same values.
pub fn read_back_hash(ours: &Fields, live: &LiveMember) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for (name, sent, theirs) in standard(ours, live) {
        if sent.is_some() {
            for part in [name, theirs.unwrap_or("")] {
                h.update(&(part.len() as u64).to_le_bytes());
                h.update(part.as_bytes());
            }
        }
    }
    h.digest()
}

fn drifted(ours: Option<&str>, live: Option<&str>) -> bool {
    ours.is_some_and(|v| v != live.unwrap_or(""))
}

/// The fields of `ours` that an update writes, with their values now where
/// `live` (a full read's member) shows them.
pub fn diff_fields(ours: &Fields, live: Option<&LiveMember>) -> Vec<FieldDiff> {
    let mut out = Vec::new();
    match live {
        Some(live) => {
            for (field, to, now) in standard(ours, live) {
                let Some(to) = to.filter(|_| drifted(to, now)) else {
                    continue;
                };
                let now = now.filter(|v| !v.is_empty()).map(str::to_string);
                out.push(diff(field, now, true, to));
            }
        }
        None => out.extend(
            ours.standard()
                .map(|(field, to)| diff(field, None, false, to)),
        ),
    }
    out.extend(ours.custom().map(|(k, v)| diff(k, None, false, v)));
    out
}

fn diff(field: &str, from: Option<String>, known: bool, to: &str) -> FieldDiff {
    FieldDiff {
        field: field.to_string(),
        from,
        known,
        from_source: known.then_some("read"),
        to: to.to_string(),
    }
}

/// Fills the unknown old values of `fields` from `last` (the field values
/// this export last sent, from the run history) and drops the fields that
/// then turn out unchanged. A field absent from `last` stays unknown.
pub fn fill_from_last_sent(fields: &mut Vec<FieldDiff>, last: &[(String, String)]) {
    for f in fields.iter_mut().filter(|f| !f.known) {
        if let Some((_, v)) = last.iter().find(|(k, _)| *k == f.field) {
            f.from = Some(v.clone()).filter(|v| !v.is_empty());
            f.known = true;
            f.from_source = Some("last_sent");
        }
    }
    fields.retain(|f| !(f.known && f.from.as_deref() == Some(f.to.as_str())));
}

/// `first_name "Ann" → "Anna"; COMPANY (not known) → "Acme"`: one line of `plan`.
pub fn describe(fields: &[FieldDiff]) -> String {
    let parts: Vec<String> = fields
        .iter()
        .map(|f| {
            let from = match (&f.from, f.known) {
                (Some(v), _) => quote(v),
                (None, true) => "(empty)".to_string(),
                (None, false) => "(not known)".to_string(),
            };
            format!("{} {from} → {}", f.field, quote(&f.to))
        })
        .collect();
    if parts.is_empty() {
        "no field differs from what was read or last sent (sent again to repair or record it)"
            .to_string()
    } else {
        parts.join("; ")
    }
}

/// A value [`quoted`], cut to [`VALUE_MAX`] characters.
fn quote(v: &str) -> String {
    let cut: String = v.chars().take(VALUE_MAX).collect();
    if cut.len() < v.len() {
        format!("{}…", quoted(&cut))
    } else {
        quoted(&cut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ListStatus;

    fn live(first: Option<&str>, phone: Option<&str>) -> LiveMember {
        LiveMember {
            contact_id: 1,
            email: "ann@example.com".into(),
            status: ListStatus::Active,
            first_name: first.map(Into::into),
            last_name: Some("Doe".into()),
            phone: phone.map(Into::into),
            contact_created: None,
        }
    }

    #[test]
    fn a_full_read_shows_what_changes_from_what() {
        let ours =
            Fields::with_custom(Some("Anna"), Some("Doe"), Some("+1"), [("COMPANY", "Acme")]);
        let d = diff_fields(&ours, Some(&live(Some("Ann"), Some(""))));
        let fields: Vec<&str> = d.iter().map(|f| f.field.as_str()).collect();
        // last_name is the same: not listed.
        assert_eq!(fields, ["first_name", "phone", "COMPANY"]);
        assert_eq!((d[0].from.as_deref(), d[0].known), (Some("Ann"), true));
        assert_eq!((d[1].from.as_deref(), d[1].known), (None, true));
        assert_eq!((d[2].from.as_deref(), d[2].known), (None, false));
        assert_eq!(
            describe(&d),
            "first_name \"Ann\" → \"Anna\"; phone (empty) → \"+1\"; COMPANY (not known) → \"Acme\""
        );
    }

    #[test]
    fn without_a_read_every_sent_field_is_shown_with_an_unknown_value() {
        let ours = Fields::new(Some("Anna"), None, None);
        let d = diff_fields(&ours, None);
        assert_eq!(d.len(), 1);
        assert_eq!(describe(&d), "first_name (not known) → \"Anna\"");
    }

    #[test]
    fn values_are_quoted_and_long_ones_cut() {
        let ours = Fields::new(Some("Ann \"the\" Great"), None, None);
        let d = diff_fields(&ours, None);
        assert_eq!(
            describe(&d),
            "first_name (not known) → \"Ann \\\"the\\\" Great\""
        );
        let long = "x".repeat(100);
        let d = diff_fields(&Fields::new(Some(&long), None, None), None);
        assert_eq!(
            describe(&d),
            format!("first_name (not known) → \"{}\"…", "x".repeat(VALUE_MAX))
        );
        assert_eq!(
            describe(&[]),
            "no field differs from what was read or last sent (sent again to repair or record it)"
        );
    }

    #[test]
    fn the_last_values_sent_stand_in_for_unread_ones() {
        let ours = Fields::with_custom(Some("Anna"), Some("Doe"), None, [("COMPANY", "Acme")]);
        let mut d = diff_fields(&ours, None);
        let last = [("first_name", "Ann"), ("last_name", "Doe")]
            .map(|(k, v)| (k.to_string(), v.to_string()));
        fill_from_last_sent(&mut d, &last);
        // last_name as last sent: not listed; COMPANY never sent: unknown.
        assert_eq!(
            describe(&d),
            "first_name \"Ann\" → \"Anna\"; COMPANY (not known) → \"Acme\""
        );
        assert_eq!(d[0].from_source, Some("last_sent"));
        assert_eq!((d[1].known, d[1].from_source), (false, None));
    }
}
