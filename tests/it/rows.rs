//! the source side, through the real binary against the
//! simulator: a malformed file fails before any write, a defect outside the
//! email never drops a member, an address ActiveCampaign refuses is an
//! invalid row (never a rejected batch), a blocked source never hangs `sync`
//! or the daemon, and a mapped column no row has fails listing what was seen.

use std::path::PathBuf;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use crate::harness::World;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().expect("runtime")
}

/// `exports/NAME.toml` syncing `source` (the `[source]` body) with `mapping`.
fn write_export(w: &World, name: &str, schedule: &str, source: &str, mapping: &str) {
    let toml = format!(
        "connection = \"sim\"\nlist_id = {}\nschedule = \"{schedule}\"\n\n[source]\n{source}\n\n[mapping]\n{mapping}\n",
        w.list
    );
    std::fs::write(w.exports().join(format!("{name}.toml")), toml).expect("export");
}

fn csv_export(w: &World, name: &str) {
    let source = format!("kind = \"csv\"\npath = \"../segments/{name}.csv\"");
    write_export(
        w,
        name,
        "@hourly",
        &source,
        "email = \"email\"\nfirst_name = \"first_name\"",
    );
}

fn segment(w: &World, file: &str) -> PathBuf {
    w.root().join("segments").join(file)
}

/// 300 rows `m0000@ex.com,Name0`...; row `bad_at` (0-based) replaced by `bad`.
fn three_hundred(bad_at: usize, bad: &str) -> String {
    let mut text = String::from("email,first_name\n");
    for i in 0..300 {
        let row = if i == bad_at {
            bad.to_owned()
        } else {
            format!("m{i:04}@ex.com,Name{i}")
        };
        text.push_str(&row);
        text.push('\n');
    }
    text
}

/// stdout and stderr of `out`, for assertions on what the user reads.
fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_malformed_csv_fails_before_any_write_and_names_the_line() {
    let rt = runtime();
    let w = rt.block_on(World::new());
    csv_export(&w, "x");
    std::fs::write(segment(&w, "x.csv"), three_hundred(usize::MAX, "")).expect("csv");
    let out = w.acsync(&["sync", "x"]);
    assert!(out.status.success(), "{}", said(&out));
    assert_eq!(w.active().len(), 300);

    for (bad, line, message) in [
        ("m0280@ex.com,\"Bobby", 282, "unterminated quoted field"),
        (
            "m0100@ex.com,Bob,Smith",
            102,
            "row has 3 fields, the header has 2",
        ),
    ] {
        std::fs::write(segment(&w, "x.csv"), three_hundred(line - 2, bad)).expect("csv");
        w.sim.reset_ledger();
        let out = w.acsync(&["sync", "x"]);
        let text = said(&out);
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert!(
            text.contains(&format!("segments/x.csv:{line}: {message}")),
            "{text}"
        );
        assert_eq!(w.sim.ledger().writes, 0, "no write: {text}");
        assert_eq!(w.active().len(), 300, "nobody unsubscribed");
        let status = w.status_json("x");
        assert_eq!(status["last_run"]["outcome"], "failed");
    }
    let m0280 = w.sim.contact("m0280@ex.com").expect("contact");
    assert_eq!(m0280.first_name, "Name280", "no row copied into another");
}

#[test]
fn a_defect_outside_the_email_keeps_the_member_and_reports_the_row() {
    let rt = runtime();
    let w = rt.block_on(World::new());
    csv_export(&w, "x");
    let source = "kind = \"jsonl\"\npath = \"../segments/j.jsonl\"";
    let jsonl_list = w.sim.add_list("JSONL");
    write_export(
        &w,
        "j",
        "@hourly",
        source,
        "email = \"email\"\nfirst_name = \"first\"",
    );
    let j_toml = w.exports().join("j.toml");
    let text = std::fs::read_to_string(&j_toml).expect("j");
    let text = text.replace(
        &format!("list_id = {}", w.list),
        &format!("list_id = {jsonl_list}"),
    );
    std::fs::write(&j_toml, text).expect("j");

    let mut csv: Vec<u8> = b"email,first_name\n".to_vec();
    let mut jsonl = String::new();
    for i in 0..20 {
        csv.extend_from_slice(format!("p{i}@ex.com,Name{i}\n").as_bytes());
        jsonl.push_str(&format!(
            "{{\"email\":\"q{i}@ex.com\",\"first\":\"Name{i}\"}}\n"
        ));
    }
    std::fs::write(segment(&w, "x.csv"), &csv).expect("csv");
    std::fs::write(segment(&w, "j.jsonl"), &jsonl).expect("jsonl");
    for name in ["x", "j"] {
        let out = w.acsync(&["sync", name]);
        assert!(out.status.success(), "{}", said(&out));
    }

    // p4 (line 6, after the header) gets a name that is not UTF-8; q4 (line
    // 5) a name that is a list. Both are reported by their file line.
    let csv = String::from_utf8(csv).expect("utf-8");
    let mut bad_csv = Vec::new();
    for l in csv.lines() {
        if l == "p4@ex.com,Name4" {
            bad_csv.extend_from_slice(b"p4@ex.com,Ren\xe9e");
        } else {
            bad_csv.extend_from_slice(l.as_bytes());
        }
        bad_csv.push(b'\n');
    }
    std::fs::write(segment(&w, "x.csv"), bad_csv).expect("csv");
    let bad_jsonl = jsonl.replace("\"first\":\"Name4\"", "\"first\":[\"Ren\",\"ée\"]");
    std::fs::write(segment(&w, "j.jsonl"), bad_jsonl).expect("jsonl");
    for (name, list, email, line, reason) in [
        (
            "x",
            w.list,
            "p4@ex.com",
            6,
            "column \"first_name\" is not valid UTF-8; not sent",
        ),
        (
            "j",
            jsonl_list,
            "q4@ex.com",
            5,
            "key \"first\" holds an array, not a single value; not sent",
        ),
    ] {
        let out = w.acsync(&["sync", name]);
        assert!(out.status.success(), "{name}: {}", said(&out));
        let active = w.sim.active_emails(list);
        assert_eq!(active.len(), 20, "{name}: nobody left: {active:?}");
        assert!(active.contains(email), "{name}");
        let status = w.status_json(name);
        assert_eq!(status["last_run"]["invalid_rows"], 0, "{name}: {status}");
        assert_eq!(status["last_run"]["removed"], 0, "{name}: {status}");
        let failures = &status["last_run"]["failures"];
        let reported = failures
            .as_array()
            .into_iter()
            .flatten()
            .any(|f| f["row"] == line && f["reason"] == reason);
        assert!(reported, "{name}: {failures}");
        let contact = w.sim.contact(email).expect("contact");
        assert_eq!(
            contact.first_name, "Name4",
            "{name}: the bad value is not sent"
        );
    }
}

#[test]
fn an_address_activecampaign_refuses_is_an_invalid_row_not_a_rejected_batch() {
    let rt = runtime();
    let w = rt.block_on(World::new());
    csv_export(&w, "x");
    let mut text = String::from("email,first_name\n");
    for i in 0..260 {
        if i == 239 {
            text.push_str("john..doe@ex.com,John\n");
        } else {
            text.push_str(&format!("u{i}@ex.com,U{i}\n"));
        }
    }
    std::fs::write(segment(&w, "x.csv"), text).expect("csv");
    let out = w.acsync(&["sync", "x"]);
    assert!(out.status.success(), "{}", said(&out));
    assert_eq!(w.active().len(), 259, "every other row added in one run");
    let status = w.status_json("x");
    assert_eq!(status["last_run"]["invalid_rows"], 1, "{status}");
    assert_eq!(status["last_run"]["added"], 259, "{status}");
    assert!(w.sim.contact("john..doe@ex.com").is_none());
}

#[test]
fn a_mapped_column_or_key_no_row_has_fails_listing_what_was_seen() {
    let rt = runtime();
    let w = rt.block_on(World::new());
    let source = "kind = \"csv\"\npath = \"../segments/x.csv\"";
    write_export(
        &w,
        "x",
        "@hourly",
        source,
        "email = \"email\"\nfirst_name = \"firstname\"",
    );
    std::fs::write(
        segment(&w, "x.csv"),
        "email,first_name,city\na@ex.com,A,Paris\n",
    )
    .expect("csv");
    let source = "kind = \"jsonl\"\npath = \"../segments/j.jsonl\"";
    write_export(
        &w,
        "j",
        "@hourly",
        source,
        "email = \"email\"\nfirst_name = \"frist\"",
    );
    std::fs::write(
        segment(&w, "j.jsonl"),
        "{\"email\":\"a@ex.com\",\"first\":\"A\"}\n{\"email\":\"b@ex.com\",\"city\":\"Oslo\"}\n",
    )
    .expect("jsonl");
    for (name, expect) in [
        (
            "x",
            "column \"firstname\" from [mapping] is not in the header (its columns: \"email\", \"first_name\", \"city\")",
        ),
        (
            "j",
            "key \"frist\" from [mapping] is in none of its 2 rows (keys seen: \"city\", \"email\", \"first\")",
        ),
    ] {
        let out = w.acsync(&["sync", name]);
        let text = said(&out);
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert!(text.contains(expect), "{text}");
        let out = w.acsync(&["plan", name]);
        assert!(
            said(&out).contains(expect),
            "plan says it too: {}",
            said(&out)
        );
    }
    assert_eq!(w.sim.ledger().writes, 0);
}

/// `segments/NAME` as a FIFO no one writes to.
fn fifo(w: &World, name: &str) -> PathBuf {
    let path = segment(w, name);
    let c = std::ffi::CString::new(path.to_str().expect("utf-8 path")).expect("c path");
    // SAFETY: mkfifo(3) with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    path
}

/// Waits for `child` up to `within`; kills it (and fails) past that.
fn wait_bounded(mut child: Child, within: Duration) -> (Option<i32>, Duration, Output) {
    let t = Instant::now();
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            let took = t.elapsed();
            let out = child.wait_with_output().expect("output");
            return (out.status.code(), took, out);
        }
        if t.elapsed() > within {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!("still running after {within:?}: {}", said(&out));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sync_of_a_blocked_source_fails_at_its_timeout_naming_the_path() {
    let rt = runtime();
    let w = rt.block_on(World::new());
    let source = "kind = \"csv\"\npath = \"../segments/x.csv\"\ntimeout = \"2s\"";
    write_export(&w, "x", "@hourly", source, "email = \"email\"");
    fifo(&w, "x.csv");
    let child = w
        .command(&["sync", "x"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sync");
    let (code, took, out) = wait_bounded(child, Duration::from_secs(60));
    let text = said(&out);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("segments/x.csv did not finish reading within 2s"),
        "{text}"
    );
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert_eq!(w.status_json("x")["last_run"]["outcome"], "failed");
    assert_eq!(w.sim.ledger().writes, 0);
}

fn state(w: &World, name: &str) -> Option<String> {
    let path = w.exports().join(format!("{name}.status.json"));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    v["state"].as_str().map(str::to_owned)
}

#[test]
fn the_daemon_stops_at_once_while_a_run_is_stuck_reading() {
    let rt = runtime();
    let w = rt.block_on(World::new());
    let source = "kind = \"csv\"\npath = \"../segments/x.csv\"";
    write_export(&w, "x", "*/2 * * * * *", source, "email = \"email\"");
    let path = fifo(&w, "x.csv");
    let child = w
        .command(&["daemon"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn daemon");
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(30);
    while state(&w, "x").as_deref() != Some("running") {
        assert!(Instant::now() < deadline, "the run never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Stuck in the read (default timeout 10m) for a while.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(state(&w, "x").as_deref(), Some("running"));
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    let (code, took, out) = wait_bounded(child, Duration::from_secs(60));
    eprintln!("the daemon stopped {took:?} after SIGTERM");
    assert_eq!(code, Some(0), "{}", said(&out));
    assert!(took < Duration::from_secs(10), "{took:?}: {}", said(&out));
    let status = w.status_json("x");
    // docs/ownership.md: "A run interrupted by a signal or a crash is recorded as
    // interrupted in the status file."
    assert_eq!(status["last_run"]["outcome"], "interrupted", "{status}");
    let error = status["last_run"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("reading was abandoned"), "{error}");
    assert!(error.contains("segments/x.csv"), "{error}");
    assert!(path.exists(), "the FIFO is left as it was");
}

#[test]
fn check_validates_the_source_timeout() {
    let rt = runtime();
    let w = rt.block_on(World::new());
    std::fs::write(segment(&w, "x.csv"), "email\na@ex.com\n").expect("csv");
    let csv = "kind = \"csv\"\npath = \"../segments/x.csv\"\n";
    write_export(
        &w,
        "ok",
        "@hourly",
        &format!("{csv}timeout = \"90s\""),
        "email = \"email\"",
    );
    let out = w.acsync(&["check"]);
    assert!(out.status.success(), "{}", said(&out));
    for (name, source, expect) in [
        (
            "zero",
            format!("{csv}timeout = \"0\""),
            "zero.toml:8:11: `timeout` must be above zero",
        ),
        (
            "soon",
            format!("{csv}timeout = \"soon\""),
            "soon.toml:8:11: bad duration `soon`",
        ),
        (
            "pg",
            "kind = \"postgres\"\nurl_env = \"DB\"\nquery = \"select 1\"\ntimeout = \"1m\""
                .to_owned(),
            "pg.toml:9:11: `timeout` is not used by source kind postgres",
        ),
    ] {
        write_export(&w, name, "@hourly", &source, "email = \"email\"");
        let out = w.acsync(&["check"]);
        assert_eq!(out.status.code(), Some(1), "{}", said(&out));
        assert!(said(&out).contains(expect), "{}", said(&out));
        std::fs::remove_file(w.exports().join(format!("{name}.toml"))).expect("rm");
    }
}

/// A row whose email cannot be read at all (not UTF-8) may be a
/// member we cannot see, so that run holds every removal back (reported),
/// instead of deriving removals from a partial read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_email_holds_removals_back() {
    let w = World::new().await;
    let people = World::people(0..20);
    w.write_people("vip", &people);
    w.write_export("vip", "max_removals = \"100%\"");
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, acsync::status::Outcome::Success);
    // user0 leaves; user1's row now has an email that is not UTF-8.
    let mut bytes = b"email,first_name,last_name\n".to_vec();
    bytes.extend_from_slice(b"user\xff1@example.com,First1,Last\n");
    for (e, f) in &people[2..] {
        bytes.extend_from_slice(format!("{e},{f},Last\n").as_bytes());
    }
    std::fs::write(segment(&w, "vip.csv"), bytes).expect("segment");
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, acsync::status::Outcome::Blocked);
    assert_eq!(r.last_run.removed, 0);
    let reason = r.blocked.unwrap_or_default();
    assert!(reason.contains("cannot be read"), "{reason}");
    assert_eq!(w.active().len(), 20, "nobody unsubscribed");
}

/// One numbering: a CSV row is named by the file line it starts on (what
/// `grep -n` prints) in `plan`, `status NAME` and `explain`, also after a
/// record that spans two lines.
#[test]
fn plan_status_and_explain_name_a_csv_row_by_its_file_line() {
    let rt = runtime();
    let w = rt.block_on(World::new());
    csv_export(&w, "vip");
    let text = "email,first_name\nann@ex.com,\"Ann\nMarie\"\nbob@ex.com,Bob\nnot-an-email,X\n";
    std::fs::write(segment(&w, "vip.csv"), text).expect("csv");
    let line = text
        .lines()
        .position(|l| l.starts_with("not-an-email"))
        .expect("the row")
        + 1;
    assert_eq!(line, 5, "as grep -n numbers it");
    let at = format!("line {line}");

    let plan = w.acsync(&["plan", "vip"]);
    let plan = String::from_utf8_lossy(&plan.stdout).into_owned();
    assert!(
        plan.lines()
            .any(|l| l.trim_start().starts_with(&format!("{at}: n***"))),
        "plan: {plan}"
    );

    let out = w.acsync(&["sync", "vip"]);
    assert!(out.status.success(), "{}", said(&out));
    let status = w.acsync(&["status", "vip"]);
    let status = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(
        status.contains(&format!("  {at}: n***: invalid email")),
        "status: {status}"
    );

    let explain = w.acsync(&["explain", "vip", "not-an-email", "--offline"]);
    let explain = String::from_utf8_lossy(&explain.stdout).into_owned();
    assert!(explain.contains(&at), "explain: {explain}");
    assert!(!explain.contains("line 4"), "explain: {explain}");
}

/// A run that fails before its first write (no segment file) does not
/// print a row of zero counts as if it had a result: it says nothing
/// changed, then why.
#[test]
fn sync_says_nothing_changed_when_it_fails_early() {
    let rt = runtime();
    let w = rt.block_on(World::new());
    csv_export(&w, "vip");
    let out = w.acsync(&["sync", "vip"]);
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("vip: failed, nothing changed ("), "{text}");
    assert!(!text.contains("0 added"), "{text}");
    assert!(text.contains("vip.csv"), "the error names the file: {text}");
}
