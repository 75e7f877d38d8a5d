//! Unit tests of following a batch to its end ([`super`]): when a batch is
//! polled, expires, is resubmitted or given up, with no IO and no clock.

use std::time::Duration;

use super::*;
use crate::activecampaign::{ApiError, BatchPoll, BatchResult, BatchStatus};
use crate::run::apply::decide::Submission;

const SENT: i64 = 1_000;
const NOW: i64 = 1_050;

fn unanswered() -> ApiError {
    ApiError::Decode {
        connection: "c".into(),
        endpoint: "/import/info".into(),
        reason: "not JSON".into(),
    }
}

fn policy(backoff: &(dyn Fn(Duration) -> Duration + Sync)) -> PollPolicy<'_> {
    PollPolicy {
        interval: Duration::from_secs(1),
        wait_max: Duration::from_secs(60),
        backoff,
        tail: false,
    }
}

#[test]
fn the_tail_is_the_last_few_batches_once_every_batch_is_submitted() {
    assert!(!at_tail(true, 0), "still submitting");
    assert!(at_tail(false, 0));
    assert!(at_tail(false, TAIL_BATCHES - 1));
    assert!(
        !at_tail(false, TAIL_BATCHES),
        "a minute of batches in flight"
    );
}

#[test]
fn at_the_tail_an_unfinished_batch_is_polled_again_sooner_up_to_the_backoff() {
    let backoff = |d: Duration| d.mul_f64(1.5);
    let mid = policy(&backoff);
    let tail = PollPolicy {
        tail: true,
        ..policy(&backoff)
    };
    let ms = Duration::from_millis;
    assert_eq!(
        repoll_delay(secs(1), 1, &mid),
        ms(1500),
        "mid-run: the back-off"
    );
    let waits: Vec<Duration> = (1..=6).map(|p| repoll_delay(secs(1), p, &tail)).collect();
    assert_eq!(
        waits[..4],
        [
            ms(250),
            ms(375),
            ms(562) + Duration::from_micros(500),
            ms(843) + Duration::from_micros(750)
        ]
    );
    assert_eq!(waits[5], ms(1500), "never past the back-off");
    let mut first = secs(1);
    let f = Submission::first(0..3)
        .accepted("b1".into(), secs(10), SENT)
        .first_poll_in(secs(1));
    let step = after_poll(
        f,
        Ok(BatchPoll::Pending(None)),
        secs(11),
        &mut first,
        &tail,
        true,
    );
    assert!(
        matches!(step, PollStep::Again(ref f) if f.poll_at == secs(11) + ms(250)),
        "{step:?}"
    );
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn flying() -> InFlight {
    Submission::first(0..3)
        .accepted("b1".into(), secs(10), SENT)
        .first_poll_in(secs(2))
}

fn done(status: BatchStatus) -> Result<BatchPoll, ApiError> {
    Ok(BatchPoll::Done(BatchResult {
        status,
        created_ids: vec![],
        failed_emails: vec![],
    }))
}

#[test]
fn the_first_poll_wait_learns_within_bounds() {
    let min = secs(1);
    assert_eq!(first_poll_delay(secs(4), false, min), secs(5));
    assert_eq!(first_poll_delay(secs(100), true, min), secs(99));
    assert_eq!(first_poll_delay(secs(29), false, min), secs(30), "capped");
    assert_eq!(
        first_poll_delay(secs(1), true, min),
        min,
        "never below poll_interval"
    );
    assert_eq!(flying().poll_at, secs(12));
}

#[test]
fn a_running_batch_is_polled_again_after_the_backoff() {
    let double = |d: Duration| d * 2;
    let mut first = secs(2);
    let step = after_poll(
        flying(),
        Ok(BatchPoll::Pending(None)),
        secs(12),
        &mut first,
        &policy(&double),
        true,
    );
    let PollStep::Again(f) = step else {
        panic!("{step:?}")
    };
    assert_eq!((f.delay, f.poll_at, f.polls), (secs(4), secs(16), 1));
    assert_eq!(
        first,
        secs(2) + secs(2) / 4,
        "a first poll that missed grows the wait"
    );
    assert!(step_forgets_nothing(PollStep::Again(f.clone())));
    let step = after_poll(
        f,
        Ok(BatchPoll::Pending(None)),
        secs(16),
        &mut first,
        &policy(&double),
        true,
    );
    assert!(matches!(step, PollStep::Again(ref f) if f.poll_at == secs(24)));
    assert_eq!(first, secs(2) + secs(2) / 4, "only first polls tune it");
}

fn step_forgets_nothing(s: PollStep) -> bool {
    s.forgets().is_none()
}

#[test]
fn a_batch_followed_past_bulk_wait_max_expires_in_doubt_and_stays_journaled() {
    let double = |d: Duration| d * 2;
    let mut first = secs(2);
    let mut f = flying();
    f.delay = secs(16);
    let step = after_poll(
        f,
        Ok(BatchPoll::Pending(Some("processing".into()))),
        secs(50),
        &mut first,
        &policy(&double),
        true,
    );
    let PollStep::Expired {
        waited, ref status, ..
    } = step
    else {
        panic!("{step:?}")
    };
    assert_eq!((waited, status.as_deref()), (secs(40), Some("processing")));
    assert_eq!(step.forgets(), None, "the next run follows it");
}

#[test]
fn a_completed_batch_is_recorded_then_removed_from_the_journal() {
    let same = |d: Duration| d;
    let mut first = secs(2);
    let step = after_poll(
        flying(),
        done(BatchStatus::Completed),
        secs(12),
        &mut first,
        &policy(&same),
        true,
    );
    assert!(matches!(step, PollStep::Completed(..)));
    assert_eq!(step.forgets(), Some("b1"));
    assert!(
        first < secs(2),
        "a first poll that found it done shrinks the wait"
    );
}

#[test]
fn a_failed_batch_is_resubmitted_twice_then_given_up() {
    let same = |d: Duration| d;
    let mut first = secs(2);
    for status in [BatchStatus::Failed, BatchStatus::Interrupted] {
        let step = after_poll(
            flying(),
            done(status),
            secs(12),
            &mut first,
            &policy(&same),
            true,
        );
        assert!(matches!(step, PollStep::Resubmit(_, s) if s == status));
        assert_eq!(step.forgets(), None, "its resubmission replaces it");
    }
    let mut f = flying();
    for attempt in 1..=BATCH_RETRIES {
        assert_eq!(f.attempt, attempt);
        let again = Submission::again(&f);
        assert_eq!(again.replaces.as_deref(), Some(f.batch_id.as_str()));
        let id = format!("b{}", attempt + 1);
        f = again.accepted(id, secs(20), NOW).first_poll_in(secs(3));
    }
    assert_eq!((f.polls, f.poll_at, f.sent_at), (0, secs(23), NOW));
    let step = after_poll(
        f,
        done(BatchStatus::Failed),
        secs(30),
        &mut first,
        &policy(&same),
        true,
    );
    assert!(matches!(step, PollStep::GiveUp(..)));
    assert_eq!(step.forgets(), Some("b3"));
}

#[test]
fn a_failed_batch_not_to_be_resubmitted_is_given_up() {
    let same = |d: Duration| d;
    let mut first = secs(2);
    let step = after_poll(
        flying(),
        done(BatchStatus::Failed),
        secs(12),
        &mut first,
        &policy(&same),
        false,
    );
    assert!(matches!(step, PollStep::GiveUp(..)));
}

#[test]
fn an_unanswered_poll_is_no_verdict_and_keeps_the_journal() {
    let same = |d: Duration| d;
    let mut first = secs(2);
    let step = after_poll(
        flying(),
        Err(unanswered()),
        secs(12),
        &mut first,
        &policy(&same),
        true,
    );
    assert!(matches!(step, PollStep::Unknown(..)));
    assert_eq!(step.forgets(), None);
    assert_eq!(first, secs(2), "no answer teaches nothing");
}

#[test]
fn the_batch_due_first_is_polled_first() {
    let mut a = flying();
    a.poll_at = secs(30);
    let mut b = flying();
    b.poll_at = secs(20);
    assert_eq!(next_due(&[a, b]), Some((1, secs(20))));
    assert_eq!(next_due(&[]), None);
}

// ---- following a batch an earlier run left journaled ----

#[test]
fn a_batch_left_journaled_is_polled_at_once_then_backed_off_until_the_wait_ends() {
    let double = |d: Duration| d * 2;
    let mut first = secs(1);
    let f = InFlight::left_journaled("b9".into(), secs(20), secs(1));
    assert_eq!(f.poll_at, secs(20), "at once");
    let step = after_poll(
        f,
        Ok(BatchPoll::Pending(None)),
        secs(20),
        &mut first,
        &policy(&double),
        false,
    );
    let PollStep::Again(f) = step else {
        panic!("{step:?}")
    };
    assert_eq!(f.poll_at, secs(22));
    let step = after_poll(
        f,
        Ok(BatchPoll::Pending(None)),
        secs(58),
        &mut first,
        &policy(&double),
        false,
    );
    assert!(matches!(step, PollStep::Expired { .. }), "past wait_max");
    let f = InFlight::left_journaled("b9".into(), secs(20), secs(1));
    let step = after_poll(
        f,
        done(BatchStatus::Failed),
        secs(20),
        &mut first,
        &policy(&double),
        false,
    );
    assert!(
        matches!(step, PollStep::GiveUp(..)),
        "ended, never sent again"
    );
}
