//! Custom fields, pure rules: what each value becomes for the type of the
//! account field its `[mapping.fields]` key names (which field a key names
//! is [`crate::target_check`]'s rule).
//!
//! Conversion (a refused value is not sent; the contact still is, and the
//! row is reported with the reason, as a source row with an unusable field):
//! - date → `YYYY-MM-DD` (ActiveCampaign's documented format). Accepted inputs:
//!   `YYYY-MM-DD`, RFC 3339 / ISO 8601 date-times (the calendar date as
//!   written, in its own offset). Anything else is refused: `03/04/2026`
//!   could be March or April.
//! - datetime → ISO 8601: a zoned input in UTC (`2026-03-04T10:00:00Z`), a
//!   zoneless one as written (`2026-03-04T10:00:00`; no zone is invented),
//!   a bare date at midnight.
//! - number, currency → a decimal number (`12`, `-3.5`), sent trimmed.
//! - dropdown, radio → one option, matched case-insensitively and sent with
//!   the option's own spelling. A field whose options the account did not
//!   list is sent as it is (nothing to check against).
//! - checkbox, listbox (multi-value) → `||a||b||` (ActiveCampaign's multi-value form) from a JSON
//!   array (`["a","b"]`), an already `||`-delimited value, or a list split
//!   on `,` (the one delimiter: there is no configuration key for it); each
//!   item matched like a dropdown option.
//! - text, textarea, hidden, unknown types → as they are.
//!
//! A list (a JSON array) is refused for a date, datetime, number or
//! choice field; a text field takes its JSON text as it is.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};

use crate::activecampaign::{FieldDef, FieldKind};
use crate::model::{Fields, Profile};
use crate::segment::{MAX_SAMPLES, RowIssue, Segment};
use crate::target_check::{FieldsError, Resolved, UnknownField};

use super::error::RunError;

impl From<UnknownField> for RunError {
    fn from(u: UnknownField) -> RunError {
        RunError::UnknownField {
            key: u.key,
            hint: u.hint,
        }
    }
}

impl From<FieldsError> for RunError {
    fn from(e: FieldsError) -> RunError {
        match e {
            FieldsError::Api(e) => RunError::Api(e),
            FieldsError::Unknown(u) => u.into(),
        }
    }
}

/// The longest value quoted in a reason.
const QUOTE_MAX: usize = 40;

/// Converts every profile's custom values. A refused value is dropped from
/// the profile (not sent) and its row reported in the segment's samples.
/// Returns the issues it added (for the run's `failures`).
pub fn convert_segment(segment: &mut Segment, fields: &Resolved) -> Vec<RowIssue> {
    let mut issues = Vec::new();
    // Text fields take any value as it is: nothing to do (the common case,
    // and a million profiles are not rebuilt for it).
    if fields.values().all(|d| d.kind == FieldKind::Text) {
        return issues;
    }
    for p in &mut segment.profiles {
        if let Some(reason) = convert_profile(p, fields) {
            segment.row_issues += 1;
            let issue = RowIssue {
                row: p.row,
                email: crate::model::mask_email(&p.email),
                reason,
            };
            if segment.samples.len() < MAX_SAMPLES {
                segment.samples.push(issue.clone());
            }
            if issues.len() < MAX_SAMPLES {
                issues.push(issue);
            }
        }
    }
    issues
}

/// Rewrites one profile's custom values; the reasons of refused ones.
fn convert_profile(p: &mut Profile, fields: &Resolved) -> Option<String> {
    let mut changed = false;
    let mut refused = Vec::new();
    let mut kept: Vec<(String, String)> = Vec::new();
    for (key, raw) in p.fields.custom() {
        let Some(def) = fields.get(key) else {
            kept.push((key.to_owned(), raw.to_owned()));
            continue;
        };
        match convert(def, raw) {
            Ok(v) => {
                changed |= v != raw;
                kept.push((key.to_owned(), v));
            }
            Err(why) => {
                changed = true;
                refused.push(format!("custom field {key}: {why}; not sent"));
            }
        }
    }
    if changed {
        let f = &p.fields;
        p.fields = Fields::with_custom(f.first_name(), f.last_name(), f.phone(), kept);
    }
    (!refused.is_empty()).then(|| refused.join("; "))
}

/// The value to send for `def`, or why it is refused.
pub fn convert(def: &FieldDef, raw: &str) -> Result<String, String> {
    let v = raw.trim();
    // A list (a JSON array: a JSONL array value, or a cell holding one)
    // fits a multi-value field; a text field takes its JSON text, as it
    // takes a json/jsonb column's (`source::value`); other types refuse it.
    if !matches!(def.kind, FieldKind::Multi | FieldKind::Text)
        && v.starts_with('[')
        && serde_json::from_str::<Vec<serde_json::Value>>(v).is_ok()
    {
        return Err(format!(
            "{} is a list, but {} takes one value",
            quote(v),
            def.describe()
        ));
    }
    match def.kind {
        FieldKind::Text => Ok(raw.to_owned()),
        FieldKind::Date => to_date(v).ok_or_else(|| {
            format!(
                "{} is not a date acsync can read without guessing: use YYYY-MM-DD or ISO 8601 (a date field, sent as YYYY-MM-DD)",
                quote(v)
            )
        }),
        FieldKind::Datetime => to_datetime(v).ok_or_else(|| {
            format!(
                "{} is not an ISO 8601 date-time (e.g. 2026-03-04T10:00:00Z)",
                quote(v)
            )
        }),
        FieldKind::Number => match v.parse::<f64>() {
            Ok(n) if n.is_finite() && !v.contains(['e', 'E', 'x', 'X']) => Ok(v.to_owned()),
            _ => Err(format!("{} is not a number", quote(v))),
        },
        FieldKind::Choice => option(def, v),
        FieldKind::Multi => {
            let items = split_multi(v);
            if items.is_empty() {
                return Err(format!("{} holds no option", quote(v)));
            }
            let items = items.iter()
                .map(|i| option(def, i))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(format!("||{}||", items.join("||")))
        }
    }
}

/// The option `v` names, in the option's spelling.
fn option(def: &FieldDef, v: &str) -> Result<String, String> {
    if def.options.is_empty() {
        return Ok(v.to_owned());
    }
    def.options
        .iter()
        .find(|o| o.trim().to_lowercase() == v.to_lowercase())
        .cloned()
        .ok_or_else(|| {
            let opts: Vec<String> = def.options.iter().take(10).map(|o| quote(o)).collect();
            format!(
                "{} is not an option of {} (options: {})",
                quote(v),
                def.describe(),
                opts.join(", ")
            )
        })
}

/// The items of a multi-value input: a JSON array, `||a||b||`, or `a,b`.
fn split_multi(v: &str) -> Vec<String> {
    let items: Vec<String> = if v.starts_with('[') {
        match serde_json::from_str::<Vec<serde_json::Value>>(v) {
            Ok(a) => a
                .into_iter()
                .map(|x| match x {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                })
                .collect(),
            Err(_) => vec![v.to_owned()],
        }
    } else if v.contains("||") {
        v.split("||").map(str::to_owned).collect()
    } else {
        v.split(',').map(str::to_owned).collect()
    };
    items
        .into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

fn to_date(v: &str) -> Option<String> {
    if let Some(d) = strict_date(v) {
        return Some(d.format("%Y-%m-%d").to_string());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.date_naive().format("%Y-%m-%d").to_string());
    }
    naive_datetime(v).map(|t| t.date().format("%Y-%m-%d").to_string())
}

fn to_datetime(v: &str) -> Option<String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(
            t.with_timezone(&Utc)
                .to_rfc3339_opts(SecondsFormat::AutoSi, true),
        );
    }
    if let Some(t) = naive_datetime(v) {
        return Some(t.format("%Y-%m-%dT%H:%M:%S").to_string());
    }
    strict_date(v).map(|d| format!("{}T00:00:00", d.format("%Y-%m-%d")))
}

/// `YYYY-MM-DD` exactly (four-digit year, two-digit month and day).
fn strict_date(v: &str) -> Option<NaiveDate> {
    let b = v.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    shape
        .then(|| NaiveDate::parse_from_str(v, "%Y-%m-%d").ok())
        .flatten()
}

/// ISO 8601 without a zone: `2026-03-04T10:00:00` (or a space for the `T`).
fn naive_datetime(v: &str) -> Option<NaiveDateTime> {
    strict_date(v.get(..10)?)?;
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
}

/// A value quoted for a reason, cut to a short prefix.
fn quote(v: &str) -> String {
    let cut: String = v.chars().take(QUOTE_MAX).collect();
    if cut.len() < v.len() {
        format!("`{cut}…`")
    } else {
        format!("`{cut}`")
    }
}

#[cfg(test)]
#[path = "fields_tests.rs"]
mod tests;
