//! `acsync doctor` through the real binary: it passes on the
//! simulator, fails naming the cause on a wrong key, a login page instead of
//! the API host, a missing list, an unknown field, a value that does not fit
//! its field, and global (not per-list) status filtering; and it sends no
//! write request, as the simulator's ledger shows.

use std::time::Duration;

use acsync::simulator::{ChangedBy, SimConfig};

use crate::harness::{World, fast_sim};

/// A simulator with a rate limit, so that its answers carry `RateLimit-*`.
fn limited_sim() -> SimConfig {
    SimConfig {
        requests_per_second: 50,
        ..fast_sim()
    }
}

/// Export `NAME` on list `list` with a `SCORE` number field fed by `score` values.
fn export_with_score(w: &World, name: &str, list: u64, scores: &[&str]) {
    let mut csv = String::from("email,first_name,last_name,score\n");
    for (i, s) in scores.iter().enumerate() {
        csv.push_str(&format!("user{i}@example.com,F{i},L,{s}\n"));
    }
    std::fs::write(w.root().join(format!("segments/{name}.csv")), csv).expect("csv");
    w.write_export(name, "");
    let path = w.exports().join(format!("{name}.toml"));
    let text = std::fs::read_to_string(&path).expect("export").replace(
        &format!("list_id = {}", w.list),
        &format!("list_id = {list}"),
    );
    std::fs::write(
        &path,
        format!("{text}\n[mapping.fields]\nSCORE = \"score\"\n"),
    )
    .expect("fields");
}

struct Said {
    ok: bool,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn doctor(w: &World, args: &[&str]) -> Said {
    let mut all = vec!["doctor"];
    all.extend_from_slice(args);
    let out = w.acsync(&all);
    Said {
        ok: out.status.success(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The line of `check` under the text output, e.g. `FAIL  list: ...`.
fn line<'a>(s: &'a Said, verdict: &str, check: &str) -> &'a str {
    let prefix = format!("{verdict:<5} {check}: ");
    s.stdout
        .lines()
        .map(str::trim_start)
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{}{}", s.stdout, s.stderr))
}

/// Every request the simulator saw was a GET.
fn only_gets(w: &World) {
    let l = w.sim.ledger();
    assert_eq!(l.writes, 0, "{:?}", l.by_endpoint);
    assert!(l.reads > 0);
    for endpoint in l.by_endpoint.keys() {
        assert!(
            endpoint.starts_with("GET "),
            "{endpoint} in {:?}",
            l.by_endpoint
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_on_the_simulator_and_sends_only_gets() {
    let w = World::with(limited_sim()).await;
    w.write_settings(50);
    w.sim.add_typed_field("SCORE", "Score", "number", &[]);
    export_with_score(&w, "vip", w.list, &["1", "2.5", "", "40"]);
    w.sync_success("vip").await;
    let gone = w.sim.contact("user1@example.com").expect("synced").id;
    w.sim.set_membership(gone, w.list, 2, ChangedBy::Contact);
    w.sim.reset_ledger();

    let s = doctor(&w, &[]);
    assert!(s.ok, "{}{}", s.stdout, s.stderr);
    line(&s, "ok", "key");
    line(&s, "ok", "api host");
    assert!(line(&s, "ok", "rate limit").contains("RateLimit-Limit 50"));
    let list = line(&s, "ok", "list");
    assert!(
        list.contains(&format!("list {} \"Segment list\"", w.list)),
        "{list}"
    );
    line(&s, "ok", "segment");
    let field = line(&s, "ok", "field SCORE");
    assert!(
        field.contains("(id 1, number); the first 3 values fit"),
        "{field}"
    );
    let statuses = line(&s, "ok", "list statuses");
    assert!(statuses.contains("3 active, 1 unsubscribed"), "{statuses}");
    assert!(s.stdout.contains("0 FAIL"), "{}", s.stdout);
    only_gets(&w);

    let j = doctor(&w, &["vip", "--json"]);
    assert!(j.ok, "{}{}", j.stdout, j.stderr);
    let v: serde_json::Value = serde_json::from_str(&j.stdout).expect("json");
    assert_eq!(v["ok"], true);
    let checks = v["checks"].as_array().expect("checks");
    assert!(checks.iter().all(|c| c["verdict"] == "ok"), "{v:#}");
    only_gets(&w);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_fails_naming_its_source_not_the_key() {
    let w = World::new().await;
    export_with_score(&w, "vip", w.list, &["1"]);
    let key_file = w.root().join("sim.key");
    std::fs::write(&key_file, "wrong-key-0000").expect("key");
    let s = doctor(&w, &[]);
    assert_eq!(s.code, Some(1), "{}{}", s.stdout, s.stderr);
    let key = line(&s, "FAIL", "key");
    assert!(key.contains("key file") && key.contains("sim.key"), "{key}");
    assert!(key.contains("HTTP 403"), "{key}");
    assert!(s.stdout.contains("Settings > Developer"), "{}", s.stdout);
    assert!(!s.stdout.contains("wrong-key-0000") && !s.stderr.contains("wrong-key-0000"));
    line(&s, "FAIL", "account checks");
    // Without a rate limit the simulator sends no RateLimit-* headers.
    line(&s, "warn", "rate limit");
    only_gets(&w);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_list_fails_and_names_only_that_export() {
    let w = World::new().await;
    w.sim.add_typed_field("SCORE", "Score", "number", &[]);
    export_with_score(&w, "good", w.list, &["1"]);
    export_with_score(&w, "lost", 999, &["1"]);
    let s = doctor(&w, &[]);
    assert_eq!(s.code, Some(1), "{}{}", s.stdout, s.stderr);
    let list = line(&s, "FAIL", "list");
    assert!(list.contains("list 999 does not exist"), "{list}");
    assert!(s.stdout.contains("export lost\n"), "{}", s.stdout);
    assert!(s.stdout.contains("set `list_id` in"), "{}", s.stdout);
    let good = doctor(&w, &["good"]);
    assert!(good.ok, "{}{}", good.stdout, good.stderr);
    assert!(!good.stdout.contains("export lost"), "{}", good.stdout);
    let by_conn = doctor(&w, &["--connection", "sim"]);
    assert_eq!(by_conn.code, Some(1));
    let unknown = doctor(&w, &["--connection", "nosuch"]);
    assert_eq!(unknown.code, Some(1));
    assert!(
        unknown.stderr.contains("no connection `nosuch`"),
        "{}",
        unknown.stderr
    );
    only_gets(&w);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_field_or_a_value_that_does_not_fit_fails() {
    let w = World::new().await;
    export_with_score(&w, "vip", w.list, &["1", "high"]);
    let s = doctor(&w, &["vip"]);
    assert_eq!(s.code, Some(1), "{}{}", s.stdout, s.stderr);
    let field = line(&s, "FAIL", "field SCORE");
    assert!(
        field.contains("`SCORE`") && field.contains("does not exist"),
        "{field}"
    );
    assert!(s.stdout.contains("Manage Fields"), "{}", s.stdout);

    w.sim.add_typed_field("SCORE", "Score", "number", &[]);
    let s = doctor(&w, &["vip"]);
    assert_eq!(s.code, Some(1), "{}{}", s.stdout, s.stderr);
    let field = line(&s, "FAIL", "field SCORE");
    assert!(field.contains("line 3: `high` is not a number"), "{field}");
    only_gets(&w);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_status_filtering_fails_the_list_statuses_check() {
    let w = World::new().await;
    w.sim.add_typed_field("SCORE", "Score", "number", &[]);
    export_with_score(&w, "vip", w.list, &["1"]);
    // Unsubscribed from this list, active on another: a global filter reads
    // this contact as active here.
    let other = w.sim.add_list("Other");
    let id = w.sim.add_contact("left@example.com", None, None, None);
    w.sim.set_membership(id, w.list, 2, ChangedBy::Contact);
    w.sim.set_membership(id, other, 1, ChangedBy::Admin);
    let s = doctor(&w, &["vip"]);
    assert!(s.ok, "{}{}", s.stdout, s.stderr);
    line(&s, "ok", "list statuses");

    w.sim.set_global_status_filter(true);
    let s = doctor(&w, &["vip"]);
    assert_eq!(s.code, Some(1), "{}{}", s.stdout, s.stderr);
    let statuses = line(&s, "FAIL", "list statuses");
    assert!(
        statuses.contains(&format!(
            "contact {id} shows status unsubscribed on list {}",
            w.list
        )),
        "{statuses}"
    );
    assert!(
        s.stdout.contains("do not run `acsync sync`"),
        "{}",
        s.stdout
    );
    only_gets(&w);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_page_is_not_the_api_host() {
    let w = World::new().await;
    export_with_score(&w, "vip", w.list, &["1"]);
    let page = axum::Router::new().fallback(|| async {
        axum::response::Html("<html><head><title>Log in | ActiveCampaign</title></head></html>")
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move { axum::serve(listener, page).await });
    let settings = w.root().join("acsync.toml");
    let text = std::fs::read_to_string(&settings).expect("settings");
    let text = text.replace(&w.sim.base_url(), &format!("http://{addr}"));
    std::fs::write(&settings, text).expect("settings");

    let s = doctor(&w, &[]);
    assert_eq!(s.code, Some(1), "{}{}", s.stdout, s.stderr);
    let host = line(&s, "FAIL", "api host");
    assert!(
        host.contains("titled \"Log in | ActiveCampaign\""),
        "{host}"
    );
    assert!(host.contains("not JSON"), "{host}");
    assert!(s.stdout.contains("api-us1.com"), "{}", s.stdout);
    server.abort();
    tokio::time::sleep(Duration::from_millis(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_url_fails_the_api_host_check() {
    let w = World::new().await;
    export_with_score(&w, "vip", w.list, &["1"]);
    // A port nothing listens on: bound, then released.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = closed.local_addr().expect("addr");
    drop(closed);
    let settings = w.root().join("acsync.toml");
    let text = std::fs::read_to_string(&settings).expect("settings");
    let text = text.replace(&w.sim.base_url(), &format!("http://{addr}"));
    std::fs::write(&settings, text).expect("settings");

    let s = doctor(&w, &["--connection", "sim"]);
    assert_eq!(s.code, Some(1), "{}{}", s.stdout, s.stderr);
    let host = line(&s, "FAIL", "api host");
    assert!(host.contains("could not connect"), "{host}");
    assert!(s.stdout.contains("DNS, firewall, proxy"), "{}", s.stdout);
    line(&s, "FAIL", "account checks");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_fields_are_read_once_per_connection() {
    let w = World::with(limited_sim()).await;
    w.write_settings(50);
    w.sim.add_typed_field("SCORE", "Score", "number", &[]);
    export_with_score(&w, "vip", w.list, &["1"]);
    export_with_score(&w, "gold", w.list, &["2"]);
    w.sim.reset_ledger();
    let s = doctor(&w, &[]);
    assert_eq!(
        s.stdout.matches("ok    field SCORE").count(),
        2,
        "{}",
        s.stdout
    );
    // The connection's probe, then one read for both exports.
    let fields = w.sim.ledger().by_endpoint.get("GET /fields").copied();
    assert_eq!(fields, Some(2), "{:?}", w.sim.ledger().by_endpoint);
}

/// docs/verification.md: doctor reports what it learned about the account
/// that a write depends on, read-only: the account's time zone and this
/// host's clock against ActiveCampaign's, and whether the read before an
/// unsubscribe (`ids[]` with side-loaded rows) answers as acsync needs,
/// and whether the drift check's `filters[updated_after]` is honoured.
/// On an account that ignores `include=contactLists`, that check fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_the_account_zone_the_clock_and_the_removal_check() {
    let w = World::with(limited_sim()).await;
    w.write_settings(50);
    w.sim.set_time_zone(chrono_tz::America::Chicago);
    w.write_export("vip", "");
    w.write_people("vip", &World::people(0..3));
    w.sync_success("vip").await;
    w.sim.reset_ledger();

    let s = doctor(&w, &[]);
    assert!(s.ok, "{}{}", s.stdout, s.stderr);
    let clock = line(&s, "ok", "clock");
    let now = chrono::Utc::now().with_timezone(&chrono_tz::America::Chicago);
    let offset = format!("UTC{}", now.format("%:z"));
    assert!(clock.contains(&offset), "{clock}");
    assert!(clock.contains(" s from ActiveCampaign's"), "{clock}");
    let removal = line(&s, "ok", "removal check");
    assert!(removal.contains("3 members asked"), "{removal}");
    let drift = line(&s, "ok", "drift check");
    assert!(drift.contains("is honoured"), "{drift}");
    only_gets(&w);

    w.sim.set_include_ignored(true);
    let s = doctor(&w, &[]);
    assert!(!s.ok, "{}", s.stdout);
    let removal = line(&s, "FAIL", "removal check");
    assert!(removal.contains("contactLists"), "{removal}");
    only_gets(&w);
}

/// A mapped column the segment lacks is a `[mapping]` problem: doctor's fix
/// says so instead of sending the user to `[source]`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_mapped_column_is_blamed_on_the_mapping() {
    let w = World::new().await;
    std::fs::write(
        w.root().join("segments/vip.csv"),
        "email,name\na@example.com,A\n",
    )
    .expect("csv");
    w.write_export("vip", "");
    let s = doctor(&w, &["vip"]);
    assert_eq!(s.code, Some(1), "{}{}", s.stdout, s.stderr);
    let segment = line(&s, "FAIL", "segment");
    assert!(segment.contains("is not in the header"), "{segment}");
    assert!(
        s.stdout.contains("fix the [mapping] (or the segment)"),
        "{}",
        s.stdout
    );
    assert!(!s.stdout.contains("fix the [source]"), "{}", s.stdout);
}
