//! Bulk batches: a batch ActiveCampaign rejects as
//! a whole for some of its contacts costs only those contacts; an
//! `/import/info` that cannot answer for a batch is a doubt settled by a
//! read, never a refusal; `exclude_automations` reaches every write.

use acsync::status::Outcome;

use crate::harness::{World, emails};

/// 260 rows, one of which the simulator's bulk import rejects as a whole
/// batch (§4.3: 400, `failureReasons` naming its index, nothing queued):
/// that row fails with ActiveCampaign's reason, the other 259 land in the
/// same run. On the old code all 250 of the batch failed on every run.
#[test]
fn a_rejected_batch_costs_only_the_contacts_it_names() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let w = rt.block_on(World::new());
    let people = World::people(0..260);
    let bad = people[240].0.clone();
    w.sim.reject_in_bulk(&bad);
    w.write_people("seg", &people);
    w.write_export("seg", "");
    let out = w.acsync(&["sync", "seg"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let status = w.status("seg");
    let run = status.last_run.expect("last run");
    println!(
        "rejected batch: added={} failed={} outcome={:?} failures={:?} exit={:?}",
        run.added, run.failed, run.outcome, run.failures, out.status
    );
    assert_eq!((run.added, run.failed), (259, 1), "{stderr}");
    assert_eq!(run.outcome, Some(Outcome::Partial));
    let f = &run.failures[0];
    assert_eq!(f.row, Some(242), "the 241st data row, on line 242");
    assert_ne!(f.email, bad, "masked");
    assert!(f.email.ends_with("@example.com"), "{}", f.email);
    assert!(
        f.reason.contains("Field' email' incorrect format"),
        "{}",
        f.reason
    );
    let mut want = emails(&people);
    want.retain(|e| *e != bad);
    assert_eq!(w.active(), want);
}

/// `/import/info` answers 404 for a batch that did land: its adds are in
/// doubt, the run's read of the list settles them as added and owned; the
/// old code counted all of them refused and lost their ownership.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_info_404_is_a_doubt_settled_by_a_read() {
    let w = World::new().await;
    let people = World::people(0..20);
    w.write_people("seg", &people);
    w.write_export("seg", "max_removals = \"100%\"");
    w.sim.set_info_not_found(true);
    let r = w.sync("seg").await;
    let run = &r.last_run;
    println!(
        "info 404: added={} failed={} outcome={:?} failures={:?}",
        run.added, run.failed, r.outcome, run.failures
    );
    assert_eq!((run.added, run.failed), (20, 0), "{:?}", run.failures);
    assert_eq!(w.active(), emails(&people));
    // Owned: the next run (fault gone) unsubscribes the two who left.
    w.sim.set_info_not_found(false);
    w.write_people("seg", &people[2..]);
    let r = w.sync("seg").await;
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
    assert_eq!(r.last_run.removed, 2);
    assert_eq!(w.active(), emails(&people[2..]));
}

/// `exclude_automations = true`: three adds, an update and a removal (each
/// below the bulk minimum of 10) all go through bulk import with the flag
/// inside every contact; nothing goes through `contact/sync` or
/// `contactLists`, which cannot exclude automations. The old code sent them
/// through those two endpoints, automations running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_automations_reach_every_write() {
    let w = World::new().await;
    let people = World::people(0..3);
    w.write_people("seg", &people);
    w.write_export("seg", "exclude_automations = true\nmax_removals = \"100%\"");
    let r = w.sync("seg").await;
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
    assert_eq!(r.last_run.added, 3);
    // One renamed, one gone.
    let mut next = people[..2].to_vec();
    next[0].1 = "Renamed".into();
    w.write_people("seg", &next);
    let r = w.sync("seg").await;
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
    assert_eq!((r.last_run.updated, r.last_run.removed), (1, 1));
    assert_eq!(w.active(), emails(&next));
    let ledger = w.sim.ledger();
    let (excluded, allowed) = w.sim.bulk_automations();
    println!(
        "exclude_automations: bulk contacts excluded={excluded} allowed={allowed}; endpoints {:?}",
        ledger.by_endpoint
    );
    assert_eq!((excluded, allowed), (5, 0));
    for path in ["POST /contact/sync", "POST /contactLists"] {
        assert_eq!(ledger.by_endpoint.get(path), None, "{path}");
    }
}

/// Without the flag, small changes keep the documented path (below 10:
/// `contact/sync` + `contactLists`) and bulk contacts carry no flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automations_run_by_default() {
    let w = World::new().await;
    let people = World::people(0..12);
    w.write_people("seg", &people);
    w.write_export("seg", "");
    let r = w.sync("seg").await;
    assert_eq!(r.last_run.added, 12);
    w.write_people("seg", &World::people(0..14));
    let r = w.sync("seg").await;
    assert_eq!(r.last_run.added, 2);
    assert_eq!(w.sim.bulk_automations(), (0, 12));
    assert!(
        w.sim
            .ledger()
            .by_endpoint
            .contains_key("POST /contact/sync")
    );
}
