//! `acsync sync` killed with SIGKILL at several instants of a run with adds,
//! updates and unsubscribes; each re-run converges the list to the segment
//! with no duplicate contact, and ownership survives every kill (see docs/run-rules.md, crash safety).

use std::time::Duration;

use acsync::simulator::SimConfig;
use acsync::state::StateDb;

use crate::harness::{World, emails, slow_batches};

fn segment(round: usize) -> Vec<(String, String)> {
    // Each round: 15 leave (< 10% of ~600), 15 join, 30 renamed.
    let mut people = World::people(round * 15..600 + round * 15);
    for (i, p) in people.iter_mut().enumerate().take(60).skip(30) {
        p.1 = format!("Round{round}-{i}");
    }
    people
}

fn assert_consistent(w: &World) {
    let db = StateDb::open(&w.state_dir()).expect("state opens after a kill");
    db.integrity_check().expect("state database intact");
    let path = w.exports().join("vip.status.json");
    if let Ok(bytes) = std::fs::read(&path) {
        serde_json::from_slice::<serde_json::Value>(&bytes).expect("status file is whole JSON");
    }
}

/// Runs `acsync sync vip` to its end; panics unless it exits 0.
fn sync_ok(w: &World, what: &str) {
    let out = w.acsync(&["sync", "vip"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn sync_killed_at_several_points_converges_with_ownership_intact() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let cfg = SimConfig {
        requests_per_second: 0,
        info_false_for: Duration::from_millis(150),
        import_duration: Duration::from_millis(150),
        ..SimConfig::default()
    };
    let w = rt.block_on(World::with(cfg));
    w.write_export("vip", "max_removals = \"10%\"");
    for (round, delay_ms) in [30u64, 120, 300, 700, 1200, 2000].into_iter().enumerate() {
        let people = segment(round);
        w.write_people("vip", &people);
        let mut child = w.command(&["sync", "vip"]).spawn().expect("spawn");
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        assert_consistent(&w);

        sync_ok(&w, &format!("round {round}"));
        assert_eq!(
            w.active(),
            emails(&people),
            "round {round}: list equals segment"
        );
        assert!(
            w.sim.duplicate_emails().is_empty(),
            "round {round}: no duplicate contact"
        );
        let renamed = w.sim.contact(&people[30].0).map(|c| c.first_name);
        assert_eq!(
            renamed,
            Some(people[30].1.clone()),
            "round {round}: updates landed"
        );
    }
    // Ownership intact: every contact the export subscribed is unsubscribed
    // under prune = "owned" when it leaves.
    let last = segment(5);
    let smaller = &last[..last.len() - 50];
    w.write_people("vip", smaller);
    sync_ok(&w, "shrink");
    assert_eq!(w.active(), emails(smaller));
}

/// Killed right after ActiveCampaign accepted a resubmitted batch (the
/// first submission ended `failed`; the answer to the second is held back):
/// the journal already knows a batch is on its way, so the next run follows
/// it to its end before it reads the list, records the contacts it added as
/// owned, and unsubscribes the ones that left the segment meanwhile.
#[test]
fn sync_killed_once_a_resubmitted_batch_is_accepted_follows_it_next_run() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let w = rt.block_on(World::with(slow_batches(2)));
    w.write_export("vip", "max_removals = \"100%\"");
    let people = World::people(0..30);
    w.write_people("vip", &people);
    w.sim.fail_next_batches(1);
    w.sim.hold_bulk_answer(2, Duration::from_secs(60));
    let mut child = w.command(&["sync", "vip"]).spawn().expect("spawn");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while w.sim.ledger().batches_submitted < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the failed batch was never resubmitted"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // The resubmitted batch is queued; its answer has not reached acsync.
    std::thread::sleep(Duration::from_millis(200));
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    assert_consistent(&w);
    let scope = acsync::state::scope_of(&w.export("vip"));
    let journaled = StateDb::open(&w.state_dir())
        .expect("state")
        .open_batches(&scope)
        .expect("journal");
    assert!(
        !journaled.is_empty(),
        "the journal knows the resubmitted batch before it is sent"
    );

    // Five of its contacts leave before the next run.
    let stay = &people[5..];
    w.write_people("vip", stay);
    sync_ok(&w, "the run after the kill");
    assert_eq!(w.active(), emails(stay), "the list equals the segment");
    assert!(w.sim.duplicate_emails().is_empty(), "no duplicate contact");
    let db = StateDb::open(&w.state_dir()).expect("state");
    assert!(db.open_batches(&scope).expect("journal").is_empty());
    let members = db.load_members(&scope).expect("members");
    let unowned: Vec<&String> = stay
        .iter()
        .map(|(e, _)| e)
        .filter(|e| !members.get(e.as_str()).is_some_and(|m| m.owned))
        .collect();
    assert!(unowned.is_empty(), "not recorded as owned: {unowned:?}");
}
