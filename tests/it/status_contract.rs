//! The status file as docs/status-file.md states it, read the way a script
//! or an alert reads it: polled from outside while the real binary runs.
//! `last_run` is always a finished run (its `outcome` never null); the run
//! in progress is `current_run`, present only while `state` is `running`.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{World, slow_batches};

/// Every status file seen while `child` runs, then the one it leaves.
fn poll_until_exit(w: &World, child: &mut std::process::Child) -> (Vec<Value>, Value) {
    let path = w.exports().join("vip.status.json");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    loop {
        if let Ok(bytes) = std::fs::read(&path) {
            seen.push(serde_json::from_slice(&bytes).expect("never half a file"));
        }
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "sync did not end");
        std::thread::sleep(Duration::from_millis(20));
    }
    let last = serde_json::from_slice(&std::fs::read(&path).expect("status")).expect("json");
    (seen, last)
}

/// What docs/status-file.md promises of every read, running or not.
fn assert_contract(s: &Value) {
    if !s["last_run"].is_null() {
        assert!(
            !s["last_run"]["outcome"].is_null(),
            "last_run is a finished run: {s:#}"
        );
        assert!(!s["last_run"]["finished_at"].is_null(), "{s:#}");
    }
    if s["state"] == "running" {
        assert!(s["current_run"]["started_at"].is_string(), "{s:#}");
        assert!(s["current_run"]["trigger"].is_string(), "{s:#}");
    } else {
        assert!(s.get("current_run").is_none(), "{s:#}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_run_is_never_the_run_in_progress() {
    let w = World::with(slow_batches(2)).await;
    w.write_people("vip", &World::people(0..20));
    w.write_export("vip", "");

    // A first run: nothing has finished before it.
    let mut child = w.spawn_sync_until_a_batch_is_queued("vip");
    let (seen, after) = poll_until_exit(&w, &mut child);
    seen.iter().for_each(assert_contract);
    assert!(seen.iter().any(|s| s["state"] == "running"), "{seen:#?}");
    assert_contract(&after);
    assert_eq!(after["state"], "idle");
    assert_eq!(after["last_run"]["outcome"], "success", "{after:#}");
    let first = after["last_run"].clone();

    // A second run: while it goes, `last_run` stays the first one.
    w.write_people("vip", &World::people(0..40));
    let mut child = w.spawn_sync_until_a_batch_is_queued("vip");
    let (seen, after) = poll_until_exit(&w, &mut child);
    seen.iter().for_each(assert_contract);
    let running: Vec<&Value> = seen.iter().filter(|s| s["state"] == "running").collect();
    assert!(!running.is_empty(), "{seen:#?}");
    for s in &running {
        assert_eq!(s["last_run"], first, "{s:#}");
    }
    let current = &running[0]["current_run"];
    assert_eq!(current["trigger"], "manual");
    assert_contract(&after);
    assert_eq!(after["state"], "idle");
    assert_eq!(after["last_run"]["outcome"], "success", "{after:#}");
    assert_eq!(after["last_run"]["started_at"], current["started_at"]);
    assert_eq!(after["last_run"]["added"], 20);
}

/// A batch whose outcome acsync could not learn (`/import/info` answers 404
/// for it) and that the run's read of the list does not show yet: its
/// contacts are in doubt, not refused. The run is `success` with them
/// counted in `in_doubt`, nothing in `failed` or `failures`; the next run
/// settles them once the batch has landed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_unknown_outcome_is_in_doubt_not_failed() {
    let w = World::with(slow_batches(2)).await;
    let people = World::people(0..20);
    w.write_people("vip", &people);
    w.write_export("vip", "");
    w.sim.set_info_not_found(true);
    let r = w.sync("vip").await;
    let run = &r.last_run;
    assert_eq!(
        (r.outcome, run.failed, run.in_doubt),
        (acsync::status::Outcome::Success, 0, 20),
        "{:?}",
        run.failures
    );
    assert!(run.failures.is_empty(), "{:?}", run.failures);
    let file = w.status_json("vip");
    assert_eq!(file["last_run"]["outcome"], "success", "{file:#}");
    assert_eq!(file["last_run"]["in_doubt"], 20, "{file:#}");

    // Once the batch has landed, the next run settles them as added.
    w.sim.set_info_not_found(false);
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, acsync::status::Outcome::Success);
    assert_eq!((r.last_run.in_doubt, r.last_run.failed), (0, 0));
    assert_eq!(w.active().len(), 20);
}

/// SIGTERM while a batch ActiveCampaign takes a minute to process: the
/// daemon stops waiting for it at once (the batch stays journaled for the
/// next run), records the run `interrupted` and exits well within its grace;
/// it never leaves the file `running`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_batch_records_the_run_interrupted_before_the_daemon_exits() {
    let w = World::with(slow_batches(60)).await;
    w.write_people("vip", &World::people(0..20));
    w.write_export("vip", "");
    let path = w.exports().join("vip.toml");
    let text = std::fs::read_to_string(&path).expect("export");
    let every_2s = text.replace("schedule = \"@hourly\"", "schedule = \"*/2 * * * * *\"");
    std::fs::write(&path, every_2s).expect("schedule");
    let mut daemon = w.spawn_daemon();
    let deadline = Instant::now() + Duration::from_secs(20);
    while w.bulk_imports() == 0 {
        assert!(Instant::now() < deadline, "no batch sent");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(
        unsafe { libc::kill(daemon.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    let sent = Instant::now();
    let code = loop {
        if let Some(status) = daemon.try_wait().expect("wait") {
            break status.code();
        }
        if sent.elapsed() > Duration::from_secs(40) {
            let _ = daemon.kill();
            panic!("the daemon did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = sent.elapsed();
    let s = w.status_json("vip");
    assert_eq!(s["state"], "idle", "{s:#}");
    assert_eq!(s["last_run"]["outcome"], "interrupted", "{s:#}");
    assert!(s.get("current_run").is_none(), "{s:#}");
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(10), "{took:?}");
}
