//! Following the bulk batches a killed (or timed-out) run left journaled,
//! before the next run reads the list (SPEC §4 rule 7: "including while
//! ActiveCampaign is still processing a batch that acsync sent"). A batch
//! is settled when `/import/info` reports a terminal status; one still
//! running keeps every pending intent in doubt. An error or an unknown
//! batch id is never a verdict on its own: it settles the batch only once
//! the batch is older than the longest a run ever waits for one, when a
//! read can no longer miss what it did.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::activecampaign::{BatchPoll, Client};
use crate::state::OpenBatch;

/// The journal id of a batch sent but not (yet) acknowledged with a batch
/// id: a run killed between the request and its answer leaves it. It can
/// only be followed through the account's outstanding-batch count.
pub const UNACKNOWLEDGED: &str = "unacknowledged:";

/// Which journaled batches reached their end.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Followed {
    pub settled: Vec<String>,
    pub unsettled: Vec<String>,
}

/// What one `/import/info` answer means for a journaled batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchVerdict {
    Settled,
    /// Poll again later (within the wait bound).
    Running,
    Unsettled,
}

/// The pure rule: `answer` is `Some(true)` for a terminal status,
/// `Some(false)` for one still processing, `None` for an error or an
/// unknown batch; `age` is the time since submission.
pub fn judge(answer: Option<bool>, age: Duration, wait_max: Duration) -> BatchVerdict {
    match answer {
        Some(true) => BatchVerdict::Settled,
        Some(false) if age < wait_max => BatchVerdict::Running,
        None if age >= wait_max => BatchVerdict::Settled,
        Some(false) | None => BatchVerdict::Unsettled,
    }
}

/// Follows each batch until it ends, or until `submitted + bulk_wait_max`.
pub async fn follow(client: &Client, batches: &[OpenBatch], now: DateTime<Utc>) -> Followed {
    let mut out = Followed::default();
    for b in batches {
        let settled = follow_one(client, b, now).await;
        let id = b.batch_id.clone();
        if settled {
            out.settled.push(id);
        } else {
            tracing::warn!(batch = %id, "a batch sent by an earlier run has not finished; its contacts are left as they are until it does");
            out.unsettled.push(id);
        }
    }
    out
}

async fn follow_one(client: &Client, b: &OpenBatch, now: DateTime<Utc>) -> bool {
    let wait_max = client.bulk_wait_max();
    let started = tokio::time::Instant::now();
    let base_age = (now - b.submitted_at).to_std().unwrap_or(Duration::ZERO);
    let mut delay = client.poll_interval();
    loop {
        let answer = poll(client, &b.batch_id).await;
        match judge(answer, base_age + started.elapsed(), wait_max) {
            BatchVerdict::Settled => return true,
            BatchVerdict::Unsettled => return false,
            BatchVerdict::Running => {}
        }
        tokio::time::sleep(delay).await;
        delay = client.next_poll_delay(delay);
    }
}

/// `Some(true)` when the batch (or, for an unacknowledged one, every batch
/// of the account) is done, `Some(false)` while running, `None` on error.
async fn poll(client: &Client, batch_id: &str) -> Option<bool> {
    let answer = if batch_id.starts_with(UNACKNOWLEDGED) {
        client.bulk_outstanding().await.map(|n| n == 0)
    } else {
        client
            .bulk_info(batch_id)
            .await
            .map(|p| matches!(p, BatchPoll::Done(_)))
    };
    answer
        .inspect_err(
            |e| tracing::warn!(batch = %batch_id, error = %e, "cannot follow a journaled batch"),
        )
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_end_or_old_age_settles_a_batch() {
        let max = Duration::from_secs(1800);
        let young = Duration::from_secs(5);
        let old = Duration::from_secs(1800);
        assert_eq!(judge(Some(true), young, max), BatchVerdict::Settled);
        assert_eq!(judge(Some(false), young, max), BatchVerdict::Running);
        assert_eq!(judge(Some(false), old, max), BatchVerdict::Unsettled);
        // An /import/info error or unknown batch is no verdict while the
        // batch may still be processing.
        assert_eq!(judge(None, young, max), BatchVerdict::Unsettled);
        assert_eq!(judge(None, old, max), BatchVerdict::Settled);
    }
}
