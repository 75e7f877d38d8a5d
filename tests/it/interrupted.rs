//! Truthful status: a run killed or stopped mid-way is
//! recorded as `interrupted`, never left `running` nor silently turned
//! `idle`; a daemon never overwrites the status of a run another process is
//! doing.

use std::time::{Duration, Instant};

use acsync::daemon::StatusSink;
use acsync::status::StatusFiles;
use acsync::status::{ExportState, Outcome};

use crate::harness::{World, slow_batches};

fn status_files(w: &World) -> StatusFiles {
    StatusFiles {
        state_dir: w.state_dir(),
        exports_dir: w.exports(),
        status_dir: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_sync_is_recorded_as_interrupted_when_the_daemon_starts() {
    let w = World::with(slow_batches(3)).await;
    w.write_people("vip", &World::people(0..30));
    w.write_export("vip", "");
    let mut child = w.spawn_sync_until_a_batch_is_queued("vip");
    let running = w.status("vip");
    assert_eq!(running.state, ExportState::Running);
    let started = running.current_run.as_ref().map(|r| r.started_at);
    assert!(started.is_some(), "the run in progress is in the file");
    child.kill().expect("SIGKILL");
    let _ = child.wait();

    status_files(&w)
        .idle(&w.export("vip"), None, None)
        .expect("idle");
    let s = w.status("vip");
    assert_eq!(s.state, ExportState::Idle);
    let last = s.last_run.expect("the killed run is recorded");
    assert_eq!(last.outcome, Some(Outcome::Interrupted));
    assert_eq!(Some(last.started_at), started);
    assert_eq!(s.consecutive_failures, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_never_overwrites_a_run_another_process_is_doing() {
    let w = World::with(slow_batches(3)).await;
    w.write_people("vip", &World::people(0..30));
    w.write_export("vip", "");
    let child = w.spawn_sync_until_a_batch_is_queued("vip");
    status_files(&w)
        .idle(&w.export("vip"), None, None)
        .expect("idle");
    assert_eq!(
        w.status("vip").state,
        ExportState::Running,
        "still the sync's"
    );
    let out = child.wait_with_output().expect("sync ends");
    assert_eq!(out.status.code(), Some(0));
    let s = w.status("vip");
    assert_eq!(
        (s.state, s.last_run.and_then(|r| r.outcome)),
        (ExportState::Idle, Some(Outcome::Success))
    );
}

/// SIGTERM (as Ctrl-C) stops `sync` without waiting for the batch in
/// flight: the adds already queued land as ActiveCampaign processes them,
/// the unsubscribes not yet sent are not sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_sync_and_records_the_run_as_interrupted() {
    let w = World::with(slow_batches(3)).await;
    w.write_export("vip", "max_removals = \"100%\"");
    let before = World::people(0..30);
    w.write_people("vip", &before);
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
    w.write_people("vip", &World::people(12..60));
    w.sim.reset_ledger();
    let child = w.spawn_sync_until_a_batch_is_queued("vip");
    let pid = child.id() as libc::pid_t;
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let started = Instant::now();
    let out = child.wait_with_output().expect("sync ends");
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(out.status.code(), Some(1));
    let s = w.status("vip");
    assert_eq!(s.state, ExportState::Idle);
    assert_eq!(
        s.last_run.and_then(|r| r.outcome),
        Some(Outcome::Interrupted)
    );
    let landed = Instant::now() + Duration::from_secs(10);
    while w.active().len() < 60 && Instant::now() < landed {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(w.active().len(), 60, "adds landed, no unsubscribe sent");
}

/// An export file renamed to `.TOML` (or `.tml`, `.yaml`)
/// is warned about by `check` and the daemon; its status file, with the
/// run history, is kept rather than deleted as if the export were gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misnamed_export_keeps_its_status_file() {
    let w = World::new().await;
    w.write_people("vip", &World::people(0..3));
    w.write_export("vip", "");
    w.sync_success("vip").await;
    std::fs::rename(w.exports().join("vip.toml"), w.exports().join("vip.TOML")).expect("rename");
    status_files(&w).prune(&[]).expect("prune");
    assert!(w.exports().join("vip.status.json").exists(), "kept");
    std::fs::remove_file(w.exports().join("vip.TOML")).expect("delete");
    status_files(&w).prune(&[]).expect("prune");
    assert!(
        !w.exports().join("vip.status.json").exists(),
        "a deleted export's status goes"
    );
}
