//! The bulk-import batch store (§4.4): batches queued by
//! `POST /import/bulk_import`, their fate (decided by the fault dice at
//! submit), and the `/import/info` state machine (`false` -> `active` ->
//! terminal). Applying a due batch to the account is `world.rs`'s.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::super::model::records::ContactPatch;
use super::gate::later;

/// One contact of a validated request (snake_case on the wire, §4.2).
#[derive(Clone, Debug, Default)]
pub struct BulkContact {
    pub email: String,
    pub patch: ContactPatch,
    pub subscribe: Vec<u64>,
    pub unsubscribe: Vec<u64>,
    /// Automations are excluded for this contact, read where the account
    /// honours `exclude_automations` ([`ExcludeAutomationsAt`]).
    pub exclude_automations: bool,
}

/// The base of the index `failureReasons[].contact` names a contact by
/// (§12: undocumented).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FailureIndexBase {
    #[default]
    Zero,
    One,
}

/// Where the account honours `exclude_automations` in a bulk import body
/// (§12, "`exclude_automations` placement is ambiguous"); elsewhere it is
/// accepted and ignored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExcludeAutomationsAt {
    /// Inside each contact, where the reference example puts it (§4.2).
    #[default]
    EachContact,
    /// At the top level of the body only, where third-party clients put it.
    TopLevel,
}

/// How a batch ends, decided by the fault dice at submit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    Complete,
    /// Nothing applied.
    Failed,
    /// The first `n` contacts applied.
    Interrupted(usize),
}

#[derive(Debug)]
pub struct Batch {
    submitted: Instant,
    contacts: Vec<BulkContact>,
    fate: Fate,
    false_polls_left: u32,
    /// Set once applied.
    result: Option<BatchEnd>,
}

/// How an applied batch ended, as `/import/info` reports it.
#[derive(Debug)]
pub struct BatchEnd {
    /// `completed`, `failed` or `interrupted`.
    pub status: &'static str,
    /// The ids of the contacts the import created.
    pub created: Vec<u64>,
    /// The emails it refused.
    pub failed: Vec<String>,
}

/// All batches of the account, plus the queue of those not yet applied (in
/// submit order, which is due order since durations are fixed).
#[derive(Debug)]
pub struct Batches {
    by_id: HashMap<String, Batch>,
    pending: VecDeque<String>,
    rng: SmallRng,
    pub info_false_for: Duration,
    pub import_duration: Duration,
    /// Emails whose presence rejects a whole request (see [`validate`]).
    pub refused_in_bulk: HashSet<String>,
    /// Every batch reads as unknown to `/import/info` (a fault).
    pub info_not_found: bool,
    /// The next this many batches end `failed` (nothing applied), whatever
    /// the dice say.
    pub fail_next: u32,
    /// The answer to the n-th accepted bulk import (1-based, as the ledger
    /// counts them) is held back this long after its batch is queued: a
    /// client killed meanwhile never learns the batch id.
    pub hold_answer: Option<(u64, Duration)>,
    /// How `failureReasons` counts contacts.
    pub failure_index_base: FailureIndexBase,
    /// The next this many bulk imports are answered with ActiveCampaign's
    /// documented whole-batch rejection (contact 230, §4.3), whatever they hold.
    pub documented_rejections: u32,
    /// Where `exclude_automations` is honoured.
    pub exclude_automations_at: ExcludeAutomationsAt,
    /// Contacts queued with automations excluded, and without (their
    /// automations fire).
    pub automations_excluded: u64,
    pub automations_allowed: u64,
    /// Batches processed and their contacts, per UTC day (`recentlyCompleted`).
    completed: BTreeMap<String, (u64, u64)>,
}

/// What `/import/info` reports.
#[derive(Debug, PartialEq)]
pub enum Info {
    /// `{"status":false}`; `injected` when only the fault kept it false.
    NotYet {
        injected: bool,
    },
    Active,
    Done(Value),
}

impl Default for Batches {
    fn default() -> Self {
        Batches::new(0, Duration::ZERO, Duration::ZERO)
    }
}

impl Batches {
    pub fn new(seed: u64, info_false_for: Duration, import_duration: Duration) -> Self {
        Batches {
            by_id: HashMap::new(),
            pending: VecDeque::new(),
            // A stream apart from the request dice, so batch fates do not
            // depend on how many requests came before.
            rng: SmallRng::seed_from_u64(seed ^ 0xB47C_4B47_C4B4_7C4B),
            info_false_for,
            import_duration,
            refused_in_bulk: HashSet::new(),
            info_not_found: false,
            fail_next: 0,
            hold_answer: None,
            failure_index_base: FailureIndexBase::default(),
            documented_rejections: 0,
            exclude_automations_at: ExcludeAutomationsAt::default(),
            automations_excluded: 0,
            automations_allowed: 0,
            completed: BTreeMap::new(),
        }
    }

    /// Queue a validated batch; returns its uuid-like id and whether a
    /// fault decided its fate.
    pub fn submit(
        &mut self,
        contacts: Vec<BulkContact>,
        now: Instant,
        fail_rate: f64,
        false_polls: u32,
    ) -> (String, bool) {
        let (roll, coin, cut) = (
            self.rng.random::<f64>(),
            self.rng.random::<f64>(),
            self.rng.random::<f64>(),
        );
        let forced = self.fail_next > 0;
        self.fail_next = self.fail_next.saturating_sub(1);
        let fate = match (roll < fail_rate, coin < 0.5) {
            _ if forced => Fate::Failed,
            (false, _) => Fate::Complete,
            (true, true) => Fate::Failed,
            (true, false) => Fate::Interrupted((cut * contacts.len() as f64) as usize),
        };
        let excluded = contacts.iter().filter(|c| c.exclude_automations).count() as u64;
        self.automations_excluded += excluded;
        self.automations_allowed += contacts.len() as u64 - excluded;
        let id = self.uuid();
        let batch = Batch {
            submitted: now,
            contacts,
            fate,
            false_polls_left: false_polls,
            result: None,
        };
        self.by_id.insert(id.clone(), batch);
        self.pending.push_back(id.clone());
        (id, fate != Fate::Complete)
    }

    fn uuid(&mut self) -> String {
        let (a, b): (u64, u64) = (self.rng.random(), self.rng.random());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }

    fn due_at(&self, b: &Batch) -> Instant {
        later(
            b.submitted,
            self.info_false_for.saturating_add(self.import_duration),
        )
    }

    /// Take the next batch whose processing time has passed, if any.
    pub fn next_due(&mut self, now: Instant) -> Option<(String, Vec<BulkContact>, Fate)> {
        let id = self.pending.front()?;
        let b = self.by_id.get(id)?;
        if self.due_at(b) > now {
            return None;
        }
        let id = self.pending.pop_front()?;
        let b = self.by_id.get_mut(&id)?;
        Some((id, std::mem::take(&mut b.contacts), b.fate))
    }

    /// Batches accepted and not yet processed, and their contacts.
    pub fn outstanding(&self) -> (usize, usize) {
        let contacts = self
            .pending
            .iter()
            .filter_map(|id| self.by_id.get(id))
            .map(|b| b.contacts.len())
            .sum();
        (self.pending.len(), contacts)
    }

    /// Batches processed (whatever their end) per day, oldest first: the
    /// `recentlyCompleted` of `GET /import/bulk_import` (§4.4).
    pub fn recently_completed(&self) -> Vec<(String, u64, u64)> {
        self.completed
            .iter()
            .map(|(day, (batches, contacts))| (day.clone(), *batches, *contacts))
            .collect()
    }

    /// `/import/info` for one batch (§4.4); `None` when unknown.
    pub fn info(&mut self, id: &str, now: Instant) -> Option<Info> {
        let info_false_for = self.info_false_for;
        if self.info_not_found {
            return None;
        }
        let b = self.by_id.get_mut(id)?;
        if now.saturating_duration_since(b.submitted) < info_false_for {
            return Some(Info::NotYet { injected: false });
        }
        if b.false_polls_left > 0 {
            b.false_polls_left -= 1;
            return Some(Info::NotYet { injected: true });
        }
        Some(match &b.result {
            None => Info::Active,
            Some(end) => Info::Done(json!({
                "status": end.status,
                "success": end.created.iter().map(u64::to_string).collect::<Vec<_>>(),
                "failure": end.failed,
            })),
        })
    }

    /// Counts a processed batch of `contacts` under today's date.
    pub fn count_completed(&mut self, contacts: usize) {
        let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
        let done = self.completed.entry(day).or_default();
        done.0 += 1;
        done.1 += contacts as u64;
    }

    /// Records how batch `id` ended.
    pub fn finish(&mut self, id: &str, end: BatchEnd) {
        if let Some(b) = self.by_id.get_mut(id) {
            b.result = Some(end);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_look_like_uuids() {
        let mut b = Batches::new(7, Duration::ZERO, Duration::ZERO);
        let id = b.uuid();
        let parts: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(parts, vec![8, 4, 4, 4, 12]);
    }
}
