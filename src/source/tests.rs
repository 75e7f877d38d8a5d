//! Reader tests: formats, row numbering, bad rows, file errors.

use std::io::Write;
use std::path::Path;

use super::*;
use crate::model::Profile;

fn mapping() -> Mapping {
    Mapping {
        email: "Email".into(),
        first_name: Some("First".into()),
        last_name: None,
        phone: Some("Phone".into()),
        fields: [
            ("ZED".to_owned(), "Zcol".to_owned()),
            ("COMPANY".into(), "Company".into()),
        ]
        .into_iter()
        .collect(),
    }
}

const T: std::time::Duration = crate::config::DEFAULT_SOURCE_TIMEOUT;

fn csv(text: &[u8]) -> Result<Segment, SourceError> {
    read_csv(text, Path::new("seg.csv"), &mapping())
}

fn jsonl(text: &str) -> Segment {
    read_jsonl(text.as_bytes(), Path::new("seg.jsonl"), &mapping()).expect("readable")
}

/// (row, email, first name, phone, custom fields)
type Summary<'a> = (
    u64,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Vec<(&'a str, &'a str)>,
);

fn summary(p: &Profile) -> Summary<'_> {
    let f = &p.fields;
    (
        p.row,
        p.email.as_str(),
        f.first_name(),
        f.phone(),
        f.custom().collect(),
    )
}

fn reasons(s: &Segment) -> Vec<(u64, &str)> {
    s.samples
        .iter()
        .map(|i| (i.row, i.reason.as_str()))
        .collect()
}

#[test]
fn csv_bom_crlf_quotes_and_case_insensitive_headers() {
    let text = "\u{feff}EMAIL,first,Phone,Company,Zcol,Extra\r\n\
                Jane@X.io, Jane ,,\"Acme,\r\nInc\", z ,ignored\r\n\
                \r\n\
                bob@x.io,Bob,555,,,\r\n";
    let s = csv(text.as_bytes()).expect("readable");
    let got: Vec<_> = s.profiles.iter().map(summary).collect();
    assert_eq!(
        got,
        // Rows are the lines they start on: Jane's record spans lines 2-3,
        // line 4 is blank.
        [
            (
                2,
                "jane@x.io",
                Some("Jane"),
                None,
                vec![("COMPANY", "Acme,\r\nInc"), ("ZED", "z")]
            ),
            (5, "bob@x.io", Some("Bob"), Some("555"), vec![]),
        ]
    );
    assert_eq!((s.source_rows, s.invalid_rows, s.duplicate_rows), (2, 0, 0));
}

#[test]
fn csv_missing_column_fails_before_rows() {
    let err = csv(b"Email,First,Phone,Company\na@x.io,A,1,C\n").expect_err("Zcol missing");
    assert!(
        matches!(&err, SourceError::MissingColumn { column, file, .. } if column == "Zcol" && file == Path::new("seg.csv")),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "segment seg.csv: column \"Zcol\" from [mapping] is not in the header (its columns: \"Email\", \"First\", \"Phone\", \"Company\")"
    );
    let err = csv(b"First,Phone,Company\nA,1,C\n").expect_err("Email missing");
    assert!(
        matches!(&err, SourceError::MissingColumn { column, .. } if column == "Email"),
        "{err:?}"
    );
    let err = csv(b"").expect_err("no header");
    assert!(matches!(err, SourceError::MissingColumn { .. }), "{err:?}");
}

#[test]
fn csv_bad_values_cost_the_value_not_the_row() {
    let mut text = b"Email,First,Phone,Company,Zcol\n".to_vec();
    text.extend_from_slice(b"a@x.io,A\xff,1,C,z\n");
    text.extend_from_slice(b"c@x.io,C,1,C,z\n");
    text.extend_from_slice(b"C@x.io,dup,1,C,z\n");
    text.extend_from_slice(b"nope,N,,,\n");
    text.extend_from_slice(b"\xffb@x.io,B,,,\n");
    let s = csv(&text).expect("readable");
    assert_eq!(s.profiles.iter().map(|p| p.row).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(
        s.profiles[0].fields.first_name(),
        None,
        "the bad name is not sent"
    );
    assert_eq!(s.profiles[0].fields.phone(), Some("1"), "the rest is");
    assert_eq!((s.source_rows, s.invalid_rows, s.duplicate_rows), (5, 2, 1));
    assert_eq!((s.row_issues, s.unreadable_emails), (1, 1));
    assert_eq!(
        reasons(&s),
        [
            (2, "column \"First\" is not valid UTF-8; not sent"),
            (4, "duplicate email (first at line 3)"),
            (5, "invalid email"),
            (6, "column \"Email\" is not valid UTF-8"),
        ]
    );
    assert_eq!(s.samples[0].email, "a***@x.io");
}

/// A JSONL segment with a BOM, CRLF, a blank line, scalars of every JSON
/// type, and lines that are not usable (an array, bad JSON, no email, an
/// object value, an array email).
const MIXED_JSONL: &str = "\u{feff}{\"Email\":\"A@x.io\",\"First\":\" Ann \",\"Phone\":5551234,\"Company\":true,\"Zcol\":null}\r\n\
                \n\
                [1,2]\n\
                {\"email\":\"b@x.io\",\"phone\":1.5,\"Zcol\":\"\"}\n\
                {not json}\n\
                {\"First\":\"no email\"}\n\
                {\"Email\":\"c@x.io\",\"Company\":{\"n\":1}}\n\
                {\"Email\":[\"d@x.io\"]}\n";

#[test]
fn jsonl_scalars_become_text_and_nulls_are_not_sent() {
    let s = jsonl(MIXED_JSONL);
    let got: Vec<_> = s.profiles.iter().map(summary).collect();
    assert_eq!(
        got,
        [
            (
                1,
                "a@x.io",
                Some("Ann"),
                Some("5551234"),
                vec![("COMPANY", "true")]
            ),
            (4, "b@x.io", None, Some("1.5"), vec![]),
            (7, "c@x.io", None, None, vec![]),
        ]
    );
}

#[test]
fn jsonl_blank_lines_are_not_rows_and_bad_lines_are_counted() {
    let s = jsonl(MIXED_JSONL);
    assert_eq!((s.source_rows, s.invalid_rows), (7, 4));
    assert_eq!((s.row_issues, s.unreadable_emails), (1, 3));
}

#[test]
fn jsonl_bad_lines_are_named_by_line_with_their_reason() {
    let s = jsonl(MIXED_JSONL);
    let r = reasons(&s);
    assert_eq!(r[0], (3, "line is an array, not a JSON object"));
    assert_eq!(r[1].0, 5);
    assert!(r[1].1.starts_with("invalid JSON"), "{r:?}");
    assert_eq!(r[2], (6, "empty email"));
    assert_eq!(
        r[3],
        (
            7,
            "key \"Company\" holds an object, not a single value; not sent"
        )
    );
    assert_eq!(
        r[4],
        (8, "key \"Email\" holds an array, not a single value")
    );
}

#[test]
fn files_missing_unreadable_and_unsupported() {
    let m = mapping();
    let missing = Source::Csv {
        path: "/nonexistent/seg.csv".into(),
        timeout: T,
    };
    let err = read(&missing, &m).expect_err("missing file");
    assert!(matches!(err, SourceError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/seg.csv"), "{err}");
    let dir = tempfile::tempdir().expect("tempdir");
    let err = read(
        &Source::Jsonl {
            path: dir.path().into(),
            timeout: T,
        },
        &m,
    )
    .expect_err("a directory");
    assert!(matches!(err, SourceError::Io { .. }), "{err:?}");
    let sql = Source::Sqlite {
        path: "/nonexistent/x.db".into(),
        query: "select 1".into(),
        timeout: T,
    };
    // Not created: the file is opened read-only, and its absence is named.
    let err = read(&sql, &m).expect_err("missing database");
    assert!(matches!(err, SourceError::Io { .. }), "{err:?}");
    assert!(!Path::new("/nonexistent/x.db").exists());
    let pg = Source::Postgres {
        url_env: "X".into(),
        query: "select 1".into(),
        statement_timeout: std::time::Duration::from_secs(1),
    };
    assert!(matches!(
        read(&pg, &m),
        Err(SourceError::Unsupported { kind: "postgres" })
    ));
}

#[test]
fn reads_files_by_path_with_progress() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("seg.jsonl");
    let mut f = std::fs::File::create(&path).expect("create");
    for i in 0..PROGRESS_EVERY + 5 {
        writeln!(f, "{{\"Email\":\"u{i}@x.io\"}}").expect("write");
    }
    drop(f);
    let mut calls = Vec::new();
    let email_only = Mapping {
        email: "Email".into(),
        ..Mapping::default()
    };
    let s = read_with_progress(&Source::Jsonl { path, timeout: T }, &email_only, &mut |n| {
        calls.push(n)
    })
    .expect("readable");
    assert_eq!(s.profiles.len() as u64, PROGRESS_EVERY + 5);
    assert_eq!(calls, [PROGRESS_EVERY]);
    let csv_path = dir.path().join("seg.csv");
    std::fs::write(&csv_path, "Email,First,Phone,Company,Zcol\nx@y.io,,,,\n").expect("write");
    let s = read(
        &Source::Csv {
            path: csv_path,
            timeout: T,
        },
        &mapping(),
    )
    .expect("readable");
    assert_eq!(s.profiles[0].fields, crate::model::Fields::default());
}

/// Scale check, run by hand optimised:
/// `CARGO_PROFILE_DEV_OPT_LEVEL=3 cargo test --lib scale_csv -- --ignored --nocapture`
#[test]
#[ignore = "slow in debug builds; run by hand optimised"]
fn scale_csv_one_million() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    writeln!(f, "Email,First,Phone,Company,Zcol").expect("write");
    for i in 0..1_000_000 {
        writeln!(f, "User{i}@Example.com,First{i},+3460000{i},Acme {i},").expect("write");
    }
    drop(f);
    let t = std::time::Instant::now();
    let s = read(&Source::Csv { path, timeout: T }, &mapping()).expect("readable");
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or_default()
        .to_owned();
    println!(
        "csv: {} profiles in {:?}, {hwm}",
        s.profiles.len(),
        t.elapsed()
    );
}
