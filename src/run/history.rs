//! A run's entries in the run history (`state::history`): [`entries`]
//! derives them, purely, from the plan and what the write did to each
//! planned change ([`Written`]); [`record`] is the run's one call after the
//! write: it works out the outcomes ([`Outcomes`]), records the entries and
//! prunes the export's history past its retention and size bound.
//!
//! What the write did is known per contact from the applier's tally when
//! every failure in it is itemised (the common case: no failure, or a few
//! refused adds and updates, each named by its row); otherwise (more
//! failures than it itemises, opt-outs met at write time, a run that
//! stopped) from the member rows the write left in the state database,
//! which record every outcome.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::config::Export;
use crate::model::{Fields, Kept, LeftAlone, PendingOp};
use crate::model::{Known, ListStatus};
use crate::plan::{Change, Plan};
use crate::run::apply::decide::{RowSet, WriteTally as Tally};
use crate::run::db::{RunDb, write_gate};
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

/// The run's history entries: each planned change with its outcome, then
/// the contacts kept and why. One entry per contact.
pub fn entries<'a>(
    plan: &'a Plan,
    written: impl Fn(&'a str, Option<u64>, Op) -> Written<'a>,
) -> Vec<NewEntry<'a>> {
    let mut conflicts: HashSet<&str> = plan.conflicts.iter().map(String::as_str).collect();
    let mut out = Vec::with_capacity(plan.adds.len() + plan.updates.len() + plan.removals.len());
    let changes = [
        (Op::Add, &plan.adds),
        (Op::Update, &plan.updates),
        (Op::Resubscribe, &plan.resubscribes),
    ];
    for (op, list) in changes {
        for c in list.iter() {
            let won = conflicts.remove(c.email.as_str());
            out.extend(change_entry(c, op, written(&c.email, Some(c.row), op), won));
        }
    }
    for r in &plan.removals {
        let w = written(&r.email, None, Op::Remove);
        out.extend(entry(&r.email, Op::Remove, None, w, Some(LEFT)));
    }
    let kept = [
        (
            LeftAlone::Status(Kept::Unsubscribed),
            &plan.kept_unsubscribed,
        ),
        (LeftAlone::Status(Kept::Bounced), &plan.kept_bounced),
        (LeftAlone::Status(Kept::Unconfirmed), &plan.kept_unconfirmed),
        (LeftAlone::InDoubt, &plan.in_doubt),
        (LeftAlone::WantedByOthers, &plan.kept_for_others_emails),
    ];
    for (why, list) in kept {
        for email in list.iter() {
            conflicts.remove(email.as_str());
            out.push(NewEntry::kept(email, why));
        }
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

    /// The entries of changes that landed: `(email, row, op, fields)`.
    pub fn landed<'p>(
        &self,
        changes: impl Iterator<Item = (&'p str, u64, Op, &'p Fields)>,
    ) -> LandedEntries {
        let entries = changes
            .map(|(email, row, op, fields)| LandedEntry {
                email: email.to_owned(),
                row,
                op,
                fields: fields.clone(),
                won: self.conflicts.contains(email),
            })
            .collect();
        LandedEntries {
            run_id: self.run_id,
            export: self.export.clone(),
            at: self.at,
            entries,
        }
    }
}

/// A batch's landed changes as history entries, owned: they go to the
/// blocking pool with the batch's outcome.
#[derive(Debug, Clone)]
pub struct LandedEntries {
    run_id: i64,
    export: String,
    at: DateTime<Utc>,
    entries: Vec<LandedEntry>,
}

#[derive(Debug, Clone)]
struct LandedEntry {
    email: String,
    row: u64,
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
        }
    }

    /// The source rows recorded.
    pub fn rows(&self) -> impl Iterator<Item = u64> + '_ {
        self.entries.iter().map(|e| e.row)
    }
}

/// A change the write did not make, with no reason of its own on record.
const NOT_APPLIED: &str =
    "not applied (refused by ActiveCampaign, or no answer); the next run tries again";
/// A change still pending when the run ended.
const IN_DOUBT: &str =
    "outcome unknown when the run ended (its intent stays pending); the next run checks it";

/// What the write did to each planned change: the tally's itemised
/// failures (by source row) and, when the tally cannot tell every
/// outcome, the member rows the write left (`after`).
pub struct Outcomes<'a> {
    failed_rows: HashMap<u64, &'a str>,
    hashes: HashMap<&'a str, u64>,
    after: Option<Known>,
    stopped: bool,
}

impl<'a> Outcomes<'a> {
    /// Whether the tally alone tells every outcome: the run went to its
    /// end, each failure is itemised with a planned row, and nothing was
    /// found kept or no longer active at write time.
    pub fn tally_suffices(plan: &Plan, tally: &Tally, stopped: bool) -> bool {
        let kept = tally.kept_unsubscribed + tally.kept_bounced + tally.kept_unconfirmed;
        if stopped || kept > 0 || tally.not_active > 0 {
            return false;
        }
        if tally.failed == 0 {
            return true;
        }
        let rows = planned_rows(plan);
        let itemised = tally
            .failures
            .iter()
            .filter(|f| f.row.is_some_and(|r| rows.contains(&r)))
            .count() as u64;
        itemised == tally.failed
    }

    /// `after`: the export's member rows after the write, needed when
    /// [`Outcomes::tally_suffices`] is false.
    pub fn new(plan: &'a Plan, tally: &'a Tally, after: Option<Known>, stopped: bool) -> Self {
        let failed_rows = tally
            .failures
            .iter()
            .filter_map(|f| Some((f.row?, f.reason.as_str())))
            .collect();
        let hashes = match after {
            Some(_) => plan
                .adds
                .iter()
                .chain(&plan.updates)
                .chain(&plan.resubscribes)
                .map(|c| (c.email.as_str(), c.hash))
                .collect(),
            None => HashMap::new(),
        };
        Outcomes {
            failed_rows,
            hashes,
            after,
            stopped,
        }
    }

    pub fn of(&self, email: &str, row: Option<u64>, op: Op) -> Written<'a> {
        if let Some(why) = row.and_then(|r| self.failed_rows.get(&r)) {
            return Written::Failed(Cow::Borrowed(why));
        }
        let Some(after) = &self.after else {
            return Written::Landed;
        };
        let unmade = || match self.stopped {
            true => Written::Unknown,
            false => Written::Failed(Cow::Borrowed(NOT_APPLIED)),
        };
        let Some(m) = after.get(email) else {
            return unmade();
        };
        if m.pending.is_some() {
            return Written::Failed(Cow::Borrowed(IN_DOUBT));
        }
        match (op, m.status) {
            (Op::Remove, Some(ListStatus::Unsubscribed)) if m.unsubscribed_by_us => Written::Landed,
            (Op::Remove, Some(ListStatus::Active)) => unmade(),
            (Op::Remove, _) => Written::Kept(LeftAlone::NotActive),
            (_, Some(ListStatus::Active)) if m.sent_hash == self.hashes.get(email).copied() => {
                Written::Landed
            }
            (_, Some(ListStatus::Unsubscribed)) if !m.unsubscribed_by_us => {
                Written::Kept(LeftAlone::Status(Kept::Unsubscribed))
            }
            (_, Some(ListStatus::Bounced)) => Written::Kept(Kept::Bounced.into()),
            (_, Some(ListStatus::Unconfirmed)) => Written::Kept(Kept::Unconfirmed.into()),
            _ => unmade(),
        }
    }
}

/// What the end of the run records for a planned change: nothing for a
/// row recorded with its batch's outcome, else its outcome.
fn at_end<'a>(
    recorded: &RowSet,
    outcomes: &Outcomes<'a>,
    email: &'a str,
    row: Option<u64>,
    op: Op,
) -> Written<'a> {
    match row {
        Some(r) if recorded.contains(r) => Written::Unknown,
        _ => outcomes.of(email, row, op),
    }
}

fn planned_rows(plan: &Plan) -> HashSet<u64> {
    plan.adds
        .iter()
        .chain(&plan.updates)
        .chain(&plan.resubscribes)
        .map(|c| c.row)
        .collect()
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
pub fn record(
    db: &RunDb,
    export: &Export,
    run: &LastRun,
    plan: &Plan,
    tally: &Tally,
    stopped: bool,
) {
    let Some(run_id) = run.run_id else { return };
    // A million entries take seconds: off the async worker where the
    // runtime allows it (the daemon's and `sync`'s are multi-threaded).
    let work = || try_record(db, export, run_id, run.started_at, plan, tally, stopped);
    let result = match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    };
    if let Err(e) = result {
        tracing::error!(export = %export.id, error = %e, "cannot record the run history");
    }
}

/// [`record`], with its error.
pub fn try_record(
    db: &RunDb,
    export: &Export,
    run_id: i64,
    at: DateTime<Utc>,
    plan: &Plan,
    tally: &Tally,
    stopped: bool,
) -> Result<(), RecordError> {
    // A read: no writer gate (WAL readers wait for nobody).
    let after = match Outcomes::tally_suffices(plan, tally, stopped) {
        true => None,
        false => Some(db.lock()?.load_known(&crate::state::scope_of(export))?),
    };
    let outcomes = Outcomes::new(plan, tally, after, stopped);
    let recorded = &tally.history_recorded;
    let mut list = entries(plan, |email, row, op| {
        at_end(recorded, &outcomes, email, row, op)
    });
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
        let _gate = write_gate();
        db.lock()?.record_history(run_id, &export.id, at, chunk)?;
    }
    let _gate = write_gate();
    let mut db = db.lock()?;
    let retention =
        chrono::Duration::from_std(export.history_retention).unwrap_or(chrono::Duration::MAX);
    let cutoff = Utc::now()
        .checked_sub_signed(retention)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    db.prune_history(&export.id, cutoff, MAX_ROWS_PER_EXPORT)?;
    Ok(())
}

#[cfg(test)]
#[path = "history_tests.rs"]
mod tests;
