//! A busy account (docs/verification.md, "A busy account"): lists that
//! change while they are read, batches whose summary is gone, a list
//! deleted between runs, a shutdown while a batch is followed.

use acsync::status::Outcome;

use crate::harness::World;

/// A list deleted in ActiveCampaign between two runs: the run that would
/// create contacts for it asks for the list first and fails naming it,
/// with nothing created.
#[tokio::test]
async fn a_deleted_list_fails_the_run_before_any_contact_is_created() {
    let w = World::new().await;
    w.write_people("vip", &World::people(0..5));
    w.write_export("vip", "");
    w.sync_success("vip").await;
    assert!(w.sim.delete_list(w.list));
    w.write_people("vip", &World::people(0..10));
    let contacts = w.sim.contact_count();
    w.sim.reset_ledger();

    let r = w.sync("vip").await;

    assert_eq!(r.outcome, Outcome::Failed);
    let error = r.last_run.error.unwrap_or_default();
    let named = format!("list {} (list_id in", w.list);
    assert!(error.contains(&named) && error.contains("`vip`"), "{error}");
    assert_eq!(w.sim.contact_count(), contacts, "no contact created");
    assert_eq!(w.sim.ledger().writes, 0, "nothing written");
}
