//! Tests of the readers: malformed files fail with their line,
//! mapped keys no row has fail listing what was seen, reads are bounded.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::*;

fn mapping() -> Mapping {
    Mapping {
        email: "email".into(),
        first_name: Some("first_name".into()),
        ..Mapping::default()
    }
}

fn csv(text: &str) -> Result<Segment, SourceError> {
    read_csv(text.as_bytes(), Path::new("segments/x.csv"), &mapping())
}

/// A reproduction: 300 rows, row 281 opens a quote.
fn three_hundred_rows(row_281: &str) -> String {
    let mut text = String::from("email,first_name\n");
    for i in 0..300 {
        if i == 280 {
            text.push_str(row_281);
        } else {
            text.push_str(&format!("m{i:04}@ex.com,Name{i}"));
        }
        text.push('\n');
    }
    text
}

#[test]
fn an_unterminated_quote_fails_the_read_at_its_line() {
    let err = csv(&three_hundred_rows("m0280@ex.com,\"Bobby")).expect_err("malformed");
    assert!(
        err.to_string()
            .starts_with("segments/x.csv:282: unterminated quoted field"),
        "{err}"
    );
    // The same file, closed, reads all 300 rows.
    let s = csv(&three_hundred_rows("m0280@ex.com,\"Bobby\"")).expect("readable");
    assert_eq!((s.profiles.len(), s.invalid_rows), (300, 0));
}

#[test]
fn a_row_with_more_or_fewer_fields_fails_at_its_line() {
    // Line numbers count the lines of a quoted field spanning two.
    let text = "email,first_name\na@x.io,\"Ann\nMarie\"\nb@x.io,Bob,extra\nc@x.io,Cy\n";
    let err = csv(text).expect_err("extra field");
    assert_eq!(
        err.to_string(),
        "segments/x.csv:4: row has 3 fields, the header has 2"
    );
    let err = csv("email,first_name\na@x.io,Ann\n\nb@x.io\n").expect_err("missing field");
    assert_eq!(
        err.to_string(),
        "segments/x.csv:4: row has 1 fields, the header has 2"
    );
    // A quote left open in the last row: the quote is the cause, not the count.
    let err = csv("email,first_name,last_name\na@x.io,\"Ann,Lee\nb@x.io,B,C\n").expect_err("open");
    assert!(
        err.to_string()
            .starts_with("segments/x.csv:2: unterminated quoted field"),
        "{err}"
    );
}

#[test]
fn an_unterminated_quote_in_the_header_is_named_too() {
    let err = csv("email,\"first_name\na@x.io,Ann\n").expect_err("open header");
    assert!(
        err.to_string()
            .starts_with("segments/x.csv:1: unterminated quoted field"),
        "{err}"
    );
}

#[test]
fn a_jsonl_key_no_row_has_fails_listing_the_keys_seen() {
    let m = Mapping {
        email: "email".into(),
        fields: [("COMPANY".to_owned(), "compnay".to_owned())].into(),
        ..Mapping::default()
    };
    let text = "{\"email\":\"a@x.io\",\"company\":\"Acme\"}\n{\"Email\":\"b@x.io\",\"zip\":1}\n";
    let err = read_jsonl(text.as_bytes(), Path::new("seg.jsonl"), &m).expect_err("typo");
    assert_eq!(
        err.to_string(),
        "segment seg.jsonl: key \"compnay\" from [mapping] is in none of its 2 rows (keys seen: \"Email\", \"company\", \"email\", \"zip\")"
    );
    // Present in one row (even null, or in another case) is enough; an empty file says nothing.
    let text = "{\"email\":\"a@x.io\"}\n{\"EMAIL\":\"b@x.io\",\"Compnay\":null}\n";
    let s = read_jsonl(text.as_bytes(), Path::new("seg.jsonl"), &m).expect("key present");
    assert_eq!(s.profiles.len(), 2);
    let s = read_jsonl(&b""[..], Path::new("seg.jsonl"), &m).expect("empty file");
    assert!(s.profiles.is_empty());
}

#[test]
fn long_and_many_names_are_cut_in_errors() {
    let header: Vec<String> = (0..40).map(|i| format!("{}{i}", "c".repeat(60))).collect();
    let text = format!("{}\n", header.join(","));
    let err = csv(&text).expect_err("no email column").to_string();
    assert!(err.contains("and 10 more"), "{err}");
    assert!(err.len() < 2000, "{} bytes", err.len());
}

/// A FIFO nobody writes to: opening it for reading blocks for ever.
fn fifo(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("seg.csv");
    let c = std::ffi::CString::new(path.to_str().expect("utf-8 path")).expect("c path");
    // SAFETY: mkfifo(3) with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    path
}

/// Unblocks a reader stuck opening `path` (a writer opens, writes, closes).
fn release(path: &Path) {
    std::fs::write(path, "email,first_name\na@x.io,A\n").expect("write to fifo");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_read_times_out_and_is_not_started_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = fifo(dir.path());
    let source = Source::Csv {
        path: path.clone(),
        timeout: Duration::from_millis(300),
    };
    let err = read_async(&source, &mapping()).await.expect_err("blocked");
    assert!(matches!(err, SourceError::TimedOut { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("seg.csv did not finish reading within 300ms"),
        "{err}"
    );
    let err = read_async(&source, &mapping())
        .await
        .expect_err("still blocked");
    assert!(matches!(err, SourceError::StillBlocked { .. }), "{err:?}");
    // Once the stuck read ends, the file is read again.
    release(&path);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match read_async(&source, &mapping()).await {
            Err(SourceError::StillBlocked { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // The next read opens the FIFO again and waits for a writer.
            Err(SourceError::TimedOut { .. }) => break,
            other => panic!("{other:?}"),
        }
    }
    release(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_run_abandons_its_read_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = fifo(dir.path());
    let source = Source::Csv {
        path: path.clone(),
        timeout: Duration::from_secs(600),
    };
    let cancel = CancellationToken::new();
    let m = mapping();
    let read = cancel_reads_with(cancel.clone(), read_async(&source, &m));
    let canceller = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        cancel.cancel();
    };
    let (result, ()) = tokio::join!(read, canceller);
    let err = result.expect_err("abandoned");
    assert!(matches!(err, SourceError::Abandoned { .. }), "{err:?}");
    release(&path);
}
