//! `acsync plan` shows, for up to 10 updates, which fields change from what
//! to what: emails masked, values shown; the old value is known
//! after a full read, `?` otherwise.

use crate::harness::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_shows_field_changes_from_what_to_what() {
    let w = World::new().await;
    let mut people = World::people(0..3);
    w.write_people("vip", &people);
    w.write_export("vip", "");
    w.sync_success("vip").await;
    // Renamed in the segment; edited by hand in ActiveCampaign (drift).
    people[0].1 = "Renamed".into();
    w.write_people("vip", &people);
    w.sim
        .add_contact("user1@example.com", Some("Edited"), None, None);

    let out = w.acsync(&["plan", "vip", "--full-read"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("    u***@example.com: first_name \"First0\" → \"Renamed\"\n"),
        "{text}"
    );
    assert!(
        text.contains("    u***@example.com: first_name \"Edited\" → \"First1\"\n"),
        "{text}"
    );
    assert!(!text.contains("user0@example.com"), "{text}");

    // Without a full read the old value is the one last sent (run history).
    let out = w.acsync(&["plan", "vip", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["to_update"], 1, "{v:#}");
    let d = &v["update_diffs"][0];
    assert_eq!(d["email"], "u***@example.com");
    assert_eq!(d["fields"][0]["field"], "first_name");
    assert_eq!(d["fields"][0]["to"], "Renamed");
    assert_eq!(d["fields"][0]["known"], true);
    assert_eq!(d["fields"][0]["from"], "First0");
    assert_eq!(d["fields"][0]["from_source"], "last_sent");

    // Without history either, only the segment's side is known.
    let db = rusqlite::Connection::open(w.state_dir().join("state.sqlite3")).expect("db");
    db.execute("DELETE FROM history", []).expect("forget");
    let out = w.acsync(&["plan", "vip", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let d = &v["update_diffs"][0];
    assert_eq!(d["fields"][0]["known"], false);
    assert!(d["fields"][0]["from"].is_null());
}

/// A contact edited in ActiveCampaign between runs (drift): the diff-based
/// run cannot see it (the segment did not change), `--full-read` finds and
/// repairs it, for `plan` and for `sync`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_read_finds_a_drift_the_diff_based_run_does_not() {
    let w = World::new().await;
    let people = World::people(0..3);
    w.write_people("vip", &people);
    w.write_export("vip", "");
    w.sync_success("vip").await;
    w.sim
        .add_contact("user2@example.com", Some("Edited"), None, None);

    let plan = |args: &[&str]| -> serde_json::Value {
        let out = w.acsync(args);
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).expect("json")
    };
    let v = plan(&["plan", "vip", "--json"]);
    assert_eq!(
        (v["to_update"].as_u64(), v["full_read"].as_bool()),
        (Some(0), Some(false)),
        "{v:#}"
    );
    let v = plan(&["plan", "vip", "--json", "--full-read"]);
    assert_eq!(
        (v["to_update"].as_u64(), v["full_read"].as_bool()),
        (Some(1), Some(true)),
        "{v:#}"
    );

    let out = w.acsync(&["sync", "vip"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(w.status("vip").last_run.expect("run").updated, 0);
    let first = |w: &World| {
        w.sim
            .contact("user2@example.com")
            .expect("contact")
            .first_name
    };
    assert_eq!(first(&w), "Edited", "the diff-based run leaves the drift");

    let out = w.acsync(&["sync", "vip", "--full-read"]);
    assert!(out.status.success(), "{out:?}");
    let run = w.status("vip").last_run.expect("run");
    assert_eq!((run.updated, run.full_read), (1, true));
    assert_eq!(first(&w), "First2", "the full read repairs it");
}

/// A tag added to an export reaches only the contacts a run writes: `plan`
/// says so, with how many members it leaves with the tags they have.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_says_tags_reach_written_contacts_only() {
    let w = World::new().await;
    let mut people = World::people(0..3);
    w.write_people("vip", &people);
    w.write_export("vip", "");
    w.sync_success("vip").await;
    w.write_export("vip", "tags = [\"vip\"]");
    people[0].1 = "Renamed".into();
    w.write_people("vip", &people);

    let out = w.acsync(&["plan", "vip"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("  tags vip reach only the contacts a run adds, updates or resubscribes (1 in this run): the 2 unchanged members keep the tags they have\n"),
        "{text}"
    );
}
