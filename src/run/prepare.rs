//! Everything a run knows before it writes: the segment, the export's known
//! members (reconciled with a full read of the list when one is due), and
//! the plan. Shared by `acsync plan` (which persists nothing) and a real run.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::error::RunError;
use super::options::RunOptions;
use super::{batches, cross_check, drift, fields, retired, shared};
use crate::activecampaign::Client;
use crate::config::Export;
use crate::model::{Known, ListStatus, LiveMember};
use crate::plan::{
    self, DriftReason, FullReadReason, MemberPlan, Merge, OtherExports, Plan, PlanSettings,
    ReadFacts, ReadKind, drift_check_reason, full_read_reason,
};
use crate::segment::Segment;
use crate::source;
use crate::state::{ExportMeta, OpenBatch, StateDb};

/// The result of preparing a run.
pub struct Prepared {
    pub segment: Segment,
    /// Known members after reconciling with the full read (if any).
    pub known: Known,
    /// The full read, when one was made this run.
    pub live: Option<Vec<LiveMember>>,
    /// Why the run read the list in full (`None`: it did not).
    pub full_read: Option<FullReadReason>,
    /// The drift check the run made instead of a full read, if any, and
    /// why it made one.
    pub drift: Option<crate::status::DriftCheck>,
    pub drift_reason: Option<DriftReason>,
    /// The addresses whose records the drift check changed.
    pub drift_touched: Vec<String>,
    /// What the plan does with the address asked about ([`prepare_from`]).
    pub watched: Option<MemberPlan>,
    /// Journaled batches seen at their end before the read: the run
    /// forgets them once it has recorded what the read settled.
    pub settled_batches: Vec<String>,
    /// The list the export left, and its owned members left as they are.
    pub left: Option<(String, u64)>,
    /// The scope the members are kept under.
    pub scope: String,
    /// Other exports of this folder on the same list, and what they want.
    pub siblings: Vec<String>,
    pub others: OtherExports,
    /// Deleted exports whose record this export takes over (its file,
    /// moved or renamed): the run forgets them once it went through.
    pub taken_over: Vec<String>,
    pub meta: ExportMeta,
    pub plan: Plan,
    /// `[mapping.fields]` keys resolved against the account's fields.
    pub fields: crate::target_check::Resolved,
    /// Rows whose custom value was refused for its field's type.
    pub field_issues: Vec<crate::segment::RowIssue>,
    /// When the snapshot the run planned from was taken (Unix seconds).
    pub snapshot_at: i64,
    /// The contacts the batches followed before the read created: to be
    /// recorded until a full read finds them (see `Snapshot`).
    pub followed_created: Vec<u64>,
    /// A full read settled everything: the record of created contacts has
    /// served (every one still on the list was found) and is forgotten.
    pub forget_created: bool,
    /// Recorded members a full read of a changing list did not show and
    /// could not look up: kept as recorded ([`recheck_moved`]).
    pub unread_kept: u64,
    /// Changes in doubt the full read settled because a batch passed the
    /// bound without ActiveCampaign telling its end.
    pub settled_by_reading: u64,
}

/// Reads the segment. A source that cannot be read fails the run before
/// any request (docs/run-rules.md, the segment).
pub async fn read_segment(export: &Export) -> Result<Segment, RunError> {
    source::read_async(&export.source, &export.mapping)
        .await
        .map_err(RunError::Source)
}

pub use super::fingerprint::{export_fingerprint, target_fingerprint};

/// What the state database holds for an export at the start of a run: the
/// read model the run, `acsync plan` and `acsync explain` plan from.
#[derive(Clone)]
pub struct Snapshot {
    meta: Option<ExportMeta>,
    /// A pending intent or an open batch on the export's list.
    pending_or_open: bool,
    /// Another export's run on the same list is in progress in this
    /// process: the pending intents and open batches may be its work.
    others_in_progress: bool,
    known: Known,
    /// Batches ActiveCampaign accepted whose end no run has seen.
    open_batches: Vec<OpenBatch>,
    /// Runs of the export that started and never finished.
    unfinished_runs: usize,
    /// The scope (account and list) the export's members are kept under.
    scope: String,
    /// When the export last ran on another list: that scope and how many
    /// members it owns there, left as they are.
    left: Option<(String, u64)>,
    /// Other exports of this folder on the same list, and what they want
    /// (`others.retired`: what the list's deleted exports still want).
    pub siblings: Vec<String>,
    pub others: OtherExports,
    /// Deleted exports this one is (moved or renamed): see [`retired`].
    pub taken_over: Vec<String>,
    /// When it was taken (Unix seconds): a member row another process
    /// writes later is newer than anything this run read.
    taken_at: i64,
    /// The contacts acsync's imports created that no full read has seen,
    /// and when acsync saw each import end.
    created: HashMap<u64, i64>,
}

impl Snapshot {
    /// Reads it (synchronously: the database handle never crosses an await).
    /// A run killed earlier (an unfinished run other than `current`) or a
    /// pending intent forces a full read.
    pub fn take(
        db: &StateDb,
        export: &str,
        scope: &str,
        current: Option<i64>,
    ) -> Result<Snapshot, RunError> {
        let taken_at = Utc::now().timestamp();
        let unfinished: Vec<i64> = db
            .unfinished_runs(export)?
            .into_iter()
            .filter(|id| Some(*id) != current)
            .collect();
        let open_batches = db.open_batches(scope)?;
        let meta = db.export_meta(export)?;
        let old_scope = meta
            .as_ref()
            .and_then(|m| crate::state::scope_of_fingerprint(&m.fingerprint))
            .filter(|old| old != scope);
        let left = match old_scope {
            Some(old) => {
                let owned = db.owned_active(&old)?;
                Some((old, owned))
            }
            None => None,
        };
        Ok(Snapshot {
            meta,
            pending_or_open: db.has_pending(scope)? || !open_batches.is_empty(),
            others_in_progress: false,
            known: db.load_known(scope)?,
            open_batches,
            unfinished_runs: unfinished.len(),
            scope: scope.to_string(),
            left,
            siblings: Vec::new(),
            others: OtherExports::default(),
            taken_over: Vec::new(),
            taken_at,
            created: db.created_ids(scope)?,
        })
    }

    /// [`Snapshot::take`] with the other exports of the folder (under
    /// `root`) on the same list and what they want, and the list's deleted
    /// exports.
    pub fn take_with_siblings(
        db: &StateDb,
        export: &Export,
        root: &std::path::Path,
    ) -> Result<Snapshot, RunError> {
        let scope = crate::state::scope_of(export);
        let mut snap = Snapshot::take(db, &export.id, &scope, None)?;
        let rows = db.wanted_by_others(&scope, &export.id)?;
        let folder = shared::load(root);
        let recorded = db.recorded_exports()?;
        let siblings = shared::siblings(&folder, export, &scope, &rows, &recorded);
        let retired = retired::scan(&folder, export, &scope, &recorded, &rows);
        snap.others = shared::others(&export.id, &siblings, rows);
        snap.others.retired = retired.wishes;
        snap.siblings = siblings;
        snap.taken_over = retired.taken_over;
        Ok(snap)
    }

    /// No state database at all: a first run.
    pub fn empty(export: &Export) -> Snapshot {
        Snapshot {
            meta: None,
            pending_or_open: false,
            others_in_progress: false,
            known: Known::new(),
            open_batches: Vec::new(),
            unfinished_runs: 0,
            scope: crate::state::scope_of(export),
            left: None,
            siblings: Vec::new(),
            others: OtherExports::default(),
            taken_over: Vec::new(),
            taken_at: Utc::now().timestamp(),
            created: HashMap::new(),
        }
    }

    /// Whether the state has no record at all of this export's list: no
    /// run recorded for the export, no member kept for its scope.
    pub fn is_blank(&self) -> bool {
        self.meta.is_none() && self.known.is_empty()
    }

    pub fn meta(&self) -> Option<&ExportMeta> {
        self.meta.as_ref()
    }

    pub fn known(&self) -> &Known {
        &self.known
    }

    pub fn open_batches(&self) -> &[OpenBatch] {
        &self.open_batches
    }

    pub fn unfinished_runs(&self) -> usize {
        self.unfinished_runs
    }

    /// Another export's run on the same list is in progress in this
    /// process (the daemon runs exports of one list side by side): the
    /// intents pending and the batches open on the list may be its work in
    /// progress. They are left in doubt, not followed and not a reason to
    /// read the list in full; only this export's own killed runs are.
    pub fn others_in_progress(&mut self) {
        self.others_in_progress = true;
    }

    /// What an earlier run left unsettled: this export's killed runs, and
    /// the list's pending intents and open batches unless another run in
    /// progress may be making them.
    fn unsettled(&self) -> bool {
        self.unfinished_runs > 0 || (self.pending_or_open && !self.others_in_progress)
    }

    pub fn left(&self) -> Option<&(String, u64)> {
        self.left.as_ref()
    }

    /// What the full-read decision ([`full_read_reason`]) is taken on.
    pub fn read_facts(&self, export: &Export, opts: &RunOptions, now: DateTime<Utc>) -> ReadFacts {
        let forced = if opts.full_read {
            Some(FullReadReason::Forced)
        } else {
            opts.adopt.then_some(FullReadReason::Adopt)
        };
        ReadFacts {
            forced,
            recorded: self.meta.is_some(),
            target_changed: self.left.is_some(),
            unsettled: self.unsettled(),
            mapping_unchanged: self
                .meta
                .as_ref()
                .is_some_and(|m| super::fingerprint::unchanged(&m.fingerprint, export)),
            full_read_every: export.full_read_every,
            last_full_read: self.meta.as_ref().and_then(|m| m.last_full_read),
            drift_disagreed: self
                .meta
                .as_ref()
                .is_some_and(|m| m.read_in_full_because.is_some()),
            drift_check_every: export.drift_check_every,
            last_check: self.meta.as_ref().and_then(|m| m.last_check),
            now,
        }
    }
}

/// Reconciles the snapshot with a full read when due, and plans; with
/// `watch` (an address, for `acsync explain`), also what the plan does with
/// it ([`Prepared::watched`]). Writes nothing.
pub async fn prepare_from(
    export: &Export,
    client: &Client,
    snap: Snapshot,
    segment: Segment,
    opts: &RunOptions,
    now: DateTime<Utc>,
    watch: Option<&str>,
) -> Result<Prepared, RunError> {
    let mut segment = segment;
    let fields = crate::target_check::resolve_fields(client, export).await?;
    let field_issues = fields::convert_segment(&mut segment, &fields);
    // Every batch a killed run left is followed to its end before the read,
    // so the read shows what it did; one still running keeps its doubts.
    let mut snap = snap;
    // The batches open while another run on the list is in progress may
    // be its own: that run follows them.
    if snap.others_in_progress {
        snap.open_batches.clear();
    }
    let follow = batches::follow(client, &snap.open_batches, now).await;
    let seen = Utc::now().timestamp();
    snap.created
        .extend(follow.created.iter().map(|id| (*id, seen)));
    // The changes in doubt a read settles because a batch passed the bound
    // with its end untold (docs/run-rules.md, batches).
    let by_reading = !follow.by_reading.is_empty() && follow.unsettled.is_empty();
    let in_doubt = snap.known.iter().filter(|m| m.pending.is_some()).count() as u64;
    let read = ListRead {
        client: Some(client),
        keep_pending: !follow.unsettled.is_empty() || snap.others_in_progress,
    };
    let mut prepared = plan_snapshot(export, snap, segment, opts, now, watch, read).await?;
    prepared.fields = fields;
    prepared.field_issues = field_issues;
    prepared.settled_batches = follow.settled;
    if by_reading && prepared.live.is_some() {
        prepared.settled_by_reading = in_doubt;
    }
    prepared.followed_created = follow.created;
    Ok(prepared)
}

/// The plan from the state alone, without asking ActiveCampaign (`explain
/// --offline`): a full read that is due is named in
/// [`Prepared::full_read`] but not made; custom values are compared as read.
pub async fn prepare_offline(
    export: &Export,
    snap: Snapshot,
    segment: Segment,
    now: DateTime<Utc>,
    watch: Option<&str>,
) -> Result<Prepared, RunError> {
    let read = ListRead {
        client: None,
        keep_pending: !snap.open_batches.is_empty(),
    };
    let opts = RunOptions::default();
    plan_snapshot(export, snap, segment, &opts, now, watch, read).await
}

/// How the list is read when a full read is due.
struct ListRead<'a> {
    /// `None`: it is not (offline).
    client: Option<&'a Client>,
    /// Batches still running: their members stay in doubt after the read.
    keep_pending: bool,
}

/// Reads the list when the full-read decision says so (merging it into
/// the known members) and plans; when nothing else calls for a read, the
/// plan from state is made first and the decision asked again with it.
async fn plan_snapshot(
    export: &Export,
    snap: Snapshot,
    segment: Segment,
    opts: &RunOptions,
    now: DateTime<Utc>,
    watch: Option<&str>,
    read: ListRead<'_>,
) -> Result<Prepared, RunError> {
    let facts = snap.read_facts(export, opts, now);
    let mut reason = full_read_reason(&facts, None);
    let mut known = snap.known;
    let mut live = None;
    let mut unread_kept = 0;
    let how = Merge {
        now: Utc::now().timestamp(),
        keep_pending: read.keep_pending,
        created: (!snap.created.is_empty()).then_some(&snap.created),
    };
    let mut drift = None;
    let mut drift_rows = None;
    let mut drift_reason = None;
    let mut drift_touched = Vec::new();
    if let (None, Some(client), Some(why)) = (reason, read.client, drift_check_reason(&facts)) {
        let last = facts.last_check.or(facts.last_full_read).unwrap_or(now);
        match check_drift(export, client, known, how, drift::asked_from(last)).await? {
            Checked::Read(k, touched, rows, proof, d) => {
                known = k;
                drift_touched = touched;
                drift = Some(drift::report(why, &d, &proof));
                drift_reason = Some(why);
                drift_rows = Some(rows);
            }
            Checked::TooMany(k) => {
                known = k;
                reason = Some(FullReadReason::ChangedTooMuch);
            }
        }
    }
    let planned = loop {
        if let (Some(why), Some(client)) = (reason, read.client) {
            tracing::debug!(export = %export.id, reason = why.as_str(), "reading the list in full");
            let full = read_list(export, client).await?;
            let mut members = full.members;
            let unread = if full.moved {
                recheck_moved(export, client, &known, &mut members).await?
            } else {
                Vec::new()
            };
            known = plan::merge_live(known, &members, how);
            // What the read could not settle stays as recorded.
            unread_kept = unread.len() as u64;
            for m in unread {
                known.insert(m);
            }
            live = Some(members);
        }
        let planned = make_plan(
            export,
            &segment,
            &known,
            live.as_deref().or(drift_rows.as_deref()),
            opts.allow_removals,
            &snap.others,
            watch,
        )?;
        if reason.is_none() {
            reason = full_read_reason(&facts, Some((&planned.0, known.len())));
            if reason.is_some() && read.client.is_some() {
                continue;
            }
        }
        break planned;
    };
    let (plan, watched) = planned;
    let last_full_read = match live {
        Some(_) => Some(now),
        None => facts.last_full_read,
    };
    let forget_created = live.is_some() && !read.keep_pending && unread_kept == 0;
    if live.is_some() {
        // A full read made after all supersedes the check.
        drift = None;
        drift_reason = None;
        drift_touched.clear();
    }
    let (last_check, read_in_full_because) = match (&live, &drift) {
        (Some(_), _) => (Some(now), None),
        (None, Some(d)) => (Some(now), d.disagreed.clone()),
        (None, None) => (
            facts.last_check,
            snap.meta
                .as_ref()
                .and_then(|m| m.read_in_full_because.clone()),
        ),
    };
    Ok(Prepared {
        segment,
        known,
        live,
        full_read: reason,
        drift,
        drift_reason,
        drift_touched,
        watched,
        settled_batches: Vec::new(),
        left: snap.left,
        scope: snap.scope,
        siblings: snap.siblings,
        others: snap.others,
        taken_over: snap.taken_over,
        meta: ExportMeta {
            fingerprint: export_fingerprint(export),
            last_full_read,
            config_sha256: Some(export.sha256.clone()),
            last_check,
            read_in_full_because,
        },
        plan,
        fields: crate::target_check::Resolved::new(),
        field_issues: Vec::new(),
        snapshot_at: snap.taken_at,
        followed_created: Vec::new(),
        forget_created,
        unread_kept,
        settled_by_reading: 0,
    })
}

/// What a drift check made of the known members.
enum Checked {
    /// The members with the rows read folded in, the addresses whose
    /// records changed, the rows, the counts' proof and the read.
    Read(
        Known,
        Vec<String>,
        Vec<LiveMember>,
        drift::CountsProof,
        drift::DriftRead,
    ),
    /// More than half the list changed: the known members as they were.
    TooMany(Known),
}

/// A drift check (docs/run-rules.md, drift checks): the list must exist;
/// its counts are taken before and after the read of what changed since
/// `asked_from` and the sample, and compared with the known members once
/// the rows read are folded in.
async fn check_drift(
    export: &Export,
    client: &Client,
    known: Known,
    how: Merge<'_>,
    asked_from: chrono::NaiveDate,
) -> Result<Checked, RunError> {
    require_list(export, client).await?;
    let members = known.iter().filter(|m| m.status.is_some()).count() as u64;
    let cap = (members / 2).max(crate::activecampaign::PAGE_SIZE as u64);
    let before = drift::count(export, client).await?;
    let Some(read) = drift::read(export, client, &known, asked_from, cap).await? else {
        return Ok(Checked::TooMany(known));
    };
    let after = drift::count(export, client).await?;
    // The counts prove the read of updated members alone; the sample is
    // its own proof, folded in after.
    let (known, mut touched) = plan::merge_changed(known, &read.changed, how);
    let proof = drift::judge_counts(drift::expected_counts(&known), before, after);
    let (known, sampled) = plan::merge_changed(known, &read.sampled, how);
    touched.extend(sampled);
    let mut rows = read.changed.clone();
    rows.extend(read.sampled.iter().cloned());
    tracing::info!(export = %export.id, changed = read.changed.len(), sampled = read.sample_size, sample_disagreed = read.sample_disagreed.len(), counts = ?proof, "drift check");
    Ok(Checked::Read(known, touched, rows, proof, read))
}

impl Prepared {
    /// The read the run made of its list, and why.
    pub fn read_kind(&self) -> ReadKind {
        match (self.full_read, self.drift_reason) {
            (Some(r), _) if self.live.is_some() || self.drift.is_none() => ReadKind::Full(r),
            (_, Some(d)) => ReadKind::Drift(d),
            _ => ReadKind::None,
        }
    }

    /// The list as the run knows it is as good as read now: a full read,
    /// or a drift check that held.
    pub fn list_read_now(&self) -> bool {
        self.live.is_some() || self.drift.as_ref().is_some_and(|d| d.proven())
    }
}

/// The run's plan from the segment, the known members and a full read (if
/// any), and what it does with `watch` when asked.
pub fn make_plan(
    export: &Export,
    segment: &Segment,
    known: &Known,
    live: Option<&[LiveMember]>,
    allow_removals: bool,
    others: &OtherExports,
    watch: Option<&str>,
) -> Result<(Plan, Option<MemberPlan>), RunError> {
    let settings = PlanSettings::from_export(export, allow_removals);
    let live_fields: Option<HashMap<String, LiveMember>> =
        live.map(|l| l.iter().map(|m| (m.email.clone(), m.clone())).collect());
    // A row whose email could not be read may be a member we cannot see:
    // removals derived from a partial read are held back (docs/run-rules.md,
    // safety limits).
    let held;
    let others = if segment.unreadable_emails > 0 && others.hold_removals.is_none() {
        held = OtherExports {
            hold_removals: Some(format!(
                "{} source rows have an email that cannot be read, so the segment may be incomplete",
                segment.unreadable_emails
            )),
            ..others.clone()
        };
        &held
    } else {
        others
    };
    let live = live_fields.as_ref();
    let planned = match watch {
        Some(email) => plan::plan_for(segment, known, live, &settings, others, email)
            .map(|(p, what)| (p, Some(what))),
        None => plan::plan_shared(segment, known, live, &settings, others).map(|p| (p, None)),
    };
    planned.map_err(RunError::Plan)
}

/// A full read: every member of the list, and whether the list changed
/// while it was read.
pub struct FullRead {
    pub members: Vec<LiveMember>,
    /// A status's rows read differ from its count when its read began: a
    /// member may have moved past the read (see [`recheck_moved`]).
    pub moved: bool,
}

/// A full read: the list must exist, then its members of every status
/// (active, unsubscribed, bounced, unconfirmed), cross-checked on a sample.
pub(super) async fn read_list(export: &Export, client: &Client) -> Result<FullRead, RunError> {
    require_list(export, client).await?;
    let started = Utc::now().timestamp();
    let quiet = |_n: u64| {};
    let mut members = Vec::new();
    let mut moved = false;
    for status in ListStatus::ALL {
        let read = client.list_members(export.list_id, status, &quiet).await?;
        if read.moved() {
            moved = true;
            tracing::info!(export = %export.id, status = status.as_str(), read = read.read, at_start = ?read.total_at_start, "the list changed while it was read");
        }
        members.extend(read.members);
    }
    let other = members_of_other_status(export, client, &members).await?;
    members.extend(other);
    tracing::debug!(export = %export.id, members = members.len(), "read the list in full");
    cross_check::sample(export, client, &members, started).await?;
    Ok(FullRead { members, moved })
}

/// The most recorded members a read of a changing list looks up by
/// contact id (100 a request): the bound on what one run spends settling
/// what moved.
const RECHECK_MAX: usize = 1_000;

/// After a read during which the list changed (docs/run-rules.md, full
/// reads): a member the state records on the list that the read did not
/// show may have moved past it (its status changed behind the read's
/// cursor). Each is looked up by contact id with its own membership row
/// (`members_among`): found on the list, it joins the read with the row's
/// status; not found, it is not a member. Those without a known contact id,
/// or beyond [`RECHECK_MAX`], are returned: their record stands as it was,
/// so the read's absence never makes them non-members (nor ever drives an
/// unsubscribe), and the run counts them (`unread_kept`).
async fn recheck_moved(
    export: &Export,
    client: &Client,
    known: &Known,
    members: &mut Vec<LiveMember>,
) -> Result<Vec<crate::model::Member>, RunError> {
    let seen_ids: HashSet<u64> = members.iter().map(|m| m.contact_id).collect();
    let seen_emails: HashSet<&str> = members.iter().map(|m| m.email.as_str()).collect();
    let unseen = known.iter().filter(|m| {
        m.status.is_some()
            && !seen_emails.contains(m.email.as_str())
            && m.contact_id.is_none_or(|id| !seen_ids.contains(&id))
    });
    let (mut ids, mut unread) = (Vec::new(), Vec::new());
    for m in unseen {
        match m.contact_id {
            Some(id) if ids.len() < RECHECK_MAX => ids.push(id),
            _ => unread.push(m.clone()),
        }
    }
    drop(seen_emails);
    let found = client.members_among(export.list_id, &ids).await?;
    tracing::info!(export = %export.id, looked_up = ids.len(), found = found.len(), unread = unread.len(), "re-checked the recorded members a changing list's read did not show");
    members.extend(found.into_iter().filter_map(|c| c.as_read));
    Ok(unread)
}

/// The export's list must exist before anything is written for it
/// (docs/verification.md): a list deleted in ActiveCampaign fails the run
/// naming it, before `contact/sync` or a bulk import creates contacts the
/// list can no longer take. One `GET /lists/{id}`.
pub(super) async fn require_list(export: &Export, client: &Client) -> Result<(), RunError> {
    match crate::target_check::list(client, export.list_id).await? {
        crate::target_check::ListCheck::Exists(_) => Ok(()),
        crate::target_check::ListCheck::Missing(_) => Err(RunError::ListMissing {
            export: export.id.clone(),
            file: export.file.clone(),
            connection: export.connection.name.clone(),
            list_id: export.list_id,
        }),
    }
}

/// The members whose status is none of the four a full read asks for (91
/// "removed", or a code ActiveCampaign adds later): the per-status reads
/// cannot see them, and a run that took them for non-members would add
/// them again (docs/run-rules.md, kept statuses). The list's members of
/// any status are counted (one request); only when that count exceeds what
/// the status reads found are the four statuses counted again at the same
/// moment (members who joined during the read do not count), and only when
/// those counts still fall short is the list read whatever the status and
/// each member the status reads missed looked up in its own rows.
async fn members_of_other_status(
    export: &Export,
    client: &Client,
    read: &[LiveMember],
) -> Result<Vec<LiveMember>, RunError> {
    let list = export.list_id;
    let every = client.count_members(list, None).await?;
    if every.is_some_and(|n| n <= read.len() as u64) {
        return Ok(Vec::new());
    }
    let mut four = [None; 4];
    for (n, status) in four.iter_mut().zip(ListStatus::ALL) {
        *n = client.count_members(list, Some(status)).await?;
    }
    if !crate::model::other_statuses_possible(every, four) {
        return Ok(Vec::new());
    }
    let seen: std::collections::HashSet<u64> = read.iter().map(|m| m.contact_id).collect();
    let mut found = Vec::new();
    for (contact_id, email) in client.members_any_status(list).await? {
        if seen.contains(&contact_id) {
            continue;
        }
        if let Some(row) = client.membership(contact_id, list).await? {
            found.push(LiveMember {
                contact_id,
                email,
                status: row.status,
                first_name: None,
                last_name: None,
                phone: None,
                contact_created: None,
            });
        }
    }
    tracing::info!(export = %export.id, members = found.len(), "members with a list status acsync does not manage");
    Ok(found)
}
