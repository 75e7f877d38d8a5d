//! `acsync daemon` as a real process against the simulator (
//! acceptance): readiness on a NOTIFY_SOCKET the test owns, scheduled runs,
//! edits, invalid and deleted files, rename-saves, SIGHUP, SIGTERM during a
//! long sync, and `acsync sync` refused while the daemon runs the export.

use std::os::unix::net::UnixDatagram;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use acsync::simulator::SimConfig;

use crate::harness::{World, emails};

const EVERY_2S: &str = "*/2 * * * * *";

/// A running daemon and the notify socket it reports to.
struct Daemon {
    child: Child,
    notify: UnixDatagram,
    dir: tempfile::TempDir,
}

impl Daemon {
    fn start(w: &World) -> Daemon {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("notify.sock");
        let notify = UnixDatagram::bind(&sock).expect("bind notify socket");
        notify
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let log = std::fs::File::create(dir.path().join("daemon.log")).expect("log file");
        let child = w
            .command(&["daemon"])
            .env("NOTIFY_SOCKET", &sock)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn daemon");
        Daemon { child, notify, dir }
    }

    /// Waits for a notify line starting with `prefix`.
    fn expect_notify_starting(&self, prefix: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            if let Ok(n) = self.notify.recv(&mut buf)
                && String::from_utf8_lossy(&buf[..n])
                    .lines()
                    .any(|l| l.starts_with(prefix))
            {
                return true;
            }
        }
        false
    }

    /// Waits for a notify message containing `needle`.
    fn expect_notify(&self, needle: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            if let Ok(n) = self.notify.recv(&mut buf)
                && String::from_utf8_lossy(&buf[..n])
                    .lines()
                    .any(|l| l == needle)
            {
                return true;
            }
        }
        false
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
    }

    /// The daemon's log so far (shown when an assertion fails).
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    /// SIGTERM, then the exit code and how long it took.
    fn stop(mut self) -> (Option<i32>, Duration) {
        let t = Instant::now();
        self.signal(libc::SIGTERM);
        // Generous: the 30 s bound is asserted where it is the subject.
        let deadline = t + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return (status.code(), t.elapsed());
            }
            if Instant::now() > deadline {
                eprintln!("daemon did not stop; its log:\n{}", self.log());
                let _ = self.child.kill();
                return (None, t.elapsed());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_until(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().expect("runtime")
}

fn last_started(w: &World, name: &str) -> Option<String> {
    let path = w.exports().join(format!("{name}.status.json"));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    v["last_run"]["finished_at"].as_str()?;
    v["last_run"]["started_at"].as_str().map(str::to_string)
}

fn status_field(w: &World, name: &str, field: &str) -> Option<String> {
    status_json(w, name)?[field].as_str().map(str::to_string)
}

/// An export file with its own schedule line.
fn write_scheduled(w: &World, name: &str, cron: &str) {
    w.write_export(name, "");
    let path = w.exports().join(format!("{name}.toml"));
    let text = std::fs::read_to_string(&path).expect("export");
    std::fs::write(
        &path,
        text.replace("schedule = \"@hourly\"", &format!("schedule = \"{cron}\"")),
    )
    .expect("write");
}

#[test]
fn ready_runs_on_schedule_and_follows_segment_edits() {
    let rt = runtime();
    let w = rt.block_on(World::new());
    let mut people = World::people(0..20);
    w.write_people("vip", &people);
    w.write_people("news", &World::people(100..112));
    write_scheduled(&w, "vip", EVERY_2S);
    write_scheduled(&w, "news", EVERY_2S);
    let d = Daemon::start(&w);
    assert!(
        d.expect_notify("READY=1", Duration::from_secs(15)),
        "READY=1 on NOTIFY_SOCKET"
    );
    assert!(wait_until(Duration::from_secs(20), || last_started(
        &w, "vip"
    )
    .is_some()
        && last_started(&w, "news").is_some()));
    assert_eq!(w.status_json("vip")["last_run"]["trigger"], "schedule");
    assert!(wait_until(Duration::from_secs(10), || w.active().len() == 32));

    people.push(("joined@example.com".into(), "Joined".into()));
    w.write_people("vip", &people);
    assert!(
        wait_until(Duration::from_secs(20), || w
            .active()
            .contains(&"joined@example.com".to_string())),
        "the edited segment reaches the list by the next run"
    );
    let (code, took) = d.stop();
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(30));
}

#[test]
fn schedule_edit_takes_effect_without_running_and_new_file_waits() {
    let rt = runtime();
    let w = rt.block_on(World::new());
    w.write_people("vip", &World::people(0..12));
    write_scheduled(&w, "vip", EVERY_2S);
    let d = Daemon::start(&w);
    assert!(wait_until(Duration::from_secs(20), || last_started(
        &w, "vip"
    )
    .is_some()));
    // Yearly: the next run moves to 1 January, and no run happens now.
    write_scheduled(&w, "vip", "0 0 1 1 *");
    assert!(wait_until(Duration::from_secs(10), || {
        status_field(&w, "vip", "next_run").is_some_and(|t| t.contains("-01-01T"))
    }));
    let started = last_started(&w, "vip");
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        last_started(&w, "vip"),
        started,
        "saving a file does not run it"
    );

    // A new export gets its status at once (idle, next_run) but no run.
    w.write_people("later", &World::people(50..60));
    write_scheduled(&w, "later", "0 0 1 1 *");
    assert!(wait_until(Duration::from_secs(10), || status_field(
        &w, "later", "state"
    )
    .as_deref()
        == Some("idle")));
    assert!(status_field(&w, "later", "next_run").is_some());
    assert!(w.status_json("later")["last_run"].is_null());
    assert_eq!(d.stop().0, Some(0));
}

/// `vip` (12 people) and `news` (12 others, on a list of its own, returned)
/// every 2 s.
fn vip_and_news(w: &World) -> u64 {
    let news_list = w.sim.add_list("News");
    w.write_people("vip", &World::people(0..12));
    w.write_people("news", &World::people(100..112));
    write_scheduled(w, "vip", EVERY_2S);
    write_scheduled(w, "news", EVERY_2S);
    let news = w.exports().join("news.toml");
    let text = std::fs::read_to_string(&news).expect("news");
    std::fs::write(
        &news,
        text.replace(
            &format!("list_id = {}", w.list),
            &format!("list_id = {news_list}"),
        ),
    )
    .expect("news list");
    news_list
}

#[test]
fn invalid_file_is_reported_while_another_keeps_syncing_and_deleted_file_leaves() {
    let rt = runtime();
    let w = rt.block_on(World::new());
    let news_list = vip_and_news(&w);
    let d = Daemon::start(&w);
    let news_active = || w.sim.active_emails(news_list).len();
    assert!(
        wait_until(Duration::from_secs(30), || w.active().len() == 12
            && news_active() == 12),
        "both exports synced; vip: {}\nnews: {}\ndaemon log:\n{}",
        w.status_json("vip"),
        w.status_json("news"),
        d.log()
    );

    std::fs::write(
        w.exports().join("vip.toml"),
        "connection = \"sim\"\nlst_id = 3\n",
    )
    .expect("break");
    assert!(wait_until(Duration::from_secs(10), || status_field(
        &w, "vip", "state"
    )
    .as_deref()
        == Some("invalid")));
    let err = status_field(&w, "vip", "config_error").unwrap_or_default();
    assert!(
        err.starts_with("vip.toml:2:1: unknown key `lst_id`"),
        "{err}"
    );
    let before = last_started(&w, "news");
    assert!(
        wait_until(Duration::from_secs(10), || last_started(&w, "news")
            != before),
        "the other export keeps syncing"
    );

    std::fs::remove_file(w.exports().join("news.toml")).expect("delete");
    assert!(wait_until(Duration::from_secs(10), || !w
        .exports()
        .join("news.status.json")
        .exists()));
    assert_eq!(
        (w.active().len(), news_active()),
        (12, 12),
        "deleting an export or breaking its file touches no contact; daemon log:\n{}",
        d.log()
    );
    assert_eq!(d.stop().0, Some(0));
}

#[test]
fn rename_save_and_sighup_are_followed() {
    let rt = runtime();
    let w = rt.block_on(World::new());
    w.write_people("vip", &World::people(0..12));
    write_scheduled(&w, "vip", "0 0 1 1 *");
    let d = Daemon::start(&w);
    assert!(d.expect_notify("READY=1", Duration::from_secs(15)));
    assert!(wait_until(Duration::from_secs(10), || status_field(
        &w, "vip", "next_run"
    )
    .is_some_and(|t| t.contains("-01-01T"))));

    // An editor's atomic save: write a temp file, rename it over the export.
    let text = std::fs::read_to_string(w.exports().join("vip.toml")).expect("read");
    let tmp = w.exports().join(".vip.toml.swp");
    std::fs::write(&tmp, text.replace("0 0 1 1 *", "0 0 1 6 *")).expect("tmp");
    std::fs::rename(&tmp, w.exports().join("vip.toml")).expect("rename");
    assert!(wait_until(Duration::from_secs(10), || status_field(
        &w, "vip", "next_run"
    )
    .is_some_and(|t| t.contains("-06-01T"))));

    d.signal(libc::SIGHUP);
    assert!(
        d.expect_notify("RELOADING=1", Duration::from_secs(10)),
        "SIGHUP rescans"
    );
    assert!(d.expect_notify("READY=1", Duration::from_secs(10)));
    // A SIGHUP that changes nothing is still acknowledged.
    assert!(
        wait_until(Duration::from_secs(5), || d
            .log()
            .contains("configuration reloaded: no change")),
        "{}",
        d.log()
    );
    assert_eq!(d.stop().0, Some(0), "SIGHUP never stops the daemon");
}

#[test]
fn sigterm_during_a_long_sync_exits_0_and_sync_is_refused_while_running() {
    let rt = runtime();
    // The real per-account limit makes a 3,000-profile run take a while.
    let cfg = SimConfig {
        requests_per_second: 5,
        info_false_for: Duration::from_millis(500),
        import_duration: Duration::from_millis(500),
        ..SimConfig::default()
    };
    let w = rt.block_on(World::with(cfg));
    w.write_settings(5);
    let people = World::people(0..3000);
    w.write_people("vip", &people);
    write_scheduled(&w, "vip", EVERY_2S);
    let d = Daemon::start(&w);
    assert!(wait_until(Duration::from_secs(20), || status_field(
        &w, "vip", "state"
    )
    .as_deref()
        == Some("running")));

    let out = w.acsync(&["sync", "vip"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("already running"), "{stderr}");

    let (code, took) = d.stop();
    assert_eq!(code, Some(0), "SIGTERM exits 0");
    assert!(took < Duration::from_secs(30), "within 30 s: {took:?}");
    let status = w.status_json("vip");
    assert_ne!(
        status["state"], "running",
        "the stopped run is recorded: {status}"
    );

    let out = w.acsync(&["sync", "vip"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(w.active(), emails(&people), "the next run converges");
    assert!(w.sim.duplicate_emails().is_empty());
}

#[test]
fn logs_are_journald_text_without_timestamps_or_json_with_one_line_per_run() {
    let rt = runtime();
    let w = rt.block_on(World::new());
    w.write_people("vip", &World::people(0..12));
    w.write_export("vip", "");
    let out = w
        .command(&["sync", "vip"])
        .env("JOURNAL_STREAM", "8:1234")
        .env("RUST_LOG", "info")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.contains("run finished"))
        .expect("one line per run");
    assert!(
        line.starts_with(" INFO") || line.starts_with("INFO"),
        "no timestamp under journald: {line}"
    );
    for field in ["export=vip", "outcome=success", "added=12", "api_requests="] {
        assert!(line.contains(field), "{field} in {line}");
    }

    let settings = std::fs::read_to_string(w.root().join("acsync.toml")).expect("settings");
    std::fs::write(
        w.root().join("acsync.toml"),
        settings.replace("[daemon]\n", "[daemon]\nlog_format = \"json\"\n"),
    )
    .expect("json");
    let out = w
        .command(&["sync", "vip"])
        .env("RUST_LOG", "info")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let run: serde_json::Value = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message"] == "run finished")
        .expect("a JSON line per run");
    assert_eq!(
        (run["export"].as_str(), run["unchanged"].as_u64()),
        (Some("vip"), Some(12))
    );
    assert!(!stderr.contains("sim-key"));
}

#[test]
fn an_unread_notify_socket_never_stalls_the_daemon() {
    let rt = runtime();
    let w = rt.block_on(World::new());
    w.write_people("vip", &World::people(0..12));
    write_scheduled(&w, "vip", "0 0 1 1 *");
    let d = Daemon::start(&w);
    // Never read: a datagram socket queues ~10 messages, then a blocking
    // sender would hang. Each SIGHUP sends RELOADING=1 and READY=1.
    std::thread::sleep(Duration::from_secs(2));
    for _ in 0..15 {
        d.signal(libc::SIGHUP);
        std::thread::sleep(Duration::from_millis(150));
    }
    let (code, took) = d.stop();
    assert_eq!(
        code,
        Some(0),
        "SIGTERM is handled (the log is printed above on a hang)"
    );
    assert!(took < Duration::from_secs(10), "stopped in {took:?}");
}

/// Moves `exports/NAME.toml` to `exports/emea/NAME.toml` (its segment path
/// follows), so that its export id is `emea/NAME`.
fn move_to_emea(w: &World, name: &str) {
    let from = w.exports().join(format!("{name}.toml"));
    let text = std::fs::read_to_string(&from).expect("export");
    std::fs::create_dir_all(w.exports().join("emea")).expect("mkdir");
    std::fs::write(
        w.exports().join(format!("emea/{name}.toml")),
        text.replace("../segments/", "../../segments/"),
    )
    .expect("write");
    std::fs::remove_file(from).expect("move");
}

/// JSON log lines at ERROR whose `error` names acsync.toml with a line and column.
fn settings_errors_logged(log: &str) -> Vec<serde_json::Value> {
    let located = |e: &str| {
        e.split_once("acsync.toml:").is_some_and(|(_, rest)| {
            let mut parts = rest.splitn(3, ':');
            let num = |p: Option<&str>| p.is_some_and(|n| n.parse::<u32>().is_ok());
            num(parts.next()) && num(parts.next())
        })
    };
    log.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["level"] == "ERROR" && v["error"].as_str().is_some_and(located))
        .collect()
}

/// `vip` and `emea/news` (on its own list) every 2 s, JSON logs; returns
/// the text of the valid acsync.toml.
fn two_exports_with_json_logs(w: &World) -> String {
    let settings = w.root().join("acsync.toml");
    let good = std::fs::read_to_string(&settings)
        .expect("settings")
        .replace("[daemon]\n", "[daemon]\nlog_format = \"json\"\n");
    std::fs::write(&settings, &good).expect("json logs");
    vip_and_news(w);
    move_to_emea(w, "news");
    good
}

/// Whether every export in `ids` started a run since `before` (their last
/// finished runs' starts then) and `ok` holds for it.
fn ran_since(
    w: &World,
    ids: &[&str],
    before: &[Option<String>],
    ok: impl Fn(&str) -> bool,
) -> bool {
    ids.iter().zip(before).all(|(id, b)| {
        let now = last_started(w, id);
        now.is_some() && now != *b && ok(id)
    })
}

/// A syntax error saved into acsync.toml while the daemon runs
/// leaves every export running on the last good file, each status file and
/// the JSON log (at ERROR) name `acsync.toml:LINE:COL`, and the fix clears it.
#[test]
fn broken_acsync_toml_keeps_every_export_running_until_fixed() {
    let rt = runtime();
    let w = rt.block_on(World::new());
    let good = two_exports_with_json_logs(&w);
    let settings = w.root().join("acsync.toml");
    let ids = ["vip", "emea/news"];
    let d = Daemon::start(&w);
    let all_ran = || ids.iter().all(|id| last_started(&w, id).is_some());
    assert!(wait_until(Duration::from_secs(30), all_ran), "{}", d.log());

    std::fs::write(
        &settings,
        good.replace("[connections.sim]", "[connections.sim"),
    )
    .expect("break");
    let before: Vec<Option<String>> = ids.iter().map(|id| last_started(&w, id)).collect();
    // Each finished run succeeded on the last good connection, and the file
    // names the acsync.toml error while the export is not invalid.
    let reported = |id: &str| {
        let s = w.status_json(id);
        s["last_run"]["outcome"] == "success"
            && s["state"] != "invalid"
            && s["config_error"]
                .as_str()
                .is_some_and(|e| e.starts_with("acsync.toml:"))
    };
    assert!(
        wait_until(Duration::from_secs(30), || ran_since(
            &w, &ids, &before, reported
        )),
        "both exports run on and report the error; vip: {}\nnews: {}\nlog:\n{}",
        w.status_json("vip"),
        w.status_json("emea/news"),
        d.log()
    );
    assert!(!settings_errors_logged(&d.log()).is_empty(), "{}", d.log());
    let note = "STATUS=acsync.toml has errors, the last valid one is in use; ";
    assert!(d.expect_notify_starting(note, Duration::from_secs(10)));

    std::fs::write(&settings, &good).expect("fix");
    let after_fix: Vec<Option<String>> = ids.iter().map(|id| last_started(&w, id)).collect();
    let cleared = |id: &str| status_field(&w, id, "config_error").is_none();
    assert!(
        wait_until(Duration::from_secs(30), || ran_since(
            &w, &ids, &after_fix, cleared
        )),
        "the fix clears the error; vip: {}\nlog:\n{}",
        w.status_json("vip"),
        d.log()
    );
    let fixed = d.log();
    assert!(
        fixed.contains("acsync.toml is valid again"),
        "the fix is logged: {fixed}"
    );
    assert_eq!(d.stop().0, Some(0));
}

/// A key rotated in the account and written to the key file, then SIGHUP:
/// the daemon says the key changed (never the key) and its next run uses
/// it, without a restart (docs/configuration.md, secrets).
#[test]
fn a_rotated_key_is_taken_on_sighup_without_a_restart() {
    let rt = runtime();
    let w = rt.block_on(World::new());
    w.write_people("vip", &World::people(0..5));
    write_scheduled(&w, "vip", EVERY_2S);
    let d = Daemon::start(&w);
    assert!(d.expect_notify("READY=1", Duration::from_secs(15)));
    let outcome = || status_json(&w, "vip").map(|v| v["last_run"]["outcome"].clone());
    assert!(
        wait_until(Duration::from_secs(20), || outcome()
            == Some(serde_json::json!("success"))),
        "{}",
        d.log()
    );

    const NEW: &str = "rotated-0123-key";
    w.sim.rotate_api_key(NEW);
    std::fs::write(w.root().join("sim.key"), NEW).expect("key");
    d.signal(libc::SIGHUP);
    assert!(
        wait_until(Duration::from_secs(10), || d
            .log()
            .contains("api key of connection `sim` changed")),
        "{}",
        d.log()
    );
    let rotated_at = chrono::Utc::now();
    let ok_since = || {
        status_json(&w, "vip").is_some_and(|v| {
            let started = v["last_run"]["started_at"].as_str().unwrap_or_default();
            v["last_run"]["outcome"] == "success"
                && chrono::DateTime::parse_from_rfc3339(started).is_ok_and(|t| t > rotated_at)
        })
    };
    assert!(wait_until(Duration::from_secs(20), ok_since), "{}", d.log());
    assert!(!d.log().contains(NEW), "the key is never logged");
    assert_eq!(d.stop().0, Some(0));
}

fn status_json(w: &World, name: &str) -> Option<serde_json::Value> {
    let path = w.exports().join(format!("{name}.status.json"));
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}
