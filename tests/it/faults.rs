//! Fault injection: seeded trials of a run with adds, updates and
//! unsubscribes against a simulator that misbehaves in one way per test (5xx,
//! dropped connections, 429 storms, latency beyond the request timeout,
//! failed or interrupted bulk batches, `/import/info` answering `false`) or
//! in all of them at once.
//!
//! Each trial: a clean first sync of [`BASE`] profiles, then a changed segment
//! (adds, renames, leavers) synced with the fault on ("run 1"). After run 1:
//! no duplicate contact, nobody unsubscribed who should not be, and every
//! contact not converged is accounted for: `last_run.failed` equals the number
//! of contacts whose change did not land, and they are the ones listed in
//! `failures` (a batch given up `interrupted` applied part of itself: the
//! run settles such doubts with a read of the list, see `run::apply`). If run 1 did not converge, a second run with the fault gone
//! ("run 2") must. Figures per fault are printed (`--nocapture`).
//!
//! Trials per fault: [`crate::util::trials`] (5 by default, 50 with
//! `ACSYNC_FULL_TRIALS=1`). Seeds are `1..=trials`: a failing seed replays.

use std::collections::BTreeSet;
use std::time::Duration;

use acsync::activecampaign::ClientConfig;
use acsync::config;
use acsync::run::{RunOptions, RunReport, Runner, RunnerPaths, Trigger};
use acsync::simulator::{ChangedBy, Faults, SimConfig};
use acsync::status::Outcome;
use tokio_util::sync::CancellationToken;

use crate::harness::{World, fast_client, fast_sim};
use crate::util::trials;

/// Profiles in the list before the faulty run.
const BASE: usize = 1000;
/// Leavers (unsubscribed under `prune = "owned"`, within `max_removals`).
const LEAVE: usize = 60;
/// Newcomers.
const JOIN: usize = 200;
/// Renamed members (updates).
const RENAME: usize = 150;
/// The client's request timeout in the latency trials: spikes are longer.
const SHORT_TIMEOUT: Duration = Duration::from_millis(300);
/// The injected latency spike.
const SPIKE: Duration = Duration::from_millis(900);

/// The client of most trials: fast backoff and polls ([`fast_client`]).
fn tuned(cfg: &mut ClientConfig) {
    fast_client(cfg);
}

/// The client of the latency trials: requests time out after [`SHORT_TIMEOUT`].
fn short_timeout(cfg: &mut ClientConfig) {
    fast_client(cfg);
    cfg.request_timeout = SHORT_TIMEOUT;
}

/// One kind of fault: its name (as printed), the faults, and the client tuning.
struct FaultKind {
    name: &'static str,
    faults: fn() -> Faults,
    tune: fn(&mut ClientConfig),
}

fn errors() -> Faults {
    Faults {
        error_rate: 0.10,
        ..Faults::default()
    }
}

/// 5%: a run of changes makes only ~10 requests, so at 2% most seeded
/// trials drew no drop at all.
fn drops() -> Faults {
    Faults {
        drop_rate: 0.05,
        ..Faults::default()
    }
}

fn storm() -> Faults {
    Faults {
        storm_429: Some((Duration::from_millis(2500), 1)),
        ..Faults::default()
    }
}

fn latency() -> Faults {
    Faults {
        latency_rate: 0.05,
        latency: SPIKE,
        ..Faults::default()
    }
}

fn batches() -> Faults {
    Faults {
        fail_batch_rate: 0.3,
        ..Faults::default()
    }
}

fn info_false() -> Faults {
    Faults {
        info_false_polls: 6,
        ..Faults::default()
    }
}

fn everything() -> Faults {
    Faults {
        error_rate: 0.10,
        drop_rate: 0.02,
        latency_rate: 0.03,
        latency: SPIKE,
        fail_batch_rate: 0.2,
        info_false_polls: 3,
        storm_429: Some((Duration::from_millis(1500), 1)),
    }
}

/// What one trial found.
#[derive(Debug, Default, Clone)]
struct Trial {
    converged_1: bool,
    converged_2: bool,
    duplicates: usize,
    /// `last_run.failed` of run 1.
    failed: u64,
    /// Contacts whose change had not landed after run 1.
    not_converged: usize,
    injected: u64,
}

/// The segment before (`round` 0) and after (`round` 1) the change.
fn segment(round: usize) -> Vec<(String, String)> {
    if round == 0 {
        return World::people(0..BASE);
    }
    let mut people = World::people(LEAVE..BASE + JOIN);
    for p in people.iter_mut().skip(50).take(RENAME) {
        p.1 = format!("{}-renamed", p.1);
    }
    people
}

fn runner(w: &World, tune: fn(&mut ClientConfig)) -> Runner {
    let settings = config::load_settings(w.root());
    Runner::new(RunnerPaths::new(w.root(), &settings.daemon)).with_client_tuning(tune)
}

async fn run(w: &World, tune: fn(&mut ClientConfig)) -> RunReport {
    runner(w, tune)
        .run(
            &w.export("vip"),
            Trigger::Manual,
            RunOptions::default(),
            CancellationToken::new(),
        )
        .await
        .expect("run started")
}

/// Contacts whose change has not landed, with their source row: segment
/// members not active or with another first name (row = CSV data row), and
/// leavers still active (no row).
fn not_converged(w: &World, people: &[(String, String)]) -> BTreeSet<(String, Option<u64>)> {
    let active = w.sim.active_emails(w.list);
    let mut out = BTreeSet::new();
    for (i, (email, first)) in people.iter().enumerate() {
        if email == OPT_OUT {
            continue;
        }
        let name = w.sim.contact(email).map(|c| c.first_name);
        if !active.contains(email) || name.as_deref() != Some(first.as_str()) {
            out.insert((email.clone(), Some(i as u64 + 1)));
        }
    }
    let wanted: BTreeSet<&str> = people.iter().map(|p| p.0.as_str()).collect();
    for email in active {
        if !wanted.contains(email.as_str()) && email != MANUAL {
            out.insert((email, None));
        }
    }
    out
}

/// A member someone else added: never owned, so never unsubscribed.
const MANUAL: &str = "manual@example.com";
/// A contact who opted out and is in the segment: never resubscribed.
const OPT_OUT: &str = "optout@example.com";

/// Safety after any run: the manual member is still active, the opt-out is
/// still unsubscribed, nobody but the leavers was unsubscribed, no duplicates.
fn assert_safe(w: &World, seed: u64, what: &str) {
    let members = w.sim.members(w.list);
    let status = |email: &str| members.iter().find(|m| m.email == email).map(|m| m.status);
    assert_eq!(
        status(MANUAL),
        Some(1),
        "seed {seed} {what}: manual member kept"
    );
    assert_eq!(status(OPT_OUT), Some(2), "seed {seed} {what}: opt-out kept");
    let leavers: BTreeSet<String> = World::people(0..LEAVE).into_iter().map(|p| p.0).collect();
    for m in members.iter().filter(|m| m.status == 2) {
        assert!(
            m.email == OPT_OUT || leavers.contains(&m.email),
            "seed {seed} {what}: {} unsubscribed but never left",
            m.email
        );
    }
}

/// One seeded trial of `kind`.
async fn trial(kind: &FaultKind, seed: u64) -> Trial {
    let w = World::with(SimConfig { seed, ..fast_sim() }).await;
    let manual = w.sim.add_contact(MANUAL, Some("Manual"), None, None);
    w.sim.set_membership(manual, w.list, 1, ChangedBy::Admin);
    let opt = w.sim.add_contact(OPT_OUT, Some("Opt"), None, None);
    w.sim.set_membership(opt, w.list, 2, ChangedBy::Contact);
    // Every run reads the list in full: the trials check the engine's
    // reconciliation, not the local record between full reads.
    w.write_export("vip", "full_read_every = \"0\"");
    let mut before = segment(0);
    before.push((OPT_OUT.into(), "Opt".into()));
    w.write_people("vip", &before);
    let r = run(&w, tuned).await;
    assert_eq!(r.outcome, Outcome::Success, "seed {seed}: clean first sync");

    let mut after = segment(1);
    after.push((OPT_OUT.into(), "Opt".into()));
    w.write_people("vip", &after);
    w.sim.reset_ledger();
    w.sim.set_faults((kind.faults)());
    let r1 = run(&w, kind.tune).await;
    // Requests delayed past their timeout may still land: let them.
    if (kind.faults)().latency_rate > 0.0 {
        tokio::time::sleep(SPIKE + Duration::from_millis(200)).await;
    }
    let injected = w.sim.ledger().faults_injected;
    w.sim.set_faults(Faults::default());
    assert_ne!(
        r1.outcome,
        Outcome::Blocked,
        "seed {seed}: {:?}",
        r1.blocked
    );
    assert_safe(&w, seed, "after run 1");

    let missing = not_converged(&w, &after);
    // Every contact not converged is counted, nothing else is, and they are
    // listed (by source row; leavers have none) while the list of 20 has room.
    assert_eq!(
        r1.last_run.failed,
        missing.len() as u64,
        "seed {seed} {}: failed = {} but {} not converged; {:?}",
        kind.name,
        r1.last_run.failed,
        missing.len(),
        r1.last_run.failures
    );
    if r1.last_run.failed as usize <= acsync::status::MAX_FAILURES {
        let rows: BTreeSet<Option<u64>> = r1.last_run.failures.iter().map(|f| f.row).collect();
        let unrowed = r1
            .last_run
            .failures
            .iter()
            .filter(|f| f.row.is_none())
            .count();
        for (email, row) in &missing {
            assert!(
                row.is_none() || rows.contains(row),
                "seed {seed} {}: {email} (row {row:?}) not converged and not listed in {:?}",
                kind.name,
                r1.last_run.failures
            );
        }
        assert!(
            unrowed >= missing.iter().filter(|m| m.1.is_none()).count(),
            "seed {seed} {}: leavers not converged and not listed",
            kind.name
        );
    }
    // A run whose every change landed says so.
    if missing.is_empty() {
        assert_eq!(r1.outcome, Outcome::Success, "seed {seed} {}", kind.name);
    } else {
        assert_ne!(r1.outcome, Outcome::Success, "seed {seed} {}", kind.name);
    }
    let mut t = Trial {
        converged_1: missing.is_empty(),
        duplicates: w.sim.duplicate_emails().len(),
        failed: r1.last_run.failed,
        not_converged: missing.len(),
        injected,
        ..Trial::default()
    };
    if !t.converged_1 {
        let r2 = run(&w, tuned).await;
        assert_safe(&w, seed, "after run 2");
        let left = not_converged(&w, &after);
        t.converged_2 = left.is_empty();
        assert!(
            t.converged_2,
            "seed {seed} {}: run 2 left {left:?} ({:?})",
            kind.name, r2.last_run.failures
        );
        assert_eq!(r2.outcome, Outcome::Success, "seed {seed} {}", kind.name);
        t.duplicates = t.duplicates.max(w.sim.duplicate_emails().len());
    }
    assert_eq!(
        t.duplicates, 0,
        "seed {seed} {}: duplicate contacts",
        kind.name
    );
    t
}

/// Runs the trials of `kind` and prints its figures.
async fn trials_of(kind: FaultKind) -> Vec<Trial> {
    let n = trials(5, 50);
    let mut out = Vec::new();
    for seed in 1..=n as u64 {
        out.push(trial(&kind, seed).await);
    }
    let c1 = out.iter().filter(|t| t.converged_1).count();
    let c2 = out.iter().filter(|t| t.converged_2).count();
    let hit = out.iter().filter(|t| t.injected > 0).count();
    println!(
        "FAULT {:<11} trials={n} with_faults={hit} converged_after_1={c1} converged_after_2={c2} not_converged={} duplicates={} failed_reported={} not_converged_contacts={} faults_injected={}",
        kind.name,
        n - c1 - c2,
        out.iter().map(|t| t.duplicates).sum::<usize>(),
        out.iter().map(|t| t.failed).sum::<u64>(),
        out.iter().map(|t| t.not_converged).sum::<usize>(),
        out.iter().map(|t| t.injected).sum::<u64>(),
    );
    // The dice are per request: a trial may draw no fault at 2%, but the
    // loop as a whole must have met the fault.
    assert!(hit > 0, "{}: no trial injected a fault", kind.name);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_500_503_converge() {
    let t = trials_of(FaultKind {
        name: "5xx-10%",
        faults: errors,
        tune: tuned,
    })
    .await;
    // Retried with backoff: run 1 converges every time.
    assert!(t.iter().all(|t| t.converged_1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_converge() {
    let t = trials_of(FaultKind {
        name: "drops-5%",
        faults: drops,
        tune: tuned,
    })
    .await;
    assert!(t.iter().all(|t| t.converged_1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storms_of_429_with_retry_after_converge() {
    let t = trials_of(FaultKind {
        name: "429-storm",
        faults: storm,
        tune: tuned,
    })
    .await;
    assert!(t.iter().all(|t| t.converged_1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_spikes_beyond_the_timeout_converge() {
    let t = trials_of(FaultKind {
        name: "latency",
        faults: latency,
        tune: short_timeout,
    })
    .await;
    assert!(t.iter().all(|t| t.converged_1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_and_interrupted_batches_converge() {
    trials_of(FaultKind {
        name: "batch-fail",
        faults: batches,
        tune: tuned,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_info_false_for_a_while_converges() {
    let t = trials_of(FaultKind {
        name: "info-false",
        faults: info_false,
        tune: tuned,
    })
    .await;
    assert!(t.iter().all(|t| t.converged_1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_faults_at_once_converge() {
    trials_of(FaultKind {
        name: "all",
        faults: everything,
        tune: short_timeout,
    })
    .await;
}
