//! The failures the generative test found, shrunk, each a fixed history
//! replayed by the same driver and oracle.

use super::drive::replay;
use super::events::{Case, Event, OthersAction};

async fn holds(case: Case) {
    if let Err(e) = replay(&case).await {
        panic!("{e}\n{case:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_run_adds_the_segment() {
    holds(Case {
        bulk: false,
        initial: vec![0, 1],
        events: vec![Event::Run],
    })
    .await;
}

/// A member set to status 91 by someone else, still in the segment: the
/// full read must keep it, not set it active (docs/run-rules.md, kept
/// statuses).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fixed by the provenance core: an unknown status is never overwritten"]
async fn status_91_in_the_segment_is_kept() {
    holds(Case {
        bulk: false,
        initial: vec![6],
        events: vec![Event::Run, Event::Others(6, OthersAction::Status91)],
    })
    .await;
}

/// acsync unsubscribed a leaver; a form subscribed them again: the
/// membership is the form's now, and a full read must not unsubscribe it
/// (docs/ownership.md: a re-subscribe by others ends ownership).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fixed by the provenance core: a re-subscribe by others ends ownership"]
async fn a_form_subscribe_after_acsyncs_unsubscribe_is_not_unsubscribed_again() {
    holds(Case {
        bulk: false,
        initial: vec![4],
        events: vec![
            Event::Run,
            Event::Leave(4),
            Event::Run,
            Event::Others(4, OthersAction::FormSubscribe),
        ],
    })
    .await;
}
