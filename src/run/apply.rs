//! Executes a [`Plan`] through the client, journaling every change: the
//! intent is saved before a request is sent and the outcome after, so a run
//! killed at any instant leaves `pending` marks that the next run resolves
//! against a full read (SPEC rule 7). Changes of ten or more contacts (or
//! any change carrying tags) go through bulk import, pipelined: batches are
//! submitted while earlier ones are followed to their end; fewer go through
//! `contact/sync` and `contactLists`.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::RunError;
use crate::activecampaign::{
    ApiError, BatchResult, BatchStatus, BulkContact, Client, ContactInput,
};
use crate::config::Export;
use crate::model::{Fields, Known, ListStatus, Member, PendingOp};
use crate::plan::{Change, Plan, Removal};
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
    pub failed: u64,
    pub failures: Vec<Failure>,
    classified: u32,
}

impl Tally {
    fn fail(&mut self, row: Option<u64>, email: &str, reason: impl Into<String>) {
        self.failed += 1;
        if self.failures.len() < FAILURES_MAX {
            self.failures.push(Failure::new(row, email, reason));
        }
    }
}

/// One change on its way: which operation, and the values it sends.
#[derive(Debug, Clone)]
struct Item {
    op: PendingOp,
    email: String,
    row: Option<u64>,
    contact_id: Option<u64>,
    fields: Fields,
    hash: u64,
}

impl Item {
    fn change(op: PendingOp, c: &Change) -> Item {
        Item {
            op,
            email: c.email.clone(),
            row: Some(c.row),
            contact_id: c.contact_id,
            fields: c.fields.clone(),
            hash: c.hash,
        }
    }

    fn removal(r: &Removal) -> Item {
        Item {
            op: PendingOp::Remove,
            email: r.email.clone(),
            row: None,
            contact_id: r.contact_id,
            fields: Fields::default(),
            hash: 0,
        }
    }
}

/// The shared context of one apply.
pub struct Applier<'a> {
    pub export: &'a Export,
    pub client: &'a Client,
    pub db: &'a Mutex<StateDb>,
    pub known: &'a Known,
    pub cancel: &'a CancellationToken,
    field_ids: HashMap<String, u64>,
    tally: Mutex<Tally>,
}

impl<'a> Applier<'a> {
    pub fn new(
        export: &'a Export,
        client: &'a Client,
        db: &'a Mutex<StateDb>,
        known: &'a Known,
        cancel: &'a CancellationToken,
    ) -> Self {
        Applier {
            export,
            client,
            db,
            known,
            cancel,
            field_ids: HashMap::new(),
            tally: Mutex::new(Tally::default()),
        }
    }

    /// Applies the plan. Returns the tally even when the run stops early.
    pub async fn apply(mut self, plan: &Plan) -> (Tally, Result<(), RunError>) {
        let result = self.apply_inner(plan).await;
        let tally = self.tally.into_inner().unwrap_or_else(|p| p.into_inner());
        (tally, result)
    }

    async fn apply_inner(&mut self, plan: &Plan) -> Result<(), RunError> {
        self.record_hashes(plan)?;
        let writes_fields =
            !(plan.adds.is_empty() && plan.updates.is_empty() && plan.resubscribes.is_empty());
        if writes_fields {
            self.field_ids = self.resolve_fields().await?;
        }
        let mut items: Vec<Item> = plan
            .adds
            .iter()
            .map(|c| Item::change(PendingOp::Add, c))
            .collect();
        items.extend(
            plan.updates
                .iter()
                .map(|c| Item::change(PendingOp::Update, c)),
        );
        if items.len() >= BULK_MIN || (!items.is_empty() && !self.export.tags.is_empty()) {
            self.bulk(items).await?;
        } else {
            for item in items {
                self.single(item).await?;
            }
        }
        for c in &plan.resubscribes {
            self.single(Item::change(PendingOp::Resubscribe, c)).await?;
        }
        let removals: Vec<Item> = plan.removals.iter().map(Item::removal).collect();
        if removals.len() >= BULK_MIN {
            self.bulk(removals).await
        } else {
            for item in removals {
                self.single(item).await?;
            }
            Ok(())
        }
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

    /// Custom field keys to ids: numeric keys are ids; personalization tags
    /// are looked up once per run (only when fields are written).
    async fn resolve_fields(&self) -> Result<HashMap<String, u64>, RunError> {
        let mut out = HashMap::new();
        let tags: Vec<&String> = self
            .export
            .mapping
            .fields
            .keys()
            .filter(|k| k.parse::<u64>().is_err())
            .collect();
        let known = if tags.is_empty() {
            HashMap::new()
        } else {
            self.client.field_ids().await?
        };
        for key in self.export.mapping.fields.keys() {
            let id = key.parse::<u64>().ok().or_else(|| known.get(key).copied());
            match id {
                Some(id) => out.insert(key.clone(), id),
                None => return Err(RunError::UnknownField(key.clone())),
            };
        }
        Ok(out)
    }

    fn member(&self, email: &str) -> Member {
        self.known
            .get(email)
            .cloned()
            .unwrap_or_else(|| Member::unknown(email))
    }

    fn save(&self, members: &[Member]) -> Result<(), RunError> {
        let mut db = self
            .db
            .lock()
            .map_err(|_| RunError::Internal("state lock poisoned".into()))?;
        db.save_members(&self.export.id, members)
            .map_err(RunError::State)
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn custom(&self, fields: &Fields) -> Vec<(u64, String)> {
        fields
            .custom
            .iter()
            .filter_map(|(k, v)| self.field_ids.get(k).map(|id| (*id, v.clone())))
            .collect()
    }

    fn bulk_contact(&self, item: &Item) -> BulkContact {
        let list = self.export.list_id;
        let is_remove = item.op == PendingOp::Remove;
        BulkContact {
            email: item.email.clone(),
            first_name: item.fields.first_name.clone(),
            last_name: item.fields.last_name.clone(),
            phone: item.fields.phone.clone(),
            fields: self.custom(&item.fields),
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
                ..self.member(&i.email)
            })
            .collect();
        self.save(&members)
    }

    /// The member after `item` was applied.
    fn applied(&self, item: &Item) -> Member {
        let mut m = self.member(&item.email);
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
            }
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

    /// The contact opted out of the list (status 2 we did not cause): keep it.
    fn kept(&self, item: &Item, contact_id: Option<u64>) -> Member {
        self.tally().kept_unsubscribed += 1;
        let mut m = self.member(&item.email);
        m.pending = None;
        m.contact_id = contact_id.or(m.contact_id);
        m.status = Some(ListStatus::Unsubscribed);
        m.unsubscribed_by_us = false;
        m
    }

    /// A refused change: recorded as failed and retried next run.
    fn refused(&self, item: &Item, reason: &str) -> Member {
        self.tally().fail(item.row, &item.email, reason);
        let mut m = self.member(&item.email);
        m.pending = None;
        m
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
        ApiError::Auth { .. } | ApiError::ListNotFound { .. } | ApiError::Config { .. }
    )
}

impl Applier<'_> {
    /// One change through `contact/sync` and `contactLists`.
    async fn single(&self, mut item: Item) -> Result<(), RunError> {
        if self.cancel.is_cancelled() {
            return Err(RunError::Cancelled);
        }
        self.intend(std::slice::from_ref(&item))?;
        let member = match self.single_request(&mut item).await {
            Ok(Some(m)) => m,
            Ok(None) => {
                self.count_applied(&item);
                self.applied(&item)
            }
            Err(e) if fatal(&e) => return Err(e.into()),
            Err(e) if in_doubt(&e) => {
                self.tally().fail(item.row, &item.email, e.to_string());
                return Ok(());
            }
            Err(e) => self.refused(&item, &e.to_string()),
        };
        self.save(&[member])
    }

    /// Sends one change; `Some(member)` when the outcome is not "applied".
    async fn single_request(&self, item: &mut Item) -> Result<Option<Member>, ApiError> {
        let list = self.export.list_id;
        match item.op {
            PendingOp::Add => {
                let id = self.client.contact_sync(&self.contact_input(item)).await?;
                item.contact_id = Some(id);
                // contactLists status 1 would resubscribe an opt-out: look first.
                if self.client.list_status_of(id, list).await? == Some(ListStatus::Unsubscribed) {
                    return Ok(Some(self.kept(item, Some(id))));
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
                    None => self.client.find_contact(&item.email).await?,
                };
                let Some(id) = id else {
                    // No such contact: it is no member of anything.
                    let mut m = self.member(&item.email);
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
            email: item.email.clone(),
            first_name: item.fields.first_name.clone(),
            last_name: item.fields.last_name.clone(),
            phone: item.fields.phone.clone(),
            fields: self.custom(&item.fields),
        }
    }
}

impl Applier<'_> {
    /// Bulk import, pipelined: a submitter journals and submits batches while
    /// a follower waits for each to end and records its outcome.
    async fn bulk(&self, items: Vec<Item>) -> Result<(), RunError> {
        let by_email: HashMap<String, Item> =
            items.iter().map(|i| (i.email.clone(), i.clone())).collect();
        let contacts = items.iter().map(|i| self.bulk_contact(i)).collect();
        let batches = self.client.split_batches(contacts);
        let (tx, mut rx) = mpsc::channel::<(Vec<Item>, Vec<BulkContact>, String)>(64);
        let submit = async {
            for batch in batches {
                if self.cancel.is_cancelled() {
                    return Err(RunError::Cancelled);
                }
                let batch_items: Vec<Item> = batch
                    .iter()
                    .filter_map(|c| by_email.get(&c.email).cloned())
                    .collect();
                self.intend(&batch_items)?;
                match self.submit(&batch).await {
                    Ok(id) => {
                        if tx.send((batch_items, batch, id)).await.is_err() {
                            return Err(RunError::Internal("batch follower stopped".into()));
                        }
                    }
                    Err(e) => self.submit_failed(&batch_items, e)?,
                }
            }
            drop(tx);
            Ok(())
        };
        let follow = async {
            while let Some((items, batch, id)) = rx.recv().await {
                self.follow(&items, &batch, id).await?;
            }
            Ok::<(), RunError>(())
        };
        let (a, b) = tokio::join!(submit, follow);
        a.and(b)
    }

    async fn submit(&self, batch: &[BulkContact]) -> Result<String, ApiError> {
        self.client
            .bulk_submit(batch, self.export.exclude_automations)
            .await
    }

    fn submit_failed(&self, items: &[Item], e: ApiError) -> Result<(), RunError> {
        if fatal(&e) {
            return Err(e.into());
        }
        let reason = format!("bulk import not accepted: {e}");
        if in_doubt(&e) {
            // It may have been queued: the intents stay for the next run.
            let mut t = self.tally();
            items
                .iter()
                .for_each(|i| t.fail(i.row, &i.email, reason.clone()));
            return Ok(());
        }
        let members: Vec<Member> = items.iter().map(|i| self.refused(i, &reason)).collect();
        self.save(&members)
    }

    /// Follows one batch to its end, resubmitting it if it ended `failed` or
    /// `interrupted` (resubmitting is safe: bulk import upserts by email).
    async fn follow(
        &self,
        items: &[Item],
        batch: &[BulkContact],
        mut id: String,
    ) -> Result<(), RunError> {
        let mut attempt = 0;
        loop {
            let result = match self.client.bulk_wait(&id).await {
                Ok(r) => r,
                Err(e) => return self.submit_failed(items, e),
            };
            if result.status == BatchStatus::Completed {
                return self.record_batch(items, &result).await;
            }
            attempt += 1;
            tracing::warn!(export = %self.export.id, batch = %id, status = ?result.status, attempt, "bulk batch did not complete");
            if attempt > BATCH_RETRIES || self.cancel.is_cancelled() {
                let reason = format!(
                    "bulk batch {id} ended {:?}; will be checked on the next run",
                    result.status
                );
                let mut t = self.tally();
                items
                    .iter()
                    .for_each(|i| t.fail(i.row, &i.email, reason.clone()));
                return Ok(());
            }
            id = match self.submit(batch).await {
                Ok(id) => id,
                Err(e) => return self.submit_failed(items, e),
            };
        }
    }

    async fn record_batch(&self, items: &[Item], result: &BatchResult) -> Result<(), RunError> {
        let failed: std::collections::HashSet<&str> =
            result.failed_emails.iter().map(String::as_str).collect();
        let mut members = Vec::with_capacity(items.len());
        for item in items {
            if !failed.contains(item.email.as_str()) {
                self.count_applied(item);
                members.push(self.applied(item));
            } else {
                members.push(self.classify(item).await?);
            }
        }
        self.save(&members)
    }

    /// A contact bulk import refused: an opt-out (kept, never resubscribed)
    /// or a failure (excluded, bounced, invalid), retried next run.
    async fn classify(&self, item: &Item) -> Result<Member, RunError> {
        const REASON: &str = "refused by ActiveCampaign's bulk import (excluded, bounced, invalid or over the account limit)";
        let budget = {
            let mut t = self.tally();
            t.classified += 1;
            t.classified <= CLASSIFY_MAX
        };
        if item.op != PendingOp::Add || !budget {
            return Ok(self.refused(item, REASON));
        }
        let found = match self.client.find_contact(&item.email).await {
            Ok(Some(id)) => self
                .client
                .list_status_of(id, self.export.list_id)
                .await
                .map(|s| (id, s)),
            Ok(None) => return Ok(self.refused(item, REASON)),
            Err(e) => Err(e),
        };
        match found {
            Ok((id, Some(ListStatus::Unsubscribed))) => Ok(self.kept(item, Some(id))),
            Ok(_) => Ok(self.refused(item, REASON)),
            Err(e) if fatal(&e) => Err(e.into()),
            Err(_) => Ok(self.refused(item, REASON)),
        }
    }
}
