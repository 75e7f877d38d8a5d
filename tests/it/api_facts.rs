//! Facts about ActiveCampaign that a write depends on, checked on the
//! account or made harmless (docs/verification.md). Each test names the
//! section of docs/activecampaign-api.md the fact comes from.

use acsync::simulator::{ChangedBy, ExcludeAutomationsAt};
use acsync::status::Outcome;

use crate::harness::World;

/// docs/activecampaign-api.md §12, "Collections page by 20": a contact on
/// 25 lists whose opt-out is on the export's list, the 25th of its rows.
/// The single-contact add reads the contact's rows; a read of the first
/// page only would take it for a non-member and set status 1 over the
/// opt-out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opt_out_on_a_contacts_25th_list_is_kept_section_12() {
    let mut w = World::new().await;
    let others: Vec<u64> = (0..24)
        .map(|n| w.sim.add_list(&format!("Other {n}")))
        .collect();
    // The export's list gets the highest id: its row comes last.
    w.list = w.sim.add_list("Export list");
    let mut people = World::people(0..29);
    w.write_people("vip", &people);
    w.write_export("vip", "");
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);

    let id = w.sim.add_contact("busy@example.com", None, None, None);
    for l in others {
        w.sim.set_membership(id, l, 1, ChangedBy::Contact);
    }
    w.sim.set_membership(id, w.list, 2, ChangedBy::Contact);
    people.push(("busy@example.com".into(), "Busy".into()));
    w.write_people("vip", &people);
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.failures);
    assert_eq!(
        (r.last_run.kept_unsubscribed, r.last_run.added),
        (1, 0),
        "the opt-out is kept"
    );
    assert_eq!(w.sim.list_status("busy@example.com", w.list), Some(2));
}

/// docs/activecampaign-api.md §12, "`exclude_automations` placement is
/// ambiguous": whether the account honours it inside each contact (the
/// reference example) or at the top level of the body only, an export with
/// `exclude_automations = true` fires no automation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_automations_fire_none_wherever_honoured_section_12() {
    for at in [
        ExcludeAutomationsAt::EachContact,
        ExcludeAutomationsAt::TopLevel,
    ] {
        let w = World::new().await;
        w.sim.set_exclude_automations_at(at);
        let people = World::people(0..12);
        w.write_people("seg", &people);
        w.write_export("seg", "exclude_automations = true");
        let r = w.sync("seg").await;
        assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
        assert_eq!(r.last_run.added, 12);
        assert_eq!(w.sim.bulk_automations(), (12, 0), "{at:?}: none fires");
    }
}
