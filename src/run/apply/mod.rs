//! Executes a [`Plan`] through the client, journaling every change: the
//! intent is saved before a request is sent and the outcome after, so a run
//! killed at any instant leaves `pending` marks that the next run resolves
//! against a full read (see docs/run-rules.md, crash safety). Changes of
//! ten or more contacts (or any change carrying tags, or any when
//! `exclude_automations` is set) go through bulk import, pipelined: batches
//! are submitted while earlier ones are followed to their end; fewer go
//! through `contact/sync` and `contactLists`. Resubscribes and removals by
//! contact id always do: bulk import can do neither (it refuses to
//! resubscribe, and knows contacts only by email).
//!
//! Every bulk submission, a resubmission of a batch that ended `failed` or
//! `interrupted` included, is journaled before it is sent (as
//! `unacknowledged:…`, then under its batch id in one transaction with the
//! answer), so a run killed at any instant leaves the next run every batch
//! ActiveCampaign may be processing. A bulk request rejected whole for some
//! of its contacts (400 with `failureReasons` naming their indexes: nothing
//! was queued) fails those contacts with ActiveCampaign's reason and sends
//! the rest again at once.
//!
//! A change whose outcome is unknown when its requests end (a batch given up
//! `failed` or `interrupted` after its resubmissions, retries exhausted on a
//! request that may have landed, an `/import/info` that cannot answer for a
//! queued batch) is "in doubt". Before the run ends, one read
//! of the list settles every doubt it can: a change that landed counts as
//! applied, the rest as failed, so `failed` is exactly the contacts whose
//! change did not land. Unsettled ones keep their intent for the next run.
//!
//! Layout: every decision is pure, in [`decide`], [`answers`], [`exchange`]
//! (the requests of one change), [`verify`] (the reads before a destructive
//! write) and [`crate::run::poll`] (following a batch to its end, shared
//! with the next run's follower), unit-tested without IO (`tests.rs`,
//! `exchange.rs`);
//! this file, `single.rs`, `bulk.rs` and `checks.rs` are the executor,
//! which sends the requests and performs the database writes those
//! decisions name.

pub mod answers;
mod bulk;
mod checks;
pub mod decide;
pub mod exchange;
mod rejection;
mod single;
pub mod verify;

use std::sync::Mutex;

use tokio_util::sync::CancellationToken;

use crate::activecampaign::Client;
use crate::config::Export;
use crate::model::{Known, Member, PendingOp};
use crate::plan::Plan;
use crate::run::db::RunDb;
use crate::run::error::RunError;
use crate::run::history::{ChangeEnd, LandedEntries, RunRecord, Slots};
use crate::segment::Segment;
use crate::state::JournalStep;

pub use decide::WriteTally;
use decide::{Item, WriteCore};

/// The executor of one write: the client, the state database, the
/// cancellation, and the pure core that decides.
pub struct Applier<'a> {
    pub export: &'a Export,
    pub client: &'a Client,
    db: RunDb,
    /// The segment: a removal whose contact now has another email that the
    /// segment holds is not made.
    pub segment: &'a Segment,
    pub cancel: &'a CancellationToken,
    core: WriteCore<'a>,
    tally: Mutex<WriteTally>,
    /// The account and list the member rows are kept under.
    scope: String,
    /// The write's clock: bulk timing is kept as time since this instant.
    epoch: tokio::time::Instant,
    /// The run history a completed batch's landed changes go to.
    history: Option<RunRecord>,
}

impl<'a> Applier<'a> {
    pub fn new(
        export: &'a Export,
        client: &'a Client,
        db: &RunDb,
        known: &'a Known,
        segment: &'a Segment,
        cancel: &'a CancellationToken,
    ) -> Self {
        let core = WriteCore {
            known,
            list_id: export.list_id,
            tags: &export.tags,
            exclude_automations: export.exclude_automations,
            maps_custom_fields: !export.mapping.fields.is_empty(),
            field_ids: Default::default(),
            started_at: unix_now(),
            listed_now: false,
        };
        Applier {
            export,
            client,
            db: db.clone(),
            segment,
            cancel,
            core,
            tally: Mutex::new(WriteTally::default()),
            scope: crate::state::scope_of(export),
            epoch: tokio::time::Instant::now(),
            history: None,
        }
    }

    /// Records each completed batch's landed changes in the run history
    /// with the batch's outcome (see [`RunRecord`]).
    pub fn with_history(mut self, record: Option<RunRecord>) -> Self {
        self.history = record;
        self
    }

    /// The run read the list in full before planning (see
    /// [`WriteCore::checks_adds`]).
    pub fn with_list_read_now(mut self, read: bool) -> Self {
        self.core.listed_now = read;
        self
    }

    /// The custom fields the run resolved before planning (see
    /// [`crate::run::fields`]): each `[mapping.fields]` key's field id.
    pub fn with_fields(mut self, fields: &crate::target_check::Resolved) -> Self {
        self.core.field_ids = fields.iter().map(|(k, d)| (k.clone(), d.id)).collect();
        self
    }

    /// Applies the plan, then settles the changes left in doubt. Returns the
    /// tally even when the run stops early.
    pub async fn apply(self, plan: &Plan) -> (WriteTally, Result<(), RunError>) {
        let mut result = self.apply_inner(plan).await;
        let stopped = result.is_err() || self.cancel.is_cancelled();
        if let Err(e) = self.settle_doubts(stopped).await {
            result = result.and(Err(e));
        }
        let tally = self.tally.into_inner().unwrap_or_else(|p| p.into_inner());
        (tally, result)
    }

    async fn apply_inner(&self, plan: &Plan) -> Result<(), RunError> {
        self.save(self.core.matching_hashes(&plan.record_hashes))
            .await?;
        let slots = Slots::of(plan);
        let adds = plan.adds.iter().enumerate();
        let adds = adds.map(|(i, c)| Item::change(slots.add(i), PendingOp::Add, c));
        let updates = plan.updates.iter().enumerate();
        let updates = updates.map(|(i, c)| Item::change(slots.update(i), PendingOp::Update, c));
        let items: Vec<Item<'_>> = adds.chain(updates).collect();
        let items = self.confirm_adds(items).await?;
        self.bulk_or_single(&items).await?;
        for (i, c) in plan.resubscribes.iter().enumerate() {
            let item = Item::change(slots.resubscribe(i), PendingOp::Resubscribe, c);
            self.resubscribe(item).await?;
        }
        let removals = plan.removals.iter().enumerate();
        let removals = removals.map(|(i, r)| Item::removal(slots.removal(i), r));
        let confirmed = self.confirm_removals(removals.collect()).await?;
        self.bulk_or_single(&confirmed.same_email).await?;
        self.unsubscribes_create_nobody()?;
        // Renamed in ActiveCampaign: by contact id, never by an old email.
        for item in confirmed.by_id {
            self.single(item).await?;
        }
        Ok(())
    }

    async fn bulk_or_single(&self, items: &[Item<'_>]) -> Result<(), RunError> {
        if self.core.by_bulk(items) {
            return self.bulk(items).await;
        }
        for item in items {
            self.single(*item).await?;
        }
        Ok(())
    }

    /// Fails once an import of unsubscribes has created a contact (see
    /// [`WriteCore::created_by_unsubscribes`]): no unsubscribe is sent after.
    fn unsubscribes_create_nobody(&self) -> Result<(), RunError> {
        let tally = self.tally();
        if tally.created_by_unsubscribes.is_empty() {
            return Ok(());
        }
        Err(RunError::CreatedByUnsubscribe {
            list_id: self.export.list_id,
            ids: tally.created_by_unsubscribes.clone(),
        })
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, WriteTally> {
        self.tally.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Journals member rows in one transaction, off the async workers.
    async fn save(&self, members: Vec<Member>) -> Result<(), RunError> {
        if members.is_empty() {
            return Ok(());
        }
        let scope = self.scope.clone();
        self.db
            .with(move |db| Ok(db.save_members(&scope, &members)?))
            .await
    }

    /// Journals member rows, batch journal steps and the history entries
    /// of what landed in one transaction (one commit per step of a batch:
    /// twenty accounts' batches share one SQLite writer), off the async
    /// workers. The changes recorded are then marked so in the tally.
    async fn save_with_journal(
        &self,
        members: Vec<Member>,
        journal: Vec<JournalStep>,
        history: Option<LandedEntries>,
    ) -> Result<(), RunError> {
        if members.is_empty() && journal.is_empty() && history.is_none() {
            return Ok(());
        }
        let scope = self.scope.clone();
        let now = chrono::Utc::now();
        let history = self
            .db
            .with(move |db| {
                let entries = history.as_ref().map(LandedEntries::entries);
                let run = history.as_ref().zip(entries.as_deref());
                let run = run.map(|(h, e)| h.run(e));
                db.save_with_journal(&scope, &members, &journal, now, run.as_ref())?;
                Ok(history)
            })
            .await?;
        if let Some(h) = history {
            let outcomes = &mut self.tally().outcomes;
            h.slots()
                .for_each(|slot| outcomes.set(slot, ChangeEnd::Recorded));
        }
        Ok(())
    }

    /// Settles the changes left in doubt, with one read of the list when
    /// the core wants it ([`WriteCore::reads_to_settle`]); see
    /// [`WriteCore::settle`].
    async fn settle_doubts(&self, stopped: bool) -> Result<(), RunError> {
        let doubts = self.tally().in_doubt();
        let read = self.core.reads_to_settle(&self.tally(), stopped);
        let live = if read {
            match crate::run::prepare::read_list(self.export, self.client).await {
                Ok(read) => Some(read.members),
                Err(e) => {
                    tracing::warn!(export = %self.export.id, error = %e, "cannot read the list to settle changes in doubt; the next run will");
                    None
                }
            }
        } else {
            None
        };
        let settled = self
            .core
            .settle(&mut self.tally(), live.as_deref(), unix_now());
        if doubts > 0 {
            tracing::debug!(export = %self.export.id, doubts, settled = settled.len(), "settled changes in doubt");
        }
        self.save(settled).await
    }
}

/// The wall clock in Unix seconds: membership rows carry ActiveCampaign's
/// change times, which our unsubscribe windows are compared with.
fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests;
