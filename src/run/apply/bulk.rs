//! The executor of bulk import, pipelined: a submitter cuts, journals and
//! submits batches while a follower polls every batch in flight at its own
//! time, so a run is paced by ActiveCampaign's limits (100 imports a
//! minute, 5 requests a second) and not by waiting for one batch at a time.
//! Each batch's contacts are built only when it is sent. What each answer
//! means, and when to poll, is decided by the core ([`super::answers`],
//! [`crate::run::poll`]).

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::sleep_until;

use super::answers::{CompletedBatch, ContactOnList};
use super::decide::{AfterSubmit, Item, Submission, after_submit};
use super::{Applier, unix_now};
use crate::activecampaign::{ApiError, BatchResult, Batcher, BulkContact};
use crate::run::error::RunError;
use crate::run::history::{LandedChange, LandedEntries, Op};
use crate::run::poll::{InFlight, PollPolicy, PollStep, after_poll, at_tail, next_due};
use crate::state::{JournalStep, UNACKNOWLEDGED};

impl Applier<'_> {
    pub(super) async fn bulk(&self, items: &[Item<'_>]) -> Result<(), RunError> {
        let (tx, rx) = mpsc::unbounded_channel::<InFlight>();
        let submit = async move {
            let mut batcher = Batcher::new();
            let mut start = 0;
            let send = async |sub: Submission, batch| {
                for f in self.submit(items, sub, batch).await? {
                    tx.send(f).map_err(|_| {
                        if self.cancel.is_cancelled() {
                            RunError::Cancelled
                        } else {
                            RunError::Internal("batch follower stopped".into())
                        }
                    })?;
                }
                Ok::<(), RunError>(())
            };
            for (i, item) in items.iter().enumerate() {
                if let Some(batch) = batcher.push(self.core.bulk_contact(item)) {
                    send(Submission::first(start..i), batch).await?;
                    start = i;
                }
            }
            if let Some(batch) = batcher.finish() {
                send(Submission::first(start..items.len()), batch).await?;
            }
            // Dropping `tx` here tells the follower no batch is coming.
            Ok::<(), RunError>(())
        };
        let (a, b) = tokio::join!(submit, self.follow_all(items, rx));
        a.and(b)
    }

    /// The time on the write's clock.
    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// Sends `sub` (`batch`: its contacts) and what a rejection naming some
    /// of its contacts leaves of it, each journaled before it is sent; the
    /// batches accepted are returned, to be followed.
    async fn submit(
        &self,
        items: &[Item<'_>],
        sub: Submission,
        batch: Vec<BulkContact>,
    ) -> Result<Vec<InFlight>, RunError> {
        let mut accepted = Vec::new();
        let mut built = Some(batch);
        let mut todo = vec![sub];
        while let Some(sub) = todo.pop() {
            if self.cancel.is_cancelled() {
                return Err(RunError::Cancelled);
            }
            self.unsubscribes_create_nobody()?;
            let batch_items = &items[sub.range.clone()];
            let batch = built.take().unwrap_or_else(|| {
                batch_items
                    .iter()
                    .map(|i| self.core.bulk_contact(i))
                    .collect()
            });
            match self.submit_once(&sub, batch_items, &batch).await? {
                AfterSubmit::Accepted(id) => {
                    accepted.push(sub.accepted(id, self.now(), unix_now()));
                }
                AfterSubmit::RejectNamed(named) => {
                    tracing::warn!(export = %self.export.id, rejected = named.len(), of = batch_items.len(), "bulk import rejected a batch for some of its contacts; the rest is sent again");
                    let rows = self
                        .core
                        .reject_named(&mut self.tally(), batch_items, &named);
                    self.save(rows).await?;
                    let rest = sub.rest(named.iter().map(|(i, _)| *i));
                    todo.extend(rest.into_iter().rev());
                }
                AfterSubmit::Split => {
                    tracing::warn!(export = %self.export.id, of = batch_items.len(), "bulk import rejected a batch naming contacts it cannot be told which; each half is sent again");
                    todo.extend(sub.halves().into_iter().rev());
                }
                AfterSubmit::Failed(e) => self.submit_failed(batch_items, e).await?,
            }
        }
        Ok(accepted)
    }

    /// One submission: journaled before sending (killed before the answer,
    /// the next run still knows a batch may be on its way), then under its
    /// id once accepted.
    async fn submit_once(
        &self,
        sub: &Submission,
        items: &[Item<'_>],
        batch: &[BulkContact],
    ) -> Result<AfterSubmit, RunError> {
        let placeholder = format!("{UNACKNOWLEDGED}{}", uuid_like());
        let before = self.core.before_submit(sub, items, &placeholder);
        self.save_with_journal(before.members, before.steps, None)
            .await?;
        let answer = self
            .client
            .bulk_submit(batch, self.export.exclude_automations)
            .await;
        let emails: Vec<&str> = batch.iter().map(|c| c.email.as_str()).collect();
        let step = after_submit(answer, &emails, &placeholder);
        self.save_with_journal(Vec::new(), step.journal, None)
            .await?;
        Ok(step.then)
    }

    async fn submit_failed(&self, items: &[Item<'_>], e: ApiError) -> Result<(), RunError> {
        let rows = self.core.submit_failed(&mut self.tally(), items, e)?;
        self.save(rows).await
    }

    /// Follows every submitted batch to its end, or until the run is
    /// cancelled. Batches wait in a small
    /// list (at most ~100 are in flight: a minute of imports); the one due
    /// first is polled next. The wait before a batch's first poll is learned
    /// from the batches before it (see [`crate::run::poll::first_poll_delay`]),
    /// so most batches cost one poll.
    async fn follow_all(
        &self,
        items: &[Item<'_>],
        mut rx: mpsc::UnboundedReceiver<InFlight>,
    ) -> Result<(), RunError> {
        let mut flying: Vec<InFlight> = Vec::new();
        let mut first = self.client.poll_interval();
        let mut open = true;
        loop {
            let due = next_due(&flying);
            if !open && due.is_none() {
                return Ok(());
            }
            let wake = due.map_or(Duration::from_secs(3600) + self.now(), |d| d.1);
            tokio::select! {
                // A shutdown does not wait for ActiveCampaign: the batches in
                // flight stay journaled, and the next run follows them (see
                // docs/run-rules.md, crash safety).
                () = self.cancel.cancelled() => return Err(RunError::Cancelled),
                msg = rx.recv(), if open => match msg {
                    Some(f) => flying.push(f.first_poll_in(first)),
                    None => open = false,
                },
                () = sleep_until(self.epoch + wake), if due.is_some() => {
                    if let Some((i, _)) = due {
                        let f = flying.swap_remove(i);
                        let tail = at_tail(open, flying.len());
                        let step = self.poll_batch(f, &mut first, tail).await;
                        flying.extend(self.perform(items, step, first).await?);
                    }
                }
            }
        }
    }

    /// Polls one batch: what the core makes of the answer. `tail`: every
    /// batch is submitted and this is one of the last few in flight.
    async fn poll_batch(&self, f: InFlight, first: &mut Duration, tail: bool) -> PollStep {
        let answer = self.client.bulk_info(&f.batch_id).await;
        let client = self.client;
        let backoff = |d| client.next_poll_delay(d);
        let policy = PollPolicy {
            interval: client.poll_interval(),
            wait_max: client.bulk_wait_max(),
            backoff: &backoff,
            tail,
        };
        let resubmit = !self.cancel.is_cancelled();
        after_poll(f, answer, self.now(), first, &policy, resubmit)
    }

    /// Performs one [`PollStep`]: the batches to follow next (the one
    /// polled again, or what was resubmitted, first polled `first` after).
    async fn perform(
        &self,
        items: &[Item<'_>],
        step: PollStep,
        first: Duration,
    ) -> Result<Vec<InFlight>, RunError> {
        let forget: Vec<JournalStep> = step
            .forgets()
            .map(|id| JournalStep::Remove(id.to_owned()))
            .into_iter()
            .collect();
        match step {
            PollStep::Again(f) => return Ok(vec![f]),
            PollStep::Expired {
                batch,
                waited,
                status,
            } => {
                let e = self.client.batch_timeout(&batch.batch_id, waited, status);
                self.submit_failed(&items[batch.range], e).await?;
            }
            PollStep::Unknown(f, e) => {
                let why = e.to_string();
                let rows = &items[f.range.clone()];
                self.core
                    .info_failed(&mut self.tally(), rows, &f.batch_id, e)?;
                tracing::warn!(export = %self.export.id, batch = %f.batch_id, error = %why, "cannot read a bulk batch's outcome; a read of the list settles it");
            }
            PollStep::Completed(f, result) => {
                let batch = &items[f.range.clone()];
                let done = self.record_batch(batch, &result, f.sent_at).await?;
                self.core
                    .created_by_unsubscribes(&mut self.tally(), batch, &result);
                let history = self.landed_history(&f.batch_id, batch, &done.refused);
                let mut journal = forget;
                if !result.created_ids.is_empty() {
                    journal.push(JournalStep::Created(result.created_ids.clone()));
                }
                // Its outcome, the contacts it created, its history and its
                // leaving the journal: one transaction.
                self.save_with_journal(done.members, journal, history)
                    .await?;
            }
            PollStep::GiveUp(f, status) => {
                tracing::warn!(export = %self.export.id, batch = %f.batch_id, ?status, attempt = f.attempt, "bulk batch did not complete");
                let rows = &items[f.range.clone()];
                self.core
                    .batch_given_up(&mut self.tally(), rows, &f.batch_id, status);
                self.save_with_journal(Vec::new(), forget, None).await?;
            }
            PollStep::Resubmit(f, status) => {
                tracing::warn!(export = %self.export.id, batch = %f.batch_id, ?status, attempt = f.attempt, "bulk batch did not complete; sending it again");
                let sub = Submission::again(&f);
                let batch_items = &items[sub.range.clone()];
                let batch = batch_items
                    .iter()
                    .map(|i| self.core.bulk_contact(i))
                    .collect();
                let sent = self.submit(items, sub, batch).await?;
                return Ok(sent.into_iter().map(|f| f.first_poll_in(first)).collect());
            }
        }
        Ok(Vec::new())
    }

    /// The history entries of a completed batch's changes that landed
    /// (all but `refused`, ascending indexes into `items`, as
    /// `batch_completed` gives them); refused ones are recorded at the end
    /// of the run, with what their lookup found.
    fn landed_history(
        &self,
        batch_id: &str,
        items: &[Item<'_>],
        refused: &[usize],
    ) -> Option<LandedEntries> {
        let record = self.history.as_ref()?;
        let landed = items
            .iter()
            .enumerate()
            .filter(|(i, _)| refused.binary_search(i).is_err())
            .map(|(_, it)| LandedChange {
                slot: it.slot,
                email: it.email,
                op: Op::of(it.op),
                fields: it.fields,
            });
        Some(record.landed(batch_id, landed))
    }

    /// The member rows of a completed batch: the contacts that landed, and
    /// each one it refused, looked up (within the budget) to tell an opt-out
    /// from a refusal; and the indexes of the refused ones.
    async fn record_batch(
        &self,
        items: &[Item<'_>],
        result: &BatchResult,
        sent_at: i64,
    ) -> Result<CompletedBatch, RunError> {
        let mut done =
            self.core
                .batch_completed(&mut self.tally(), items, result, sent_at, unix_now());
        for &i in &done.refused {
            let item = &items[i];
            let lookup = if self.core.wants_lookup(&mut self.tally(), item) {
                self.lookup(item.email).await
            } else {
                Ok(None)
            };
            let member = self
                .core
                .refused_in_batch(&mut self.tally(), item, lookup)?;
            done.members.push(member);
        }
        Ok(done)
    }

    /// A contact's id and status on the list (`None`: no such contact).
    pub(super) async fn lookup(&self, email: &str) -> Result<Option<ContactOnList>, ApiError> {
        let Some(contact_id) = self.client.find_contact(email).await? else {
            return Ok(None);
        };
        let status = self
            .client
            .list_status_of(contact_id, self.export.list_id)
            .await?;
        Ok(Some(ContactOnList { contact_id, status }))
    }
}

/// A process-unique tag for an unacknowledged batch's journal row.
fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!(
        "{}-{}-{n}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros()
    )
}
