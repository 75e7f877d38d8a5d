//! The running-set diff: saves, invalid files, deletions, runs in flight.

use std::path::Path;

use super::*;
use crate::config::{Settings, validate};

const SETTINGS: &str = r#"
[connections.prod]
url = "http://127.0.0.1:9"
api_key_env = "X"
accept_data_transfer = true
"#;

fn settings(src: &str) -> Settings {
    Settings::from_source(Path::new("/c/acsync.toml"), src, Path::new("/c"))
}

fn export_src(schedule: &str, extra: &str) -> String {
    format!(
        "connection = \"prod\"\nlist_id = 1\nschedule = \"{schedule}\"\n{extra}\n\
         [source]\nkind = \"csv\"\npath = \"x.csv\"\n[mapping]\nemail = \"email\"\n"
    )
}

fn loaded_with(settings: &Settings, id: &str, src: &str) -> LoadedExport {
    let file = PathBuf::from(format!("/c/exports/{id}.toml"));
    LoadedExport {
        id: id.to_string(),
        result: validate::export(id, &file, src, settings),
        sha256: Some(validate::sha256_hex(src.as_bytes())),
        file,
    }
}

fn loaded(id: &str, src: &str) -> LoadedExport {
    loaded_with(&settings(SETTINGS), id, src)
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-10T12:00:00Z")
        .expect("time")
        .with_timezone(&Utc)
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

fn start(r: &mut Registry, folder: &[LoadedExport]) -> Vec<Effect> {
    r.reconcile(folder, now(), FirstSeen::Startup(&|_| None))
}

#[test]
fn new_export_gets_idle_status_and_waits() {
    let mut r = Registry::default();
    let fx = start(&mut r, &[loaded("a", &export_src("0 * * * *", ""))]);
    assert!(
        matches!(&fx[..], [Effect::Idle { next_run: Some(t), .. }] if *t == at("2026-06-10T13:00:00Z"))
    );
    assert!(r.due(now()).0.is_empty());
    // Level-triggered: the same folder again changes nothing.
    let again = r.reconcile(
        &[loaded("a", &export_src("0 * * * *", ""))],
        now(),
        FirstSeen::Running,
    );
    assert!(again.is_empty());
}

#[test]
fn startup_makes_up_a_missed_run_once() {
    let mut r = Registry::default();
    let last = |_: &Export| Some(at("2026-06-09T11:00:00Z"));
    r.reconcile(
        &[loaded("a", &export_src("0 * * * *", ""))],
        now(),
        FirstSeen::Startup(&last),
    );
    let (starts, _) = r.due(now());
    assert_eq!(starts.len(), 1);
    assert_eq!(starts[0].next_run, Some(at("2026-06-10T13:00:00Z")));
    assert!(r.due(now()).0.is_empty());
}

#[test]
fn invalid_disabled_and_deleted_files() {
    let mut r = Registry::default();
    start(&mut r, &[loaded("a", &export_src("0 * * * *", ""))]);
    let fx = r.reconcile(
        &[loaded("a", "list_id = \"x\"\n")],
        now(),
        FirstSeen::Running,
    );
    match &fx[..] {
        [Effect::Invalid { error, .. }] => assert!(error.starts_with("a.toml:1:"), "{error}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(r.earliest(), None, "an invalid export is not scheduled");
    let disabled = loaded("a", &export_src("0 * * * *", "enabled = false"));
    let fx = r.reconcile(&[disabled], now(), FirstSeen::Running);
    assert!(matches!(&fx[..], [Effect::Disabled(_)]));
    let fx = r.reconcile(&[], now(), FirstSeen::Running);
    assert!(matches!(&fx[..], [Effect::Removed { id, .. }] if id == "a"));
    assert_eq!(r.summary().exports, 0);
}

#[test]
fn changed_schedule_no_run_and_new_next() {
    let mut r = Registry::default();
    start(&mut r, &[loaded("a", &export_src("0 * * * *", ""))]);
    let later = at("2026-06-10T13:00:10Z");
    let fx = r.reconcile(
        &[loaded("a", &export_src("30 * * * *", ""))],
        later,
        FirstSeen::Running,
    );
    assert!(
        matches!(&fx[..], [Effect::Idle { next_run: Some(t), .. }] if *t == at("2026-06-10T13:30:00Z"))
    );
    assert!(
        r.due(later).0.is_empty(),
        "13:00 of the old schedule is gone"
    );
}

#[test]
fn settings_change_reaches_exports_on_that_connection() {
    let mut r = Registry::default();
    start(&mut r, &[loaded("a", &export_src("0 * * * *", ""))]);
    let other = settings(&SETTINGS.replace("127.0.0.1:9", "127.0.0.1:10"));
    let fx = r.reconcile(
        &[loaded_with(&other, "a", &export_src("0 * * * *", ""))],
        now(),
        FirstSeen::Running,
    );
    match &fx[..] {
        [Effect::Idle { export, next_run }] => {
            assert_eq!(export.connection.base_url.port(), Some(10));
            assert_eq!(*next_run, Some(at("2026-06-10T13:00:00Z")), "schedule kept");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn changes_during_a_run_wait_for_its_end() {
    let mut r = Registry::default();
    let last = |_: &Export| Some(at("2026-06-01T00:00:00Z"));
    let a = loaded("a", &export_src("0 * * * *", ""));
    r.reconcile(std::slice::from_ref(&a), now(), FirstSeen::Startup(&last));
    let (starts, _) = r.due(now());
    assert_eq!(starts.len(), 1);
    r.started("a", CancellationToken::new());
    // A tick during the run is skipped.
    let (starts, skipped) = r.due(at("2026-06-10T13:00:00Z"));
    assert!(starts.is_empty());
    assert_eq!(skipped, vec!["a".to_string()]);
    // Saved during the run: no status write yet, restated at the end.
    let fx = r.reconcile(
        &[loaded("a", &export_src("30 * * * *", ""))],
        now(),
        FirstSeen::Running,
    );
    assert!(fx.is_empty(), "{fx:?}");
    assert!(matches!(r.finished("a"), Some(Effect::Idle { .. })));
    assert_eq!(r.finished("a"), None);
}

#[test]
fn deleted_during_a_run_is_cancelled_then_removed() {
    let mut r = Registry::default();
    start(&mut r, &[loaded("a", &export_src("0 * * * *", ""))]);
    r.started("a", CancellationToken::new());
    let fx = r.reconcile(&[], now(), FirstSeen::Running);
    assert_eq!(fx, vec![Effect::Cancel("a".into())]);
    assert_eq!(r.summary().running, 1);
    match r.finished("a") {
        Some(Effect::Removed { id, file }) => {
            assert_eq!(id, "a");
            assert_eq!(file, PathBuf::from("/c/exports/a.toml"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r.summary().running, 0);
}

#[test]
fn status_errors_name_the_export_path_under_exports() {
    let mut r = Registry::default();
    let fx = start(
        &mut r,
        &[loaded(
            "emea/vip",
            "connection = \"prod\"\nlist_id = \"x\"\n",
        )],
    );
    match &fx[..] {
        [Effect::Invalid { error, .. }] => {
            assert!(error.starts_with("emea/vip.toml:2:11: "), "{error}");
        }
        other => panic!("{other:?}"),
    }
}
