//! Safe in the field: what another integration, the contact or
//! ActiveCampaign itself does between runs never makes acsync unsubscribe
//! the wrong person or resubscribe someone who left. One test per case of
//! the issue, each reproducing it against the simulator.

use acsync::simulator::ChangedBy;
use acsync::status::Outcome;

use crate::harness::{World, emails, slow_batches};

fn id(w: &World, email: &str) -> u64 {
    w.sim.contact(email).map(|c| c.id).expect("contact exists")
}

/// The contact (or an unsubscribe link) sets its own status.
fn contact_sets(w: &World, email: &str, status: u8) {
    w.sim
        .set_membership(id(w, email), w.list, status, ChangedBy::Contact);
}

fn without(people: &[(String, String)], gone: &[usize]) -> Vec<(String, String)> {
    people
        .iter()
        .enumerate()
        .filter(|(i, _)| !gone.contains(i))
        .map(|(_, p)| p.clone())
        .collect()
}

async fn synced(w: &World, people: &[(String, String)]) {
    w.write_people("vip", people);
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
}

/// Case 1: a member acsync subscribed opts out between full reads, then
/// leaves the segment, then comes back. acsync must not send its own
/// unsubscribe on top (nor record one), and must never set status 1 again.
/// Both paths: fewer than 10 removals (contactLists) and 12 (bulk import).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opt_out_between_full_reads_is_neither_claimed_nor_resubscribed() {
    for optouts in [1usize, 12] {
        let w = World::new().await;
        w.write_export("vip", "max_removals = \"100%\"");
        let people = World::people(0..40);
        synced(&w, &people).await;
        let gone: Vec<usize> = (0..optouts).collect();
        for &i in &gone {
            contact_sets(&w, &people[i].0, 2);
        }
        w.write_people("vip", &without(&people, &gone));
        let r = w.sync("vip").await;
        assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
        // Seen either by the check right before unsubscribing (few) or by
        // the full read a run makes when there are many to check.
        assert_eq!(
            r.last_run.removed, 0,
            "{optouts}: no unsubscribe sent on top of an opt-out"
        );
        assert!(
            r.last_run.not_active == optouts as u64 || r.last_run.full_read,
            "{optouts}: {:?}",
            r.last_run
        );
        w.write_people("vip", &people);
        let r = w.sync("vip").await;
        assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
        assert_eq!(r.last_run.added, 0, "{optouts}: nobody resubscribed");
        assert_eq!(r.last_run.kept_unsubscribed, optouts as u64);
        for &i in &gone {
            assert_eq!(w.sim.list_status(&people[i].0, w.list), Some(2));
        }
    }
}

/// Case 1, second half: acsync unsubscribed a member; later the contact
/// resubscribed and unsubscribed themselves (2 -> 1 -> 2). When the member
/// re-enters the segment the status 2 is no longer acsync's: kept. A member
/// whose status 2 is still acsync's own is resubscribed as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_opt_out_after_our_unsubscribe_is_never_undone() {
    let w = World::new().await;
    w.write_export("vip", "max_removals = \"100%\"");
    let people = World::people(0..20);
    synced(&w, &people).await;
    w.write_people("vip", &without(&people, &[4, 5]));
    let r = w.sync("vip").await;
    assert_eq!(r.last_run.removed, 2, "{:?}", r.last_run.error);

    let later = chrono::Utc::now().timestamp() + 3600;
    contact_sets(&w, &people[4].0, 1);
    contact_sets(&w, &people[4].0, 2);
    assert!(w.sim.set_membership_udate(&people[4].0, w.list, later));

    w.write_people("vip", &people);
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
    assert_eq!(
        (r.last_run.added, r.last_run.kept_unsubscribed),
        (1, 1),
        "ours resubscribed, theirs kept"
    );
    assert_eq!(w.sim.list_status(&people[4].0, w.list), Some(2));
    assert_eq!(w.sim.list_status(&people[5].0, w.list), Some(1));
    // And it stays kept on the next full read.
    w.write_export("vip", "max_removals = \"100%\"\nfull_read_every = \"0\"");
    let r = w.sync("vip").await;
    assert_eq!((r.last_run.added, r.last_run.kept_unsubscribed), (0, 1));
}

/// Case 2: bounced (3) and unconfirmed (0) members in the segment are never
/// forced active, on the small path (contactLists) or the bulk path, and
/// the run is not `partial` for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bounced_and_unconfirmed_members_are_kept_not_forced_active() {
    for others in [2usize, 20] {
        let w = World::new().await;
        let bounced = w.sim.add_contact("bounced@example.com", None, None, None);
        let unconfirmed = w
            .sim
            .add_contact("unconfirmed@example.com", None, None, None);
        w.sim.set_membership(bounced, w.list, 3, ChangedBy::Admin);
        w.sim
            .set_membership(unconfirmed, w.list, 0, ChangedBy::Admin);
        let mut people = World::people(0..others);
        people.push(("bounced@example.com".into(), "B".into()));
        people.push(("unconfirmed@example.com".into(), "U".into()));
        w.write_export("vip", "");
        synced(&w, &people).await;
        let s = w.status_json("vip");
        assert_eq!(s["last_run"]["kept_bounced"], 1, "{others}: {s}");
        assert_eq!(s["last_run"]["kept_unconfirmed"], 1, "{others}: {s}");
        assert_eq!(s["last_run"]["failed"], 0, "{others}");
        assert_eq!(w.sim.list_status("bounced@example.com", w.list), Some(3));
        assert_eq!(
            w.sim.list_status("unconfirmed@example.com", w.list),
            Some(0)
        );
        let plan = w.acsync(&["plan", "vip", "--json"]);
        let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("plan json");
        assert_eq!(
            (plan["kept_bounced"].as_u64(), plan["to_add"].as_u64()),
            (Some(1), Some(0))
        );
    }
}

/// Starts `acsync sync vip` and SIGKILLs it once ActiveCampaign has
/// accepted a bulk import.
fn kill_after_bulk_accepted(w: &World) {
    let mut child = w.spawn_sync_until_a_batch_is_queued("vip");
    child.kill().expect("SIGKILL");
    let _ = child.wait();
}

/// Case 3, adds: killed right after a bulk add was accepted; the segment
/// changes; the next run starts before the batch has landed. The add lands
/// later, so the leavers are owned and must be unsubscribed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_while_a_bulk_add_is_processing_keeps_ownership() {
    let w = World::with(slow_batches(4)).await;
    w.write_export("vip", "max_removals = \"100%\"");
    let people = World::people(0..30);
    w.write_people("vip", &people);
    kill_after_bulk_accepted(&w);
    let leavers: Vec<usize> = (0..10).collect();
    let stay = without(&people, &leavers);
    w.write_people("vip", &stay);
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
    assert_eq!(w.active(), emails(&stay), "leavers unsubscribed");
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Success);
    assert_eq!(w.active(), emails(&stay));
}

/// Case 3, removals: killed right after a bulk unsubscribe was accepted;
/// the leavers come back; the next run starts before the batch has landed.
/// They must end active, not kept as opt-outs forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_while_a_bulk_unsubscribe_is_processing_leaves_nobody_out() {
    let w = World::with(slow_batches(4)).await;
    w.write_export("vip", "max_removals = \"100%\"");
    let people = World::people(0..30);
    synced(&w, &people).await;
    let leavers: Vec<usize> = (0..10).collect();
    w.write_people("vip", &without(&people, &leavers));
    kill_after_bulk_accepted(&w);
    w.write_people("vip", &people);
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
    assert_eq!(r.last_run.kept_unsubscribed, 0);
    assert_eq!(w.active(), emails(&people), "everyone back");
}

/// Case 4: a contact deleted in ActiveCampaign (a GDPR erasure) is never
/// re-created by a removal, on either path; a contact whose email changed
/// there is unsubscribed as that contact, with no phantom under the old
/// address. (acsync knows a contact's id from the first full read after it
/// was added: bulk import does not say which id each email got.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removals_go_by_contact_never_recreating_erased_contacts() {
    for erased in [1usize, 12] {
        let w = World::new().await;
        let people = World::people(0..40);
        // The add, then a full read that learns every contact's id.
        w.write_export("vip", "max_removals = \"100%\"\nfull_read_every = \"0\"");
        synced(&w, &people).await;
        synced(&w, &people).await;
        // From here on the local state is the record (no full read).
        w.write_export("vip", "max_removals = \"100%\"");
        let gone: Vec<usize> = (0..erased).collect();
        for &i in &gone {
            assert!(w.sim.delete_contact(&people[i].0));
        }
        assert!(w.sim.change_email(&people[30].0, "renamed@example.com"));
        let count = w.sim.contact_count();
        let mut leaving = gone.clone();
        leaving.push(30);
        w.write_people("vip", &without(&people, &leaving));
        let r = w.sync("vip").await;
        assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
        assert_eq!(w.sim.contact_count(), count, "{erased}: nobody re-created");
        for &i in &gone {
            assert!(w.sim.contact(&people[i].0).is_none());
        }
        assert!(w.sim.contact(&people[30].0).is_none(), "no phantom");
        assert_eq!(
            w.sim.list_status("renamed@example.com", w.list),
            Some(2),
            "the renamed contact itself is unsubscribed"
        );
        assert_eq!(r.last_run.removed, 1);
    }
}

/// Case 6: an export that owns 60 of a shared list's 1,060 members must not
/// unsubscribe 59 of them under `max_removals = "10%"`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_removals_counts_the_members_the_export_owns() {
    let w = World::new().await;
    for i in 0..1000 {
        let c = w
            .sim
            .add_contact(&format!("other{i}@example.com"), None, None, None);
        w.sim.set_membership(c, w.list, 1, ChangedBy::Admin);
    }
    w.write_export("vip", "max_removals = \"10%\"");
    let people = World::people(0..60);
    synced(&w, &people).await;
    w.write_people("vip", &people[..1]);
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Blocked, "{:?}", r.last_run.error);
    assert_eq!(r.last_run.removed, 0);
    let reason = r.blocked.unwrap_or_default();
    assert!(
        reason.contains("59 of the 60 members this export owns"),
        "{reason}"
    );
    assert_eq!(w.active().len(), 1060);
}

/// Case 7: a contact opts out within two minutes of acsync's own
/// unsubscribe of them (resubscribed by a form, then unsubscribed through a
/// campaign's link or by an automation), then re-enters the segment. The
/// change time alone says "acsync's"; the row's own marks (`campaign`,
/// `message`, `unsubreason`, `unsubscribeAutomation`) say someone else's:
/// kept. A member whose row shows only acsync's unsubscribe is resubscribed,
/// marked as a re-subscription (`sourceid` 4). Both removal paths: a few
/// (contactLists) and 12 (bulk import).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opt_out_right_after_our_unsubscribe_is_never_undone() {
    for removed in [3usize, 13] {
        let w = World::new().await;
        w.write_export("vip", "max_removals = \"100%\"");
        let people = World::people(0..40);
        synced(&w, &people).await;
        let gone: Vec<usize> = (0..removed).collect();
        w.write_people("vip", &without(&people, &gone));
        let r = w.sync("vip").await;
        assert_eq!(r.last_run.removed, removed as u64, "{:?}", r.last_run.error);

        // All but the last opt out right away, half through a campaign's
        // link, half by an automation.
        let opted = &gone[..removed - 1];
        for &i in opted {
            let by = if i % 2 == 0 {
                ChangedBy::Contact
            } else {
                ChangedBy::Automation
            };
            let id = id(&w, &people[i].0);
            w.sim.set_membership(id, w.list, 1, ChangedBy::Contact);
            w.sim.set_membership(id, w.list, 2, by);
        }
        w.write_people("vip", &people);
        let r = w.sync("vip").await;
        assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
        assert_eq!(
            (r.last_run.added, r.last_run.kept_unsubscribed),
            (1, opted.len() as u64),
            "{removed}: only acsync's own unsubscribe is undone"
        );
        for &i in opted {
            assert_eq!(
                w.sim.list_status(&people[i].0, w.list),
                Some(2),
                "{removed}"
            );
        }
        let last = &people[removed - 1].0;
        let row = w.sim.members(w.list).into_iter().find(|m| &m.email == last);
        assert_eq!(
            row.map(|m| (m.status, m.sourceid)),
            Some((1, 4)),
            "{removed}: resubscribed as a re-subscription"
        );
    }
}

/// Case 8: the full read proves itself. An account whose `status` filter
/// applies across all lists (undocumented either way) makes the read
/// disagree with the contact's own membership rows: the run fails before
/// any write, naming the contact, the list and both statuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_read_that_filters_status_globally_stops_before_any_write() {
    let w = World::new().await;
    let other = w.sim.add_list("Other");
    let c = w.sim.add_contact("both@example.com", None, None, None);
    w.sim.set_membership(c, w.list, 1, ChangedBy::Admin);
    w.sim.set_membership(c, other, 2, ChangedBy::Contact);
    w.sim.set_global_status_filter(true);
    w.write_export("vip", "prune = \"all\"\nmax_removals = \"100%\"");
    w.write_people("vip", &World::people(0..3));
    w.sim.reset_ledger();
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Failed);
    let error = r.last_run.error.unwrap_or_default();
    assert!(
        error.contains(&format!("contact {c}")) && error.contains(&format!("list {}", w.list)),
        "{error}"
    );
    assert_eq!(w.sim.ledger().writes, 0, "nothing written");
    // The same account with per-list filtering syncs.
    w.sim.set_global_status_filter(false);
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
}

/// Removals verify by contact id. Members added by bulk import since the
/// last full read have none yet: when looking each up by email would cost
/// more requests than reading the list, the run reads the list instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_removals_without_known_ids_read_the_list_instead_of_one_lookup_each() {
    let w = World::new().await;
    w.write_export("vip", "max_removals = \"100%\"");
    let people = World::people(0..30);
    synced(&w, &people).await;
    w.write_people("vip", &people[12..]);
    w.sim.reset_ledger();
    let r = w.sync_success("vip").await;
    assert_eq!(r.last_run.removed, 12);
    assert!(r.last_run.full_read, "read the list rather than 12 lookups");
    let l = w.sim.ledger();
    let reads = l.by_endpoint.get("GET /contacts").copied().unwrap_or(0);
    // 4 status reads, a count of every status, 1 page of status 1.
    assert!(reads <= 7, "{reads} contact reads: {:?}", l.by_endpoint);
    assert_eq!(w.active(), emails(&people[12..]));
}
