//! The pure planner: from the segment, what this export knows about its list
//! members and (after a full read) ActiveCampaign's own values, what a run
//! adds, updates, resubscribes and unsubscribes. No IO, no clock: the engine
//! executes a [`Plan`]; [`merge_live`] folds a full read of the list into the
//! known state first.
//!
//! The rules it applies are stated in docs/run-rules.md (adds, updates,
//! resubscribes; kept statuses; prune; safety limits) and docs/ownership.md
//! (shared lists). Every member the plan does not write gets its reason
//! ([`MemberPlan`], `model::LeftAlone`).

pub mod diff;
pub mod full_read;
pub mod member;
pub mod merge;
pub mod retired;
pub mod summary;

use std::collections::{BTreeMap, HashMap};

pub use diff::{DIFF_SAMPLES, FieldDiff, UpdateDiff, read_back_hash};
pub use full_read::{
    DriftReason, FullReadReason, ReadFacts, ReadKind, drift_check_reason, full_read_reason,
};
pub use member::MemberPlan;
use member::{Watch, leaver_kept, leaver_plan};
pub use merge::{Merge, merge_changed, merge_live};
pub use retired::{OwnedUntil, RetiredWishes};
pub use summary::PlanSummary;

use crate::config::Export;
use crate::model::{
    Fields, Kept, Known, LeftAlone, ListStatus, LiveMember, Member, Profile, Prune, RemovalLimit,
};
use crate::segment::Segment;

/// The export settings the planner obeys.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlanSettings {
    pub prune: Prune,
    pub max_removals: RemovalLimit,
    pub max_profiles: u64,
    pub allow_empty: bool,
    /// `sync --allow-removals`: lift the `max_removals` guard for this run.
    pub allow_removals: bool,
}

impl PlanSettings {
    pub fn from_export(export: &Export, allow_removals: bool) -> Self {
        PlanSettings {
            prune: export.prune,
            max_removals: export.max_removals,
            max_profiles: export.max_profiles,
            allow_empty: export.allow_empty,
            allow_removals,
        }
    }
}

/// What the other exports of a shared list want (docs/ownership.md): an export never
/// unsubscribes a contact another export of the list still has in its
/// segment, and a contact both want with different values is written only
/// by the export whose id sorts first, so values never ping-pong.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OtherExports {
    /// Email → what the first other export (by id) wants for it.
    pub wanted: HashMap<String, OtherWant>,
    /// Why no removal may be made this run (e.g. another export of the
    /// list has not recorded its segment yet).
    pub hold_removals: Option<String>,
    /// What the list's deleted exports still want: never unsubscribed
    /// until released (docs/ownership.md, "Deleting an export").
    pub retired: RetiredWishes,
}

/// Another export's wish for one contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherWant {
    pub export: String,
    /// [`Fields::hash64`] of what it sends.
    pub hash: u64,
    /// Its id sorts before ours: on a conflict its values win.
    pub wins: bool,
}

/// A guard that fails the run before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("the segment has {profiles} profiles, more than max_profiles = {max}")]
    TooManyProfiles { profiles: u64, max: u64 },
    #[error("the segment is empty; set allow_empty = true if the list should be emptied")]
    EmptySegment,
}

/// One contact to write: an add, an update or a resubscribe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub email: String,
    /// The source row, for failure reports.
    pub row: u64,
    /// Known from the state or a full read; `None` for contacts never seen.
    pub contact_id: Option<u64>,
    pub fields: Fields,
    /// `fields.hash64()`, to store as `sent_hash` once the write is confirmed.
    pub hash: u64,
    /// [`read_back_hash`] of the full read that found the fields drifted
    /// (`None` without one), to store as `read_back_hash` with `hash`.
    pub read_back: Option<u64>,
}

/// One member to unsubscribe (list status 2; contacts are never deleted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    pub email: String,
    pub contact_id: Option<u64>,
}

/// What a run changes. Changes are in segment order, removals in email order,
/// so the same inputs always give the same requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub adds: Vec<Change>,
    pub updates: Vec<Change>,
    /// Members this export unsubscribed who re-entered the segment. The engine
    /// decides whether to write fields too (when `hash` differs from `sent_hash`).
    pub resubscribes: Vec<Change>,
    /// Empty when [`Plan::blocked`].
    pub removals: Vec<Removal>,
    /// The removals a block holds back (empty unless [`Plan::blocked`]):
    /// whom `--allow-removals` would unsubscribe.
    pub held_back: Vec<Removal>,
    /// Segment members who opted out themselves: never resubscribed.
    pub kept_unsubscribed: Vec<String>,
    /// Segment members whose list status is bounced (3): never forced to 1.
    pub kept_bounced: Vec<String>,
    /// Segment members awaiting double opt-in (0): never forced to 1.
    pub kept_unconfirmed: Vec<String>,
    /// Segment members with a list status acsync does not manage (91
    /// "removed", or any code it does not know): never written over.
    pub kept_other_status: Vec<String>,
    /// Members with a change whose outcome is still unknown (a batch
    /// ActiveCampaign has not finished): left exactly as they are this run.
    pub in_doubt: Vec<String>,
    /// Segment members another export of the list wants with other values
    /// (written only by the export whose id sorts first).
    pub conflicts: Vec<String>,
    /// Members that left this segment but another export of the list still
    /// wants: not unsubscribed.
    pub kept_for_others: u64,
    /// Their emails (the run history records why each was kept).
    pub kept_for_others_emails: Vec<String>,
    /// Members that left this segment but a deleted export of the list
    /// still wants, by that export: not unsubscribed until it is released.
    pub kept_for_deleted: BTreeMap<String, Vec<String>>,
    /// Active segment members that need no write (including `record_hashes`).
    pub unchanged: u64,
    /// Members whose live values already equal what we would send but whose
    /// `sent_hash` is unknown: the engine stores the hash without a write.
    pub record_hashes: Vec<(String, u64)>,
    /// Removals the prune policy asks for, before the `max_removals` guard.
    pub would_remove: u64,
    /// The members the export manages, the base of a percent limit: its
    /// owned active members under `prune = "owned"`, every active member
    /// of the list under `prune = "all"` (docs/run-rules.md, safety limits).
    pub managed_members: u64,
    /// Why removals were dropped (docs/run-rules.md, safety limits), with the numbers.
    pub blocked: Option<String>,
    /// The first [`DIFF_SAMPLES`] updates, field by field (for `plan`).
    pub update_diffs: Vec<UpdateDiff>,
}

/// The counts of a plan: the part of `plan --json` ([`PlanSummary`]) that
/// says how many members each kind of change or keep concerns.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlanCounts {
    pub to_add: u64,
    pub to_update: u64,
    pub to_remove: u64,
    pub to_resubscribe: u64,
    pub kept_unsubscribed: u64,
    pub kept_bounced: u64,
    pub kept_unconfirmed: u64,
    pub kept_other_status: u64,
    pub in_doubt: u64,
    pub managed_members: u64,
    pub conflicts: u64,
    pub kept_for_others: u64,
    /// Deleted export → how many members are kept for it.
    pub kept_for_deleted: BTreeMap<String, u64>,
    pub unchanged: u64,
    pub would_remove: u64,
    pub blocked: Option<String>,
}

impl Plan {
    /// No write to ActiveCampaign (`record_hashes` only touch local state).
    pub fn is_empty(&self) -> bool {
        self.adds.is_empty()
            && self.updates.is_empty()
            && self.resubscribes.is_empty()
            && self.removals.is_empty()
    }

    pub fn counts(&self) -> PlanCounts {
        let n = |len: usize| len as u64;
        PlanCounts {
            to_add: n(self.adds.len()),
            to_update: n(self.updates.len()),
            to_remove: n(self.removals.len()),
            to_resubscribe: n(self.resubscribes.len()),
            kept_unsubscribed: n(self.kept_unsubscribed.len()),
            kept_bounced: n(self.kept_bounced.len()),
            kept_unconfirmed: n(self.kept_unconfirmed.len()),
            kept_other_status: n(self.kept_other_status.len()),
            in_doubt: n(self.in_doubt.len()),
            managed_members: self.managed_members,
            conflicts: n(self.conflicts.len()),
            kept_for_others: self.kept_for_others,
            kept_for_deleted: self.kept_for_deleted_counts(),
            unchanged: self.unchanged,
            would_remove: self.would_remove,
            blocked: self.blocked.clone(),
        }
    }

    /// [`Plan::kept_for_deleted`] counted per deleted export.
    pub fn kept_for_deleted_counts(&self) -> BTreeMap<String, u64> {
        self.kept_for_deleted
            .iter()
            .map(|(export, emails)| (export.clone(), emails.len() as u64))
            .collect()
    }
}

/// Plans a run. `known` is this export's record of its list keyed by
/// lowercased email, with pending intents already resolved by
/// [`merge_live`]. `live_fields` is given after a full read (keyed by
/// lowercased email) and enables drift repair.
pub fn plan(
    segment: &Segment,
    known: &Known,
    live_fields: Option<&HashMap<String, LiveMember>>,
    s: &PlanSettings,
) -> Result<Plan, PlanError> {
    plan_shared(segment, known, live_fields, s, &OtherExports::default())
}

/// [`plan`] for a list other exports also target.
pub fn plan_shared(
    segment: &Segment,
    known: &Known,
    live_fields: Option<&HashMap<String, LiveMember>>,
    s: &PlanSettings,
    others: &OtherExports,
) -> Result<Plan, PlanError> {
    let mut watch = Watch::none();
    plan_watching(segment, known, live_fields, s, others, &mut watch)
}

/// [`plan_shared`], and what the plan does with `email` (lowercased): the
/// write it makes, or why it leaves the member alone. `explain` asks this;
/// the decision is the planner's own, taken where it is made.
pub fn plan_for(
    segment: &Segment,
    known: &Known,
    live_fields: Option<&HashMap<String, LiveMember>>,
    s: &PlanSettings,
    others: &OtherExports,
    email: &str,
) -> Result<(Plan, MemberPlan), PlanError> {
    let mut watch = Watch {
        email: Some(email),
        found: None,
    };
    let plan = plan_watching(segment, known, live_fields, s, others, &mut watch)?;
    let found = watch
        .found
        .unwrap_or(MemberPlan::LeftAlone(LeftAlone::NotMember));
    Ok((plan, found))
}

fn plan_watching(
    segment: &Segment,
    known: &Known,
    live_fields: Option<&HashMap<String, LiveMember>>,
    s: &PlanSettings,
    others: &OtherExports,
    watch: &mut Watch<'_>,
) -> Result<Plan, PlanError> {
    check_guards(segment, s)?;
    let mut plan = Plan::default();
    // The positions of the known members the segment holds, one bit each
    // (125 kB for a million): the removal scan then tests a bit instead of
    // hashing every email again.
    let mut in_segment = BitSet::new(known.len());
    for p in &segment.profiles {
        let pos = known.position(p.email.as_str());
        let m = pos.map(|i| &known.as_slice()[i]);
        if let Some(i) = pos {
            in_segment.set(i);
        }
        let what = plan_profile(&mut plan, p, m, live_fields, others);
        watch.note(&p.email, what);
    }
    plan_removals(&mut plan, known, &in_segment, s, others);
    if let Some(email) = watch.email.filter(|_| watch.found.is_none()) {
        watch.found = Some(leaver_plan(&plan, known.get(email), s, others));
    }
    Ok(plan)
}

/// A fixed-size set of positions.
struct BitSet(Vec<u64>);

impl BitSet {
    fn new(len: usize) -> BitSet {
        BitSet(vec![0; len.div_ceil(64)])
    }

    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }

    fn contains(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
}

fn check_guards(segment: &Segment, s: &PlanSettings) -> Result<(), PlanError> {
    let profiles = segment.profiles.len() as u64;
    if profiles > s.max_profiles {
        return Err(PlanError::TooManyProfiles {
            profiles,
            max: s.max_profiles,
        });
    }
    if profiles == 0 && !s.allow_empty {
        return Err(PlanError::EmptySegment);
    }
    Ok(())
}

fn is_active(m: &Member) -> bool {
    m.status == Some(ListStatus::Active)
}

/// Plans one segment profile and says what it does with it.
fn plan_profile(
    plan: &mut Plan,
    p: &Profile,
    known: Option<&Member>,
    live_fields: Option<&HashMap<String, LiveMember>>,
    others: &OtherExports,
) -> MemberPlan {
    let h = p.fields.hash64();
    let other = others.wanted.get(p.email.as_str()).filter(|o| o.hash != h);
    if other.is_some() {
        plan.conflicts.push(p.email.clone());
    }
    let yields = other.is_some_and(|o| o.wins);
    // No write for a contact another export also wants with other values:
    // the run history records it as a conflict.
    let unchanged = match other {
        Some(_) => MemberPlan::LeftAlone(LeftAlone::Conflict),
        None => MemberPlan::LeftAlone(LeftAlone::Unchanged),
    };
    if let Some(m) = known.filter(|m| m.pending.is_some()) {
        plan.in_doubt.push(m.email.clone());
        return MemberPlan::LeftAlone(LeftAlone::InDoubt);
    }
    let Some((m, status)) = known.and_then(|m| Some((m, m.status?))) else {
        plan.adds.push(change(p, known, h, None));
        return MemberPlan::Add;
    };
    let kept = |list: &mut Vec<String>, why: Kept| {
        list.push(p.email.clone());
        MemberPlan::LeftAlone(LeftAlone::Status(why))
    };
    match status {
        ListStatus::Active => {
            let live = live_fields.and_then(|l| l.get(p.email.as_str()));
            match field_work(p, m, h, live) {
                // Another export's values win this contact: not ours to write.
                FieldWork::Write { .. } if yields => {
                    plan.unchanged += 1;
                    unchanged
                }
                FieldWork::Write { read_back } => {
                    if plan.update_diffs.len() < DIFF_SAMPLES {
                        plan.update_diffs.push(UpdateDiff {
                            email: p.email.clone(),
                            fields: diff::diff_fields(&p.fields, live),
                        });
                    }
                    plan.updates.push(change(p, Some(m), h, read_back));
                    MemberPlan::Update
                }
                FieldWork::RecordHash => {
                    plan.record_hashes.push((p.email.clone(), h));
                    plan.unchanged += 1;
                    unchanged
                }
                FieldWork::Nothing => {
                    plan.unchanged += 1;
                    unchanged
                }
            }
        }
        ListStatus::Unsubscribed if m.unsubscribed_by_us => {
            plan.resubscribes.push(change(p, Some(m), h, None));
            MemberPlan::Resubscribe
        }
        ListStatus::Unsubscribed => kept(&mut plan.kept_unsubscribed, Kept::Unsubscribed),
        ListStatus::Bounced => kept(&mut plan.kept_bounced, Kept::Bounced),
        ListStatus::Unconfirmed => kept(&mut plan.kept_unconfirmed, Kept::Unconfirmed),
        ListStatus::Other(_) => kept(&mut plan.kept_other_status, Kept::OtherStatus),
    }
}

/// What an active member's fields need.
enum FieldWork {
    /// `read_back`: what the full read showed, when it found a drift.
    Write {
        read_back: Option<u64>,
    },
    /// Unchanged, but the hash of what AC holds is new to us: store it.
    RecordHash,
    Nothing,
}

/// `live`: the member's values from a full read, if one happened.
///
/// A read that differs from what this export sent, and shows exactly what
/// the read before its last write of these values showed, shows how
/// ActiveCampaign stores them: no drift (docs/run-rules.md, "Values
/// ActiveCampaign changes"). Anything else that differs is written again.
fn field_work(p: &Profile, m: &Member, h: u64, live: Option<&LiveMember>) -> FieldWork {
    if let Some(live) = live.filter(|l| !diff::drifted_fields(&p.fields, l).is_empty()) {
        let read_back = read_back_hash(&p.fields, live);
        if m.sent_hash == Some(h) && m.read_back_hash == Some(read_back) {
            return FieldWork::Nothing;
        }
        return FieldWork::Write {
            read_back: Some(read_back),
        };
    }
    if m.sent_hash == Some(h) {
        return FieldWork::Nothing;
    }
    // Never sent by us (e.g. active before our first run) but already equal:
    // only possible to tell without custom fields, which a read does not show.
    if m.sent_hash.is_none() && live.is_some() && !p.fields.has_custom() {
        return FieldWork::RecordHash;
    }
    FieldWork::Write { read_back: None }
}

fn change(p: &Profile, known: Option<&Member>, hash: u64, read_back: Option<u64>) -> Change {
    Change {
        email: p.email.clone(),
        row: p.row,
        contact_id: known.and_then(|m| m.contact_id),
        fields: p.fields.clone(),
        hash,
        read_back,
    }
}

/// Scans `known` once: counts the members the export manages, collects the
/// removals the prune policy asks for, and applies the `max_removals` guard.
/// A member whose last change is still in doubt is never removed.
fn plan_removals(
    plan: &mut Plan,
    known: &Known,
    in_segment: &BitSet,
    s: &PlanSettings,
    others: &OtherExports,
) {
    let managed = |m: &Member| match s.prune {
        Prune::Owned => m.owned,
        Prune::All => true,
        Prune::None => false,
    };
    let mut removals = Vec::new();
    for (i, m) in known.iter().enumerate() {
        if !is_active(m) || !managed(m) || m.pending.is_some() {
            continue;
        }
        plan.managed_members += 1;
        if in_segment.contains(i) {
            continue;
        }
        match leaver_kept(m, s, others) {
            Some(LeftAlone::WantedByOthers) => {
                plan.kept_for_others += 1;
                plan.kept_for_others_emails.push(m.email.clone());
            }
            Some(LeftAlone::WantedByDeleted) => {
                let by = others.retired.wanting(m).unwrap_or_default();
                let kept = plan.kept_for_deleted.entry(by.to_string()).or_default();
                kept.push(m.email.clone());
            }
            // Not reached: the filter above admits only members it removes.
            Some(_) => {}
            None => removals.push(Removal {
                email: m.email.clone(),
                contact_id: m.contact_id,
            }),
        }
    }
    removals.sort_unstable_by(|a, b| a.email.cmp(&b.email));
    plan.would_remove = removals.len() as u64;
    let allowed = s.max_removals.allowed(plan.managed_members);
    if let Some(why) = others
        .hold_removals
        .as_ref()
        .filter(|_| !removals.is_empty())
    {
        plan.blocked = Some(format!("{} unsubscribes held back: {why}", removals.len()));
        plan.held_back = removals;
    } else if plan.would_remove > allowed && !s.allow_removals {
        plan.blocked = Some(blocked_reason(
            plan.would_remove,
            plan.managed_members,
            s.max_removals,
            s.prune,
        ));
        plan.held_back = removals;
    } else {
        plan.removals = removals;
    }
}

/// "would unsubscribe 59 of the 60 members this export owns (98.3%), above
/// max_removals 10%": the base is named, so a shared list is not mistaken
/// for the export's own members.
fn blocked_reason(would: u64, managed: u64, limit: RemovalLimit, prune: Prune) -> String {
    let pct = if managed == 0 {
        100.0
    } else {
        would as f64 * 100.0 / managed as f64
    };
    let pct = if pct.fract() == 0.0 {
        format!("{pct:.0}")
    } else {
        format!("{pct:.1}")
    };
    let base = match prune {
        Prune::Owned => format!("the {managed} members this export owns"),
        _ => format!("{managed} active members of the list"),
    };
    format!("would unsubscribe {would} of {base} ({pct}%), above max_removals {limit}")
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proptests;
