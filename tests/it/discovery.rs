//! Export discovery through the real binary: symbolic
//! link loops, two paths to one file, names that are not UTF-8 or too long
//! for a status or lock file, and misnamed files, as `acsync check` and the
//! daemon see them.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::bin;

/// A connection nobody listens on: these tests never reach a run.
const SETTINGS: &str = "[daemon]\nstate_dir = \"state\"\n\n[connections.prod]\nurl = \"http://127.0.0.1:9\"\napi_key_env = \"AC_KEY\"\naccept_data_transfer = true\n";

/// A valid export that runs once a year.
pub const EXPORT: &str = "connection = \"prod\"\nlist_id = 1\nschedule = \"0 0 1 1 *\"\n\n[source]\nkind = \"csv\"\npath = \"x.csv\"\n\n[mapping]\nemail = \"email\"\n";

/// A config folder with `acsync.toml` = `settings` and an empty `exports/`.
pub fn config(settings: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("acsync.toml"), settings).expect("settings");
    let exports = dir.path().join("exports");
    std::fs::create_dir_all(&exports).expect("exports");
    (dir, exports)
}

pub fn check(dir: &Path, extra: &[&str]) -> Output {
    Command::new(bin())
        .arg("check")
        .arg("--config-dir")
        .arg(dir)
        .args(extra)
        .env_remove("ACSYNC_CONFIG_DIR")
        .output()
        .expect("run check")
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Starts `acsync daemon` on `dir`, waits for its `started` line, stops it
/// with SIGTERM and returns everything it logged.
pub fn daemon_log(dir: &Path) -> String {
    let log = dir.join("daemon.log");
    let file = std::fs::File::create(&log).expect("log file");
    let mut child = Command::new(bin())
        .arg("daemon")
        .arg("--config-dir")
        .arg(dir)
        .env_remove("ACSYNC_CONFIG_DIR")
        .env_remove("NOTIFY_SOCKET")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .expect("spawn daemon");
    let deadline = Instant::now() + Duration::from_secs(20);
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    while Instant::now() < deadline && !read().contains("started") {
        std::thread::sleep(Duration::from_millis(100));
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let stop = Instant::now() + Duration::from_secs(20);
    while Instant::now() < stop && matches!(child.try_wait(), Ok(None)) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let out = read();
    assert!(out.contains("started"), "the daemon never started:\n{out}");
    out
}

/// Every misnamed or unusable export file in one folder, next to a valid `vip`.
fn hostile_tree() -> (tempfile::TempDir, PathBuf) {
    let (dir, exports) = config(SETTINGS);
    std::fs::create_dir(exports.join("emea")).expect("mkdir");
    std::fs::write(exports.join("vip.toml"), EXPORT).expect("vip");
    std::fs::write(exports.join("emea/news.toml"), EXPORT).expect("news");
    symlink(".", exports.join("dirloop")).expect("dir loop");
    symlink("selfloop.toml", exports.join("selfloop.toml")).expect("file loop");
    symlink("emea/news.toml", exports.join("alias.toml")).expect("alias");
    std::fs::write(exports.join(OsStr::from_bytes(b"caf\xe9.toml")), EXPORT).expect("latin1");
    std::fs::write(exports.join(format!("{}.toml", "漢".repeat(30))), EXPORT).expect("cjk");
    std::fs::write(exports.join(format!("{}.toml", "n".repeat(245))), EXPORT).expect("long");
    for name in ["old.TOML", "b.tml", "c.yaml", "d.yml", "e.json"] {
        std::fs::write(exports.join(name), EXPORT).expect("misnamed");
    }
    std::fs::write(exports.join("vip.status.json"), "{}").expect("status");
    (dir, exports)
}

/// The stdout line about `needle`'s file, if any.
fn line_for<'a>(out: &'a str, exports: &Path, file: &str) -> Option<&'a str> {
    let prefix = format!("{}/{file}:1:1: ", exports.display());
    out.lines().find(|l| l.starts_with(&prefix))
}

#[test]
fn check_reports_each_discovery_problem_once_and_located() {
    let (dir, exports) = hostile_tree();
    let out = check(dir.path(), &[]);
    let all = text(&out);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{all}");
    let expect = |file: &str, needle: &str| {
        let line =
            line_for(&stdout, &exports, file).unwrap_or_else(|| panic!("no {file} in\n{all}"));
        assert!(line.contains(needle), "{line}");
    };
    expect("dirloop", "symbolic link loop: this folder link points to");
    expect(
        "selfloop.toml",
        "symbolic link loop: the link never reaches a file",
    );
    expect("alias.toml", "emea/news.toml are the same file");
    expect("emea/news.toml", "alias.toml and");
    expect("caf\u{FFFD}.toml", "the file name is not valid UTF-8");
    expect(
        &format!("{}.toml", "漢".repeat(30)),
        "its lock file name would be 275 bytes",
    );
    expect(
        &format!("{}.toml", "n".repeat(245)),
        "its status file needs a name of 269 bytes",
    );
    // Never N copies: vip is seen once, through no other path.
    assert_eq!(
        stdout.matches("vip.toml").count(),
        0,
        "vip is valid:\n{all}"
    );
    assert!(!all.contains("dirloop/"), "{all}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for name in ["old.TOML", "b.tml", "c.yaml", "d.yml", "e.json"] {
        let prefix = format!(
            "acsync check: warning: {}/{name}:1:1: not read",
            exports.display()
        );
        assert!(
            stderr.lines().any(|l| l.starts_with(&prefix)),
            "{name}:\n{stderr}"
        );
    }
    assert!(!stderr.contains("vip.status.json"), "{stderr}");
    assert!(stderr.contains("rename it to old.toml"), "{stderr}");
}

#[test]
fn github_format_turns_misnamed_files_into_warning_annotations() {
    let (dir, exports) = config(SETTINGS);
    std::fs::write(exports.join("vip.TOML"), EXPORT).expect("misnamed");
    let out = check(dir.path(), &["--format", "github"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with(&format!(
            "::warning file={}/vip.TOML,line=1,col=1,",
            exports.display()
        )),
        "{stdout}"
    );
}

#[test]
fn the_daemon_applies_the_same_rules_and_logs_each_problem() {
    let (dir, exports) = hostile_tree();
    let log = daemon_log(dir.path());
    for needle in [
        "dirloop:1:1: symbolic link loop",
        "old.TOML:1:1: not read",
        "c.yaml:1:1: not read",
        "e.json:1:1: not read",
    ] {
        assert!(log.contains(needle), "{needle} not logged:\n{log}");
    }
    // One status file per export, none through the loop.
    let status = |id: &str| exports.join(format!("{id}.status.json"));
    assert!(
        status("emea/news").exists() && status("vip").exists(),
        "{log}"
    );
    let read = |id: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(status(id)).expect("read")).expect("json")
    };
    // The file `dirloop/vip.status.json` is this one: it must still be vip's.
    assert_eq!(read("vip")["export"], "vip", "{log}");
    assert!(!log.contains("export=dirloop/"), "{log}");
    let news = read("emea/news");
    assert_eq!(news["state"], "invalid", "{news}");
    let err = news["config_error"].as_str().unwrap_or_default();
    assert!(err.contains("are the same file"), "{err}");
    assert!(
        log.contains("symbolic link loop: the link never reaches a file"),
        "{log}"
    );
}
