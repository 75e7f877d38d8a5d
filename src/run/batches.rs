//! Following the bulk batches a killed (or timed-out) run left journaled,
//! before the next run reads the list (see docs/run-rules.md, crash
//! safety: a run converges "including while ActiveCampaign is still
//! processing a batch that acsync sent"). Each batch is followed with the
//! write's own rule ([`after_poll`]): a batch is settled when its terminal
//! status is seen. One whose end cannot be learnt (`/import/info` says it
//! is still running, or does not know it, or, without a batch id, the
//! account never runs out of outstanding imports) is settled by the run's
//! read once it is older than the bound, the longest a run waits for a
//! batch (docs/run-rules.md, batches): see [`settled_without_answer`].

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::activecampaign::{ApiError, BatchPoll, BatchResult, BatchStatus, Client};
use crate::run::poll::{InFlight, PollPolicy, PollStep, after_poll};
use crate::state::{OpenBatch, UNACKNOWLEDGED};

/// Which journaled batches reached their end.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Followed {
    pub settled: Vec<String>,
    /// Of `settled`, those past the bound whose end ActiveCampaign never
    /// told: the read settles their changes.
    pub by_reading: Vec<String>,
    pub unsettled: Vec<String>,
    /// The contacts the settled batches created (docs/ownership.md).
    pub created: Vec<u64>,
}

/// Whether a journaled batch whose end ActiveCampaign does not tell (an
/// error, an unknown batch id, "still running") counts as settled, `age`
/// after its submission: once it is older than the bound, the longest a run
/// ever waits for a batch (`wait_max`), its changes are settled by what the
/// read shows.
pub fn settled_without_answer(age: Duration, wait_max: Duration) -> bool {
    age >= wait_max
}

/// Follows each batch until it ends, or until `submitted + bulk_wait_max`.
pub async fn follow(client: &Client, batches: &[OpenBatch], now: DateTime<Utc>) -> Followed {
    let mut out = Followed::default();
    for b in batches {
        let id = b.batch_id.clone();
        match follow_one(client, b, now).await {
            BatchEnd::Seen(created) => {
                out.created.extend(created);
                out.settled.push(id);
            }
            BatchEnd::PastBound => {
                tracing::warn!(batch = %id, "ActiveCampaign has not told the end of a batch older than the longest wait; the read settles its contacts");
                out.by_reading.push(id.clone());
                out.settled.push(id);
            }
            BatchEnd::Running => {
                tracing::warn!(batch = %id, "a batch sent by an earlier run has not finished; its contacts are left as they are until it does");
                out.unsettled.push(id);
            }
        }
    }
    out
}

/// How following one journaled batch ended.
enum BatchEnd {
    /// Its terminal status was seen, with the contacts it created.
    Seen(Vec<u64>),
    /// Past the bound with no end told: settled by reading.
    PastBound,
    /// Within the bound and not known to have ended.
    Running,
}

/// Follows one batch on a clock that starts at its submission.
async fn follow_one(client: &Client, b: &OpenBatch, now: DateTime<Utc>) -> BatchEnd {
    let age = (now - b.submitted_at).to_std().unwrap_or(Duration::ZERO);
    let backoff = |d| client.next_poll_delay(d);
    let policy = PollPolicy {
        interval: client.poll_interval(),
        wait_max: client.bulk_wait_max(),
        backoff: &backoff,
        tail: false,
    };
    let started = tokio::time::Instant::now();
    let clock = || age + started.elapsed();
    let mut batch = InFlight::left_journaled(b.batch_id.clone(), age, policy.interval);
    // Only the write learns its first-poll wait.
    let mut first = policy.interval;
    loop {
        tokio::time::sleep(batch.poll_at.saturating_sub(clock())).await;
        let answer = poll(client, &batch.batch_id).await;
        let unanswered = match after_poll(batch, answer, clock(), &mut first, &policy, false) {
            PollStep::Again(next) => {
                batch = next;
                continue;
            }
            PollStep::Completed(_, result) => return BatchEnd::Seen(result.created_ids),
            PollStep::GiveUp(..) | PollStep::Resubmit(..) => return BatchEnd::Seen(Vec::new()),
            PollStep::Expired { .. } => None,
            PollStep::Unknown(f, e) => Some((f, e)),
        };
        if let Some((f, e)) = unanswered {
            tracing::warn!(batch = %f.batch_id, error = %e, "cannot follow a journaled batch");
        }
        return if settled_without_answer(clock(), policy.wait_max) {
            BatchEnd::PastBound
        } else {
            BatchEnd::Running
        };
    }
}

/// One poll of a journaled batch; for an unacknowledged one (no batch id
/// known), of the account's outstanding batches: done once none is left.
async fn poll(client: &Client, batch_id: &str) -> Result<BatchPoll, ApiError> {
    if !batch_id.starts_with(UNACKNOWLEDGED) {
        return client.bulk_info(batch_id).await;
    }
    let outstanding = client.bulk_outstanding().await?;
    Ok(match outstanding {
        0 => BatchPoll::Done(BatchResult {
            status: BatchStatus::Completed,
            created_ids: Vec::new(),
            failed_emails: Vec::new(),
        }),
        _ => BatchPoll::Pending(None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unanswered_poll_settles_only_a_batch_older_than_any_wait() {
        let max = Duration::from_secs(1800);
        assert!(!settled_without_answer(Duration::from_secs(5), max));
        assert!(settled_without_answer(max, max));
    }
}
