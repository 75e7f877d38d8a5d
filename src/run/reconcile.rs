//! The middle of a run, between its journal row and its end: load the
//! state (with the segment, in parallel), prepare and plan, record what
//! the full read settled, apply, and copy the write's tally into the run
//! record. Every state database transaction runs off the async workers
//! ([`RunDb::with`]).

use std::path::PathBuf;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::apply::{self, WriteTally};
use super::db::RunDb;
use super::error::RunError;
use super::options::RunOptions;
use super::prepare::{self, Prepared, Snapshot};
use crate::activecampaign::Client;
use crate::config::Export;
use crate::plan::Plan;
use crate::segment::Segment;
use crate::state;
use crate::status::{self, LastRun};

/// What one run works with once it may write.
pub struct RunCtx<'a> {
    pub export: &'a Export,
    pub client: &'a Client,
    pub db: &'a RunDb,
    pub opts: &'a RunOptions,
    pub cancel: &'a CancellationToken,
}

/// Reads the segment and, at the same time on another thread, opens the
/// state database (in `state_dir`, claimed for the folder `root`) and
/// loads the export's snapshot: for a million profiles each takes about a
/// second of CPU, and a run needs both before it can plan. The snapshot is
/// taken before this run is journaled, so every unfinished run it sees is
/// an earlier, killed one.
pub async fn read_and_load(
    export: &Export,
    state_dir: PathBuf,
    root: PathBuf,
) -> Result<(Segment, RunDb, Snapshot), RunError> {
    let id = export.id.clone();
    let scope = state::scope_of(export);
    let this = export.clone();
    let load = tokio::task::spawn_blocking(move || {
        let db = RunDb::open(&state_dir)?;
        db.write(|d| {
            d.claim_folder(&root)?;
            // Rows of 0.1 (kept per export id) or of a moved export file
            // join the scope: a layout change, nothing recorded changes.
            d.fold_into_scope(&id, &scope)
        })?;
        let snapshot = db.read(|d| Snapshot::take_with_siblings(d, &this, &root))?;
        Ok::<_, RunError>((db, snapshot))
    });
    let segment = prepare::read_segment(export).await;
    let (db, snapshot) = load
        .await
        .map_err(|e| RunError::Internal(format!("state loader stopped: {e}")))??;
    Ok((segment?, db, snapshot))
}

/// Prepares, records and applies: `Ok(Some(reason))` when blocked by
/// `max_removals`. The run record gets every count, also when it fails.
pub async fn reconcile(
    cx: &RunCtx<'_>,
    snapshot: Snapshot,
    segment: Segment,
    last_run: &mut LastRun,
) -> Result<Option<String>, RunError> {
    let (export, opts) = (cx.export, cx.opts);
    let prepare =
        prepare::prepare_from(export, cx.client, snapshot, segment, opts, Utc::now(), None);
    // A shutdown reaches every wait before the first write: following an
    // earlier run's batches (polls up to the bound, outstanding counts), the
    // full read, the retries' back-off. Preparing writes nothing, so it is
    // dropped where it stands.
    let mut prepared = tokio::select! {
        prepared = prepare => prepared?,
        () = cx.cancel.cancelled() => return Err(RunError::Cancelled),
    };
    // A full read asked for the list already; a run planned from the state
    // asks once, before its first write.
    if prepared.read_kind() == crate::plan::ReadKind::None && !prepared.plan.is_empty() {
        prepare::require_list(export, cx.client).await?;
    }
    if opts.adopt {
        adopt(&mut prepared);
    }
    let mut prepared = record_wanted(cx.db, export, prepared).await?;
    last_run.full_read = prepared.live.is_some();
    let read = prepared.read_kind();
    last_run.read = Some(read.kind().to_string());
    last_run.read_reason = read.reason().map(str::to_string);
    last_run.drift = prepared.drift.clone();
    if let Some(why) = prepared.drift.as_ref().and_then(|d| d.disagreed.as_deref()) {
        tracing::warn!(export = %export.id, why, "the drift check's proof disagreed: the next run reads the list in full");
    }
    last_run.unread_kept = prepared.unread_kept;
    last_run.settled_by_reading = prepared.settled_by_reading;
    // Custom values refused for their field's type: reported per row.
    last_run.failures.extend(
        prepared
            .field_issues
            .iter()
            .map(|s| status::Failure::new(Some(s.row), &s.email, s.reason.clone())),
    );
    if let Some((list, owned)) = &prepared.left {
        tracing::warn!(export = %export.id, left = %list, owned, "the export now targets another list; the members it owns on the old one are left as they are");
        last_run.left_list = Some(list.clone());
        last_run.left_owned = Some(*owned);
    }
    fold_record_hashes(&mut prepared);
    let mut prepared = persist_reconciled(cx.db, prepared).await?;
    // The run's phases, for timing studies (`RUST_LOG=acsync::pace=trace`).
    tracing::trace!(target: "acsync::pace", export = %export.id, "planned");
    // A shutdown also ends the write's waits (back-off, Retry-After, the
    // budget's turn): the journal makes stopping there as safe as a kill.
    let client = cx.client.stopped_by(cx.cancel.clone());
    let (mut tally, result) = apply::Applier::new(
        export,
        &client,
        cx.db,
        &prepared.known,
        &prepared.segment,
        cx.cancel,
    )
    .with_fields(&prepared.fields)
    .with_list_read_now(prepared.list_read_now())
    .with_history(history_record(export, last_run, &prepared.plan))
    .apply(&prepared.plan)
    .await;
    tracing::trace!(target: "acsync::pace", export = %export.id, "written");
    let plan = std::mem::take(&mut prepared.plan);
    let outcomes = std::mem::take(&mut tally.outcomes);
    prepared.plan =
        super::history::record(cx.db, export, last_run, plan, outcomes, result.is_err()).await?;
    tracing::trace!(target: "acsync::pace", export = %export.id, "history recorded");
    record_tally(last_run, &prepared.plan, tally);
    result?;
    let blocked = prepared.plan.blocked.clone();
    close(cx.db, export, prepared, last_run.run_id).await?;
    Ok(blocked)
}

/// Copies what the plan kept and the write did into the run record.
/// The run history the write records into as batches complete (none
/// without a run row to record under).
fn history_record(
    export: &Export,
    run: &LastRun,
    plan: &Plan,
) -> Option<super::history::RunRecord> {
    let run_id = run.run_id?;
    Some(super::history::RunRecord::new(
        run_id,
        &export.id,
        run.started_at,
        plan,
    ))
}

fn record_tally(last_run: &mut LastRun, plan: &Plan, tally: WriteTally) {
    last_run.added = tally.added;
    last_run.updated = tally.updated;
    last_run.removed = tally.removed;
    last_run.kept_unsubscribed = plan.kept_unsubscribed.len() as u64 + tally.kept_unsubscribed;
    last_run.kept_bounced = plan.kept_bounced.len() as u64 + tally.kept_bounced;
    last_run.kept_unconfirmed = plan.kept_unconfirmed.len() as u64 + tally.kept_unconfirmed;
    last_run.kept_other_status = plan.kept_other_status.len() as u64 + tally.kept_other_status;
    // Left in doubt by an earlier run, and by this run's own writes.
    last_run.in_doubt = plan.in_doubt.len() as u64 + tally.unsettled;
    last_run.conflicts = plan.conflicts.len() as u64;
    last_run.kept_for_others = plan.kept_for_others;
    last_run.kept_for_deleted = plan.kept_for_deleted_counts();
    last_run.not_active = tally.not_active;
    last_run.unchanged = plan.unchanged;
    last_run.failed = tally.failed;
    last_run.failures.extend(tally.failures);
    last_run.failures.truncate(status::MAX_FAILURES);
}

/// A run that went through: its fingerprint, file content and full-read
/// time, the records of the deleted exports it is (moved or renamed)
/// forgotten, and the journal rows of earlier runs that were killed,
/// closed as interrupted.
async fn close(
    db: &RunDb,
    export: &Export,
    p: Prepared,
    this_run: Option<i64>,
) -> Result<(), RunError> {
    let (id, meta, taken_over) = (export.id.clone(), p.meta, p.taken_over);
    db.with(move |d| {
        d.set_export_meta(&id, &meta)?;
        for old in &taken_over {
            d.forget_export(old)?;
            tracing::info!(export = %id, was = %old, "the export file was moved or renamed: it takes over the old name's record");
        }
        for run in d.unfinished_runs(&id)? {
            if Some(run) != this_run {
                d.finish_run(run, Utc::now(), "interrupted")?;
            }
        }
        Ok(())
    })
    .await
}

/// After a full read, the hashes of members whose live values already equal
/// what we would send go into the reconciled members themselves, so they are
/// written in the same transaction instead of a second pass over the same
/// rows (for a first run against a 100,000-member list, a second write of
/// every row).
fn fold_record_hashes(p: &mut Prepared) {
    if p.live.is_none() {
        return;
    }
    for (email, h) in std::mem::take(&mut p.plan.record_hashes) {
        if let Some(m) = p.known.get_mut(&email) {
            m.sent_hash = Some(h);
        }
    }
}

/// Records what this export wants on its list while the list is shared
/// (and forgets it otherwise), so the other exports never unsubscribe it.
/// On the blocking pool (a row per profile), like [`persist_reconciled`].
async fn record_wanted(db: &RunDb, export: &Export, p: Prepared) -> Result<Prepared, RunError> {
    let id = export.id.clone();
    db.with(move |d| {
        let shared = !p.siblings.is_empty();
        let rows = p
            .segment
            .profiles
            .iter()
            .filter(|_| shared)
            .map(|x| (x.email.as_str(), x.fields.hash64()));
        d.replace_wanted(&p.scope, &id, rows)?;
        Ok(p)
    })
    .await
}

/// `sync --adopt`: the list's active members that are in the segment
/// become owned (a lost state database forgot who acsync subscribed; these
/// are the members a run would keep anyway). Nobody else is touched.
fn adopt(p: &mut Prepared) {
    let wanted: std::collections::HashSet<&str> = p
        .segment
        .profiles
        .iter()
        .map(|x| x.email.as_str())
        .collect();
    let mut adopted = 0u64;
    let now = Utc::now().timestamp();
    for m in p.known.iter_mut() {
        if m.status == Some(crate::model::ListStatus::Active) && wanted.contains(m.email.as_str()) {
            adopted += u64::from(!m.owned);
            m.owned = true;
            m.last_write = Some(crate::model::WriteWindow { from: 0, to: now });
        }
    }
    tracing::warn!(
        members = adopted,
        "adopted the list's active members that are in the segment"
    );
}

/// After a full read: the reconciled members become the record, but for
/// rows another process wrote since the snapshot (`state::members`). A
/// list the export left keeps its rows: changing `list_id` back resumes
/// them. The record of contacts acsync's imports created is kept until a
/// full read has found them. Runs on the blocking pool (a million rows),
/// which takes the prepared run and hands it back.
async fn persist_reconciled(db: &RunDb, p: Prepared) -> Result<Prepared, RunError> {
    db.with(move |d| {
        if p.live.is_some() {
            d.replace_members(&p.scope, p.known.iter(), p.snapshot_at)?;
        } else if !p.drift_touched.is_empty() {
            let read = p.drift_touched.iter().filter_map(|e| p.known.get(e));
            d.update_read_members(&p.scope, read, p.snapshot_at)?;
        }
        if p.forget_created {
            d.forget_created(&p.scope)?;
        } else {
            d.record_created(&p.scope, &p.followed_created)?;
        }
        for id in &p.settled_batches {
            d.settle_batch(&p.scope, id)?;
        }
        Ok(p)
    })
    .await
}
