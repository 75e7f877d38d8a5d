//! The status file next to each export (SPEC §3): its model, the run
//! bookkeeping carried from one file to the next (SPEC §4b), masking, the
//! atomic write, and the `acsync status` table. Only this module writes
//! status files.
//!
//! A status file is read by people, scripts and monitoring while the daemon
//! rewrites it, so it is replaced by rename, never written in place. Emails
//! in it are masked on the way out whatever the caller passed in, and it
//! never holds a secret: the model has no field that could carry one.

use std::fs::{self, File, Permissions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::mask_email;

/// At most this many failures are listed; `failed` still counts them all.
pub const MAX_FAILURES: usize = 20;

/// What an export is doing, as `state` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportState {
    Idle,
    Running,
    /// The export file does not validate; `config_error` says why.
    Invalid,
    /// `enabled = false`.
    Disabled,
}

impl ExportState {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportState::Idle => "idle",
            ExportState::Running => "running",
            ExportState::Invalid => "invalid",
            ExportState::Disabled => "disabled",
        }
    }
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Schedule,
    /// `acsync sync`.
    Manual,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
        }
    }
}

/// How a run ended (SPEC §4b). Only `Success` resets `consecutive_failures`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    /// ActiveCampaign refused some contacts.
    Partial,
    Failed,
    /// More removals than `max_removals`: nobody was unsubscribed.
    Blocked,
    /// Stopped before its end: a shutdown (SIGTERM, Ctrl-C), or found
    /// unfinished after the process running it died (SIGKILL, a crash, a
    /// power loss). The next run converges what it left.
    Interrupted,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Partial => "partial",
            Outcome::Failed => "failed",
            Outcome::Blocked => "blocked",
            Outcome::Interrupted => "interrupted",
        }
    }
}

/// One contact a run could not apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The source row, when the failure maps to one.
    pub row: Option<u64>,
    /// Masked (`j***@example.com`); [`write_atomic`] masks it if it is not.
    pub email: String,
    pub reason: String,
}

impl Failure {
    /// A failure for `email`, masked here so the plain address is never kept.
    pub fn new(row: Option<u64>, email: &str, reason: impl Into<String>) -> Self {
        Failure {
            row,
            email: mask_email(email),
            reason: reason.into(),
        }
    }
}

/// The last (or current) run of an export. Field names are SPEC §3's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastRun {
    pub trigger: Trigger,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<u64>,
    /// `None` while the run is going.
    pub outcome: Option<Outcome>,
    /// Why the run failed, or was blocked.
    pub error: Option<String>,
    pub source_rows: u64,
    pub profiles: u64,
    pub invalid_rows: u64,
    pub duplicate_rows: u64,
    pub added: u64,
    pub updated: u64,
    pub removed: u64,
    pub unchanged: u64,
    /// Opted out themselves: never resubscribed.
    pub kept_unsubscribed: u64,
    /// Bounced (list status 3): never forced back to active.
    #[serde(default)]
    pub kept_bounced: u64,
    /// Awaiting double opt-in (list status 0): never forced to active.
    #[serde(default)]
    pub kept_unconfirmed: u64,
    pub failed: u64,
    pub api_requests: u64,
    /// At most [`MAX_FAILURES`].
    #[serde(default)]
    pub failures: Vec<Failure>,
    // Beyond SPEC §3:
    /// The run's id in the state database's journal, to match log lines.
    #[serde(default)]
    pub run_id: Option<i64>,
    /// Whether this run read the list's members in full (the drift check).
    #[serde(default)]
    pub full_read: bool,
    /// Segment members left as they are because a change of theirs is
    /// still in doubt (a batch ActiveCampaign has not finished).
    #[serde(default)]
    pub in_doubt: u64,
    /// Planned removals that a read right before the write found no longer
    /// active on the list (opted out, bounced, deleted): left untouched.
    #[serde(default)]
    pub not_active: u64,
    /// Segment members another export of the same list wants with other
    /// values (written only by the export whose id sorts first).
    #[serde(default)]
    pub conflicts: u64,
    /// Members that left this segment but another export of the same list
    /// still wants: not unsubscribed.
    #[serde(default)]
    pub kept_for_others: u64,
    /// When this run found the export pointed at another list than before:
    /// the list it left (`ACCOUNT#list=ID`) ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_list: Option<String>,
    /// ... and how many active members it owns there, left as they are
    /// (pointing it back resumes them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_owned: Option<u64>,
}

impl LastRun {
    /// A run that has just started: no outcome, all counts zero.
    pub fn started(trigger: Trigger, started_at: DateTime<Utc>) -> Self {
        LastRun {
            trigger,
            started_at,
            finished_at: None,
            duration_ms: None,
            outcome: None,
            error: None,
            source_rows: 0,
            profiles: 0,
            invalid_rows: 0,
            duplicate_rows: 0,
            added: 0,
            updated: 0,
            removed: 0,
            unchanged: 0,
            kept_unsubscribed: 0,
            kept_bounced: 0,
            kept_unconfirmed: 0,
            failed: 0,
            api_requests: 0,
            failures: Vec::new(),
            run_id: None,
            full_read: false,
            in_doubt: 0,
            not_active: 0,
            left_list: None,
            left_owned: None,
            conflicts: 0,
            kept_for_others: 0,
        }
    }

    /// Marks the run finished with `outcome`, setting `finished_at` and `duration_ms`.
    pub fn finish(&mut self, outcome: Outcome, finished_at: DateTime<Utc>) {
        let ms = (finished_at - self.started_at).num_milliseconds();
        self.outcome = Some(outcome);
        self.finished_at = Some(finished_at);
        self.duration_ms = Some(u64::try_from(ms).unwrap_or(0));
    }

    /// Whether `self` and `other` describe the same run (one may be a
    /// snapshot taken while it was going).
    fn same_run(&self, other: &LastRun) -> bool {
        match (self.run_id, other.run_id) {
            (Some(a), Some(b)) => a == b,
            _ => self.trigger == other.trigger && self.started_at == other.started_at,
        }
    }
}

/// The status file of one export. Field names are SPEC §3's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusFile {
    /// The export id, e.g. `emea/vip`.
    pub export: String,
    pub config_file: String,
    /// SHA-256 of the export file's bytes; `None` if it could not be read.
    pub config_sha256: Option<String>,
    pub state: ExportState,
    /// `FILE:LINE:COL: message` when `state` is `invalid`.
    pub config_error: Option<String>,
    pub schedule: Option<String>,
    pub next_run: Option<DateTime<Utc>>,
    pub last_run: Option<LastRun>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub consecutive_failures: u32,
    pub updated_at: DateTime<Utc>,
    pub acsync_version: String,
    // Beyond SPEC §3:
    /// When the list was last read in full.
    #[serde(default)]
    pub last_full_read_at: Option<DateTime<Utc>>,
}

impl StatusFile {
    /// An idle export that has never run, written by this build.
    pub fn new(
        export: impl Into<String>,
        config_file: impl Into<String>,
        now: DateTime<Utc>,
    ) -> Self {
        StatusFile {
            export: export.into(),
            config_file: config_file.into(),
            config_sha256: None,
            state: ExportState::Idle,
            config_error: None,
            schedule: None,
            next_run: None,
            last_run: None,
            last_success_at: None,
            consecutive_failures: 0,
            updated_at: now,
            acsync_version: env!("CARGO_PKG_VERSION").to_owned(),
            last_full_read_at: None,
        }
    }

    /// The file for a valid export as it stands now: `idle`, or `disabled`
    /// when `enabled = false`. `config_file` is the export file's name, which
    /// sits next to the status file.
    pub fn for_export(export: &crate::config::Export, now: DateTime<Utc>) -> Self {
        let file = export.file.file_name().map_or_else(
            || export.file.to_string_lossy().into_owned(),
            |n| n.to_string_lossy().into_owned(),
        );
        let mut s = StatusFile::new(export.id.clone(), file, now);
        s.config_sha256 = Some(export.sha256.clone());
        s.schedule = Some(export.schedule.expr.clone());
        if !export.enabled {
            s.state = ExportState::Disabled;
        }
        s
    }

    /// Makes `run` the last run, updating `consecutive_failures` and
    /// `last_success_at` from what this file held before. Recording the same
    /// finished run twice counts it once.
    /// Keeps the run history of `prev` (the file this one replaces): the
    /// last run, its counters and the last full read. Everything else is
    /// this file's own (state, schedule, config hash, next run).
    pub fn keep_history(&mut self, prev: &StatusFile) {
        self.last_run = prev.last_run.clone();
        self.last_success_at = prev.last_success_at;
        self.consecutive_failures = prev.consecutive_failures;
        self.last_full_read_at = prev.last_full_read_at;
    }

    /// A status left `running` by a process that is gone (its export lock
    /// is free): records that run as interrupted, at the file's last update,
    /// so the history shows it instead of silently turning `idle`.
    pub fn close_interrupted(&mut self) {
        if self.state != ExportState::Running {
            return;
        }
        let mut run = (self.last_run.clone())
            .filter(|r| r.outcome.is_none())
            .unwrap_or_else(|| LastRun::started(Trigger::Schedule, self.updated_at));
        run.error = Some(
            "interrupted: the process running it stopped (killed, crashed or lost power) before it finished; the next run converges what it left".into(),
        );
        let at = self.updated_at.max(run.started_at);
        run.finish(Outcome::Interrupted, at);
        self.record_run(run);
        self.state = ExportState::Idle;
    }

    pub fn record_run(&mut self, run: LastRun) {
        let tally = tally(Some(self), &run);
        self.consecutive_failures = tally.consecutive_failures;
        self.last_success_at = tally.last_success_at;
        self.last_run = Some(run);
    }
}

/// The counters SPEC §4b carries across runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Runs in a row whose outcome was not `success`; 0 after a success.
    pub consecutive_failures: u32,
    pub last_success_at: Option<DateTime<Utc>>,
}

/// The counters after `run`, given the previous status file. A run without
/// an outcome (still going), or one `prev` already counted, changes nothing.
pub fn tally(prev: Option<&StatusFile>, run: &LastRun) -> Tally {
    let carried = Tally {
        consecutive_failures: prev.map_or(0, |p| p.consecutive_failures),
        last_success_at: prev.and_then(|p| p.last_success_at),
    };
    let already_counted = prev
        .and_then(|p| p.last_run.as_ref())
        .is_some_and(|last| last.outcome.is_some() && last.same_run(run));
    match run.outcome {
        None => carried,
        Some(_) if already_counted => carried,
        Some(Outcome::Success) => Tally {
            consecutive_failures: 0,
            last_success_at: Some(run.finished_at.unwrap_or(run.started_at)),
        },
        Some(_) => Tally {
            consecutive_failures: carried.consecutive_failures.saturating_add(1),
            ..carried
        },
    }
}

/// Why a status file could not be written or read. Each names the file; the
/// message includes the cause, so print it with `{}`.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("cannot write status file {}: {cause}", path.display())]
    Write {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("cannot read status file {}: {cause}", path.display())]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("status file {} is not valid: {cause}", path.display())]
    Parse {
        path: PathBuf,
        cause: serde_json::Error,
    },
}

/// Where the status file of `export_id` goes: `exports/NAME.status.json`
/// next to `exports/NAME.toml`, or the same relative path under `status_dir`
/// when the exports folder is read-only.
pub fn status_path(
    config_dir_exports: &Path,
    status_dir: Option<&Path>,
    export_id: &str,
) -> PathBuf {
    // Export ids are relative paths found under exports/, never `..`.
    debug_assert!(!export_id.split('/').any(|c| c == ".." || c.is_empty()));
    status_dir
        .unwrap_or(config_dir_exports)
        .join(format!("{export_id}.status.json"))
}

/// Replaces the status file at `path` atomically: a reader sees the old file
/// or the new one, never part of one, even after a power loss. Creates
/// missing parent folders. Emails are masked and failures capped first.
///
/// The temp file lives in the same folder (a rename cannot cross file
/// systems) and is named `.NAME.status.json.XXXXXX.tmp`: hidden and not
/// `.toml`, so the daemon's watcher ignores it.
pub fn write_atomic(path: &Path, status: &StatusFile) -> Result<(), StatusError> {
    let werr = |cause| StatusError::Write {
        path: path.to_owned(),
        cause,
    };
    let json = to_json(&sanitized(status)).map_err(werr)?;
    let dir = parent_dir(path);
    fs::create_dir_all(dir).map_err(werr)?;
    let name = path
        .file_name()
        .map_or_else(|| "status".into(), |n| n.to_string_lossy().into_owned());
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(werr)?;
    tmp.write_all(&json).map_err(werr)?;
    // tempfile creates 0600; status files are meant to be read by others.
    tmp.as_file()
        .set_permissions(Permissions::from_mode(0o644))
        .map_err(werr)?;
    tmp.as_file().sync_all().map_err(werr)?;
    // On error the temp file is dropped, which deletes it.
    tmp.persist(path).map_err(|e| werr(e.error))?;
    // The rename is durable only once the folder itself is on disk.
    File::open(dir).and_then(|d| d.sync_all()).map_err(werr)
}

/// Reads a status file; `None` if there is none.
pub fn read(path: &Path) -> Result<Option<StatusFile>, StatusError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(cause) => {
            return Err(StatusError::Read {
                path: path.to_owned(),
                cause,
            });
        }
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|cause| StatusError::Parse {
            path: path.to_owned(),
            cause,
        })
}

/// Deletes a status file (its export file was deleted); absent is fine.
pub fn remove(path: &Path) -> Result<(), StatusError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StatusError::Write {
            path: path.to_owned(),
            cause: e,
        }),
        _ => Ok(()),
    }
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn to_json(status: &StatusFile) -> std::io::Result<Vec<u8>> {
    let mut json = serde_json::to_vec_pretty(status).map_err(std::io::Error::other)?;
    json.push(b'\n');
    Ok(json)
}

/// The copy of `status` that may be written: failure emails masked, emails
/// inside messages (errors, reasons, `config_error`) masked, failures capped
/// at [`MAX_FAILURES`].
fn sanitized(status: &StatusFile) -> StatusFile {
    let mut out = status.clone();
    out.config_error = out.config_error.as_deref().map(mask_emails_in);
    if let Some(run) = out.last_run.as_mut() {
        run.failures.truncate(MAX_FAILURES);
        for f in &mut run.failures {
            if !is_masked(&f.email) {
                f.email = mask_email(&f.email);
            }
            f.reason = mask_emails_in(&f.reason);
        }
        run.error = run.error.as_deref().map(mask_emails_in);
        debug_assert!(run.failures.iter().all(|f| is_masked(&f.email)));
    }
    out
}

/// Whether `email` already has the shape [`mask_email`] gives.
fn is_masked(email: &str) -> bool {
    let local = email.rsplit_once('@').map_or(email, |(l, _)| l);
    local.ends_with("***") && local.chars().count() <= 4
}

/// Masks every email-looking token in free text (an ActiveCampaign error
/// message may quote the address it refused).
fn mask_emails_in(text: &str) -> String {
    let local_ok = |b: u8| b.is_ascii_alphanumeric() || b"._%+-'".contains(&b);
    let domain_ok = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'-';
    let bytes = text.as_bytes();
    let (mut out, mut copied) = (String::with_capacity(text.len()), 0);
    for (at, _) in text.match_indices('@') {
        let start = (0..at).rev().take_while(|&i| local_ok(bytes[i])).last();
        let end = (at + 1..bytes.len())
            .take_while(|&i| domain_ok(bytes[i]))
            .last();
        let (Some(start), Some(end)) = (start, end) else {
            continue;
        };
        let domain = text[at + 1..=end].trim_end_matches('.');
        if start < copied || !domain.contains('.') {
            continue;
        }
        // Every byte scanned is ASCII, so these are char boundaries.
        out.push_str(&text[copied..start]);
        out.push(char::from(bytes[start]));
        out.push_str("***");
        copied = at;
    }
    out.push_str(&text[copied..]);
    out
}

const HEADER: [&str; 10] = [
    "EXPORT",
    "STATE",
    "LAST RUN",
    "ADDED",
    "UPDATED",
    "REMOVED",
    "FAILED",
    "LAST SUCCESS",
    "NEXT RUN",
    "ERROR",
];
/// Columns holding counts, right-aligned.
const NUMERIC: std::ops::RangeInclusive<usize> = 3..=6;
/// Longer errors are cut: the status file has the whole message.
const ERROR_CHARS: usize = 60;

/// The `acsync status` table: a header and one aligned line per export, in
/// the order given. Plain text (for pipes, files and tests).
pub fn render_table(statuses: &[StatusFile], now: DateTime<Utc>) -> String {
    render_table_styled(statuses, now, false)
}

/// The table, with the STATE and LAST RUN cells coloured when `colour` (a
/// terminal): widths are measured on the plain text and only the cell, not
/// its padding, is wrapped, so the columns stay aligned.
pub fn render_table_styled(statuses: &[StatusFile], now: DateTime<Utc>, colour: bool) -> String {
    let rows: Vec<[String; 10]> = std::iter::once(HEADER.map(String::from))
        .chain(statuses.iter().map(|s| table_row(s, now)))
        .collect();
    let mut widths = [0usize; 10];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for (r, row) in rows.iter().enumerate() {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            let pad = " ".repeat(w - cell.chars().count());
            if i > 0 {
                line.push_str("  ");
            }
            let shown = match ansi_colour(cell) {
                Some(code) if colour && r > 0 && (1..=2).contains(&i) => {
                    format!("\x1b[{code}m{cell}\x1b[0m")
                }
                _ => cell.clone(),
            };
            if NUMERIC.contains(&i) {
                line.push_str(&pad);
                line.push_str(&shown);
            } else {
                line.push_str(&shown);
                line.push_str(&pad);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Red for what needs a person, yellow for what needs a look, green for good.
fn ansi_colour(cell: &str) -> Option<&'static str> {
    match cell {
        "failed" | "invalid" => Some("31"),
        "blocked" | "partial" => Some("33"),
        "success" => Some("32"),
        "running" => Some("36"),
        "disabled" => Some("2"),
        _ => None,
    }
}

fn table_row(s: &StatusFile, now: DateTime<Utc>) -> [String; 10] {
    let run = s.last_run.as_ref();
    let count = |f: fn(&LastRun) -> u64| run.map_or_else(|| "-".to_owned(), |r| f(r).to_string());
    let error = match s.state {
        ExportState::Invalid => s.config_error.as_deref(),
        _ => run.and_then(|r| r.error.as_deref()),
    };
    [
        s.export.clone(),
        s.state.as_str().to_owned(),
        run.and_then(|r| r.outcome)
            .map_or("-", Outcome::as_str)
            .to_owned(),
        count(|r| r.added),
        count(|r| r.updated),
        count(|r| r.removed),
        count(|r| r.failed),
        s.last_success_at
            .map_or_else(|| "never".to_owned(), |t| ago(t, now)),
        match s.state {
            ExportState::Idle | ExportState::Running => {
                s.next_run.map_or_else(|| "-".to_owned(), |t| until(t, now))
            }
            ExportState::Invalid | ExportState::Disabled => "-".to_owned(),
        },
        error.map_or_else(String::new, one_line_truncated),
    ]
}

/// "just now", "3 min ago", "5 h ago", "2 d ago".
fn ago(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - t).num_seconds();
    match secs {
        ..60 => "just now".to_owned(),
        60..3600 => format!("{} min ago", secs / 60),
        3600..172_800 => format!("{} h ago", secs / 3600),
        _ => format!("{} d ago", secs / 86_400),
    }
}

/// "due", "in <1 min", "in 12 min", "in 3 h", "in 2 d".
fn until(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (t - now).num_seconds();
    match secs {
        ..=0 => "due".to_owned(),
        1..60 => "in <1 min".to_owned(),
        60..3600 => format!("in {} min", secs / 60),
        3600..172_800 => format!("in {} h", secs / 3600),
        _ => format!("in {} d", secs / 86_400),
    }
}

fn one_line_truncated(s: &str) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= ERROR_CHARS {
        return flat;
    }
    let mut cut: String = flat.chars().take(ERROR_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::{Duration, TimeZone};
    use serde_json::Value;

    use super::*;

    fn t(min: i64) -> DateTime<Utc> {
        let base = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).single();
        base.expect("valid date") + Duration::minutes(min)
    }

    fn finished(outcome: Outcome, start_min: i64) -> LastRun {
        let mut run = LastRun::started(Trigger::Schedule, t(start_min));
        run.finish(outcome, t(start_min) + Duration::milliseconds(812));
        run
    }

    fn sample() -> StatusFile {
        let mut s = StatusFile::new("vip", "vip.toml", t(0));
        s.config_sha256 = Some("ab".repeat(32));
        s.schedule = Some("*/30 * * * *".into());
        s.next_run = Some(t(30));
        let mut run = finished(Outcome::Partial, 0);
        run.added = 12;
        run.failed = 1;
        run.failures
            .push(Failure::new(Some(3), "jane@example.com", "refused"));
        s.record_run(run);
        s
    }

    fn keys(v: &Value) -> BTreeSet<&str> {
        v.as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn json_field_names_are_specs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("vip.status.json");
        write_atomic(&path, &sample()).expect("write");
        let v: Value = serde_json::from_slice(&fs::read(&path).expect("read")).expect("json");
        let spec_top = [
            "export",
            "config_file",
            "config_sha256",
            "state",
            "config_error",
            "schedule",
            "next_run",
            "last_run",
            "last_success_at",
            "consecutive_failures",
            "updated_at",
            "acsync_version",
        ];
        let extra_top = ["last_full_read_at"];
        let want: BTreeSet<&str> = spec_top.iter().chain(&extra_top).copied().collect();
        assert_eq!(keys(&v), want);
        let spec_run = [
            "trigger",
            "started_at",
            "finished_at",
            "duration_ms",
            "outcome",
            "error",
            "source_rows",
            "profiles",
            "invalid_rows",
            "duplicate_rows",
            "added",
            "updated",
            "removed",
            "unchanged",
            "kept_unsubscribed",
            "kept_bounced",
            "kept_unconfirmed",
            "failed",
            "api_requests",
            "failures",
        ];
        let want: BTreeSet<&str> = spec_run
            .iter()
            .chain(&[
                "run_id",
                "full_read",
                "in_doubt",
                "not_active",
                "conflicts",
                "kept_for_others",
            ])
            .copied()
            .collect();
        assert_eq!(keys(&v["last_run"]), want);
        assert_eq!(
            keys(&v["last_run"]["failures"][0]),
            BTreeSet::from(["row", "email", "reason"])
        );
        assert_eq!(v["state"], "idle");
        assert_eq!(v["config_error"], Value::Null);
        assert_eq!(v["last_run"]["trigger"], "schedule");
        assert_eq!(v["last_run"]["outcome"], "partial");
        assert_eq!(v["last_run"]["duration_ms"], 812);
        assert_eq!(v["next_run"], "2026-11-23T10:30:00Z");
        assert_eq!(read(&path).expect("read back"), Some(sample()));
    }

    #[test]
    fn write_is_atomic_0644_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = status_path(&dir.path().join("exports"), None, "emea/vip");
        assert_eq!(path, dir.path().join("exports/emea/vip.status.json"));
        write_atomic(&path, &sample()).expect("first write (creates folders)");
        write_atomic(&path, &sample()).expect("second write");
        let parent = path.parent().expect("parent");
        let names: Vec<String> = fs::read_dir(parent)
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["vip.status.json"]);
        let mode = fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
        remove(&path).expect("remove");
        remove(&path).expect("removing twice is fine");
        assert_eq!(read(&path).expect("read"), None);
    }

    #[test]
    fn status_dir_mirrors_exports() {
        let p = status_path(
            Path::new("/etc/acsync/exports"),
            Some(Path::new("/s")),
            "emea/vip",
        );
        assert_eq!(p, Path::new("/s/emea/vip.status.json"));
    }

    #[test]
    fn concurrent_reader_never_sees_a_partial_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("vip.status.json");
        write_atomic(&path, &sample()).expect("first write");
        let done = std::sync::atomic::AtomicBool::new(false);
        let reads = std::thread::scope(|scope| {
            let reader = scope.spawn(|| {
                let mut reads = 0u32;
                while !done.load(std::sync::atomic::Ordering::Acquire) {
                    let got = read(&path).expect("never half-written");
                    assert!(got.is_some(), "never missing");
                    reads += 1;
                }
                reads
            });
            let mut s = sample();
            for i in 0..200u64 {
                // Vary the length so a torn write would show.
                s.config_error = Some("x".repeat(usize::try_from(i * 37 % 4000).unwrap_or(0)));
                write_atomic(&path, &s).expect("write");
            }
            done.store(true, std::sync::atomic::Ordering::Release);
            reader.join().expect("reader")
        });
        assert!(reads > 0);
    }

    #[test]
    fn consecutive_failures_and_last_success() {
        let mut s = StatusFile::new("vip", "vip.toml", t(0));
        s.record_run(finished(Outcome::Failed, 0));
        s.record_run(finished(Outcome::Blocked, 30));
        s.record_run(finished(Outcome::Partial, 60));
        assert_eq!((s.consecutive_failures, s.last_success_at), (3, None));

        let ok = finished(Outcome::Success, 90);
        let ok_end = ok.finished_at;
        s.record_run(ok.clone());
        assert_eq!((s.consecutive_failures, s.last_success_at), (0, ok_end));
        // Rewriting the file for the same run does not count it again.
        s.record_run(ok);
        assert_eq!(s.consecutive_failures, 0);

        let failed = finished(Outcome::Failed, 120);
        s.record_run(failed.clone());
        s.record_run(failed);
        assert_eq!((s.consecutive_failures, s.last_success_at), (1, ok_end));

        // A run still going changes nothing.
        s.record_run(LastRun::started(Trigger::Manual, t(150)));
        assert_eq!((s.consecutive_failures, s.last_success_at), (1, ok_end));
        // That run, once finished, counts.
        s.record_run(finished(Outcome::Failed, 150));
        assert_eq!(s.consecutive_failures, 2);
        assert_eq!(
            tally(None, &finished(Outcome::Failed, 0)).consecutive_failures,
            1
        );
    }

    #[test]
    fn emails_are_masked_on_the_way_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("vip.status.json");
        let mut s = sample();
        s.config_error = Some("vip.toml:9:1: owner = \"boss@corp.example\"".into());
        let run = s.last_run.as_mut().expect("run");
        run.error = Some("contact john.smith+x@corp.example.org was refused".into());
        for i in 0..30 {
            // Unmasked, as a careless caller might pass them.
            run.failures.push(Failure {
                row: Some(i),
                email: format!("secret{i}@example.com"),
                reason: format!("AC says: secret{i}@example.com is invalid."),
            });
        }
        write_atomic(&path, &s).expect("write");
        let text = fs::read_to_string(&path).expect("read");
        assert!(!text.contains("secret"), "unmasked email in {text}");
        assert!(!text.contains("jane@"));
        assert!(!text.contains("john.smith") && !text.contains("boss@"));
        assert!(text.contains("j***@example.com"));
        assert!(text.contains("j***@corp.example.org was refused"));
        assert!(text.contains("AC says: s***@example.com is invalid."));
        let back = read(&path).expect("read").expect("some");
        assert_eq!(back.last_run.expect("run").failures.len(), MAX_FAILURES);
    }

    #[test]
    fn masks_emails_in_text_only() {
        assert_eq!(mask_emails_in("no email here @ all"), "no email here @ all");
        assert_eq!(mask_emails_in("a@b.co, c.d@e.io"), "a***@b.co, c***@e.io");
        assert_eq!(mask_emails_in("j***@example.com"), "j***@example.com");
        assert_eq!(mask_emails_in("user@localhost"), "user@localhost");
        assert_eq!(mask_emails_in("é x@y.z é"), "é x***@y.z é");
        assert!(is_masked("j***@example.com") && is_masked("***"));
        assert!(!is_masked("jane@example.com"));
    }

    #[test]
    fn table_is_aligned_with_relative_times() {
        let now = t(0);
        let mut vip = sample();
        vip.last_success_at = Some(now - Duration::minutes(3));
        vip.next_run = Some(now + Duration::minutes(27));
        let mut broken = StatusFile::new("emea/newsletter-weekly", "x.toml", now);
        broken.state = ExportState::Invalid;
        broken.config_error = Some(format!(
            "x.toml:3:1: {}",
            "unknown field `lst_id` ".repeat(5)
        ));
        let mut old = StatusFile::new("b", "b.toml", now);
        old.last_success_at = Some(now - Duration::days(3));
        old.next_run = Some(now + Duration::hours(5));
        let mut run = finished(Outcome::Success, -60);
        run.added = 12_345;
        old.record_run(run);
        old.last_success_at = Some(now - Duration::days(3));

        let table = render_table(&[vip, broken, old], now);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4, "{table}");
        let col = |line: &str, word: &str| line.find(word).map(|b| line[..b].chars().count());
        // Left-aligned columns start where their header does.
        let state_col = col(lines[0], "STATE");
        assert_eq!(col(lines[1], "idle"), state_col);
        assert_eq!(col(lines[2], "invalid"), state_col);
        let success_col = col(lines[0], "LAST SUCCESS");
        assert_eq!(col(lines[1], "3 min ago"), success_col);
        assert_eq!(col(lines[2], "never"), success_col);
        assert_eq!(col(lines[3], "3 d ago"), success_col);
        assert_eq!(col(lines[1], "in 27 min"), col(lines[0], "NEXT RUN"));
        assert_eq!(col(lines[3], "in 5 h"), col(lines[0], "NEXT RUN"));
        // Counts are right-aligned under their header.
        let added_end = col(lines[0], "ADDED").map(|c| c + "ADDED".len());
        assert_eq!(col(lines[3], "12345").map(|c| c + 5), added_end);
        assert!(lines[1].contains("partial"));
        assert!(lines[2].contains("unknown field") && lines[2].ends_with('…'));
        assert!(lines.iter().all(|l| l == &l.trim_end()));
    }

    #[test]
    fn for_export_takes_file_name_hash_schedule_and_enabled() {
        use crate::config::{ApiKeySource, Connection, Export, Mapping, Schedule, Source};
        let conn = Connection {
            name: "prod".into(),
            base_url: "https://acme.api-us1.com".parse().expect("url"),
            api_key: ApiKeySource::Env("AC_KEY".into()),
            requests_per_second: 5,
            allowed_exports: vec![],
        };
        let mut export = Export {
            id: "emea/vip".into(),
            file: "/etc/acsync/exports/emea/vip.toml".into(),
            sha256: "cd".repeat(32),
            connection: std::sync::Arc::new(conn),
            list_id: 12,
            schedule: Schedule {
                expr: "@daily".into(),
                cron: "@daily".parse().expect("cron"),
                tz: chrono_tz::UTC,
            },
            enabled: false,
            prune: crate::model::Prune::Owned,
            max_removals: crate::model::RemovalLimit::Count(5),
            max_profiles: 10,
            allow_empty: false,
            exclude_automations: false,
            tags: vec![],
            full_read_every: std::time::Duration::ZERO,
            history_retention: crate::config::DEFAULT_HISTORY_RETENTION,
            source: Source::Csv {
                path: "x.csv".into(),
                timeout: crate::config::DEFAULT_SOURCE_TIMEOUT,
            },
            mapping: Mapping::default(),
        };
        let s = StatusFile::for_export(&export, t(0));
        assert_eq!(
            (s.export.as_str(), s.config_file.as_str()),
            ("emea/vip", "vip.toml")
        );
        assert_eq!(s.config_sha256.as_deref(), Some("cd".repeat(32).as_str()));
        assert_eq!(s.schedule.as_deref(), Some("@daily"));
        assert_eq!(s.state, ExportState::Disabled);
        export.enabled = true;
        assert_eq!(
            StatusFile::for_export(&export, t(0)).state,
            ExportState::Idle
        );
        assert_eq!(
            crate::state::list_fingerprint(&export),
            "acme.api-us1.com#list=12"
        );
    }

    #[test]
    fn relative_times() {
        let now = t(0);
        assert_eq!(ago(now - Duration::seconds(5), now), "just now");
        assert_eq!(ago(now + Duration::seconds(5), now), "just now");
        assert_eq!(ago(now - Duration::minutes(59), now), "59 min ago");
        assert_eq!(ago(now - Duration::hours(47), now), "47 h ago");
        assert_eq!(ago(now - Duration::hours(49), now), "2 d ago");
        assert_eq!(until(now - Duration::seconds(1), now), "due");
        assert_eq!(until(now + Duration::seconds(30), now), "in <1 min");
        assert_eq!(until(now + Duration::days(7), now), "in 7 d");
    }
}
