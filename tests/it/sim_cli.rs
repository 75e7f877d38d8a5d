//! `acsync simulator` through the real binary: its start banner lists the
//! custom fields a `[mapping.fields]` can map to, and says when a loaded
//! `--state-file` makes it ignore `--seed-file` and `--lists`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::bin;

/// Starts the simulator in `dir` with `extra` arguments; returns it and its
/// banner (stdout up to "Serving until Ctrl-C").
fn start(dir: &Path, extra: &[&str]) -> (Child, Vec<String>) {
    let mut child = Command::new(bin())
        .args([
            "simulator",
            "--listen",
            "127.0.0.1:0",
            "--state-file",
            "state.json",
        ])
        .args(extra)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start acsync simulator");
    let stdout = child.stdout.take().expect("stdout");
    let mut banner = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("read banner");
        let done = line.starts_with("Serving until Ctrl-C");
        banner.push(line);
        if done {
            break;
        }
    }
    (child, banner)
}

/// SIGTERM (the state is saved on the way out), then a clean exit.
fn stop(mut child: Child) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "simulator exited with {status}");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("the simulator did not stop");
}

#[test]
fn the_banner_lists_fields_and_says_what_a_loaded_state_ignores() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seed =
        r#"{"fields": [{"perstag": "SCORE", "title": "Score", "type": "number"}], "contacts": []}"#;
    std::fs::write(dir.path().join("seed.json"), seed).expect("seed");

    let (child, banner) = start(dir.path(), &["--seed-file", "seed.json"]);
    stop(child);
    let text = banner.join("\n");
    assert!(
        banner
            .iter()
            .any(|l| l == "custom field SCORE (id 1, number)"),
        "{text}"
    );
    assert!(
        !text.contains("ignored"),
        "a fresh start ignores nothing: {text}"
    );
    assert!(
        dir.path().join("state.json").exists(),
        "saved on the way out"
    );

    let (child, banner) = start(dir.path(), &["--seed-file", "seed.json", "--lists", "3"]);
    stop(child);
    let text = banner.join("\n");
    assert!(
        text.contains("--seed-file and --lists ignored: the account was loaded from state.json"),
        "{text}"
    );
    assert!(
        !text.contains("List 3"),
        "the lists are the saved ones: {text}"
    );
}
