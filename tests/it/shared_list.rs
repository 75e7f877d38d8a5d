//! Several exports on one list (docs/ownership.md): an export never
//! unsubscribes what another export of the list still has in its segment;
//! conflicting values are written by one export only, never ping-ponging;
//! `prune = "all"` on a shared list is refused.

use acsync::status::Outcome;

use crate::harness::World;

fn people(range: std::ops::Range<usize>, renamed: Option<&str>) -> Vec<(String, String)> {
    let mut p = World::people(range.clone());
    if let Some(name) = renamed {
        p[15 - range.start].1 = name.into();
    }
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_of_one_list_never_unsubscribe_each_others_members() {
    let w = World::new().await;
    let extra = "max_removals = \"100%\"\nfull_read_every = \"0\"";
    w.write_export("a", extra);
    w.write_export("b", extra);
    let a = people(0..20, None);
    let b = people(10..30, None);
    w.write_people("a", &a);
    w.write_people("b", &b);
    w.sync_success("a").await;
    // `b` has not run yet: `a` may not remove anything `b` might want.
    w.write_people("a", &a[..19]);
    let r = w.sync("a").await;
    assert_eq!(r.outcome, Outcome::Blocked, "{:?}", r.last_run.error);
    assert!(r.blocked.unwrap_or_default().contains("`b`"));
    w.sync_success("b").await;
    // `a` drops user12 (also in `b`) and user5 (only in `a`).
    let dropped: Vec<(String, String)> = a
        .iter()
        .filter(|p| p.0 != "user12@example.com" && p.0 != "user5@example.com")
        .cloned()
        .collect();
    w.write_people("a", &dropped);
    let r = w.sync_success("a").await;
    // user12, and b's own members 20..29 (owned by acsync on this list,
    // never in a's segment): all kept for b.
    assert_eq!((r.last_run.removed, r.last_run.kept_for_others), (1, 11));
    assert_eq!(w.sim.list_status("user12@example.com", w.list), Some(1));
    assert_eq!(w.sim.list_status("user5@example.com", w.list), Some(2));
    let r = w.sync_success("b").await;
    assert_eq!(r.last_run.kept_unsubscribed, 0, "no false opt-out in b");
    assert_eq!(r.last_run.added, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicting_values_are_resolved_once_and_never_ping_pong() {
    let w = World::new().await;
    let extra = "full_read_every = \"0\"";
    w.write_export("a", extra);
    w.write_export("b", extra);
    w.write_people("a", &people(0..20, Some("Ann")));
    w.write_people("b", &people(10..30, Some("Anna")));
    w.sync_success("a").await;
    w.sync_success("b").await;
    for round in 0..2 {
        for name in ["a", "b"] {
            let r = w.sync_success(name).await;
            assert_eq!(r.last_run.updated, 0, "round {round} {name}: no rewrite");
            assert_eq!(r.last_run.conflicts, 1, "round {round} {name}");
        }
    }
    let first = w.sim.contact("user15@example.com").map(|c| c.first_name);
    assert_eq!(
        first.as_deref(),
        Some("Ann"),
        "the export whose id sorts first wins"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_all_on_a_shared_list_is_refused() {
    let w = World::new().await;
    w.write_export("a", "prune = \"all\"");
    w.write_export("b", "");
    w.write_people("a", &people(0..20, None));
    w.write_people("b", &people(10..30, None));
    let out = w.acsync(&["check"]);
    assert_eq!(out.status.code(), Some(1));
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("a.toml:4:1:") && said.contains("`b`"),
        "{said}"
    );
    w.sim.reset_ledger();
    let out = w.acsync(&["sync", "a"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(w.sim.ledger().writes, 0);
    // `b` is valid and runs.
    let out = w.acsync(&["sync", "b"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Two exports of one list in one process (as the daemon runs them): one
/// export's run starts while the other's bulk batch is still processing.
/// That batch and its intents are the other run's work in progress, not
/// something a killed run left: the run does not read the list in full for
/// them, and leaves their members as they are until the other run settles
/// them (docs/run-rules.md, full reads).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_another_export_has_in_progress_is_no_reason_to_read_in_full() {
    use acsync::run::{RunOptions, Trigger};
    use tokio_util::sync::CancellationToken;

    let w = World::with(crate::harness::slow_batches(3)).await;
    let extra = "max_removals = \"100%\"\nexclude_automations = true";
    w.write_export("a", extra);
    w.write_export("b", extra);
    w.write_people("a", &World::people(0..20));
    w.write_people("b", &World::people(100..120));
    w.sync_success("a").await;
    w.sync_success("b").await;

    // `a` gains members: its batch takes three seconds to land.
    w.write_people("a", &World::people(0..40));
    let submitted = w.sim.ledger().batches_submitted;
    let runner = std::sync::Arc::new(w.runner());
    let (a, b) = (w.export("a"), w.export("b"));
    let first = {
        let runner = std::sync::Arc::clone(&runner);
        tokio::spawn(async move {
            runner
                .run(
                    &a,
                    Trigger::Manual,
                    RunOptions::default(),
                    CancellationToken::new(),
                )
                .await
        })
    };
    while w.sim.ledger().batches_submitted == submitted {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let other = runner
        .run(
            &b,
            Trigger::Manual,
            RunOptions::default(),
            CancellationToken::new(),
        )
        .await
        .expect("b ran");
    assert_eq!(
        other.outcome,
        Outcome::Success,
        "{:?}",
        other.last_run.error
    );
    assert_eq!(
        other.last_run.read_reason.as_deref(),
        None,
        "no full read for another run's batch: {:?}",
        other.last_run
    );
    let mine = first.await.expect("joined").expect("a ran");
    assert_eq!(mine.last_run.added, 20, "{:?}", mine.last_run.error);
}
