//! PostgreSQL sources against the shared throwaway server ([`super::pg`]),
//! each test in its own database, each run through the real binary so the
//! connection string reaches it the way it reaches the daemon: in the
//! environment variable `url_env` names (never `set_var` in this process).

use std::process::Output;

use super::pg::{self, PW_PASSWORD, PW_USER, PgServer};
use super::{
    MAPPING, VIP, counts, csv_world, fixture_sql, last_run, snapshot, write_export,
    write_export_with,
};
use crate::harness::World;

/// The variable the exports of these tests name.
const VAR: &str = "ACSYNC_IT_SEGMENT_DB";

/// The shared server, or `None` after the "did not run" message (never under CI).
fn server() -> Option<&'static PgServer> {
    pg::shared()
}

fn pg_source(query: &str, extra: &str) -> String {
    format!("kind = \"postgres\"\nurl_env = \"{VAR}\"\nquery = '''{query}'''\n{extra}")
}

/// Runs `acsync ARGS` with `$VAR` = `url` (if any), off the runtime's threads.
async fn acsync(w: &World, args: &[&str], url: Option<&str>) -> Output {
    let mut c = w.command(args);
    c.env_remove(VAR);
    if let Some(url) = url {
        c.env(VAR, url);
    }
    tokio::task::spawn_blocking(move || c.output().expect("run acsync"))
        .await
        .expect("join")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_segment_syncs_exactly_like_the_same_rows_from_csv() {
    let Some(pg) = server() else { return };
    let url = pg.create_db("same_as_csv", &fixture_sql()).await;
    let from_csv = csv_world().await;
    let w = World::new().await;
    w.sim.add_field("COMPANY", "Company");
    write_export(&w, "vip", &pg_source(VIP, ""), MAPPING);
    let out = acsync(&w, &["sync", "vip"], Some(&url)).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(counts(&last_run(&w, "vip")), [8, 5, 2, 1]);
    assert_eq!(snapshot(&w), snapshot(&from_csv));

    // Zero rows is a valid (empty) segment, not a missing column.
    let empty = pg_source(&format!("{} limit 0", VIP.replace(" order by id", "")), "");
    write_export_with(&w, "none", "allow_empty = true", &empty, MAPPING);
    w.sim.reset_ledger();
    let out = acsync(&w, &["plan", "none"], Some(&url)).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("none: 0 rows"), "{}", text(&out));
    assert_eq!(w.sim.ledger().writes, 0);
}

const TYPED: &str = "
CREATE TYPE tier AS ENUM ('gold', 'silver');
CREATE DOMAIN short_code AS varchar(8);
CREATE TABLE typed (
  email text, t_text text, t_varchar varchar(20), t_char char(6), t_int2 int2, t_int4 int4,
  t_int8 int8, t_numeric numeric(12,2), t_real real, t_float float8, t_bool boolean,
  t_date date, t_ts timestamp, t_tstz timestamptz, t_time time, t_uuid uuid, t_json json,
  t_jsonb jsonb, t_enum tier, t_domain short_code, t_big numeric);
INSERT INTO typed VALUES
 ('typed@example.com', ' Hello ', 'var', 'ab', -7, 2147483647, 9007199254740993, 1234.50,
  1.5, 0.1, true, '2024-02-29', '2024-01-31 09:30:00', '2024-01-31 09:30:00.25+02',
  '23:59:59', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '{\"a\": 1}', '{\"b\":2}', 'gold', 'XY-1',
  -123456789012345678901234567890.000001),
 ('nulls@example.com', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 ('blank@example.com', '', '  ', '', 0, 0, 0, 0, 0, 0, false, '1999-12-31', '1999-12-31 23:59:59',
  '2000-01-01 00:00:00+00', '00:00:00', '00000000-0000-0000-0000-000000000000', 'null', '[]',
  'silver', '', 0.10);";

/// `(column, expected text for the first row, for the third)`; the second is all NULL.
const MATRIX: &[(&str, &str, Option<&str>)] = &[
    ("t_text", "Hello", None),
    ("t_varchar", "var", None),
    ("t_char", "ab", None),
    ("t_int2", "-7", Some("0")),
    ("t_int4", "2147483647", Some("0")),
    ("t_int8", "9007199254740993", Some("0")),
    ("t_numeric", "1234.50", Some("0.00")),
    ("t_real", "1.5", Some("0")),
    ("t_float", "0.1", Some("0")),
    ("t_bool", "true", Some("false")),
    ("t_date", "2024-02-29", Some("1999-12-31")),
    ("t_ts", "2024-01-31T09:30:00", Some("1999-12-31T23:59:59")),
    (
        "t_tstz",
        "2024-01-31T07:30:00.250Z",
        Some("2000-01-01T00:00:00Z"),
    ),
    ("t_time", "23:59:59", Some("00:00:00")),
    (
        "t_uuid",
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        Some("00000000-0000-0000-0000-000000000000"),
    ),
    ("t_json", "{\"a\": 1}", Some("null")),
    ("t_jsonb", "{\"b\": 2}", Some("[]")),
    ("t_enum", "gold", Some("silver")),
    ("t_domain", "XY-1", None),
    (
        "t_big",
        "-123456789012345678901234567890.000001",
        Some("0.10"),
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_type_matrix() {
    let Some(pg) = server() else { return };
    let url = pg.create_db("type_matrix", TYPED).await;
    let w = World::new().await;
    let mut mapping = String::from("[mapping]\nemail = \"email\"\n\n[mapping.fields]\n");
    let ids: Vec<u64> = MATRIX
        .iter()
        .map(|(col, _, _)| {
            let tag = col.to_uppercase();
            mapping.push_str(&format!("{tag} = \"{col}\"\n"));
            w.sim.add_field(&tag, col)
        })
        .collect();
    write_export(&w, "typed", &pg_source("select * from typed", ""), &mapping);
    let out = acsync(&w, &["sync", "typed"], Some(&url)).await;
    assert!(out.status.success(), "{}", text(&out));
    let fields = |email: &str| w.sim.contact(email).expect("synced").fields;
    let (typed, nulls, blank) = (
        fields("typed@example.com"),
        fields("nulls@example.com"),
        fields("blank@example.com"),
    );
    for ((col, first, third), id) in MATRIX.iter().zip(&ids) {
        assert_eq!(typed.get(id).map(String::as_str), Some(*first), "{col}");
        assert_eq!(
            blank.get(id).map(String::as_str),
            *third,
            "{col}: empty is not sent"
        );
    }
    assert!(nulls.is_empty(), "NULL is not sent: {nulls:?}");
}

/// Which connection string a failure case gets.
#[derive(Clone, Copy, PartialEq)]
enum Conn {
    Live,
    /// A port nothing listens on.
    Dead,
    /// The variable is not set at all.
    Unset,
}

/// `(export, query, extra [source] keys, connection, expected error part)`.
type Failure = (&'static str, &'static str, &'static str, Conn, &'static str);

const FAILURES: &[Failure] = &[
    (
        "syntax",
        "selec email from people",
        "",
        Conn::Live,
        "syntax error at or near \"selec\"",
    ),
    (
        "missing",
        "select email, first_name, last_name, phone from people where false",
        "",
        Conn::Live,
        "column \"company\" from [mapping] is not among the query's columns (email, first_name, last_name, phone)",
    ),
    (
        "insert",
        "insert into people (id, email) values (99, 'w@example.com') returning email, first_name, last_name, phone, company",
        "",
        Conn::Live,
        "cannot execute INSERT in a read-only transaction",
    ),
    (
        "cte",
        "with gone as (delete from people returning *) select email, first_name, last_name, phone, company from gone",
        "",
        Conn::Live,
        "read-only transaction",
    ),
    (
        "sequence",
        "select email, first_name, last_name, phone, company, nextval('s') from people",
        "",
        Conn::Live,
        "nextval() in a read-only transaction",
    ),
    (
        "bytea",
        "select email, first_name, last_name, phone, company::bytea as company from people",
        "",
        Conn::Live,
        "column \"company\" has type BYTEA",
    ),
    (
        "timeout",
        "select email, first_name, last_name, phone, company from people, (select pg_sleep(5)) s",
        "statement_timeout = \"1s\"",
        Conn::Live,
        "ran longer than statement_timeout (1s)",
    ),
    ("dead", VIP, "", Conn::Dead, "cannot connect: 127.0.0.1:"),
    (
        "unset",
        VIP,
        "",
        Conn::Unset,
        "environment variable ACSYNC_IT_SEGMENT_DB is not set",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_failures_fail_the_run_and_touch_nothing() {
    let Some(pg) = server() else { return };
    let url = pg.create_db("failures", &fixture_sql()).await;
    let dead = format!("postgres://postgres@127.0.0.1:{}/failures", closed_port());
    exec(sqlx_conn(&url).await, "CREATE SEQUENCE s").await;
    let w = World::new().await;
    w.sim.add_field("COMPANY", "Company");
    for &(name, query, extra, conn, expect) in FAILURES {
        write_export(&w, name, &pg_source(query, extra), MAPPING);
        let env = match conn {
            Conn::Live => Some(url.as_str()),
            Conn::Dead => Some(dead.as_str()),
            Conn::Unset => None,
        };
        w.sim.reset_ledger();
        let started = std::time::Instant::now();
        let out = acsync(&w, &["sync", name], env).await;
        assert_eq!(out.status.code(), Some(1), "{name}: {}", text(&out));
        let run = last_run(&w, name);
        let error = run["error"].as_str().unwrap_or_default();
        assert!(error.contains(expect), "{name}: {error}");
        assert_eq!(run["outcome"], "failed", "{name}");
        let ledger = w.sim.ledger();
        assert_eq!(ledger.total, 0, "{name}: {:?}", ledger.by_endpoint);
        if name == "timeout" {
            let secs = started.elapsed().as_secs_f64();
            assert!(
                secs < 4.5,
                "cancelled by the server, not after pg_sleep: {secs}"
            );
        }
    }
    let counts: (i64, bool) =
        sqlx::query_as("select count(*), (select is_called from s) from people")
            .fetch_one(&mut sqlx_conn(&url).await)
            .await
            .expect("count");
    assert_eq!(
        counts,
        (10, false),
        "no row written, the sequence never advanced"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_tls_modes_come_from_the_connection_string() {
    let Some(pg) = server() else { return };
    let Some(ca) = &pg.ca_cert else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "no TLS test server under CI (openssl missing?)"
        );
        pg::say("SKIPPED: TLS modes: the test server has no certificate (no openssl command)");
        return;
    };
    let url = pg.create_db("tls", &fixture_sql()).await;
    let base = url.split('?').next().expect("url");
    let w = World::new().await;
    w.sim.add_field("COMPANY", "Company");
    // The segment is empty unless this very session is encrypted.
    let query = VIP.replace(
        " order by id",
        " and (select ssl from pg_stat_ssl where pid = pg_backend_pid())",
    );
    write_export_with(
        &w,
        "vip",
        "allow_empty = true",
        &pg_source(&query, ""),
        MAPPING,
    );
    let ca = ca.display();
    let with_ca = |mode: &str| format!("sslmode={mode}&sslrootcert={ca}");
    let cases = [
        ("sslmode=disable".to_owned(), Some(0)),
        // `prefer`, the default, takes TLS when the server offers it.
        (String::new(), Some(8)),
        ("sslmode=require".to_owned(), Some(8)),
        // The CA is not a public one: verification needs it as sslrootcert.
        ("sslmode=verify-full".to_owned(), None),
        (with_ca("verify-full"), Some(8)),
        (with_ca("verify-ca"), Some(8)),
    ];
    for (params, rows) in cases {
        let out = acsync(&w, &["plan", "vip"], Some(&format!("{base}?{params}"))).await;
        let shown = text(&out);
        assert_eq!(out.status.success(), rows.is_some(), "{params}: {shown}");
        match rows {
            Some(n) => assert!(
                shown.contains(&format!("vip: {n} rows")),
                "{params}: {shown}"
            ),
            None => assert!(shown.contains("cannot connect"), "{params}: {shown}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_password_never_appears_in_errors_logs_or_status() {
    let Some(pg) = server() else { return };
    let url = pg.create_db("secret", &fixture_sql()).await;
    let admin = sqlx_conn(&url).await;
    let role = format!(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{PW_USER}') THEN CREATE ROLE {PW_USER} LOGIN PASSWORD '{PW_PASSWORD}'; END IF; END $$; GRANT SELECT ON people TO {PW_USER};"
    );
    exec(admin, &role).await;
    let w = World::new().await;
    w.sim.add_field("COMPANY", "Company");
    write_export(&w, "vip", &pg_source(VIP, ""), MAPPING);
    let at = format!("127.0.0.1:{}/secret?sslmode=disable", pg.port);
    let wrong = "Wr0ng-Pa55word";
    let out = acsync(
        &w,
        &["sync", "vip"],
        Some(&format!("postgres://{PW_USER}:{wrong}@{at}")),
    )
    .await;
    let status = std::fs::read_to_string(w.exports().join("vip.status.json")).expect("status");
    let error = last_run(&w, "vip")["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(error.contains("password authentication failed"), "{error}");
    for shown in [text(&out), status] {
        assert!(
            !shown.contains(wrong) && !shown.contains("postgres://"),
            "{shown}"
        );
    }
    let out = acsync(
        &w,
        &["sync", "vip"],
        Some(&format!("postgres://{PW_USER}:{PW_PASSWORD}@{at}")),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(w.active().len(), 5);
    // A malformed string is refused by name, without echoing it.
    let out = acsync(
        &w,
        &["sync", "vip"],
        Some(&format!("postgres://{PW_USER}:{PW_PASSWORD}@host:port/x")),
    )
    .await;
    let error = last_run(&w, "vip")["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        error.contains("ACSYNC_IT_SEGMENT_DB does not hold a PostgreSQL connection URL"),
        "{error}"
    );
    assert!(
        !text(&out).contains(PW_PASSWORD) && !error.contains(PW_PASSWORD),
        "{error}"
    );
    assert_eq!(last_run(&w, "vip")["outcome"], "failed");
}

async fn sqlx_conn(url: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(url).await.expect("connect")
}

async fn exec(mut conn: sqlx::PgConnection, sql: &str) {
    use sqlx::{AssertSqlSafe, Executor};
    (conn
        .execute(sqlx::raw_sql(AssertSqlSafe(sql.to_owned())))
        .await)
        .expect(sql);
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}
