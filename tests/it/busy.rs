//! A busy account (docs/verification.md, "A busy account"): lists that
//! change while they are read, batches whose summary is gone, a list
//! deleted between runs, a shutdown while a batch is followed.

use std::time::{Duration, Instant};

use acsync::run::{RunOptions, Runner, RunnerPaths, Trigger};
use acsync::simulator::{ChangedBy, Faults, ReadChurn, SimConfig};
use acsync::status::Outcome;
use tokio_util::sync::CancellationToken;

use crate::harness::World;
use crate::util::wait_for;

/// A list deleted in ActiveCampaign between two runs: the run that would
/// create contacts for it asks for the list first and fails naming it,
/// with nothing created.
#[tokio::test]
async fn a_deleted_list_fails_the_run_before_any_contact_is_created() {
    let w = first_run(5).await;
    assert!(w.sim.delete_list(w.list));
    w.write_people("vip", &World::people(0..10));
    let contacts = w.sim.contact_count();
    w.sim.reset_ledger();

    let r = w.sync("vip").await;

    assert_eq!(r.outcome, Outcome::Failed);
    let error = r.last_run.error.unwrap_or_default();
    let named = format!("list {} (list_id in", w.list);
    assert!(error.contains(&named) && error.contains("`vip`"), "{error}");
    assert_eq!(w.sim.contact_count(), contacts, "no contact created");
    assert_eq!(w.sim.ledger().writes, 0, "nothing written");
}

/// Export `vip` of `user0..user{n}` after its first run: every member
/// subscribed by acsync's import, contact ids not yet learnt.
async fn first_run(n: usize) -> World {
    let w = World::new().await;
    w.write_people("vip", &World::people(0..n));
    w.write_export("vip", "");
    w.sync_success("vip").await;
    w
}

fn full_read() -> RunOptions {
    RunOptions {
        full_read: true,
        ..RunOptions::default()
    }
}

/// `email` (the list's first member) unsubscribes, then, while the next
/// read of the list is under way, comes back (a form sign-up) right after
/// the first page of the active read passed it; meanwhile the member with
/// the highest id opts out after every page.
fn moves_behind_the_read<'e>(w: &World, email: &'e str) -> &'e str {
    let id = w.sim.contact(email).expect("contact").id;
    w.sim.set_membership(id, w.list, 2, ChangedBy::Contact);
    w.sim.churn_list_reads(ReadChurn {
        list_id: w.list,
        opt_outs: 1,
        moves: vec![(1, email.to_string(), 1)],
        ..ReadChurn::default()
    });
    email
}

/// [`first_run`], then a full read that learns the members' contact ids.
async fn seeded(n: usize) -> World {
    let w = first_run(n).await;
    let r = w.sync_with("vip", full_read()).await;
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
    w
}

/// A sign-up during every page of every full read: the rows read exceed
/// the count the read began with, run after run. The read no longer fails;
/// it makes progress: joiners are read, leavers removed.
#[tokio::test]
async fn a_list_that_gains_members_while_it_is_read_does_not_fail_the_run() {
    let w = seeded(250).await;
    w.sim.churn_list_reads(ReadChurn {
        list_id: w.list,
        sign_ups: 1,
        ..ReadChurn::default()
    });
    w.write_people("vip", &World::people(0..240));
    for _ in 0..3 {
        let r = w.sync_with("vip", full_read()).await;
        assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
    }
    assert!(w.sim.churned_pages() > 0, "the reads were churned");
    let gone = "user245@example.com";
    assert_eq!(
        w.sim.list_status(gone, w.list),
        Some(2),
        "the leaver was removed"
    );
    assert_eq!(
        w.sim.list_status("churn1@example.com", w.list),
        Some(1),
        "a joiner is left alone"
    );
    assert_eq!(w.status("vip").last_run.expect("last run").unread_kept, 0);
}

/// Opt-outs ahead of the read's cursor: the active read finds fewer rows
/// than its count, and a member moved from unsubscribed back to active
/// behind the read's cursor is in no status read at all. That member is
/// looked up by contact id and kept: it is never taken for a non-member.
#[tokio::test]
async fn a_member_that_moved_past_the_read_is_looked_up_not_dropped() {
    let w = seeded(150).await;
    let back = moves_behind_the_read(&w, "user0@example.com");

    let r = w.sync_with("vip", full_read()).await;

    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
    assert_eq!(w.sim.list_status(back, w.list), Some(1));
    assert_eq!(r.last_run.unread_kept, 0, "looked up, nothing left");
    // Taken for a non-member it would have been planned as an add.
    let run = &r.last_run;
    assert_eq!((run.added, run.updated, run.failed), (0, 0, 0), "{run:?}");
}

/// A member missed by a read of a changing list whose contact id acsync
/// never learnt cannot be looked up: its record stands (it is neither
/// added again nor forgotten) and the status file counts it.
#[tokio::test]
async fn a_member_the_read_missed_and_cannot_look_up_is_kept_and_counted() {
    let w = first_run(150).await;
    let back = moves_behind_the_read(&w, "user0@example.com");

    let r = w.sync_with("vip", full_read()).await;

    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
    assert_eq!(w.status_json("vip")["last_run"]["unread_kept"], 1);
    assert_eq!(r.last_run.added, 0, "not taken for a non-member");
    assert_eq!(w.sim.list_status(back, w.list), Some(1));
}

/// Client waits of the harness, with the longest wait for a batch cut to a
/// second: the bound after which a batch is settled by reading.
fn short_batch_bound(cfg: &mut acsync::activecampaign::ClientConfig) {
    crate::harness::fast_client(cfg);
    cfg.bulk_wait_max = Duration::from_secs(1);
}

fn short_bound_runner(w: &World) -> Runner {
    let settings = acsync::config::load_settings(w.root());
    Runner::new(RunnerPaths::new(w.root(), &settings.daemon)).with_client_tuning(short_batch_bound)
}

async fn run_short_bound(w: &World, opts: RunOptions) -> acsync::run::RunReport {
    short_bound_runner(w)
        .run(
            &w.export("vip"),
            Trigger::Manual,
            opts,
            CancellationToken::new(),
        )
        .await
        .expect("run started")
}

/// Batches whose end `/import/info` never tells (it says "still running"
/// long after the batch landed, as a busy account's queue may): once a
/// batch is older than the bound (`bulk_wait_max` after its submission), a
/// run settles its contacts by reading, whatever `/import/info` says, and
/// counts them; before, they stayed in doubt run after run.
#[tokio::test]
async fn a_batch_still_running_past_the_bound_is_settled_by_reading() {
    let w = World::with(SimConfig {
        faults: Faults {
            info_false_polls: 1_000_000,
            ..Faults::default()
        },
        ..crate::harness::slow_batches(2)
    })
    .await;
    w.write_people("vip", &World::people(0..40));
    w.write_export("vip", "");
    let first = run_short_bound(&w, RunOptions::default()).await;
    assert!(first.last_run.in_doubt > 0, "{:?}", first.last_run);
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let plan = short_bound_runner(&w)
        .plan(&w.export("vip"), false, false)
        .await
        .expect("plan");
    let json = acsync::cli::plan::summary("vip", &plan);
    let json = serde_json::to_value(&json).expect("json");
    assert_eq!(json["settled_by_reading"], 40, "plan --json says it too");

    let r = run_short_bound(&w, RunOptions::default()).await;

    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
    assert_eq!(r.last_run.in_doubt, 0, "{:?}", r.last_run);
    assert_eq!(r.last_run.settled_by_reading, 40, "{:?}", r.last_run);
    assert_eq!(w.active().len(), 40);
    assert_eq!(w.bulk_imports(), 1, "nothing sent twice");
}

/// SIGTERM while the daemon's run follows a batch an earlier (killed) run
/// left, which ActiveCampaign holds processing: the run stops at once, is
/// recorded `interrupted` in the status file with no run left in progress,
/// and the daemon exits well within its 25 s stop grace.
#[test]
fn sigterm_reaches_a_run_waiting_on_a_batch_poll() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let w = rt.block_on(World::with(crate::harness::slow_batches(600)));
    w.write_people("vip", &World::people(0..40));
    w.write_export("vip", "");
    let mut killed = w.spawn_sync_until_a_batch_is_queued("vip");
    let _ = killed.kill();
    let _ = killed.wait();
    let toml = std::fs::read_to_string(w.exports().join("vip.toml")).expect("export");
    let every_2s = toml.replace("@hourly", "*/2 * * * * *");
    std::fs::write(w.exports().join("vip.toml"), every_2s).expect("export");
    let infos = || w.sim.ledger().by_endpoint.get("GET /import/info").copied();
    let before = infos();
    let mut daemon = w.spawn_daemon();
    let polling = wait_for(Duration::from_secs(20), || infos() > before.map(|n| n + 1));
    assert!(polling, "the daemon's run follows the held batch");

    let t = Instant::now();
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(daemon.id() as libc::pid_t, libc::SIGTERM) };
    let exited = wait_for(Duration::from_secs(40), || {
        matches!(daemon.try_wait(), Ok(Some(_)))
    });
    let took = t.elapsed();
    if !exited {
        let _ = daemon.kill();
        let _ = daemon.wait();
    }

    assert!(
        exited && took < Duration::from_secs(5),
        "stopped in {took:?}"
    );
    let status = w.status_json("vip");
    assert_eq!(status["last_run"]["outcome"], "interrupted", "{status}");
    assert!(
        status.get("current_run").is_none_or(|c| c.is_null()),
        "{status}"
    );
    assert_ne!(status["state"], "running", "{status}");
}

/// A batch sent without a known id (its answer never reached a killed run)
/// on an account where imports are always outstanding (the batch itself is
/// held processing, as other tools' imports would be): it is no longer
/// followed until the account-wide count reaches 0; past the bound the
/// next run settles its contacts by reading, counts them and forgets it.
#[test]
fn a_batch_without_id_is_settled_by_reading_though_imports_stay_outstanding() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let w = rt.block_on(World::with(crate::harness::slow_batches(600)));
    w.write_people("vip", &World::people(0..40));
    w.write_export("vip", "");
    w.sim.hold_bulk_answer(1, Duration::from_secs(60));
    let mut killed = w.spawn_sync_until_a_batch_is_queued("vip");
    let _ = killed.kill();
    let _ = killed.wait();
    let scope = acsync::state::scope_of(&w.export("vip"));
    let journal = || {
        let db = acsync::state::StateDb::open(&w.state_dir()).expect("state");
        db.open_batches(&scope).expect("journal")
    };
    let unacknowledged = journal();
    assert!(
        unacknowledged.len() == 1 && unacknowledged[0].batch_id.starts_with("unacknowledged"),
        "{unacknowledged:?}"
    );
    std::thread::sleep(Duration::from_millis(1_100));

    let r = rt.block_on(run_short_bound(&w, RunOptions::default()));

    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
    assert_eq!(r.last_run.settled_by_reading, 40, "{:?}", r.last_run);
    let left = journal();
    assert!(
        left.iter()
            .all(|b| b.batch_id != unacknowledged[0].batch_id),
        "{left:?}"
    );
}

/// docs/run-rules.md, shutdown: a shutdown reaches the waits of the write
/// too. The batch is queued, then ActiveCampaign answers every request 429
/// with `Retry-After: 60` (a storm): the follow-up's request waits it out.
/// Cancelled, the run ends at once and is recorded interrupted, well inside
/// the daemon's grace, instead of waiting a minute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_reaches_a_write_waiting_out_a_retry_after() {
    let w = World::with(crate::harness::slow_batches(2)).await;
    w.write_people("vip", &World::people(0..20));
    w.write_export("vip", "");
    let export = w.export("vip");
    let cancel = CancellationToken::new();
    let before = w.bulk_imports();
    let runner = w.runner();
    let run = runner.run(
        &export,
        Trigger::Manual,
        RunOptions::default(),
        cancel.clone(),
    );
    let storm_then_stop = async {
        while w.bulk_imports() == before {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        w.sim.set_faults(Faults {
            storm_429: Some((Duration::from_secs(120), 60)),
            ..Faults::default()
        });
        tokio::time::sleep(Duration::from_millis(600)).await;
        cancel.cancel();
        Instant::now()
    };
    let (report, stopped) = tokio::join!(run, storm_then_stop);
    let took = stopped.elapsed();
    let r = report.expect("the run started");
    assert_eq!(r.outcome, Outcome::Interrupted, "{:?}", r.last_run.error);
    assert!(
        took < Duration::from_secs(5),
        "the run ended {took:?} after the shutdown"
    );
}
