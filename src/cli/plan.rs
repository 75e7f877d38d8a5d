//! `acsync plan NAME`: a dry run. Reads the segment, the local state and (when
//! a full read is due) the list; prints what a run would add, update,
//! resubscribe and unsubscribe. Sends no write request and writes no file.

use std::path::Path;
use std::process::ExitCode;

use super::sync::{Spinner, counted};
use super::{load_one, runtime};
use crate::model::{mask_email, printable};
use crate::plan::summary::{Planned, masked};
use crate::plan::{PlanSummary, diff};
use crate::run::{PlanReport, Runner, RunnerPaths};

/// Exit code of `plan --detailed-exitcode` when the plan has changes.
const CHANGES: u8 = 2;

pub fn run(
    config_dir: &Path,
    name: &str,
    json: bool,
    detailed_exitcode: bool,
    full_read: bool,
) -> anyhow::Result<ExitCode> {
    let (folder, export) = match load_one(config_dir, name) {
        Ok(v) => v,
        Err(code) => return Ok(code),
    };
    super::logging::init(folder.settings.daemon.log_format, "warn");
    let runner = Runner::new(RunnerPaths::new(config_dir, &folder.settings.daemon));
    let rt = runtime()?;
    let report = rt.block_on(async {
        let spinner = Spinner::start(&export.id);
        let r = runner.plan(&export, false, full_read).await;
        spinner.stop();
        r
    });
    let mut report = match report {
        Ok(r) => r,
        Err(e) => {
            eprintln!("acsync plan: {}: {e}", export.id);
            return Ok(ExitCode::from(1));
        }
    };
    fill_from_history(&runner.paths().state_dir, &export.id, &mut report);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary(&export.id, &report))?
        );
    } else {
        print_text(&export, &report);
    }
    if detailed_exitcode && has_changes(&report) {
        return Ok(ExitCode::from(CHANGES));
    }
    Ok(ExitCode::SUCCESS)
}

/// The old values a full read did not show: the values this export last
/// sent, as the run history recorded them. Without a database (or on any
/// error reading it) they simply stay unknown: a plan never fails for this.
fn fill_from_history(state_dir: &Path, id: &str, report: &mut PlanReport) {
    if !state_dir.join(crate::state::DB_FILE).exists() {
        return;
    }
    let Ok(db) = crate::state::StateDb::open_read_only(state_dir) else {
        return;
    };
    for d in &mut report.plan.update_diffs {
        if let Ok(Some(last)) = db.last_sent(id, &d.email) {
            diff::fill_from_last_sent(&mut d.fields, &last.fields);
        }
    }
}

/// Whether a run would do anything (or is blocked from doing it): the
/// meaning of exit 2 under `--detailed-exitcode`.
pub fn has_changes(r: &PlanReport) -> bool {
    let p = &r.plan;
    !(p.adds.is_empty()
        && p.updates.is_empty()
        && p.resubscribes.is_empty()
        && p.removals.is_empty()
        && p.blocked.is_none())
}

/// The one `plan --json` object (`plan::PlanSummary`).
pub fn summary(id: &str, r: &PlanReport) -> PlanSummary {
    let from = Planned {
        segment: &r.segment,
        left: r.left.as_ref(),
        full_read: r.full_read,
        read: r.read,
        drift: r.drift.as_ref(),
        api_requests: r.api_requests,
        unread_kept: r.unread_kept,
        settled_by_reading: r.settled_by_reading,
    };
    PlanSummary::new(id, &r.plan, &from)
}

/// The `to update` line, then the first updates field by field.
fn print_updates(p: &crate::plan::Plan) {
    println!("  {:<20}{:>9}", "to update", p.updates.len());
    for d in &p.update_diffs {
        println!(
            "    {}: {}",
            printable(&mask_email(&d.email)),
            diff::describe(&d.fields)
        );
    }
    if p.updates.len() > p.update_diffs.len() {
        println!("    … and {} more", p.updates.len() - p.update_diffs.len());
    }
}

/// Tags travel with adds and updates only (see docs/run-rules.md, adds and
/// updates): said, so that a tag added to the export is not expected on
/// members the run leaves unchanged.
fn print_tags(export: &crate::config::Export, p: &crate::plan::Plan) {
    if export.tags.is_empty() {
        return;
    }
    let reached = p.adds.len() + p.updates.len() + p.resubscribes.len();
    println!(
        "  tags {} reach only the contacts a run adds, updates or resubscribes ({reached} in this run): the {} unchanged members keep the tags they have",
        export.tags.join(", "),
        p.unchanged
    );
}

fn print_text(export: &crate::config::Export, r: &PlanReport) {
    let id = &export.id;
    let p = &r.plan;
    let s = &r.segment;
    let read = counted(&[
        (s.source_rows, "rows"),
        (s.profiles.len() as u64, "profiles"),
    ]);
    let left_out = counted(&[
        (s.invalid_rows, "invalid"),
        (s.duplicate_rows, "duplicate rows"),
    ]);
    println!("{id}: {read} ({left_out})");
    let line = |label: &str, n: usize, sample: Vec<String>| {
        let sample = if sample.is_empty() {
            String::new()
        } else {
            format!("  e.g. {}", printable(&sample.join(", ")))
        };
        println!("  {label:<20}{n:>9}{sample}");
    };
    let changes = |c: &[crate::plan::Change]| masked(c.iter().map(|c| c.email.as_str()));
    line("to add", p.adds.len(), changes(&p.adds));
    print_updates(p);
    line(
        "to resubscribe",
        p.resubscribes.len(),
        changes(&p.resubscribes),
    );
    line(
        "to unsubscribe",
        p.removals.len(),
        masked(p.removals.iter().map(|x| x.email.as_str())),
    );
    if !p.held_back.is_empty() {
        line(
            "held back",
            p.held_back.len(),
            masked(p.held_back.iter().map(|x| x.email.as_str())),
        );
    }
    line("kept unsubscribed", p.kept_unsubscribed.len(), Vec::new());
    line("kept bounced", p.kept_bounced.len(), Vec::new());
    line("kept unconfirmed", p.kept_unconfirmed.len(), Vec::new());
    if !p.kept_other_status.is_empty() {
        line("kept (other status)", p.kept_other_status.len(), Vec::new());
    }
    if !p.in_doubt.is_empty() {
        line("in doubt (left)", p.in_doubt.len(), Vec::new());
    }
    println!("  {:<20}{:>9}", "unchanged", p.unchanged);
    print_tags(export, p);
    for (deleted, n) in p.kept_for_deleted_counts() {
        println!(
            "  KEPT {n} for the deleted export `{deleted}`: they stay until `acsync release {deleted}`"
        );
    }
    if let Some((list, owned)) = &r.left {
        println!("  LEFT {list}: the {owned} members this export owns there stay as they are");
    }
    if let Some(reason) = &p.blocked {
        println!("  BLOCKED: {reason}; `acsync sync {id} --allow-removals` applies it once");
    }
    for issue in &s.samples {
        let place = export.source.row_place(issue.row);
        let (email, reason) = (printable(&issue.email), printable(&issue.reason));
        println!("  {place}: {email} ({reason})");
    }
    let read = r
        .read
        .describe(export.full_read_every, export.drift_check_every);
    println!("  ({read}; {} API requests, no writes)", r.api_requests);
    if let Some(d) = &r.drift {
        println!(
            "  drift check since {}: {} changed, counts {}, {} of {} sampled differ{}",
            d.asked_from,
            d.changed,
            d.counts,
            d.sample_disagreed,
            d.sampled,
            if d.gone > 0 {
                format!(", {} gone (deleted contacts)", d.gone)
            } else {
                String::new()
            }
        );
        if let Some(why) = &d.disagreed {
            println!("  the next run reads the list in full: {}", printable(why));
        }
    }
}
