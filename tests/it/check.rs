//! `acsync check`: every validation error is reported as FILE:LINE:COL with
//! the right position; several errors come out of one run; exit codes.

use crate::util::{acsync, lines};

const DIR: &str = "tests/fixtures/check";

/// Checks one export fixture and returns its output lines and exit code.
fn check_export(name: &str) -> (Vec<String>, i32) {
    let file = format!("{DIR}/exports/{name}.toml");
    let out = acsync(&["check", "--config-dir", DIR, &file]);
    (lines(&out), out.status.code().unwrap_or(-1))
}

fn assert_one(name: &str, at: &str, needle: &str) {
    let (lines, code) = check_export(name);
    assert_eq!(code, 1, "{name}: {lines:?}");
    assert_eq!(lines.len(), 1, "{name}: {lines:?}");
    let prefix = format!("{DIR}/exports/{name}.toml:{at}: ");
    assert!(
        lines[0].starts_with(&prefix),
        "{name}: expected {prefix}…, got {}",
        lines[0]
    );
    assert!(
        lines[0].contains(needle),
        "{name}: expected `{needle}` in {}",
        lines[0]
    );
}

#[test]
fn valid_export_passes() {
    let (lines, code) = check_export("good");
    assert_eq!((lines.len(), code), (0, 0), "{lines:?}");
}

#[test]
fn toml_syntax_error_is_located() {
    assert_one("syntax", "3:20", "invalid basic string");
}

#[test]
fn unknown_key_is_located() {
    assert_one(
        "unknown_key",
        "2:1",
        "unknown key `lst_id` (did you mean `list_id`?); allowed here: connection, list_id,",
    );
    let (lines, _) = check_export("unknown_key");
    assert!(
        !lines[0].contains("`api_key`"),
        "never suggest an inline key: {}",
        lines[0]
    );
}

#[test]
fn wrong_type_is_located() {
    assert_one(
        "wrong_type",
        "2:11",
        "`list_id` must be a whole number without quotes, the ActiveCampaign list ID (e.g. list_id = 12), not text",
    );
    let (lines, _) = check_export("wrong_type");
    for internal in ["invalid type", "i64", "twelve"] {
        assert!(!lines[0].contains(internal), "{}", lines[0]);
    }
}

#[test]
fn bad_cron_is_located() {
    assert_one(
        "bad_cron",
        "3:12",
        "bad cron expression `61 * * * *`: the minute field is `61`, out of range: minutes go from 0 to 59",
    );
}

#[test]
fn bad_time_zone_is_located() {
    assert_one("bad_tz", "4:12", "unknown time zone `Europe/Atlantis`");
}

#[test]
fn unknown_connection_is_located() {
    assert_one("unknown_connection", "1:14", "unknown connection `staging`");
}

#[test]
fn connection_allowed_exports_is_enforced() {
    assert_one("not_allowed", "1:14", "does not allow export `not_allowed`");
    let (lines, code) = check_export("marketing/allowed");
    assert_eq!((lines.len(), code), (0, 0), "{lines:?}");
}

#[test]
fn missing_email_mapping_is_located() {
    assert_one("no_email", "9:1", "[mapping] needs `email");
}

#[test]
fn inline_api_key_in_export_is_refused_without_echoing_it() {
    assert_one("inline_key", "3:11", "inline `api_key` is not allowed");
    let (lines, _) = check_export("inline_key");
    assert!(!lines.concat().contains("SECRET123"));
}

#[test]
fn several_errors_in_one_file_come_out_together_in_order() {
    let (lines, code) = check_export("several");
    assert_eq!(code, 1);
    let at: Vec<&str> = lines
        .iter()
        .map(|l| l.trim_start_matches(&format!("{DIR}/exports/several.toml:")))
        .map(|l| l.split(": ").next().unwrap_or_default())
        .collect();
    assert_eq!(
        at,
        [
            "1:14", "2:11", "3:12", "4:12", "5:9", "6:16", "8:1", "10:9", "12:1"
        ],
        "{lines:#?}"
    );
    assert!(lines[2].contains("bad cron expression `* * *`"));
    assert!(lines[7].contains("`query` is not used by source kind csv"));
}

#[test]
fn connection_errors_in_settings_are_all_located() {
    let dir = "tests/fixtures/check-settings";
    let out = acsync(&["check", "--config-dir", dir, &format!("{dir}/acsync.toml")]);
    assert_eq!(out.status.code(), Some(1));
    let text = lines(&out).join("\n");
    let f = format!("{dir}/acsync.toml");
    for (at, needle) in [
        ("2:14", "log_format must be"),
        ("4:1", "connection `nokey` needs exactly one of api_key_env"),
        ("11:16", "`api_key_file` given too"),
        ("16:11", "inline `api_key` is not allowed"),
        ("22:24", "accept_data_transfer must be true"),
        (
            "24:1",
            "connection `missingconsent` needs `accept_data_transfer = true`",
        ),
        ("29:7", "plain http:// to `acme.api-us1.com` is refused"),
        ("34:7", "without a path"),
    ] {
        let line = format!("{f}:{at}: ");
        assert!(
            text.lines()
                .any(|l| l.starts_with(&line) && l.contains(needle)),
            "missing {line}{needle} in\n{text}"
        );
    }
    assert!(
        !text.contains("SECRET123"),
        "the inline key must never be echoed"
    );
    assert!(!text.contains("loopback.toml") && !text.contains("connections.loopback"));
}

#[test]
fn whole_folder_reports_every_bad_file_and_exit_1() {
    let out = acsync(&["check", "--config-dir", DIR]);
    assert_eq!(out.status.code(), Some(1));
    let text = lines(&out).join("\n");
    for bad in [
        "syntax",
        "unknown_key",
        "wrong_type",
        "bad_cron",
        "bad_tz",
        "several",
    ] {
        assert!(
            text.contains(&format!("exports/{bad}.toml:")),
            "{bad} missing:\n{text}"
        );
    }
    assert!(!text.contains("good.toml"));
}

#[test]
fn sample_config_tree_passes() {
    let out = acsync(&["check", "--config-dir", "config"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn config_dir_comes_from_environment() {
    let out = std::process::Command::new(crate::util::bin())
        .args(["check"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("ACSYNC_CONFIG_DIR", "config")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn missing_settings_file_is_an_error_and_usage_errors_exit_2() {
    let empty = tempfile::tempdir().expect("tmp");
    let empty = empty.path().to_str().expect("utf-8 temp path");
    let out = acsync(&["check", "--config-dir", empty]);
    assert_eq!(out.status.code(), Some(1));
    assert!(lines(&out)[0].ends_with("acsync.toml:1:1: file not found"));
    // A folder that does not exist is refused before anything is read.
    let out = acsync(&["check", "--config-dir", "tests/fixtures/nonexistent"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("tests/fixtures/nonexistent (from --config-dir) does not exist"),
        "{stderr}"
    );
    assert_eq!(acsync(&["check", "--bogus"]).status.code(), Some(2));
    assert_eq!(acsync(&["frobnicate"]).status.code(), Some(2));
}

// ---------------------------------------------------------------------------
// Secrets and long values
// ---------------------------------------------------------------------------

/// An ActiveCampaign-shaped key (72 hex digits).
const AC_KEY: &str = "5f1c0a9e3b7d4c2a8e6f0b1d3c5a7e9f2b4d6c8a0e1f3b5d7c9a2e4f6b8d0c1a3e5f7b9d";
/// A base64 token, as other services issue.
const TOKEN: &str = "dGhpcyBpcyBhIHNlY3JldCB0b2tlbiBmb3IgdGVzdGluZw==";

/// A folder whose `acsync.toml` and exports carry `AC_KEY` and `TOKEN` in
/// every kind of place an operator could paste them.
fn pasted_key_folder() -> tempfile::TempDir {
    let settings = format!(
        "[daemon]\nstate_dir = \"state\"\n\n\
         [connections.bare]\nurl = \"{AC_KEY}\"\napi_key_env = \"AC_KEY\"\naccept_data_transfer = true\n\n\
         [connections.host]\nurl = \"https://{AC_KEY}.api-us1.com\"\napi_key_env = \"AC_KEY\"\naccept_data_transfer = true\n\n\
         [connections.path]\nurl = \"https://acme.api-us1.com/{AC_KEY}\"\napi_key_env = \"AC_KEY\"\naccept_data_transfer = true\n\n\
         [connections.query]\nurl = \"https://acme.api-us1.com?api_key={TOKEN}\"\napi_key_env = \"AC_KEY\"\naccept_data_transfer = true\n\n\
         [connections.name]\nurl = \"acme.api-us1.com\"\napi_key_credential = \"{TOKEN}\"\naccept_data_transfer = true\n"
    );
    let (dir, exports) = crate::discovery::config(&settings);
    let export = |first: &str| {
        format!(
            "connection = \"bare\"\n{first}\n\n[source]\nkind = \"csv\"\npath = \"x.csv\"\n\n[mapping]\nemail = \"email\"\n"
        )
    };
    for (name, line) in [
        ("list", format!("list_id = \"{AC_KEY}\"")),
        ("cron", format!("list_id = 1\nschedule = \"{AC_KEY}\"")),
        (
            "tz",
            format!("list_id = 1\nschedule = \"@daily\"\ntimezone = \"{TOKEN}\""),
        ),
        (
            "key",
            format!("list_id = 1\nschedule = \"@daily\"\n{AC_KEY} = 1"),
        ),
        (
            "conn",
            format!("list_id = 1\nschedule = \"@daily\"\nprune = \"{AC_KEY}\""),
        ),
    ] {
        std::fs::write(exports.join(format!("{name}.toml")), export(&line)).expect("export");
    }
    dir
}

fn assert_no_secret(what: &str, out: &str) {
    for secret in [AC_KEY, TOKEN] {
        // Not even a prefix long enough to matter.
        assert!(!out.contains(&secret[..16]), "{what} echoes a key:\n{out}");
    }
}

#[test]
fn a_pasted_key_is_never_echoed_by_check_in_any_format() {
    let dir = pasted_key_folder();
    let plain = crate::discovery::check(dir.path(), &[]);
    let text = crate::discovery::text(&plain);
    assert_eq!(plain.status.code(), Some(1), "{text}");
    assert_no_secret("check", &text);
    let toml = dir.path().join("acsync.toml");
    for at in ["5:7", "10:7", "15:7", "20:7", "26:22"] {
        let prefix = format!("{}:{at}: ", toml.display());
        assert!(
            text.lines().any(|l| l.starts_with(&prefix)),
            "{prefix} missing:\n{text}"
        );
    }
    assert!(
        text.contains("`url` seems to hold an API key (not shown here)"),
        "{text}"
    );
    let github = crate::discovery::check(dir.path(), &["--format", "github"]);
    let annotations = crate::discovery::text(&github);
    assert!(annotations.contains("::error file="), "{annotations}");
    assert_no_secret("check --format github", &annotations);
    // Named files go through the same path.
    let one = dir.path().join("exports/key.toml");
    let named = crate::discovery::check(dir.path(), &[one.to_str().unwrap_or_default()]);
    assert_no_secret("check FILE", &crate::discovery::text(&named));
    // A wrong type stops the parse: its message never quotes the value.
    std::fs::write(
        &toml,
        format!("[connections.rps]\nrequests_per_second = \"{AC_KEY}\"\n"),
    )
    .expect("settings");
    let typed = crate::discovery::text(&crate::discovery::check(dir.path(), &[]));
    assert!(
        typed.contains("2:23: `requests_per_second` must be a whole number"),
        "{typed}"
    );
    assert_no_secret("a type error", &typed);
}

#[test]
fn a_pasted_key_is_never_in_the_daemon_log_or_status_files() {
    let dir = pasted_key_folder();
    let log = crate::discovery::daemon_log(dir.path());
    assert!(log.contains("seems to hold an API key"), "{log}");
    assert_no_secret("the daemon log", &log);
    for name in ["list", "cron", "tz", "key", "conn"] {
        let status =
            std::fs::read_to_string(dir.path().join(format!("exports/{name}.status.json")))
                .unwrap_or_default();
        assert!(status.contains("\"invalid\""), "{name}: {status}");
        assert_no_secret("a status file", &status);
    }
}

#[test]
fn a_5_mb_value_is_cut_in_every_message() {
    let big = "x".repeat(5 << 20);
    let (dir, exports) = crate::discovery::config(&format!(
        "[connections.prod]\nurl = \"{big}\"\napi_key_env = \"AC_KEY\"\naccept_data_transfer = true\n"
    ));
    let body = |line: &str| format!("connection = \"prod\"\nlist_id = 1\n{line}\n");
    for (name, line) in [
        ("cron", format!("schedule = \"{big} * *\"")),
        ("key", format!("schedule = \"@daily\"\n{big} = 1")),
        (
            "prune",
            format!("schedule = \"@daily\"\nprune = \"{big} {big}\""),
        ),
    ] {
        std::fs::write(exports.join(format!("{name}.toml")), body(&line)).expect("export");
    }
    let out = crate::discovery::check(dir.path(), &[]);
    let text = crate::discovery::text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(text.len() < 20_000, "{} bytes of output", text.len());
    for line in text.lines() {
        assert!(line.len() < 1_500, "a {}-byte line", line.len());
        assert!(!line.contains(&"x".repeat(100)), "{line:.200}");
    }
    assert!(
        text.contains(&format!("{}…", "x".repeat(40))),
        "values are cut, with a mark"
    );
}

// ---------------------------------------------------------------------------
// Errors a person understands
// ---------------------------------------------------------------------------

const GOOD_SETTINGS: &str = "[connections.prod]\nurl = \"acme.api-us1.com\"\napi_key_env = \"AC_KEY\"\naccept_data_transfer = true\n";

/// Checks one export text against `GOOD_SETTINGS`; its error lines without the path.
fn check_text(export: &str) -> Vec<String> {
    let (dir, exports) = crate::discovery::config(GOOD_SETTINGS);
    let file = exports.join("x.toml");
    std::fs::write(&file, export).expect("export");
    let out = crate::discovery::check(dir.path(), &[]);
    let prefix = format!("{}:", file.display());
    lines(&out)
        .iter()
        .map(|l| l.trim_start_matches(&prefix).to_string())
        .collect()
}

fn with(first: &str) -> String {
    format!(
        "connection = \"prod\"\nlist_id = 1\n{first}\n\n[source]\nkind = \"csv\"\npath = \"x.csv\"\n\n[mapping]\nemail = \"email\"\n"
    )
}

#[test]
fn cron_errors_name_the_field_and_its_range_and_aliases_are_accepted() {
    for alias in [
        "@yearly",
        "@annually",
        "@monthly",
        "@weekly",
        "@daily",
        "@midnight",
        "@hourly",
    ] {
        let errors = check_text(&with(&format!("schedule = \"{alias}\"")));
        assert!(errors.is_empty(), "{alias}: {errors:?}");
    }
    for (cron, expected) in [
        (
            "0 25 * * *",
            "3:12: bad cron expression `0 25 * * *`: the hour field is `25`, out of range: hours go from 0 to 23",
        ),
        (
            "0 0 32 * *",
            "3:12: bad cron expression `0 0 32 * *`: the day-of-month field is `32`, out of range: day-of-months go from 1 to 31",
        ),
        (
            "0 0 * 13 *",
            "3:12: bad cron expression `0 0 * 13 *`: the month field is `13`, out of range: months go from 1 to 12 (or JAN-DEC)",
        ),
        (
            "* * *",
            "3:12: bad cron expression `* * *`: a schedule has 5 fields (minute hour day-of-month month day-of-week), or 6 with a seconds field first, e.g. \"*/30 * * * *\"; this one has 3",
        ),
        (
            "@nightly",
            "3:12: bad cron expression `@nightly`: unknown schedule alias `@nightly`: use one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, or a cron expression such as \"0 3 * * *\"",
        ),
    ] {
        assert_eq!(
            check_text(&with(&format!("schedule = \"{cron}\""))),
            [expected]
        );
    }
}

#[test]
fn type_errors_are_in_plain_words() {
    for (line, expected) in [
        (
            "schedule = \"@daily\"\nmax_removals = -3.5",
            "4:16: `max_removals` must be a count (e.g. 25) or a percent of current members in quotes (e.g. \"10%\")",
        ),
        (
            "schedule = \"@daily\"\nenabled = \"yes\"",
            "4:11: `enabled` must be true or false (without quotes), not text",
        ),
        (
            "schedule = \"@daily\"\ntags = \"vip\"",
            "4:8: `tags` must be a list of tag names (e.g. [\"vip\", \"newsletter\"]), not text",
        ),
        (
            "schedule = \"@daily\"\nmax_profiles = 99999999999999999999999",
            "4:16: `max_profiles` must be a positive whole number without quotes (e.g. 1000000), not a number too large",
        ),
    ] {
        let errors = check_text(&with(line));
        assert_eq!(errors, [expected]);
        for internal in ["untagged", "RawLimit", "i64", "invalid type", "as i128"] {
            assert!(!errors[0].contains(internal), "{}", errors[0]);
        }
    }
}

#[test]
fn near_misses_get_a_did_you_mean() {
    let errors = check_text(&with("schedule = \"@daily\"\ntime_zone = \"UTC\""));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("4:1: unknown key `time_zone` (did you mean `timezone`?); allowed here: connection, list_id, schedule, timezone,"), "{errors:?}");
    let errors = check_text(&with("schedule = \"@daily\"\ntimezone = \"europe/madird\""));
    assert_eq!(
        errors,
        [
            "4:12: unknown time zone `europe/madird` (did you mean `Europe/Madrid`?) (use an IANA name such as Europe/Madrid)"
        ]
    );
    let errors = check_text(&with("schedule = \"@daily\"\ntimezone = \"Madrid\""));
    assert!(
        errors[0].contains("(did you mean `Europe/Madrid`?)"),
        "{errors:?}"
    );
    let errors = check_text(&with("schedule = \"@daily\"").replace("\"prod\"", "\"prd\""));
    assert_eq!(
        errors,
        ["1:14: unknown connection `prd` (did you mean `prod`?) (acsync.toml defines: prod)"]
    );
    // Export names, for the commands that take one.
    let (dir, exports) = crate::discovery::config(GOOD_SETTINGS);
    std::fs::write(exports.join("vip.toml"), with("schedule = \"@daily\"")).expect("export");
    let out = std::process::Command::new(crate::util::bin())
        .args(["sync", "vpi", "--config-dir"])
        .arg(dir.path())
        .output()
        .expect("sync");
    let text = crate::discovery::text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("no export `vpi` (looked for exports/vpi.toml) (did you mean `vip`?)"),
        "{text}"
    );
}

#[test]
fn a_broken_connection_is_one_error_naming_the_exports_it_skips() {
    let (dir, exports) = crate::discovery::config(
        "[connections.prod]\nurl = \"http://acme.api-us1.com\"\napi_key_env = \"AC_KEY\"\naccept_data_transfer = true\n",
    );
    for name in ["a", "b", "c"] {
        std::fs::write(
            exports.join(format!("{name}.toml")),
            crate::discovery::EXPORT,
        )
        .expect("export");
    }
    std::fs::write(
        exports.join("d.toml"),
        crate::discovery::EXPORT.replace("list_id = 1", "list_id = 0"),
    )
    .expect("export");
    let out = crate::discovery::check(dir.path(), &[]);
    let toml = dir.path().join("acsync.toml");
    let found = lines(&out);
    assert_eq!(
        found,
        [
            format!(
                "{}:2:7: plain http:// to `acme.api-us1.com` is refused: API keys and personal data would cross the network unencrypted; use https:// (http is allowed only for loopback hosts)",
                toml.display()
            ),
            format!(
                "{}:1:1: connection `prod` is invalid (see above): 4 export(s) using it are skipped: a, b, c, d",
                toml.display()
            ),
            format!(
                "{}/d.toml:2:11: list_id must be a positive list ID",
                exports.display()
            ),
        ],
        "one error per root cause"
    );
    // Checked alone, an export still says why it cannot run.
    let alone = crate::discovery::check(
        dir.path(),
        &[exports.join("a.toml").to_str().unwrap_or_default()],
    );
    assert_eq!(
        lines(&alone),
        [format!(
            "{}/a.toml:1:14: connection `prod` is invalid (see acsync.toml): this export is skipped until it is fixed",
            exports.display()
        )]
    );
}

// ---------------------------------------------------------------------------
// `check FILE…` applies the folder's rules to the named files
// ---------------------------------------------------------------------------

/// A folder with export `a` (its text `a`) on connection `prod`.
fn folder_with_a(a: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let (dir, exports) = crate::discovery::config(
        "[connections.prod]\nurl = \"http://127.0.0.1:9\"\napi_key_env = \"AC_KEY\"\naccept_data_transfer = true\n",
    );
    std::fs::write(exports.join("a.toml"), a).expect("a");
    (dir, exports)
}

/// A folder with exports `a` (prune = "all") and `b`, both on list 1.
fn shared_list_folder() -> (tempfile::TempDir, std::path::PathBuf) {
    let a = crate::discovery::EXPORT.replace("list_id = 1\n", "list_id = 1\nprune = \"all\"\n");
    let (dir, exports) = folder_with_a(&a);
    std::fs::write(exports.join("b.toml"), crate::discovery::EXPORT).expect("b");
    (dir, exports)
}

/// `acsync check FILE` in `dir`: the output lines and the exit code.
fn check_named(dir: &std::path::Path, file: &std::path::Path) -> (Vec<String>, i32) {
    let out = crate::discovery::check(dir, &[file.to_str().unwrap_or_default()]);
    (lines(&out), out.status.code().unwrap_or(-1))
}

#[test]
fn a_named_file_with_prune_all_on_a_shared_list_fails() {
    let (dir, exports) = shared_list_folder();
    let a = exports.join("a.toml");
    let expected = format!(
        "{}:3:1: prune = \"all\" on list 1 that export `b` also targets would unsubscribe their members; use prune = \"owned\" on a shared list",
        a.display()
    );
    assert_eq!(
        check_named(dir.path(), &a),
        (vec![expected], 1),
        "the same error as `check` on the folder"
    );
}

#[test]
fn a_named_file_that_makes_another_export_share_a_pruned_list_fails() {
    let (dir, exports) = shared_list_folder();
    // `b` alone is valid, but it joins the list `a` prunes in full.
    let (found, code) = check_named(dir.path(), &exports.join("b.toml"));
    assert_eq!((found.len(), code), (1, 1), "{found:?}");
    assert!(
        found[0].starts_with(&format!("{}:3:1: ", exports.join("a.toml").display())),
        "the error stays where the fix is, on `a`'s prune: {found:?}"
    );
    // A third export on another list is not concerned.
    let c = exports.join("c.toml");
    let on_list_2 = crate::discovery::EXPORT.replace("list_id = 1", "list_id = 2");
    std::fs::write(&c, on_list_2).expect("c");
    assert_eq!(check_named(dir.path(), &c), (vec![], 0));
}

#[test]
fn a_named_file_reached_by_two_paths_fails_as_in_the_folder_check() {
    let (dir, exports) = folder_with_a(crate::discovery::EXPORT);
    let b = exports.join("b.toml");
    std::fs::hard_link(exports.join("a.toml"), &b).expect("link");
    let (found, code) = check_named(dir.path(), &b);
    assert_eq!((found.len(), code), (1, 1), "{found:?}");
    assert!(
        found[0].contains("are the same file") && found[0].starts_with(&b.display().to_string()),
        "{found:?}"
    );
}

// ---------------------------------------------------------------------------
// What every run would fail on: a segment file that cannot be opened, a
// mapped column its header lacks (warnings: the file may exist only on the
// server)
// ---------------------------------------------------------------------------

#[test]
fn a_missing_segment_file_and_a_missing_column_are_warned_at_their_keys() {
    let export = "connection = \"prod\"\nlist_id = 1\nschedule = \"@daily\"\n\n\
                  [source]\nkind = \"csv\"\npath = \"../seg.csv\"\n\n\
                  [mapping]\nemail = \"email\"\nfirst_name = \"first\"\n\n\
                  [mapping.fields]\nCOMPANY = \"Company\"\nTIER = \"tier\"\n";
    let (dir, exports) = folder_with_a(export);
    let a = exports.join("a.toml");
    let out = crate::discovery::check(dir.path(), &[a.to_str().unwrap_or_default()]);
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(0), "a warning: {said}");
    assert!(
        said.contains(&format!(
            "acsync check: warning: {}:7:8: cannot read segment {}",
            a.display(),
            exports.join("../seg.csv").display()
        )),
        "{said}"
    );
    std::fs::write(dir.path().join("seg.csv"), "Email,first_name,company\n").expect("csv");
    let out = crate::discovery::check(dir.path(), &[a.to_str().unwrap_or_default()]);
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(0), "{said}");
    let warned: Vec<&str> = said.lines().filter(|l| l.contains("a.toml:")).collect();
    let at = |pos: &str, column: &str| {
        format!(
            "acsync check: warning: {}:{pos}: segment {}: column \"{column}\" from [mapping] is not in the header (its columns: \"Email\", \"first_name\", \"company\")",
            a.display(),
            exports.join("../seg.csv").display()
        )
    };
    // `email` and `Company` match as a run matches them (case, spaces).
    assert_eq!(warned, [at("11:14", "first"), at("15:8", "tier")], "{said}");
    let out = crate::discovery::check(dir.path(), &["--format", "github"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("::warning file={},line=11,col=14,", a.display())),
        "{text}"
    );
}

#[test]
fn every_unknown_key_and_wrong_type_of_a_file_is_reported_with_its_other_errors() {
    let export = "connection = \"prod\"\nlst_id = 1\nlist_id = 2\nenabled = \"yes\"\n\
                  schedule = \"61 * * * *\"\n\n[sourc]\nkind = \"csv\"\n\n\
                  [source]\nkind = \"csv\"\npath = \"x.csv\"\n\n\
                  [mapping]\nemail = \"email\"\nphone = 3\n";
    let (dir, exports) = folder_with_a(export);
    let (found, code) = check_named(dir.path(), &exports.join("a.toml"));
    assert_eq!(code, 1);
    let at: Vec<&str> = found
        .iter()
        .filter_map(|l| l.split("a.toml:").nth(1))
        .filter_map(|l| l.split(": ").next())
        .collect();
    // The unknown `[sourc]` table is one error, not one per key in it; a
    // blanked key is not reported missing as well.
    assert_eq!(at, ["2:1", "4:11", "5:12", "7:2", "16:9"], "{found:#?}");
    assert!(
        found[1].contains("`enabled` must be true or false"),
        "{found:#?}"
    );
    assert!(found[2].contains("bad cron expression"), "{found:#?}");
}

/// A key variable missing from the environment fails every run: `check`
/// says so (a warning: the service's environment may set it) at
/// `api_key_env` in acsync.toml, and its summary says what was checked.
#[test]
fn a_missing_key_variable_is_located_at_api_key_env() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("exports")).expect("exports");
    let settings = "[daemon]\nstate_dir = \"state\"\n\n[connections.main]\nurl = \"acme.api-us1.com\"\napi_key_env = \"ACSYNC_TEST_UNSET_KEY\"\naccept_data_transfer = true\n";
    std::fs::write(dir.path().join("acsync.toml"), settings).expect("settings");
    let out = std::process::Command::new(crate::util::bin())
        .args(["check", "--config-dir"])
        .arg(dir.path())
        .env_remove("ACSYNC_TEST_UNSET_KEY")
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let at = format!("{}:6:15: ", dir.path().join("acsync.toml").display());
    assert!(
        err.lines()
            .any(|l| l.starts_with(&format!("acsync check: warning: {at}"))
                && l.contains("`ACSYNC_TEST_UNSET_KEY` is not set")),
        "{err}"
    );
    assert!(err.contains("0 file(s) valid offline, "), "{err}");
}

/// A folder with the fixtures' `acsync.toml` and an empty `exports/`.
fn folder_of_fixture_settings() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("exports")).expect("exports");
    std::fs::copy(
        crate::util::repo(&format!("{DIR}/acsync.toml")),
        dir.path().join("acsync.toml"),
    )
    .expect("settings");
    dir
}

/// A value of the wrong type does not hide the other errors of its file:
/// a key missing from another table is reported with it (while the key
/// blanked for its type error is not reported a second time as missing).
#[test]
fn a_wrong_type_hides_no_missing_key_of_another_table() {
    let dir = folder_of_fixture_settings();
    let export = "connection = \"prod\"\nlist_id = \"x\"\nschedule = \"@hourly\"\n\n[source]\nkind = \"csv\"\npath = \"a.csv\"\n\n[mapping]\nfirst_name = \"first\"\n";
    let file = dir.path().join("exports/a.toml");
    std::fs::write(&file, export).expect("export");
    let out = acsync(&[
        "check",
        "--config-dir",
        &dir.path().to_string_lossy(),
        &file.to_string_lossy(),
    ]);
    let lines = lines(&out);
    let at: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix(&format!("{}:", file.display())))
        .map(|l| l.split(": ").next().unwrap_or_default())
        .collect();
    assert_eq!(at, ["2:11", "9:1"], "{lines:#?}");
    assert!(lines[1].contains("[mapping] needs `email"), "{lines:#?}");
}

/// An export file with an error still has its segment checked: a bad
/// schedule does not hide that the segment file is missing.
#[test]
fn an_invalid_export_still_has_its_segment_checked() {
    let dir = folder_of_fixture_settings();
    let export = "connection = \"prod\"\nlist_id = 3\nschedule = \"61 * * * *\"\n\n[source]\nkind = \"csv\"\npath = \"../segments/none.csv\"\n\n[mapping]\nemail = \"email\"\n";
    let file = dir.path().join("exports/a.toml");
    std::fs::write(&file, export).expect("export");
    let out = acsync(&["check", "--config-dir", &dir.path().to_string_lossy()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "warning: {}:7:8: cannot read segment",
            file.display()
        )),
        "{err}"
    );
    assert!(
        lines(&out)
            .iter()
            .any(|l| l.contains("bad cron expression"))
    );
}
