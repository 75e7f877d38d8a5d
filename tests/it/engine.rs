//! The reconcile engine against the simulator: one test per rule of docs/run-rules.md
//! (the acceptance list of that work). In-process runs use `Runner`; the status
//! file and kill tests use the real binary.

use acsync::run::RunOptions;
use acsync::simulator::ChangedBy;
use acsync::status::Outcome;

use crate::harness::{World, emails};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_sync_adds_everyone_second_sync_sends_nothing() {
    let w = World::new().await;
    let people = World::people(0..30);
    w.write_people("vip", &people);
    w.write_export("vip", "");
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
    assert_eq!((r.last_run.added, r.last_run.profiles), (30, 30));
    assert_eq!(w.active(), emails(&people));
    assert_eq!(
        w.sim.contact("user7@example.com").map(|c| c.first_name),
        Some("First7".into())
    );

    w.sim.reset_ledger();
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Success);
    assert_eq!(
        (r.last_run.added, r.last_run.updated, r.last_run.unchanged),
        (0, 0, 30)
    );
    let ledger = w.sim.ledger();
    // Between full reads the local state is the record: no write, no read.
    assert_eq!(
        (ledger.writes, ledger.total),
        (0, 0),
        "{:?}",
        ledger.by_endpoint
    );
    assert_eq!(r.last_run.api_requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_case_and_duplicate_emails_become_one_contact() {
    let w = World::new().await;
    w.write_csv(
        "vip",
        &[
            ("Jane@Example.COM", "Jane"),
            ("  jane@example.com ", "Dup"),
            ("BOB@example.com", "Bob"),
        ],
    );
    w.write_export("vip", "");
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
    let l = &r.last_run;
    assert_eq!(
        (l.source_rows, l.profiles, l.duplicate_rows, l.added),
        (3, 2, 1, 2)
    );
    assert_eq!(w.active(), ["bob@example.com", "jane@example.com"]);
    assert_eq!(w.sim.contact_count(), 2);
    assert!(w.sim.duplicate_emails().is_empty());
    // First row wins.
    assert_eq!(
        w.sim.contact("jane@example.com").map(|c| c.first_name),
        Some("Jane".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_emails_are_counted_reported_and_not_sent() {
    let w = World::new().await;
    w.write_csv(
        "vip",
        &[
            ("ok@example.com", "A"),
            ("not-an-email", "B"),
            ("", "C"),
            ("two@@example.com", "D"),
        ],
    );
    w.write_export("vip", "");
    let r = w.sync("vip").await;
    // Invalid rows do not make a run partial (docs/status-file.md).
    assert_eq!(r.outcome, Outcome::Success);
    assert_eq!((r.last_run.invalid_rows, r.last_run.profiles), (3, 1));
    assert_eq!(w.sim.contact_count(), 1);
    let status = w.status_json("vip");
    let failures = status["last_run"]["failures"].as_array().expect("failures");
    let rows: Vec<u64> = failures.iter().filter_map(|f| f["row"].as_u64()).collect();
    assert_eq!(rows, [3, 4, 5], "file lines, the header is line 1");
    assert_eq!(failures[0]["email"], "n***");
    assert!(
        !status.to_string().contains("not-an-email"),
        "emails in the status file are masked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_first_names_become_updates_and_only_those() {
    let w = World::new().await;
    let mut people = World::people(0..30);
    w.write_people("vip", &people);
    w.write_export("vip", "");
    w.sync("vip").await;
    for i in [3, 9, 21] {
        people[i].1 = format!("Renamed{i}");
    }
    w.write_people("vip", &people);
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Success);
    assert_eq!(
        (r.last_run.updated, r.last_run.unchanged, r.last_run.added),
        (3, 27, 0)
    );
    assert_eq!(
        w.sim.contact("user9@example.com").map(|c| c.first_name),
        Some("Renamed9".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_member_survives_owned_and_leaves_under_all() {
    let w = World::new().await;
    let manual = w
        .sim
        .add_contact("manual@example.com", Some("Man"), None, None);
    w.sim.set_membership(manual, w.list, 1, ChangedBy::Admin);
    w.write_people("vip", &World::people(0..30));
    w.write_export("vip", "prune = \"owned\"");
    let r = w.sync("vip").await;
    assert_eq!((r.outcome, r.last_run.removed), (Outcome::Success, 0));
    assert!(w.active().contains(&"manual@example.com".to_string()));

    w.write_export("vip", "prune = \"all\"");
    let r = w.sync("vip").await;
    assert_eq!(
        (r.outcome, r.last_run.removed),
        (Outcome::Success, 1),
        "{:?}",
        r.last_run.error
    );
    assert!(!w.active().contains(&"manual@example.com".to_string()));
    let m = w
        .sim
        .members(w.list)
        .into_iter()
        .find(|m| m.email == "manual@example.com");
    assert_eq!(
        m.map(|m| m.status),
        Some(2),
        "leaving is status 2; contacts are never deleted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_unsubscribed_contact_is_never_resubscribed() {
    let w = World::new().await;
    let id = w.sim.add_contact("optout@example.com", None, None, None);
    w.sim.set_membership(id, w.list, 2, ChangedBy::Contact);
    let mut people = World::people(0..29);
    people.push(("optout@example.com".into(), "Opt".into()));
    w.write_people("vip", &people);
    w.write_export("vip", "");
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Success);
    assert_eq!((r.last_run.kept_unsubscribed, r.last_run.added), (1, 29));
    assert!(!w.active().contains(&"optout@example.com".to_string()));

    // Between full reads too: a newcomer who had opted out is kept, not failed.
    let late = w.sim.add_contact("late@example.com", None, None, None);
    w.sim.set_membership(late, w.list, 2, ChangedBy::Contact);
    people.push(("late@example.com".into(), "Late".into()));
    w.write_people("vip", &people);
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.failures);
    assert_eq!((r.last_run.kept_unsubscribed, r.last_run.failed), (2, 0));
    assert!(!w.active().contains(&"late@example.com".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_we_unsubscribed_is_resubscribed_when_it_returns() {
    let w = World::new().await;
    let people = World::people(0..30);
    w.write_people("vip", &people);
    w.write_export("vip", "");
    w.sync("vip").await;
    w.write_people("vip", &people[2..]);
    let r = w.sync("vip").await;
    assert_eq!((r.outcome, r.last_run.removed), (Outcome::Success, 2));
    assert!(!w.active().contains(&"user0@example.com".to_string()));
    w.write_people("vip", &people);
    let r = w.sync("vip").await;
    assert_eq!(
        (r.outcome, r.last_run.added, r.last_run.kept_unsubscribed),
        (Outcome::Success, 2, 0)
    );
    assert_eq!(w.active(), emails(&people));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_the_list_leaving_is_blocked_until_allowed() {
    let w = World::new().await;
    let people = World::people(0..30);
    w.write_people("vip", &people);
    w.write_export("vip", "");
    w.sync("vip").await;
    let mut shrunk = people[..15].to_vec();
    shrunk.push(("newcomer@example.com".into(), "New".into()));
    w.write_people("vip", &shrunk);
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Blocked);
    assert_eq!(
        (r.last_run.removed, r.last_run.added),
        (0, 1),
        "adds still applied"
    );
    assert_eq!(w.active().len(), 31);
    let reason = r.blocked.expect("reason");
    assert!(reason.contains("15") && reason.contains("10%"), "{reason}");
    assert_eq!(w.status_json("vip")["last_run"]["outcome"], "blocked");

    let r = w
        .sync_with(
            "vip",
            RunOptions {
                allow_removals: true,
                ..RunOptions::default()
            },
        )
        .await;
    assert_eq!((r.outcome, r.last_run.removed), (Outcome::Success, 15));
    assert_eq!(w.active(), emails(&shrunk));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_segment_fails_and_unsubscribes_nobody() {
    let w = World::new().await;
    w.write_people("vip", &World::people(0..12));
    w.write_export("vip", "");
    w.sync("vip").await;
    w.write_csv("vip", &[]);
    w.sim.reset_ledger();
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Failed);
    assert!(
        r.last_run.error.as_deref().unwrap_or("").contains("empty"),
        "{:?}",
        r.last_run.error
    );
    assert_eq!(w.active().len(), 12);
    assert_eq!(w.sim.ledger().writes, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_source_fails_and_touches_nothing() {
    let w = World::new().await;
    w.write_people("vip", &World::people(0..12));
    w.write_export("vip", "");
    w.sync("vip").await;
    std::fs::remove_file(w.root().join("segments/vip.csv")).expect("rm");
    w.sim.reset_ledger();
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Failed);
    let err = r.last_run.error.unwrap_or_default();
    assert!(err.contains("vip.csv"), "the error names the file: {err}");
    assert_eq!(w.sim.ledger().total, 0, "not even a read");
    assert_eq!(w.active().len(), 12);
    assert_eq!(w.status("vip").consecutive_failures, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_sends_no_write_and_changes_no_file() {
    let w = World::new().await;
    let people = World::people(0..30);
    w.write_people("vip", &people);
    w.write_export("vip", "");
    w.sync("vip").await;
    let status_before = std::fs::read(w.exports().join("vip.status.json")).expect("status");
    let mut changed = people[1..].to_vec();
    changed[0].1 = "Changed".into();
    changed.push(("new@example.com".into(), "New".into()));
    w.write_people("vip", &changed);
    w.sim.reset_ledger();

    let out = w.acsync(&["plan", "vip", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        (
            plan["to_add"].as_u64(),
            plan["to_update"].as_u64(),
            plan["to_remove"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(plan["to_resubscribe"], 0);
    assert_eq!(plan["kept_unsubscribed"], 0);
    assert!(plan["blocked"].is_null());
    assert_eq!(w.sim.ledger().writes, 0);
    assert_eq!(
        std::fs::read(w.exports().join("vip.status.json")).expect("status"),
        status_before
    );
    // The local state is untouched too: the run still finds all three changes.
    let r = w.sync("vip").await;
    assert_eq!(
        (r.last_run.added, r.last_run.updated, r.last_run.removed),
        (1, 1, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_contacts_are_reported_and_retried_next_run() {
    let w = World::new().await;
    w.sim.exclude_email("excluded@example.com");
    let mut people = World::people(0..29);
    people.push(("excluded@example.com".into(), "Ex".into()));
    w.write_people("vip", &people);
    w.write_export("vip", "");
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Partial);
    assert_eq!((r.last_run.added, r.last_run.failed), (29, 1));
    let status = w.status_json("vip");
    assert_eq!(status["last_run"]["outcome"], "partial");
    assert_eq!(
        status["last_run"]["failures"][0]["email"],
        "e***@example.com"
    );
    assert!(
        status["last_run"]["failures"][0]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("refused")
    );

    w.sim.reset_ledger();
    let r = w.sync("vip").await;
    assert_eq!(
        r.last_run.added + r.last_run.failed,
        1,
        "the refused contact is tried again"
    );
    assert!(w.sim.ledger().writes > 0);
}

#[test]
fn status_file_fields_after_a_real_sync() {
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let w = rt.block_on(World::new());
    w.write_people("vip", &World::people(0..12));
    w.write_csv(
        "vip",
        &[
            ("a@example.com", "A"),
            ("bad", "B"),
            ("A@example.com", "Dup"),
        ],
    );
    w.write_export("vip", "");
    let out = w.acsync(&["sync", "vip"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = w.status_json("vip");
    let file = std::fs::read(w.exports().join("vip.toml")).expect("export");
    assert_eq!(s["export"], "vip");
    assert_eq!(s["config_file"], "vip.toml");
    assert_eq!(
        s["config_sha256"],
        acsync::config::validate::sha256_hex(&file)
    );
    assert_eq!(s["state"], "idle");
    assert!(s["config_error"].is_null());
    assert_eq!(s["schedule"], "@hourly");
    assert!(
        s["next_run"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z') || t.contains("+00:00"))
    );
    let l = &s["last_run"];
    assert_eq!(l["trigger"], "manual");
    assert_eq!(l["outcome"], "success");
    assert!(l["error"].is_null());
    for (k, v) in [
        ("source_rows", 3),
        ("profiles", 1),
        ("invalid_rows", 1),
        ("duplicate_rows", 1),
        ("added", 1),
        ("updated", 0),
        ("removed", 0),
        ("unchanged", 0),
        ("kept_unsubscribed", 0),
        ("failed", 0),
    ] {
        assert_eq!(l[k], v, "last_run.{k}");
    }
    assert!(l["api_requests"].as_u64().is_some_and(|n| n > 0));
    assert!(
        l["duration_ms"].is_u64() && l["started_at"].is_string() && l["finished_at"].is_string()
    );
    assert_eq!(l["failures"].as_array().map(Vec::len), Some(2));
    assert!(s["last_success_at"].is_string());
    assert_eq!(s["consecutive_failures"], 0);
    assert_eq!(s["acsync_version"], env!("CARGO_PKG_VERSION"));
    assert!(s["updated_at"].is_string());
    assert!(!s.to_string().contains("sim-key"), "never a secret");

    std::fs::remove_file(w.root().join("segments/vip.csv")).expect("rm");
    let out = w.acsync(&["sync", "vip"]);
    assert_eq!(out.status.code(), Some(1));
    let s = w.status_json("vip");
    assert_eq!(
        (
            s["last_run"]["outcome"].as_str(),
            s["consecutive_failures"].as_u64()
        ),
        (Some("failed"), Some(1))
    );
    assert!(
        s["last_success_at"].is_string(),
        "the last success is remembered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_fields_by_tag_or_id_and_tags_go_with_adds_and_updates_only() {
    let w = World::new().await;
    let company = w.sim.add_field("COMPANY", "Company");
    let tier = w.sim.add_field("TIER", "Tier");
    let mut csv = String::from("email,first_name,last_name,company,tier\n");
    for i in 0..12 {
        csv.push_str(&format!("user{i}@example.com,F{i},L,Acme{i},gold\n"));
    }
    std::fs::write(w.root().join("segments/vip.csv"), &csv).expect("csv");
    w.write_export("vip", "tags = [\"vip\", \"2026\"]");
    let path = w.exports().join("vip.toml");
    let text = std::fs::read_to_string(&path).expect("export");
    std::fs::write(
        &path,
        format!("{text}\n[mapping.fields]\nCOMPANY = \"company\"\n{tier} = \"tier\"\n"),
    )
    .expect("fields");

    let r = w.sync("vip").await;
    assert_eq!(
        (r.outcome, r.last_run.added),
        (Outcome::Success, 12),
        "{:?}",
        r.last_run.error
    );
    let c = w.sim.contact("user3@example.com").expect("contact");
    assert_eq!(
        c.fields.get(&company).map(String::as_str),
        Some("Acme3"),
        "by personalization tag"
    );
    assert_eq!(
        c.fields.get(&tier).map(String::as_str),
        Some("gold"),
        "by numeric field id"
    );
    assert_eq!(c.tags, ["vip", "2026"]);

    // A changed custom field is an update; the unchanged rest cost nothing.
    std::fs::write(
        w.root().join("segments/vip.csv"),
        csv.replace("Acme3", "Globex"),
    )
    .expect("csv");
    w.sim.reset_ledger();
    let r = w.sync("vip").await;
    assert_eq!((r.last_run.updated, r.last_run.unchanged), (1, 11));
    assert_eq!(
        w.sim
            .contact("user3@example.com")
            .and_then(|c| c.fields.get(&company).cloned()),
        Some("Globex".into())
    );
    assert!(
        w.sim.ledger().writes <= 2,
        "{:?}",
        w.sim.ledger().by_endpoint
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_custom_field_fails_the_run_before_any_write() {
    let w = World::new().await;
    w.write_people("vip", &World::people(0..12));
    w.write_export("vip", "");
    let path = w.exports().join("vip.toml");
    let text = std::fs::read_to_string(&path).expect("export");
    std::fs::write(
        &path,
        format!("{text}\n[mapping.fields]\nNOSUCH = \"first_name\"\n"),
    )
    .expect("fields");
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Failed);
    assert!(r.last_run.error.unwrap_or_default().contains("NOSUCH"));
    assert_eq!(w.sim.ledger().writes, 0);
}
