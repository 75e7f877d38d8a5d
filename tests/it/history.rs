//! run history: each run records its per-contact changes in the
//! state database; `acsync history` answers "when and why" through the real
//! binary; the history is pruned by each run past its retention.

use std::time::Duration;

use crate::harness::World;
use crate::util::lines;

fn text(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_str(&text(out)).expect("one JSON object")
}

/// Three runs: user0..2 added; user1's first name changed; user2 left.
async fn three_runs(w: &World) {
    w.write_export("vip", "max_removals = \"100%\"");
    let mut people = World::people(0..3);
    w.write_people("vip", &people);
    w.sync_success("vip").await;
    people[1].1 = "Renamed".into();
    w.write_people("vip", &people);
    w.sync_success("vip").await;
    w.write_people("vip", &people[..2]);
    w.sync_success("vip").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_after_three_runs_shows_each_change_with_its_run_and_reason() {
    let w = World::new().await;
    three_runs(&w).await;

    let runs = json(&w.acsync(&["history", "vip", "--json"]));
    let runs = runs["runs"].as_array().expect("runs").clone();
    assert_eq!(runs.len(), 3, "{runs:?}");
    let id = |i: usize| runs[i]["run_id"].as_i64().expect("run id");
    let (third, second, first) = (id(0), id(1), id(2));
    assert!(first < second && second < third);
    assert_eq!(runs[2]["counts"], serde_json::json!({ "added": 3 }));
    assert_eq!(runs[1]["counts"], serde_json::json!({ "updated": 1 }));
    assert_eq!(runs[0]["counts"], serde_json::json!({ "unsubscribed": 1 }));

    let out = text(&w.acsync(&["history", "vip"]));
    assert!(out.contains(&format!("run {first}")), "{out}");
    assert!(out.contains("added 3"), "{out}");
    assert!(out.contains("updated 1"), "{out}");
    assert!(out.contains("unsubscribed 1"), "{out}");

    // The update names the field and the value sent, in full.
    let run = text(&w.acsync(&["history", "vip", "--run", &second.to_string()]));
    assert!(
        run.lines().any(|l| l.contains("updated")
            && l.contains("user1@example.com")
            && l.contains("first_name=Renamed")),
        "{run}"
    );

    // One contact: when and why, newest first.
    let out = w.acsync(&["history", "vip", "--email", "User2@Example.com"]);
    let l = lines(&out);
    assert!(l[0].starts_with("user2@example.com in vip"), "{l:?}");
    assert!(
        l[1].contains(&format!("run {third}"))
            && l[1].contains("unsubscribed")
            && l[1].contains("left the segment"),
        "{l:?}"
    );
    assert!(
        l[2].contains(&format!("run {first}"))
            && l[2].contains("added")
            && l[2].contains("first_name=First2"),
        "{l:?}"
    );
    let j = json(&w.acsync(&["history", "vip", "--email", "user1@example.com", "--json"]));
    let entries = j["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 2, "{j}");
    assert_eq!(entries[0]["change"], "updated");
    assert_eq!(entries[0]["run_id"], second);
    assert_eq!(entries[0]["fields"]["first_name"], "Renamed");
    assert_eq!(entries[1]["change"], "added");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_kept_unsubscribed_is_recorded_with_why() {
    let w = World::new().await;
    w.write_export("vip", "");
    let people = World::people(0..2);
    w.write_people("vip", &people);
    w.sync_success("vip").await;
    // user0 opts out; a full read sees it and keeps them out.
    let id = w.sim.contact("user0@example.com").expect("contact").id;
    w.sim
        .set_membership(id, w.list, 2, acsync::simulator::ChangedBy::Contact);
    let r = w
        .sync_with(
            "vip",
            acsync::run::RunOptions {
                full_read: true,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(r.last_run.kept_unsubscribed, 1, "{:?}", r.last_run);
    let j = json(&w.acsync(&["history", "vip", "--email", "user0@example.com", "--json"]));
    assert_eq!(j["entries"][0]["change"], "kept", "{j}");
    assert_eq!(j["entries"][0]["reason"], "kept_unsubscribed", "{j}");
}

/// Retention: a run drops the entries older than `history_retention`
/// (here the daemon's key); an export's own key wins over it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_older_than_the_retention_are_gone_after_the_next_run() {
    let w = World::new().await;
    let settings = std::fs::read_to_string(w.root().join("acsync.toml")).expect("settings");
    let settings = settings.replace("[daemon]\n", "[daemon]\nhistory_retention = \"1s\"\n");
    std::fs::write(w.root().join("acsync.toml"), settings).expect("settings");
    w.write_export("vip", "");
    w.write_export("kept", "history_retention = \"30d\"");
    w.write_people("vip", &World::people(0..2));
    w.write_people("kept", &World::people(0..2));
    w.sync_success("vip").await;
    w.sync_success("kept").await;
    let count = |name: &str| {
        let j = json(&w.acsync(&["history", name, "--json"]));
        j["runs"].as_array().expect("runs").len()
    };
    assert_eq!(count("vip"), 1);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    w.sync_success("vip").await;
    w.sync_success("kept").await;
    assert_eq!(count("vip"), 1, "the first run is past the retention");
    let j = json(&w.acsync(&["history", "vip", "--email", "user0@example.com", "--json"]));
    assert_eq!(j["entries"].as_array().map(Vec::len), Some(0), "{j}");
    assert_eq!(count("kept"), 2, "30d keeps both runs");
}

#[test]
fn history_of_an_unknown_export_fails_with_a_hint() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("exports")).expect("exports");
    std::fs::write(
        dir.path().join("acsync.toml"),
        "[daemon]\nstate_dir = \"state\"\n",
    )
    .expect("settings");
    std::fs::write(dir.path().join("exports/vip.toml"), "").expect("export");
    let out = std::process::Command::new(crate::util::bin())
        .args(["history", "vpi", "--config-dir"])
        .arg(dir.path())
        .env_remove("ACSYNC_CONFIG_DIR")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("vpi"), "{err}");
    // A known export without runs: a plain answer, nothing created.
    let out = std::process::Command::new(crate::util::bin())
        .args(["history", "vip", "--config-dir"])
        .arg(dir.path())
        .env_remove("ACSYNC_CONFIG_DIR")
        .output()
        .expect("run");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("no run recorded yet"));
    assert!(!dir.path().join("state").exists());
}

/// `plan` shows, for the first updates, which fields change from what (the
/// last value sent, from the history) to what; emails masked, values shown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_shows_each_updated_field_from_its_last_sent_value() {
    let w = World::new().await;
    w.write_export("vip", "");
    let mut people = World::people(0..3);
    w.write_people("vip", &people);
    w.sync_success("vip").await;
    people[1].1 = "Renamed".into();
    w.write_people("vip", &people);

    let out = text(&w.acsync(&["plan", "vip"]));
    assert!(
        out.contains("u***@example.com: first_name \"First1\" → \"Renamed\""),
        "{out}"
    );
    assert!(
        !out.contains("user1@example.com"),
        "emails stay masked: {out}"
    );
    assert!(
        !out.contains("last_name"),
        "unchanged fields are not listed: {out}"
    );

    let j = json(&w.acsync(&["plan", "vip", "--json"]));
    let d = &j["update_diffs"][0];
    assert_eq!(d["email"], "u***@example.com", "{j}");
    assert_eq!(
        d["fields"],
        serde_json::json!([{ "field": "first_name", "from": "First1", "known": true,
                             "from_source": "last_sent", "to": "Renamed" }])
    );
    assert_eq!(j["to_update"], 1, "the existing keys stay");

    // A state without history (e.g. written before it existed): "from" is
    // not recorded, and every field sent is shown.
    let db = rusqlite::Connection::open(w.state_dir().join("state.sqlite3")).expect("db");
    db.execute("DELETE FROM history", []).expect("forget");
    let out = text(&w.acsync(&["plan", "vip"]));
    assert!(
        out.contains("first_name (not known) → \"Renamed\"; last_name (not known) → \"Last\""),
        "{out}"
    );
    let j = json(&w.acsync(&["plan", "vip", "--json"]));
    assert_eq!(j["update_diffs"][0]["fields"][0]["known"], false, "{j}");
    assert_eq!(
        j["update_diffs"][0]["fields"][0]["from"],
        serde_json::Value::Null
    );
}

/// A contact ActiveCampaign refused is recorded `failed` with its reason,
/// never `added`: with a few failures (each itemised by the run) and with
/// more than the run itemises (then the member rows tell).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_contacts_are_recorded_failed_with_the_reason() {
    for refused in [1usize, 22] {
        let w = World::new().await;
        let people = World::people(0..30);
        for (email, _) in &people[..refused] {
            w.sim.reject_in_bulk(email);
        }
        w.write_people("vip", &people);
        w.write_export("vip", "");
        let r = w.sync("vip").await;
        assert_eq!(r.last_run.failed, refused as u64, "{:?}", r.last_run);
        let j = json(&w.acsync(&["history", "vip", "--json"]));
        let counts = &j["runs"][0]["counts"];
        assert_eq!(counts["failed"], refused, "{refused}: {j}");
        assert_eq!(counts["added"], 30 - refused, "{refused}: {j}");
        let one = json(&w.acsync(&["history", "vip", "--email", &people[0].0, "--json"]));
        let e = &one["entries"][0];
        assert_eq!(e["change"], "failed", "{one}");
        assert!(
            e["reason"]
                .as_str()
                .is_some_and(|r| r.contains("incorrect format")),
            "{refused}: {one}"
        );
        let last = json(&w.acsync(&["history", "vip", "--email", &people[29].0, "--json"]));
        assert_eq!(last["entries"][0]["change"], "added", "{last}");
    }
}

#[test]
fn a_bad_history_retention_is_a_located_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("exports")).expect("exports");
    std::fs::write(
        dir.path().join("acsync.toml"),
        "[daemon]\nstate_dir = \"state\"\nhistory_retention = \"soon\"\n",
    )
    .expect("settings");
    let out = std::process::Command::new(crate::util::bin())
        .args(["check", "--config-dir"])
        .arg(dir.path())
        .env_remove("ACSYNC_CONFIG_DIR")
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("acsync.toml:3:"), "{text}");
    assert!(text.contains("bad duration `soon`"), "{text}");
}

/// A completed batch's landed changes are recorded with
/// its outcome, not all at the end of the run. Seen from outside: entries
/// appear while `acsync sync` is still sending, and a sync killed with
/// SIGKILL keeps the entries of the batches that completed, each one a
/// contact really on the list; the next run records the rest.
#[test]
fn a_killed_sync_keeps_the_history_of_its_completed_batches() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let cfg = acsync::simulator::SimConfig {
        requests_per_second: 0,
        info_false_for: Duration::from_millis(50),
        import_duration: Duration::from_millis(100),
        ..acsync::simulator::SimConfig::default()
    };
    let w = rt.block_on(World::with(cfg));
    // 20 batches of 250 at 10 requests a second: about 4 s of sending.
    w.write_settings(10);
    let people = World::people(0..5_000);
    w.write_people("vip", &people);
    w.write_export("vip", "");
    let mut child = w.command(&["sync", "vip"]).spawn().expect("spawn");
    let added_while_running = loop {
        let out = w.acsync(&["history", "vip", "--json"]);
        let added = json(&out)["runs"][0]["counts"]["added"]
            .as_u64()
            .unwrap_or(0);
        let running = child.try_wait().expect("try_wait").is_none();
        if added > 0 || !running {
            assert!(running, "no entry recorded before the run ended");
            break added;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    assert!(added_while_running < 5_000, "{added_while_running}");

    let run1 = json(&w.acsync(&["history", "vip", "--run", "1", "--json", "--limit", "10000"]));
    let entries = run1["entries"].as_array().expect("entries");
    assert!(
        !entries.is_empty() && entries.len() < 5_000,
        "{}",
        entries.len()
    );
    let active: std::collections::HashSet<String> = w.active().into_iter().collect();
    for e in entries {
        assert_eq!(e["change"], "added", "{e}");
        let email = e["email"].as_str().expect("email");
        assert!(
            active.contains(email),
            "{email} recorded added but not on the list"
        );
    }

    let out = w.acsync(&["sync", "vip"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let runs = json(&w.acsync(&["history", "vip", "--json"]));
    let later = runs["runs"][0]["counts"]["added"].as_u64().unwrap_or(0);
    assert!(
        later + entries.len() as u64 <= 5_000,
        "the second run re-added recorded contacts: {runs}"
    );
    assert_eq!(w.active().len(), 5_000);
}

/// A membership's provenance names the write that made it
/// (docs/ownership.md): a change that landed with a bulk import records
/// the import's id, shown by `history` (text and JSON) and `explain`; one
/// sent by a single request records none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_by_a_bulk_import_names_the_import() {
    let w = World::new().await;
    w.write_export("vip", "max_removals = \"100%\"");
    let mut people = World::people(0..12);
    w.write_people("vip", &people);
    w.sync_success("vip").await;
    people[0].1 = "Renamed".into();
    w.write_people("vip", &people);
    w.sync_success("vip").await;

    let j = json(&w.acsync(&["history", "vip", "--email", "user0@example.com", "--json"]));
    let entries = j["entries"].as_array().expect("entries");
    assert_eq!(entries[0]["change"], "updated");
    assert!(entries[0]["batch"].is_null(), "one update goes alone: {j}");
    assert_eq!(entries[1]["change"], "added");
    let batch = entries[1]["batch"]
        .as_str()
        .expect("the import's id")
        .to_string();
    assert_eq!(batch.len(), 36, "{batch}");

    let out = text(&w.acsync(&["history", "vip", "--email", "user0@example.com"]));
    assert!(out.contains(&format!("bulk import {batch}")), "{out}");
    let out = text(&w.acsync(&["explain", "vip", "user0@example.com", "--offline"]));
    assert!(out.contains(&format!("bulk import {batch}")), "{out}");
}

/// `history --run N` says when it shows only the first entries of a run,
/// and gives the count when it shows them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_header_counts_what_it_shows_and_says_when_there_is_more() {
    let w = World::new().await;
    w.write_people("vip", &World::people(0..25));
    w.write_export("vip", "");
    w.sync_success("vip").await;

    let cut = text(&w.acsync(&["history", "vip", "--run", "1"]));
    let head = cut.lines().next().unwrap_or_default();
    assert!(head.ends_with(", the first 20 entries, by email"), "{cut}");
    assert!(cut.contains("--limit N shows more"), "{cut}");

    let all = text(&w.acsync(&["history", "vip", "--run", "1", "--limit", "25"]));
    let head = all.lines().next().unwrap_or_default();
    assert!(head.ends_with(", 25 entries, by email"), "{all}");
    assert!(!all.contains("shows more"), "all 25 are shown: {all}");
}
