//! Ownership has provenance (docs/ownership.md, "What owned means"): acsync
//! owns a membership only while it is acsync's doing. Each test is a case
//! that 0.2 got wrong, as an operator met it: whatever others do to a
//! membership after acsync's last write ends acsync's claim to it.

use std::time::Duration;

use acsync::run::RunOptions;
use acsync::simulator::ChangedBy;

use crate::harness::{World, emails, slow_batches};

fn full_read() -> RunOptions {
    RunOptions {
        full_read: true,
        ..RunOptions::default()
    }
}

async fn synced(people: &[(String, String)]) -> World {
    let w = World::new().await;
    w.write_export("vip", "max_removals = \"100%\"");
    w.write_people("vip", people);
    w.sync_success("vip").await;
    w
}

fn id_of(w: &World, email: &str) -> u64 {
    w.sim.contact(email).expect("contact").id
}

/// A contact acsync subscribed opts out (a run sees it and keeps it), then
/// re-subscribes through a form, then leaves the segment: the membership is
/// the form's doing, so acsync leaves it active.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opt_out_re_subscribed_by_a_form_is_not_acsync_s_to_remove() {
    let people = World::people(0..20);
    let w = synced(&people).await;
    let x = people[3].0.clone();
    w.sim
        .set_membership(id_of(&w, &x), w.list, 2, ChangedBy::Contact);
    let r = w.sync_with("vip", full_read()).await;
    assert_eq!(r.last_run.kept_unsubscribed, 1, "{:?}", r.last_run.error);

    w.sim
        .set_membership(id_of(&w, &x), w.list, 1, ChangedBy::Admin);
    let stay: Vec<_> = people.iter().filter(|p| p.0 != x).cloned().collect();
    w.write_people("vip", &stay);
    for opts in [RunOptions::default(), full_read()] {
        let r = w.sync_with("vip", opts).await;
        assert_eq!(r.last_run.removed, 0, "{:?}", r.last_run.error);
        assert_eq!(
            w.sim.list_status(&x, w.list),
            Some(1),
            "left as the form made it"
        );
    }
}

/// Members whose list status is one acsync does not manage (91 "removed"
/// by the legacy API, or any unknown code) are in the segment: no run
/// writes over them, and the status file counts them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_acsync_does_not_know_is_never_overwritten() {
    let w = World::new().await;
    let people = World::people(0..12);
    for (code, (email, first)) in [91u8, 7].into_iter().zip(&people) {
        let id = w.sim.add_contact(email, Some(first), None, None);
        w.sim.set_membership(id, w.list, code, ChangedBy::Admin);
    }
    w.write_export("vip", "max_removals = \"100%\"");
    w.write_people("vip", &people);
    for (run, opts) in [RunOptions::default(), RunOptions::default(), full_read()]
        .into_iter()
        .enumerate()
    {
        let r = w.sync_with("vip", opts).await;
        let added = if run == 0 { 10 } else { 0 };
        assert_eq!(r.last_run.added, added, "run {run}: {:?}", r.last_run.error);
        assert_eq!(r.last_run.kept_other_status, 2, "run {run}");
        assert_eq!(w.sim.list_status(&people[0].0, w.list), Some(91));
        assert_eq!(w.sim.list_status(&people[1].0, w.list), Some(7));
    }
}

/// A contact is erased and the address signs up again (a new contact id):
/// when the address leaves the segment, acsync leaves the new contact
/// alone, since it never subscribed it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_contact_under_the_same_address_is_nobody_s() {
    let people = World::people(0..20);
    let w = synced(&people).await;
    // A full read learns the contact ids of what the first run added.
    w.sync_with("vip", full_read()).await;
    let x = people[4].0.clone();
    let old = id_of(&w, &x);
    assert!(w.sim.delete_contact(&x));
    let new = w.sim.add_contact(&x, Some("Again"), None, None);
    assert_ne!(old, new);
    w.sim.set_membership(new, w.list, 1, ChangedBy::Contact);

    let stay: Vec<_> = people.iter().filter(|p| p.0 != x).cloned().collect();
    w.write_people("vip", &stay);
    for opts in [full_read(), RunOptions::default()] {
        let r = w.sync_with("vip", opts).await;
        assert_eq!(r.last_run.removed, 0, "{:?}", r.last_run.error);
        assert_eq!(w.sim.list_status(&x, w.list), Some(1));
    }
}

/// Runs `acsync sync vip` to its end; panics unless it exits 0.
fn sync_ok(w: &World) {
    let out = w.acsync(&["sync", "vip"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// 40 members synced; 12 leave, and the run that unsubscribes them is
/// killed while ActiveCampaign still processes its batch, which lands
/// while acsync is down. Returns the world, the runtime its simulator runs
/// on (alive as long as it is held) and everyone.
fn unsubscribe_batch_landed_while_down() -> (World, tokio::runtime::Runtime, Vec<(String, String)>)
{
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let w = rt.block_on(World::with(slow_batches(2)));
    w.write_export("vip", "max_removals = \"100%\"");
    let people = World::people(0..40);
    w.write_people("vip", &people);
    sync_ok(&w);
    let (leave, stay) = people.split_at(12);
    w.write_people("vip", stay);
    let mut child = w.spawn_sync_until_a_batch_is_queued("vip");
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while leave
        .iter()
        .any(|(e, _)| w.sim.list_status(e, w.list) != Some(2))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the batch never landed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (w, rt, people)
}

/// The run is killed while ActiveCampaign is still processing its
/// unsubscribe batch, and ActiveCampaign applies it while acsync is down.
/// Those unsubscribes are acsync's own: the members that re-enter the
/// segment are subscribed again.
#[test]
fn an_unsubscribe_batch_that_lands_while_acsync_is_down_is_still_acsync_s() {
    let (w, _rt, people) = unsubscribe_batch_landed_while_down();
    sync_ok(&w);
    w.write_people("vip", &people);
    sync_ok(&w);
    assert_eq!(
        w.active(),
        emails(&people),
        "acsync's own unsubscribes undone"
    );
}

/// The same, when ActiveCampaign no longer answers for the batch (its
/// summary is gone) and the members re-enter before any run saw it end:
/// the read shows the unsubscribes landed, and that is enough to know they
/// are acsync's.
#[test]
fn an_unsubscribe_batch_whose_summary_is_gone_is_still_acsync_s() {
    let (w, _rt, people) = unsubscribe_batch_landed_while_down();
    w.sim.set_info_not_found(true);
    w.write_people("vip", &people);
    sync_ok(&w);
    assert_eq!(
        w.active(),
        emails(&people),
        "acsync's own unsubscribes undone"
    );
}

/// Contacts a bulk import created, renamed in ActiveCampaign before acsync
/// learned their ids, then leaving the segment: bulk import named them (by
/// id) as created, so the next read of the list knows them for acsync's
/// under their new addresses and unsubscribes them by id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_an_import_created_are_acsync_s_under_a_new_address() {
    let people = World::people(0..30);
    let w = synced(&people).await;
    let (renamed, stay) = people.split_at(12);
    for (i, (email, _)) in renamed.iter().enumerate() {
        assert!(
            w.sim
                .change_email(email, &format!("renamed{i}@example.org"))
        );
    }
    w.write_people("vip", stay);
    // The run reads the list in full (cheaper than looking up each
    // removal without a known id by email, which finds nobody anyway).
    let r = w.sync_with("vip", RunOptions::default()).await;
    assert_eq!(r.last_run.removed, 12, "{:?}", r.last_run.error);
    for i in 0..12 {
        let email = format!("renamed{i}@example.org");
        assert_eq!(w.sim.list_status(&email, w.list), Some(2), "{email}");
    }
    assert_eq!(w.active(), emails(stay));
    let r = w.sync_with("vip", full_read()).await;
    assert_eq!(r.last_run.removed, 0, "nothing left to do");
}

/// Members acsync subscribed are removed through the legacy API (status
/// 91) between full reads, leave the segment and come back (enough of
/// them to go through bulk import): the check before the unsubscribe
/// reads their rows and records what they show, so they are kept as they
/// are on the way back too, never added over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_seen_by_the_removal_check_is_kept_when_the_member_returns() {
    let people = World::people(0..40);
    let w = synced(&people).await;
    w.sync_with("vip", full_read()).await;
    let (removed, stay) = people.split_at(12);
    for (email, _) in removed {
        w.sim
            .set_membership(id_of(&w, email), w.list, 91, ChangedBy::Admin);
    }
    w.write_people("vip", stay);
    let r = w.sync_with("vip", RunOptions::default()).await;
    assert_eq!((r.last_run.removed, r.last_run.full_read), (0, false));
    w.write_people("vip", &people);
    let r = w.sync_with("vip", RunOptions::default()).await;
    assert_eq!(r.last_run.added, 0, "{:?}", r.last_run.error);
    assert_eq!(r.last_run.kept_other_status, 12);
    for (email, _) in removed {
        assert_eq!(w.sim.list_status(email, w.list), Some(91), "{email}");
    }
}

/// Found by the generative test: a contact others put on the list after
/// acsync's last read, awaiting its double opt-in (status 0) or removed by
/// the legacy API (91), then enters the segment. A bulk import subscribes
/// whom it is given (it refuses only opted-out and bounced members), so the
/// run checks the statuses of the list before adding contacts it has no
/// record of: both are kept as they are, the others are added.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_add_never_subscribes_over_a_status_set_since_the_last_read() {
    let people = World::people(0..12);
    let w = synced(&people).await;
    let (waiting, removed) = ("waiting@example.com", "removed@example.com");
    for (email, code) in [(waiting, 0u8), (removed, 91)] {
        let id = w.sim.add_contact(email, Some("Other"), None, None);
        w.sim.set_membership(id, w.list, code, ChangedBy::Admin);
    }
    let mut more = people.clone();
    more.extend(World::people(20..30));
    more.push((waiting.into(), "Waiting".into()));
    more.push((removed.into(), "Removed".into()));
    w.write_people("vip", &more);
    let r = w.sync_success("vip").await;
    assert_eq!(w.sim.list_status(waiting, w.list), Some(0));
    assert_eq!(w.sim.list_status(removed, w.list), Some(91));
    assert_eq!(
        (
            r.last_run.added,
            r.last_run.kept_unconfirmed,
            r.last_run.kept_other_status
        ),
        (10, 1, 1),
        "{:?}",
        r.last_run.error
    );
    let r = w.sync_success("vip").await;
    assert_eq!((r.last_run.added, r.last_run.kept_unconfirmed), (0, 1));
    assert_eq!(w.sim.list_status(waiting, w.list), Some(0));
}
