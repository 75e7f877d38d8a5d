//! Fitting the ecosystem: generated files are fresh (JSON Schemas,
//! man page, completions, packaged configs), the schemas accept the sample
//! configs, `check --format github`, `plan --detailed-exitcode`, `status
//! --watch` and colour, and the Debian package metadata.
//!
//! Generated files are committed so that editors, packagers and pull
//! requests see them; `ACSYNC_BLESS=1 cargo test --test it eco::` rewrites
//! them after a deliberate change.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use acsync::cli::docs;
use acsync::cli::schema::SchemaFile;
use clap_complete::Shell;
use serde_json::Value;

use crate::harness::World;
use crate::util::{acsync, lines, repo};

/// Where the packaged schemas live; the packaged configs point there.
const SHARED_SCHEMA_DIR: &str = "/usr/share/acsync/schema";

/// The folders of sample configs that carry a `#:schema` directive.
const SAMPLE_TREES: [&str; 2] = ["config", "examples/demo"];

/// The files of a sample folder and which schema each is written against.
const SAMPLES: [(&str, SchemaFile); 3] = [
    ("acsync.toml", SchemaFile::Settings),
    ("exports/newsletter.toml", SchemaFile::Export),
    ("exports/emea/vip.toml", SchemaFile::Export),
];

/// Every committed generated file and the bytes it must hold.
fn generated() -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = SchemaFile::ALL
        .iter()
        .map(|f| (repo("schema").join(f.file_name()), f.render().into_bytes()))
        .collect();
    files.push((
        repo("packaging/acsync.1"),
        docs::man_page().expect("man page"),
    ));
    for (shell, name) in [
        (Shell::Bash, "acsync.bash"),
        (Shell::Zsh, "_acsync"),
        (Shell::Fish, "acsync.fish"),
    ] {
        let path = repo("packaging/completions").join(name);
        files.push((path, docs::completion_script(shell)));
    }
    for (rel, schema) in SAMPLES {
        let text = std::fs::read_to_string(repo("config").join(rel)).expect("sample config");
        let packaged = with_directive(
            &text,
            &format!("{SHARED_SCHEMA_DIR}/{}", schema.file_name()),
        );
        files.push((repo("packaging/config").join(rel), packaged.into_bytes()));
    }
    files
}

/// `text` with its `#:schema` line pointing at `target`.
fn with_directive(text: &str, target: &str) -> String {
    let rest = text
        .split_once('\n')
        .filter(|(first, _)| first.starts_with("#:schema "))
        .map_or(text, |(_, rest)| rest);
    format!("#:schema {target}\n{rest}")
}

#[test]
fn generated_files_are_fresh() {
    let bless = std::env::var_os("ACSYNC_BLESS").is_some();
    let mut stale = Vec::new();
    for (path, want) in generated() {
        if std::fs::read(&path).ok().as_deref() == Some(want.as_slice()) {
            continue;
        }
        if bless {
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, want).expect("write");
        } else {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated files (regenerate with `ACSYNC_BLESS=1 cargo test --test it eco::`): {stale:#?}"
    );
}

#[test]
fn schema_command_prints_the_committed_schema() {
    let out = acsync(&["schema", "export"]);
    assert_eq!(out.status.code(), Some(0));
    let committed = std::fs::read(repo("schema/export.schema.json")).expect("schema");
    assert_eq!(out.stdout, committed);
}

/// A TOML file as the JSON value a TOML editor validates.
fn toml_as_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("toml");
    let value: toml::Value = toml::from_str(&text).expect("valid TOML");
    serde_json::to_value(value).expect("json")
}

fn validator(file: SchemaFile) -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&file.render()).expect("schema json");
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

fn schema_errors(file: SchemaFile, doc: &Value) -> Vec<String> {
    validator(file)
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn sample_configs_and_valid_fixtures_satisfy_the_schemas() {
    let mut docs: Vec<(PathBuf, SchemaFile)> = SAMPLE_TREES
        .iter()
        .flat_map(|tree| SAMPLES.iter().map(|(rel, f)| (repo(tree).join(rel), *f)))
        .collect();
    docs.push((
        repo("tests/fixtures/check/exports/good.toml"),
        SchemaFile::Export,
    ));
    docs.push((
        repo("tests/fixtures/check/acsync.toml"),
        SchemaFile::Settings,
    ));
    for (path, file) in docs {
        let errors = schema_errors(file, &toml_as_json(&path));
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    }
}

#[test]
fn schema_refuses_what_check_refuses() {
    let base = toml_as_json(&repo("config/exports/newsletter.toml"));
    let cases: [(&str, Value); 5] = [
        ("lst_id", Value::from(3)),
        ("prune", Value::from("some")),
        ("max_removals", Value::from("ten percent")),
        ("list_id", Value::from("twelve")),
        ("api_key", Value::from("secret")),
    ];
    for (key, value) in cases {
        let mut doc = base.clone();
        doc[key] = value;
        assert!(
            !schema_errors(SchemaFile::Export, &doc).is_empty(),
            "{key} accepted"
        );
    }
    let mut no_email = base.clone();
    no_email["mapping"]
        .as_object_mut()
        .expect("mapping")
        .remove("email");
    assert!(!schema_errors(SchemaFile::Export, &no_email).is_empty());
    let mut two_keys = toml_as_json(&repo("config/acsync.toml"));
    two_keys["connections"]["prod"]["api_key_env"] = Value::from("AC_KEY");
    assert!(!schema_errors(SchemaFile::Settings, &two_keys).is_empty());
    let mut count = base;
    count["max_removals"] = Value::from(25);
    assert_eq!(
        schema_errors(SchemaFile::Export, &count),
        Vec::<String>::new()
    );
}

#[test]
fn sample_configs_point_at_the_schemas() {
    for (tree, (rel, file)) in SAMPLE_TREES
        .iter()
        .flat_map(|t| SAMPLES.iter().map(move |s| (t, s)))
    {
        let path = repo(tree).join(rel);
        let text = std::fs::read_to_string(&path).expect("sample");
        let target = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("#:schema "))
            .unwrap_or_else(|| panic!("{rel}: first line is not a #:schema directive"));
        let resolved = path.parent().expect("dir").join(target.trim());
        let want = repo("schema").join(file.file_name());
        assert_eq!(
            resolved.canonicalize().ok(),
            want.canonicalize().ok(),
            "{tree}/{rel}: {target}"
        );
    }
}

#[test]
fn check_github_format_annotates_each_error() {
    let dir = "tests/fixtures/check";
    let bad = format!("{dir}/exports/bad_cron.toml");
    let good = format!("{dir}/exports/good.toml");
    let out = acsync(&[
        "check",
        "--config-dir",
        dir,
        "--format",
        "github",
        &bad,
        &good,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let got = lines(&out);
    assert_eq!(got.len(), 1, "{got:?}");
    let prefix = format!("::error file={bad},line=3,col=12,title=acsync check::");
    assert!(got[0].starts_with(&prefix), "{}", got[0]);
    assert!(got[0].contains("bad cron expression `61 * * * *`"));

    let plain = acsync(&["check", "--config-dir", dir, &bad]);
    assert!(lines(&plain)[0].starts_with(&format!("{bad}:3:12: ")));
}

#[test]
fn check_ignore_outside_skips_files_that_are_not_acsync_configs() {
    // As pre-commit passes them: every changed .toml file in the repository.
    let args = [
        "check",
        "--config-dir",
        "config",
        "--ignore-outside",
        "Cargo.toml",
        "tests/fixtures/check/exports/bad_cron.toml",
        "config/exports/newsletter.toml",
        "config/acsync.toml",
    ];
    let out = acsync(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let without: Vec<&str> = args
        .iter()
        .copied()
        .filter(|a| *a != "--ignore-outside")
        .collect();
    let out = acsync(&without);
    assert_eq!(out.status.code(), Some(1), "Cargo.toml is no export");
}

#[test]
fn pre_commit_hook_is_declared() {
    let text = std::fs::read_to_string(repo(".pre-commit-hooks.yaml")).expect("hooks");
    for needle in [
        "- id: acsync-check",
        "entry: acsync check --ignore-outside",
        "language: rust",
        "files: \\.toml$",
    ] {
        assert!(text.contains(needle), "missing `{needle}`");
    }
}

/// `plan --detailed-exitcode`'s code and stdout.
fn plan_code(w: &World, name: &str) -> (Option<i32>, Value) {
    let out = w.acsync(&["plan", name, "--json", "--detailed-exitcode"]);
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code(), json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_detailed_exitcode_is_0_unchanged_2_changes_1_error() {
    let w = World::new().await;
    let people = World::people(0..30);
    w.write_people("vip", &people);
    w.write_export("vip", "");
    let (code, plan) = plan_code(&w, "vip");
    assert_eq!((code, plan["to_add"].as_u64()), (Some(2), Some(30)));
    assert_documented(&plan);

    w.sync("vip").await;
    let (code, plan) = plan_code(&w, "vip");
    assert_eq!((code, plan["unchanged"].as_u64()), (Some(0), Some(30)));

    // Two thirds leave: above max_removals, so blocked, which is a change to review.
    w.write_people("vip", &people[..10]);
    let (code, plan) = plan_code(&w, "vip");
    assert_eq!(code, Some(2), "{plan}");
    assert!(plan["blocked"].is_string(), "{plan}");

    w.write_export("vip", "prune = \"sometimes\"");
    assert_eq!(plan_code(&w, "vip").0, Some(1));
    assert_eq!(plan_code(&w, "nosuch").0, Some(1));
    // Without the flag a plan with changes still exits 0.
    w.write_export("vip", "");
    let out = w.acsync(&["plan", "vip", "--json"]);
    assert_eq!(out.status.code(), Some(0));
}

/// The README documents `plan --json` as a stable format: every key the
/// command prints (and every key of `samples`) must be listed there.
fn assert_documented(plan: &Value) {
    let readme = std::fs::read_to_string(repo("README.md")).expect("readme");
    let section = readme
        .split("### `plan --json`")
        .nth(1)
        .expect("README section on plan --json");
    let section = section.split("\n## ").next().unwrap_or(section);
    let top = plan.as_object().expect("object").keys();
    let samples = plan["samples"].as_object().expect("samples").keys();
    for key in top.chain(samples) {
        assert!(
            section.contains(&format!("`{key}`")),
            "plan --json key `{key}` is not documented in the README"
        );
    }
}

#[test]
fn completions_name_every_command() {
    for shell in ["bash", "zsh", "fish"] {
        let out = acsync(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        for cmd in [
            "daemon",
            "check",
            "plan",
            "sync",
            "status",
            "explain",
            "history",
            "doctor",
            "simulator",
            "init",
            "completions",
            "man",
        ] {
            assert!(text.contains(cmd), "{shell} completion lacks {cmd}");
        }
        // Flags without their dashes: fish writes `-l config-dir`.
        for flag in ["config-dir", "detailed-exitcode", "watch", "format"] {
            assert!(text.contains(flag), "{shell} completion lacks {flag}");
        }
    }
}

#[test]
fn man_page_mentions_every_command() {
    let out = acsync(&["man"]);
    assert_eq!(out.status.code(), Some(0));
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH acsync 1"),
        "roff"
    );
    for cmd in [
        "daemon",
        "check",
        "plan",
        "sync",
        "status",
        "explain",
        "history",
        "doctor",
        "simulator",
        "init",
        "demo",
        "completions",
        "man",
    ] {
        assert!(
            page.contains(&format!("acsync {cmd}")),
            "man page lacks {cmd}"
        );
    }
    for section in ["EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES"] {
        assert!(page.contains(section), "man page lacks {section}");
    }
    assert!(
        !page.contains("acsync schema"),
        "hidden commands stay hidden"
    );
}

#[test]
fn status_watch_redraws_until_stopped() {
    let mut child = Command::new(crate::util::bin())
        .args(["status", "--config-dir", "config", "--watch", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("ACSYNC_CONFIG_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(2500));
    child.kill().expect("kill");
    let out = child.wait_with_output().expect("output");
    let text = String::from_utf8_lossy(&out.stdout);
    let frames = text.matches("acsync status, every 1 s").count();
    assert!((2..=4).contains(&frames), "{frames} frames:\n{text}");
    assert!(!text.contains('\x1b'), "no escape codes in a pipe");
    assert!(text.contains("EXPORT"), "{text}");
}

#[test]
fn colour_keeps_columns_aligned() {
    use acsync::status::{
        LastRun, Outcome, StatusFile, Trigger, render_table, render_table_styled,
    };
    let now = chrono::Utc::now();
    let mut rows = Vec::new();
    for (name, outcome) in [("a", Outcome::Success), ("bb", Outcome::Blocked)] {
        let mut s = StatusFile::new(name, format!("{name}.toml"), now);
        let mut run = LastRun::started(Trigger::Schedule, now - chrono::Duration::minutes(3));
        run.finish(outcome, now - chrono::Duration::minutes(3));
        s.record_run(run);
        rows.push(s);
    }
    let plain = render_table(&rows, now);
    let coloured = render_table_styled(&rows, now, true);
    assert!(coloured.contains("\x1b[32msuccess\x1b[0m"), "{coloured}");
    assert!(coloured.contains("\x1b[33mblocked\x1b[0m"), "{coloured}");
    assert_eq!(strip_ansi(&coloured), plain);
    assert!(plain.contains("3 min ago"), "{plain}");
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            chars.by_ref().find(|&c| c == 'm');
        } else {
            out.push(c);
        }
    }
    out
}

/// `[package.metadata.deb]` of Cargo.toml.
fn deb_metadata() -> toml::Table {
    let text = std::fs::read_to_string(repo("Cargo.toml")).expect("Cargo.toml");
    let manifest: toml::Table = toml::from_str(&text).expect("manifest");
    manifest["package"]["metadata"]["deb"]
        .as_table()
        .expect("[package.metadata.deb]")
        .clone()
}

/// (source, destination) of every asset.
fn deb_assets(meta: &toml::Table) -> Vec<(String, String)> {
    meta["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .map(|a| {
            let a = a.as_array().expect("[src, dest, mode]");
            assert_eq!(a.len(), 3, "{a:?}");
            (
                a[0].as_str().expect("src").into(),
                a[1].as_str().expect("dest").into(),
            )
        })
        .collect()
}

#[test]
fn deb_metadata_lists_existing_files_for_every_part() {
    let meta = deb_metadata();
    let assets = deb_assets(&meta);
    for (src, _) in &assets {
        // cargo-deb substitutes the real target dir for target/release/.
        if !src.starts_with("target/release/") {
            assert!(repo(src).is_file(), "asset {src} does not exist");
        }
    }
    let dests: Vec<&str> = assets.iter().map(|(_, d)| d.as_str()).collect();
    for want in [
        "usr/bin/",
        "etc/acsync/acsync.toml",
        "usr/lib/tmpfiles.d/acsync.conf",
        "usr/share/man/man1/acsync.1",
        "usr/share/bash-completion/completions/acsync",
        "usr/share/zsh/vendor-completions/_acsync",
        "usr/share/fish/vendor_completions.d/acsync.fish",
        "usr/share/acsync/schema/",
    ] {
        assert!(dests.contains(&want), "no asset installed to {want}");
    }
    // Unit and sysusers are found by cargo-deb in unit-scripts by name.
    let units = meta["systemd-units"]["unit-scripts"]
        .as_str()
        .expect("unit-scripts");
    for file in ["acsync.service", "acsync.sysusers"] {
        assert!(repo(units).join(file).is_file(), "{units}/{file} missing");
    }
    // cargo-deb writes the sysusers/tmpfiles/unit scripts only when a
    // maintainer-scripts folder is configured.
    let scripts = meta["maintainer-scripts"]
        .as_str()
        .expect("maintainer-scripts");
    assert!(repo(scripts).is_dir(), "{scripts} missing");
    let conf: Vec<&str> = meta["conf-files"]
        .as_array()
        .expect("conf-files")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(conf, ["/etc/acsync/acsync.toml"]);
}

#[test]
fn packaged_config_passes_check_as_the_service_runs_it() {
    // ExecStartPre=acsync check --config-dir /etc/acsync on a fresh install:
    // the packaged acsync.toml and an empty exports/ folder.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("exports")).expect("exports");
    std::fs::copy(
        repo("packaging/config/acsync.toml"),
        dir.path().join("acsync.toml"),
    )
    .expect("copy");
    let out = acsync(&["check", "--config-dir", dir.path().to_str().expect("utf-8")]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// `GET path` on the loopback port: (status code, body).
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let (head, body) = buf.split_once("\r\n\r\n")?;
    let code = head.split(' ').nth(1)?.parse().ok()?;
    Some((code, body.to_string()))
}

/// The value of the sample `series` (name and labels exactly as exposed).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[test]
fn daemon_serves_metrics_with_the_run_series_and_health() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let w = rt.block_on(World::new());
    let port = free_port();
    let settings = std::fs::read_to_string(w.root().join("acsync.toml")).expect("settings");
    let settings = settings.replace(
        "[daemon]\n",
        &format!("[daemon]\nmetrics_listen = \"127.0.0.1:{port}\"\n"),
    );
    std::fs::write(w.root().join("acsync.toml"), settings).expect("write");
    w.write_people("vip", &World::people(0..20));
    w.write_export("vip", "");
    let path = w.exports().join("vip.toml");
    let text = std::fs::read_to_string(&path).expect("export");
    std::fs::write(&path, text.replace("\"@hourly\"", "\"*/2 * * * * *\"")).expect("write");
    std::fs::write(w.exports().join("broken.toml"), "lst_id = 3\n").expect("write");

    let mut child = w.spawn_daemon();
    let success = "acsync_runs_total{export=\"vip\",outcome=\"success\"}";
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut text = String::new();
    while std::time::Instant::now() < deadline {
        if let Some((200, body)) = http_get(port, "/metrics") {
            text = body;
            if sample(&text, success).is_some_and(|n| n >= 1.0) {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let health = http_get(port, "/healthz");
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let stopped = child.wait().expect("wait");

    assert!(sample(&text, success).is_some_and(|n| n >= 1.0), "{text}");
    for (series, at_least) in [
        ("acsync_contacts_added_total{export=\"vip\"}", 20.0),
        ("acsync_contacts_updated_total{export=\"vip\"}", 0.0),
        ("acsync_contacts_unsubscribed_total{export=\"vip\"}", 0.0),
        ("acsync_contacts_failed_total{export=\"vip\"}", 0.0),
        ("acsync_api_requests_total{connection=\"sim\"}", 1.0),
        ("acsync_api_limit_answers_total{connection=\"sim\"}", 0.0),
        ("acsync_run_duration_seconds_count{export=\"vip\"}", 1.0),
        (
            "acsync_last_success_timestamp_seconds{export=\"vip\"}",
            1.7e9,
        ),
        ("acsync_config_errors", 1.0),
        ("acsync_export_config_error{export=\"broken\"}", 1.0),
    ] {
        let v = sample(&text, series);
        assert!(
            v.is_some_and(|v| v >= at_least),
            "{series} = {v:?} in\n{text}"
        );
    }
    assert!(text.contains("# TYPE acsync_run_duration_seconds histogram"));
    assert_eq!(health, Some((200, "ok\n".to_string())));
    assert_eq!(stopped.code(), Some(0));
}
