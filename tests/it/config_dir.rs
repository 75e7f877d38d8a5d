//! Integration tests: which configuration folder a command uses (see
//! docs/configuration.md, "Which folder"). Without `--config-dir` and
//! `ACSYNC_CONFIG_DIR`, the current folder when it holds an `acsync.toml`,
//! else `/etc/acsync` when it exists; otherwise every command fails, naming
//! the folder it tried and how to choose one. Every command names the
//! folder it used on stderr.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::bin;

/// `acsync ARGS` run inside `dir`, with no folder chosen by the environment;
/// killed after 30 s (a daemon that starts on a missing folder never ends).
fn acsync_in(dir: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(bin())
        .args(args)
        .current_dir(dir)
        .env_remove("ACSYNC_CONFIG_DIR")
        .env_remove("RUST_LOG")
        .env("OP_KEY", "not-a-real-key")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run acsync");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    child.wait_with_output().expect("output")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A folder made by `acsync init` (export `newsletter`), its connection on
/// a port where nothing listens.
fn init_folder(root: &Path) -> std::path::PathBuf {
    let dir = root.join("mysync");
    let out = Command::new(bin())
        .args(["init", "--url", "http://127.0.0.1:9", "--key-env", "OP_KEY"])
        .arg(&dir)
        .output()
        .expect("run acsync init");
    assert!(out.status.success(), "{:?}", text(&out));
    dir
}

#[test]
fn the_current_folder_is_used_when_it_holds_acsync_toml() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = init_folder(tmp.path());

    let check = acsync_in(&dir, &["check"]);
    let (stdout, stderr) = text(&check);
    assert_eq!(check.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stderr.contains("configuration folder"), "{stderr}");
    assert!(stderr.contains("acsync.toml"), "says why: {stderr}");

    let status = acsync_in(&dir, &["status"]);
    let (stdout, stderr) = text(&status);
    assert!(
        stdout.contains("newsletter"),
        "the folder's export: {stdout}{stderr}"
    );
    assert!(!stdout.contains("/etc/acsync"), "{stdout}");
}

#[test]
fn no_folder_found_fails_every_command_naming_the_folder_and_the_choices() {
    if Path::new("/etc/acsync").exists() {
        eprintln!("skipped: /etc/acsync exists on this machine, so it is the default folder");
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let commands: [&[&str]; 5] = [
        &["status"],
        &["sync", "customers"],
        &["doctor"],
        &["plan", "customers", "--detailed-exitcode"],
        &["daemon"],
    ];
    for args in commands {
        let out = acsync_in(tmp.path(), args);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stdout}{stderr}");
        assert!(stdout.is_empty(), "{args:?}: no empty success: {stdout}");
        for needle in [
            "/etc/acsync",
            "--config-dir",
            "ACSYNC_CONFIG_DIR",
            "acsync.toml",
        ] {
            assert!(stderr.contains(needle), "{args:?} names {needle}: {stderr}");
        }
    }
    assert!(
        std::fs::read_dir(tmp.path()).expect("ls").next().is_none(),
        "nothing was created"
    );
}

#[test]
fn a_config_dir_that_does_not_exist_is_refused_by_the_daemon_and_status() {
    let tmp = tempfile::tempdir().expect("tmp");
    let missing = tmp.path().join("nowhere");
    let missing_s = missing.to_str().expect("utf-8 temp path");
    for args in [
        &["daemon", "--config-dir", missing_s][..],
        &["status", "--config-dir", missing_s][..],
    ] {
        let out = acsync_in(tmp.path(), args);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stdout}{stderr}");
        assert!(stderr.contains(missing_s), "{args:?}: {stderr}");
        assert!(stderr.contains("does not exist"), "{args:?}: {stderr}");
    }
    assert!(!missing.exists(), "the daemon created nothing");
}
