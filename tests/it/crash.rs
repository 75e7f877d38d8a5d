//! Crash trials (docs/run-rules.md, crash safety): `acsync sync` and `acsync daemon`
//! SIGKILLed at seeded random instants of a 5,000-profile run with adds,
//! updates, resubscribes and unsubscribes. After every kill the state database passes
//! `PRAGMA integrity_check` and the status file (if any) is whole JSON; the
//! re-run succeeds with the list equal to the segment, no duplicate contact,
//! every rename landed, and every contact the export subscribed still owned.
//! A final shrink (`--allow-removals`) unsubscribes every owned contact that
//! left: nothing was forgotten.
//!
//! Trials: [`crate::util::trials`] (6 for `sync` and 3 for the daemon by
//! default, 100 each with `ACSYNC_FULL_TRIALS=1`). Instants are drawn from a
//! fixed seed over the measured length of an unkilled run, so a failing
//! trial replays.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::{Duration, Instant};

use acsync::run::RunOptions;
use acsync::simulator::SimConfig;
use acsync::state::StateDb;
use acsync::status::Outcome;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::harness::{World, emails};
use crate::util::trials;
use crate::util::wait_for;

/// Profiles in the segment.
const PROFILES: usize = 5_000;
/// Per round: leavers (5%, under the default 10% `max_removals`), newcomers,
/// renamed members, and earlier leavers who come back (resubscribes).
const LEAVE: usize = 250;
const RENAME: usize = 250;
const RETURN: usize = 20;

/// The segment of round `r`: a sliding window of [`PROFILES`] people, with
/// [`RENAME`] of them renamed for this round and [`RETURN`] earlier leavers
/// back in.
fn segment(r: usize) -> Vec<(String, String)> {
    let start = r * LEAVE;
    let mut people = World::people(start..start + PROFILES - RETURN);
    let renamed = (r * 97) % (PROFILES - RENAME - RETURN);
    for p in people.iter_mut().skip(renamed).take(RENAME) {
        p.1 = format!("{}-r{r}", p.1);
    }
    if r >= 2 {
        // Left two rounds ago, back now (unsubscribed by this export: resubscribed).
        let back = (r - 2) * LEAVE;
        people.extend(World::people(back..back + RETURN));
    } else {
        people.extend(World::people(
            10_000_000 + r * RETURN..10_000_000 + (r + 1) * RETURN,
        ));
    }
    people
}

/// What the trials saw, printed at the end (corruption fails the test).
#[derive(Debug, Default)]
struct Figures {
    trials: usize,
    /// Kills that landed while a run was in flight (status `running`).
    killed_mid_run: usize,
    converged: usize,
    duplicates: usize,
    lost_ownership: usize,
    /// Status temp files a kill left behind (hidden, ignored by acsync).
    stale_temp_files: usize,
    /// How long an unkilled run of changes took.
    span: Duration,
}

/// Checks what a kill may leave: the database opens and is intact, the status
/// file (if any) parses. Returns the temp files left in `exports/`.
fn assert_intact(w: &World, round: usize) -> usize {
    let db = StateDb::open(&w.state_dir()).expect("state opens after a kill");
    if let Err(e) = db.integrity_check() {
        panic!("round {round}: state database corrupt after a kill: {e}");
    }
    let path = w.exports().join("vip.status.json");
    if let Ok(bytes) = std::fs::read(&path)
        && let Err(e) = serde_json::from_slice::<serde_json::Value>(&bytes)
    {
        panic!("round {round}: status file is not whole JSON after a kill: {e}");
    }
    std::fs::read_dir(w.exports())
        .expect("exports")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .count()
}

/// Contacts the export subscribed that its state no longer marks owned.
fn lost_ownership(w: &World, subscribed: &BTreeSet<String>) -> Vec<String> {
    let db = StateDb::open(&w.state_dir()).expect("state");
    let scope = acsync::state::scope_of(&w.export("vip"));
    let members = db.load_members(&scope).expect("members");
    subscribed
        .iter()
        .filter(|e| !members.get(*e).is_some_and(|m| m.owned))
        .cloned()
        .collect()
}

/// Runs `acsync sync vip` to the end; panics unless it exits 0.
fn sync_ok(w: &World, args: &[&str], what: &str) -> Duration {
    let t = Instant::now();
    let out = w.acsync(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    t.elapsed()
}

/// The simulator of the crash trials: unlimited rate, batches done in 200 ms.
fn crash_sim() -> SimConfig {
    SimConfig {
        requests_per_second: 0,
        info_false_for: Duration::from_millis(100),
        import_duration: Duration::from_millis(100),
        ..SimConfig::default()
    }
}

/// Kills one process per trial: spawned by `spawn`, SIGKILLed a seeded
/// instant (`span` scaled by `0.0..1.1`) after it started, or, with
/// `from_run_start`, after its run started (the status file says `running`:
/// a daemon waits for its schedule's next tick first).
struct Killer<'a> {
    what: &'a str,
    spawn: &'a dyn Fn(&World) -> std::process::Child,
    from_run_start: bool,
}

/// The trial loop shared by the `sync` and daemon variants: the list is
/// filled in-process (rounds 0 and 1), `calibrate` measures a run of changes
/// (round 2), then each trial writes the next round's segment, lets the
/// killer kill, checks what a kill may leave, re-runs in-process (the same
/// `Runner::run` as `acsync sync`, with quicker bulk polls) and checks
/// convergence and ownership. A final shrink proves nothing was forgotten.
fn crash_trials(
    w: &World,
    rt: &tokio::runtime::Runtime,
    n: usize,
    seed: u64,
    calibrate: &dyn Fn(&World) -> Duration,
    killer: Killer<'_>,
) -> Figures {
    // Everyone the export ever subscribed (the list starts empty).
    let mut subscribed: BTreeSet<String> = BTreeSet::new();
    for r in 0..2 {
        let people = segment(r);
        w.write_people("vip", &people);
        subscribed.extend(emails(&people));
        let report = rt.block_on(w.sync("vip"));
        assert_eq!(report.outcome, Outcome::Success, "setup round {r}");
    }
    let span = {
        let people = segment(2);
        w.write_people("vip", &people);
        subscribed.extend(emails(&people));
        calibrate(w)
    };
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut f = Figures {
        trials: n,
        span,
        ..Figures::default()
    };
    let status_path = w.exports().join("vip.status.json");
    for t in 0..n {
        let round = t + 3;
        let people = segment(round);
        w.write_people("vip", &people);
        subscribed.extend(emails(&people));
        // A daemon's runs are timed from their start (the status says
        // `running`), and its later runs of the same round are quicker than
        // the calibrated one: aim inside the run, or most kills land after.
        let reach = if killer.from_run_start { 0.8 } else { 1.1 };
        let at = span.mul_f64(rng.random_range(0.0..reach));
        let mut child = (killer.spawn)(w);
        if killer.from_run_start {
            let started = wait_for(Duration::from_secs(30), || status_is(w, "running"));
            assert!(started, "{} round {round}: no run started", killer.what);
        }
        std::thread::sleep(at);
        // SIGKILL: no destructor, no flush, no signal handler runs.
        child.kill().expect("SIGKILL");
        let exit = child.wait().expect("wait");
        let running = std::fs::read(&status_path)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .is_some_and(|v| v["state"] == "running");
        if exit.code().is_none() && running {
            f.killed_mid_run += 1;
        }
        f.stale_temp_files += assert_intact(w, round);

        let report = rt.block_on(w.sync("vip"));
        let what = format!("{} round {round} (killed at {at:?})", killer.what);
        assert_eq!(
            report.outcome,
            Outcome::Success,
            "{what} re-run: {:?} {:?}",
            report.last_run.error,
            report.last_run.failures
        );
        assert_eq!(w.active(), emails(&people), "{what}: list equals segment");
        let dups = w.sim.duplicate_emails();
        assert!(dups.is_empty(), "{what}: duplicate contacts {dups:?}");
        f.duplicates += dups.len();
        for (email, first) in &people {
            let got = w.sim.contact(email).map(|c| c.first_name);
            assert_eq!(
                got.as_deref(),
                Some(first.as_str()),
                "{what}: {email} renamed"
            );
        }
        let lost = lost_ownership(w, &subscribed);
        assert!(lost.is_empty(), "{what}: ownership lost for {lost:?}");
        f.converged += 1;
    }

    // The final shrink (`sync --allow-removals`): every owned member not
    // kept is unsubscribed.
    let last = segment(n + 2);
    let keep = &last[..100];
    w.write_people("vip", keep);
    let opts = RunOptions {
        allow_removals: true,
        ..RunOptions::default()
    };
    let report = rt.block_on(w.sync_with("vip", opts));
    assert_eq!(
        report.outcome,
        Outcome::Success,
        "shrink: {:?}",
        report.last_run.error
    );
    assert_eq!(
        w.active(),
        emails(keep),
        "the shrink unsubscribed every owned leaver"
    );
    let members = w.sim.members(w.list);
    let unsubscribed = members.iter().filter(|m| m.status == 2).count();
    assert_eq!(
        unsubscribed,
        members.len() - keep.len(),
        "nothing deleted, nothing left active"
    );
    f.lost_ownership = lost_ownership(w, &subscribed).len();
    assert_eq!(f.lost_ownership, 0);
    println!(
        "CRASH {}: trials={} killed_mid_run={} converged_after_rerun={} duplicates={} lost_ownership={} corrupt_db=0 corrupt_status=0 stale_temp_files={} (run of changes: {:?})",
        killer.what,
        f.trials,
        f.killed_mid_run,
        f.converged,
        f.duplicates,
        f.lost_ownership,
        f.stale_temp_files,
        f.span
    );
    f
}

/// The `sync` variant of the trials on `sim`: `acsync sync vip` killed at
/// seeded instants of its run.
fn sync_trials(sim: SimConfig, n: usize, seed: u64, what: &str) -> Figures {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let w = rt.block_on(World::with(sim));
    w.write_export("vip", "max_removals = \"10%\"");
    let spawn = |w: &World| {
        w.command(&["sync", "vip"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn")
    };
    crash_trials(
        &w,
        &rt,
        n,
        seed,
        &|w| sync_ok(w, &["sync", "vip"], "calibration"),
        Killer {
            what,
            spawn: &spawn,
            from_run_start: false,
        },
    )
}

#[test]
fn sync_killed_at_random_instants_converges_without_losing_ownership() {
    let f = sync_trials(crash_sim(), trials(6, 100), 7, "sync");
    assert!(f.killed_mid_run > 0, "some kills must land mid-run");
}

/// Kills while ActiveCampaign is still processing a batch acsync
/// sent (each batch takes 3 s to land), so the re-run starts before it has:
/// it must follow the journaled batch to its end, and lose no ownership,
/// leave nobody wrongly unsubscribed, create no duplicate.
#[test]
fn sync_killed_while_batches_are_still_processing_converges() {
    let slow = SimConfig {
        import_duration: Duration::from_secs(3),
        ..crash_sim()
    };
    let f = sync_trials(slow, trials(4, 100), 13, "sync (batches processing)");
    assert!(f.killed_mid_run > 0, "some kills must land mid-run");
}

/// Every 2 s: the daemon starts a run at once and keeps running.
const EVERY_2S: &str = "*/2 * * * * *";

#[test]
fn daemon_killed_at_random_instants_converges_without_losing_ownership() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let w = rt.block_on(World::with(crash_sim()));
    w.write_export("vip", "max_removals = \"10%\"");
    let path = w.exports().join("vip.toml");
    let text = std::fs::read_to_string(&path).expect("export");
    let scheduled = text.replace(
        "schedule = \"@hourly\"",
        &format!("schedule = \"{EVERY_2S}\""),
    );
    std::fs::write(&path, scheduled).expect("schedule");
    let spawn = |w: &World| w.spawn_daemon();
    // A daemon run of changes: from its start (the next 2 s tick) to its
    // end, recorded.
    let calibrate = |w: &World| {
        let before = finished_at(w);
        let want = emails(&segment(2));
        let mut d = spawn(w);
        let started = wait_for(Duration::from_secs(30), || status_is(w, "running"));
        let start = Instant::now();
        let done = wait_for(Duration::from_secs(60), || {
            finished_at(w) != before && status_is(w, "idle") && w.active() == want
        });
        let took = start.elapsed();
        assert!(started, "the daemon started a run");
        d.kill().expect("kill");
        let _ = d.wait();
        assert!(done, "the daemon ran the export");
        took
    };
    let f = crash_trials(
        &w,
        &rt,
        trials(6, 100),
        11,
        &calibrate,
        Killer {
            what: "daemon",
            spawn: &spawn,
            from_run_start: true,
        },
    );
    assert!(f.killed_mid_run > 0, "some kills must land mid-run");
}

/// `last_run.finished_at` of `vip`'s status file.
fn finished_at(w: &World) -> Option<String> {
    let bytes = std::fs::read(w.exports().join("vip.status.json")).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v["last_run"]["finished_at"].as_str().map(str::to_string)
}

/// Whether the status file of `vip` says `state`.
fn status_is(w: &World, state: &str) -> bool {
    std::fs::read(w.exports().join("vip.status.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|v| v["state"] == state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_readers_never_see_a_half_written_file() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let w = World::new().await;
    let mut people = World::people(0..5);
    w.write_people("vip", &people);
    w.write_export("vip", "");
    let path = w.exports().join("vip.status.json");
    let stop = Arc::new(AtomicBool::new(false));
    // A reader thread, as a dashboard or `acsync status` would read: whole
    // file, parse, never retry.
    let reader = {
        let (path, stop) = (path.clone(), stop.clone());
        std::thread::spawn(move || {
            let (mut reads, mut states) = (0u64, BTreeSet::new());
            while !stop.load(Ordering::Relaxed) {
                let Ok(bytes) = std::fs::read(&path) else {
                    continue;
                };
                let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                    panic!(
                        "half-written status file after {reads} reads: {e}\n{}",
                        String::from_utf8_lossy(&bytes)
                    )
                });
                assert_eq!(v["export"], "vip");
                states.insert(v["state"].as_str().unwrap_or_default().to_string());
                reads += 1;
            }
            (reads, states)
        })
    };
    // Each run writes the file twice (running, then idle with its outcome).
    let runs = 30;
    for i in 0..runs {
        people[i % 5].1 = format!("Name{i}");
        w.write_people("vip", &people);
        let r = w.sync("vip").await;
        assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
    }
    stop.store(true, Ordering::Relaxed);
    let (reads, states) = reader.join().expect("reader never saw a broken file");
    println!("STATUS readers: {reads} whole reads during {runs} runs, states {states:?}");
    assert!(reads > 100, "the reader kept up: {reads}");
    assert!(
        states.contains("running") && states.contains("idle"),
        "{states:?}"
    );
}
