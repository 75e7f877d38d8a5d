//! Integration tests: quickstart. The README's three commands, from nothing
//! to your own export syncing against `acsync simulator`, run through the
//! real binary in an empty folder:
//!
//! ```text
//! acsync simulator --listen 127.0.0.1:8080 --key-file ./ac.key --state-file ./ac-state.json &
//! acsync init ./mysync --url http://127.0.0.1:8080 --key-file ./ac.key
//! acsync sync newsletter --config-dir ./mysync
//! ```
//!
//! (8080 is replaced by a free port here, so parallel tests never collide.)
//! Then the simulator is stopped with SIGTERM and started again on the same
//! state file: the list and its members are still there.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::bin;

const SEGMENT: &[&str] = &[
    "ada.lovelace@example.com",
    "alan.turing@example.com",
    "barbara.liskov@example.com",
    "edsger.dijkstra@example.com",
    "grace.hopper@example.com",
];

/// A running `acsync simulator`; killed if a test fails before stopping it.
pub struct SimProcess {
    child: Child,
    /// Its stdout up to "Serving until Ctrl-C".
    pub banner: Vec<String>,
}

impl SimProcess {
    /// Starts the README's first command in `dir` and waits for its banner.
    fn start(dir: &Path, port: u16) -> SimProcess {
        let listen = format!("127.0.0.1:{port}");
        let args = [
            "simulator",
            "--listen",
            &listen,
            "--key-file",
            "./ac.key",
            "--state-file",
            "./ac-state.json",
        ];
        SimProcess::spawn(dir, &args)
    }

    /// `acsync simulator ARGS` in `dir`, once its banner is out.
    pub fn spawn(dir: &Path, args: &[&str]) -> SimProcess {
        let mut child = Command::new(bin())
            .args(args)
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
        SimProcess { child, banner }
    }

    /// SIGTERM, then wait for a clean exit (the state is saved on the way out).
    pub fn stop(mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "simulator exited with {status}");
                return;
            }
            assert!(Instant::now() < deadline, "simulator ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn acsync_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .current_dir(dir)
        .env_remove("ACSYNC_CONFIG_DIR")
        .env_remove("RUST_LOG")
        .output()
        .expect("run acsync")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Active members of list 1, asked over the API with the key file's key.
fn active_members(dir: &Path, port: u16) -> Vec<String> {
    let key = std::fs::read_to_string(dir.join("ac.key")).expect("key file");
    let url = format!("http://127.0.0.1:{port}/api/3/contacts?listid=1&status=1&limit=100");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let body: Value = rt.block_on(async {
        // The simulator keeps the real 5 requests/s: a 429 right after a
        // sync is the limit at work, so wait as `Retry-After` says.
        for _ in 0..10 {
            let resp = reqwest::Client::new()
                .get(&url)
                .header("Api-Token", key.trim())
                .send()
                .await
                .expect("GET /contacts");
            if resp.status().as_u16() != 429 {
                assert_eq!(resp.status().as_u16(), 200);
                return resp.json().await.expect("JSON");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        panic!("still 429 after 10 s");
    });
    let mut emails: Vec<String> = (body["contacts"].as_array().into_iter().flatten())
        .filter_map(|c| c["email"].as_str().map(str::to_string))
        .collect();
    emails.sort();
    emails
}

#[test]
fn the_readme_commands_sync_your_own_export_and_the_account_survives_a_restart() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");

    let sim = SimProcess::start(dir, port);
    let banner = sim.banner.join("\n");
    assert!(banner.contains(&format!("url = \"{url}\"")), "{banner}");
    assert!(banner.contains("list_id = 1    # Newsletter"), "{banner}");
    let init = acsync_in(
        dir,
        &["init", "./mysync", "--url", &url, "--key-file", "./ac.key"],
    );
    assert!(init.status.success(), "{}", text(&init));
    let check = acsync_in(dir, &["check", "--config-dir", "./mysync"]);
    assert!(check.status.success(), "{}", text(&check));
    let sync = acsync_in(dir, &["sync", "newsletter", "--config-dir", "./mysync"]);
    assert!(sync.status.success(), "{}", text(&sync));
    assert!(text(&sync).contains("5 added"), "{}", text(&sync));
    assert_eq!(active_members(dir, port), SEGMENT);
    sim.stop();
    // The state holds personal data: private to its owner.
    let mode = std::fs::metadata(dir.join("ac-state.json")).map(|m| m.permissions().mode());
    assert_eq!(mode.ok().map(|m| m & 0o777), Some(0o600));

    let sim = SimProcess::start(dir, port);
    let banner = sim.banner.join("\n");
    assert!(
        banner.contains("account loaded from ./ac-state.json"),
        "{banner}"
    );
    assert_eq!(active_members(dir, port), SEGMENT);
    let again = acsync_in(dir, &["sync", "newsletter", "--config-dir", "./mysync"]);
    assert!(again.status.success(), "{}", text(&again));
    assert!(text(&again).contains(" 0 added"), "{}", text(&again));
    sim.stop();
}

#[test]
fn init_refuses_a_folder_it_already_wrote() {
    let tmp = tempfile::tempdir().expect("tmp");
    let first = acsync_in(tmp.path(), &["init", "./mysync"]);
    assert!(first.status.success(), "{}", text(&first));
    let before = std::fs::read(tmp.path().join("mysync/acsync.toml")).expect("read");
    let second = acsync_in(tmp.path(), &["init", "./mysync"]);
    assert_eq!(second.status.code(), Some(1), "{}", text(&second));
    assert!(
        text(&second).contains("never overwrites"),
        "{}",
        text(&second)
    );
    let after = std::fs::read(tmp.path().join("mysync/acsync.toml")).expect("read");
    assert_eq!(before, after);
}

#[test]
fn simulator_takes_named_lists_and_a_seed_file_and_names_a_bad_row() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    std::fs::write(
        dir.join("seed.csv"),
        "email,first_name,lists,COMPANY\nann@example.com,Ann,VIP,Acme\n",
    )
    .expect("seed");
    let port = free_port().to_string();
    let listen = format!("127.0.0.1:{port}");
    let mut child = Command::new(bin())
        .args([
            "simulator",
            "--listen",
            &listen,
            "--lists",
            "Newsletter,VIP",
        ])
        .args(["--seed-file", "seed.csv", "--rps", "0"])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start");
    let stdout = child.stdout.take().expect("stdout");
    let banner: Vec<String> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .take_while(|l| !l.starts_with("Serving until"))
        .collect();
    let _ = child.kill();
    let _ = child.wait();
    let banner = banner.join("\n");
    assert!(
        banner.contains("seeded from seed.csv: 1 contacts, 0 new lists, 1 new fields"),
        "{banner}"
    );
    assert!(banner.contains("list_id = 2    # VIP"), "{banner}");
    assert!(
        banner.contains("api_key_env = \"ACSYNC_SIM_KEY\""),
        "{banner}"
    );

    std::fs::write(
        dir.join("bad.csv"),
        "email,lists\nann@example.com,VIP:gone\n",
    )
    .expect("bad");
    let out = acsync_in(
        dir,
        &[
            "simulator",
            "--listen",
            "127.0.0.1:0",
            "--seed-file",
            "bad.csv",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("bad.csv:2: unknown list status `gone`"),
        "{}",
        text(&out)
    );
}
