//! Behaviour of the state database, each test on a fresh temporary folder.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;

use chrono::{TimeZone, Utc};

use super::*;
use crate::model::{ListStatus, Member, PendingOp, WriteWindow};

fn db() -> (tempfile::TempDir, StateDb) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = StateDb::open(dir.path()).expect("open");
    (dir, db)
}

fn member(email: &str) -> Member {
    Member {
        contact_id: Some(7),
        status: Some(ListStatus::Active),
        sent_hash: Some(42),
        ..Member::unknown(email)
    }
}

fn emails(map: &HashMap<String, Member>) -> Vec<&str> {
    let mut v: Vec<&str> = map.keys().map(String::as_str).collect();
    v.sort_unstable();
    v
}

#[test]
fn members_round_trip_including_large_u64() {
    let (_dir, mut db) = db();
    let big = Member {
        email: "big@example.com".into(),
        contact_id: Some(u64::MAX - 1),
        status: Some(ListStatus::Unsubscribed),
        owned: true,
        unsubscribed_by_us: true,
        sent_hash: Some(u64::MAX),
        read_back_hash: Some(u64::MAX - 1),
        pending: Some(PendingOp::Resubscribe),
        last_write: Some(crate::model::WriteWindow { from: 10, to: 20 }),
    };
    let mid = Member {
        sent_hash: Some(i64::MAX as u64 + 1),
        ..member("mid@example.com")
    };
    let bare = Member::unknown("bare@example.com");
    db.save_members("vip", &[big.clone(), mid.clone(), bare.clone()])
        .expect("save");
    let got = db.load_members("vip").expect("load");
    assert_eq!(got.len(), 3);
    assert_eq!(got["big@example.com"], big);
    assert_eq!(got["mid@example.com"], mid);
    assert_eq!(got["bare@example.com"], bare);
    assert!(db.load_members("other").expect("load other").is_empty());
}

#[test]
fn save_upserts() {
    let (_dir, mut db) = db();
    db.save_members("vip", &[member("a@x.io")]).expect("save");
    let changed = Member {
        owned: true,
        pending: Some(PendingOp::Add),
        ..member("a@x.io")
    };
    db.save_members("vip", std::slice::from_ref(&changed))
        .expect("save again");
    let got = db.load_members("vip").expect("load");
    assert_eq!(got.len(), 1);
    assert_eq!(got["a@x.io"], changed);
}

#[test]
fn replace_keeps_ownership_and_our_unsubscribes_only() {
    let (_dir, mut db) = db();
    let owned = Member {
        owned: true,
        ..member("owned@x.io")
    };
    let unsub = Member {
        status: Some(ListStatus::Unsubscribed),
        unsubscribed_by_us: true,
        ..member("unsub@x.io")
    };
    let plain = member("plain@x.io");
    let stays = member("stays@x.io");
    db.save_members("vip", &[owned.clone(), unsub.clone(), plain, stays])
        .expect("save");
    db.save_members("other", &[member("plain@x.io")])
        .expect("save other export");

    let read = [
        Member {
            contact_id: Some(99),
            ..member("stays@x.io")
        },
        member("new@x.io"),
    ];
    db.replace_members("vip", read.iter(), 0).expect("replace");

    let got = db.load_members("vip").expect("load");
    assert_eq!(
        emails(&got),
        ["new@x.io", "owned@x.io", "stays@x.io", "unsub@x.io"]
    );
    assert_eq!(got["owned@x.io"], owned);
    assert_eq!(got["unsub@x.io"], unsub);
    assert_eq!(got["stays@x.io"].contact_id, Some(99));
    // Another export's rows are not touched.
    assert_eq!(db.load_members("other").expect("load other").len(), 1);

    // A run's read ends ownership (docs/ownership.md), but never over a
    // write another process made after the run's snapshot.
    let written_later = Member {
        last_write: Some(WriteWindow { from: 500, to: 510 }),
        ..owned.clone()
    };
    db.save_members("vip", std::slice::from_ref(&written_later))
        .expect("save");
    let ended = member("owned@x.io");
    db.replace_members("vip", std::iter::once(&ended), 509)
        .expect("replace");
    let got = db.load_members("vip").expect("load");
    assert_eq!(emails(&got), ["owned@x.io", "unsub@x.io"]);
    assert_eq!(got["owned@x.io"], written_later, "newer than the snapshot");
    db.replace_members("vip", std::iter::once(&ended), 510)
        .expect("replace");
    assert!(!db.load_members("vip").expect("load")["owned@x.io"].owned);

    db.forget_members("vip").expect("forget");
    assert!(db.load_members("vip").expect("load").is_empty());
    assert_eq!(db.load_members("other").expect("load other").len(), 1);
}

#[test]
fn pending_survives_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let mut db = StateDb::open(dir.path()).expect("open");
        assert!(!db.has_pending("vip").expect("has_pending"));
        let m = Member {
            pending: Some(PendingOp::Remove),
            ..member("a@x.io")
        };
        db.save_members("vip", &[m, member("b@x.io")])
            .expect("save");
        assert!(db.has_pending("vip").expect("has_pending"));
    }
    let mut db = StateDb::open(dir.path()).expect("reopen");
    assert!(db.has_pending("vip").expect("has_pending"));
    assert!(!db.has_pending("other").expect("has_pending other"));
    let got = db.load_members("vip").expect("load");
    assert_eq!(got["a@x.io"].pending, Some(PendingOp::Remove));

    db.save_members("vip", &[member("a@x.io")]).expect("clear");
    assert!(!db.has_pending("vip").expect("has_pending"));
}

#[test]
fn export_meta_round_trip() {
    let (_dir, mut db) = db();
    assert_eq!(db.export_meta("vip").expect("meta"), None);
    let t = Utc.with_ymd_and_hms(2026, 11, 23, 10, 30, 0).single();
    let meta = ExportMeta {
        fingerprint: "prod/12".into(),
        last_full_read: t,
        config_sha256: Some("ab".repeat(32)),
        ..Default::default()
    };
    db.set_export_meta("vip", &meta).expect("set");
    assert_eq!(db.export_meta("vip").expect("meta"), Some(meta));
    let none = ExportMeta {
        fingerprint: "prod/13".into(),
        last_full_read: None,
        config_sha256: None,
        ..Default::default()
    };
    db.set_export_meta("vip", &none).expect("set again");
    assert_eq!(db.export_meta("vip").expect("meta"), Some(none));
}

#[test]
fn unfinished_run_is_visible_after_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t0 = Utc::now();
    let (done, crashed) = {
        let mut db = StateDb::open(dir.path()).expect("open");
        let done = db.begin_run("vip", "schedule", t0).expect("begin");
        db.finish_run(done, t0, "success").expect("finish");
        // Killed mid-way: the handle goes away without finish_run.
        let crashed = db.begin_run("vip", "manual", t0).expect("begin");
        (done, crashed)
    };
    let mut db = StateDb::open(dir.path()).expect("reopen");
    assert_eq!(db.unfinished_runs("vip").expect("unfinished"), [crashed]);
    assert!(db.unfinished_runs("other").expect("other").is_empty());
    assert!(matches!(
        db.finish_run(done, t0, "success"),
        Err(StateError::UnknownRun { run_id, .. }) if run_id == done
    ));
    db.finish_run(crashed, t0, "interrupted").expect("close");
    assert!(db.unfinished_runs("vip").expect("unfinished").is_empty());
}

#[test]
fn finished_runs_are_pruned_but_unfinished_kept() {
    let (_dir, mut db) = db();
    let t = Utc::now();
    let stuck = db.begin_run("vip", "schedule", t).expect("begin");
    for _ in 0..10 {
        let id = db.begin_run("vip", "schedule", t).expect("begin");
        db.finish_run(id, t, "success").expect("finish");
    }
    let n: i64 = db
        .conn
        .query_row(
            "SELECT count(*) FROM runs WHERE finished_at IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(n, runs::KEEP_FINISHED);
    assert_eq!(db.unfinished_runs("vip").expect("unfinished"), [stuck]);
}

#[test]
fn export_lock_is_exclusive_per_export() {
    let dir = tempfile::tempdir().expect("tempdir");
    let held = lock_export(dir.path(), "emea/vip").expect("first lock");
    let err = lock_export(dir.path(), "emea/vip").expect_err("second lock");
    assert!(matches!(&err, LockError::Busy { export } if export == "emea/vip"));
    assert_eq!(
        err.to_string(),
        "export `emea/vip` is already running (held by another acsync process: the daemon or a manual sync)"
    );
    let other = lock_export(dir.path(), "emea/other").expect("other export");
    assert_eq!(
        held.path().parent().map(|p| p.to_path_buf()),
        Some(dir.path().join("locks"))
    );
    drop(held);
    let again = lock_export(dir.path(), "emea/vip").expect("released on drop");
    drop((again, other));
}

fn mode_of(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

/// The database holds every address and the values sent: 0600 even in a
/// `state_dir` that existed with a wider mode, and a database (with its WAL)
/// left readable by an earlier version or by hand is tightened on open.
#[test]
fn the_database_and_its_wal_are_private_whatever_the_folder() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut db = StateDb::open(dir.path()).expect("open");
    db.save_members("vip", &[]).expect("a write makes the WAL");
    assert_eq!(mode_of(&dir.path().join(DB_FILE)), 0o600);
    let wal = dir.path().join(format!("{DB_FILE}-wal"));
    assert_eq!(
        mode_of(&wal),
        0o600,
        "SQLite gives the WAL the database's mode"
    );
    drop(db);
    // Closed, the WAL is gone; an empty one (no frames) stands for one left
    // by a killed process.
    std::fs::write(&wal, b"").expect("empty WAL");
    for f in [dir.path().join(DB_FILE), wal.clone()] {
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    let db = StateDb::open(dir.path()).expect("open again");
    assert_eq!(mode_of(&dir.path().join(DB_FILE)), 0o600);
    assert_eq!(mode_of(&wal), 0o600);
    db.integrity_check().expect("intact");
}

#[test]
fn creates_state_dir_0700_and_passes_integrity_check() {
    let parent = tempfile::tempdir().expect("tempdir");
    let dir = parent.path().join("state");
    let db = StateDb::open(&dir).expect("open");
    let mode = std::fs::metadata(&dir).expect("stat").permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    assert!(dir.join(DB_FILE).is_file());
    db.integrity_check().expect("integrity ok");
    let jm: String = db
        .conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(jm, "wal");
    let sync: i64 = db
        .conn
        .pragma_query_value(None, "synchronous", |r| r.get(0))
        .expect("synchronous");
    assert_eq!(sync, 2, "synchronous=FULL");
}

#[test]
fn refuses_a_database_from_a_newer_acsync() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = StateDb::open(dir.path()).expect("open");
        db.conn
            .pragma_update(None, "user_version", schema::LATEST + 1)
            .expect("bump");
    }
    assert!(matches!(
        StateDb::open(dir.path()),
        Err(StateError::TooNew { .. })
    ));
}

#[test]
fn two_connections_share_the_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut a = StateDb::open(dir.path()).expect("open a");
    let b = StateDb::open(dir.path()).expect("open b");
    a.save_members("vip", &[member("a@x.io")]).expect("save");
    assert_eq!(b.load_members("vip").expect("load").len(), 1);
}

#[test]
fn hundred_thousand_members_save_and_load() {
    let (_dir, mut db) = db();
    let members: Vec<Member> = (0..100_000u64)
        .map(|i| Member {
            email: format!("user{i}@example.com"),
            contact_id: Some(i),
            sent_hash: Some(i.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            owned: i % 2 == 0,
            ..member("")
        })
        .collect();
    db.save_members("big", &members).expect("save");
    let got = db.load_members("big").expect("load");
    assert_eq!(got.len(), members.len());
    assert_eq!(got["user99999@example.com"], members[99_999]);
    db.replace_members("big", members.iter(), 0)
        .expect("replace");
}

/// Timing probe for the 1,000,000-row load (run with `--ignored --nocapture`).
#[test]
#[ignore]
fn million_members_load_timing() {
    let (_dir, mut db) = db();
    let members: Vec<Member> = (0..1_000_000u64)
        .map(|i| Member {
            email: format!("user{i}@example.com"),
            contact_id: Some(i),
            sent_hash: Some(i.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            ..member("")
        })
        .collect();
    let t = std::time::Instant::now();
    db.save_members("big", &members).expect("save");
    eprintln!("save 1M: {:?}", t.elapsed());
    let t = std::time::Instant::now();
    let got = db.load_members("big").expect("load");
    eprintln!("load 1M: {:?}", t.elapsed());
    assert_eq!(got.len(), members.len());
    let t = std::time::Instant::now();
    db.replace_members("big", members.iter(), 0)
        .expect("replace");
    eprintln!("replace 1M: {:?}", t.elapsed());
    let t = std::time::Instant::now();
    db.save_members("big", &members[..250]).expect("save 250");
    eprintln!("save 250: {:?}", t.elapsed());
}

/// A state database written by
/// acsync 0.1 (schema version 1, `tests/fixtures/state-v1.sqlite3`, made
/// with 0.1's DDL) is migrated in place: ownership, our unsubscribe marks
/// (given a window that ends at the upgrade), hashes and pending intents
/// all survive, and the run journal is kept.
#[test]
fn a_version_1_database_is_migrated_without_forgetting_anything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/state-v1.sqlite3");
    std::fs::copy(&fixture, dir.path().join(DB_FILE)).expect("copy fixture");
    let before = Utc::now().timestamp();
    let db = StateDb::open(dir.path()).expect("migrates");
    let after = Utc::now().timestamp();
    let m = db.load_members("vip").expect("members");
    assert_eq!(m.len(), 5);
    let owned = &m["owned@ex.com"];
    assert_eq!(
        (owned.owned, owned.status, owned.contact_id, owned.sent_hash),
        (true, Some(ListStatus::Active), Some(11), Some(123456789))
    );
    let ours = &m["ours@ex.com"];
    assert!(ours.owned && ours.unsubscribed_by_us);
    assert_eq!(ours.sent_hash, Some(-42i64 as u64));
    let w = ours.last_write.expect("a window for the old mark");
    assert_eq!(w.from, 0);
    assert!((before..=after).contains(&w.to), "{w:?}");
    let optout = &m["optout@ex.com"];
    assert!(!optout.unsubscribed_by_us && optout.last_write.is_none());
    assert!(!m["manual@ex.com"].owned);
    assert_eq!(m["pending@ex.com"].pending, Some(PendingOp::Add));
    assert!(db.has_pending("vip").expect("pending"));
    let meta = db.export_meta("vip").expect("meta").expect("kept");
    assert!(meta.fingerprint.contains("#list=7"));
    assert!(db.open_batches("vip").expect("batches").is_empty());
    // A 0.2 status can now be stored.
    drop(db);
    let mut db = StateDb::open(dir.path()).expect("reopens");
    let bounced = Member {
        status: Some(ListStatus::Bounced),
        ..member("b@ex.com")
    };
    db.save_members("vip", &[bounced]).expect("status 3 stored");
}

/// A state database written by acsync 0.2 (schema version 3,
/// `tests/fixtures/state-v3-acsync-0.2.sqlite3`, made with 0.2's exact DDL)
/// is migrated in place: every member row, the unsubscribe windows, the
/// intents, the journal, the batches, the wanted sets and the history all
/// survive; a membership 0.2 owned gets a write window that ends at the
/// upgrade (docs/ownership.md), and any status code can now be stored.
#[test]
fn a_version_3_database_of_0_2_is_migrated_without_forgetting_anything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/state-v3-acsync-0.2.sqlite3");
    std::fs::copy(&fixture, dir.path().join(DB_FILE)).expect("copy fixture");
    let before = Utc::now().timestamp();
    let mut db = StateDb::open(dir.path()).expect("migrates");
    let after = Utc::now().timestamp();
    let scope = "https://acme.api-us1.com#list=7";
    let m = db.load_members(scope).expect("members");
    assert_eq!(m.len(), 7);
    let owned = &m["owned@ex.com"];
    assert_eq!(
        (owned.owned, owned.status, owned.contact_id, owned.sent_hash),
        (true, Some(ListStatus::Active), Some(11), Some(123456789))
    );
    let w = owned
        .last_write
        .expect("a window for a membership 0.2 owned");
    assert_eq!(w.from, 0);
    assert!((before..=after).contains(&w.to), "{w:?}");
    let ours = &m["ours@ex.com"];
    assert!(ours.owned && ours.unsubscribed_by_us);
    assert_eq!(
        ours.last_write,
        Some(WriteWindow {
            from: 1_764_500_000,
            to: 1_764_500_030
        })
    );
    assert_eq!(ours.sent_hash, Some(-42i64 as u64));
    let optout = &m["optout@ex.com"];
    assert!(!optout.owned && optout.last_write.is_none());
    assert_eq!(m["bounced@ex.com"].status, Some(ListStatus::Bounced));
    assert!(m["bounced@ex.com"].owned);
    assert_eq!(
        m["unconfirmed@ex.com"].status,
        Some(ListStatus::Unconfirmed)
    );
    assert!(m["manual@ex.com"].last_write.is_none());
    assert_eq!(m["pending@ex.com"].pending, Some(PendingOp::Add));
    assert_eq!(db.open_batches(scope).expect("batches").len(), 1);
    assert_eq!(
        db.wanted_by_others(scope, "other").expect("wanted").len(),
        1
    );
    assert_eq!(db.recent_runs("vip", 5).expect("runs").len(), 1);
    assert!(
        db.last_sent("vip", "owned@ex.com")
            .expect("history")
            .is_some()
    );
    let removed = Member {
        status: Some(ListStatus::Other(91)),
        ..member("removed@ex.com")
    };
    db.save_members(scope, &[removed])
        .expect("status 91 stored");
    let back = db.load_members(scope).expect("members");
    assert_eq!(back["removed@ex.com"].status, Some(ListStatus::Other(91)));
}

#[test]
fn batches_are_journaled_until_settled() {
    let (_dir, mut db) = db();
    let t = Utc.with_ymd_and_hms(2026, 11, 30, 10, 0, 0).unwrap();
    db.journal_batch("vip", "b1", t).expect("journal");
    db.journal_batch("vip", "b2", t + chrono::Duration::seconds(1))
        .expect("journal");
    db.journal_batch("other", "b3", t).expect("journal");
    let open = db.open_batches("vip").expect("open");
    assert_eq!(
        open.iter().map(|b| b.batch_id.as_str()).collect::<Vec<_>>(),
        ["b1", "b2"]
    );
    assert_eq!(open[0].submitted_at, t);
    db.settle_batch("vip", "b1").expect("settle");
    assert_eq!(db.open_batches("vip").expect("open").len(), 1);
}

#[test]
fn member_rows_and_journal_steps_commit_together() {
    let (_dir, mut db) = db();
    let t = Utc.with_ymd_and_hms(2026, 11, 30, 10, 0, 0).unwrap();
    let intent = Member {
        pending: Some(PendingOp::Add),
        ..member("a@ex.com")
    };
    let placeholder = JournalStep::Add("unacknowledged:1".into());
    db.save_with_journal("vip", &[intent], &[placeholder], t, None)
        .expect("one transaction");
    let known = db.load_known("vip").expect("load");
    assert_eq!(
        known.get("a@ex.com").and_then(|m| m.pending),
        Some(PendingOp::Add)
    );
    let ids = |db: &StateDb| -> Vec<String> {
        db.open_batches("vip")
            .expect("open")
            .into_iter()
            .map(|b| b.batch_id)
            .collect()
    };
    assert_eq!(ids(&db), ["unacknowledged:1"]);
    // The id replaces the placeholder in the same commit.
    let rename = [
        JournalStep::Remove("unacknowledged:1".into()),
        JournalStep::Add("42".into()),
    ];
    db.save_with_journal("vip", &[], &rename, t, None)
        .expect("rename");
    assert_eq!(ids(&db), ["42"]);
    // A failing step rolls the member rows back with it.
    db.conn
        .execute_batch(
            "CREATE TEMP TRIGGER no_more BEFORE INSERT ON batches \
             BEGIN SELECT RAISE(ABORT, 'full'); END;",
        )
        .expect("trigger");
    let later = Member {
        pending: Some(PendingOp::Add),
        ..member("b@ex.com")
    };
    let step = [JournalStep::Add("43".into())];
    assert!(
        db.save_with_journal("vip", &[later], &step, t, None)
            .is_err()
    );
    assert!(
        db.load_known("vip")
            .expect("load")
            .get("b@ex.com")
            .is_none()
    );
}

/// A read-only open reads what a writer still holds in its WAL (the
/// daemon's database while it runs), and every write through it fails.
#[test]
fn a_read_only_open_reads_beside_a_writer_and_cannot_write() {
    let (dir, mut writer) = db();
    let meta = ExportMeta {
        fingerprint: "acct/1".into(),
        last_full_read: None,
        config_sha256: None,
        ..Default::default()
    };
    writer.set_export_meta("vip", &meta).expect("set");
    let wal = dir.path().join(format!("{DB_FILE}-wal"));
    assert!(std::fs::metadata(&wal).expect("the WAL").len() > 0);
    let mut reader = StateDb::open_read_only(dir.path()).expect("open read-only");
    assert_eq!(reader.export_meta("vip").expect("read"), Some(meta.clone()));
    assert!(reader.set_export_meta("news", &meta).is_err());
    assert_eq!(writer.export_meta("news").expect("read"), None);
}

/// Nothing is created for a read: no folder, no file.
#[test]
fn a_read_only_open_of_a_missing_database_creates_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state_dir = dir.path().join("state");
    assert!(StateDb::open_read_only(&state_dir).is_err());
    assert!(!state_dir.exists());
}

/// An older schema is read as it is, never migrated: the run history it
/// predates reads as empty, the rest as recorded.
#[test]
fn a_read_only_open_reads_an_older_schema_without_migrating_it() {
    let (dir, mut db) = db();
    db.save_members("vip", &[member("a@example.com")])
        .expect("save");
    let meta = ExportMeta {
        fingerprint: "acct#list=1|m".into(),
        last_full_read: None,
        config_sha256: None,
        ..Default::default()
    };
    db.set_export_meta("vip", &meta).expect("meta");
    db.conn
        .execute_batch(
            "DROP TABLE history; DROP TABLE history_runs;
             ALTER TABLE exports DROP COLUMN config_sha256; PRAGMA user_version = 2;",
        )
        .expect("back to schema 2");
    drop(db);
    let old = StateDb::open_read_only(dir.path()).expect("open read-only");
    assert_eq!(old.export_meta("vip").expect("meta"), Some(meta));
    assert_eq!(old.recorded_exports().expect("recorded").len(), 1);
    assert_eq!(
        emails(&old.load_members("vip").expect("members")),
        ["a@example.com"]
    );
    assert!(old.recent_runs("vip", 5).expect("runs").is_empty());
    assert!(
        old.last_sent("vip", "a@example.com")
            .expect("last sent")
            .is_none()
    );
    let version: i64 = old
        .conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    assert_eq!(version, 2);
}

/// The record the rule for deleted exports reads: the scope, the file's
/// content, the end of the last run (none while the newest run is
/// unfinished), and forgetting it with what it wanted.
#[test]
fn recorded_exports_and_forgetting_one() {
    let (_dir, mut db) = db();
    let t = |s| Utc.timestamp_opt(s, 0).single().expect("time");
    let meta = |list: u32| ExportMeta {
        fingerprint: format!("acme.api-us1.com#list={list}|mapping-sha256:00"),
        last_full_read: None,
        config_sha256: Some("ab".repeat(32)),
        ..Default::default()
    };
    db.set_export_meta("a", &meta(1)).expect("meta a");
    db.set_export_meta("b", &meta(2)).expect("meta b");
    let run = db.begin_run("a", "schedule", t(100)).expect("begin");
    db.finish_run(run, t(110), "success").expect("finish");
    let killed = db.begin_run("b", "schedule", t(100)).expect("begin");
    db.finish_run(killed, t(105), "success").expect("finish");
    db.begin_run("b", "schedule", t(120))
        .expect("begin, never finished");
    db.replace_wanted("acme.api-us1.com#list=1", "a", [("x@x.io", 1)].into_iter())
        .expect("wanted");

    let got = db.recorded_exports().expect("recorded");
    let a = RecordedExport {
        export: "a".into(),
        scope: Some("acme.api-us1.com#list=1".into()),
        config_sha256: Some("ab".repeat(32)),
        last_run_end: Some(t(110)),
    };
    assert_eq!(got[0], a);
    assert_eq!(got[1].export, "b");
    assert_eq!(got[1].last_run_end, None, "its newest run never finished");

    assert!(db.forget_export("a").expect("forget"));
    assert!(!db.forget_export("a").expect("again"), "nothing left");
    assert_eq!(db.export_meta("a").expect("meta"), None);
    let rows = db
        .wanted_by_others("acme.api-us1.com#list=1", "z")
        .expect("rows");
    assert!(rows.is_empty(), "{rows:?}");
    assert_eq!(db.unfinished_runs("b").expect("runs").len(), 1);
}

#[test]
fn created_contacts_are_recorded_with_their_batch_until_a_full_read_forgets_them() {
    let (_dir, mut db) = db();
    let t = Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0).unwrap();
    db.journal_batch("scope", "b1", t).expect("journal");
    db.save_with_journal(
        "scope",
        &[member("a@ex.com")],
        &[
            JournalStep::Remove("b1".into()),
            JournalStep::Created(vec![5, 6]),
        ],
        t,
        None,
    )
    .expect("one transaction");
    db.record_created("scope", &[6, 7]).expect("followed batch");
    let ids = db.created_ids("scope").expect("created");
    let mut got: Vec<u64> = ids.keys().copied().collect();
    got.sort_unstable();
    assert_eq!(got, [5, 6, 7]);
    assert_eq!(ids[&5], t.timestamp(), "seen when its batch's end was");
    assert!(db.created_ids("other").expect("created").is_empty());
    assert!(db.open_batches("scope").expect("batches").is_empty());
    db.forget_created("scope").expect("forget");
    assert!(db.created_ids("scope").expect("created").is_empty());
}

/// A drift check's rows update what it read and drop nothing: a member it
/// did not read is not taken for gone (docs/run-rules.md, drift checks).
#[test]
fn a_partial_read_updates_what_it_read_and_drops_nothing() {
    let (_dir, mut db) = db();
    db.save_members("vip", &[member("plain@x.io"), member("read@x.io")])
        .expect("save");
    let read = [Member {
        contact_id: Some(99),
        ..member("read@x.io")
    }];
    db.update_read_members("vip", read.iter(), 0)
        .expect("update");
    let got = db.load_members("vip").expect("load");
    assert_eq!(emails(&got), ["plain@x.io", "read@x.io"]);
    let ids: Vec<Option<u64>> = got.values().map(|m| m.contact_id).collect();
    assert!(ids.contains(&Some(99)), "{ids:?}");
}
