//! `acsync simulator` through the real binary: its start banner lists the
//! custom fields a `[mapping.fields]` can map to, and says when a loaded
//! `--state-file` makes it ignore `--seed-file` and `--lists`.

use std::path::Path;

use crate::quickstart::SimProcess;

/// The simulator in `dir` on a free port with `state.json` and `extra`,
/// stopped (state saved) once its banner is out; returns the banner.
fn banner_of(dir: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "simulator",
        "--listen",
        "127.0.0.1:0",
        "--state-file",
        "state.json",
    ];
    args.extend_from_slice(extra);
    let sim = SimProcess::spawn(dir, &args);
    let banner = sim.banner.join("\n");
    sim.stop();
    banner
}

#[test]
fn the_banner_lists_fields_and_says_what_a_loaded_state_ignores() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seed =
        r#"{"fields": [{"perstag": "SCORE", "title": "Score", "type": "number"}], "contacts": []}"#;
    std::fs::write(dir.path().join("seed.json"), seed).expect("seed");

    let text = banner_of(dir.path(), &["--seed-file", "seed.json"]);
    assert!(
        text.lines()
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

    let text = banner_of(dir.path(), &["--seed-file", "seed.json", "--lists", "3"]);
    assert!(
        text.contains("--seed-file and --lists ignored: the account was loaded from state.json"),
        "{text}"
    );
    assert!(
        !text.contains("List 3"),
        "the lists are the saved ones: {text}"
    );
}
