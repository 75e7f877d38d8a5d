//! Facts about ActiveCampaign that a write depends on, checked on the
//! account or made harmless (docs/verification.md). Each test names the
//! section of docs/activecampaign-api.md the fact comes from.

use acsync::simulator::{ChangedBy, ExcludeAutomationsAt, FailureIndexBase, SimConfig};
use acsync::status::Outcome;

use crate::harness::{World, emails, fast_sim};

fn full_read() -> acsync::run::RunOptions {
    acsync::run::RunOptions {
        full_read: true,
        ..acsync::run::RunOptions::default()
    }
}

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

/// docs/activecampaign-api.md §4.3 and §12, "`failureReasons[].contact`
/// index base is undocumented": ActiveCampaign's own example body (contact
/// 230, "incorrect format") answered once to a batch of 15 valid contacts
/// names none of them; the batch is split and sent again, and all 15 land.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_rejection_of_valid_contacts_lands_them_all_section_12() {
    let w = World::new().await;
    w.sim.answer_documented_rejection(1);
    let people = World::people(0..15);
    w.write_people("vip", &people);
    w.write_export("vip", "");
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.failures);
    assert_eq!((r.last_run.added, r.last_run.failed), (15, 0));
    assert_eq!(w.active(), emails(&people));
}

/// docs/activecampaign-api.md §12, "`failureReasons[].contact` index base
/// is undocumented": one contact ActiveCampaign really refuses (its address
/// passes acsync's own rule, so the index cannot be checked), named
/// 0-based and then 1-based: it alone fails, every other contact lands,
/// within about 2·log2(batch) extra requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_refused_contact_fails_alone_whatever_the_index_base_section_12() {
    for base in [FailureIndexBase::Zero, FailureIndexBase::One] {
        let w = World::new().await;
        w.sim.set_failure_index_base(base);
        w.sim.reject_in_bulk("user6@example.com");
        let people = World::people(0..15);
        w.write_people("vip", &people);
        w.write_export("vip", "");
        let r = w.sync("vip").await;
        assert_eq!(
            (r.last_run.added, r.last_run.failed),
            (14, 1),
            "{base:?}: {:?}",
            r.last_run.failures
        );
        let mut others = people.clone();
        others.remove(6);
        assert_eq!(w.active(), emails(&others), "{base:?}");
        let requests = w
            .sim
            .ledger()
            .by_endpoint
            .get("POST /import/bulk_import")
            .copied()
            .unwrap_or(0);
        assert!(requests <= 1 + 2 * 4, "{base:?}: {requests} bulk requests");
    }
}

/// docs/activecampaign-api.md §12, "Times are in the account's zone": an
/// account 6 h behind UTC whose rows answer `udate` without a zone (local
/// wall-clock time) beside a zoned `sdate`. acsync's own unsubscribe is
/// still recognised when the member re-enters (resubscribed); an admin's
/// unsubscribe 3 h or 6 h later is not taken for acsync's (kept). Read as
/// UTC, acsync's own would look 6 h old and the later one at 6 h would
/// fall inside acsync's window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zoneless_times_are_read_in_the_account_zone_section_12() {
    let w = World::with(SimConfig {
        time_zone: chrono_tz::Etc::GMTPlus6,
        ..fast_sim()
    })
    .await;
    w.sim.set_zoneless_row_udate(true);
    w.write_export("vip", "max_removals = \"100%\"");
    let people = World::people(0..20);
    w.write_people("vip", &people);
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
    w.write_people("vip", &people[3..]);
    let r = w.sync("vip").await;
    assert_eq!(r.last_run.removed, 3, "{:?}", r.last_run.error);

    let now = chrono::Utc::now().timestamp();
    for (person, hours_later) in [(&people[1].0, 3), (&people[2].0, 6)] {
        let id = w.sim.contact(person).map(|c| c.id).expect("contact");
        w.sim.set_membership(id, w.list, 1, ChangedBy::Admin);
        w.sim.set_membership(id, w.list, 2, ChangedBy::Admin);
        assert!(
            w.sim
                .set_membership_udate(person, w.list, now + hours_later * 3600)
        );
    }
    w.write_people("vip", &people);
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
    assert_eq!(
        (r.last_run.added, r.last_run.kept_unsubscribed),
        (1, 2),
        "ours resubscribed, the admin's kept"
    );
    assert_eq!(w.sim.list_status(&people[0].0, w.list), Some(1));
    assert_eq!(w.sim.list_status(&people[1].0, w.list), Some(2));
    assert_eq!(w.sim.list_status(&people[2].0, w.list), Some(2));
}

/// `n` people synced to the list, then read in full so that acsync knows
/// every contact id: the next run checks removals by `ids[]` and reads no
/// list (`max_removals = "100%"`).
async fn synced_with_contact_ids(n: usize) -> (World, Vec<(String, String)>) {
    let w = World::new().await;
    let people = World::people(0..n);
    w.write_people("vip", &people);
    w.write_export("vip", "max_removals = \"100%\"\nfull_read_every = \"0\"");
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
    let r = w.sync("vip").await;
    assert!(r.last_run.full_read, "learns the contact ids");
    w.write_export("vip", "max_removals = \"100%\"");
    (w, people)
}

/// docs/activecampaign-api.md §12, "`include=contactLists` side-loads
/// membership rows": the read right before unsubscribing asks by `ids[]`
/// which planned removals are still active on the list. On an account that
/// ignores `listid`+`status` when `ids[]` is present (undocumented either
/// way) every asked contact comes back; acsync trusts only each contact's
/// own side-loaded row. Bounced, unconfirmed, opted-out and removed (91)
/// members are not unsubscribed, on the single path (5 removals) and the
/// bulk path (14); only those really active are, and no row is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_removal_check_trusts_only_each_contacts_own_row_section_12() {
    for (not_active, active) in [(4usize, 1usize), (12, 2)] {
        let (w, people) = synced_with_contact_ids(40).await;

        let statuses = [
            (3, ChangedBy::Admin),
            (0, ChangedBy::Admin),
            (2, ChangedBy::Contact),
            (91, ChangedBy::Admin),
        ];
        for i in 0..not_active {
            let (status, by) = statuses[i % statuses.len()];
            let id = w.sim.contact(&people[i].0).map(|c| c.id).expect("contact");
            w.sim.set_membership(id, w.list, status, by);
        }
        let before = w.sim.members(w.list);
        w.sim.set_ids_ignore_list_filter(true);
        let gone = not_active + active;
        w.write_people("vip", &people[gone..]);
        let r = w.sync("vip").await;
        assert!(!r.last_run.full_read, "{not_active}: checked by ids[]");
        assert_eq!(
            (r.last_run.removed, r.last_run.not_active),
            (active as u64, not_active as u64),
            "{not_active}: {:?}",
            r.last_run.error
        );
        let after = w.sim.members(w.list);
        assert_eq!(after.len(), before.len(), "{not_active}: no row created");
        for i in 0..not_active {
            let (status, _) = statuses[i % statuses.len()];
            assert_eq!(
                w.sim.list_status(&people[i].0, w.list),
                Some(status),
                "{not_active}: {i} untouched"
            );
        }
        for (person, _) in &people[not_active..gone] {
            assert_eq!(w.sim.list_status(person, w.list), Some(2));
        }
    }
}

/// docs/activecampaign-api.md §12, "`udate` of a membership row": a member
/// acsync subscribed opted out and signed up again through a form after
/// acsync's last write. The row is active again, but its `udate` is later
/// than acsync's write: someone else's doing. When the member leaves the
/// segment it is not unsubscribed, and acsync no longer owns it (the next
/// run plans no removal).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_changed_after_our_last_write_is_not_unsubscribed_section_12() {
    let (w, people) = synced_with_contact_ids(20).await;

    let (email, _) = &people[0];
    let id = w.sim.contact(email).map(|c| c.id).expect("contact");
    w.sim.set_membership(id, w.list, 2, ChangedBy::Contact);
    w.sim.set_membership(id, w.list, 1, ChangedBy::Contact);
    let later = chrono::Utc::now().timestamp() + 3600;
    assert!(w.sim.set_membership_udate(email, w.list, later));

    w.write_people("vip", &people[1..]);
    let r = w.sync("vip").await;
    assert!(!r.last_run.full_read);
    assert_eq!(
        (r.last_run.removed, r.last_run.not_active),
        (0, 1),
        "{:?}",
        r.last_run.error
    );
    assert_eq!(w.sim.list_status(email, w.list), Some(1));
    let r = w.sync("vip").await;
    assert_eq!((r.last_run.removed, r.last_run.not_active), (0, 0));
    assert_eq!(w.sim.list_status(email, w.list), Some(1));
}

/// docs/activecampaign-api.md §12, "`include=contactLists` side-loads
/// membership rows" (third-party, undocumented): on an account that does
/// not honour it, the read before unsubscribing carries no rows to check.
/// The run unsubscribes nobody and fails naming the assumption, rather
/// than counting every removal "not active" run after run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_without_side_loaded_rows_stops_removals_naming_it_section_12() {
    let (w, people) = synced_with_contact_ids(20).await;
    w.sim.set_include_ignored(true);
    w.write_people("vip", &people[2..]);
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Failed);
    let error = r.last_run.error.unwrap_or_default();
    assert!(error.contains("include=contactLists"), "{error}");
    assert_eq!(w.active().len(), 20, "nobody unsubscribed");
}

/// docs/activecampaign-api.md §12, "`/import/info`": `success` lists the
/// contacts an import created. A contact erased between the check before
/// an unsubscribe and ActiveCampaign's processing of the import is created
/// again by it (bulk import creates whom it does not know). acsync assumes
/// an unsubscribe creates nobody; the answer contradicts it, so the run
/// says so, naming the contact it created, instead of a quiet success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsubscribe_import_that_created_a_contact_is_reported_section_12() {
    let w = World::with(crate::harness::slow_batches(2)).await;
    let people = World::people(0..30);
    w.write_people("vip", &people);
    w.write_export("vip", "max_removals = \"100%\"");
    w.sync_success("vip").await;

    w.write_people("vip", &people[12..]);
    let erased = people[0].0.clone();
    let before = w.bulk_imports();
    let erase_once_queued = async {
        while w.bulk_imports() == before {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert!(w.sim.delete_contact(&erased), "erased while queued");
    };
    let (r, ()) = tokio::join!(w.sync("vip"), erase_once_queued);

    let created = w.sim.contact(&erased).expect("the import created it").id;
    assert_eq!(w.sim.list_status(&erased, w.list), Some(2));
    assert_ne!(r.outcome, Outcome::Success);
    let error = r.last_run.error.unwrap_or_default();
    assert!(error.contains("created"), "{error}");
    assert!(error.contains(&created.to_string()), "{error}");
    for (person, _) in &people[1..12] {
        assert_eq!(w.sim.list_status(person, w.list), Some(2), "unsubscribed");
    }
}

/// docs/activecampaign-api.md §12, "Normalisation of stored values": an
/// account that stores first names trimmed and cut to 8 characters. A full
/// read shows "Bartholo" where acsync sent "Bartholomew". acsync sends it
/// again once (the read cannot tell a cut from someone's edit); when the
/// next read shows the same form again, that is how ActiveCampaign stores
/// the value, and no full read re-sends it. An edit made in ActiveCampaign
/// afterwards is still written back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_stored_in_another_form_is_not_re_sent_on_every_read_section_12() {
    let w = World::new().await;
    w.sim.set_stored_form(Some(8));
    let mut people = World::people(0..12);
    people[0].1 = "Bartholomew".into();
    people[1].1 = "Ann".into();
    w.write_people("vip", &people);
    w.write_export("vip", "");
    w.sync_success("vip").await;
    assert_eq!(
        w.sim.contact(&people[0].0).expect("added").first_name,
        "Bartholo"
    );

    let mut updated = Vec::new();
    for _ in 0..3 {
        let r = w.sync_with("vip", full_read()).await;
        assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
        updated.push(r.last_run.updated);
    }
    assert_eq!(updated, [1, 0, 0], "sent again once, then recognised");

    w.sim
        .add_contact(&people[1].0, Some("Anne-Marie"), None, None);
    let r = w.sync_with("vip", full_read()).await;
    assert_eq!(
        r.last_run.updated, 1,
        "an edit in ActiveCampaign is written back"
    );
    assert_eq!(
        w.sim.contact(&people[1].0).expect("contact").first_name,
        "Ann"
    );
    let r = w.sync_with("vip", full_read()).await;
    assert_eq!(r.last_run.updated, 0);
}
