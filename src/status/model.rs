//! The model of a status file (docs/status-file.md) and the run bookkeeping carried from
//! one file to the next (docs/status-file.md): states, triggers, outcomes, the last run
//! with its counters, and [`RunCounts`]. Pure data and arithmetic, no IO.

use std::collections::BTreeMap;

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

/// How a run ended (docs/status-file.md). Only `Success` resets `consecutive_failures`.
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

/// A finished run of an export, or the tally of one still going (kept by
/// the run, never written as `last_run` before its outcome is known). Field
/// names are docs/status-file.md's.
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
    /// Members kept because their list status is one acsync does not
    /// manage (91 "removed", or an unknown code).
    #[serde(default)]
    pub kept_other_status: u64,
    pub failed: u64,
    pub api_requests: u64,
    /// At most [`MAX_FAILURES`].
    #[serde(default)]
    pub failures: Vec<Failure>,
    // Beyond docs/status-file.md:
    /// The run's id in the state database's journal, to match log lines.
    #[serde(default)]
    pub run_id: Option<i64>,
    /// Whether this run read the list's members in full.
    #[serde(default)]
    pub full_read: bool,
    /// The read the run made of its list: `full`, `drift` (a drift check)
    /// or `none` (planned from the state), and why (docs/run-rules.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_reason: Option<String>,
    /// What the run's drift check read and proved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<super::DriftCheck>,
    /// Segment members whose change is still in doubt: left as they are
    /// because of an earlier run's unfinished batch, or written by this run
    /// in a batch whose outcome it could not learn. Never counted in `failed`.
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
    /// Members that left this segment but an export of the list whose file
    /// was deleted still wants, by that export: kept until `acsync release
    /// EXPORT` (docs/ownership.md, "Deleting an export"). Absent when none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub kept_for_deleted: BTreeMap<String, u64>,
    /// Members the state records on the list that a full read made while
    /// the list changed did not show, and that could not be looked up by
    /// contact id: kept as recorded, never unsubscribed on that read's
    /// evidence (docs/run-rules.md, full reads).
    #[serde(default)]
    pub unread_kept: u64,
    /// Changes of batches whose end `/import/info` could not tell within
    /// the bound, settled by a read of the list instead (docs/run-rules.md,
    /// batches).
    #[serde(default)]
    pub settled_by_reading: u64,
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
            kept_other_status: 0,
            failed: 0,
            api_requests: 0,
            failures: Vec::new(),
            run_id: None,
            full_read: false,
            read: None,
            read_reason: None,
            drift: None,
            in_doubt: 0,
            not_active: 0,
            unread_kept: 0,
            settled_by_reading: 0,
            left_list: None,
            left_owned: None,
            conflicts: 0,
            kept_for_others: 0,
            kept_for_deleted: BTreeMap::new(),
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

/// The run in progress, as `current_run` shows it while `state` is `running`
/// (docs/status-file.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentRun {
    pub trigger: Trigger,
    pub started_at: DateTime<Utc>,
}

impl CurrentRun {
    /// The run `run` tallies, while it goes.
    pub fn of(run: &LastRun) -> Self {
        CurrentRun {
            trigger: run.trigger,
            started_at: run.started_at,
        }
    }
}

/// The status file of one export. Field names are docs/status-file.md's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusFile {
    /// The export id, e.g. `emea/vip`.
    pub export: String,
    pub config_file: String,
    /// SHA-256 of the export file's bytes; `None` if it could not be read.
    pub config_sha256: Option<String>,
    pub state: ExportState,
    /// `FILE:LINE:COL: message` when `state` is `invalid`; also, while the
    /// daemon runs the export on the last valid `acsync.toml` because the
    /// saved one has errors, those errors (`acsync.toml:LINE:COL: …`) with
    /// `state` idle or running.
    pub config_error: Option<String>,
    pub schedule: Option<String>,
    pub next_run: Option<DateTime<Utc>>,
    /// The last finished run: its `outcome` is never null.
    pub last_run: Option<LastRun>,
    /// The run in progress; present only while `state` is `running`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_run: Option<CurrentRun>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub consecutive_failures: u32,
    pub updated_at: DateTime<Utc>,
    pub acsync_version: String,
    // Beyond docs/status-file.md:
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
            current_run: None,
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

    /// Keeps the run history of `prev` (the file this one replaces): the
    /// last run, its counters and the last full read. Everything else is
    /// this file's own (state, schedule, config hash, next run).
    pub fn keep_history(&mut self, prev: &StatusFile) {
        self.last_run = prev.last_run.clone();
        self.last_success_at = prev.last_success_at;
        self.consecutive_failures = prev.consecutive_failures;
        self.last_full_read_at = prev.last_full_read_at;
    }

    /// `export` as it stands at `now`, with the run history of `prev`.
    fn of_run(
        export: &crate::config::Export,
        prev: Option<&StatusFile>,
        next_run: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Self {
        let mut s = StatusFile::for_export(export, now);
        if let Some(p) = prev {
            s.keep_history(p);
        }
        s.next_run = next_run;
        s
    }

    /// The file a run writes when it starts: `export` as it stands at
    /// `now`, with the run history of `prev`, `running` with `current`.
    pub fn running(
        export: &crate::config::Export,
        prev: Option<&StatusFile>,
        current: CurrentRun,
        next_run: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Self {
        let mut s = StatusFile::of_run(export, prev, next_run, now);
        s.state = ExportState::Running;
        s.current_run = Some(current);
        s
    }

    /// The file a run writes when it has finished: `export` as it stands at
    /// `now`, with the run history of `prev`, `idle`, and `run` recorded (a
    /// run that read the list in full also dates `last_full_read_at`).
    pub fn finished(
        export: &crate::config::Export,
        prev: Option<&StatusFile>,
        run: &LastRun,
        next_run: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Self {
        let mut s = StatusFile::of_run(export, prev, next_run, now);
        s.state = ExportState::Idle;
        if run.full_read {
            s.last_full_read_at = Some(run.started_at);
        }
        s.record_run(run.clone());
        s
    }

    /// A status left `running` by a process that is gone (its export lock
    /// is free): records that run as interrupted, at the file's last update,
    /// so the history shows it instead of silently turning `idle`.
    pub fn close_interrupted(&mut self) {
        if self.state != ExportState::Running {
            return;
        }
        // A file written by 0.2 held the run in progress as `last_run`.
        let legacy = self.last_run.clone().filter(|r| r.outcome.is_none());
        let mut run = match (self.current_run.take(), legacy) {
            (Some(c), _) => LastRun::started(c.trigger, c.started_at),
            (None, Some(r)) => r,
            (None, None) => LastRun::started(Trigger::Schedule, self.updated_at),
        };
        run.error = Some(
            "interrupted: the process running it stopped (killed, crashed or lost power) before it finished; the next run converges what it left".into(),
        );
        let at = self.updated_at.max(run.started_at);
        run.finish(Outcome::Interrupted, at);
        self.record_run(run);
        self.state = ExportState::Idle;
    }

    /// Makes `run` the last run, updating `consecutive_failures` and
    /// `last_success_at` from what this file held before. Recording the same
    /// finished run twice counts it once; a run without an outcome (still
    /// going) is not recorded: `last_run` is always a finished run.
    pub fn record_run(&mut self, run: LastRun) {
        if run.outcome.is_none() {
            return;
        }
        let counts = run_counts(Some(self), &run);
        self.consecutive_failures = counts.consecutive_failures;
        self.last_success_at = counts.last_success_at;
        self.last_run = Some(run);
    }
}

/// The counters docs/status-file.md carries across runs: how many runs in a row did not
/// succeed, and when the last one did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunCounts {
    /// Runs in a row whose outcome was not `success`; 0 after a success.
    pub consecutive_failures: u32,
    pub last_success_at: Option<DateTime<Utc>>,
}

/// The counters after `run`, given the previous status file. A run without
/// an outcome (still going), or one `prev` already counted, changes nothing.
pub fn run_counts(prev: Option<&StatusFile>, run: &LastRun) -> RunCounts {
    let carried = RunCounts {
        consecutive_failures: prev.map_or(0, |p| p.consecutive_failures),
        last_success_at: prev.and_then(|p| p.last_success_at),
    };
    let already_counted = prev
        .and_then(|p| p.last_run.as_ref())
        .is_some_and(|last| last.outcome.is_some() && last.same_run(run));
    match run.outcome {
        None => carried,
        Some(_) if already_counted => carried,
        Some(Outcome::Success) => RunCounts {
            consecutive_failures: 0,
            last_success_at: Some(run.finished_at.unwrap_or(run.started_at)),
        },
        Some(_) => RunCounts {
            consecutive_failures: carried.consecutive_failures.saturating_add(1),
            ..carried
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::test_support::{disabled_export, finished, t};

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

        // A run still going changes nothing, and is not the last run.
        let last = s.last_run.clone();
        s.record_run(LastRun::started(Trigger::Manual, t(150)));
        assert_eq!((s.consecutive_failures, s.last_success_at), (1, ok_end));
        assert_eq!(s.last_run, last);
        // That run, once finished, counts.
        s.record_run(finished(Outcome::Failed, 150));
        assert_eq!(s.consecutive_failures, 2);
        assert_eq!(
            run_counts(None, &finished(Outcome::Failed, 0)).consecutive_failures,
            1
        );
    }

    #[test]
    fn for_export_takes_file_name_hash_schedule_and_enabled() {
        let mut export = disabled_export();
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
    fn a_running_file_keeps_the_last_finished_run_and_shows_the_current_one() {
        let mut prev = StatusFile::new("emea/vip", "vip.toml", t(0));
        prev.record_run(finished(Outcome::Failed, 0));
        prev.last_full_read_at = Some(t(-600));
        let export = disabled_export();
        let going = LastRun::started(Trigger::Manual, t(30));
        let s = StatusFile::running(
            &export,
            Some(&prev),
            CurrentRun::of(&going),
            Some(t(90)),
            t(31),
        );
        assert_eq!(s.state, ExportState::Running);
        assert_eq!(s.current_run, Some(CurrentRun::of(&going)));
        assert_eq!(s.last_run, prev.last_run, "the last finished run");
        assert_eq!((s.next_run, s.updated_at), (Some(t(90)), t(31)));
        assert_eq!(
            s.consecutive_failures, 1,
            "a run still going counts nothing"
        );
        assert_eq!(s.last_full_read_at, Some(t(-600)), "carried over");
        assert_eq!(s.config_sha256.as_deref(), Some("cd".repeat(32).as_str()));

        let mut done = finished(Outcome::Success, 30);
        done.full_read = true;
        let s = StatusFile::finished(&export, Some(&s), &done, None, t(32));
        assert_eq!((s.state, s.current_run.as_ref()), (ExportState::Idle, None));
        assert_eq!(s.consecutive_failures, 0);
        assert_eq!(s.last_success_at, done.finished_at);
        assert_eq!(s.last_full_read_at, Some(t(30)), "dated at the run's start");
        assert_eq!(s.last_run, Some(done));
    }

    #[test]
    fn a_run_left_running_is_closed_as_interrupted() {
        let export = disabled_export();
        let mut prev = StatusFile::new("emea/vip", "vip.toml", t(0));
        prev.record_run(finished(Outcome::Success, 0));
        let going = LastRun::started(Trigger::Manual, t(30));
        let mut s = StatusFile::running(&export, Some(&prev), CurrentRun::of(&going), None, t(31));
        s.close_interrupted();
        assert_eq!((s.state, s.current_run.as_ref()), (ExportState::Idle, None));
        let last = s.last_run.expect("recorded");
        assert_eq!(last.outcome, Some(Outcome::Interrupted));
        assert_eq!((last.trigger, last.started_at), (Trigger::Manual, t(30)));
        assert_eq!(s.consecutive_failures, 1);

        // A file 0.2 wrote: the run in progress as `last_run`.
        let mut old = StatusFile::new("emea/vip", "vip.toml", t(0));
        old.state = ExportState::Running;
        old.last_run = Some(going.clone());
        old.close_interrupted();
        let last = old.last_run.expect("recorded");
        assert_eq!(
            (last.outcome, last.started_at),
            (Some(Outcome::Interrupted), t(30))
        );
    }
}
