//! Executes a [`Plan`] through the client, journaling every change: the
//! intent is saved before a request is sent and the outcome after, so a run
//! killed at any instant leaves `pending` marks that the next run resolves
//! against a full read (SPEC rule 7). Changes of ten or more contacts (or
//! any change carrying tags, or any when `exclude_automations` is set) go
//! through bulk import, pipelined: batches are submitted while earlier ones
//! are followed to their end; fewer go through `contact/sync` and
//! `contactLists`. Resubscribes and removals by contact id always do: bulk
//! import can do neither (it refuses to resubscribe, and knows contacts
//! only by email).
//!
//! A bulk request rejected whole for some of its contacts (400 with
//! `failureReasons` naming their indexes: nothing was queued) fails those
//! contacts with ActiveCampaign's reason and sends the rest again at once.
//!
//! A change whose outcome is unknown when its requests end (a batch given up
//! `failed` or `interrupted` after its resubmissions, retries exhausted on a
//! request that may have landed, an `/import/info` that cannot answer for a
//! queued batch) is "in doubt". Before the run ends, one read
//! of the list settles every doubt it can: a change that landed counts as
//! applied, the rest as failed, so `failed` is exactly the contacts whose
//! change did not land. Unsettled ones keep their intent for the next run.

mod checks;

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::RunError;
use crate::activecampaign::{
    ApiError, BatchPoll, BatchResult, BatchStatus, Batcher, BulkContact, Client, ContactInput,
};
use crate::config::Export;
use crate::model::{Fields, Known, ListStatus, LiveMember, Member, PendingOp, UnsubscribeWindow};
use crate::plan::verify::Kept;
use crate::plan::{Change, Plan, Removal};
use crate::run::batches::UNACKNOWLEDGED;
use crate::segment::Segment;
use crate::state::StateDb;
use crate::status::Failure;

/// ActiveCampaign's suggested minimum for a bulk import.
const BULK_MIN: usize = 10;
/// Resubmissions of a batch that ended `failed` or `interrupted`.
const BATCH_RETRIES: u32 = 2;
/// Failed contacts looked up to tell an opt-out from a refusal, per run.
const CLASSIFY_MAX: u32 = 100;
/// Failures kept in the status file.
const FAILURES_MAX: usize = 20;

/// What a run did.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub added: u64,
    pub updated: u64,
    pub removed: u64,
    /// Opt-outs discovered while applying (beyond the plan's).
    pub kept_unsubscribed: u64,
    /// Bounced (3) and unconfirmed (0) members discovered while applying.
    pub kept_bounced: u64,
    pub kept_unconfirmed: u64,
    /// Planned removals that a read right before the write found no longer
    /// active (opted out, bounced, deleted): left untouched.
    pub not_active: u64,
    pub failed: u64,
    pub failures: Vec<Failure>,
    classified: u32,
    /// Changes whose outcome is unknown, with the reason, until settled.
    doubts: Vec<(Doubt, String)>,
}

impl Tally {
    fn fail(&mut self, row: Option<u64>, email: &str, reason: impl Into<String>) {
        self.failed += 1;
        if self.failures.len() < FAILURES_MAX {
            self.failures.push(Failure::new(row, email, reason));
        }
    }

    /// A change that may or may not have landed: its intent stays pending.
    fn doubt(&mut self, item: &Item<'_>, reason: impl Into<String>) {
        self.doubts.push((Doubt::of(item), reason.into()));
    }
}

/// An owned copy of a change left in doubt. Rare (only after faults), so
/// copying its values is cheap, unlike copying the whole plan.
#[derive(Debug, Clone)]
struct Doubt {
    op: PendingOp,
    email: String,
    row: Option<u64>,
    contact_id: Option<u64>,
    fields: Fields,
    hash: u64,
}

impl Doubt {
    fn of(i: &Item<'_>) -> Doubt {
        Doubt {
            op: i.op,
            email: i.email.to_string(),
            row: i.row,
            contact_id: i.contact_id,
            fields: i.fields.clone(),
            hash: i.hash,
        }
    }

    fn item(&self) -> Item<'_> {
        Item {
            op: self.op,
            email: &self.email,
            row: self.row,
            contact_id: self.contact_id,
            fields: &self.fields,
            hash: self.hash,
        }
    }
}

/// One change on its way: which operation, and the values it sends,
/// borrowed from the plan (a run never copies its plan's values: for a
/// first export of a million profiles each copy would cost ~200 MB).
#[derive(Debug, Clone, Copy)]
struct Item<'p> {
    op: PendingOp,
    email: &'p str,
    row: Option<u64>,
    contact_id: Option<u64>,
    fields: &'p Fields,
    hash: u64,
}

/// What a removal sends: no field.
static NO_FIELDS: Fields = Fields::EMPTY;

impl<'p> Item<'p> {
    fn change(op: PendingOp, c: &'p Change) -> Item<'p> {
        Item {
            op,
            email: &c.email,
            row: Some(c.row),
            contact_id: c.contact_id,
            fields: &c.fields,
            hash: c.hash,
        }
    }

    fn removal(r: &'p Removal) -> Item<'p> {
        Item {
            op: PendingOp::Remove,
            email: &r.email,
            row: None,
            contact_id: r.contact_id,
            fields: &NO_FIELDS,
            hash: 0,
        }
    }
}

/// A batch the importer accepted, on its way to a terminal status.
#[derive(Debug)]
struct InFlight {
    /// Its items, as a range of the run's item list.
    range: Range<usize>,
    batch_id: String,
    submitted: Instant,
    /// Wall-clock submission time (Unix seconds): where the window of an
    /// unsubscribe it carries starts.
    sent_at: i64,
    /// Submissions so far (a batch that ended `failed` is sent again).
    attempt: u32,
    /// When to poll next, and the wait that led there (for the back-off).
    poll_at: Instant,
    delay: Duration,
    /// Polls of the current submission.
    polls: u32,
}

/// The shared context of one apply.
pub struct Applier<'a> {
    pub export: &'a Export,
    pub client: &'a Client,
    pub db: &'a Mutex<StateDb>,
    pub known: &'a Known,
    /// The segment: a removal whose contact now has another email that the
    /// segment holds is not made.
    pub segment: &'a Segment,
    pub cancel: &'a CancellationToken,
    field_ids: HashMap<String, u64>,
    tally: Mutex<Tally>,
    /// When this apply started (Unix seconds).
    started_at: i64,
    /// The account and list the member rows are kept under.
    scope: String,
}

impl<'a> Applier<'a> {
    pub fn new(
        export: &'a Export,
        client: &'a Client,
        db: &'a Mutex<StateDb>,
        known: &'a Known,
        segment: &'a Segment,
        cancel: &'a CancellationToken,
    ) -> Self {
        Applier {
            export,
            client,
            db,
            known,
            segment,
            cancel,
            field_ids: HashMap::new(),
            tally: Mutex::new(Tally::default()),
            started_at: unix_now(),
            scope: crate::state::scope_of(export),
        }
    }

    /// Applies the plan, then settles the changes left in doubt. Returns the
    /// tally even when the run stops early.
    pub async fn apply(mut self, plan: &Plan) -> (Tally, Result<(), RunError>) {
        let mut result = self.apply_inner(plan).await;
        // A run that stops early (fatal error, shutdown) does not read more.
        let settle = result.is_ok() && !self.cancel.is_cancelled();
        if let Err(e) = self.settle_doubts(settle).await {
            result = result.and(Err(e));
        }
        let tally = self.tally.into_inner().unwrap_or_else(|p| p.into_inner());
        (tally, result)
    }

    async fn apply_inner(&mut self, plan: &Plan) -> Result<(), RunError> {
        self.record_hashes(plan)?;
        let mut items: Vec<Item<'_>> = plan
            .adds
            .iter()
            .map(|c| Item::change(PendingOp::Add, c))
            .collect();
        items.extend(
            plan.updates
                .iter()
                .map(|c| Item::change(PendingOp::Update, c)),
        );
        if self.by_bulk(items.len(), !self.export.tags.is_empty()) {
            self.bulk(&items).await?;
        } else {
            for item in items {
                self.single(item).await?;
            }
        }
        for c in &plan.resubscribes {
            self.resubscribe(c).await?;
        }
        let confirmed = self.confirm_removals(&plan.removals).await?;
        let removals: Vec<Item<'_>> = confirmed.same_email.iter().map(Item::removal).collect();
        if self.by_bulk(removals.len(), false) {
            self.bulk(&removals).await?;
        } else {
            for item in removals {
                self.single(item).await?;
            }
        }
        // Renamed in ActiveCampaign: by contact id, never by an old email.
        for r in &confirmed.by_id {
            self.single(Item::removal(r)).await?;
        }
        Ok(())
    }

    /// Whether `n` changes go through bulk import: from [`BULK_MIN`] on, or
    /// any number when they carry tags (only bulk import adds them) or when
    /// automations are excluded (`contact/sync` and `contactLists` cannot
    /// exclude them; bulk import can).
    fn by_bulk(&self, n: usize, tags: bool) -> bool {
        n >= BULK_MIN || (n > 0 && (tags || self.export.exclude_automations))
    }

    /// Members whose values already match (seen in a full read) get their
    /// hash stored without a write.
    fn record_hashes(&self, plan: &Plan) -> Result<(), RunError> {
        if plan.record_hashes.is_empty() {
            return Ok(());
        }
        let members: Vec<Member> = plan
            .record_hashes
            .iter()
            .map(|(email, h)| Member {
                sent_hash: Some(*h),
                ..self.member(email)
            })
            .collect();
        self.save(&members)
    }

    /// The custom fields the run resolved before planning (see
    /// [`super::fields`]): each `[mapping.fields]` key's field id.
    pub fn with_fields(mut self, fields: &super::fields::Resolved) -> Self {
        self.field_ids = fields.iter().map(|(k, d)| (k.clone(), d.id)).collect();
        self
    }

    fn member(&self, email: &str) -> Member {
        self.known
            .get(email)
            .cloned()
            .unwrap_or_else(|| Member::unknown(email))
    }

    fn save(&self, members: &[Member]) -> Result<(), RunError> {
        let mut db = super::lock_state(self.db)?;
        db.save_members(&self.scope, members)
            .map_err(RunError::State)
    }

    /// Journals a batch ActiveCampaign accepted, before anything else: a
    /// run killed from here on leaves its id for the next run to follow.
    fn journal_batch(&self, batch_id: &str) -> Result<(), RunError> {
        let mut db = super::lock_state(self.db)?;
        db.journal_batch(&self.scope, batch_id, chrono::Utc::now())
            .map_err(RunError::State)
    }

    /// Forgets a batch whose terminal status was seen.
    fn settle_batch(&self, batch_id: &str) -> Result<(), RunError> {
        let mut db = super::lock_state(self.db)?;
        db.settle_batch(&self.scope, batch_id)
            .map_err(RunError::State)
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn custom(&self, fields: &Fields) -> Vec<(u64, String)> {
        fields
            .custom()
            .filter_map(|(k, v)| self.field_ids.get(k).map(|id| (*id, v.to_owned())))
            .collect()
    }

    fn bulk_contact(&self, item: &Item) -> BulkContact {
        let list = self.export.list_id;
        let is_remove = item.op == PendingOp::Remove;
        BulkContact {
            email: item.email.to_owned(),
            first_name: item.fields.first_name().map(str::to_owned),
            last_name: item.fields.last_name().map(str::to_owned),
            phone: item.fields.phone().map(str::to_owned),
            fields: self.custom(item.fields),
            tags: if is_remove {
                Vec::new()
            } else {
                self.export.tags.clone()
            },
            subscribe: if item.op == PendingOp::Add {
                vec![list]
            } else {
                Vec::new()
            },
            unsubscribe: if is_remove { vec![list] } else { Vec::new() },
        }
    }

    /// Records intents for `items` in one transaction.
    fn intend(&self, items: &[Item]) -> Result<(), RunError> {
        let members: Vec<Member> = items
            .iter()
            .map(|i| Member {
                pending: Some(i.op),
                ..self.member(i.email)
            })
            .collect();
        self.save(&members)
    }

    /// The member after `item` was applied; `sent_at` is when its request
    /// or batch was sent (Unix seconds).
    fn applied(&self, item: &Item, sent_at: i64) -> Member {
        let mut m = self.member(item.email);
        m.pending = None;
        m.contact_id = item.contact_id.or(m.contact_id);
        match item.op {
            PendingOp::Add => {
                m.status = Some(ListStatus::Active);
                m.owned = true;
                m.unsubscribed_by_us = false;
                m.sent_hash = Some(item.hash);
            }
            PendingOp::Update => m.sent_hash = Some(item.hash),
            PendingOp::Resubscribe => {
                m.status = Some(ListStatus::Active);
                m.unsubscribed_by_us = false;
                m.sent_hash = Some(item.hash);
            }
            PendingOp::Remove => {
                m.status = Some(ListStatus::Unsubscribed);
                m.unsubscribed_by_us = true;
                m.unsubscribed_at = Some(UnsubscribeWindow {
                    from: sent_at,
                    to: unix_now(),
                });
            }
        }
        if item.op != PendingOp::Remove {
            m.unsubscribed_at = None;
        }
        m
    }

    fn count_applied(&self, item: &Item) {
        let mut t = self.tally();
        match item.op {
            PendingOp::Add | PendingOp::Resubscribe => t.added += 1,
            PendingOp::Update => t.updated += 1,
            PendingOp::Remove => t.removed += 1,
        }
    }

    /// A member whose status is not ours to change: counted, recorded with
    /// that status, never marked as unsubscribed by us.
    fn kept_as(&self, email: &str, why: Kept, contact_id: Option<u64>) -> Member {
        let status = {
            let mut t = self.tally();
            match why {
                Kept::Unsubscribed => t.kept_unsubscribed += 1,
                Kept::Bounced => t.kept_bounced += 1,
                Kept::Unconfirmed => t.kept_unconfirmed += 1,
            }
            match why {
                Kept::Unsubscribed => ListStatus::Unsubscribed,
                Kept::Bounced => ListStatus::Bounced,
                Kept::Unconfirmed => ListStatus::Unconfirmed,
            }
        };
        let mut m = self.member(email);
        m.pending = None;
        m.contact_id = contact_id.or(m.contact_id);
        m.status = Some(status);
        m.unsubscribed_by_us = false;
        m.unsubscribed_at = None;
        m
    }

    /// A refused change: recorded as failed and retried next run.
    fn refused(&self, item: &Item, reason: &str) -> Member {
        self.tally().fail(item.row, item.email, reason);
        let mut m = self.member(item.email);
        m.pending = None;
        m
    }
}

/// The wait before a batch's first `/import/info` poll, learned from the
/// batches before it: a first poll that found its batch unfinished costs a
/// second request, so the wait grows by a quarter; one that found it done
/// may have waited too long, so it shrinks by 1%. At equilibrium about one
/// first poll in 25 misses, and a batch costs ~1.04 polls. Never below the
/// configured `poll_interval` (ActiveCampaign wants ≥ 1 s), never above 30 s.
fn first_poll_delay(current: Duration, done: bool, min: Duration) -> Duration {
    let max = Duration::from_secs(30).max(min);
    if done {
        current.mul_f64(0.99).max(min)
    } else {
        current.mul_f64(1.25).min(max)
    }
}

/// Whether a failed request may still have been applied by ActiveCampaign
/// (so its intent must stay pending for the next run to resolve).
fn in_doubt(e: &ApiError) -> bool {
    matches!(
        e,
        ApiError::RetriesExhausted { .. } | ApiError::Decode { .. } | ApiError::BatchTimeout { .. }
    )
}

/// Errors that stop the whole run rather than one contact.
fn fatal(e: &ApiError) -> bool {
    matches!(
        e,
        ApiError::Auth { .. }
            | ApiError::ListNotFound { .. }
            | ApiError::Config { .. }
            | ApiError::Tls { .. }
    )
}

impl Applier<'_> {
    /// One change through `contact/sync` and `contactLists`.
    async fn single(&self, mut item: Item<'_>) -> Result<(), RunError> {
        if self.cancel.is_cancelled() {
            return Err(RunError::Cancelled);
        }
        self.intend(std::slice::from_ref(&item))?;
        let sent_at = unix_now();
        let member = match self.single_request(&mut item).await {
            Ok(Some(m)) => m,
            Ok(None) => {
                self.count_applied(&item);
                self.applied(&item, sent_at)
            }
            Err(e) if fatal(&e) => return Err(e.into()),
            Err(e) if in_doubt(&e) => {
                self.tally().doubt(&item, e.to_string());
                return Ok(());
            }
            Err(e) => self.refused(&item, &e.to_string()),
        };
        self.save(&[member])
    }

    /// Sends one change; `Some(member)` when the outcome is not "applied".
    async fn single_request(&self, item: &mut Item<'_>) -> Result<Option<Member>, ApiError> {
        let list = self.export.list_id;
        match item.op {
            PendingOp::Add => {
                let id = self.client.contact_sync(&self.contact_input(item)).await?;
                item.contact_id = Some(id);
                // contactLists status 1 would override an opt-out, a bounce
                // or a pending double opt-in: look first.
                if let Some(why) = Kept::of(self.client.list_status_of(id, list).await?) {
                    return Ok(Some(self.kept_as(item.email, why, Some(id))));
                }
                self.client
                    .set_list_status(id, list, ListStatus::Active)
                    .await?;
            }
            PendingOp::Update => {
                item.contact_id = Some(self.client.contact_sync(&self.contact_input(item)).await?);
            }
            PendingOp::Resubscribe => {
                let id = self.client.contact_sync(&self.contact_input(item)).await?;
                item.contact_id = Some(id);
                self.client
                    .set_list_status(id, list, ListStatus::Active)
                    .await?;
            }
            PendingOp::Remove => {
                let id = match item.contact_id {
                    Some(id) => Some(id),
                    None => self.client.find_contact(item.email).await?,
                };
                let Some(id) = id else {
                    // No such contact: it is no member of anything.
                    let mut m = self.member(item.email);
                    (m.pending, m.status) = (None, None);
                    return Ok(Some(m));
                };
                item.contact_id = Some(id);
                self.client
                    .set_list_status(id, list, ListStatus::Unsubscribed)
                    .await?;
            }
        }
        Ok(None)
    }

    fn contact_input(&self, item: &Item) -> ContactInput {
        ContactInput {
            email: item.email.to_owned(),
            first_name: item.fields.first_name().map(str::to_owned),
            last_name: item.fields.last_name().map(str::to_owned),
            phone: item.fields.phone().map(str::to_owned),
            fields: self.custom(item.fields),
        }
    }
}

impl Applier<'_> {
    /// Bulk import, pipelined: a submitter cuts, journals and submits
    /// batches while a follower polls every batch in flight at its own time,
    /// so a run is paced by ActiveCampaign's limits (100 imports a minute,
    /// 5 requests a second) and not by waiting for one batch at a time.
    /// Each batch's contacts are built only when it is sent.
    async fn bulk(&self, items: &[Item<'_>]) -> Result<(), RunError> {
        let (tx, rx) = mpsc::unbounded_channel::<InFlight>();
        let submit = async move {
            let mut batcher = Batcher::new();
            let mut start = 0;
            for (i, item) in items.iter().enumerate() {
                if let Some(batch) = batcher.push(self.bulk_contact(item)) {
                    self.submit_batch(items, start..i, batch, &tx).await?;
                    start = i;
                }
            }
            if let Some(batch) = batcher.finish() {
                self.submit_batch(items, start..items.len(), batch, &tx)
                    .await?;
            }
            // Dropping `tx` here tells the follower no batch is coming.
            Ok::<(), RunError>(())
        };
        let (a, b) = tokio::join!(submit, self.follow_all(items, rx));
        a.and(b)
    }

    /// Journals the intents of `items[range]`, then submits `batch` (their
    /// contacts). A whole-batch rejection that names contacts (§4.3: nothing
    /// was queued) fails those with ActiveCampaign's reason and submits the
    /// rest again, in the contiguous runs left between them.
    async fn submit_batch(
        &self,
        items: &[Item<'_>],
        range: Range<usize>,
        batch: Vec<BulkContact>,
        tx: &mpsc::UnboundedSender<InFlight>,
    ) -> Result<(), RunError> {
        if self.cancel.is_cancelled() {
            return Err(RunError::Cancelled);
        }
        self.intend(&items[range.clone()])?;
        let mut todo = vec![(range, Some(batch))];
        while let Some((range, batch)) = todo.pop() {
            if self.cancel.is_cancelled() {
                return Err(RunError::Cancelled);
            }
            let batch_items = &items[range.clone()];
            let batch = batch
                .unwrap_or_else(|| (batch_items.iter()).map(|i| self.bulk_contact(i)).collect());
            match self.submit_once(range.clone(), &batch).await? {
                Ok(f) => tx
                    .send(f)
                    .map_err(|_| RunError::Internal("batch follower stopped".into()))?,
                Err(e) => match e.rejected_contacts(batch.len()) {
                    Some(named) => {
                        self.reject_named(batch_items, &named)?;
                        let rest = rest_ranges(range, named.iter().map(|(i, _)| *i));
                        todo.extend(rest.into_iter().rev().map(|r| (r, None)));
                    }
                    None => self.submit_failed(batch_items, e)?,
                },
            }
        }
        Ok(())
    }

    /// One submission: journaled before sending (killed before the answer,
    /// the next run still knows a batch may be on its way), then under its
    /// id once accepted. The outer error stops the run; the inner one is
    /// the server's answer.
    async fn submit_once(
        &self,
        range: Range<usize>,
        batch: &[BulkContact],
    ) -> Result<Result<InFlight, ApiError>, RunError> {
        let placeholder = format!("{UNACKNOWLEDGED}{}", uuid_like());
        self.journal_batch(&placeholder)?;
        let submitted = self.submit(batch).await;
        if submitted.as_ref().is_ok() || submitted.as_ref().is_err_and(|e| !in_doubt(e)) {
            self.settle_batch(&placeholder)?;
        }
        let batch_id = match submitted {
            Ok(id) => id,
            Err(e) => return Ok(Err(e)),
        };
        let now = Instant::now();
        self.journal_batch(&batch_id)?;
        Ok(Ok(InFlight {
            range,
            batch_id,
            submitted: now,
            sent_at: unix_now(),
            attempt: 1,
            poll_at: now,
            delay: Duration::ZERO,
            polls: 0,
        }))
    }

    /// The contacts a whole-batch rejection named (index in `batch_items`,
    /// reason): failed with ActiveCampaign's own words, retried next run.
    fn reject_named(
        &self,
        batch_items: &[Item],
        named: &[(usize, String)],
    ) -> Result<(), RunError> {
        tracing::warn!(export = %self.export.id, rejected = named.len(), of = batch_items.len(), "bulk import rejected a batch for some of its contacts; the rest is sent again");
        let members: Vec<Member> = (named.iter())
            .filter_map(|(i, why)| batch_items.get(*i).map(|item| (item, why)))
            .map(|(item, why)| {
                let reason = format!("rejected by ActiveCampaign's bulk import: {why}");
                self.refused(item, &reason)
            })
            .collect();
        self.save(&members)
    }

    /// Follows every submitted batch to its end. Batches wait in a small
    /// list (at most ~100 are in flight: a minute of imports); the one due
    /// first is polled next. The wait before a batch's first poll is learned
    /// from the batches before it (see [`first_poll_delay`]), so most
    /// batches cost one poll.
    async fn follow_all(
        &self,
        items: &[Item<'_>],
        mut rx: mpsc::UnboundedReceiver<InFlight>,
    ) -> Result<(), RunError> {
        let mut flying: Vec<InFlight> = Vec::new();
        let mut first = self.client.poll_interval();
        let mut open = true;
        loop {
            let due = (flying.iter().enumerate())
                .min_by_key(|(_, f)| f.poll_at)
                .map(|(i, f)| (i, f.poll_at));
            if !open && due.is_none() {
                return Ok(());
            }
            let wake = due.map_or_else(|| Instant::now() + Duration::from_secs(3600), |d| d.1);
            tokio::select! {
                msg = rx.recv(), if open => match msg {
                    Some(mut f) => {
                        f.delay = first;
                        f.poll_at = f.submitted + first;
                        flying.push(f);
                    }
                    None => open = false,
                },
                () = sleep_until(wake), if due.is_some() => {
                    if let Some((i, _)) = due {
                        let f = flying.swap_remove(i);
                        if let Some(f) = self.poll_batch(items, f, &mut first).await? {
                            flying.push(f);
                        }
                    }
                }
            }
        }
    }

    /// Polls one batch: records it when completed, resubmits it when it
    /// ended `failed` or `interrupted` (safe: bulk import upserts by email),
    /// gives up after [`BATCH_RETRIES`]. `Some` when it must be polled again.
    async fn poll_batch(
        &self,
        items: &[Item<'_>],
        mut f: InFlight,
        first: &mut Duration,
    ) -> Result<Option<InFlight>, RunError> {
        let batch_items = &items[f.range.clone()];
        f.polls += 1;
        let poll = match self.client.bulk_info(&f.batch_id).await {
            Ok(p) => p,
            Err(e) => return self.info_failed(batch_items, &f.batch_id, e).map(|()| None),
        };
        if f.polls == 1 {
            let done = matches!(poll, BatchPoll::Done(_));
            *first = first_poll_delay(*first, done, self.client.poll_interval());
        }
        let result = match poll {
            BatchPoll::Pending(status) => {
                let waited = f.submitted.elapsed();
                f.delay = self.client.next_poll_delay(f.delay);
                if waited + f.delay > self.client.bulk_wait_max() {
                    let e = self.client.batch_timeout(&f.batch_id, waited, status);
                    return self.submit_failed(batch_items, e).map(|()| None);
                }
                f.poll_at = Instant::now() + f.delay;
                return Ok(Some(f));
            }
            BatchPoll::Done(result) => result,
        };
        if result.status == BatchStatus::Completed {
            self.record_batch(batch_items, &result, f.sent_at).await?;
            self.settle_batch(&f.batch_id)?;
            return Ok(None);
        }
        // Failed or interrupted: terminal, so nothing of it can land later.
        self.settle_batch(&f.batch_id)?;
        let id = &f.batch_id;
        tracing::warn!(export = %self.export.id, batch = %id, status = ?result.status, attempt = f.attempt, "bulk batch did not complete");
        if f.attempt > BATCH_RETRIES || self.cancel.is_cancelled() {
            let reason = format!(
                "bulk batch {id} ended {:?}; will be checked on the next run",
                result.status
            );
            let mut t = self.tally();
            (batch_items.iter()).for_each(|i| t.doubt(i, reason.clone()));
            return Ok(None);
        }
        let batch: Vec<BulkContact> = batch_items.iter().map(|i| self.bulk_contact(i)).collect();
        match self.submit(&batch).await {
            Ok(id) => {
                self.journal_batch(&id)?;
                f.batch_id = id;
                f.attempt += 1;
                f.submitted = Instant::now();
                f.sent_at = unix_now();
                f.polls = 0;
                f.delay = *first;
                f.poll_at = f.submitted + *first;
                Ok(Some(f))
            }
            Err(e) => self.submit_failed(batch_items, e).map(|()| None),
        }
    }

    async fn submit(&self, batch: &[BulkContact]) -> Result<String, ApiError> {
        self.client
            .bulk_submit(batch, self.export.exclude_automations)
            .await
    }

    /// `/import/info` failed for a queued batch (a 4xx, an unknown batch
    /// id, retries exhausted): the batch may have landed, so it is no
    /// verdict. The batch stays journaled and its changes in doubt, settled
    /// by the read before the run ends or by the next run's journal follow.
    fn info_failed(&self, items: &[Item], batch_id: &str, e: ApiError) -> Result<(), RunError> {
        if fatal(&e) {
            return Err(e.into());
        }
        tracing::warn!(export = %self.export.id, batch = %batch_id, error = %e, "cannot read a bulk batch's outcome; a read of the list settles it");
        let reason = format!("outcome of bulk batch {batch_id} unknown ({e})");
        let mut t = self.tally();
        items.iter().for_each(|i| t.doubt(i, reason.clone()));
        Ok(())
    }

    fn submit_failed(&self, items: &[Item], e: ApiError) -> Result<(), RunError> {
        if fatal(&e) {
            return Err(e.into());
        }
        let reason = format!("bulk import not accepted: {e}");
        if in_doubt(&e) {
            // It may have been queued: settled by a read, or by the next run.
            let mut t = self.tally();
            items.iter().for_each(|i| t.doubt(i, reason.clone()));
            return Ok(());
        }
        let members: Vec<Member> = items.iter().map(|i| self.refused(i, &reason)).collect();
        self.save(&members)
    }

    async fn record_batch(
        &self,
        items: &[Item<'_>],
        result: &BatchResult,
        sent_at: i64,
    ) -> Result<(), RunError> {
        let failed: std::collections::HashSet<&str> =
            result.failed_emails.iter().map(String::as_str).collect();
        let mut members = Vec::with_capacity(items.len());
        for item in items {
            if !failed.contains(item.email) {
                self.count_applied(item);
                members.push(self.applied(item, sent_at));
            } else {
                members.push(self.classify(item).await?);
            }
        }
        self.save(&members)
    }

    /// A contact bulk import refused: an opt-out (kept, never resubscribed)
    /// or a failure (excluded, bounced, invalid), retried next run.
    async fn classify(&self, item: &Item<'_>) -> Result<Member, RunError> {
        const REASON: &str = "refused by ActiveCampaign's bulk import (excluded, bounced, invalid or over the account limit)";
        let budget = {
            let mut t = self.tally();
            t.classified += 1;
            t.classified <= CLASSIFY_MAX
        };
        if item.op != PendingOp::Add || !budget {
            return Ok(self.refused(item, REASON));
        }
        let found = match self.client.find_contact(item.email).await {
            Ok(Some(id)) => self
                .client
                .list_status_of(id, self.export.list_id)
                .await
                .map(|s| (id, s)),
            Ok(None) => return Ok(self.refused(item, REASON)),
            Err(e) => Err(e),
        };
        match found {
            Ok((id, status)) => match Kept::of(status) {
                Some(why) => Ok(self.kept_as(item.email, why, Some(id))),
                None => Ok(self.refused(item, REASON)),
            },
            Err(e) if fatal(&e) => Err(e.into()),
            Err(_) => Ok(self.refused(item, REASON)),
        }
    }
}

impl Applier<'_> {
    /// Settles the changes left in doubt with one read of the list (when
    /// `read` and there are any): those that landed count as applied and are
    /// recorded; the others count as failed and keep their pending intent, so
    /// the next run reads the list again and resolves them.
    async fn settle_doubts(&self, read: bool) -> Result<(), RunError> {
        let doubts = std::mem::take(&mut self.tally().doubts);
        if doubts.is_empty() {
            return Ok(());
        }
        let live = if read {
            match super::prepare::read_list(self.export, self.client).await {
                Ok(live) => Some(live),
                Err(e) => {
                    tracing::warn!(export = %self.export.id, error = %e, "cannot read the list to settle changes in doubt; the next run will");
                    None
                }
            }
        } else {
            None
        };
        let live: HashMap<&str, &LiveMember> = live
            .iter()
            .flatten()
            .map(|l| (l.email.as_str(), l))
            .collect();
        let mut settled = Vec::new();
        for (doubt, reason) in &doubts {
            let item = &doubt.item();
            let l = live.get(item.email).copied();
            match self.landed(item, l) {
                Landed::Yes => {
                    self.count_applied(item);
                    let mut m = self.applied(item, self.started_at);
                    m.contact_id = l.map(|l| l.contact_id).or(m.contact_id);
                    settled.push(m);
                }
                Landed::Kept(why) => {
                    settled.push(self.kept_as(item.email, why, l.map(|l| l.contact_id)))
                }
                Landed::No => self.tally().fail(item.row, item.email, reason.clone()),
            }
        }
        tracing::debug!(export = %self.export.id, doubts = doubts.len(), settled = settled.len(), "settled changes in doubt");
        if settled.is_empty() {
            return Ok(());
        }
        self.save(&settled)
    }

    /// Whether `item` landed, judged from the member's row in a full read
    /// (`None`: not a member). Only what the read shows counts: a change of
    /// custom fields alone cannot be seen, so such an update stays in doubt.
    fn landed(&self, item: &Item, live: Option<&LiveMember>) -> Landed {
        let Some(l) = live else {
            return Landed::No;
        };
        let f = &item.fields;
        let sent_match =
            |sent: Option<&str>, now: &Option<String>| sent.is_none() || sent == now.as_deref();
        let fields_match = sent_match(f.first_name(), &l.first_name)
            && sent_match(f.last_name(), &l.last_name)
            && sent_match(f.phone(), &l.phone);
        let yes = match (item.op, l.status) {
            (PendingOp::Remove, status) => status == ListStatus::Unsubscribed,
            // Planned only for contacts not active here: status 2, 3 or 0
            // now is one that bulk import refused to override.
            (
                PendingOp::Add,
                status @ (ListStatus::Unsubscribed | ListStatus::Bounced | ListStatus::Unconfirmed),
            ) => {
                return Landed::Kept(Kept::of(Some(status)).unwrap_or(Kept::Unsubscribed));
            }
            (PendingOp::Add | PendingOp::Resubscribe, status) => {
                status == ListStatus::Active && fields_match
            }
            (PendingOp::Update, status) => {
                status == ListStatus::Active
                    && fields_match
                    && self.export.mapping.fields.is_empty()
            }
        };
        if yes { Landed::Yes } else { Landed::No }
    }
}

/// What a read of the list says about a change in doubt.
enum Landed {
    Yes,
    No,
    /// An add refused because of the contact's status (kept, not failed).
    Kept(Kept),
}

/// What is left of `range` once the offsets `named` (relative to its
/// start) are taken out: the contiguous runs between them, in order.
fn rest_ranges(range: Range<usize>, named: impl IntoIterator<Item = usize>) -> Vec<Range<usize>> {
    let mut cuts: Vec<usize> = named.into_iter().map(|i| range.start + i).collect();
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut start = range.start;
    for cut in cuts.into_iter().filter(|c| range.contains(c)) {
        if cut > start {
            out.push(start..cut);
        }
        start = start.max(cut + 1);
    }
    if start < range.end {
        out.push(start..range.end);
    }
    out
}

/// The wall clock in Unix seconds: membership rows carry ActiveCampaign's
/// change times, which our unsubscribe windows are compared with.
fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
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

#[cfg(test)]
mod tests {
    use super::rest_ranges;

    #[test]
    fn a_rejection_leaves_the_runs_between_named_contacts() {
        assert_eq!(rest_ranges(250..510, [240]), vec![250..490, 491..510]);
        assert_eq!(rest_ranges(0..5, [0, 4, 2, 2]), vec![1..2, 3..4]);
        assert_eq!(
            rest_ranges(0..2, [0, 1]),
            Vec::<std::ops::Range<usize>>::new()
        );
        assert_eq!(rest_ranges(10..13, [7]), vec![10..13]);
    }
}
