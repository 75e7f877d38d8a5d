use std::borrow::Cow;

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::state::DB_FILE;

fn db() -> (tempfile::TempDir, StateDb) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = StateDb::open(dir.path()).expect("open");
    (dir, db)
}

fn t(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, 9, 0, 0).unwrap()
}

fn entry<'a>(email: &'a str, change: ChangeKind, fields: Option<&'a Fields>) -> NewEntry<'a> {
    NewEntry {
        email,
        change,
        fields,
        reason: None,
    }
}

fn kept(email: &str, why: LeftAlone) -> NewEntry<'_> {
    NewEntry::kept(email, why)
}

const BOUNCED: LeftAlone = LeftAlone::Status(crate::model::Kept::Bounced);
const UNSUBSCRIBED: LeftAlone = LeftAlone::Status(crate::model::Kept::Unsubscribed);

#[test]
fn a_kept_reason_is_stored_by_its_name_and_read_back() {
    let (_d, mut db) = db();
    db.record_history(1, "vip", t(1), &[kept("c@ex.com", BOUNCED)])
        .expect("run 1");
    let e = db.contact_history("vip", "c@ex.com", 1).expect("read");
    assert_eq!(e[0].reason.as_deref(), Some("kept_bounced"));
    assert_eq!(e[0].kept_reason(), Some(BOUNCED));
}

#[test]
fn change_kinds_round_trip_their_names() {
    for k in ChangeKind::ALL {
        assert_eq!(ChangeKind::parse(k.as_str()), Some(k));
    }
    assert_eq!(ChangeKind::Added.as_str(), "added");
    assert_eq!(ChangeKind::parse("deleted"), None);
}

#[test]
fn a_contacts_entries_come_back_newest_first_with_fields_in_order() {
    let (_d, mut db) = db();
    let first = Fields::with_custom(
        Some("Jane"),
        None,
        None,
        [("COMPANY", "Acme \"A\" \\ é\n\u{1}")],
    );
    let second = Fields::with_custom(Some("Janet"), None, None, [("COMPANY", "Acme")]);
    let jane = "jane@ex.com";
    db.record_history(
        1,
        "vip",
        t(1),
        &[entry(jane, ChangeKind::Added, Some(&first))],
    )
    .expect("run 1");
    db.record_history(
        2,
        "vip",
        t(2),
        &[entry(jane, ChangeKind::Updated, Some(&second))],
    )
    .expect("run 2");
    let failed = NewEntry {
        reason: Some(Cow::Borrowed("HTTP 422: bad phone")),
        ..entry(jane, ChangeKind::Failed, None)
    };
    db.record_history(3, "vip", t(3), &[failed]).expect("run 3");
    db.record_history(
        4,
        "other",
        t(3),
        &[entry(jane, ChangeKind::Added, Some(&first))],
    )
    .expect("another export");
    check_janes_history(&db, jane);
}

fn check_janes_history(db: &StateDb, jane: &str) {
    let h = db.contact_history("vip", jane, 10).expect("history");
    let runs: Vec<(i64, ChangeKind)> = h.iter().map(|e| (e.run_id, e.change)).collect();
    assert_eq!(
        runs,
        [
            (3, ChangeKind::Failed),
            (2, ChangeKind::Updated),
            (1, ChangeKind::Added)
        ]
    );
    assert_eq!(h[0].reason.as_deref(), Some("HTTP 422: bad phone"));
    assert!(h[0].fields.is_empty());
    assert_eq!(h[2].at, t(1));
    assert_eq!(h[2].export, "vip");
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        h[2].fields,
        pairs(&[
            ("first_name", "Jane"),
            ("COMPANY", "Acme \"A\" \\ é\n\u{1}")
        ])
    );
    assert_eq!(db.contact_history("vip", jane, 1).expect("limit").len(), 1);
    assert!(
        db.contact_history("vip", "nobody@ex.com", 5)
            .expect("none")
            .is_empty()
    );
}

#[test]
fn last_sent_is_the_last_change_that_sent_values() {
    let (_d, mut db) = db();
    let a = Fields::new(Some("A"), None, None);
    let b = Fields::new(Some("B"), None, None);
    let x = "x@ex.com";
    assert_eq!(db.last_sent("vip", x).expect("none yet"), None);
    db.record_history(1, "vip", t(1), &[entry(x, ChangeKind::Added, Some(&a))])
        .expect("1");
    db.record_history(
        2,
        "vip",
        t(2),
        &[entry(x, ChangeKind::Resubscribed, Some(&b))],
    )
    .expect("2");
    db.record_history(3, "vip", t(3), &[entry(x, ChangeKind::Unsubscribed, None)])
        .expect("3");
    db.record_history(4, "vip", t(4), &[entry(x, ChangeKind::Failed, Some(&a))])
        .expect("4");
    let last = db.last_sent("vip", x).expect("read").expect("some");
    assert_eq!((last.run_id, last.change), (2, ChangeKind::Resubscribed));
    assert_eq!(last.fields, [("first_name".to_string(), "B".to_string())]);
    assert_eq!(db.last_sent("other", x).expect("other export"), None);
}

#[test]
fn a_run_lists_its_entries_and_the_latest_run_is_the_default() {
    let (_d, mut db) = db();
    db.record_history(
        7,
        "vip",
        t(1),
        &[
            entry("b@ex.com", ChangeKind::Added, None),
            entry("a@ex.com", ChangeKind::Unsubscribed, None),
        ],
    )
    .expect("7");
    db.record_history(9, "vip", t(2), &[kept("c@ex.com", BOUNCED)])
        .expect("9");
    let run7: Vec<String> = db
        .run_history("vip", Some(7), 10)
        .expect("7")
        .into_iter()
        .map(|e| format!("{} {}", e.email, e.change))
        .collect();
    assert_eq!(run7, ["a@ex.com unsubscribed", "b@ex.com added"]);
    let latest = db.run_history("vip", None, 10).expect("latest");
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0].kept_reason(), Some(BOUNCED));
    assert!(db.run_history("vip", Some(8), 10).expect("none").is_empty());
}

#[test]
fn recent_runs_count_each_kind_and_include_runs_without_changes() {
    let (_d, mut db) = db();
    let entries = [
        entry("a@ex.com", ChangeKind::Added, None),
        entry("b@ex.com", ChangeKind::Added, None),
        kept("c@ex.com", UNSUBSCRIBED),
    ];
    db.record_history(1, "vip", t(1), &entries).expect("1");
    db.record_history(2, "vip", t(2), &[]).expect("2");
    let runs = db.recent_runs("vip", 10).expect("runs");
    assert_eq!(runs.len(), 2);
    assert_eq!((runs[0].run_id, runs[0].counts.len()), (2, 0));
    assert_eq!(
        runs[1].counts,
        [(ChangeKind::Added, 2), (ChangeKind::Kept, 1)]
    );
    assert_eq!(runs[1].at, t(1));
    assert_eq!(db.recent_runs("vip", 1).expect("limit").len(), 1);
}

#[test]
fn a_contact_kept_for_the_same_reason_is_recorded_once() {
    let (_d, mut db) = db();
    let c = "c@ex.com";
    db.record_history(1, "vip", t(1), &[kept(c, UNSUBSCRIBED)])
        .expect("1");
    db.record_history(2, "vip", t(2), &[kept(c, UNSUBSCRIBED)])
        .expect("2");
    db.record_history(3, "vip", t(3), &[kept(c, BOUNCED)])
        .expect("3");
    db.record_history(4, "vip", t(4), &[kept(c, BOUNCED)])
        .expect("4");
    let runs: Vec<i64> = db
        .contact_history("vip", c, 10)
        .expect("h")
        .iter()
        .map(|e| e.run_id)
        .collect();
    assert_eq!(runs, [3, 1], "kept again for the same reason is not news");
    // Another export keeps its own record.
    db.record_history(5, "other", t(4), &[kept(c, BOUNCED)])
        .expect("5");
    assert_eq!(db.contact_history("other", c, 10).expect("o").len(), 1);
}

#[test]
fn pruning_drops_runs_past_the_retention_but_keeps_the_newest() {
    let (_d, mut db) = db();
    for (run, day) in [(1, 1), (2, 2), (3, 3)] {
        db.record_history(
            run,
            "vip",
            t(day),
            &[entry("a@ex.com", ChangeKind::Added, None)],
        )
        .expect("record");
    }
    db.record_history(
        4,
        "other",
        t(1),
        &[entry("a@ex.com", ChangeKind::Added, None)],
    )
    .expect("other");
    let dropped = db.prune_history("vip", t(3), u64::MAX).expect("prune");
    assert_eq!(dropped, 2);
    let left: Vec<i64> = db
        .recent_runs("vip", 10)
        .expect("runs")
        .iter()
        .map(|r| r.run_id)
        .collect();
    assert_eq!(left, [3]);
    assert_eq!(
        db.contact_history("vip", "a@ex.com", 10).expect("h").len(),
        1
    );
    // Even past the retention, the newest run stays: the last answer.
    assert_eq!(db.prune_history("vip", t(30), u64::MAX).expect("again"), 0);
    assert_eq!(db.recent_runs("other", 10).expect("other").len(), 1);
}

#[test]
fn pruning_keeps_at_most_max_rows_by_dropping_whole_old_runs() {
    let (_d, mut db) = db();
    let emails: Vec<String> = (0..4).map(|i| format!("u{i}@ex.com")).collect();
    for run in 1..=3 {
        let entries: Vec<NewEntry> = emails
            .iter()
            .map(|e| entry(e, ChangeKind::Updated, None))
            .collect();
        db.record_history(run, "vip", t(run as u32), &entries)
            .expect("record");
    }
    let dropped = db.prune_history("vip", t(1), 9).expect("prune");
    assert_eq!(dropped, 4, "run 1 would make 12 rows > 9");
    let left: Vec<i64> = db
        .recent_runs("vip", 10)
        .expect("runs")
        .iter()
        .map(|r| r.run_id)
        .collect();
    assert_eq!(left, [3, 2]);
    assert!(db.run_history("vip", Some(1), 10).expect("gone").is_empty());
}

/// The 0.1 fixture migrates to v3 and takes history entries.
#[test]
fn a_version_1_database_migrates_to_one_with_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/state-v1.sqlite3");
    std::fs::copy(&fixture, dir.path().join(DB_FILE)).expect("copy fixture");
    let mut db = StateDb::open(dir.path()).expect("migrates");
    assert_eq!(db.load_members("vip").expect("members").len(), 5);
    db.record_history(
        1,
        "vip",
        t(1),
        &[entry("owned@ex.com", ChangeKind::Added, None)],
    )
    .expect("history table exists");
    assert_eq!(
        db.contact_history("vip", "owned@ex.com", 5)
            .expect("h")
            .len(),
        1
    );
}

/// A first export of a million profiles records a million rows.
/// Run with `--ignored --nocapture` to see the figures.
#[test]
#[ignore]
fn million_entries_record_and_prune() {
    let (_d, mut db) = db();
    let emails: Vec<String> = (0..1_000_000)
        .map(|i| format!("user{i}@example.com"))
        .collect();
    let f = Fields::with_custom(Some("Jane"), Some("Doe"), None, [("COMPANY", "Acme")]);
    let entries: Vec<NewEntry> = emails
        .iter()
        .map(|e| entry(e, ChangeKind::Added, Some(&f)))
        .collect();
    let start = std::time::Instant::now();
    db.record_history(1, "big", t(1), &entries).expect("record");
    eprintln!("record 1M: {:?}", start.elapsed());
    let start = std::time::Instant::now();
    let h = db
        .contact_history("big", "user500000@example.com", 10)
        .expect("h");
    eprintln!("contact_history: {:?}", start.elapsed());
    assert_eq!(h.len(), 1);
    let size = std::fs::metadata(db.path()).map(|m| m.len()).unwrap_or(0);
    eprintln!("database size: {} MB", size / 1_000_000);
    db.record_history(2, "big", t(2), &[]).expect("2");
    let start = std::time::Instant::now();
    let dropped = db.prune_history("big", t(2), u64::MAX).expect("prune");
    eprintln!("prune 1M: {:?}", start.elapsed());
    assert_eq!(dropped, 1_000_000);
}
