//! Which fields an update changes, from what to what (issue 15: `plan`
//! shows it for the first updates). "From" is what this export last sent,
//! as the run history recorded it; the planner itself keeps only a hash.
//! Pure: the caller looks the last values up.

/// One field an update changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDiff {
    pub field: String,
    /// The value last sent; `None` when the history has none for the field.
    pub from: Option<String>,
    pub to: String,
}

/// The fields of `sent` (name, value) that differ from `last` (the values
/// last sent, `None` when no send is recorded: then every field is shown).
/// An empty result with `last` given means the values equal the last ones
/// sent: the update repairs a drift in ActiveCampaign.
pub fn field_diffs(sent: &[(&str, &str)], last: Option<&[(String, String)]>) -> Vec<FieldDiff> {
    let before = |field: &str| {
        (last?.iter())
            .find(|(k, _)| k == field)
            .map(|(_, v)| v.clone())
    };
    (sent.iter())
        .map(|(field, to)| FieldDiff {
            field: (*field).to_owned(),
            from: before(field),
            to: (*to).to_owned(),
        })
        .filter(|d| last.is_none() || d.from.as_deref() != Some(d.to.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        (pairs.iter())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn only_changed_fields_are_shown_with_their_last_value() {
        let before = last(&[("first_name", "Jane"), ("COMPANY", "Acme")]);
        let sent = [
            ("first_name", "Janet"),
            ("phone", "+1"),
            ("COMPANY", "Acme"),
        ];
        let d = field_diffs(&sent, Some(&before));
        assert_eq!(
            d,
            [
                FieldDiff {
                    field: "first_name".into(),
                    from: Some("Jane".into()),
                    to: "Janet".into()
                },
                FieldDiff {
                    field: "phone".into(),
                    from: None,
                    to: "+1".into()
                },
            ]
        );
    }

    #[test]
    fn without_a_recorded_send_every_field_is_shown_from_nothing() {
        let d = field_diffs(&[("first_name", "Jane")], None);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].from, None);
        let same = last(&[("first_name", "Jane")]);
        assert!(field_diffs(&[("first_name", "Jane")], Some(&same)).is_empty());
    }
}
