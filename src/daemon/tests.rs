//! The control loop end to end, in a temporary config folder with real files
//! and the real watcher, fakes for the runner and the status files, and
//! paused tokio time: the loop's wall clock is a [`TokioClock`] from a fixed
//! instant ([`BASE`]), so every-second schedules, run durations and grace
//! periods pass without real sleeps. Only the watcher works in real time (its
//! own thread and debounce): waits poll in small steps of tokio time with a
//! real pause between them, and time out on the real clock, so a slow
//! machine only makes the suite slower, not red.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::*;
use crate::config::Export;
use crate::run::{RunOptions, Trigger};

const SETTINGS: &str = "[connections.prod]\nurl = \"http://127.0.0.1:9\"\n\
                        api_key_env = \"X\"\naccept_data_transfer = true\n";
const EVERY_SECOND: &str = "* * * * * *";
const YEARLY: &str = "0 0 1 1 *";
/// Real time a wait may take (the watcher's events come in real time).
const TIMEOUT: Duration = Duration::from_secs(20);

/// The wall clock at the start of every test: a fixed instant, so cron
/// arithmetic (midnights, DST) never depends on when the suite runs.
fn base() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-15T10:00:00.250Z")
        .map(|t| t.with_timezone(&Utc))
        .expect("base instant")
}

fn export(schedule: &str) -> String {
    export_with(schedule, "")
}

/// An export with extra top-level keys.
fn export_with(schedule: &str, extra: &str) -> String {
    format!(
        "connection = \"prod\"\nlist_id = 1\nschedule = \"{schedule}\"\n{extra}\n\
         [source]\nkind = \"csv\"\npath = \"x.csv\"\n[mapping]\nemail = \"email\"\n"
    )
}

/// What the fakes saw, in one order.
#[derive(Debug, Clone, PartialEq)]
enum Ev {
    Run(String),
    Cancelled(String),
    RunEnd(String),
    Idle {
        id: String,
        schedule: String,
        next_run: Option<DateTime<Utc>>,
        url: String,
        settings_error: Option<String>,
    },
    /// `acsync.toml` checked: how many errors it has.
    Settings(usize),
    /// The run just started was told of these `acsync.toml` errors.
    RunWithSettingsError(String, String),
    Disabled(String),
    Invalid {
        id: String,
        error: String,
    },
    Removed(String),
    Pruned(Vec<String>),
}

#[derive(Default)]
struct Journal {
    events: Mutex<Vec<Ev>>,
    active: Mutex<HashMap<String, usize>>,
    max_active: AtomicUsize,
}

impl Journal {
    fn push(&self, e: Ev) {
        self.events.lock().expect("journal").push(e);
    }
    fn all(&self) -> Vec<Ev> {
        self.events.lock().expect("journal").clone()
    }
    fn count(&self, f: impl Fn(&Ev) -> bool) -> usize {
        self.all().iter().filter(|e| f(e)).count()
    }
    fn runs(&self, id: &str) -> usize {
        self.count(|e| *e == Ev::Run(id.into()))
    }
    fn position(&self, f: impl Fn(&Ev) -> bool) -> Option<usize> {
        self.all().iter().position(f)
    }
}

/// Records each call when it is made (on the loop), then takes `delay`,
/// or stops early (after a short "batch") when cancelled, if it honours it.
struct FakeRunner {
    j: Arc<Journal>,
    delay: Duration,
    honours_cancel: bool,
}

impl ExportRunner for FakeRunner {
    fn run(&self, e: Export, t: Trigger, o: RunOptions, cancel: CancellationToken) -> RunFuture {
        assert_eq!(t, Trigger::Schedule);
        let (j, delay, honours) = (Arc::clone(&self.j), self.delay, self.honours_cancel);
        j.push(Ev::Run(e.id.clone()));
        if let Some(error) = o.settings_error {
            j.push(Ev::RunWithSettingsError(e.id.clone(), error));
        }
        Box::pin(async move {
            let n = {
                let mut active = j.active.lock().expect("active");
                let n = active.entry(e.id.clone()).or_default();
                *n += 1;
                *n
            };
            j.max_active.fetch_max(n, Ordering::SeqCst);
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = cancel.cancelled(), if honours => {
                    j.push(Ev::Cancelled(e.id.clone()));
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            }
            *j.active
                .lock()
                .expect("active")
                .entry(e.id.clone())
                .or_default() -= 1;
            j.push(Ev::RunEnd(e.id));
            Ok(RunEnded {
                outcome: crate::status::Outcome::Success,
                last_run: crate::status::LastRun::started(Trigger::Schedule, base()),
                requests: Default::default(),
            })
        })
    }
}

struct FakeStatus {
    j: Arc<Journal>,
    last_started: HashMap<String, DateTime<Utc>>,
}

impl StatusSink for FakeStatus {
    fn read_status(&self, id: &str) -> Option<crate::status::StatusFile> {
        let started = *self.last_started.get(id)?;
        let mut file = crate::status::StatusFile::new(id, "export.toml", started);
        file.last_run = Some(crate::status::LastRun::started(Trigger::Schedule, started));
        Some(file)
    }
    fn idle(
        &self,
        e: &Export,
        next_run: Option<DateTime<Utc>>,
        settings_error: Option<&str>,
    ) -> std::io::Result<()> {
        self.j.push(Ev::Idle {
            id: e.id.clone(),
            schedule: e.schedule.expr.clone(),
            next_run,
            url: e.connection.base_url.to_string(),
            settings_error: settings_error.map(str::to_string),
        });
        Ok(())
    }
    fn settings_checked(&self, errors: &[crate::config::Located]) -> std::io::Result<()> {
        self.j.push(Ev::Settings(errors.len()));
        Ok(())
    }
    fn disabled(&self, e: &Export) -> std::io::Result<()> {
        self.j.push(Ev::Disabled(e.id.clone()));
        Ok(())
    }
    fn invalid(&self, id: &str, _: &Path, _: Option<&str>, error: &str) -> std::io::Result<()> {
        self.j.push(Ev::Invalid {
            id: id.into(),
            error: error.into(),
        });
        Ok(())
    }
    fn removed(&self, id: &str, _: &Path) -> std::io::Result<()> {
        self.j.push(Ev::Removed(id.into()));
        Ok(())
    }
    fn prune(&self, present: &[&str]) -> std::io::Result<()> {
        let present = present.iter().map(|s| s.to_string()).collect();
        self.j.push(Ev::Pruned(present));
        Ok(())
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    j: Arc<Journal>,
    handle: DaemonHandle,
    task: tokio::task::JoinHandle<Result<(), DaemonError>>,
}

struct Setup<'a> {
    /// The text of `acsync.toml`.
    settings: &'a str,
    files: &'a [(&'a str, String)],
    delay: Duration,
    honours_cancel: bool,
    last_started: HashMap<String, DateTime<Utc>>,
    stop_grace: Duration,
    /// `exports` is a symlink to `v1/`.
    linked: bool,
    /// Real signal handling (one test only: handlers are process-wide).
    signals: bool,
    watch: bool,
}

impl Default for Setup<'_> {
    fn default() -> Self {
        Setup {
            settings: SETTINGS,
            files: &[],
            delay: Duration::ZERO,
            honours_cancel: true,
            last_started: HashMap::new(),
            stop_grace: Duration::from_secs(10),
            linked: false,
            signals: false,
            watch: true,
        }
    }
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

impl Setup<'_> {
    fn start(self) -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "acsync.toml", self.settings);
        if self.linked {
            std::fs::create_dir_all(dir.path().join("v1")).expect("mkdir");
            std::os::unix::fs::symlink("v1", dir.path().join("exports")).expect("symlink");
        } else {
            std::fs::create_dir_all(dir.path().join("exports")).expect("mkdir");
        }
        for (rel, text) in self.files {
            write(dir.path(), &format!("exports/{rel}"), text);
        }
        let j = Arc::new(Journal::default());
        let runner = FakeRunner {
            j: Arc::clone(&j),
            delay: self.delay,
            honours_cancel: self.honours_cancel,
        };
        let status = FakeStatus {
            j: Arc::clone(&j),
            last_started: self.last_started,
        };
        let options = DaemonOptions {
            // Far away: changes must come through the watcher.
            rescan_every: Duration::from_secs(3600),
            max_sleep: Duration::from_secs(30),
            debounce: Duration::from_millis(200),
            stop_grace: self.stop_grace,
            signals: self.signals,
            watch: self.watch,
        };
        let daemon = Daemon::new(dir.path().to_path_buf(), Arc::new(runner), Arc::new(status))
            .with_options(options)
            .with_clock(Arc::new(TokioClock::starting_at(base())));
        let handle = daemon.handle();
        let task = tokio::spawn(daemon.run());
        Fixture {
            dir,
            j,
            handle,
            task,
        }
    }
}

impl Fixture {
    /// Lets 25 ms of tokio time pass at a time (the loop and the fake runs
    /// move on at once) with a real pause of 2 ms after each step, in which
    /// tokio time stands still (`spawn_blocking` holds its auto-advance) and
    /// the watcher's thread can deliver its events.
    async fn wait(&self, what: &str, cond: impl Fn(&Journal) -> bool) {
        let deadline = std::time::Instant::now() + TIMEOUT;
        while !cond(&self.j) {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}; saw {:#?}",
                self.j.all()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
            real_pause().await;
        }
    }

    async fn stop(self) -> Arc<Journal> {
        self.handle.shutdown();
        let done = tokio::time::timeout(TIMEOUT, self.task).await;
        assert!(
            matches!(done, Ok(Ok(Ok(())))),
            "daemon did not stop cleanly"
        );
        self.j
    }

    fn write(&self, rel: &str, text: &str) {
        write(self.dir.path(), rel, text);
    }
}

/// A short real-time pause that tokio time does not pass through.
async fn real_pause() {
    let pause = tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(2)));
    pause.await.expect("pause");
}

fn idle_with(id: &str, schedule: &str) -> impl Fn(&Journal) -> bool {
    let (id, schedule) = (id.to_string(), schedule.to_string());
    move |j| {
        j.count(|e| matches!(e, Ev::Idle { id: i, schedule: s, .. } if *i == id && *s == schedule))
            > 0
    }
}

#[path = "loop_tests.rs"]
mod loop_tests;

/// `systemd/acsync.service` passes `systemd-analyze verify` (through
/// `systemd/verify.sh`, which swaps in an existing binary), when available.
#[test]
fn unit_file_verifies() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let unit = std::fs::read_to_string(root.join("systemd/acsync.service")).expect("unit");
    for needed in [
        "Type=notify",
        "WatchdogSec=",
        "UMask=0022",
        "User=acsync",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ] {
        assert!(unit.contains(needed), "acsync.service lacks {needed}");
    }
    let has_analyze = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_analyze {
        eprintln!("systemd-analyze not installed; verify skipped");
        return;
    }
    let out = std::process::Command::new("sh")
        .arg(root.join("systemd/verify.sh"))
        .output()
        .expect("run verify.sh");
    assert!(
        out.status.success(),
        "systemd-analyze verify failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
