//! Acceptance: `acsync explain NAME EMAIL --json` predicts, for every
//! address of a scenario, exactly what the following run records in its
//! history (docs/commands.md, explain). Each scenario asks explain about
//! every address (segment rows, valid or not, and every contact the
//! simulator holds), runs `sync`, and compares each prediction with the
//! run's history entry for the address.

use std::collections::BTreeSet;

use acsync::run::fingerprint::legacy_export_fingerprint;
use acsync::simulator::ChangedBy;
use acsync::state::{ExportMeta, StateDb};
use serde_json::Value;

use crate::harness::World;

/// What explain predicts, in the history's words: the change recorded
/// (`added`, `kept`, …) and, for a contact kept, why; `None` for no entry.
fn predicted(x: &Value) -> Option<(String, Option<String>)> {
    let n = &x["next_run"];
    let kept = n["kept"].as_str().map(str::to_string);
    let change = match n["action"].as_str().unwrap_or_default() {
        "add" => "added",
        "update" => "updated",
        "resubscribe" => "resubscribed",
        "unsubscribe" => "unsubscribed",
        "keep" | "in_doubt" => "kept",
        _ => return None,
    };
    let reason = (change == "kept").then_some(kept).flatten();
    Some((change.to_string(), reason))
}

/// `acsync explain NAME EMAIL --json`, which must answer.
fn explain(w: &World, name: &str, email: &str) -> Value {
    let out = w.acsync(&["explain", name, email, "--json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{email}: {err}");
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

/// Every address a scenario involves: each email of the segment file
/// (invalid ones included) and each contact the simulator knows.
fn addresses(w: &World, name: &str) -> BTreeSet<String> {
    let csv = std::fs::read_to_string(w.root().join(format!("segments/{name}.csv"))).expect("csv");
    let mut all: BTreeSet<String> = csv
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .map(|e| e.trim().to_lowercase())
        .collect();
    all.extend(w.sim.members(w.list).iter().map(|m| m.email.clone()));
    all
}

/// Asks explain about every address, runs the export once, and asserts
/// every prediction equals what the run recorded. A contact kept for the
/// reason of its previous entry is not recorded again (the history's
/// dedup): then its latest entry must be that one.
async fn predictions_hold(w: &World, name: &str) -> Vec<(String, Value)> {
    let asked: Vec<(String, Value)> = addresses(w, name)
        .into_iter()
        .map(|a| {
            let x = explain(w, name, &a);
            (a, x)
        })
        .collect();
    let r = w.sync(name).await;
    let run_id = r.last_run.run_id.expect("the run was journaled");
    let db = StateDb::open(&w.state_dir()).expect("state");
    let entries = db
        .run_history(name, Some(run_id), 1_000_000)
        .expect("history");
    let mut wrong = Vec::new();
    for (email, x) in &asked {
        let recorded = entries
            .iter()
            .find(|e| e.email == *email)
            .map(|e| (e.change.as_str().to_string(), e.reason.clone()));
        let recorded = match recorded {
            Some((change, _)) if change != "kept" => Some((change, None)),
            Some(kept) => Some(kept),
            None => {
                let latest = db.contact_history(name, email, 1).expect("history");
                let kept_before = predicted(x).is_some_and(|(c, _)| c == "kept");
                latest
                    .into_iter()
                    .find(|e| kept_before && e.change.as_str() == "kept" && e.run_id < run_id)
                    .map(|e| ("kept".to_string(), e.reason))
            }
        };
        let want = predicted(x).map(|(c, r)| if c == "kept" { (c, r) } else { (c, None) });
        if want != recorded {
            wrong.push(format!(
                "{email}: explain {want:?} ({}), the run recorded {recorded:?}",
                x["next_run"]
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{name}: {} of {} predictions wrong:\n{}",
        wrong.len(),
        asked.len(),
        wrong.join("\n")
    );
    asked
}

fn action<'a>(asked: &'a [(String, Value)], email: &str) -> &'a str {
    let x = &asked.iter().find(|(a, _)| a == email).expect("asked").1;
    x["next_run"]["action"].as_str().unwrap_or_default()
}

fn kept<'a>(asked: &'a [(String, Value)], email: &str) -> &'a str {
    let x = &asked.iter().find(|(a, _)| a == email).expect("asked").1;
    x["next_run"]["kept"].as_str().unwrap_or_default()
}

fn full_read_reason(asked: &[(String, Value)]) -> String {
    asked[0].1["next_run"]["full_read_reason"]
        .as_str()
        .unwrap_or("none")
        .to_string()
}

/// A segment of `user{i}` for `range`, plus the rows in `extra`.
fn segment(w: &World, range: std::ops::Range<usize>, extra: &[(&str, &str)]) {
    let mut rows: Vec<(String, String)> = World::people(range);
    rows.extend(extra.iter().map(|(e, f)| (e.to_string(), f.to_string())));
    w.write_people("vip", &rows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adds_updates_removals_resubscribes_opt_outs_bounces_and_bad_rows() {
    let w = World::new().await;
    w.write_export("vip", "max_removals = \"100%\"\nfull_read_every = \"7d\"");
    let optout = w
        .sim
        .add_contact("optout@example.com", Some("Opt"), None, None);
    w.sim.set_membership(optout, w.list, 2, ChangedBy::Contact);
    let bounced = w
        .sim
        .add_contact("bounced@example.com", Some("B"), None, None);
    w.sim.set_membership(bounced, w.list, 3, ChangedBy::Admin);
    let manual = w
        .sim
        .add_contact("manual@example.com", Some("M"), None, None);
    w.sim.set_membership(manual, w.list, 1, ChangedBy::Admin);
    let bad = [
        ("optout@example.com", "Opt"),
        ("bounced@example.com", "B"),
        ("bad@@example.com", "Bad"),
        ("User3@Example.com", "Again"),
    ];
    // The first run: adds, opted out and bounced kept, invalid and
    // duplicate rows, a member of the list that is not ours.
    segment(&w, 0..12, &bad);
    let asked = predictions_hold(&w, "vip").await;
    assert_eq!(action(&asked, "user1@example.com"), "add");
    assert_eq!(
        action(&asked, "user3@example.com"),
        "add",
        "a duplicate row"
    );
    assert_eq!(kept(&asked, "optout@example.com"), "kept_unsubscribed");
    assert_eq!(kept(&asked, "bounced@example.com"), "kept_bounced");
    assert_eq!(kept(&asked, "manual@example.com"), "not_owned");
    assert_eq!(kept(&asked, "bad@@example.com"), "not_member");
    assert_eq!(full_read_reason(&asked), "first_run");

    // Updates (one in the segment, one edited in ActiveCampaign, which no
    // read sees before the next full read), own removals, a new opt-out.
    segment(&w, 0..9, &bad);
    let mut csv = std::fs::read_to_string(w.root().join("segments/vip.csv")).expect("csv");
    csv = csv.replace("user2@example.com,First2", "user2@example.com,Second2");
    std::fs::write(w.root().join("segments/vip.csv"), csv).expect("csv");
    w.sim
        .add_contact("user4@example.com", Some("Edited"), None, None);
    let id = w.sim.contact("user5@example.com").expect("user5").id;
    w.sim.set_membership(id, w.list, 2, ChangedBy::Contact);
    let asked = predictions_hold(&w, "vip").await;
    assert_eq!(action(&asked, "user2@example.com"), "update");
    assert_eq!(action(&asked, "user10@example.com"), "unsubscribe");

    // Own resubscribe: user10 re-enters the segment acsync removed it from.
    segment(&w, 0..11, &bad);
    let asked = predictions_hold(&w, "vip").await;
    assert_eq!(action(&asked, "user10@example.com"), "resubscribe");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_chooses_a_full_read_to_save_removal_lookups() {
    let w = World::new().await;
    w.write_export("vip", "max_removals = \"100%\"\nfull_read_every = \"7d\"");
    segment(&w, 0..130, &[]);
    let first = w.sync_success("vip").await;
    assert_eq!(first.last_run.added, 130);
    // One first name edited in ActiveCampaign, 40 members leave.
    w.sim
        .add_contact("user3@example.com", Some("Edited"), None, None);
    segment(&w, 0..90, &[]);
    // `plan` takes the same decision, and says why.
    let out = w.acsync(&["plan", "vip", "--json"]);
    let plan: Value = serde_json::from_slice(&out.stdout).expect("plan --json");
    assert_eq!(
        (
            plan["full_read_reason"].as_str(),
            plan["to_update"].as_u64()
        ),
        (Some("cheaper_than_lookups"), Some(1)),
        "{plan}"
    );
    let asked = predictions_hold(&w, "vip").await;
    assert_eq!(action(&asked, "user3@example.com"), "update");
    assert_eq!(full_read_reason(&asked), "cheaper_than_lookups");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_full_read_and_a_state_database_of_0_2() {
    let w = World::new().await;
    w.write_export("vip", "max_removals = \"100%\"\nfull_read_every = \"7d\"");
    segment(&w, 0..10, &[]);
    w.sync_success("vip").await;
    let export = w.export("vip");
    let set_meta = |fingerprint: Option<String>, days_ago: i64| {
        let mut db = StateDb::open(&w.state_dir()).expect("state");
        let meta = db.export_meta("vip").expect("meta").expect("recorded");
        let at = chrono::Utc::now() - chrono::Duration::days(days_ago);
        let new = ExportMeta {
            fingerprint: fingerprint.unwrap_or(meta.fingerprint),
            last_full_read: Some(at),
            ..meta
        };
        db.set_export_meta("vip", &new).expect("meta written");
    };

    // A state database of 0.2 (the mapping fingerprint in its old form):
    // the mapping is the same, so no full read; an opt-out made since in
    // ActiveCampaign is not seen yet.
    set_meta(Some(legacy_export_fingerprint(&export)), 1);
    let id = w.sim.contact("user1@example.com").expect("user1").id;
    w.sim.set_membership(id, w.list, 2, ChangedBy::Contact);
    w.sim
        .add_contact("user2@example.com", Some("Edited"), None, None);
    let asked = predictions_hold(&w, "vip").await;
    assert_eq!(full_read_reason(&asked), "none");
    assert_eq!(action(&asked, "user1@example.com"), "nothing");

    // full_read_every has passed: the read sees the opt-out and the edit.
    set_meta(None, 8);
    let asked = predictions_hold(&w, "vip").await;
    assert_eq!(full_read_reason(&asked), "full_read_every_elapsed");
    assert_eq!(action(&asked, "user1@example.com"), "keep");
    assert_eq!(action(&asked, "user2@example.com"), "update");
}
