//! The commands that only show what is recorded (`acsync history`,
//! `acsync status NAME`) open the state database read-only: they answer on
//! a database file its user may only read, and leave it as it was.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::harness::World;

/// The user the commands run as when the tests run as root (for whom a
/// file mode forbids nothing).
const NOBODY: u32 = 65534;

/// Gives every file of `dir` to `uid` (recursively).
fn give(dir: &Path, uid: u32) {
    std::os::unix::fs::chown(dir, Some(uid), Some(uid)).expect("chown");
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        match entry.file_type().expect("file type").is_dir() {
            true => give(&path, uid),
            false => std::os::unix::fs::chown(&path, Some(uid), Some(uid)).expect("chown"),
        }
    }
}

/// Runs acsync with `args` as the owner of the world's files.
fn run_as_owner(w: &World, args: &[&str]) -> Output {
    let mut command = w.command(args);
    let owner = std::fs::metadata(w.root()).expect("root").uid();
    if owner == NOBODY {
        command.uid(NOBODY).gid(NOBODY);
    }
    let out = command.output().expect("run acsync");
    assert!(
        out.status.success(),
        "{args:?}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A world after one successful run of `vip`.
async fn synced() -> World {
    let w = World::new().await;
    w.write_export("vip", "");
    w.write_people("vip", &World::people(0..3));
    w.sync_success("vip").await;
    w
}

fn database(w: &World) -> PathBuf {
    w.state_dir().join("state.sqlite3")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_and_status_read_a_read_only_state_database_and_leave_it_as_it_was() {
    let w = synced().await;
    if std::fs::metadata(w.root()).expect("root").uid() == 0 {
        give(w.root(), NOBODY);
    }
    let db = database(&w);
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o400)).expect("chmod");
    let before = std::fs::read(&db).expect("database");

    let out = run_as_owner(&w, &["history", "vip", "--json"]);
    let history: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        history["runs"].as_array().map(Vec::len),
        Some(1),
        "{history}"
    );
    let out = run_as_owner(&w, &["status", "vip"]);
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(status.contains("last runs"), "{status}");
    assert!(!status.contains("cannot read"), "{status}");

    assert_eq!(std::fs::read(&db).expect("database"), before);
    let mode = std::fs::metadata(&db)
        .expect("database")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o400);
}

/// A database of acsync 0.2 (schema 2, before the run history) is upgraded
/// by the next run, never by a command that only reads: `status` and
/// `history` answer that no run is recorded, and the file stays at
/// schema 2, byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_commands_leave_an_older_schema_for_the_next_run_to_upgrade() {
    let w = synced().await;
    let db = database(&w);
    let conn = rusqlite::Connection::open(&db).expect("open");
    conn.execute_batch("DROP TABLE history; DROP TABLE history_runs; PRAGMA user_version = 2;")
        .expect("back to schema 2");
    drop(conn);
    let before = std::fs::read(&db).expect("database");

    let out = run_as_owner(&w, &["status", "vip"]);
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(!status.contains("last runs"), "{status}");
    let out = run_as_owner(&w, &["history", "vip", "--json"]);
    let history: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(history["runs"], serde_json::json!([]), "{history}");

    assert_eq!(std::fs::read(&db).expect("database"), before);
    let conn = rusqlite::Connection::open(&db).expect("open");
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    assert_eq!(version, 2);
}

/// The database's content: the main file and its WAL (if any, and not
/// empty: SQLite's readers may create an empty one), each by name, size
/// and SHA-256.
fn database_files(w: &World) -> Vec<(String, usize, String)> {
    use sha2::Digest;
    ["state.sqlite3", "state.sqlite3-wal"]
        .iter()
        .filter_map(|f| {
            let bytes = std::fs::read(w.state_dir().join(f)).ok()?;
            if bytes.is_empty() {
                return None;
            }
            let digest = hex::encode(sha2::Sha256::digest(&bytes));
            Some((f.to_string(), bytes.len(), digest))
        })
        .collect()
}

/// `plan` and `explain` plan from exactly what a run would load, also when
/// the run's load would first re-key rows (here: members kept under the
/// export id, as acsync 0.1 kept them), and write nothing: the re-keying
/// happens in a private copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_and_explain_see_what_a_run_loads_and_leave_the_database_as_it_was() {
    let w = synced().await;
    let conn = rusqlite::Connection::open(database(&w)).expect("open");
    let moved = conn
        .execute("UPDATE members SET export = 'vip'", [])
        .expect("rows under the export id");
    assert_eq!(moved, 3);
    drop(conn);
    let before = database_files(&w);

    let out = run_as_owner(&w, &["plan", "vip", "--json"]);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        plan["to_add"], 0,
        "the members kept under the old key are known: {plan}"
    );
    assert_eq!(plan["unchanged"], 3, "{plan}");
    let out = run_as_owner(&w, &["explain", "vip", "user1@example.com", "--json"]);
    let explained: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(explained["state"]["owned"], true, "{explained}");
    assert_eq!(
        database_files(&w),
        before,
        "plan or explain wrote the database"
    );

    let report = w.sync_success("vip").await;
    assert_eq!(report.last_run.added, 0);
}
