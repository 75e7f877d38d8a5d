//! The failures the generative test found, shrunk, each a fixed history
//! replayed by the same driver and oracle.

use super::drive::replay;
use super::events::{Case, Event, KillPoint, OthersAction};

async fn holds(case: Case) {
    if let Err(e) = replay(&case).await {
        panic!("{e}\n{case:?}");
    }
}

/// The case 4 as a history: killed while ActiveCampaign processes
/// an unsubscribe batch, the batch lands while acsync is down, two of its
/// members re-enter: the next run follows the batch and undoes its own
/// unsubscribes (docs/run-rules.md, crash safety; adds). Also shows the
/// driver reaches the kill.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_an_unsubscribe_batch_processes_then_reentry() {
    let case = Case {
        bulk: true,
        stored_form: false,
        drift_checks: false,
        udate_still: false,
        initial: vec![0, 1, 2, 3],
        events: vec![
            Event::Run,
            Event::Leave(0),
            Event::Leave(1),
            Event::Leave(2),
            Event::Kill(KillPoint::WhileABatchProcesses),
            Event::Join(0),
            Event::Join(1),
            Event::Run,
        ],
    };
    match replay(&case).await {
        Ok(tally) => assert_eq!(tally.kills, 1, "the run was killed"),
        Err(e) => panic!("{e}"),
    }
}

/// A member set to status 91 by someone else, still in the segment: the
/// full read must keep it, not set it active (docs/run-rules.md, kept
/// statuses).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_91_in_the_segment_is_kept() {
    holds(Case {
        bulk: false,
        stored_form: false,
        drift_checks: false,
        udate_still: false,
        initial: vec![6],
        events: vec![Event::Run, Event::Others(6, OthersAction::Status91)],
    })
    .await;
}

/// The same through bulk import (`exclude_automations = true`): the full
/// read does not see the status-91 row, and the add it plans lands over it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_91_in_the_segment_is_kept_by_bulk_import() {
    holds(Case {
        bulk: true,
        stored_form: false,
        drift_checks: false,
        udate_still: false,
        initial: vec![],
        events: vec![
            Event::Join(2),
            Event::Run,
            Event::Others(2, OthersAction::Status91),
        ],
    })
    .await;
}

/// acsync unsubscribed a leaver; a form (or an admin) subscribed them
/// again: the membership is theirs now, and a full read must not
/// unsubscribe it (docs/ownership.md: a re-subscribe by others ends
/// ownership).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscribe_by_others_after_acsyncs_unsubscribe_is_not_unsubscribed_again() {
    for subscribe in [OthersAction::FormSubscribe, OthersAction::AdminSubscribe] {
        holds(Case {
            bulk: false,
            stored_form: false,
            drift_checks: false,
            udate_still: false,
            initial: vec![4],
            events: vec![
                Event::Run,
                Event::Leave(4),
                Event::Run,
                Event::Others(4, subscribe),
            ],
        })
        .await;
    }
}

/// The contact acsync subscribed is erased and the address signs up again
/// through a form: a new contact id, owned by nobody; when the address
/// leaves, it stays (docs/ownership.md: a different contact id under the
/// same address is a different contact).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_contact_under_the_same_address_is_not_unsubscribed() {
    holds(Case {
        bulk: false,
        stored_form: false,
        drift_checks: false,
        udate_still: false,
        initial: vec![4],
        events: vec![
            Event::Run,
            Event::Others(4, OthersAction::Recreate),
            Event::Others(4, OthersAction::FormSubscribe),
            Event::Leave(4),
            Event::Run,
        ],
    })
    .await;
}

/// A contact acsync subscribed by a single request is renamed in
/// ActiveCampaign, then its address leaves the segment, and the next run
/// reads the list in full: the membership is still acsync's doing (the same
/// contact id), so it is unsubscribed (docs/ownership.md: ownership is per
/// contact id). Passes through bulk import, and when an incremental run
/// sees the leaver first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_contact_whose_address_left_is_unsubscribed() {
    holds(Case {
        bulk: false,
        stored_form: false,
        drift_checks: false,
        udate_still: false,
        initial: vec![0],
        events: vec![
            Event::Run,
            Event::Others(0, OthersAction::RenameAway),
            Event::Leave(0),
        ],
    })
    .await;
}

/// The case 1 unseen: a member acsync subscribed opts out and a
/// form subscribes them again, both between two runs (the status ends
/// active, as acsync left it; the row's change time is an hour later);
/// then the address leaves. The membership is the form's: never
/// unsubscribed (docs/ownership.md, what "owned" means).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unseen_opt_out_and_form_subscribe_ends_ownership() {
    holds(Case {
        bulk: false,
        stored_form: false,
        drift_checks: false,
        udate_still: false,
        initial: vec![1],
        events: vec![
            Event::Run,
            Event::Others(1, OthersAction::OptOutThenFormSubscribe),
            Event::Leave(1),
            Event::Join(0),
        ],
    })
    .await;
}

/// The same unseen round trip, built from a form subscribe that changes
/// nothing (the member is active), an opt-out, the address leaving, and a
/// form subscribe again: the final full read sees status 1, dated after
/// acsync's write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unseen_opt_out_and_form_subscribe_after_leaving_ends_ownership() {
    holds(Case {
        bulk: false,
        stored_form: false,
        drift_checks: false,
        udate_still: false,
        initial: vec![0],
        events: vec![
            Event::Run,
            Event::Others(0, OthersAction::FormSubscribeThenOptOut),
            Event::Leave(0),
            Event::Others(0, OthersAction::FormSubscribe),
        ],
    })
    .await;
}

/// Found by the generative test: through bulk import, after a full read
/// has found the contact acsync created, the contact is erased; the next
/// full read adds the address again (a new contact, created by acsync's
/// import); when the address leaves, that contact must be unsubscribed
/// (docs/ownership.md: acsync subscribed this contact id). It stays active.
/// Without the first full read, or through single requests, it passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_re_added_after_an_erasure_is_unsubscribed_when_it_leaves() {
    holds(Case {
        bulk: true,
        stored_form: false,
        drift_checks: false,
        udate_still: false,
        initial: vec![0],
        events: vec![
            Event::Run,
            Event::FullReadRun,
            Event::Others(0, OthersAction::Delete),
            Event::FullReadRun,
            Event::Leave(0),
        ],
    })
    .await;
}

/// The first run is killed before ActiveCampaign's answer to the batch
/// that creates the contact reaches it (so acsync never learns the batch's
/// id, nor the contacts it created); the contact is renamed in
/// ActiveCampaign before the next run, and its old address leaves the
/// segment. acsync cannot tell that contact from anyone's: it is left as
/// it is, and every other rule holds (docs/ownership.md, "Where ownership
/// is kept"). Found by the generative test at 1,000 cases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_an_unanswered_batch_created_renamed_before_a_read_is_left_alone() {
    holds(Case {
        bulk: true,
        stored_form: false,
        drift_checks: false,
        udate_still: false,
        initial: vec![0],
        events: vec![
            Event::Kill(KillPoint::WhileABatchProcesses),
            Event::Others(0, OthersAction::RenameAway),
            Event::Leave(0),
        ],
    })
    .await;
}

/// A contact acsync subscribed is renamed in ActiveCampaign, a form signs
/// the old address up again (a new contact), and the address leaves the
/// segment: the renamed contact is still acsync's and is unsubscribed; the
/// new one is nobody's (docs/ownership.md). Found at 1,000 cases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_contact_whose_old_address_signed_up_again_is_still_acsyncs() {
    holds(Case {
        bulk: false,
        stored_form: false,
        drift_checks: false,
        udate_still: false,
        initial: vec![1],
        events: vec![
            Event::Run,
            Event::Others(1, OthersAction::RenameAway),
            Event::Others(1, OthersAction::FormSubscribe),
            Event::Leave(1),
        ],
    })
    .await;
}

/// Found at 175 cases: a form subscribes a contact after acsync's last
/// read, an admin sets it to await a double opt-in, then it joins the
/// segment. The bulk add (`exclude_automations = true`) must not subscribe
/// over the status 0 (docs/verification.md, before each kind of write).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfirmed_member_others_added_since_the_last_read_is_not_bulk_subscribed() {
    holds(Case {
        bulk: true,
        stored_form: false,
        drift_checks: false,
        udate_still: false,
        initial: vec![],
        events: vec![
            Event::Run,
            Event::Others(0, OthersAction::FormSubscribe),
            Event::Others(0, OthersAction::Unconfirmed),
            Event::Join(0),
            Event::Run,
        ],
    })
    .await;
}

/// Found at 341 cases: a contact acsync subscribed is renamed in
/// ActiveCampaign, then its segment row changes. The update by address
/// (`contact/sync`) reaches a new contact under the old address; acsync
/// must still know that the renamed contact is its own, so that it is
/// unsubscribed once its address is out of the segment (docs/ownership.md,
/// where ownership is kept).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_after_a_rename_keeps_the_renamed_contact_acsyncs() {
    holds(Case {
        bulk: false,
        stored_form: false,
        drift_checks: false,
        udate_still: false,
        initial: vec![],
        events: vec![
            Event::Join(1),
            Event::Run,
            Event::EditName(1),
            Event::Others(1, OthersAction::RenameAway),
            Event::Run,
            Event::Leave(1),
        ],
    })
    .await;
}

/// Found at 400 cases, when the driver's "time passes" moved only the
/// account's times into the past: a form re-subscribed an opt-out, and
/// three days later the row's change looked older than acsync's own add,
/// so the final full read took the membership for acsync's and
/// unsubscribed the leaver. The driver's fault, not acsync's: time passing
/// moves acsync's recorded times with the account's (`World::pass_time`),
/// and the history holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_resubscribe_stays_the_forms_after_days_pass() {
    holds(Case {
        bulk: true,
        stored_form: false,
        drift_checks: false,
        udate_still: false,
        initial: vec![],
        events: vec![
            Event::Join(1),
            Event::Run,
            Event::Others(1, OthersAction::OptOutThenFormSubscribe),
            Event::Leave(1),
            Event::TimePasses,
        ],
    })
    .await;
}

/// Found at 597 cases: a contact acsync's bulk import created opts out and
/// a form subscribes it again; days later it is renamed. The full read that
/// finds it under its new address took the membership for acsync's with a
/// write that ended at that read, so the form's subscription looked like
/// acsync's own and the leaver was unsubscribed. acsync's write to a
/// contact its import created ends when acsync saw the import end
/// (docs/ownership.md, where ownership is kept).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_created_contact_resubscribed_by_a_form_then_renamed_stays_the_forms() {
    holds(Case {
        bulk: true,
        stored_form: false,
        drift_checks: false,
        udate_still: false,
        initial: vec![],
        events: vec![
            Event::Join(1),
            Event::Run,
            Event::Others(1, OthersAction::OptOutThenFormSubscribe),
            Event::TimePasses,
            Event::Others(1, OthersAction::RenameAway),
        ],
    })
    .await;
}

/// Found at 636 cases, with a drift check on every run: a contact acsync
/// created is renamed in ActiveCampaign; the drift check follows it to its
/// new address, acsync subscribes the old address again (a new contact),
/// and that address then leaves the segment: it must be unsubscribed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_re_added_after_its_contact_was_renamed_is_unsubscribed_when_it_leaves() {
    holds(Case {
        bulk: true,
        stored_form: false,
        drift_checks: true,
        udate_still: false,
        initial: vec![1],
        events: vec![
            Event::Run,
            Event::Run,
            Event::Others(1, OthersAction::RenameAway),
            Event::Run,
            Event::Run,
            Event::Leave(1),
        ],
    })
    .await;
}
