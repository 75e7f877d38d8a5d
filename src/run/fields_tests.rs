//! Unit tests of the custom-field rules.

use super::*;
use crate::target_check::resolve;
use crate::target_check::tests::def;

#[test]
fn dates_are_converted_or_refused_when_ambiguous() {
    let d = def(1, "BIRTHDAY", "date", &[]);
    for (input, out) in [
        ("2026-03-04", "2026-03-04"),
        ("2026-03-04T10:00:00Z", "2026-03-04"),
        ("2026-03-04T23:30:00-05:00", "2026-03-04"),
        ("2026-03-04T10:00:00", "2026-03-04"),
        ("2026-03-04 10:00:00.5", "2026-03-04"),
    ] {
        assert_eq!(convert(&d, input).as_deref(), Ok(out), "{input}");
    }
    for bad in [
        "03/04/2026",
        "04.03.2026",
        "2026-3-4",
        "2026-02-30",
        "tomorrow",
    ] {
        let e = convert(&d, bad).expect_err(bad);
        assert!(e.contains(bad), "{e}");
    }
}

#[test]
fn datetimes_are_iso_8601() {
    let d = def(1, "SEEN", "datetime", &[]);
    assert_eq!(
        convert(&d, "2026-03-04T10:00:00+02:00").as_deref(),
        Ok("2026-03-04T08:00:00Z")
    );
    assert_eq!(
        convert(&d, "2026-03-04 10:00:00").as_deref(),
        Ok("2026-03-04T10:00:00")
    );
    assert_eq!(
        convert(&d, "2026-03-04").as_deref(),
        Ok("2026-03-04T00:00:00")
    );
    assert!(convert(&d, "03/04/2026 10:00").is_err());
}

#[test]
fn numbers_are_checked() {
    let d = def(1, "SCORE", "number", &[]);
    assert_eq!(convert(&d, " 12.5 ").as_deref(), Ok("12.5"));
    assert!(convert(&d, "12,5").is_err());
    assert!(convert(&d, "NaN").is_err());
    let text = def(2, "NOTE", "text", &[]);
    assert_eq!(
        convert(&text, r#"["a"]"#).as_deref(),
        Ok(r#"["a"]"#),
        "JSON text"
    );
    assert!(
        convert(&d, "[1,2]")
            .expect_err("a list")
            .contains("takes one value")
    );
    assert_eq!(convert(&text, " [draft] ").as_deref(), Ok(" [draft] "));
}

#[test]
fn choices_match_an_option_case_insensitively() {
    let d = def(1, "TIER", "dropdown", &["Gold", "Silver"]);
    assert_eq!(convert(&d, "gold").as_deref(), Ok("Gold"));
    let e = convert(&d, "platinum").expect_err("not an option");
    assert!(
        e.contains("`platinum` is not an option of TIER (id 1, dropdown)"),
        "{e}"
    );
    assert!(
        convert(&d, r#"["Gold"]"#)
            .expect_err("a list")
            .contains("takes one value")
    );
    // No options listed: nothing to check against.
    assert_eq!(
        convert(&def(2, "X", "radio", &[]), "any").as_deref(),
        Ok("any")
    );
}

#[test]
fn multi_values_become_double_pipe_lists() {
    let d = def(1, "TOPICS", "checkbox", &["News", "Offers", "Events"]);
    assert_eq!(
        convert(&d, r#"["news","Offers"]"#).as_deref(),
        Ok("||News||Offers||")
    );
    assert_eq!(
        convert(&d, "news, events").as_deref(),
        Ok("||News||Events||")
    );
    assert_eq!(convert(&d, "||News||").as_deref(), Ok("||News||"));
    assert!(
        convert(&d, "news,jobs")
            .expect_err("jobs")
            .contains("`jobs`")
    );
    let free = def(2, "LB", "listbox", &[]);
    assert_eq!(convert(&free, r#"["a","b"]"#).as_deref(), Ok("||a||b||"));
}

#[test]
fn a_refused_value_is_not_sent_and_the_row_is_reported() {
    let defs = [
        def(1, "BIRTHDAY", "date", &[]),
        def(2, "TIER", "dropdown", &["Gold"]),
    ];
    let keys = ["BIRTHDAY".to_owned(), "TIER".to_owned()];
    let r = resolve(&keys, &defs).expect("resolved");
    let mut seg = Segment::default();
    for (row, date) in [(1, "2026-03-04T10:00:00Z"), (2, "03/04/2026")] {
        seg.profiles.push(Profile {
            row,
            email: format!("p{row}@example.com"),
            fields: Fields::with_custom(
                Some("A"),
                None,
                None,
                [("BIRTHDAY", date), ("TIER", "gold")],
            ),
        });
    }
    let issues = convert_segment(&mut seg, &r);
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].row, 2);
    assert!(
        issues[0].reason.contains("`03/04/2026`"),
        "{}",
        issues[0].reason
    );
    assert_eq!(seg.row_issues, 1);
    let custom = |i: usize| -> Vec<(String, String)> {
        (seg.profiles[i].fields.custom())
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    };
    assert_eq!(
        custom(0),
        [
            ("BIRTHDAY".into(), "2026-03-04".into()),
            ("TIER".into(), "Gold".into())
        ]
    );
    assert_eq!(custom(1), [("TIER".to_owned(), "Gold".to_owned())]);
    assert_eq!(seg.profiles[1].fields.first_name(), Some("A"));
}
