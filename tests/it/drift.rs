//! The drift check (docs/run-rules.md, drift checks): between full reads a
//! run learns what others changed by reading only the members
//! ActiveCampaign shows as updated since the last check, proves that read
//! with counts and a sample, and makes the next run read in full when the
//! proof disagrees. The simulator's switch
//! `set_status_change_moves_udate(false)` is the undocumented alternative
//! (activecampaign-api.md §12, "Reading only what changed").

use acsync::run::RunOptions;
use acsync::simulator::ChangedBy;

use crate::harness::World;

const DAY: i64 = 24 * 3600;

/// An export whose runs between full reads each make a drift check, synced
/// ten days ago, read in full since (which learns the contact ids its bulk
/// import did not give back), and three days passed: all that is older
/// than anything the next check asks for (two days before the last read).
async fn synced(n: usize) -> (World, Vec<(String, String)>) {
    let w = World::new().await;
    w.write_export(
        "vip",
        "max_removals = \"100%\"\nfull_read_every = \"30d\"\ndrift_check_every = \"0\"",
    );
    let people = World::people(0..n);
    w.write_people("vip", &people);
    let r = w.sync_success("vip").await;
    assert_eq!(
        r.last_run.read.as_deref(),
        Some("full"),
        "a first run reads"
    );
    w.pass_time(10 * DAY);
    w.sync_with("vip", full_read()).await;
    w.pass_time(3 * DAY);
    (w, people)
}

fn id_of(w: &World, email: &str) -> u64 {
    w.sim.contact(email).expect("contact").id
}

fn full_read() -> RunOptions {
    RunOptions {
        full_read: true,
        ..RunOptions::default()
    }
}

/// Opt-out, bounce, unconfirmed, status 91, a field edited in
/// ActiveCampaign, a new member another tool added and a deleted contact:
/// the drift check finds each (the deletion by the counts), keeps every
/// status as the run rules say, repairs the edited field, and a full read
/// afterwards finds nothing left to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drift_check_finds_what_others_changed_and_a_full_read_finds_nothing_more() {
    let (w, people) = synced(300).await;
    let planted = [
        (&people[3].0, 2, ChangedBy::Contact),
        (&people[4].0, 3, ChangedBy::Admin),
        (&people[5].0, 0, ChangedBy::Admin),
        (&people[6].0, 91, ChangedBy::Admin),
    ];
    for (email, status, by) in planted {
        w.sim.set_membership(id_of(&w, email), w.list, status, by);
    }
    assert!(w.sim.edit_contact_by_others(&people[7].0, "Edited"));
    let stranger = w.sim.add_contact("walk.in@example.com", None, None, None);
    w.sim.set_membership(stranger, w.list, 1, ChangedBy::Admin);
    assert!(w.sim.delete_contact(&people[8].0));

    let r = w.sync_success("vip").await;
    let run = &r.last_run;
    assert_eq!(run.read.as_deref(), Some("drift"), "{run:?}");
    assert_eq!(run.read_reason.as_deref(), Some("every_run"));
    let d = run.drift.as_ref().expect("drift figures");
    assert_eq!(d.changed, 6, "4 statuses, 1 field edit, 1 stranger: {d:?}");
    assert_eq!((d.counts.as_str(), d.gone), ("agreed", 1), "{d:?}");
    assert_eq!(d.disagreed, None);
    assert_eq!(d.sample_disagreed, 0);
    assert_eq!(
        (
            run.kept_unsubscribed,
            run.kept_bounced,
            run.kept_unconfirmed,
            run.kept_other_status
        ),
        (1, 1, 1, 1),
        "every status others set is kept"
    );
    assert_eq!(run.updated, 1, "the edited first name is written back");
    assert_eq!(
        w.sim.contact(&people[7].0).map(|c| c.first_name),
        Some(people[7].1.clone())
    );
    // The check costs a handful of requests, not a page per 100 members.
    let writes = run.updated;
    assert!(
        run.api_requests <= 16 + writes * 3,
        "{} requests",
        run.api_requests
    );

    let full = w.sync_with("vip", full_read()).await;
    let f = &full.last_run;
    assert_eq!(f.read.as_deref(), Some("full"));
    // The deleted contact is the one thing only the full read can name:
    // it is in the segment, so the run adds it again.
    assert_eq!((f.added, f.updated, f.removed), (1, 0, 0), "{f:?}");
    assert!(f.api_requests > run.api_requests, "a full read costs more");
}

/// On an account where a status change does not move the contact's
/// `udate`, an opt-out is invisible to the filter: the counts show it, the
/// check says so, and the next run reads in full and keeps the opt-out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_change_that_does_not_move_udate_makes_the_next_run_read_in_full() {
    let (w, people) = synced(150).await;
    w.sim.set_status_change_moves_udate(false);
    let x = &people[9].0;
    w.sim
        .set_membership(id_of(&w, x), w.list, 2, ChangedBy::Contact);

    let r = w.sync_success("vip").await;
    let d = r.last_run.drift.clone().expect("drift figures");
    assert_eq!(d.counts, "disagreed", "{d:?}");
    let why = d.disagreed.expect("a reason");
    assert!(why.contains("unsubscribed"), "{why}");
    assert_eq!(
        w.status("vip").last_run.map(|l| l.drift.is_some()),
        Some(true)
    );

    let next = w.sync_success("vip").await;
    assert_eq!(next.last_run.read.as_deref(), Some("full"));
    assert_eq!(
        next.last_run.read_reason.as_deref(),
        Some("drift_check_disagreed")
    );
    assert_eq!(next.last_run.kept_unsubscribed, 1);
    assert_eq!(w.sim.list_status(x, w.list), Some(2), "never resubscribed");
    // The full read settled it: the run after checks again.
    let after = w.sync_success("vip").await;
    assert_eq!(after.last_run.read.as_deref(), Some("drift"));
}

/// Two members swap statuses without moving `udate`: the counts cannot
/// see it, the sample (the whole of a small list) does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_the_counts_cannot_see_is_caught_by_the_sample() {
    let (w, people) = synced(40).await;
    let (a, b) = (&people[1].0, &people[2].0);
    w.sim
        .set_membership(id_of(&w, a), w.list, 2, ChangedBy::Contact);
    let r = w.sync_success("vip").await;
    assert_eq!(r.last_run.read.as_deref(), Some("drift"));
    assert_eq!(r.last_run.kept_unsubscribed, 1, "{:?}", r.last_run.drift);

    // A check re-reads two days before the last one: the opt-out is old
    // news two checks later.
    w.pass_time(3 * DAY);
    let quiet = w.sync_success("vip").await;
    assert_eq!(quiet.last_run.drift.and_then(|d| d.disagreed), None);
    w.pass_time(3 * DAY);
    w.sim.set_status_change_moves_udate(false);
    w.sim
        .set_membership(id_of(&w, a), w.list, 1, ChangedBy::Contact);
    w.sim
        .set_membership(id_of(&w, b), w.list, 2, ChangedBy::Contact);
    let r = w.sync_success("vip").await;
    let d = r.last_run.drift.clone().expect("drift figures");
    assert_eq!(
        d.counts, "agreed",
        "a swap leaves every count as it was: {d:?}"
    );
    assert!(d.sample_disagreed >= 2, "{d:?}");
    assert!(d.disagreed.is_some());
    let next = w.sync_success("vip").await;
    assert_eq!(
        next.last_run.read_reason.as_deref(),
        Some("drift_check_disagreed")
    );
}

/// Existing contacts a bulk import only added to the list (no id comes
/// back for them) are learnt by the next drift check; one renamed in
/// ActiveCampaign afterwards is still acsync's, and is unsubscribed when
/// it leaves the segment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drift_check_learns_the_ids_of_contacts_a_bulk_import_added() {
    let (w, mut people) = synced(200).await;
    let joiners = World::people(500..530);
    for (email, first) in &joiners {
        w.sim.add_contact(email, Some(first), None, None);
    }
    w.pass_time(3 * DAY);
    people.extend(joiners.iter().cloned());
    w.write_people("vip", &people);
    let r = w.sync_success("vip").await;
    assert_eq!(r.last_run.added, 30, "{:?}", r.last_run.error);
    let learnt = w.sync_success("vip").await;
    assert_eq!(learnt.last_run.read.as_deref(), Some("drift"));
    assert!(
        learnt
            .last_run
            .drift
            .as_ref()
            .is_some_and(|d| d.changed >= 30)
    );

    let old = joiners[4].0.clone();
    assert!(w.sim.change_email(&old, "renamed.joiner@example.com"));
    people.retain(|p| p.0 != old);
    w.write_people("vip", &people);
    let r = w.sync_success("vip").await;
    assert_eq!(r.last_run.removed, 1, "{:?}", r.last_run);
    assert_eq!(
        w.sim.list_status("renamed.joiner@example.com", w.list),
        Some(2)
    );
}

/// `plan` and `explain` make the run's own drift check and say so: which
/// read, why, and what it found; the text names the check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_and_explain_say_a_drift_check_was_made_and_why() {
    let (w, people) = synced(120).await;
    let x = &people[2].0;
    w.sim
        .set_membership(id_of(&w, x), w.list, 3, ChangedBy::Admin);

    let out = w.acsync(&["plan", "vip", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(plan["read"], "drift", "{plan}");
    assert_eq!(plan["read_reason"], "every_run");
    assert_eq!(plan["full_read"], false);
    assert_eq!(plan["drift"]["changed"], 1, "{plan}");
    assert_eq!(plan["drift"]["counts"], "agreed");

    let out = w.acsync(&["plan", "vip"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("a drift check"), "{text}");
    assert!(text.contains("drift check since"), "{text}");

    let out = w.acsync(&["explain", "vip", x, "--json"]);
    let why: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(why["next_run"]["read"], "drift", "{why}");
    assert_eq!(why["next_run"]["kept"], "kept_bounced", "{why}");
    // Planning wrote nothing: the run still finds the bounce itself.
    let r = w.sync_success("vip").await;
    assert_eq!(r.last_run.kept_bounced, 1);
    assert_eq!(r.last_run.drift.map(|d| d.changed), Some(1));
}

/// When more than half the list shows as updated since the last check (a
/// mass import by another tool), the run reads the list in full instead:
/// the check would cost as much, and the full read needs no proof.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_mostly_changed_since_the_last_check_is_read_in_full() {
    let (w, people) = synced(300).await;
    for (email, _) in people.iter().take(200) {
        assert!(w.sim.edit_contact_by_others(email, "Imported"));
    }
    let r = w.sync_success("vip").await;
    assert_eq!(r.last_run.read.as_deref(), Some("full"), "{:?}", r.last_run);
    assert_eq!(
        r.last_run.read_reason.as_deref(),
        Some("drift_check_too_large")
    );
    assert_eq!(r.last_run.drift, None);
    assert_eq!(r.last_run.updated, 200, "the edits are written back");
}
