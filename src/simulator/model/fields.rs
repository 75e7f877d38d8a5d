//! What ActiveCampaign refuses in a custom field value, as the simulator
//! models it. The id must name an existing field (§2.4: "the `field` must
//! be the `id` of a previously-created custom field"); a date is
//! `YYYY-MM-DD` (the documented examples; other formats fail for users,
//! `activecampaign-api-php` issue #103); a datetime is ISO 8601; a choice
//! field (dropdown, radio) holds one of its options as spelled; a
//! multi-value field (checkbox, listbox) holds options between `||`
//! (§2.4, §4 "separating the different values by the double-pipe
//! delimiter").
//!
//! What the real API answers for a refused value is NOT documented. The
//! simulator's decision, so that it never pretends a write happened:
//! `contact/sync` (and `POST`/`PUT /contacts`) answer 422 `field_invalid`
//! naming the field, and writes nothing; a bulk-import contact carrying
//! such a value lands in the batch's `failure` list (the import's per
//! contact outcome, §4.4) and is not written, the other contacts are.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

/// A custom field of the account (§5.2).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Field {
    pub id: u64,
    pub perstag: String,
    pub title: String,
    /// `text`, `textarea`, `date`, `datetime`, `dropdown`, `radio`,
    /// `listbox`, `checkbox` or `hidden` (§5.2).
    pub kind: String,
    /// The option values of a choice field, as ActiveCampaign spells them.
    pub options: Vec<String>,
}

/// `Err(reason)` when ActiveCampaign would refuse `value` for field `id`.
pub fn check(field: Option<&Field>, id: u64, value: &str) -> Result<(), String> {
    let Some(f) = field else {
        return Err(format!("Custom field with id {id} does not exist"));
    };
    let ok = match f.kind.as_str() {
        "date" => NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok() && value.len() == 10,
        "datetime" => is_datetime(value),
        "dropdown" | "radio" => f.options.is_empty() || f.options.iter().any(|o| o == value),
        "checkbox" | "listbox" | "multiselect" => multi_ok(f, value),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "Invalid value for custom field {} ({}, id {id})",
            f.perstag, f.kind
        ))
    }
}

fn is_datetime(v: &str) -> bool {
    DateTime::parse_from_rfc3339(v).is_ok()
        || ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]
            .iter()
            .any(|f| NaiveDateTime::parse_from_str(v, f).is_ok())
}

/// `||a||b||` (or one bare option): every part an option.
fn multi_ok(f: &Field, v: &str) -> bool {
    let parts: Vec<&str> = v.split("||").filter(|p| !p.is_empty()).collect();
    !parts.is_empty()
        && (f.options.is_empty() || parts.iter().all(|p| f.options.iter().any(|o| o == p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(kind: &str, options: &[&str]) -> Field {
        Field {
            id: 1,
            perstag: "F".into(),
            title: "F".into(),
            kind: kind.into(),
            options: options.iter().map(|o| (*o).to_string()).collect(),
        }
    }

    #[test]
    fn refuses_what_activecampaign_refuses() {
        assert!(check(None, 9, "x").is_err(), "unknown id");
        let date = field("date", &[]);
        assert!(check(Some(&date), 1, "2026-03-04").is_ok());
        assert!(check(Some(&date), 1, "03/04/2026").is_err());
        let dd = field("dropdown", &["Gold"]);
        assert!(check(Some(&dd), 1, "Gold").is_ok());
        assert!(check(Some(&dd), 1, "gold").is_err(), "exact spelling");
        let cb = field("checkbox", &["a", "b"]);
        assert!(check(Some(&cb), 1, "||a||b||").is_ok());
        assert!(check(Some(&cb), 1, r#"["a","b"]"#).is_err());
        assert!(check(Some(&field("text", &[])), 1, "anything").is_ok());
    }
}
