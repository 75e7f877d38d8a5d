//! The persisted fingerprint of an export's target and mapping
//! ([`crate::state::ExportMeta::fingerprint`]): a change of either forces
//! a full read of the list.
//!
//! The mapping part is a SHA-256 of an explicit serialisation of the
//! mapping's fields ([`mapping_fingerprint`]), so a refactor of the
//! `Mapping` type never changes it. Before it, the mapping part was the
//! type's `Debug` text; [`legacy_mapping_fingerprint`] reproduces that text,
//! frozen by hand, so a state database of that version is recognised as
//! unchanged (and rewritten in the new form by the run's end) instead of
//! paying for a needless full read.

use sha2::{Digest, Sha256};

use crate::config::{Export, Mapping};

/// Marks the mapping part of this form (a legacy one starts `Mapping {`).
const MAPPING_V2: &str = "mapping-sha256:";

/// Identifies the list the stored members describe: a different account or
/// list means they are about another list.
pub fn target_fingerprint(export: &Export) -> String {
    crate::state::list_fingerprint(export)
}

/// The fingerprint a run records: `TARGET|mapping-sha256:HEX`.
pub fn export_fingerprint(export: &Export) -> String {
    format!(
        "{}|{}",
        target_fingerprint(export),
        mapping_fingerprint(&export.mapping)
    )
}

/// The fingerprint this export had before the mapping part was hashed.
pub fn legacy_export_fingerprint(export: &Export) -> String {
    format!(
        "{}|{}",
        target_fingerprint(export),
        legacy_mapping_fingerprint(&export.mapping)
    )
}

/// Whether a stored fingerprint describes this export's target and mapping
/// as they are now, in the current or the legacy form.
pub fn unchanged(stored: &str, export: &Export) -> bool {
    stored == export_fingerprint(export) || stored == legacy_export_fingerprint(export)
}

/// `mapping-sha256:` and the lowercase hex SHA-256 of the canonical text:
/// one line per field in this order, `email`, `first_name`, `last_name`,
/// `phone`, then `field` once per custom field in key order. A line is the
/// name, then for each value `=` and either `-` (absent) or
/// `BYTELEN:VALUE`; a `field` line has two values, key then column.
/// Lengths make it unambiguous whatever the names hold (`|`, `=`, newlines).
pub fn mapping_fingerprint(m: &Mapping) -> String {
    let mut text = String::new();
    let mut line = |name: &str, values: &[Option<&str>]| {
        text.push_str(name);
        for v in values {
            text.push('=');
            match v {
                Some(v) => text.push_str(&format!("{}:{v}", v.len())),
                None => text.push('-'),
            }
        }
        text.push('\n');
    };
    line("email", &[Some(&m.email)]);
    line("first_name", &[m.first_name.as_deref()]);
    line("last_name", &[m.last_name.as_deref()]);
    line("phone", &[m.phone.as_deref()]);
    for (key, column) in &m.fields {
        line("field", &[Some(key), Some(column)]);
    }
    format!(
        "{MAPPING_V2}{}",
        hex::encode(Sha256::digest(text.as_bytes()))
    )
}

/// The mapping part as versions before 0.3 stored it: the derived `Debug`
/// text of `Mapping` at that time, written out by hand so that it never
/// follows a change of the type. Frozen: do not edit.
pub fn legacy_mapping_fingerprint(m: &Mapping) -> String {
    let opt = |v: &Option<String>| match v {
        Some(s) => format!("Some({s:?})"),
        None => "None".to_string(),
    };
    let fields: Vec<String> = m
        .fields
        .iter()
        .map(|(k, v)| format!("{k:?}: {v:?}"))
        .collect();
    format!(
        "Mapping {{ email: {:?}, first_name: {}, last_name: {}, phone: {}, fields: {{{}}} }}",
        m.email,
        opt(&m.first_name),
        opt(&m.last_name),
        opt(&m.phone),
        fields.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn mapping() -> Mapping {
        let mut fields = BTreeMap::new();
        fields.insert("COMPANY".to_string(), "Firma \"GmbH\"".to_string());
        fields.insert("12".to_string(), "straße\\zip\t".to_string());
        Mapping {
            email: "E-Mail".into(),
            first_name: Some("Vorname".into()),
            last_name: None,
            phone: Some("tel|fix".into()),
            fields,
        }
    }

    /// The literals were printed by `format!("{:?}", mapping)` with the
    /// `Mapping` type of 0.2, before this module existed.
    #[test]
    fn the_legacy_form_is_the_debug_text_of_0_2() {
        assert_eq!(
            legacy_mapping_fingerprint(&mapping()),
            r#"Mapping { email: "E-Mail", first_name: Some("Vorname"), last_name: None, phone: Some("tel|fix"), fields: {"12": "straße\\zip\t", "COMPANY": "Firma \"GmbH\""} }"#
        );
        assert_eq!(
            legacy_mapping_fingerprint(&Mapping::default()),
            r#"Mapping { email: "", first_name: None, last_name: None, phone: None, fields: {} }"#
        );
    }

    #[test]
    fn the_hash_form_is_stable_and_tells_every_field_apart() {
        let m = mapping();
        assert_eq!(mapping_fingerprint(&m), mapping_fingerprint(&m.clone()));
        assert!(mapping_fingerprint(&m).starts_with(MAPPING_V2));
        assert_eq!(mapping_fingerprint(&m).len(), MAPPING_V2.len() + 64);
        let variants = [
            Mapping {
                email: "email".into(),
                ..m.clone()
            },
            Mapping {
                first_name: None,
                ..m.clone()
            },
            Mapping {
                last_name: Some("Vorname".into()),
                ..m.clone()
            },
            Mapping {
                phone: None,
                ..m.clone()
            },
            Mapping {
                fields: BTreeMap::new(),
                ..m.clone()
            },
            // The same text moved between fields is another mapping.
            Mapping {
                first_name: None,
                last_name: Some("Vorname".into()),
                ..m.clone()
            },
        ];
        let mut seen = std::collections::HashSet::from([mapping_fingerprint(&m)]);
        for v in &variants {
            assert!(seen.insert(mapping_fingerprint(v)), "{v:?}");
        }
    }

    /// Pinned: a change of the canonical text would force a full read on
    /// every export after an upgrade.
    #[test]
    fn the_hash_form_is_pinned() {
        assert_eq!(
            mapping_fingerprint(&Mapping::default()),
            "mapping-sha256:251bc9ddf3727eaadebf2ceaf0b73bad4a0468943181348bfca1a9709bb30bf2"
        );
    }
}
