//! The pure core of a write: every decision the applier makes, with no
//! async, no HTTP, no SQLite and no clock (the time of an answer comes in
//! as an argument). Given what the run knows ([`WriteCore`]), what it has
//! done so far ([`WriteTally`]) and one answer of ActiveCampaign, it says
//! what the answer means: the member rows to journal, the contacts that
//! failed, were kept or are in doubt, whether the run must stop. The
//! executor (`Applier`, beside this file) only performs the requests and
//! database writes these decisions name. The timing of bulk batches is in
//! `poll.rs`.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use super::rejection::{RejectedBatch, read_rejection};
use crate::activecampaign::{ApiError, BulkContact, ContactInput};
use crate::model::{Fields, Known, ListStatus, Member, PendingOp};
use crate::plan::{Change, Removal};
#[cfg(doc)]
use crate::run::history::Slots;
use crate::run::history::{ChangeEnd, ChangeOutcomes};
use crate::run::poll::InFlight;
use crate::state::JournalStep;
use crate::status::Failure;

/// ActiveCampaign's suggested minimum for a bulk import.
pub const BULK_MIN: usize = 10;
/// Failed contacts looked up to tell an opt-out from a refusal, per run.
pub const CLASSIFY_MAX: u32 = 100;
/// Failures kept in the status file.
pub const FAILURES_MAX: usize = 20;

/// What a write did: counters, the first failures (for the status file),
/// and how each planned change ended ([`ChangeOutcomes`], for the history).
#[derive(Debug, Default, Clone)]
pub struct WriteTally {
    pub added: u64,
    pub updated: u64,
    pub removed: u64,
    /// Opt-outs discovered while applying (beyond the plan's).
    pub kept_unsubscribed: u64,
    /// Bounced (3) and unconfirmed (0) members discovered while applying.
    pub kept_bounced: u64,
    pub kept_unconfirmed: u64,
    pub kept_other_status: u64,
    /// Planned removals that a read right before the write found no longer
    /// active under their email (opted out, bounced, deleted, renamed):
    /// left untouched.
    pub not_active: u64,
    /// Contacts ActiveCampaign refused (listed in `failures`).
    pub failed: u64,
    pub failures: Vec<Failure>,
    /// Changes whose outcome the write could not learn and no read showed
    /// (see docs/status-file.md, outcomes): not refusals; their intent stays
    /// for the next run to settle.
    pub unsettled: u64,
    /// Contacts an import of unsubscribes created (see
    /// [`WriteCore::created_by_unsubscribes`]): once any is, no further
    /// unsubscribe is sent in this run.
    pub created_by_unsubscribes: Vec<u64>,
    /// How each planned change ended, by its slot.
    pub outcomes: ChangeOutcomes,
    pub(super) classified: u32,
    /// Changes whose outcome is unknown, with the reason, until settled.
    pub(super) doubts: Vec<ChangeInDoubt>,
}

impl WriteTally {
    pub(super) fn fail(&mut self, item: &Item<'_>, reason: impl Into<Arc<str>>) {
        let reason = reason.into();
        self.count_failure(item, &reason);
        self.outcomes.set(item.slot, ChangeEnd::Failed(reason));
    }

    /// A change still in doubt when the write ends (no read settled it):
    /// counted as unsettled, not as a failure, and remembered as in doubt.
    pub(super) fn unsettled(&mut self, item: &Item<'_>) {
        self.unsettled += 1;
        self.outcomes.set(item.slot, ChangeEnd::InDoubt);
    }

    fn count_failure(&mut self, item: &Item<'_>, reason: &str) {
        self.failed += 1;
        if self.failures.len() < FAILURES_MAX {
            self.failures
                .push(Failure::new(item.row, item.email, reason));
        }
    }

    /// A change that may or may not have landed, by a request that has
    /// ended: its intent stays pending; a read that does not show it
    /// settles it as not landed.
    pub(super) fn doubt(&mut self, item: &Item<'_>, reason: impl Into<String>) {
        let doubt = ChangeInDoubt::of(item, reason.into(), false);
        self.doubts.push(doubt);
    }

    /// The changes of a batch that ended without landing them all.
    pub(super) fn doubt_all(&mut self, items: &[Item<'_>], reason: &str) {
        items.iter().for_each(|i| self.doubt(i, reason));
    }

    /// The changes of a batch that may be queued still (its end is
    /// unknown): a read that does not show them yet leaves them in doubt.
    pub(super) fn doubt_queued(&mut self, items: &[Item<'_>], reason: &str) {
        let doubts = items
            .iter()
            .map(|i| ChangeInDoubt::of(i, reason.into(), true));
        self.doubts.extend(doubts);
    }

    /// Changes left in doubt so far (settled before the run ends).
    pub fn in_doubt(&self) -> usize {
        self.doubts.len()
    }
}

/// An owned copy of a change left in doubt. Rare (only after faults), so
/// copying its values is cheap, unlike copying the whole plan.
#[derive(Debug, Clone)]
pub struct ChangeInDoubt {
    slot: usize,
    op: PendingOp,
    email: String,
    row: Option<u64>,
    contact_id: Option<u64>,
    fields: Fields,
    hash: u64,
    read_back: Option<u64>,
    /// Why it is in doubt.
    pub reason: String,
    /// Sent in a batch whose end is unknown: it may land after any read.
    pub may_land_later: bool,
}

impl ChangeInDoubt {
    fn of(i: &Item<'_>, reason: String, may_land_later: bool) -> ChangeInDoubt {
        ChangeInDoubt {
            slot: i.slot,
            op: i.op,
            email: i.email.to_string(),
            row: i.row,
            contact_id: i.contact_id,
            fields: i.fields.clone(),
            hash: i.hash,
            read_back: i.read_back,
            reason,
            may_land_later,
        }
    }

    pub(super) fn item(&self) -> Item<'_> {
        Item {
            slot: self.slot,
            op: self.op,
            email: &self.email,
            row: self.row,
            contact_id: self.contact_id,
            fields: &self.fields,
            hash: self.hash,
            read_back: self.read_back,
        }
    }
}

/// One change on its way: which operation, and the values it sends,
/// borrowed from the plan (a run never copies its plan's values: for a
/// first export of a million profiles each copy would cost ~200 MB).
#[derive(Debug, Clone, Copy)]
pub struct Item<'p> {
    /// Where its outcome goes in [`WriteTally::outcomes`] (see [`Slots`]).
    pub slot: usize,
    /// The operation sent: a planned resubscribe may go as an add or an
    /// update (see [`super::verify`]).
    pub op: PendingOp,
    pub email: &'p str,
    pub row: Option<u64>,
    pub contact_id: Option<u64>,
    pub fields: &'p Fields,
    pub hash: u64,
    /// See [`Change::read_back`].
    pub read_back: Option<u64>,
}

/// What a removal sends: no field.
static NO_FIELDS: Fields = Fields::EMPTY;

impl<'p> Item<'p> {
    pub fn change(slot: usize, op: PendingOp, c: &'p Change) -> Item<'p> {
        Item {
            slot,
            op,
            email: &c.email,
            row: Some(c.row),
            contact_id: c.contact_id,
            fields: &c.fields,
            hash: c.hash,
            read_back: c.read_back,
        }
    }

    pub fn removal(slot: usize, r: &'p Removal) -> Item<'p> {
        Item {
            slot,
            op: PendingOp::Remove,
            email: &r.email,
            row: None,
            contact_id: r.contact_id,
            fields: &NO_FIELDS,
            hash: 0,
            read_back: None,
        }
    }
}

/// How an error of a request or of a whole batch counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Stops the whole run (key refused, list gone, bad config, TLS).
    Fatal,
    /// The request may have been applied: the intent stays pending, and a
    /// read settles it.
    InDoubt,
    /// Refused: nothing was applied; the contact fails and is retried next run.
    Refused,
}

pub fn class_of(e: &ApiError) -> ErrorClass {
    match e {
        ApiError::Auth { .. }
        | ApiError::ListNotFound { .. }
        | ApiError::Config { .. }
        | ApiError::Tls { .. }
        | ApiError::Stopped { .. } => ErrorClass::Fatal,
        ApiError::RetriesExhausted { .. }
        | ApiError::Decode { .. }
        | ApiError::BatchTimeout { .. } => ErrorClass::InDoubt,
        ApiError::Rejected { .. } => ErrorClass::Refused,
    }
}

/// Errors that stop the whole run rather than one contact.
pub fn fatal(e: &ApiError) -> bool {
    class_of(e) == ErrorClass::Fatal
}

/// What one `contact/sync` + `contactLists` exchange ended in, when every
/// request of it was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SingleAnswer {
    /// Written (the item carries the contact id learned on the way).
    Applied,
    /// An add found the contact opted out, bounced or unconfirmed on the
    /// list: not forced active.
    Kept(ListStatus, u64),
    /// A removal of a contact ActiveCampaign does not have.
    NoSuchContact,
    /// An update reached another contact than the one recorded under the
    /// address (`was`): that one was renamed or erased since (the item
    /// carries the id the address names now).
    AnotherContact { was: u64 },
}

/// What to do after a single change's requests.
#[derive(Debug)]
pub enum SingleStep {
    /// Journal this member row (the outcome, its intent cleared).
    Save(Member),
    /// In doubt: nothing to journal, its intent stays pending.
    KeepIntent,
    /// Journal this row; the contact recorded under the address before
    /// (`was`) is another one now, to be found by its id.
    Moved { row: Member, was: u64 },
    /// Stop the run.
    Stop(ApiError),
}

/// One bulk submission the core asks for: `items[range]` as one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    pub range: Range<usize>,
    /// Submissions of these items so far, this one included (a batch that
    /// ended `failed` or `interrupted` is sent again).
    pub attempt: u32,
    /// The journaled batch this one sends again: it ended, so it leaves the
    /// journal in the transaction that journals this submission.
    pub replaces: Option<String>,
    /// Whether the items' intents are journaled with it: a first
    /// submission's are; those of items sent again are journaled already.
    pub with_intents: bool,
}

impl Submission {
    pub fn first(range: Range<usize>) -> Submission {
        Submission {
            range,
            attempt: 1,
            replaces: None,
            with_intents: true,
        }
    }

    /// The same items sent again, after batch `f` ended `failed` or
    /// `interrupted`: journaled in its place before it is sent.
    pub fn again(f: &InFlight) -> Submission {
        Submission {
            range: f.range.clone(),
            attempt: f.attempt + 1,
            replaces: Some(f.batch_id.clone()),
            with_intents: false,
        }
    }

    /// Its batch, accepted as `batch_id` at `now` on the write's clock
    /// (`sent_at` on the wall clock); its first poll is set when the
    /// follower takes it ([`InFlight::first_poll_in`]).
    pub fn accepted(&self, batch_id: String, now: Duration, sent_at: i64) -> InFlight {
        InFlight {
            range: self.range.clone(),
            batch_id,
            submitted: now,
            sent_at,
            attempt: self.attempt,
            poll_at: now,
            delay: Duration::ZERO,
            polls: 0,
        }
    }

    /// What is left to send once the contacts at offsets `named` (relative
    /// to the range's start) were rejected: the runs between them.
    pub fn rest(&self, named: impl IntoIterator<Item = usize>) -> Vec<Submission> {
        rest_ranges(self.range.clone(), named)
            .into_iter()
            .map(|range| self.part(range))
            .collect()
    }

    /// Part of a rejected batch, sent again: nothing of it was queued, and
    /// its intents are journaled already.
    pub(super) fn part(&self, range: Range<usize>) -> Submission {
        Submission {
            range,
            attempt: self.attempt,
            replaces: None,
            with_intents: false,
        }
    }
}

/// Member rows and batch journal steps written in one transaction.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct JournalWrite {
    pub members: Vec<Member>,
    pub steps: Vec<JournalStep>,
}

/// The journal work after a bulk submission's answer, and what follows it.
#[derive(Debug)]
pub struct Submitted {
    /// One transaction: the placeholder is forgotten unless the answer
    /// leaves the batch possibly queued; an accepted batch is journaled
    /// under its id (no instant without either).
    pub journal: Vec<JournalStep>,
    pub then: AfterSubmit,
}

#[derive(Debug)]
pub enum AfterSubmit {
    /// Accepted: follow the batch under this id.
    Accepted(String),
    /// Rejected whole for the named contacts (index, reason): nothing was
    /// queued; they fail, the rest is sent again ([`Submission::rest`]).
    RejectNamed(Vec<(usize, String)>),
    /// Rejected whole for contacts it cannot be told which: nothing was
    /// queued; each half is sent again ([`Submission::halves`]).
    Split,
    /// Not accepted: see [`WriteCore::submit_failed`].
    Failed(ApiError),
}

/// Reads the answer to a bulk submission of the contacts with `emails`
/// (as sent) journaled under `placeholder`.
pub fn after_submit(
    answer: Result<String, ApiError>,
    emails: &[&str],
    placeholder: &str,
) -> Submitted {
    let possibly_queued = matches!(&answer, Err(e) if class_of(e) == ErrorClass::InDoubt);
    let mut journal = Vec::new();
    if !possibly_queued {
        journal.push(JournalStep::Remove(placeholder.to_owned()));
    }
    let then = match answer {
        Ok(id) => {
            journal.push(JournalStep::Add(id.clone()));
            AfterSubmit::Accepted(id)
        }
        Err(e) => match e.rejected_contacts() {
            Some(reasons) => match read_rejection(&reasons, emails) {
                RejectedBatch::Named(named) => AfterSubmit::RejectNamed(named),
                RejectedBatch::Split => AfterSubmit::Split,
            },
            None => AfterSubmit::Failed(e),
        },
    };
    Submitted { journal, then }
}

/// What a read of the list says about a change in doubt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeenInRead {
    Landed,
    NotLanded,
    /// An add refused because of the contact's status (kept, not failed).
    Kept(ListStatus),
}

/// What is left of `range` once the offsets `named` (relative to its
/// start) are taken out: the contiguous runs between them, in order.
pub fn rest_ranges(
    range: Range<usize>,
    named: impl IntoIterator<Item = usize>,
) -> Vec<Range<usize>> {
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

/// What a write knows and never changes while it runs: the members as
/// recorded, the export's settings, the custom field ids, its start.
pub struct WriteCore<'a> {
    pub known: &'a Known,
    pub list_id: u64,
    pub tags: &'a [String],
    pub exclude_automations: bool,
    /// Whether `[mapping.fields]` maps custom fields (a read cannot see them).
    pub maps_custom_fields: bool,
    /// Each `[mapping.fields]` key's field id.
    pub field_ids: HashMap<String, u64>,
    /// When the write started (Unix seconds).
    pub started_at: i64,
    /// The run read the list in full before planning: an add is of a
    /// contact that was no member then (see [`WriteCore::checks_adds`]).
    pub listed_now: bool,
}

impl WriteCore<'_> {
    /// Whether `items` go through bulk import: from [`BULK_MIN`] on, or
    /// any number when they carry tags (only bulk import adds them; a
    /// removal carries none) or when automations are excluded
    /// (`contact/sync` and `contactLists` cannot exclude them; bulk import
    /// can).
    pub fn by_bulk(&self, items: &[Item]) -> bool {
        let tags = !self.tags.is_empty() && items.iter().any(|i| i.op != PendingOp::Remove);
        let n = items.len();
        n >= BULK_MIN || (n > 0 && (tags || self.exclude_automations))
    }

    /// Whether the write reads the list before it ends, to settle the
    /// changes left in doubt: only when there are any, and not when it
    /// `stopped` early (a fatal error, a shutdown).
    pub fn reads_to_settle(&self, t: &WriteTally, stopped: bool) -> bool {
        t.in_doubt() > 0 && !stopped
    }

    pub fn member(&self, email: &str) -> Member {
        self.known
            .get(email)
            .cloned()
            .unwrap_or_else(|| Member::unknown(email))
    }

    /// The rows that journal `items`' intents (one transaction, before
    /// their request or batch is sent).
    pub fn intents(&self, items: &[Item]) -> Vec<Member> {
        items
            .iter()
            .map(|i| Member {
                pending: Some(i.op),
                ..self.member(i.email)
            })
            .collect()
    }

    /// What is journaled before `sub` (its items `items`) is sent, in one
    /// transaction: the intents of a first submission, the batch it sends
    /// again leaving the journal, and `placeholder` (`unacknowledged:…`)
    /// standing for its id until ActiveCampaign answers. A run killed from
    /// here on leaves the next run a batch to follow.
    pub fn before_submit(
        &self,
        sub: &Submission,
        items: &[Item],
        placeholder: &str,
    ) -> JournalWrite {
        let members = match sub.with_intents {
            true => self.intents(items),
            false => Vec::new(),
        };
        let replaced = sub.replaces.iter().cloned().map(JournalStep::Remove);
        let steps = replaced
            .chain([JournalStep::Add(placeholder.to_owned())])
            .collect();
        JournalWrite { members, steps }
    }

    /// Members whose values already match (seen in a full read): their
    /// hash is stored without a write.
    pub fn matching_hashes(&self, hashes: &[(String, u64)]) -> Vec<Member> {
        hashes
            .iter()
            .map(|(email, h)| Member {
                sent_hash: Some(*h),
                ..self.member(email)
            })
            .collect()
    }

    fn custom(&self, fields: &Fields) -> Vec<(u64, String)> {
        fields
            .custom()
            .filter_map(|(k, v)| self.field_ids.get(k).map(|id| (*id, v.to_owned())))
            .collect()
    }

    pub fn bulk_contact(&self, item: &Item) -> BulkContact {
        let list = self.list_id;
        let is_remove = item.op == PendingOp::Remove;
        let only = |yes: bool| if yes { vec![list] } else { Vec::new() };
        BulkContact {
            email: item.email.to_owned(),
            first_name: item.fields.first_name().map(str::to_owned),
            last_name: item.fields.last_name().map(str::to_owned),
            phone: item.fields.phone().map(str::to_owned),
            fields: self.custom(item.fields),
            tags: if is_remove {
                Vec::new()
            } else {
                self.tags.to_vec()
            },
            subscribe: only(item.op == PendingOp::Add),
            unsubscribe: only(is_remove),
        }
    }

    pub fn contact_input(&self, item: &Item) -> ContactInput {
        ContactInput {
            email: item.email.to_owned(),
            first_name: item.fields.first_name().map(str::to_owned),
            last_name: item.fields.last_name().map(str::to_owned),
            phone: item.fields.phone().map(str::to_owned),
            fields: self.custom(item.fields),
        }
    }
}
