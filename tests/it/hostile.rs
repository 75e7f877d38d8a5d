//! Bad input: configuration fuzzing, a corpus of hostile segment
//! files, and a status folder that becomes read-only or full.
//!
//! * Fuzzing (proptest): export and `acsync.toml` texts built from a
//!   vocabulary of good and bad keys, values and sections, plus random edits
//!   of a valid export. Validation never panics, every error is located
//!   inside the text (line ≥ 1, column ≥ 1, on a line that exists, at most one
//!   past its end), and an inline `api_key` value is never echoed. Cases:
//!   256 by default, 4,096 with `ACSYNC_FULL_TRIALS=1`. And values of 1 MiB
//!   in any key of either file (as text, a list, a number or a key name)
//!   never come back in a message beyond a short prefix (24 cases, 256 full).
//! * The corpus (`tests/fixtures/segments/`, big files generated here): each
//!   file ends in one asserted outcome with its counts and messages.
//! * Status folder: blocked by a file (always), read-only and full (a
//!   read-only bind mount and a full tmpfs in a private mount namespace, when
//!   `unshare -m` is allowed: tests run as root, which ignores permissions),
//!   for `acsync sync` (the run does its work, logs the status error, exits
//!   on its outcome) and `acsync daemon` (keeps running and syncing, logs
//!   each outcome, writes the status again once the folder is repaired from
//!   inside its namespace with `nsenter`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use acsync::config::validate;
use acsync::config::{Located, Settings};
use acsync::run::RunReport;
use acsync::status::Outcome;
use proptest::prelude::*;

use crate::harness::World;
use crate::util::{bin, fixture, trials};

// ---------------------------------------------------------------------------
// Configuration fuzzing
// ---------------------------------------------------------------------------

/// A value an inline `api_key` may hold in the fuzzed texts: never echoed.
const FUZZ_SECRET: &str = "sekrit0fuzz";

const EXPORT_KEYS: &[&str] = &[
    "connection",
    "list_id",
    "schedule",
    "timezone",
    "enabled",
    "prune",
    "max_removals",
    "max_profiles",
    "allow_empty",
    "exclude_automations",
    "tags",
    "full_read_every",
    "api_key",
    "kind",
    "path",
    "query",
    "url_env",
    "url",
    "statement_timeout",
    "email",
    "first_name",
    "last_name",
    "phone",
    "COMPANY",
    "42",
    "bad key",
    "ключ",
    "a.b.c",
    "\"quoted key\"",
    "",
];

const SETTINGS_KEYS: &[&str] = &[
    "state_dir",
    "log_format",
    "status_dir",
    "metrics_listen",
    "url",
    "api_key_env",
    "api_key_file",
    "api_key_credential",
    "api_key",
    "accept_data_transfer",
    "requests_per_second",
    "allowed_exports",
    "unknown",
];

const VALUES: &[&str] = &[
    "\"sim\"",
    "\"prod\"",
    "12",
    "-3",
    "0",
    "99999999999999999999999",
    "true",
    "\"true\"",
    "\"*/30 * * * *\"",
    "\"@hourly\"",
    "\"61 * * * *\"",
    "\"* * *\"",
    "\"Europe/Madrid\"",
    "\"Mars/Olympus\"",
    "\"10%\"",
    "\"150%\"",
    "\"-5%\"",
    "\"x%\"",
    "\"24h\"",
    "\"0\"",
    "\"forever\"",
    "[\"vip\", 1]",
    "[\"\", \"vip\"]",
    "[]",
    "{ a = 1 }",
    "\"unterminated",
    "'''multi\nline'''",
    "\"\"\"\nmore\n\"\"\"",
    "\"\\u0000\"",
    "\"bad \\q escape\"",
    "\"😀 emoji\"",
    "1979-05-27T07:32:00Z",
    "nan",
    "-inf",
    "0x1F",
    "1e400",
    "\"csv\"",
    "\"postgres\"",
    "\"https://acme.api-us1.com\"",
    "\"http://acme.api-us1.com\"",
    "\"http://user:pw@127.0.0.1:1\"",
    "\"ftp://x.y\"",
    "\"acme\"",
    "\"../segments/vip.csv\"",
    "\"127.0.0.1:9464\"",
    "\"[*\"",
    "\"sekrit0fuzz\"",
    "",
];

const HEADERS: &[&str] = &[
    "[source]",
    "[mapping]",
    "[mapping.fields]",
    "[[source]]",
    "[source.x]",
    "[daemon]",
    "[connections.sim]",
    "[connections.\"bad name\"]",
    "[connections]",
    "[",
    "[]]",
    "[mapping",
    "[[]]",
];

/// One line of a fuzzed TOML text.
fn arb_line(keys: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        6 => (prop::sample::select(keys), prop::sample::select(VALUES))
            .prop_map(|(k, v)| format!("{k} = {v}")),
        1 => prop::sample::select(VALUES).prop_map(|v| format!("api_key = {v}")),
        2 => prop::sample::select(HEADERS).prop_map(str::to_string),
        1 => "\\PC{0,24}",
        1 => prop::sample::select(&["", "# comment", "\t", "\r", "=", "\"", "\u{0}", "\u{feff}"][..])
            .prop_map(str::to_string),
    ]
}

fn arb_text(keys: &'static [&'static str]) -> impl Strategy<Value = String> {
    (
        prop::collection::vec(arb_line(keys), 0..24),
        prop::sample::select(&["\n", "\r\n"][..]),
    )
        .prop_map(|(lines, nl)| lines.join(nl))
}

/// Values that parse as TOML (so the structured texts reach validation).
const TOML_VALUES: &[&str] = &[
    "\"sim\"",
    "\"prod\"",
    "12",
    "-3",
    "0",
    "true",
    "\"*/30 * * * *\"",
    "\"@hourly\"",
    "\"61 * * * *\"",
    "\"Europe/Madrid\"",
    "\"Mars/Olympus\"",
    "\"10%\"",
    "\"150%\"",
    "\"x%\"",
    "\"24h\"",
    "\"0\"",
    "[\"vip\", 1]",
    "[\"\", \"vip\"]",
    "[]",
    "{ a = 1 }",
    "\"\\u0000\"",
    "\"😀 emoji\"",
    "1979-05-27T07:32:00Z",
    "nan",
    "\"csv\"",
    "\"jsonl\"",
    "\"sqlite\"",
    "\"postgres\"",
    "\"\"",
    "\"   \"",
    "\"../segments/vip.csv\"",
    "\"select 1\"",
    "\"DB_URL\"",
    "\"sekrit0fuzz\"",
];

const TOP_KEYS: &[&str] = &[
    "connection",
    "list_id",
    "schedule",
    "timezone",
    "enabled",
    "prune",
    "max_removals",
    "max_profiles",
    "allow_empty",
    "exclude_automations",
    "tags",
    "full_read_every",
    "api_key",
    "lst_id",
];
const SOURCE_KEYS: &[&str] = &[
    "kind",
    "path",
    "query",
    "url_env",
    "url",
    "statement_timeout",
    "extra",
];
const MAPPING_KEYS: &[&str] = &["email", "first_name", "last_name", "phone", "mail"];
const FIELD_KEYS: &[&str] = &["COMPANY", "42", "bad-tag", "\"with space\"", "ü"];

/// `key = value` lines for a subset of `keys` (each at most once).
fn arb_table(keys: &'static [&'static str]) -> impl Strategy<Value = Vec<String>> {
    prop::sample::subsequence(keys, 0..=keys.len()).prop_flat_map(|ks| {
        let n = ks.len();
        prop::collection::vec(prop::sample::select(TOML_VALUES), n).prop_map(move |vs| {
            ks.iter()
                .zip(vs)
                .map(|(k, v)| format!("{k} = {v}"))
                .collect()
        })
    })
}

/// A structurally valid TOML export (unique keys, known sections, mostly)
/// with arbitrary values: these reach the semantic checks.
fn arb_structured_export() -> impl Strategy<Value = String> {
    (
        arb_table(TOP_KEYS),
        prop::option::of(arb_table(SOURCE_KEYS)),
        prop::option::of(arb_table(MAPPING_KEYS)),
        prop::option::of(arb_table(FIELD_KEYS)),
    )
        .prop_map(|(top, source, mapping, fields)| {
            let mut out = top;
            for (header, table) in [
                ("[source]", source),
                ("[mapping]", mapping),
                ("[mapping.fields]", fields),
            ] {
                if let Some(t) = table {
                    out.push(String::new());
                    out.push(header.to_string());
                    out.extend(t);
                }
            }
            out.join("\n")
        })
}

/// A valid export text (against [`fuzz_settings`]).
const VALID_EXPORT: &str = "connection = \"sim\"\nlist_id = 12\nschedule = \"*/30 * * * *\"\ntimezone = \"Europe/Madrid\"\nprune = \"owned\"\nmax_removals = \"10%\"\ntags = [\"vip\"]\n\n[source]\nkind = \"csv\"\npath = \"../segments/vip.csv\"\n\n[mapping]\nemail = \"EmailAddress\"\nfirst_name = \"FirstName\"\n\n[mapping.fields]\nCOMPANY = \"CompanyName\"\n";

/// One random edit of a text: insert, delete or replace at a char boundary.
#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, String),
    Delete(usize, usize),
    DuplicateLine(usize),
}

fn arb_edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), "\\PC{1,6}|[\"'\\[\\]={}#\\\\\n\r\t]{1,3}")
            .prop_map(|(at, s)| Edit::Insert(at, s)),
        (any::<usize>(), 1..12usize).prop_map(|(at, n)| Edit::Delete(at, n)),
        any::<usize>().prop_map(Edit::DuplicateLine),
    ]
}

fn apply_edits(text: &str, edits: &[Edit]) -> String {
    let mut s = text.to_string();
    for e in edits {
        let bounds: Vec<usize> = s.char_indices().map(|(i, _)| i).chain([s.len()]).collect();
        let at = |i: usize| bounds[i % bounds.len()];
        match e {
            Edit::Insert(i, ins) => s.insert_str(at(*i), ins),
            Edit::Delete(i, n) => {
                let start = at(*i);
                let end = bounds
                    .iter()
                    .copied()
                    .find(|&b| b >= start + n)
                    .unwrap_or(s.len());
                s.replace_range(start..end, "");
            }
            Edit::DuplicateLine(i) => {
                let lines: Vec<&str> = s.split('\n').collect();
                let l = lines[i % lines.len()].to_string();
                s = format!("{l}\n{s}");
            }
        }
    }
    s
}

/// The settings fuzzed exports are validated against: one connection `sim`.
fn fuzz_settings() -> Settings {
    let s = Settings::from_source(
        Path::new("/cfg/acsync.toml"),
        "[connections.sim]\nurl = \"https://acme.api-us1.com\"\napi_key_env = \"AC_KEY\"\naccept_data_transfer = true\n",
        Path::new("/cfg"),
    );
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    s
}

/// Checks one error against its text: in `file`, at a line that exists and a
/// column at most one past that line's end, with a message, and never
/// echoing an inline key.
fn located(e: &Located, file: &Path, src: &str) -> Result<(), TestCaseError> {
    let lines: Vec<&str> = src.split('\n').collect();
    prop_assert_eq!(&e.file, file);
    prop_assert!(
        e.line >= 1 && e.line <= lines.len(),
        "line {} of {}: {}",
        e.line,
        lines.len(),
        e
    );
    let width = lines[e.line - 1].chars().count();
    prop_assert!(
        e.col >= 1 && e.col <= width + 1,
        "col {} of {}: {}",
        e.col,
        width,
        e
    );
    prop_assert!(!e.message.trim().is_empty(), "empty message at {}", e);
    // The secret only under `api_key` (elsewhere, a wrong type may quote it).
    if src.matches(FUZZ_SECRET).count() == 1
        && src.contains(&format!("api_key = \"{FUZZ_SECRET}\""))
    {
        prop_assert!(!e.message.contains(FUZZ_SECRET), "inline key echoed: {}", e);
    }
    Ok(())
}

fn check_export(src: &str) -> Result<(), TestCaseError> {
    let file = Path::new("/cfg/exports/fuzz.toml");
    if let Err(errors) = validate::export("fuzz", file, src, &fuzz_settings()) {
        prop_assert!(!errors.is_empty(), "an invalid export names its errors");
        for e in &errors {
            located(e, file, src)?;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(trials(256, 4096) as u32))]

    #[test]
    fn fuzzed_export_texts_never_panic_and_every_error_is_located(src in arb_text(EXPORT_KEYS)) {
        check_export(&src)?;
    }

    #[test]
    fn structured_exports_never_panic_and_every_error_is_located(src in arb_structured_export()) {
        check_export(&src)?;
    }

    #[test]
    fn edited_valid_exports_never_panic_and_every_error_is_located(
        edits in prop::collection::vec(arb_edit(), 1..6),
    ) {
        check_export(&apply_edits(VALID_EXPORT, &edits))?;
    }

    #[test]
    fn fuzzed_settings_never_panic_and_every_error_is_located(src in arb_text(SETTINGS_KEYS)) {
        let file = Path::new("/cfg/acsync.toml");
        let s = Settings::from_source(file, &src, Path::new("/cfg"));
        for e in &s.errors {
            located(e, file, &src)?;
        }
    }
}

#[test]
fn the_valid_export_used_for_fuzzing_is_valid() {
    // Otherwise the edit fuzzing would only ever see broken files.
    let file = Path::new("/cfg/exports/fuzz.toml");
    validate::export("fuzz", file, VALID_EXPORT, &fuzz_settings()).expect("valid");
}

#[test]
fn an_inline_api_key_is_refused_without_echoing_it() {
    let file = Path::new("/cfg/exports/fuzz.toml");
    for line in [
        format!("api_key = \"{FUZZ_SECRET}\""),
        format!("api_key = [\"{FUZZ_SECRET}\"]"),
    ] {
        let src = format!("{line}\n{VALID_EXPORT}");
        let errors = validate::export("fuzz", file, &src, &fuzz_settings()).expect_err("refused");
        assert_eq!(errors[0].line, 1, "{errors:?}");
        assert!(errors[0].message.contains("api_key"), "{errors:?}");
        assert!(!format!("{errors:?}").contains(FUZZ_SECRET));
    }
}

/// A valid `acsync.toml` (the fuzzed big values go into it).
const VALID_SETTINGS: &str = "[daemon]\nstate_dir = \"state\"\nlog_format = \"text\"\nmetrics_listen = \"127.0.0.1:9464\"\n\n[connections.sim]\nurl = \"https://acme.api-us1.com\"\napi_key_env = \"AC_KEY\"\naccept_data_transfer = true\nrequests_per_second = 5\nallowed_exports = [\"*\"]\n";

/// 1 MiB: no message may quote a value of this size.
const BIG: usize = 1 << 20;

/// `text` with the value of its `n`th `key = value` line (mod their count)
/// replaced by `value` (as a string, a bare number or a list), or with a
/// `value = 1` line added when `as_key` (the value as a key name).
fn with_big(text: &str, n: usize, value: &str, shape: u8) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let slots: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].contains(" = "))
        .collect();
    let i = slots[n % slots.len()];
    let key = lines[i].split(" = ").next().unwrap_or_default().to_string();
    match shape % 4 {
        0 => lines[i] = format!("{key} = \"{value}\""),
        1 => lines[i] = format!("{key} = [\"{value}\"]"),
        2 => lines[i] = format!("{key} = {}", "9".repeat(value.len())),
        _ => {
            let bare: String = value
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect();
            let name = if bare.is_empty() {
                "k".repeat(BIG)
            } else {
                bare
            };
            lines.insert(i + 1, format!("{name} = 1"));
        }
    }
    lines.join("\n")
}

/// No message holds 64 characters of the big value `unit`*N, nor is longer
/// than the 1,000-character cap (+ its `…`).
fn never_echoed(errors: &[Located], unit: &str) -> Result<(), TestCaseError> {
    let big = unit.repeat(64 / unit.len() + 2);
    let windows: Vec<&str> = (0..unit.len()).map(|p| &big[p..p + 64]).collect();
    for e in errors {
        for text in [e.message.clone(), e.to_string()] {
            prop_assert!(text.len() < 4_200, "a {}-byte message", text.len());
            for w in &windows {
                prop_assert!(!text.contains(w), "echoed: {:.300}", text);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(trials(24, 256) as u32))]

    #[test]
    fn no_value_of_1_mb_is_ever_echoed(
        unit in "[a-zA-Z0-9 ./:@%*#=,_-]{1,12}",
        n in any::<usize>(),
        shape in any::<u8>(),
        settings in any::<bool>(),
    ) {
        let value = unit.repeat(BIG / unit.len() + 1);
        if settings {
            let src = with_big(VALID_SETTINGS, n, &value, shape);
            let s = Settings::from_source(Path::new("/cfg/acsync.toml"), &src, Path::new("/cfg"));
            never_echoed(&s.errors, &unit)?;
        } else {
            let src = with_big(VALID_EXPORT, n, &value, shape);
            let file = Path::new("/cfg/exports/fuzz.toml");
            if let Err(errors) = validate::export("fuzz", file, &src, &fuzz_settings()) {
                never_echoed(&errors, &unit)?;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Hostile segment files
// ---------------------------------------------------------------------------

/// A world whose export `vip` reads `segments/vip.csv` = `bytes`, synced once
/// in-process.
async fn sync_bytes(bytes: &[u8]) -> (World, RunReport) {
    let w = World::new().await;
    std::fs::write(w.root().join("segments/vip.csv"), bytes).expect("segment");
    w.write_export("vip", "");
    let r = w.sync("vip").await;
    (w, r)
}

/// [`sync_bytes`] with `tests/fixtures/segments/NAME`.
async fn sync_fixture(name: &str) -> (World, RunReport) {
    let bytes = std::fs::read(fixture(&format!("segments/{name}"))).expect("fixture");
    sync_bytes(&bytes).await
}

/// (source_rows, profiles, invalid_rows, duplicate_rows, added, failed).
fn counts(r: &RunReport) -> (u64, u64, u64, u64, u64, u64) {
    let l = &r.last_run;
    (
        l.source_rows,
        l.profiles,
        l.invalid_rows,
        l.duplicate_rows,
        l.added,
        l.failed,
    )
}

/// Reported rows and reasons.
fn reasons(r: &RunReport) -> Vec<(Option<u64>, String)> {
    r.last_run
        .failures
        .iter()
        .map(|f| (f.row, f.reason.clone()))
        .collect()
}

fn first_name(w: &World, email: &str) -> Option<String> {
    w.sim.contact(email).map(|c| c.first_name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn utf8_bom_is_not_part_of_the_first_column_name() {
    let (w, r) = sync_fixture("bom.csv").await;
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
    assert_eq!(counts(&r), (3, 3, 0, 0, 3, 0));
    assert_eq!(
        w.active(),
        ["ann@example.com", "bob@example.com", "cat@example.com"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crlf_line_ends_leave_no_carriage_return_in_values() {
    let (w, r) = sync_fixture("crlf.csv").await;
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
    // The blank line is skipped, not a row.
    assert_eq!(counts(&r), (3, 3, 0, 0, 3, 0));
    let c = w.sim.contact("cat@example.com").expect("cat");
    assert_eq!((c.first_name.as_str(), c.last_name.as_str()), ("Cat", "C"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_bytes_make_an_email_invalid_and_travel_escaped_in_a_name() {
    let (w, r) = sync_fixture("nul.csv").await;
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
    assert_eq!(counts(&r), (4, 3, 1, 0, 3, 0));
    assert_eq!(reasons(&r), [(Some(3), "invalid email".to_string())]);
    assert_eq!(r.last_run.failures[0].email, "b***@example.com");
    // A NUL inside a name is data: sent JSON-escaped, stored as is.
    assert_eq!(first_name(&w, "cat@example.com").as_deref(), Some("C\0at"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_rows_are_reported_with_their_column() {
    let (w, r) = sync_fixture("invalid-utf8.csv").await;
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
    // A bad name costs the name, not the member; a bad email costs the row.
    assert_eq!(counts(&r), (4, 3, 1, 0, 3, 0));
    assert_eq!(
        reasons(&r),
        [
            (
                Some(3),
                "column \"first_name\" is not valid UTF-8; not sent".to_string()
            ),
            (Some(4), "column \"email\" is not valid UTF-8".to_string()),
        ]
    );
    assert_eq!(
        w.active(),
        ["ann@example.com", "bob@example.com", "dan@example.com"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quoted_newlines_and_quotes_stay_inside_their_field() {
    let (w, r) = sync_fixture("quoted-newlines.csv").await;
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
    assert_eq!(counts(&r), (3, 3, 0, 0, 3, 0));
    let ann = w.sim.contact("ann@example.com").expect("ann");
    assert_eq!(ann.first_name, "Ann\nMarie");
    assert_eq!(ann.last_name, "A, the \"first\"");
    let bob = w.sim.contact("bob@example.com").expect("bob");
    assert_eq!(bob.last_name, "multi\r\nline\nname");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_email_column_fails_the_run_before_any_request() {
    let w = World::new().await;
    std::fs::copy(
        fixture("segments/missing-email.csv"),
        w.root().join("segments/vip.csv"),
    )
    .expect("copy");
    w.write_export("vip", "");
    w.sim.reset_ledger();
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Failed);
    let err = r.last_run.error.clone().unwrap_or_default();
    assert!(
        err.contains("vip.csv") && err.contains("column \"email\"") && err.contains("header"),
        "{err}"
    );
    assert_eq!(w.sim.ledger().total, 0, "touches nothing, not even a read");
    assert_eq!(w.status_json("vip")["last_run"]["outcome"], "failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn international_and_emoji_addresses_are_sent_or_refused_by_name() {
    let (w, r) = sync_fixture("international.csv").await;
    // The emoji address passes acsync's check (UTF-8 local parts are allowed)
    // but ActiveCampaign refuses it: partial, listed with the server's reason.
    assert_eq!(r.outcome, Outcome::Partial, "{:?}", r.last_run.error);
    assert_eq!(counts(&r), (6, 5, 1, 0, 4, 1));
    let reasons = reasons(&r);
    assert_eq!(reasons[0], (Some(6), "invalid email".to_string()));
    assert_eq!(reasons[1].0, Some(4));
    assert!(reasons[1].1.contains("invalid"), "{reasons:?}");
    assert_eq!(
        w.active(),
        [
            "josé@exämple.com",
            "müller@bücher.de",
            "plain@example.com",
            "用户@例子.广告"
        ]
    );
    // Lowercased (Unicode), names kept byte for byte.
    assert_eq!(first_name(&w, "josé@exämple.com").as_deref(), Some("José"));
    assert_eq!(first_name(&w, "plain@example.com").as_deref(), Some("😀😀"));
    let status = w.status_json("vip").to_string();
    assert!(
        !status.contains("zoë🎉@"),
        "the refused address is masked in the status file"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_10_mb_field_is_ignored_unmapped_and_refused_alone_when_mapped() {
    let big = |c: &str| c.repeat(10 << 20);
    let mut csv = String::from("email,first_name,last_name,notes\nann@example.com,Ann,A,short\n");
    csv.push_str(&format!("bob@example.com,Bob,B,{}\n", big("x")));
    csv.push_str(&format!("cat@example.com,{},C,short\n", big("y")));
    for i in 0..12 {
        csv.push_str(&format!("u{i}@example.com,U{i},V,w\n"));
    }
    let (w, r) = sync_bytes(csv.as_bytes()).await;
    assert_eq!(r.outcome, Outcome::Partial, "{:?}", r.last_run.error);
    assert_eq!(counts(&r), (15, 15, 0, 0, 14, 1));
    let reasons = reasons(&r);
    assert_eq!(reasons.len(), 1);
    assert_eq!(reasons[0].0, Some(4), "the line with the 10 MB name");
    assert!(reasons[0].1.contains("399,999 bytes"), "{reasons:?}");
    // The 10 MB unmapped column is never sent; the batch-mates all landed.
    assert_eq!(first_name(&w, "bob@example.com").as_deref(), Some("Bob"));
    assert!(w.sim.contact("cat@example.com").is_none());
    assert_eq!(w.active().len(), 14);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_duplicate_rows_become_one_contact() {
    let w = World::new().await;
    {
        use std::io::Write;
        let file = std::fs::File::create(w.root().join("segments/vip.csv")).expect("csv");
        let mut f = std::io::BufWriter::new(file);
        writeln!(f, "email,first_name,last_name").expect("write");
        for i in 0..1_000_000u32 {
            // Case and spaces vary: still one email.
            let email = ["dup@example.com", " Dup@Example.COM", "DUP@example.com "][i as usize % 3];
            writeln!(f, "{email},Dup{i},Row").expect("write");
        }
    }
    w.write_export("vip", "");
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Success, "{:?}", r.last_run.error);
    assert_eq!(counts(&r), (1_000_000, 1, 0, 999_999, 1, 0));
    assert_eq!(w.sim.contact_count(), 1);
    // First row wins; samples are capped.
    assert_eq!(first_name(&w, "dup@example.com").as_deref(), Some("Dup0"));
    let s = w.status_json("vip");
    assert_eq!(
        s["last_run"]["failures"].as_array().map(Vec::len),
        Some(acsync::status::MAX_FAILURES)
    );
    assert_eq!(s["last_run"]["duplicate_rows"], 999_999);
}

// ---------------------------------------------------------------------------
// A status folder that cannot be written
// ---------------------------------------------------------------------------

/// `acsync.toml` with status files in `status/` (mirroring `exports/`).
fn settings_with_status_dir(w: &World) {
    let toml = format!(
        "[daemon]\nstate_dir = \"state\"\nstatus_dir = \"status\"\n\n[connections.sim]\nurl = \"{}\"\napi_key_file = \"sim.key\"\naccept_data_transfer = true\nrequests_per_second = 100\n",
        w.sim.base_url()
    );
    std::fs::write(w.root().join("acsync.toml"), toml).expect("settings");
}

fn status_file(w: &World) -> PathBuf {
    w.root().join("status/vip.status.json")
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A world with 5 profiles (single-contact writes: quick) synced once, its
/// status in `status/`.
async fn status_world() -> World {
    let w = World::new().await;
    settings_with_status_dir(&w);
    w.write_people("vip", &World::people(0..5));
    w.write_export("vip", "");
    let out = w.acsync(&["sync", "vip"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(status_file(&w).is_file());
    w
}

/// After a run whose status could not be written: the run itself did its
/// work and said so (outcome on stdout, the status error on stderr), exit 0
/// since the outcome was success, and the old status file is intact.
fn assert_ran_without_status(w: &World, out: &Output, old: &[u8], people: usize) {
    let all = text(out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(
        all.contains("vip: success") && all.contains("cannot write the status file"),
        "{all}"
    );
    assert_eq!(w.active().len(), people, "the run applied its changes");
    let now = std::fs::read(status_file(w)).unwrap_or_default();
    assert_eq!(now, old, "the previous status file is left whole");
}

/// Once writable again, the next run writes the status.
fn assert_status_written_again(w: &World, people: usize) {
    let out = w.acsync(&["sync", "vip"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(status_file(w)).expect("status")).expect("json");
    assert_eq!(s["last_run"]["outcome"], "success");
    assert_eq!(s["last_run"]["profiles"], people as u64);
    let leftovers: Vec<_> = std::fs::read_dir(w.root().join("status"))
        .expect("status dir")
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_folder_replaced_by_a_file_does_not_stop_the_run() {
    let w = status_world().await;
    // Root ignores permissions, not file types: the folder becomes a file.
    let dir = w.root().join("status");
    std::fs::rename(&dir, w.root().join("status.saved")).expect("move");
    std::fs::write(&dir, b"not a folder").expect("blocker");
    w.write_people("vip", &World::people(0..7));
    let out = w.acsync(&["sync", "vip"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(
        all.contains("vip: success") && all.contains("cannot write the status file"),
        "{all}"
    );
    assert_eq!(w.active().len(), 7);
    std::fs::remove_file(&dir).expect("rm blocker");
    std::fs::rename(w.root().join("status.saved"), &dir).expect("restore");
    assert_status_written_again(&w, 7);
}

/// Whether this process may make private mount namespaces (root in most
/// containers and CI runners; not everywhere).
fn can_unshare() -> bool {
    Command::new("unshare")
        .args(["-m", "true"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `acsync sync vip` in a private mount namespace, after `setup` (shell) ran
/// there: mounts it makes are seen by this one process only.
fn sync_in_namespace(w: &World, setup: &str) -> Output {
    Command::new("unshare")
        .args(["-m", "sh", "-c"])
        .arg(format!("{setup} && exec \"$@\""))
        .arg("sh")
        .arg(bin())
        .args(["sync", "vip", "--config-dir"])
        .arg(w.root())
        .env_remove("RUST_LOG")
        .env_remove("ACSYNC_CONFIG_DIR")
        .output()
        .expect("unshare")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_folder_that_becomes_read_only_does_not_stop_the_run() {
    if !can_unshare() {
        eprintln!("SKIPPED: no private mount namespace here (unshare -m)");
        return;
    }
    let w = status_world().await;
    let old = std::fs::read(status_file(&w)).expect("status");
    w.write_people("vip", &World::people(0..6));
    let dir = w.root().join("status");
    let d = dir.display();
    let out = sync_in_namespace(
        &w,
        &format!("mount --bind '{d}' '{d}' && mount -o remount,bind,ro '{d}'"),
    );
    assert!(
        text(&out).contains("Read-only file system"),
        "{}",
        text(&out)
    );
    assert_ran_without_status(&w, &out, &old, 6);
    assert_status_written_again(&w, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_folder_on_a_full_disk_does_not_stop_the_run() {
    if !can_unshare() {
        eprintln!("SKIPPED: no private mount namespace here (unshare -m)");
        return;
    }
    let w = status_world().await;
    let old = std::fs::read(status_file(&w)).expect("status");
    w.write_people("vip", &World::people(0..6));
    let dir = w.root().join("status");
    let d = dir.display();
    // A 16 kB tmpfs over the status folder, filled up.
    let out = sync_in_namespace(
        &w,
        &format!(
            "mount -t tmpfs -o size=16k tmpfs '{d}' && (dd if=/dev/zero of='{d}/fill' bs=1k count=64 2>/dev/null; true)"
        ),
    );
    let all = text(&out);
    assert!(all.contains("No space left on device"), "{all}");
    // The tmpfs hid the old status file from the run; outside, it is intact.
    assert_ran_without_status(&w, &out, &old, 6);
    assert_status_written_again(&w, 6);
}

/// The daemon, in a private mount namespace prepared by `setup`, logging
/// (info) to `daemon.log` under the world's folder.
fn daemon_in_namespace(w: &World, setup: &str) -> std::process::Child {
    let log = std::fs::File::create(w.root().join("daemon.log")).expect("log");
    Command::new("unshare")
        .args(["-m", "sh", "-c"])
        .arg(format!("{setup} && exec \"$@\""))
        .arg("sh")
        .arg(bin())
        .args(["daemon", "--config-dir"])
        .arg(w.root())
        .env("RUST_LOG", "info")
        .env_remove("ACSYNC_CONFIG_DIR")
        .env_remove("NOTIFY_SOCKET")
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("unshare daemon")
}

/// Runs `cmd` (shell) inside the mount namespace of process `pid`.
fn in_namespace_of(pid: u32, cmd: &str) -> Output {
    Command::new("nsenter")
        .args(["-t", &pid.to_string(), "-m", "sh", "-c", cmd])
        .output()
        .expect("nsenter")
}

fn wait_until(within: std::time::Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    false
}

/// A status world whose export runs every 2 s under the daemon.
async fn daemon_status_world() -> World {
    let w = status_world().await;
    let path = w.exports().join("vip.toml");
    let text = std::fs::read_to_string(&path).expect("export");
    let every_2s = text.replace("schedule = \"@hourly\"", "schedule = \"*/2 * * * * *\"");
    std::fs::write(&path, every_2s).expect("schedule");
    w
}

/// The status JSON as the daemon sees it (inside its namespace).
fn status_seen_by(pid: u32, w: &World) -> Option<serde_json::Value> {
    let out = in_namespace_of(pid, &format!("cat '{}'", status_file(w).display()));
    serde_json::from_slice(&out.stdout).ok()
}

/// Runs the daemon with an unwritable status folder (`setup`), checks that it
/// keeps running and syncing while logging each outcome and the status
/// error, then repairs the folder from inside its namespace (`repair`) and
/// checks that the next run's status is written. Stops it with SIGTERM.
fn daemon_survives_unwritable_status(w: &World, setup: &str, repair: &str, error: &str) {
    let old = std::fs::read(status_file(w)).expect("status");
    let mut d = daemon_in_namespace(w, setup);
    let pid = d.id();
    let log = || std::fs::read_to_string(w.root().join("daemon.log")).unwrap_or_default();
    w.write_people("vip", &World::people(0..7));
    let synced = wait_until(std::time::Duration::from_secs(30), || w.active().len() == 7);
    assert!(synced, "the daemon syncs with no status folder:\n{}", log());
    // A few more ticks: every run fails to write its status, the daemon goes on.
    assert!(
        wait_until(std::time::Duration::from_secs(20), || {
            log().matches("run finished").count() >= 3
        }),
        "{}",
        log()
    );
    assert!(
        d.try_wait().expect("wait").is_none(),
        "the daemon is still running:\n{}",
        log()
    );
    let logged = log();
    assert!(
        logged.contains("cannot write the status file") && logged.contains(error),
        "{logged}"
    );
    assert!(
        logged.contains("outcome=\"success\"") || logged.contains("outcome=success"),
        "{logged}"
    );
    assert_eq!(
        std::fs::read(status_file(w)).expect("status"),
        old,
        "old status intact"
    );

    let fixed = in_namespace_of(pid, repair);
    assert!(fixed.status.success(), "{}", text(&fixed));
    let written = wait_until(std::time::Duration::from_secs(20), || {
        status_seen_by(pid, w)
            .is_some_and(|s| s["last_run"]["profiles"] == 7 && s["state"] == "idle")
    });
    assert!(written, "the status is written once it can be:\n{}", log());
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    let code = d.wait().expect("wait").code();
    assert_eq!(code, Some(0), "clean stop:\n{}", log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_keeps_running_with_a_read_only_status_folder() {
    if !can_unshare() {
        eprintln!("SKIPPED: no private mount namespace here (unshare -m)");
        return;
    }
    let w = daemon_status_world().await;
    let d = w.root().join("status");
    let d = d.display();
    daemon_survives_unwritable_status(
        &w,
        &format!("mount --bind '{d}' '{d}' && mount -o remount,bind,ro '{d}'"),
        &format!("mount -o remount,bind,rw '{d}'"),
        "Read-only file system",
    );
    // Written through the bind mount: visible outside too.
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(status_file(&w)).expect("status")).expect("json");
    assert_eq!(s["last_run"]["profiles"], 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_keeps_running_with_a_full_status_folder() {
    if !can_unshare() {
        eprintln!("SKIPPED: no private mount namespace here (unshare -m)");
        return;
    }
    let w = daemon_status_world().await;
    let d = w.root().join("status");
    let d = d.display();
    daemon_survives_unwritable_status(
        &w,
        &format!(
            "mount -t tmpfs -o size=16k tmpfs '{d}' && (dd if=/dev/zero of='{d}/fill' bs=1k count=64 2>/dev/null; true)"
        ),
        &format!("rm '{d}/fill'"),
        "No space left on device",
    );
}
