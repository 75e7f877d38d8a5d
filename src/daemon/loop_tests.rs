//! The control-loop scenarios of docs/run-rules.md, scheduling (fixtures in `tests.rs`).

use super::*;

#[tokio::test(start_paused = true)]
async fn scheduled_runs_happen_and_other_states_do_not_run() {
    let files = [
        ("a.toml", export(EVERY_SECOND)),
        ("off.toml", export_with(EVERY_SECOND, "enabled = false")),
        ("emea/bad.toml", "list_id = \"x\"\n".to_string()),
    ];
    let f = Setup {
        files: &files,
        ..Setup::default()
    }
    .start();
    f.wait("two runs of a", |j| j.runs("a") >= 2).await;
    // A file added while running gets its status at once, and waits.
    f.write("exports/new.toml", &export(YEARLY));
    f.wait("new export idle", idle_with("new", YEARLY)).await;
    let j = f.stop().await;
    assert!(j.all().contains(&Ev::Disabled("off".into())));
    // Status files of exports deleted while down are pruned, keeping these.
    let present = ["a", "emea/bad", "off"].map(String::from).to_vec();
    assert!(j.all().contains(&Ev::Pruned(present)), "{:#?}", j.all());
    let bad = j.position(|e| matches!(e, Ev::Invalid { id, error } if id == "emea/bad" && error.starts_with("emea/bad.toml:")));
    assert!(bad.is_some(), "{:#?}", j.all());
    for id in ["off", "emea/bad", "new"] {
        assert_eq!(j.runs(id), 0, "{id} must not run");
    }
}

#[tokio::test(start_paused = true)]
async fn saved_file_takes_its_new_schedule_without_running() {
    let files = [("a.toml", export(YEARLY))];
    let f = Setup {
        files: &files,
        ..Setup::default()
    }
    .start();
    f.wait("idle", idle_with("a", YEARLY)).await;
    f.write("exports/a.toml", &export("0 0 2 1 *"));
    f.wait("new schedule", idle_with("a", "0 0 2 1 *")).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let j = f.stop().await;
    assert_eq!(j.runs("a"), 0);
    let next = j.all().into_iter().rev().find_map(|e| match e {
        Ev::Idle { next_run, .. } => next_run,
        _ => None,
    });
    assert_eq!(
        next.map(|t| t.format("%m-%d %H:%M").to_string()).as_deref(),
        Some("01-02 00:00")
    );
}

#[tokio::test(start_paused = true)]
async fn rename_save_is_followed() {
    let files = [("team/a.toml", export(YEARLY))];
    let f = Setup {
        files: &files,
        ..Setup::default()
    }
    .start();
    f.wait("idle", idle_with("team/a", YEARLY)).await;
    // What vim, VS Code and deploy tools do: write a temp file, rename it over.
    f.write("exports/team/.a.toml.tmp", &export("0 0 3 1 *"));
    std::fs::rename(
        f.dir.path().join("exports/team/.a.toml.tmp"),
        f.dir.path().join("exports/team/a.toml"),
    )
    .expect("rename");
    f.wait("new schedule", idle_with("team/a", "0 0 3 1 *"))
        .await;
    let j = f.stop().await;
    assert_eq!(j.runs("team/a"), 0);
}

#[tokio::test(start_paused = true)]
async fn invalid_file_is_not_run_while_others_go_on() {
    let files = [
        ("a.toml", export(EVERY_SECOND)),
        ("b.toml", export(EVERY_SECOND)),
    ];
    let f = Setup {
        files: &files,
        ..Setup::default()
    }
    .start();
    f.wait("runs of a", |j| j.runs("a") >= 1).await;
    f.write("exports/a.toml", "connection = \"prod\"\nlst_id = 1\n");
    f.wait("invalid a", |j| {
        j.count(|e| matches!(e, Ev::Invalid { id, .. } if id == "a")) > 0
    })
    .await;
    let b_then = f.j.runs("b");
    f.wait("b keeps running", |j| j.runs("b") >= b_then + 2)
        .await;
    let j = f.stop().await;
    let invalid = j
        .position(|e| matches!(e, Ev::Invalid { id, .. } if id == "a"))
        .expect("invalid");
    let events = j.all();
    match &events[invalid] {
        Ev::Invalid { error, .. } => assert!(error.starts_with("a.toml:2:1: "), "{error}"),
        other => panic!("{other:?}"),
    }
    assert!(
        !events[invalid..].contains(&Ev::Run("a".into())),
        "{events:#?}"
    );
}

#[tokio::test(start_paused = true)]
async fn deleted_file_removes_its_status_and_never_runs_again() {
    let files = [
        ("a.toml", export(EVERY_SECOND)),
        ("b.toml", export(EVERY_SECOND)),
    ];
    let f = Setup {
        files: &files,
        ..Setup::default()
    }
    .start();
    f.wait("runs of a", |j| j.runs("a") >= 1).await;
    std::fs::remove_file(f.dir.path().join("exports/a.toml")).expect("rm");
    f.wait("removed", |j| j.all().contains(&Ev::Removed("a".into())))
        .await;
    let b_then = f.j.runs("b");
    f.wait("b keeps running", |j| j.runs("b") >= b_then + 2)
        .await;
    let j = f.stop().await;
    let removed = j
        .position(|e| *e == Ev::Removed("a".into()))
        .expect("removed");
    assert!(!j.all()[removed..].contains(&Ev::Run("a".into())));
}

#[tokio::test(start_paused = true)]
async fn tick_during_a_run_is_skipped() {
    let files = [("a.toml", export(EVERY_SECOND))];
    let f = Setup {
        files: &files,
        delay: Duration::from_millis(1600),
        ..Setup::default()
    }
    .start();
    f.wait("two finished runs", |j| {
        j.count(|e| *e == Ev::RunEnd("a".into())) >= 2
    })
    .await;
    let j = f.stop().await;
    assert_eq!(j.max_active.load(Ordering::SeqCst), 1, "{:#?}", j.all());
}

#[tokio::test(start_paused = true)]
async fn missed_run_is_made_up_once_and_never_run_exports_wait() {
    let long_ago = base() - chrono::Duration::days(3);
    let files = [
        ("a.toml", export("0 0 * * *")),
        ("b.toml", export("0 0 * * *")),
    ];
    let f = Setup {
        files: &files,
        last_started: HashMap::from([("a".to_string(), long_ago)]),
        ..Setup::default()
    }
    .start();
    f.wait("catch-up run", |j| j.runs("a") == 1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let j = f.stop().await;
    assert_eq!(j.runs("a"), 1, "made up once, not once per missed day");
    assert_eq!(j.runs("b"), 0, "never run before: waits for midnight");
}

#[tokio::test(start_paused = true)]
async fn settings_change_reaches_exports_on_that_connection() {
    let files = [("a.toml", export(YEARLY))];
    let f = Setup {
        files: &files,
        ..Setup::default()
    }
    .start();
    f.wait("idle", idle_with("a", YEARLY)).await;
    f.write(
        "acsync.toml",
        &SETTINGS.replace("127.0.0.1:9", "127.0.0.1:10"),
    );
    let on_new_url =
        |j: &Journal| j.count(|e| matches!(e, Ev::Idle { url, .. } if url.contains(":10"))) > 0;
    f.wait("export restated with the new connection", on_new_url)
        .await;
    assert_eq!(f.stop().await.runs("a"), 0);
}

#[tokio::test(start_paused = true)]
async fn shutdown_cancels_runs_and_waits_for_them() {
    let files = [("a.toml", export(EVERY_SECOND))];
    let f = Setup {
        files: &files,
        delay: Duration::from_secs(120),
        ..Setup::default()
    }
    .start();
    f.wait("a run", |j| j.runs("a") >= 1).await;
    let j = f.stop().await;
    // Both happened before run() returned: cancelled, then finished its batch.
    assert!(j.all().contains(&Ev::Cancelled("a".into())));
    assert!(j.all().contains(&Ev::RunEnd("a".into())));
    assert_eq!(j.runs("a"), 1, "no new run once stopping");
}

#[tokio::test(start_paused = true)]
async fn shutdown_wait_is_bounded() {
    let files = [("a.toml", export(EVERY_SECOND))];
    let f = Setup {
        files: &files,
        delay: Duration::from_secs(120),
        honours_cancel: false,
        stop_grace: Duration::from_millis(500),
        ..Setup::default()
    }
    .start();
    f.wait("a run", |j| j.runs("a") >= 1).await;
    let started = std::time::Instant::now();
    let j = f.stop().await;
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(!j.all().contains(&Ev::RunEnd("a".into())));
}

#[tokio::test(start_paused = true)]
async fn exports_folder_swapped_by_symlink_is_followed() {
    let files = [("a.toml", export(YEARLY))];
    let f = Setup {
        files: &files,
        linked: true,
        ..Setup::default()
    }
    .start();
    f.wait("idle", idle_with("a", YEARLY)).await;
    // A deploy: fill v2/, then atomically re-point `exports` at it.
    f.write("v2/a.toml", &export("0 0 4 1 *"));
    f.write("v2/b.toml", &export(YEARLY));
    let link_tmp = f.dir.path().join("exports.new");
    std::os::unix::fs::symlink("v2", &link_tmp).expect("symlink");
    std::fs::rename(&link_tmp, f.dir.path().join("exports")).expect("swap");
    f.wait("a from v2", idle_with("a", "0 0 4 1 *")).await;
    f.wait("b from v2", idle_with("b", YEARLY)).await;
    // The watch now sits on v2: a later edit there is seen.
    f.write("v2/a.toml", &export("0 0 5 1 *"));
    f.wait("edit in v2", idle_with("a", "0 0 5 1 *")).await;
    let j = f.stop().await;
    assert!(
        !j.all()
            .iter()
            .any(|e| matches!(e, Ev::Idle { id, .. } if id == "c"))
    );
    assert_eq!(j.runs("a") + j.runs("b"), 0);
}

#[tokio::test(start_paused = true)]
async fn sighup_rescans_and_never_stops_the_daemon() {
    let files = [("a.toml", export(YEARLY)), ("b.toml", export(EVERY_SECOND))];
    let f = Setup {
        files: &files,
        signals: true,
        // No watcher: only the SIGHUP can reveal the change.
        watch: false,
        ..Setup::default()
    }
    .start();
    f.wait("idle", idle_with("a", YEARLY)).await;
    f.write("exports/a.toml", &export("0 0 6 1 *"));
    // SAFETY: kill(2) on our own pid with a signal the daemon now handles.
    let sent = unsafe { libc::kill(libc::getpid(), libc::SIGHUP) };
    assert_eq!(sent, 0);
    f.wait("rescan after SIGHUP", idle_with("a", "0 0 6 1 *"))
        .await;
    let b_then = f.j.runs("b");
    f.wait("still scheduling", |j| j.runs("b") > b_then).await;
    assert!(!f.task.is_finished());
    assert_eq!(f.stop().await.runs("a"), 0);
}

/// A broken `acsync.toml` saved while running leaves every export
/// running on the last good one, told to runs and idle status writes, and
/// reported to the sink; the fix clears it.
#[tokio::test(start_paused = true)]
async fn broken_settings_keep_every_export_running_until_fixed() {
    let files = [
        ("a.toml", export(EVERY_SECOND)),
        ("emea/b.toml", export(EVERY_SECOND)),
    ];
    let f = Setup {
        files: &files,
        ..Setup::default()
    }
    .start();
    f.wait("runs", |j| j.runs("a") >= 1 && j.runs("emea/b") >= 1)
        .await;
    f.write("acsync.toml", "[connections.prod\nurl = 1\n");
    f.wait("settings reported", |j| {
        j.count(|e| matches!(e, Ev::Settings(n) if *n > 0)) > 0
    })
    .await;
    f.wait("a runs, told", told_twice("a")).await;
    f.wait("emea/b runs, told", told_twice("emea/b")).await;
    f.wait("idle writes show it", |j| {
        j.count(|e| matches!(e, Ev::Idle { settings_error: Some(s), .. } if s.starts_with("acsync.toml:1:"))) > 0
    })
    .await;
    f.write("acsync.toml", SETTINGS);
    f.wait("fix reported", |j| j.all().contains(&Ev::Settings(0)))
        .await;
    let fixed = f.j.position(|e| *e == Ev::Settings(0)).expect("fixed");
    f.wait("a runs after the fix", |j| {
        j.all()[fixed..].contains(&Ev::Run("a".into()))
    })
    .await;
    f.wait("idle restated without the error", |j| {
        let cleared = |e: &Ev| {
            matches!(
                e,
                Ev::Idle {
                    settings_error: None,
                    ..
                }
            )
        };
        j.all()[fixed..].iter().any(cleared)
    })
    .await;
    check_fix(&f.stop().await.all(), fixed);
}

/// Two runs of `id` were told of the acsync.toml error.
fn told_twice(id: &'static str) -> impl Fn(&Journal) -> bool {
    move |j| {
        let told = |e: &Ev| matches!(e, Ev::RunWithSettingsError(i, err) if i == id && err.starts_with("acsync.toml:1:"));
        j.count(told) >= 2
    }
}

/// No export turned invalid, and no run after the fix (at `fixed`) was told
/// of the error.
fn check_fix(events: &[Ev], fixed: usize) {
    assert!(
        !events.iter().any(|e| matches!(e, Ev::Invalid { .. })),
        "no export became invalid: {events:#?}"
    );
    let last_told = events
        .iter()
        .rposition(|e| matches!(e, Ev::RunWithSettingsError(..)))
        .expect("told");
    let first_run_after_fix = fixed
        + events[fixed..]
            .iter()
            .position(|e| matches!(e, Ev::Run(_)))
            .expect("run after fix");
    assert!(last_told < first_run_after_fix, "{events:#?}");
}

/// At start there is no last good `acsync.toml`: a broken one leaves the
/// exports on its connection invalid (as acsync did before it kept the last good acsync.toml), reported to the
/// sink; saving the fix schedules them.
#[tokio::test(start_paused = true)]
async fn broken_settings_at_start_leave_their_exports_invalid_until_fixed() {
    let files = [("a.toml", export(EVERY_SECOND))];
    let f = Setup {
        settings: "[connections.prod\n",
        files: &files,
        ..Setup::default()
    }
    .start();
    f.wait("invalid a", |j| {
        j.count(|e| matches!(e, Ev::Invalid { id, .. } if id == "a")) > 0
    })
    .await;
    assert!(
        f.j.count(|e| matches!(e, Ev::Settings(n) if *n > 0)) == 1,
        "{:#?}",
        f.j.all()
    );
    f.write("acsync.toml", SETTINGS);
    f.wait("a runs once fixed", |j| j.runs("a") >= 1).await;
    let j = f.stop().await;
    assert!(j.all().contains(&Ev::Settings(0)), "{:#?}", j.all());
    assert!(
        !j.all()
            .iter()
            .any(|e| matches!(e, Ev::RunWithSettingsError(..))),
        "no last good file: nothing to report in status files"
    );
}
