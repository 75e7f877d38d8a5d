//! The running set: what the daemon believes about each export, and the
//! level-triggered diff of the folder as loaded now against it.
//!
//! Pure: [`Registry::reconcile`] and friends return [`Effect`]s (status
//! writes, cancellations) for the control loop to carry out, so the rules of
//! docs/configuration.md, saving a file, are tested without files or time. An export with a run in
//! flight gets no status write from here (the run owns its status file until
//! it ends); the change is remembered and restated when the run finishes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::schedule::{ExportId, Timetable, first_run_at_start};
use crate::config::{Export, LoadedExport, Located};

/// What an export file asks for, as loaded now.
#[derive(Debug, Clone, PartialEq)]
pub enum Desired {
    Active(Export),
    Disabled(Export),
    Invalid {
        file: PathBuf,
        sha256: Option<String>,
        /// `FILE:LINE:COL: message` lines, FILE relative to `exports/`.
        error: String,
    },
}

impl Desired {
    pub fn from_loaded(loaded: &LoadedExport) -> Desired {
        match &loaded.result {
            Ok(e) if e.enabled => Desired::Active(e.clone()),
            Ok(e) => Desired::Disabled(e.clone()),
            Err(errors) => Desired::Invalid {
                file: loaded.file.clone(),
                sha256: loaded.sha256.clone(),
                error: relative_errors(&loaded.id, &loaded.file, errors),
            },
        }
    }

    fn file(&self) -> &Path {
        match self {
            Desired::Active(e) | Desired::Disabled(e) => &e.file,
            Desired::Invalid { file, .. } => file,
        }
    }
}

/// Errors as the status file shows them: `emea/vip.toml:3:1: …`, the path
/// under `exports/` (the export id), so two `vip.toml` in different folders
/// cannot be confused.
fn relative_errors(id: &str, file: &Path, errors: &[Located]) -> String {
    let mut base = file.parent().unwrap_or(Path::new(""));
    for _ in 1..id.split('/').count() {
        base = base.parent().unwrap_or(base);
    }
    errors
        .iter()
        .map(|e| e.relative_to(base).to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Something the control loop must do after a change of the running set.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Idle {
        export: Export,
        next_run: Option<DateTime<Utc>>,
    },
    Disabled(Export),
    Invalid {
        id: ExportId,
        file: PathBuf,
        sha256: Option<String>,
        error: String,
    },
    Removed {
        id: ExportId,
        file: PathBuf,
    },
    /// Stop the export's run in flight at its next safe point.
    Cancel(ExportId),
}

#[derive(Debug)]
struct Tracked {
    /// `None`: the file was deleted while a run was in flight.
    desired: Option<Desired>,
    file: PathBuf,
    running: Option<CancellationToken>,
    /// Changed while running: restate the status when the run ends.
    stale: bool,
}

/// A run to start now.
#[derive(Debug, Clone)]
pub struct Start {
    pub export: Export,
    pub next_run: Option<DateTime<Utc>>,
}

/// Counts for the `STATUS=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub exports: usize,
    pub invalid: usize,
    pub disabled: usize,
    pub running: usize,
    pub next: Option<(ExportId, DateTime<Utc>)>,
}

/// Every export the daemon knows, and the timetable of the active ones.
#[derive(Debug, Default)]
pub struct Registry {
    tracked: BTreeMap<ExportId, Tracked>,
    timetable: Timetable,
}

/// How a reconcile schedules exports it has not seen before.
pub enum FirstSeen<'a> {
    /// At start: make up a run missed while the daemon was down, given each
    /// export's last `started_at` (docs/run-rules.md, scheduling).
    Startup(&'a dyn Fn(&Export) -> Option<DateTime<Utc>>),
    /// While running: a new file waits for its first scheduled time.
    Running,
}

impl Registry {
    /// Diffs the folder as loaded against the running set (level-triggered:
    /// calling it twice with the same folder does nothing the second time).
    pub fn reconcile(
        &mut self,
        loaded: &[LoadedExport],
        now: DateTime<Utc>,
        first_seen: FirstSeen<'_>,
    ) -> Vec<Effect> {
        let mut effects = Vec::new();
        let mut seen = BTreeSet::new();
        for l in loaded {
            seen.insert(l.id.clone());
            let desired = Desired::from_loaded(l);
            let old = self.tracked.get(&l.id).and_then(|t| t.desired.as_ref());
            if old != Some(&desired) {
                self.change(&l.id, desired, now, &first_seen, &mut effects);
            }
        }
        let gone: Vec<ExportId> = self
            .tracked
            .iter()
            .filter(|(id, t)| !seen.contains(*id) && t.desired.is_some())
            .map(|(id, _)| id.clone())
            .collect();
        for id in gone {
            self.delete(&id, &mut effects);
        }
        effects
    }

    fn change(
        &mut self,
        id: &str,
        desired: Desired,
        now: DateTime<Utc>,
        first_seen: &FirstSeen<'_>,
        effects: &mut Vec<Effect>,
    ) {
        let old = self.tracked.get(id).and_then(|t| t.desired.as_ref());
        match (&desired, old) {
            // Same schedule (e.g. a new tag or connection): keep the next run.
            (Desired::Active(new), Some(Desired::Active(prev)))
                if new.schedule == prev.schedule => {}
            (Desired::Active(new), None) if !self.tracked.contains_key(id) => {
                let next = match first_seen {
                    FirstSeen::Startup(last) => first_run_at_start(&new.schedule, now, last(new)),
                    FirstSeen::Running => super::schedule::next_after(&new.schedule, now),
                };
                self.timetable.set(id, new.schedule.clone(), next);
            }
            (Desired::Active(new), _) => self.timetable.reschedule(id, new.schedule.clone(), now),
            _ => self.timetable.remove(id),
        }
        let t = self.tracked.entry(id.to_string()).or_insert(Tracked {
            desired: None,
            file: desired.file().to_path_buf(),
            running: None,
            stale: false,
        });
        t.file = desired.file().to_path_buf();
        let disabled = matches!(desired, Desired::Disabled(_));
        t.desired = Some(desired);
        if t.running.is_some() {
            // The run owns the status file until it ends; `enabled = false`
            // is an explicit stop, so it is cancelled like a deletion.
            t.stale = true;
            if disabled {
                effects.push(Effect::Cancel(id.to_string()));
            }
        } else if let Some(e) = self.status_effect(id) {
            effects.push(e);
        }
    }

    fn delete(&mut self, id: &str, effects: &mut Vec<Effect>) {
        self.timetable.remove(id);
        let Some(t) = self.tracked.get_mut(id) else {
            return;
        };
        if t.running.is_some() {
            t.desired = None;
            t.stale = true;
            effects.push(Effect::Cancel(id.to_string()));
        } else {
            let file = t.file.clone();
            self.tracked.remove(id);
            effects.push(Effect::Removed {
                id: id.to_string(),
                file,
            });
        }
    }

    /// The status write that states what `id` is now (not for running exports).
    fn status_effect(&self, id: &str) -> Option<Effect> {
        let t = self.tracked.get(id)?;
        Some(match &t.desired {
            None => Effect::Removed {
                id: id.to_string(),
                file: t.file.clone(),
            },
            Some(Desired::Active(e)) => Effect::Idle {
                export: e.clone(),
                next_run: self.timetable.next_run(id),
            },
            Some(Desired::Disabled(e)) => Effect::Disabled(e.clone()),
            Some(Desired::Invalid {
                file,
                sha256,
                error,
            }) => Effect::Invalid {
                id: id.to_string(),
                file: file.clone(),
                sha256: sha256.clone(),
                error: error.clone(),
            },
        })
    }

    /// Runs due at `now`, and the ids whose tick found their last run still
    /// going (skipped, docs/run-rules.md, scheduling). Every due entry moves to its next instant.
    pub fn due(&mut self, now: DateTime<Utc>) -> (Vec<Start>, Vec<ExportId>) {
        let (ready, _) = self.timetable.due(now);
        let mut starts = Vec::new();
        let mut skipped = Vec::new();
        for id in ready {
            let Some(t) = self.tracked.get_mut(&id) else {
                continue;
            };
            match (&t.running, &t.desired) {
                (None, Some(Desired::Active(export))) => starts.push(Start {
                    export: export.clone(),
                    next_run: self.timetable.next_run(&id),
                }),
                _ => {
                    // The run in flight will write a stale `next_run`.
                    t.stale = true;
                    skipped.push(id);
                }
            }
        }
        (starts, skipped)
    }

    /// Records that `id`'s run was spawned with `cancel`.
    pub fn started(&mut self, id: &str, cancel: CancellationToken) {
        if let Some(t) = self.tracked.get_mut(id) {
            t.running = Some(cancel);
        }
    }

    /// The status writes that restate every active export (something all of
    /// them show changed: the state of `acsync.toml`). An export with a run
    /// in flight is restated when its run ends.
    pub fn restate_active(&mut self) -> Vec<Effect> {
        let mut effects = Vec::new();
        for (id, t) in &mut self.tracked {
            let Some(Desired::Active(export)) = &t.desired else {
                continue;
            };
            if t.running.is_some() {
                t.stale = true;
            } else {
                effects.push(Effect::Idle {
                    export: export.clone(),
                    next_run: self.timetable.next_run(id),
                });
            }
        }
        effects
    }

    /// Records the end of `id`'s run; returns the status write owed if the
    /// export changed (or was deleted) while it ran.
    pub fn finished(&mut self, id: &str) -> Option<Effect> {
        let t = self.tracked.get_mut(id)?;
        t.running = None;
        if !std::mem::take(&mut t.stale) {
            return None;
        }
        let effect = self.status_effect(id);
        if matches!(effect, Some(Effect::Removed { .. })) {
            self.tracked.remove(id);
        }
        effect
    }

    /// The cancellation token of `id`'s run in flight.
    pub fn cancel_token(&self, id: &str) -> Option<&CancellationToken> {
        self.tracked.get(id).and_then(|t| t.running.as_ref())
    }

    /// The earliest next run over all exports.
    pub fn earliest(&self) -> Option<DateTime<Utc>> {
        self.timetable.earliest().map(|(_, t)| t)
    }

    pub fn summary(&self) -> Summary {
        let present = || self.tracked.values().filter_map(|t| t.desired.as_ref());
        Summary {
            exports: present().count(),
            invalid: present()
                .filter(|d| matches!(d, Desired::Invalid { .. }))
                .count(),
            disabled: present()
                .filter(|d| matches!(d, Desired::Disabled(_)))
                .count(),
            running: self
                .tracked
                .values()
                .filter(|t| t.running.is_some())
                .count(),
            next: self.timetable.earliest().map(|(id, t)| (id.to_string(), t)),
        }
    }
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;
