//! Following a bulk batch to its end, purely: when each batch in flight is
//! polled, when a wait has gone on too long, when a batch is resubmitted or
//! given up, and what the journal does at each step. The write's follower
//! (`run::apply`, `bulk.rs`) and the next run's follower of the batches a
//! killed run left journaled (`run::batches`) both step through
//! [`after_poll`]. Time is a [`Duration`] on the follower's own clock,
//! given with each answer.

use std::ops::Range;
use std::time::Duration;

use crate::activecampaign::{ApiError, BatchPoll, BatchResult, BatchStatus};

/// Resubmissions of a batch that ended `failed` or `interrupted`.
pub const BATCH_RETRIES: u32 = 2;

/// The importer's pacing as the client is configured.
pub struct PollPolicy<'a> {
    /// The least wait before a first poll (ActiveCampaign wants ≥ 1 s).
    pub interval: Duration,
    /// The longest one submission is followed.
    pub wait_max: Duration,
    /// The wait after a poll that found the batch unfinished, given the
    /// previous wait (the client's back-off).
    pub backoff: &'a (dyn Fn(Duration) -> Duration + Sync),
    /// Every batch is submitted and few are in flight (the run's tail): no
    /// submission waits for the request budget, so an unfinished batch is
    /// polled again sooner (see [`TAIL_REPOLL`]).
    pub tail: bool,
}

/// At the run's tail, the wait after a poll that found a batch unfinished:
/// this, ×1.5 per poll, up to the back-off's own wait. A first poll misses
/// when the batch is a little slower than the learned wait; the usual
/// back-off (1.5 s after a 1 s first poll) would then idle at the very end
/// of the run, when nothing else needs the budget (measured: the last batch
/// of most accounts). Mid-run, the usual back-off keeps the budget for
/// submissions.
pub const TAIL_REPOLL: Duration = Duration::from_millis(250);

/// The quick re-poll is for the last few batches only: a slow importer with
/// a minute of batches in flight would otherwise spend the budget on early
/// polls.
pub const TAIL_BATCHES: usize = 5;

/// Whether a poll is at the run's tail ([`PollPolicy::tail`]): no batch is
/// left to submit (`submitting` false) and fewer than [`TAIL_BATCHES`]
/// others are in flight.
pub fn at_tail(submitting: bool, others_in_flight: usize) -> bool {
    !submitting && others_in_flight < TAIL_BATCHES
}

/// The wait before polling again a batch found unfinished by its `polls`-th
/// poll, `delay` having been the previous wait.
pub fn repoll_delay(delay: Duration, polls: u32, policy: &PollPolicy<'_>) -> Duration {
    let usual = (policy.backoff)(delay);
    if !policy.tail {
        return usual;
    }
    let quick = TAIL_REPOLL.mul_f64(1.5f64.powi(polls.saturating_sub(1).min(16) as i32));
    quick.min(usual)
}

/// A batch the importer accepted, on its way to a terminal status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlight {
    /// Its items, as a range of the write's item list.
    pub range: Range<usize>,
    pub batch_id: String,
    /// When it was submitted, on the write's clock.
    pub submitted: Duration,
    /// Wall-clock submission time (Unix seconds): where the window of an
    /// unsubscribe it carries starts.
    pub sent_at: i64,
    /// Submissions so far (a batch that ended `failed` is sent again).
    pub attempt: u32,
    /// When to poll next, and the wait that led there (for the back-off).
    pub poll_at: Duration,
    pub delay: Duration,
    /// Polls of the current submission.
    pub polls: u32,
}

impl InFlight {
    /// A batch an earlier run left journaled, submitted `age` ago, on a
    /// clock that starts at its submission: polled at once, then after
    /// `interval` backed off.
    pub fn left_journaled(batch_id: String, age: Duration, interval: Duration) -> Self {
        InFlight {
            range: 0..0,
            batch_id,
            submitted: Duration::ZERO,
            sent_at: 0,
            attempt: 1,
            poll_at: age,
            delay: interval,
            polls: 0,
        }
    }

    /// Schedules the first poll `first` after submission.
    pub fn first_poll_in(mut self, first: Duration) -> Self {
        self.delay = first;
        self.poll_at = self.submitted + first;
        self
    }
}

/// The wait before a batch's first `/import/info` poll, learned from the
/// batches before it: a first poll that found its batch unfinished costs a
/// second request, so the wait grows by a quarter; one that found it done
/// may have waited too long, so it shrinks by 1%. At equilibrium about one
/// first poll in 25 misses, and a batch costs ~1.04 polls. Never below the
/// configured `poll_interval` (ActiveCampaign wants ≥ 1 s), never above 30 s.
pub fn first_poll_delay(current: Duration, done: bool, min: Duration) -> Duration {
    let max = Duration::from_secs(30).max(min);
    if done {
        current.mul_f64(0.99).max(min)
    } else {
        current.mul_f64(1.25).min(max)
    }
}

/// What to do after one poll of a batch.
#[derive(Debug)]
pub enum PollStep {
    /// Still running: poll again at `poll_at`.
    Again(InFlight),
    /// Followed past `bulk_wait_max`: in doubt as a
    /// [`ApiError::BatchTimeout`] (it stays journaled: the next run follows it).
    Expired {
        batch: InFlight,
        waited: Duration,
        status: Option<String>,
    },
    /// `/import/info` could not answer: no verdict (stays journaled; a
    /// fatal error stops the run, any other leaves the changes in doubt).
    Unknown(InFlight, ApiError),
    /// Completed: record its contacts, then forget it in the journal.
    Completed(InFlight, BatchResult),
    /// Ended `failed` or `interrupted` (nothing of it can land later) and
    /// is sent again (its resubmission also forgets it).
    Resubmit(InFlight, BatchStatus),
    /// Ended `failed` or `interrupted` once too often, or it is not to be
    /// resubmitted: forget it; its changes are in doubt.
    GiveUp(InFlight, BatchStatus),
}

impl PollStep {
    /// The journaled batch this step removes from the journal: one whose
    /// terminal status was seen, unless it is sent again (its resubmission
    /// replaces it).
    pub fn forgets(&self) -> Option<&str> {
        match self {
            PollStep::Completed(f, _) | PollStep::GiveUp(f, _) => Some(&f.batch_id),
            PollStep::Again(_)
            | PollStep::Expired { .. }
            | PollStep::Unknown(..)
            | PollStep::Resubmit(..) => None,
        }
    }
}

/// Reads one poll of `f` answered at `now`. The first poll of a submission
/// also tunes `first` (the learned wait before first polls). `resubmit`:
/// whether a batch that ended `failed` or `interrupted` may be sent again
/// (not when the run is stopping, nor by a follower that holds no contacts).
pub fn after_poll(
    mut f: InFlight,
    answer: Result<BatchPoll, ApiError>,
    now: Duration,
    first: &mut Duration,
    policy: &PollPolicy<'_>,
    resubmit: bool,
) -> PollStep {
    f.polls += 1;
    let poll = match answer {
        Ok(p) => p,
        Err(e) => return PollStep::Unknown(f, e),
    };
    if f.polls == 1 {
        let done = matches!(poll, BatchPoll::Done(_));
        *first = first_poll_delay(*first, done, policy.interval);
    }
    let result = match poll {
        BatchPoll::Pending(status) => {
            let waited = now.saturating_sub(f.submitted);
            f.delay = repoll_delay(f.delay, f.polls, policy);
            if waited + f.delay > policy.wait_max {
                return PollStep::Expired {
                    batch: f,
                    waited,
                    status,
                };
            }
            f.poll_at = now + f.delay;
            return PollStep::Again(f);
        }
        BatchPoll::Done(result) => result,
    };
    match result.status {
        BatchStatus::Completed => PollStep::Completed(f, result),
        status if f.attempt > BATCH_RETRIES || !resubmit => PollStep::GiveUp(f, status),
        status => PollStep::Resubmit(f, status),
    }
}

/// Of the batches in flight, the one to poll first and when.
pub fn next_due(flying: &[InFlight]) -> Option<(usize, Duration)> {
    flying
        .iter()
        .enumerate()
        .min_by_key(|(_, f)| f.poll_at)
        .map(|(i, f)| (i, f.poll_at))
}

#[cfg(test)]
#[path = "poll_tests.rs"]
mod tests;
