//! How values are read from requests, leniently as ActiveCampaign reads
//! them (ids as numbers or strings, values as strings or numbers), and the
//! two tiers of email checks. Pure functions, shared by the bulk importer
//! and the endpoints.

use serde_json::Value;

/// An id given as a JSON number or a numeric string (§3.1 "ids may be
/// numbers or strings", §4.2 `listid` typed string, example integer).
pub fn lenient_id(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A string value given as a JSON string or number (phone numbers, field
/// values); `null` reads as absent.
pub fn lenient_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Batch-level email check: what makes bulk import reject a whole request
/// ("Field' email' incorrect format", §4.3): one `@`, both sides present,
/// no whitespace.
pub fn email_well_formed(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Contact-level check applied when a batch runs: the documented `failure`
/// examples (`invalid.email@invalidDomain`, `invalid'character@example.com`,
/// §4.4) pass the batch check but fail per contact. AC's full rule list is
/// not in our notes, so only those two are refused beyond RFC 5322 atoms:
/// a domain needs a dot, and the apostrophe is out.
pub fn email_deliverable(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let local_ok = local
        .chars()
        .all(|c| c.is_alphanumeric() || "!#$%&*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'));
    email_well_formed(email) && local_ok && domain_ok
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn email_checks_have_two_tiers_section_4_4() {
        assert!(!email_well_formed("no-at-sign"));
        assert!(!email_well_formed("a b@x.io"));
        assert!(!email_well_formed("@x.io"));
        assert!(email_well_formed("invalid.email@invalidDomain"));
        assert!(!email_deliverable("invalid.email@invalidDomain"));
        assert!(!email_deliverable("invalid'character@example.com"));
        assert!(email_deliverable("Jane.Doe+x@Example.co.uk"));
        assert!(email_deliverable("o_b&c=d@example.com"));
    }

    #[test]
    fn ids_read_from_numbers_and_strings_section_3_1() {
        assert_eq!(lenient_id(&json!(2)), Some(2));
        assert_eq!(lenient_id(&json!("2")), Some(2));
        assert_eq!(lenient_id(&json!("x")), None);
        assert_eq!(lenient_id(&json!(-1)), None);
    }
}
