//! SQL sources: SQLite here, PostgreSQL in [`postgres`] against a
//! throwaway server ([`pg`]). The acceptance: the same rows sync exactly as
//! from CSV; a type matrix; a failing query, a missing column, a write
//! attempt (and, for PostgreSQL, a dead server and a timeout) each fail the
//! run with a clear error and send no request; `check` validates the source
//! section without connecting; `plan` shows the row count.

mod pg;
mod postgres;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use acsync::config::{Mapping, Source};
use acsync::source::{self, SourceError};
use acsync::status::Outcome;

use crate::harness::World;

/// The `vip` segment of `people.sql`, in id order (as `people.csv` holds it).
pub const VIP: &str = "select email, first_name, last_name, phone, company from people where segment = 'vip' order by id";

/// Maps the fixture's columns, `company` as the custom field `COMPANY`.
pub const MAPPING: &str = "[mapping]\nemail = \"email\"\nfirst_name = \"first_name\"\nlast_name = \"last_name\"\nphone = \"phone\"\n\n[mapping.fields]\nCOMPANY = \"company\"\n";

/// What the simulator holds per active member: names, phone, custom fields.
pub type Snapshot = BTreeMap<String, (String, String, String, BTreeMap<u64, String>)>;

pub fn fixture_sql() -> String {
    std::fs::read_to_string(crate::util::fixture("sql/people.sql")).expect("people.sql")
}

/// Writes `exports/NAME.toml` with this `[source]` body and mapping.
pub fn write_export(w: &World, name: &str, source: &str, mapping: &str) {
    write_export_with(w, name, "", source, mapping);
}

/// [`write_export`] with extra top-level keys (`top`, e.g. `allow_empty = true`).
pub fn write_export_with(w: &World, name: &str, top: &str, source: &str, mapping: &str) {
    let toml = format!(
        "connection = \"sim\"\nlist_id = {}\nschedule = \"@hourly\"\n{top}\n\n[source]\n{source}\n\n{mapping}",
        w.list
    );
    std::fs::write(w.exports().join(format!("{name}.toml")), toml).expect("export");
}

/// A world syncing `people.csv` as export `vip`, with the `COMPANY` field.
pub async fn csv_world() -> World {
    let w = World::new().await;
    w.sim.add_field("COMPANY", "Company");
    let csv = crate::util::fixture("sql/people.csv");
    std::fs::copy(csv, w.root().join("segments/vip.csv")).expect("copy csv");
    write_export(
        &w,
        "vip",
        "kind = \"csv\"\npath = \"../segments/vip.csv\"",
        MAPPING,
    );
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
    w
}

pub fn snapshot(w: &World) -> Snapshot {
    w.active()
        .into_iter()
        .map(|email| {
            let c = w.sim.contact(&email).expect("member is a contact");
            (email, (c.first_name, c.last_name, c.phone, c.fields))
        })
        .collect()
}

/// The status file's `last_run` counts and error.
pub fn last_run(w: &World, name: &str) -> serde_json::Value {
    w.status_json(name)["last_run"].clone()
}

pub fn counts(last_run: &serde_json::Value) -> [u64; 4] {
    ["source_rows", "profiles", "invalid_rows", "duplicate_rows"]
        .map(|k| last_run[k].as_u64().unwrap_or(u64::MAX))
}

fn sqlite_file(dir: &Path, sql: &str) -> PathBuf {
    let path = dir.join("segments/people.db");
    let conn = rusqlite::Connection::open(&path).expect("create sqlite");
    conn.execute_batch(sql).expect("load sqlite");
    path
}

fn sqlite_source(path: &Path, query: &str) -> Source {
    Source::Sqlite {
        path: path.into(),
        query: query.into(),
        timeout: acsync::config::DEFAULT_SOURCE_TIMEOUT,
    }
}

fn mapping(fields: &[(&str, &str)]) -> Mapping {
    Mapping {
        email: "email".into(),
        fields: fields
            .iter()
            .map(|(k, c)| (k.to_string(), c.to_string()))
            .collect(),
        ..Mapping::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_segment_syncs_exactly_like_the_same_rows_from_csv() {
    let from_csv = csv_world().await;
    let w = World::new().await;
    w.sim.add_field("COMPANY", "Company");
    sqlite_file(w.root(), &fixture_sql());
    let source = format!("kind = \"sqlite\"\npath = \"../segments/people.db\"\nquery = \"{VIP}\"");
    write_export(&w, "vip", &source, MAPPING);
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
    assert_eq!(counts(&last_run(&w, "vip")), [8, 5, 2, 1]);
    assert_eq!(
        counts(&last_run(&w, "vip")),
        counts(&last_run(&from_csv, "vip"))
    );
    let snap = snapshot(&w);
    assert_eq!(snap, snapshot(&from_csv));
    assert_eq!(snap.len(), 5);
    assert_eq!(snap["alan@example.com"].0, "Alan", "values are trimmed");

    // `plan` shows the row count; a second look changes nothing.
    let out = w.acsync(&["plan", "vip"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("vip: 8 rows, 5 profiles (2 invalid, 1 duplicate rows)"),
        "{stdout}"
    );
}

#[test]
fn sqlite_type_matrix() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("segments")).expect("mkdir");
    let db = sqlite_file(
        dir.path(),
        "CREATE TABLE t (email TEXT, i INTEGER, r REAL, s TEXT, n TEXT, b BLOB);
         INSERT INTO t VALUES ('a@example.com', -42, 2.5, '  text ', NULL, NULL),
                              ('b@example.com', 7, 3.0, '', NULL, x'00ff'),
                              ('c@example.com', 9007199254740993, 0.1, 'é', NULL, NULL);",
    );
    let m = mapping(&[("I", "i"), ("R", "r"), ("S", "s"), ("N", "n"), ("B", "b")]);
    let seg = source::read(&sqlite_source(&db, "select * from t"), &m).expect("readable");
    let fields: Vec<Vec<(String, String)>> = seg
        .profiles
        .iter()
        .map(|p| {
            p.fields
                .custom()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect();
    let f = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        fields,
        [
            f(&[("I", "-42"), ("R", "2.5"), ("S", "text")]),
            f(&[("I", "7"), ("R", "3")]),
            f(&[("I", "9007199254740993"), ("R", "0.1"), ("S", "é")]),
        ]
    );
    // A BLOB is not sent and its row is reported, named by column (the
    // row stays in the segment); the other rows are fine.
    assert_eq!(
        (seg.source_rows, seg.invalid_rows, seg.row_issues),
        (3, 0, 1)
    );
    assert_eq!(seg.samples[0].row, 2);
    assert!(
        seg.samples[0].reason.contains("column \"b\" holds a BLOB"),
        "{:?}",
        seg.samples
    );
}

#[test]
fn sqlite_queries_that_fail_or_write_are_refused_and_write_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("segments")).expect("mkdir");
    let db = sqlite_file(dir.path(), &fixture_sql());
    let m = mapping(&[]);
    let err = |query: &str| {
        let e = source::read(&sqlite_source(&db, query), &m).expect_err(query);
        (e.to_string(), e)
    };
    let (msg, e) = err("selec email from people");
    assert!(
        matches!(e, SourceError::Sqlite { .. }) && msg.contains("syntax error"),
        "{msg}"
    );
    assert!(msg.contains("people.db"), "names the file: {msg}");
    let (msg, e) = err("select id, first_name from people");
    assert!(matches!(e, SourceError::QueryColumn { .. }), "{msg}");
    assert!(
        msg.contains("column \"email\"") && msg.contains("(id, first_name)"),
        "{msg}"
    );
    let writes = [
        "insert into people (id, email) values (99, 'w@example.com') returning email",
        "delete from people returning email",
        "update people set segment = 'gone' returning email",
        "select email from people; delete from people",
    ];
    for query in writes {
        let (msg, _) = err(query);
        assert!(msg.contains("people.db"), "{query}: {msg}");
    }
    let conn = rusqlite::Connection::open(&db).expect("open");
    let rows: (i64, i64) = conn
        .query_row(
            "select count(*), count(*) filter (where segment = 'gone') from people",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("count");
    assert_eq!(rows, (10, 0), "nothing was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_missing_column_fails_the_run_before_any_request() {
    let w = World::new().await;
    sqlite_file(w.root(), &fixture_sql());
    let source = "kind = \"sqlite\"\npath = \"../segments/people.db\"\nquery = \"select email, first_name from people where false\"";
    write_export(&w, "vip", source, MAPPING);
    w.sim.reset_ledger();
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Failed);
    let error = r.last_run.error.unwrap_or_default();
    assert!(
        error.contains("column \"last_name\" from [mapping]"),
        "{error}"
    );
    assert_eq!(w.sim.ledger().total, 0, "{:?}", w.sim.ledger().by_endpoint);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_validates_sql_sources_without_connecting() {
    let w = World::new().await;
    let cases = [
        // A postgres source needs url_env and query, and no `url`.
        (
            "no_env",
            "kind = \"postgres\"\nquery = \"select 1\"",
            Some("needs `url_env`"),
        ),
        (
            "no_query",
            "kind = \"postgres\"\nurl_env = \"SEG_DB\"",
            Some("needs `query`"),
        ),
        (
            "inline_url",
            "kind = \"postgres\"\nurl = \"postgres://u:hunter2@db/x\"\nurl_env = \"SEG_DB\"\nquery = \"select 1\"",
            Some("`url` is not allowed"),
        ),
        (
            "bad_timeout",
            "kind = \"postgres\"\nurl_env = \"SEG_DB\"\nquery = \"select 1\"\nstatement_timeout = \"soon\"",
            Some("bad duration `soon`"),
        ),
        (
            "sqlite_no_query",
            "kind = \"sqlite\"\npath = \"x.db\"",
            Some("needs `query`"),
        ),
        // Valid: the variable is not even set, and no server is asked.
        (
            "ok_pg",
            "kind = \"postgres\"\nurl_env = \"ACSYNC_IT_UNSET_DB_URL\"\nquery = \"select email from p\"\nstatement_timeout = \"1s\"",
            None,
        ),
        (
            "ok_sqlite",
            "kind = \"sqlite\"\npath = \"../segments/none.db\"\nquery = \"select email from p\"",
            None,
        ),
    ];
    for (name, source, _) in &cases {
        write_export(&w, name, source, "[mapping]\nemail = \"email\"\n");
    }
    for (name, _, expect) in cases {
        let file = w.exports().join(format!("{name}.toml"));
        let out = w.acsync(&["check", file.to_str().expect("utf-8 path")]);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        match expect {
            Some(msg) => {
                assert_eq!(out.status.code(), Some(1), "{name}: {text}");
                assert!(text.contains(msg), "{name}: {text}");
                assert!(!text.contains("hunter2"), "{name}: {text}");
            }
            None => assert!(out.status.success(), "{name}: {text}"),
        }
    }
}
