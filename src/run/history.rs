//! A run's entries in the run history (`state::history`): [`entries`]
//! derives them, purely, from the plan and what became of each planned
//! change ([`ChangeOutcomes`], filled by the write as each change ends);
//! [`record`] is the run's one call after the write: it records the
//! entries and prunes the export's history past its retention and size
//! bound. The write's outcomes are the one account of what it did: the
//! history records them as they are.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::config::Export;
use crate::model::{Fields, Kept, LeftAlone, PendingOp};
use crate::plan::{Change, Plan};
use crate::run::db::RunDb;
use crate::run::error::RunError;
use crate::state::history::MAX_ROWS_PER_EXPORT;
use crate::state::{ChangeKind, NewEntry, RunEntries, StateError};
use crate::status::LastRun;

/// The planned operations, as the history names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Update,
    Resubscribe,
    Remove,
}

impl Op {
    pub fn of(op: PendingOp) -> Op {
        match op {
            PendingOp::Add => Op::Add,
            PendingOp::Update => Op::Update,
            PendingOp::Resubscribe => Op::Resubscribe,
            PendingOp::Remove => Op::Remove,
        }
    }

    fn kind(self) -> ChangeKind {
        match self {
            Op::Add => ChangeKind::Added,
            Op::Update => ChangeKind::Updated,
            Op::Resubscribe => ChangeKind::Resubscribed,
            Op::Remove => ChangeKind::Unsubscribed,
        }
    }
}

/// What the write did to one planned change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written<'a> {
    Landed,
    Failed(Cow<'a, str>),
    /// Not ours to change after all (opted out, no longer active, …).
    Kept(LeftAlone),
    /// Not known (the run stopped before it): not recorded.
    Unknown,
}

/// Why a removal is made.
const LEFT: &str = "left the segment";
/// The reason an add or update also in `plan.conflicts` carries.
const CONFLICT_WON: &str =
    "conflict: another export of the list wants other values; this export's win";

/// Where each planned change's outcome is kept in [`ChangeOutcomes`]: the
/// plan's adds, updates, resubscribes and removals, in that order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slots {
    updates: usize,
    resubscribes: usize,
    removals: usize,
}

impl Slots {
    pub fn of(plan: &Plan) -> Slots {
        let updates = plan.adds.len();
        let resubscribes = updates + plan.updates.len();
        let removals = resubscribes + plan.resubscribes.len();
        Slots {
            updates,
            resubscribes,
            removals,
        }
    }

    pub fn add(&self, i: usize) -> usize {
        i
    }

    pub fn update(&self, i: usize) -> usize {
        self.updates + i
    }

    pub fn resubscribe(&self, i: usize) -> usize {
        self.resubscribes + i
    }

    pub fn removal(&self, i: usize) -> usize {
        self.removals + i
    }
}

/// The run's history entries: each planned change with its outcome
/// (`written`, given the change's slot, see [`Slots`]), then the contacts
/// kept and why. One entry per contact.
pub fn entries<'a>(plan: &'a Plan, written: impl Fn(usize) -> Written<'a>) -> Vec<NewEntry<'a>> {
    let slots = Slots::of(plan);
    let mut conflicts: HashSet<&str> = plan.conflicts.iter().map(String::as_str).collect();
    let mut out = Vec::with_capacity(plan.adds.len() + plan.updates.len() + plan.removals.len());
    let changes = [
        (Op::Add, &plan.adds, slots.add(0)),
        (Op::Update, &plan.updates, slots.update(0)),
        (Op::Resubscribe, &plan.resubscribes, slots.resubscribe(0)),
    ];
    for (op, list, first) in changes {
        for (i, c) in list.iter().enumerate() {
            let won = conflicts.remove(c.email.as_str());
            out.extend(change_entry(c, op, written(first + i), won));
        }
    }
    for (i, r) in plan.removals.iter().enumerate() {
        let w = written(slots.removal(i));
        out.extend(entry(&r.email, Op::Remove, None, w, Some(LEFT)));
    }
    let kept = [
        (
            LeftAlone::Status(Kept::Unsubscribed),
            &plan.kept_unsubscribed,
        ),
        (LeftAlone::Status(Kept::Bounced), &plan.kept_bounced),
        (LeftAlone::Status(Kept::Unconfirmed), &plan.kept_unconfirmed),
        (
            LeftAlone::Status(Kept::OtherStatus),
            &plan.kept_other_status,
        ),
        (LeftAlone::InDoubt, &plan.in_doubt),
        (LeftAlone::WantedByOthers, &plan.kept_for_others_emails),
    ];
    let for_deleted = plan.kept_for_deleted.values().flatten();
    let kept = kept
        .into_iter()
        .flat_map(|(why, list)| list.iter().map(move |email| (why, email)))
        .chain(for_deleted.map(|email| (LeftAlone::WantedByDeleted, email)));
    for (why, email) in kept {
        conflicts.remove(email.as_str());
        out.push(NewEntry::kept(email, why));
    }
    // Conflicts this export yields: left as the other export wrote them.
    for email in &plan.conflicts {
        if conflicts.remove(email.as_str()) {
            out.push(NewEntry::kept(email, LeftAlone::Conflict));
        }
    }
    out
}

fn change_entry<'a>(c: &'a Change, op: Op, w: Written<'a>, won: bool) -> Option<NewEntry<'a>> {
    entry(
        &c.email,
        op,
        Some(&c.fields),
        w,
        won.then_some(CONFLICT_WON),
    )
}

fn entry<'a>(
    email: &'a str,
    op: Op,
    fields: Option<&'a crate::model::Fields>,
    w: Written<'a>,
    reason: Option<&'static str>,
) -> Option<NewEntry<'a>> {
    let (change, reason) = match w {
        Written::Landed => (op.kind(), reason.map(Cow::Borrowed)),
        Written::Failed(why) => (ChangeKind::Failed, Some(why)),
        Written::Kept(why) => return Some(NewEntry::kept(email, why)),
        Written::Unknown => return None,
    };
    Some(NewEntry {
        email,
        change,
        fields,
        reason,
    })
}

/// The run a write records into as it goes: the landed changes of a
/// completed bulk batch are recorded with its outcome, in the same
/// transaction (`StateDb::save_with_journal`). So the end of a big run has
/// little left to write (twenty accounts ending together once queued half a
/// million entries behind the one SQLite writer, seconds after their last
/// request), and a run killed mid-way keeps the history of what it did.
/// [`record`] then leaves out the rows already recorded.
#[derive(Debug, Clone)]
pub struct RunRecord {
    run_id: i64,
    export: String,
    at: DateTime<Utc>,
    /// `plan.conflicts`: an add or update of one of them carries [`CONFLICT_WON`].
    conflicts: HashSet<String>,
}

impl RunRecord {
    pub fn new(run_id: i64, export_id: &str, at: DateTime<Utc>, plan: &Plan) -> Self {
        RunRecord {
            run_id,
            export: export_id.to_owned(),
            at,
            conflicts: plan.conflicts.iter().cloned().collect(),
        }
    }

    /// The entries of changes that landed with bulk import `batch`.
    pub fn landed<'p>(
        &self,
        batch: &str,
        changes: impl Iterator<Item = LandedChange<'p>>,
    ) -> LandedEntries {
        let entries = changes
            .map(|c| LandedEntry {
                email: c.email.to_owned(),
                slot: c.slot,
                op: c.op,
                fields: c.fields.clone(),
                won: self.conflicts.contains(c.email),
            })
            .collect();
        LandedEntries {
            run_id: self.run_id,
            export: self.export.clone(),
            at: self.at,
            entries,
            batch: batch.to_owned(),
        }
    }
}

/// A planned change that landed with its batch.
#[derive(Debug, Clone, Copy)]
pub struct LandedChange<'p> {
    /// Its slot in the write's [`ChangeOutcomes`].
    pub slot: usize,
    pub email: &'p str,
    pub op: Op,
    pub fields: &'p Fields,
}

/// A batch's landed changes as history entries, owned: they go to the
/// blocking pool with the batch's outcome.
#[derive(Debug, Clone)]
pub struct LandedEntries {
    run_id: i64,
    export: String,
    at: DateTime<Utc>,
    entries: Vec<LandedEntry>,
    /// The bulk import they landed with.
    batch: String,
}

#[derive(Debug, Clone)]
struct LandedEntry {
    email: String,
    slot: usize,
    op: Op,
    fields: Fields,
    won: bool,
}

impl LandedEntries {
    /// The entries, borrowing `self`; see [`LandedEntries::run`].
    pub fn entries(&self) -> Vec<NewEntry<'_>> {
        self.entries
            .iter()
            .map(|e| {
                let fields = (e.op != Op::Remove).then_some(&e.fields);
                let reason = match e.op {
                    Op::Remove => Some(LEFT),
                    _ => e.won.then_some(CONFLICT_WON),
                };
                NewEntry {
                    email: &e.email,
                    change: e.op.kind(),
                    fields,
                    reason: reason.map(Cow::Borrowed),
                }
            })
            .collect()
    }

    /// The run they belong to, with `entries` (from [`LandedEntries::entries`]).
    pub fn run<'a>(&'a self, entries: &'a [NewEntry<'a>]) -> RunEntries<'a> {
        RunEntries {
            run_id: self.run_id,
            export: &self.export,
            at: self.at,
            entries,
            batch: Some(&self.batch),
        }
    }

    /// The slots of the changes recorded.
    pub fn slots(&self) -> impl Iterator<Item = usize> + '_ {
        self.entries.iter().map(|e| e.slot)
    }
}

/// A change the write did not make, with no reason of its own on record.
const NOT_APPLIED: &str =
    "not applied (refused by ActiveCampaign, or no answer); the next run tries again";

/// How one planned change ended, as the write saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ChangeEnd {
    /// Never sent, or its end never seen (the run stopped before it).
    #[default]
    NotSent,
    Landed,
    /// Landed, and already recorded in the history with its batch's
    /// outcome (see [`RunRecord`]).
    Recorded,
    /// Refused, or shown not to have landed: retried next run.
    Failed(Arc<str>),
    /// Its outcome stayed unknown (no read could settle it): not a failure
    /// (docs/status-file.md, outcomes), counted `in_doubt` and recorded
    /// kept for that reason; its intent stays for the next run.
    InDoubt,
    /// Its status is not ours to change (opted out, bounced, unconfirmed).
    Kept(Kept),
    /// A planned removal that a read right before the write found no
    /// longer active under that email: left untouched.
    NotActive,
}

/// What became of each planned change, by its slot (see [`Slots`]): the
/// write sets each as the change ends, and [`record`] records them.
#[derive(Debug, Clone, Default)]
pub struct ChangeOutcomes(Vec<ChangeEnd>);

impl ChangeOutcomes {
    pub fn set(&mut self, slot: usize, end: ChangeEnd) {
        if slot >= self.0.len() {
            self.0.resize(slot + 1, ChangeEnd::NotSent);
        }
        self.0[slot] = end;
    }

    pub fn of(&self, slot: usize) -> &ChangeEnd {
        self.0.get(slot).unwrap_or(&ChangeEnd::NotSent)
    }

    /// What the history records for the change in `slot`: nothing for
    /// one recorded with its batch, or one a stopped run never sent.
    pub fn written(&self, slot: usize, stopped: bool) -> Written<'_> {
        match self.of(slot) {
            ChangeEnd::Landed => Written::Landed,
            ChangeEnd::Recorded => Written::Unknown,
            ChangeEnd::NotSent if stopped => Written::Unknown,
            ChangeEnd::NotSent => Written::Failed(Cow::Borrowed(NOT_APPLIED)),
            ChangeEnd::Failed(why) => Written::Failed(Cow::Borrowed(why)),
            ChangeEnd::InDoubt => Written::Kept(LeftAlone::InDoubt),
            ChangeEnd::Kept(kept) => Written::Kept(LeftAlone::Status(*kept)),
            ChangeEnd::NotActive => Written::Kept(LeftAlone::NotActive),
        }
    }
}

/// Entries written per transaction (see [`try_record`]).
const HISTORY_CHUNK: usize = 2_000;

/// Why a run's history could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Run(#[from] crate::run::error::RunError),
}

/// After the write: records the run's entries and prunes the export's
/// history (older than its `history_retention`, beyond
/// [`MAX_ROWS_PER_EXPORT`]). A failure is logged, not returned: the run's
/// work is already recorded in the member rows, and the history is an
/// account of it.
///
/// The work runs on the blocking pool, each transaction under the writer
/// gate ([`RunDb::write`]), so it takes the plan and the outcomes and gives
/// the plan back; `Err` only if the work could not finish (it panicked).
pub async fn record(
    db: &RunDb,
    export: &Export,
    run: &LastRun,
    plan: Plan,
    outcomes: ChangeOutcomes,
    stopped: bool,
) -> Result<Plan, RunError> {
    let Some(run_id) = run.run_id else {
        return Ok(plan);
    };
    let (export, at) = (export.clone(), run.started_at);
    // A million entries take seconds: off the async workers.
    db.off_worker(move |db| {
        let result = try_record(db, &export, run_id, at, &plan, &outcomes, stopped);
        if let Err(e) = result {
            tracing::error!(export = %export.id, error = %e, "cannot record the run history");
        }
        plan
    })
    .await
}

/// [`record`], with its error.
pub fn try_record(
    db: &RunDb,
    export: &Export,
    run_id: i64,
    at: DateTime<Utc>,
    plan: &Plan,
    outcomes: &ChangeOutcomes,
    stopped: bool,
) -> Result<(), RecordError> {
    let mut list = entries(plan, |slot| outcomes.written(slot, stopped));
    // In email order (both b-trees grow at one place), and in chunks, each
    // its own transaction under the process's writer gate: a big run's
    // history must not hold the one SQLite writer while other exports wait
    // to journal their batches.
    list.sort_unstable_by(|a, b| a.email.cmp(b.email));
    // A run without entries is recorded too (its run row): pruning keeps
    // the newest run, which must be this one.
    let empty: [NewEntry; 0] = [];
    let chunks: Vec<&[NewEntry]> = match list.is_empty() {
        true => vec![&empty[..]],
        false => list.chunks(HISTORY_CHUNK).collect(),
    };
    for chunk in chunks {
        db.write(|d| d.record_history(run_id, &export.id, at, chunk))?;
    }
    let retention =
        chrono::Duration::from_std(export.history_retention).unwrap_or(chrono::Duration::MAX);
    let cutoff = Utc::now()
        .checked_sub_signed(retention)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    db.write(|d| d.prune_history(&export.id, cutoff, MAX_ROWS_PER_EXPORT))?;
    Ok(())
}

#[cfg(test)]
#[path = "history_tests.rs"]
mod tests;
