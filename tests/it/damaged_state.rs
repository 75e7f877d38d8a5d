//! A damaged state database (docs/ownership.md, lost state) through the real
//! binary: a garbage header and a file cut in half. The run's error names
//! the file and the command; `acsync doctor` reports the damage;
//! `acsync state reset --adopt` keeps the file, adopts the list again, and
//! the next run succeeds.

use crate::harness::World;

fn said(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A world whose export `vip` ran once (through the binary, so the state
/// database is checkpointed and whole on disk when it exits).
async fn synced() -> World {
    let w = World::new().await;
    w.write_people("vip", &World::people(0..400));
    w.write_export("vip", "");
    let out = w.acsync(&["sync", "vip"]);
    assert!(out.status.success(), "{}", said(&out));
    w
}

fn db(w: &World) -> std::path::PathBuf {
    w.state_dir().join("state.sqlite3")
}

/// The error of a run on the damaged database, `--adopt` or not, doctor's
/// verdict, then the reset and a run as usual.
fn recovers(w: &World) {
    let path = db(w).display().to_string();
    for args in [&["sync", "vip"][..], &["sync", "vip", "--adopt"]] {
        let out = w.acsync(args);
        let text = said(&out);
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert!(text.contains("is damaged"), "{text}");
        assert!(text.contains(&path), "{text}");
        assert!(text.contains("acsync state reset --adopt"), "{text}");
    }
    let out = w.acsync(&["doctor"]);
    let text = said(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("FAIL") && l.contains("integrity: damaged")),
        "{text}"
    );

    // Not while a daemon runs on the folder: it would go on with the file.
    let daemon = acsync::status::hold_daemon_lock(&w.state_dir()).expect("daemon lock");
    let out = w.acsync(&["state", "reset", "--adopt"]);
    let text = said(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("the daemon runs on this folder"), "{text}");
    assert!(db(w).exists(), "nothing was moved");
    drop(daemon);

    let out = w.acsync(&["state", "reset", "--adopt"]);
    let text = said(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("adopted `vip`: success"), "{text}");
    let kept: Vec<String> = std::fs::read_dir(w.state_dir())
        .expect("state dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("state.sqlite3.damaged-"))
        .collect();
    assert!(!kept.is_empty(), "the damaged file is kept");

    let out = w.acsync(&["sync", "vip"]);
    assert!(out.status.success(), "{}", said(&out));
    let out = w.acsync(&["doctor", "vip"]);
    let text = said(&out);
    assert!(text.contains("integrity: SQLite quick_check: ok"), "{text}");
    assert_eq!(w.active().len(), 400, "no contact was lost or doubled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garbage_header_says_what_to_do_and_state_reset_adopts() {
    let w = synced().await;
    let mut bytes = std::fs::read(db(&w)).expect("db");
    bytes[..32].copy_from_slice(&[0xAB; 32]);
    std::fs::write(db(&w), bytes).expect("damage");
    recovers(&w);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_cut_in_half_says_what_to_do_and_state_reset_adopts() {
    let w = synced().await;
    let len = std::fs::metadata(db(&w)).expect("db").len();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(db(&w))
        .expect("open");
    file.set_len(len / 2).expect("truncate");
    drop(file);
    recovers(&w);
}
