//! A blocked plan shows whom it holds back: `to unsubscribe` stays 0 (what
//! the run does), and a masked sample of the members `--allow-removals`
//! would unsubscribe is printed, in text and in `plan --json`
//! (`samples.held_back`), so that allowing them is an informed choice.

use crate::harness::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_plan_shows_a_masked_sample_of_the_members_held_back() {
    let w = World::new().await;
    let people = World::people(0..47);
    w.write_people("vip", &people);
    w.write_export("vip", "");
    w.sync_success("vip").await;
    // Ten of 47 leave: above the default max_removals.
    w.write_people("vip", &people[..37]);

    let out = w.acsync(&["plan", "vip", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(v["blocked"].is_string(), "{v:#}");
    assert_eq!(
        (v["to_remove"].as_u64(), v["would_remove"].as_u64()),
        (Some(0), Some(10))
    );
    assert_eq!(v["samples"]["remove"], serde_json::json!([]), "{v:#}");
    let held = v["samples"]["held_back"].as_array().expect("held_back");
    assert_eq!(held.len(), 10, "{v:#}");
    assert!(
        held.iter().all(|e| e == "u***@example.com"),
        "masked: {v:#}"
    );

    let out = w.acsync(&["plan", "vip"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("held back"))
        .unwrap_or_else(|| panic!("a held-back line: {text}"));
    assert!(
        line.contains("10") && line.contains("e.g. u***@example.com"),
        "{line}"
    );
    assert!(text.contains("to unsubscribe              0"), "{text}");
    assert!(!text.contains("user40@example.com"), "masked: {text}");
}
