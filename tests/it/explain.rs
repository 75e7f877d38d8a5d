//! Integration tests: `acsync explain` through the real binary, against the
//! simulator: each kind of address answered with its row (the file's line),
//! its record, its status on the list and the next run's decision.

use acsync::simulator::ChangedBy;
use serde_json::Value;

use crate::harness::World;

/// `exports/vip.toml` over a CSV whose first record spans two lines (a
/// quoted newline), so file lines and data rows differ: user0 is lines 2-3,
/// user{i} line i+3 (i = 1..30), then optout (33), an invalid address (34)
/// and a second row of user3 (35). `extra` rows follow from line 36.
fn write_segment(w: &World, extra: &[(&str, &str)]) {
    let mut s = String::from("email,first_name,last_name\n");
    s.push_str("user0@example.com,First0,\"Two\nLines\"\n");
    for i in 1..30 {
        s.push_str(&format!("user{i}@example.com,First{i},Last\n"));
    }
    s.push_str("optout@example.com,Opt,Last\n");
    s.push_str("bad@@example.com,Bad,Last\n");
    s.push_str("User3@Example.com,Again,Last\n");
    for (email, first) in extra {
        s.push_str(&format!("{email},{first},Last\n"));
    }
    std::fs::write(w.root().join("segments/vip.csv"), s).expect("csv");
}

/// A world after one successful run: 30 members added, `optout@` kept
/// unsubscribed (it opted out in ActiveCampaign before the run).
async fn synced_world() -> World {
    let w = World::new().await;
    let id = w
        .sim
        .add_contact("optout@example.com", Some("Opt"), None, None);
    w.sim.set_membership(id, w.list, 2, ChangedBy::Contact);
    write_segment(&w, &[]);
    w.write_export("vip", "");
    let r = w.sync_success("vip").await;
    assert_eq!((r.last_run.added, r.last_run.kept_unsubscribed), (30, 1));
    w
}

/// `acsync explain vip EMAIL --json ARGS`, which must answer (exit 0).
fn explain(w: &World, email: &str, args: &[&str]) -> Value {
    let mut all = vec!["explain", "vip", email, "--json"];
    all.extend_from_slice(args);
    let out = w.acsync(&all);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

fn rows(x: &Value) -> Vec<(String, String)> {
    (x["segment"]["rows"].as_array().expect("rows").iter())
        .map(|r| {
            let v = r["verdict"].as_str().unwrap_or_default().to_string();
            (r["place"].as_str().unwrap_or_default().to_string(), v)
        })
        .collect()
}

fn next(x: &Value) -> (&str, &str) {
    let n = &x["next_run"];
    (
        n["action"].as_str().unwrap_or_default(),
        n["reason"].as_str().unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_to_add_an_added_one_and_one_to_update() {
    let w = synced_world().await;
    write_segment(&w, &[("New@Example.com", "New")]);
    let mut text = std::fs::read_to_string(w.root().join("segments/vip.csv")).expect("csv");
    text = text.replace("user5@example.com,First5,", "user5@example.com,Changed,");
    std::fs::write(w.root().join("segments/vip.csv"), text).expect("csv");

    let x = explain(&w, "NEW@example.com", &[]);
    assert_eq!(
        x["email"], "new@example.com",
        "the full address, normalised"
    );
    assert_eq!(rows(&x), [("line 36".to_string(), "profile".to_string())]);
    assert_eq!(
        (
            x["state"]["recorded"].as_bool(),
            x["list"]["contact_id"].as_u64()
        ),
        (Some(false), None)
    );
    assert_eq!(next(&x).0, "add", "{x}");

    let x = explain(&w, "user1@example.com", &[]);
    assert_eq!(rows(&x), [("line 4".to_string(), "profile".to_string())]);
    let s = &x["state"];
    assert_eq!(
        (s["owned"].as_bool(), s["status"].as_str()),
        (Some(true), Some("active"))
    );
    assert!(s["pending"].is_null() && s["unsubscribed_by_us"] == false);
    assert!(x["list"]["contact_id"].as_u64().is_some(), "{x}");
    assert_eq!(x["list"]["status"], "active");
    assert_eq!(next(&x).0, "nothing");
    assert!(
        next(&x).1.contains("equal what this export last sent"),
        "{x}"
    );
    // The run history tells when it was added and what was sent.
    let history: Vec<&str> = (x["history"].as_array().expect("history"))
        .iter()
        .filter_map(|h| h.as_str())
        .collect();
    assert!(
        history
            .iter()
            .any(|h| h.starts_with("Last sent by run ") && h.contains("first_name \"First1\"")),
        "{x}"
    );
    assert!(history.iter().any(|h| h.contains(": added")), "{x}");

    let x = explain(&w, "user5@example.com", &[]);
    assert_eq!(next(&x).0, "update");
    assert_eq!(
        x["next_run"]["fields"],
        serde_json::json!(["first_name"]),
        "{x}"
    );
    assert_eq!(
        x["segment"]["fields"][0],
        serde_json::json!(["first_name", "Changed"])
    );
    assert_eq!(x["list"]["first_name"], "First5");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_unsubscribed_invalid_duplicate_and_never_seen_addresses() {
    let w = synced_world().await;

    let x = explain(&w, "optout@example.com", &[]);
    assert_eq!(rows(&x), [("line 33".to_string(), "profile".to_string())]);
    let s = &x["state"];
    assert_eq!(
        (s["owned"].as_bool(), s["unsubscribed_by_us"].as_bool()),
        (Some(false), Some(false))
    );
    assert_eq!(s["status"], "unsubscribed");
    assert_eq!(
        (x["list"]["status"].as_str(), x["list"]["code"].as_i64()),
        (Some("unsubscribed"), Some(2))
    );
    assert_eq!(next(&x).0, "keep");
    assert!(next(&x).1.contains("unsubscribed itself"), "{x}");

    // Opted out since the last full read: the state still says active.
    let id = w.sim.contact("user2@example.com").expect("user2").id;
    w.sim.set_membership(id, w.list, 2, ChangedBy::Contact);
    let x = explain(&w, "user2@example.com", &[]);
    assert_eq!(
        (x["state"]["status"].as_str(), x["list"]["status"].as_str()),
        (Some("active"), Some("unsubscribed"))
    );
    assert_eq!(
        (next(&x).0, x["next_run"]["full_read"].as_bool()),
        ("nothing", Some(false)),
        "{x}"
    );
    let after = &x["next_run"]["after_full_read"];
    assert_eq!(
        after["action"], "keep",
        "the next full read keeps the opt-out: {x}"
    );

    let x = explain(&w, "bad@@example.com", &[]);
    assert_eq!(x["segment"]["valid"], false);
    assert!(
        x["segment"]["problem"]
            .as_str()
            .is_some_and(|p| p.contains("more than one `@`")),
        "{x}"
    );
    assert_eq!(rows(&x), [("line 34".to_string(), "invalid".to_string())]);
    assert_eq!(
        x["segment"]["rows"][0]["row"], 34,
        "the row number of a CSV is its file line, as plan and status show it"
    );
    assert!(
        x["segment"]["source"]
            .as_str()
            .is_some_and(|s| s.ends_with("/segments/vip.csv") && !s.contains("..")),
        "{x}"
    );
    assert_eq!(x["segment"]["in_segment"], false);
    assert_eq!(next(&x).0, "nothing");

    let x = explain(&w, "user3@example.com", &[]);
    assert_eq!(
        rows(&x),
        [
            ("line 6".to_string(), "profile".to_string()),
            ("line 35".to_string(), "duplicate".to_string())
        ]
    );
    assert_eq!(x["segment"]["rows"][1]["duplicate_of"], "line 6");
    assert_eq!(
        x["segment"]["fields"][0],
        serde_json::json!(["first_name", "First3"]),
        "the first row wins"
    );

    let x = explain(&w, "nobody@example.com", &[]);
    assert!(rows(&x).is_empty());
    assert_eq!(
        (
            x["segment"]["in_segment"].as_bool(),
            x["state"]["recorded"].as_bool()
        ),
        (Some(false), Some(false))
    );
    assert_eq!(
        (
            x["list"]["checked"].as_bool(),
            x["list"]["contact_id"].as_u64()
        ),
        (Some(true), None)
    );
    assert_eq!(next(&x).0, "nothing");
    assert!(
        next(&x).1.contains("not in the segment and not a member"),
        "{x}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_text_answer_names_rows_and_the_decision_and_one_read_writes_nothing() {
    let w = synced_world().await;
    w.sim.reset_ledger();
    let out = w.acsync(&["explain", "vip", "user3@example.com"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    for want in [
        "user3@example.com in export vip",
        "line 6: in the segment (this row is sent)",
        "line 35: duplicate of line 6: not sent",
        "owned: this export subscribed it",
        "recorded list status: active; the list was last read in full",
        "nothing: it is subscribed and its values equal",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    let l = w.sim.ledger();
    assert_eq!(
        (l.writes, l.by_endpoint.get("GET /contacts").copied()),
        (0, Some(1)),
        "{l:?}"
    );
    assert_eq!(
        l.by_endpoint
            .get("GET /contacts/{id}/contactLists")
            .copied(),
        Some(1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_sends_no_request_and_says_so() {
    let w = synced_world().await;
    w.sim.reset_ledger();
    let x = explain(&w, "optout@example.com", &["--offline"]);
    assert_eq!(w.sim.ledger().total, 0, "{:?}", w.sim.ledger());
    assert_eq!(x["list"]["checked"], false);
    assert_eq!(x["list"]["note"], "not asked (--offline)");
    assert_eq!(
        (next(&x).0, x["next_run"]["basis"].as_str()),
        ("keep", Some("state"))
    );
    let out = w.acsync(&["explain", "vip", "optout@example.com", "--offline"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("not asked (--offline)"), "{text}");
    assert_eq!(w.sim.ledger().total, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_export_suggests_the_closest_and_exits_1() {
    let w = synced_world().await;
    let out = w.acsync(&["explain", "vpi", "user1@example.com"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("vip"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_export_of_the_list_that_wants_it_keeps_it() {
    let w = synced_world().await;
    w.write_csv("zz", &[("user7@example.com", "First7")]);
    w.write_export("zz", "");
    // Blocked: it holds removals back until vip records its segment.
    w.sync("zz").await;
    w.sync_success("vip").await;
    let text = std::fs::read_to_string(w.root().join("segments/vip.csv")).expect("csv");
    let text = text.replace("user7@example.com,First7,Last\n", "");
    std::fs::write(w.root().join("segments/vip.csv"), text).expect("csv");

    let x = explain(&w, "user7@example.com", &[]);
    assert!(rows(&x).is_empty());
    let o = &x["others"];
    assert_eq!(o["siblings"], serde_json::json!(["zz"]));
    assert_eq!(o["wanting"][0]["export"], "zz");
    assert_eq!(
        (
            o["wanting"][0]["same_values"].as_bool(),
            o["wanting"][0]["wins"].as_bool()
        ),
        (None, Some(false)),
        "not in this segment: nothing to compare"
    );
    assert_eq!(next(&x).0, "keep");
    assert!(
        next(&x)
            .1
            .contains("export `zz` of the same list still wants it"),
        "{x}"
    );
    let x = explain(&w, "user8@example.com", &[]);
    assert_eq!(x["others"]["wanting"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_in_an_unfinished_batch_is_in_doubt() {
    let w = World::with(crate::harness::slow_batches(3)).await;
    w.write_people("vip", &World::people(0..30));
    w.write_export("vip", "");
    let mut child = w.spawn_sync_until_a_batch_is_queued("vip");
    child.kill().expect("SIGKILL");
    let _ = child.wait();

    // From the state alone: in doubt until a full read settles it.
    let x = explain(&w, "user1@example.com", &["--offline"]);
    let s = &x["state"];
    assert_eq!(s["pending"], "add", "{x}");
    assert_eq!(s["open_batches"].as_array().map(Vec::len), Some(1), "{x}");
    assert_eq!(s["unfinished_runs"], 1);
    let n = &x["next_run"];
    assert_eq!(
        (n["action"].as_str(), n["full_read_reason"].as_str()),
        (Some("in_doubt"), Some("unsettled")),
        "{x}"
    );
    assert!(
        n["full_read_why"]
            .as_str()
            .is_some_and(|w| w.contains("no known outcome")),
        "{x}"
    );
    // As the run does: the batch is followed to its end, the list read,
    // and the add the batch made settles it.
    let x = explain(&w, "user1@example.com", &[]);
    let n = &x["next_run"];
    assert_eq!(
        (n["action"].as_str(), n["full_read"].as_bool()),
        (Some("nothing"), Some(true)),
        "{x}"
    );
    assert_eq!(n["full_read_reason"], "unsettled", "{x}");
}

/// A host that refuses connections: `explain` answers from the state in
/// seconds (not after a run's minute and a half of retries), exits 1 and
/// suggests `--offline`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_fails_fast_and_suggests_offline() {
    let w = synced_world().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let settings = std::fs::read_to_string(w.root().join("acsync.toml")).expect("settings");
    let moved = settings.replace(&w.sim.base_url(), &format!("http://127.0.0.1:{port}"));
    assert_ne!(moved, settings);
    std::fs::write(w.root().join("acsync.toml"), moved).expect("settings");

    let started = std::time::Instant::now();
    let out = w.acsync(&["explain", "vip", "user1@example.com"]);
    let took = started.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(took < std::time::Duration::from_secs(10), "took {took:?}");
    assert!(
        err.contains("--offline") && err.contains("cannot connect"),
        "{err}"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.trim().is_empty(),
        "the answer from the state is shown"
    );
}
