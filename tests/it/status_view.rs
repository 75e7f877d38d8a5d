//! `acsync status` views through the real binary: the detail view
//! of one export (`status NAME`, `--json`), the notice when no daemon runs on
//! the folder (and its absence while one does), and `--wide`.

use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use crate::harness::World;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().expect("runtime")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `exports/vip.toml` in Europe/Paris, synced once in-process: three
/// contacts added, one invalid row.
fn synced_vip(rt: &tokio::runtime::Runtime) -> World {
    let w = rt.block_on(World::new());
    w.write_csv(
        "vip",
        &[
            ("ann@example.com", "Ann"),
            ("bob@example.com", "Bob"),
            ("not-an-email", "Nobody"),
            ("cy@example.com", "Cy"),
        ],
    );
    w.write_export("vip", "timezone = \"Europe/Paris\"");
    rt.block_on(w.sync("vip"));
    w
}

/// Sets the status file's `next_run` (a daemon would), keeping the rest.
fn set_next_run(w: &World, at: &str) {
    let path = w.exports().join("vip.status.json");
    let mut v = w.status_json("vip");
    v["next_run"] = serde_json::Value::String(at.into());
    std::fs::write(path, serde_json::to_vec_pretty(&v).expect("json")).expect("write");
}

/// The line of `text` that starts with `label:`, its value trimmed.
fn value<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{label}:")))
        .map(str::trim)
}

#[test]
fn status_name_shows_every_field_with_times_in_the_exports_zone() {
    let rt = runtime();
    let w = synced_vip(&rt);
    set_next_run(&w, "2026-11-30T08:00:00Z");
    let out = w.acsync(&["status", "vip"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = stdout(&out);
    assert_eq!(value(&text, "export"), Some("vip"), "{text}");
    assert_eq!(value(&text, "state"), Some("idle"));
    assert_eq!(value(&text, "schedule"), Some("@hourly (Europe/Paris)"));
    let next = value(&text, "next run").expect("next run");
    assert!(
        next.starts_with("2026-11-30 09:00 Europe/Paris (08:00 UTC)"),
        "{text}"
    );
    assert_eq!(value(&text, "outcome"), Some("success"));
    assert_eq!(value(&text, "trigger"), Some("manual"));
    assert_eq!(value(&text, "added"), Some("3"));
    assert_eq!(value(&text, "invalid rows"), Some("1"));
    assert_eq!(value(&text, "consecutive failures"), Some("0"));
    let started = value(&text, "started").expect("started");
    assert!(started.contains(" Europe/Paris (") && started.ends_with(" UTC)"));
    assert_eq!(value(&text, "failures listed (1)"), Some(""), "{text}");
    assert!(
        text.lines().any(|l| l == "  line 4: n***: invalid email"),
        "the invalid row by its file line, masked: {text}"
    );
    for label in ["config sha256", "config error", "last success", "run id"] {
        assert!(value(&text, label).is_some(), "{label} missing:\n{text}");
    }
    assert!(text.contains("no daemon is running on"), "{text}");
    // Its last runs, from the run history, in the export's zone.
    assert!(text.contains("last runs (run history;"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("  run ")
            && l.contains(" Europe/Paris (")
            && l.ends_with(": 3 added")),
        "{text}"
    );
}

#[test]
fn status_name_json_is_that_one_status_object() {
    let rt = runtime();
    let w = synced_vip(&rt);
    let out = w.acsync(&["status", "vip", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON value");
    assert_eq!(v, w.status_json("vip"));
    assert!(v.is_object());

    let out = w.acsync(&["status", "vipp"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("vipp") && err.contains("vip"), "{err}");

    w.write_export("later", "");
    let out = w.acsync(&["status", "later"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("later: no status file yet"),
        "{out:?}"
    );
}

#[test]
fn wide_stops_cutting_errors() {
    let rt = runtime();
    let w = rt.block_on(World::new());
    // No segment file: the run fails naming the (long, temporary) path.
    w.write_export("vip", "");
    rt.block_on(w.sync("vip"));
    let error = w
        .status("vip")
        .last_run
        .and_then(|r| r.error)
        .expect("error");
    assert!(error.chars().count() > 60, "{error}");
    let one_line = error.replace(['\n', '\r'], " ");

    let cut = stdout(&w.acsync(&["status"]));
    let row = cut.lines().find(|l| l.starts_with("vip ")).expect("row");
    assert!(row.ends_with('…') && !row.contains(&one_line), "{cut}");

    let wide = stdout(&w.acsync(&["status", "--wide"]));
    let row = wide.lines().find(|l| l.starts_with("vip ")).expect("row");
    assert!(row.ends_with(&one_line), "{wide}");
    assert!(!row.contains('…'));
}

fn notice(w: &World) -> bool {
    stdout(&w.acsync(&["status"])).contains(&format!(
        "no daemon is running on {}: next runs will not happen",
        w.root().display()
    ))
}

fn wait_for(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn table_says_when_no_daemon_runs_on_the_folder() {
    let rt = runtime();
    let w = synced_vip(&rt);
    assert!(notice(&w), "no daemon yet");

    let mut daemon = w.spawn_daemon();
    let seen = wait_for(Duration::from_secs(20), || !notice(&w));
    let table = stdout(&w.acsync(&["status"]));
    let still = daemon.try_wait().expect("try_wait").is_none();
    let _ = daemon.kill();
    let _ = daemon.wait();
    assert!(still, "the daemon exited early");
    assert!(seen, "the notice stays while a daemon runs");
    assert!(
        table.starts_with("EXPORT") && !table.contains("daemon"),
        "{table}"
    );

    // Killed: the kernel released its lock.
    assert!(notice(&w), "a dead daemon is not running");
}

/// Waits up to `within` for `child` to exit; kills it if it does not.
fn exit_within(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let exited = wait_for(within, || child.try_wait().ok().flatten().is_some());
    if !exited {
        let _ = child.kill();
        let _ = child.wait();
        return None;
    }
    child.try_wait().ok().flatten()
}

#[test]
fn a_broken_acsync_toml_hides_neither_the_daemon_nor_its_lock() {
    let rt = runtime();
    let w = synced_vip(&rt);
    let mut daemon = w.spawn_daemon();
    assert!(
        wait_for(Duration::from_secs(20), || !notice(&w)),
        "the daemon is seen"
    );
    // Broken once the daemon has loaded it (it gives the export a next run):
    // it then keeps running on the last good file.
    assert!(
        wait_for(Duration::from_secs(20), || {
            !w.status_json("vip")["next_run"].is_null()
        }),
        "the daemon took the export up"
    );
    std::fs::write(
        w.root().join("acsync.toml"),
        "[daemon\nstate_dir = \"state\"\n",
    )
    .expect("break");

    let table = stdout(&w.acsync(&["status"]));
    assert!(!table.contains("no daemon is running"), "{table}");

    let mut second = w
        .command(&["daemon"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn second daemon");
    let refused = exit_within(&mut second, Duration::from_secs(10));
    let mut err = String::new();
    if let Some(mut pipe) = second.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut pipe, &mut err);
    }
    let still = daemon.try_wait().expect("try_wait").is_none();
    let _ = daemon.kill();
    let _ = daemon.wait();
    assert!(still, "the first daemon exited");
    assert_eq!(
        refused.and_then(|s| s.code()),
        Some(1),
        "a second daemon ran: {err}"
    );
    assert!(err.contains("another acsync daemon is running on"), "{err}");
    assert_ne!(
        w.status_json("vip")["state"],
        "invalid",
        "the second daemon wrote"
    );
}

/// An idle export run on the last good acsync.toml carries that file's
/// error: the table's ERROR column shows it, whatever the state.
#[test]
fn the_table_shows_a_config_error_whatever_the_state() {
    let rt = runtime();
    let w = synced_vip(&rt);
    let path = w.exports().join("vip.status.json");
    let mut v = w.status_json("vip");
    assert_eq!(v["state"], "idle");
    v["config_error"] = "acsync.toml:3:1: expected `]`".into();
    std::fs::write(path, serde_json::to_vec_pretty(&v).expect("json")).expect("write");

    let table = stdout(&w.acsync(&["status", "--wide"]));
    let row = table.lines().find(|l| l.starts_with("vip ")).expect("row");
    assert!(row.contains(" idle "), "{table}");
    assert!(row.ends_with("acsync.toml:3:1: expected `]`"), "{table}");
}

/// Nothing from the data reaches a terminal raw: a name and an address
/// holding escape sequences and a line break are shown escaped by
/// `status NAME`, `history` and `plan`.
#[test]
fn values_from_the_data_are_escaped_on_the_terminal() {
    let rt = runtime();
    let w = rt.block_on(World::new());
    w.write_csv(
        "vip",
        &[
            ("ann@example.com", "Ann\u{1b}[31mRed"),
            ("bad@@ex\u{1b}[2Jample.com", "X"),
        ],
    );
    w.write_export("vip", "");
    rt.block_on(w.sync("vip"));

    let status = stdout(&w.acsync(&["status", "vip"]));
    assert!(
        status.contains("b***@ex\\u{1b}[2jample.com: invalid email"),
        "{status}"
    );
    let history = stdout(&w.acsync(&["history", "vip", "--run", "1"]));
    assert!(
        history.contains("first_name=Ann\\u{1b}[31mRed"),
        "{history}"
    );

    // A quoted line break in a new name: one line of the plan, escaped.
    let csv = "email,first_name,last_name\nann@example.com,\"Ann\nFake: line\",Last\n";
    std::fs::write(w.root().join("segments/vip.csv"), csv).expect("csv");
    let plan = stdout(&w.acsync(&["plan", "vip"]));
    assert!(plan.contains("\"Ann\\nFake: line\""), "{plan}");

    for (what, text) in [("status", &status), ("history", &history), ("plan", &plan)] {
        assert!(
            !text.contains('\u{1b}'),
            "{what} printed a raw escape: {text:?}"
        );
        assert!(
            !text.lines().any(|l| l.starts_with("Fake")),
            "{what}: {text}"
        );
    }
}
