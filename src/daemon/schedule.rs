//! When each export runs next: pure cron arithmetic, no clock, no IO.
//!
//! Every export keeps one `next_run` instant in UTC, found with croner in the
//! export's own time zone, so DST rules are croner's (a fixed time inside a
//! spring-forward gap runs at the first valid time after it; a fixed time in
//! a fall-back overlap runs once; interval patterns run in real time, so
//! `0 * * * *` fires for both 01:00 EDT and 01:00 EST). The caller passes
//! `now` everywhere, which keeps this module testable across DST changes and
//! lets the control loop re-read the wall clock on every wake (suspend, NTP
//! steps).
//!
//! Missed runs (docs/run-rules.md, scheduling) follow systemd's `Persistent=true`: a daemon
//! that was down across one or more scheduled instants runs the export once,
//! soon after start, then goes back to the grid. A tick found late (the loop
//! slept through several instants) is likewise made up once, never in a burst.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::config::Schedule;

/// An export id: its path under `exports/` without `.toml`, e.g. `emea/vip`.
pub type ExportId = String;

/// The first scheduled instant strictly after `t`, or `None` when the
/// pattern never fires again (validation refuses such patterns, but a year
/// field or a far date could still run out).
pub fn next_after(schedule: &Schedule, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let local = t.with_timezone(&schedule.tz);
    schedule
        .cron
        .find_next_occurrence(&local, false)
        .ok()
        .map(|next| next.with_timezone(&Utc))
}

/// The first `next_run` of an export the daemon finds when it starts.
///
/// `last_started` is the status file's `last_run.started_at`. When a
/// scheduled instant fell between it and `now`, the daemon was down when the
/// export should have run: it is due at once (one catch-up run). An export
/// never run before waits for its first scheduled time.
pub fn first_run_at_start(
    schedule: &Schedule,
    now: DateTime<Utc>,
    last_started: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    if let Some(last) = last_started
        && next_after(schedule, last).is_some_and(|missed| missed <= now)
    {
        return Some(now);
    }
    next_after(schedule, now)
}

/// One scheduled export.
#[derive(Debug, Clone)]
pub struct Entry {
    pub schedule: Schedule,
    pub next_run: Option<DateTime<Utc>>,
}

/// The scheduled exports, by id.
#[derive(Debug, Default)]
pub struct Timetable {
    entries: BTreeMap<ExportId, Entry>,
}

impl Timetable {
    /// Schedules `id` (or reschedules it) with an explicit next run.
    pub fn set(&mut self, id: &str, schedule: Schedule, next_run: Option<DateTime<Utc>>) {
        self.entries
            .insert(id.to_string(), Entry { schedule, next_run });
    }

    /// Takes a new schedule for `id` without running it now: the next run is
    /// the new pattern's first instant after `now` (docs/configuration.md, saving a file).
    pub fn reschedule(&mut self, id: &str, schedule: Schedule, now: DateTime<Utc>) {
        let next_run = next_after(&schedule, now);
        self.set(id, schedule, next_run);
    }

    /// Stops scheduling `id`.
    pub fn remove(&mut self, id: &str) {
        self.entries.remove(id);
    }

    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.entries.get(id)
    }

    /// The next run of `id`, if scheduled.
    pub fn next_run(&self, id: &str) -> Option<DateTime<Utc>> {
        self.entries.get(id).and_then(|e| e.next_run)
    }

    /// The earliest next run over all exports, with its export.
    pub fn earliest(&self) -> Option<(&str, DateTime<Utc>)> {
        self.entries
            .iter()
            .filter_map(|(id, e)| e.next_run.map(|t| (id.as_str(), t)))
            .min_by_key(|&(id, t)| (t, id))
    }

    /// See [`due`].
    pub fn due(&mut self, now: DateTime<Utc>) -> (Vec<ExportId>, Option<DateTime<Utc>>) {
        due(&mut self.entries, now)
    }
}

/// The exports due at `now`, and the earliest next run afterwards.
///
/// Each due entry advances to its first instant after `now` (not after the
/// instant that was due): a loop that woke late, or a daemon that was
/// suspended across several instants, runs the export once, not once per
/// missed instant. Cron instants lie on a fixed grid, so this cannot drift.
pub fn due(
    entries: &mut BTreeMap<ExportId, Entry>,
    now: DateTime<Utc>,
) -> (Vec<ExportId>, Option<DateTime<Utc>>) {
    let mut ready = Vec::new();
    let mut earliest: Option<DateTime<Utc>> = None;
    for (id, entry) in entries.iter_mut() {
        if entry.next_run.is_some_and(|t| t <= now) {
            ready.push(id.clone());
            entry.next_run = next_after(&entry.schedule, now);
        }
        if let Some(t) = entry.next_run {
            earliest = Some(earliest.map_or(t, |e| e.min(t)));
        }
    }
    (ready, earliest)
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
