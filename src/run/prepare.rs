//! Everything a run knows before it writes: the segment, the export's known
//! members (reconciled with a full read of the list when one is due), and
//! the plan. Shared by `acsync plan` (which persists nothing) and a real run.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::error::RunError;
use super::{batches, cross_check, fields};
use crate::activecampaign::Client;
use crate::config::Export;
use crate::model::{Known, ListStatus, LiveMember};
use crate::plan::{self, Merge, OtherExports, Plan, PlanSettings};
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
    /// Journaled batches seen at their end before the read: the run
    /// forgets them once it has recorded what the read settled.
    pub settled_batches: Vec<String>,
    /// Whether the export last ran on another list (or account): a full
    /// read is due, and `left` says what it owns there.
    pub target_changed: bool,
    /// The list the export left, and its owned members left as they are.
    pub left: Option<(String, u64)>,
    /// The scope the members are kept under.
    pub scope: String,
    /// Other exports of this folder on the same list.
    pub siblings: Vec<String>,
    pub meta: ExportMeta,
    pub plan: Plan,
    /// `[mapping.fields]` keys resolved against the account's fields.
    pub fields: crate::target_check::Resolved,
    /// Rows whose custom value was refused for its field's type.
    pub field_issues: Vec<crate::segment::RowIssue>,
}

/// Reads the segment. A source that cannot be read fails the run before
/// any request (SPEC rule 5).
pub async fn read_segment(export: &Export) -> Result<Segment, RunError> {
    source::read_async(&export.source, &export.mapping)
        .await
        .map_err(RunError::Source)
}

pub use super::fingerprint::{export_fingerprint, target_fingerprint};

/// Whether this run must read the list in full.
pub fn full_read_due(
    export: &Export,
    meta: Option<&ExportMeta>,
    pending: bool,
    now: DateTime<Utc>,
) -> bool {
    let Some(meta) = meta else { return true };
    if pending
        || !super::fingerprint::unchanged(&meta.fingerprint, export)
        || export.full_read_every == Duration::ZERO
    {
        return true;
    }
    match meta.last_full_read {
        None => true,
        Some(at) => (now - at).to_std().unwrap_or(Duration::ZERO) >= export.full_read_every,
    }
}

/// What the state database holds for an export at the start of a run.
pub struct Snapshot {
    meta: Option<ExportMeta>,
    pending: bool,
    known: Known,
    /// Batches ActiveCampaign accepted whose end no run has seen.
    open_batches: Vec<OpenBatch>,
    /// The scope (account and list) the export's members are kept under.
    scope: String,
    /// When the export last ran on another list: that scope and how many
    /// members it owns there, left as they are.
    left: Option<(String, u64)>,
    /// Other exports of this folder on the same list, and what they want.
    pub siblings: Vec<String>,
    pub others: OtherExports,
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
        let killed = db
            .unfinished_runs(export)?
            .into_iter()
            .any(|id| Some(id) != current);
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
            pending: db.has_pending(scope)? || killed || !open_batches.is_empty(),
            known: db.load_known(scope)?,
            open_batches,
            scope: scope.to_string(),
            left,
            siblings: Vec::new(),
            others: OtherExports::default(),
        })
    }

    /// Whether the state has no record at all of this export's list: no
    /// run recorded for the export, no member kept for its scope.
    pub fn is_blank(&self) -> bool {
        self.meta.is_none() && self.known.is_empty()
    }
}

/// Reconciles the snapshot with a full read when due, and plans. Writes nothing.
pub async fn prepare_from(
    export: &Export,
    client: &Client,
    snap: Snapshot,
    segment: Segment,
    opts: &super::options::RunOptions,
    now: DateTime<Utc>,
) -> Result<Prepared, RunError> {
    let mut segment = segment;
    let fields = crate::target_check::resolve_fields(client, export).await?;
    let field_issues = fields::convert_segment(&mut segment, &fields);
    let allow_removals = opts.allow_removals;
    let target_changed = snap.left.is_some();
    let known = snap.known;
    let due = opts.full_read
        || opts.adopt
        || target_changed
        || full_read_due(export, snap.meta.as_ref(), snap.pending, now);
    // Every batch a killed run left is followed to its end before the read,
    // so the read shows what it did; one still running keeps its doubts.
    let follow = batches::follow(client, &snap.open_batches, now).await;
    let keep_pending = !follow.unsettled.is_empty();
    let (known, live, plan, due) = read_and_plan(
        export,
        client,
        &segment,
        known,
        due,
        keep_pending,
        allow_removals,
        &snap.others,
    )
    .await?;
    let last_full_read = if due {
        Some(now)
    } else {
        snap.meta.as_ref().and_then(|m| m.last_full_read)
    };
    Ok(Prepared {
        segment,
        known,
        live,
        settled_batches: follow.settled,
        target_changed,
        left: snap.left,
        scope: snap.scope,
        siblings: snap.siblings,
        meta: ExportMeta {
            fingerprint: export_fingerprint(export),
            last_full_read,
        },
        plan,
        fields,
        field_issues,
    })
}

/// Reads the list when `due` (merging it into `known`) and plans; reads
/// after all when the plan's removals would cost more lookups than a read.
/// Returns the members, the read, the plan, and whether a read was made.
#[allow(clippy::too_many_arguments)]
async fn read_and_plan(
    export: &Export,
    client: &Client,
    segment: &Segment,
    mut known: Known,
    mut due: bool,
    keep_pending: bool,
    allow_removals: bool,
    others: &OtherExports,
) -> Result<(Known, Option<Vec<LiveMember>>, Plan, bool), RunError> {
    loop {
        let live = if due {
            Some(read_list(export, client).await?)
        } else {
            None
        };
        if let Some(live) = &live {
            let how = Merge {
                now: Utc::now().timestamp(),
                keep_pending,
            };
            known = plan::merge_live(known, live, how);
        }
        let plan = make_plan(
            export,
            segment,
            &known,
            live.as_deref(),
            allow_removals,
            others,
        )?;
        if !due && cheaper_to_read(&plan, &known) {
            // Removals verify by contact id; members added by bulk import
            // since the last full read have none yet, and looking each up
            // by email would cost more than reading the list now.
            due = true;
            continue;
        }
        return Ok((known, live, plan, due));
    }
}

/// Whether the removals' contact id lookups (one request each) would cost
/// more than a full read of the list (a request per 100 members).
fn cheaper_to_read(plan: &Plan, known: &Known) -> bool {
    let lookups = plan
        .removals
        .iter()
        .filter(|r| r.contact_id.is_none())
        .count();
    lookups > known.len().div_ceil(100) + ListStatus::ALL.len()
}

/// The run's plan from the segment, the known members and a full read (if
/// any): public so `acsync explain` judges one address with the same rules.
pub fn make_plan(
    export: &Export,
    segment: &Segment,
    known: &Known,
    live: Option<&[LiveMember]>,
    allow_removals: bool,
    others: &OtherExports,
) -> Result<Plan, RunError> {
    let settings = PlanSettings {
        prune: export.prune,
        max_removals: export.max_removals,
        max_profiles: export.max_profiles,
        allow_empty: export.allow_empty,
        allow_removals,
    };
    let live_fields: Option<HashMap<String, LiveMember>> =
        live.map(|l| l.iter().map(|m| (m.email.clone(), m.clone())).collect());
    // A row whose email could not be read may be a member we cannot see:
    // removals derived from a partial read are held back (issue 14).
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
    plan::plan_shared(segment, known, live_fields.as_ref(), &settings, others)
        .map_err(RunError::Plan)
}

/// A full read: the list must exist, then its members of every status
/// (active, unsubscribed, bounced, unconfirmed), cross-checked on a sample.
pub(super) async fn read_list(
    export: &Export,
    client: &Client,
) -> Result<Vec<LiveMember>, RunError> {
    client.get_list(export.list_id).await?;
    let quiet = |_n: u64| {};
    let mut members = Vec::new();
    for status in ListStatus::ALL {
        members.extend(client.list_members(export.list_id, status, &quiet).await?);
    }
    tracing::debug!(export = %export.id, members = members.len(), "read the list in full");
    cross_check::sample(export, client, &members).await?;
    Ok(members)
}
