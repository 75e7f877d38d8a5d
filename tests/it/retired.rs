//! Deleting an export touches no contact, in that run or in any later run of
//! another export on the same list (docs/ownership.md, "Deleting an
//! export"): what only the deleted export wanted is kept and reported until
//! `acsync release NAME`. (A moved or renamed file takes it over:
//! ownership.rs.)

use crate::harness::{World, emails};

const EXTRA: &str = "max_removals = \"100%\"\nfull_read_every = \"0\"";

/// Deletes `exports/NAME.toml` and its status file, as an operator (and
/// the daemon) would.
fn delete_export(w: &World, name: &str) {
    std::fs::remove_file(w.exports().join(format!("{name}.toml"))).expect("delete");
    std::fs::remove_file(w.exports().join(format!("{name}.status.json"))).ok();
}

fn said(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

/// `a` (users 7..20) and `b` (users 10..30) share the list and both ran;
/// then `a` is deleted. Users 7, 8, 9 were only in `a`'s segment.
async fn shared_list_with_a_deleted() -> World {
    let w = World::new().await;
    w.write_export("a", EXTRA);
    w.write_export("b", EXTRA);
    w.write_people("a", &World::people(7..20));
    w.write_people("b", &World::people(10..30));
    w.sync_success("a").await;
    w.sync_success("b").await;
    delete_export(&w, "a");
    w
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sibling_never_unsubscribes_what_only_a_deleted_export_wanted() {
    let w = shared_list_with_a_deleted().await;
    let everyone = emails(&World::people(7..30));

    let plan = w.acsync(&["plan", "b", "--json"]);
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("plan json");
    assert_eq!(plan["to_remove"], 0, "{plan}");
    assert_eq!(plan["kept_for_deleted"]["a"], 3, "{plan}");

    let out = w.acsync(&["explain", "b", "user8@example.com", "--offline"]);
    let text = said(&out);
    assert!(
        text.contains("deleted export `a`") && text.contains("acsync release a"),
        "{text}"
    );

    let r = w.sync_success("b").await;
    assert_eq!(r.last_run.removed, 0);
    assert_eq!(w.active(), everyone, "nobody unsubscribed");
    let status = w.status_json("b");
    assert_eq!(status["last_run"]["kept_for_deleted"]["a"], 3, "{status}");
    let history = said(&w.acsync(&["history", "b", "--email", "user9@example.com"]));
    assert!(history.contains("kept_for_deleted"), "{history}");

    // Later runs too.
    let mut b = World::people(10..30);
    b.retain(|p| p.0 != "user25@example.com");
    w.write_people("b", &b);
    let r = w.sync_success("b").await;
    assert_eq!(r.last_run.removed, 1, "b's own leaver goes");
    assert_eq!(w.sim.list_status("user25@example.com", w.list), Some(2));
    assert_eq!(w.sim.list_status("user7@example.com", w.list), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_export_never_unsubscribes_what_a_deleted_export_subscribed() {
    let w = World::new().await;
    w.write_export("a", EXTRA);
    w.write_people("a", &World::people(0..10));
    w.sync_success("a").await;
    delete_export(&w, "a");
    // Write times are kept in whole seconds: a write in the second `a`'s
    // last run ended may be `a`'s, and is kept for it.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    // `c` reads another segment: it is not `a` moved.
    w.write_export("c", EXTRA);
    w.write_people("c", &World::people(5..15));
    let r = w.sync_success("c").await;
    assert_eq!((r.last_run.added, r.last_run.removed), (5, 0));
    assert_eq!(w.active(), emails(&World::people(0..15)));
    let status = w.status_json("c");
    assert_eq!(status["last_run"]["kept_for_deleted"]["a"], 5, "{status}");

    // What `c` subscribed itself is its own to unsubscribe; what `a`
    // subscribed stays, also when `c` no longer wants it either.
    let mut next = World::people(5..15);
    next.retain(|p| p.0 != "user12@example.com" && p.0 != "user6@example.com");
    w.write_people("c", &next);
    let r = w.sync_success("c").await;
    assert_eq!(r.last_run.removed, 1);
    assert_eq!(w.sim.list_status("user12@example.com", w.list), Some(2));
    assert_eq!(w.sim.list_status("user6@example.com", w.list), Some(1));
    assert_eq!(w.status_json("c")["last_run"]["kept_for_deleted"]["a"], 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_export_lets_its_siblings_unsubscribe_as_usual() {
    let w = shared_list_with_a_deleted().await;
    let out = w.acsync(&["release", "b"]);
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(said(&out).contains("b.toml"), "{}", said(&out));

    let out = w.acsync(&["release", "a"]);
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    assert!(said(&out).contains("released"), "{}", said(&out));
    let out = w.acsync(&["release", "a"]);
    assert_eq!(out.status.code(), Some(1), "nothing left to release");

    let r = w.sync_success("b").await;
    assert_eq!(r.last_run.removed, 3);
    assert_eq!(w.active(), emails(&World::people(10..30)));
    assert!(
        w.status_json("b")["last_run"]
            .get("kept_for_deleted")
            .is_none()
    );
}
