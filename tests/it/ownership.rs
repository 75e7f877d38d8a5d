//! Ownership belongs to the account and list (docs/ownership.md):
//! it survives a moved export file, a `list_id` changed away and back, a
//! cosmetic change of the connection's URL; a lost state database stops the
//! run with a way forward instead of silently starting from nothing; two
//! configuration folders never share one state.

use acsync::status::Outcome;

use crate::harness::{World, emails};

/// Writes `exports/NAME.toml` on `list` reading `segments/SEGMENT.csv`.
fn write_export_on(w: &World, name: &str, segment: &str, list: u64) {
    let toml = format!(
        "connection = \"sim\"\nlist_id = {list}\nschedule = \"@hourly\"\nmax_removals = \"100%\"\n\n[source]\nkind = \"csv\"\npath = \"../segments/{segment}.csv\"\n\n[mapping]\nemail = \"email\"\nfirst_name = \"first_name\"\n"
    );
    std::fs::write(w.exports().join(format!("{name}.toml")), toml).expect("export");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_export_file_keeps_what_it_owns() {
    let w = World::new().await;
    let people = World::people(0..30);
    w.write_people("vip", &people);
    write_export_on(&w, "vip", "vip", w.list);
    w.sync_success("vip").await;
    std::fs::rename(w.exports().join("vip.toml"), w.exports().join("moved.toml")).expect("move");
    std::fs::remove_file(w.exports().join("vip.status.json")).ok();
    w.write_people("vip", &people[2..]);
    let r = w.sync_success("moved").await;
    assert_eq!(r.last_run.removed, 2, "the moved export still owns them");
    assert_eq!(w.active(), emails(&people[2..]));
    let status = w.status_json("moved");
    assert!(
        status["last_run"].get("kept_for_deleted").is_none(),
        "not a deleted export: {status}"
    );

    // Taken over for good (docs/ownership.md, "Deleting an export"): once
    // edited, the moved file is still the export that owns them.
    let path = w.exports().join("moved.toml");
    let edited = std::fs::read_to_string(&path).expect("read") + "# edited\n";
    std::fs::write(&path, edited).expect("edit");
    w.write_people("vip", &people[4..]);
    let r = w.sync_success("moved").await;
    assert_eq!(r.last_run.removed, 2);
    assert_eq!(w.active(), emails(&people[4..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_id_away_and_back_resumes_ownership_and_leaving_is_reported() {
    let w = World::new().await;
    let other = w.sim.add_list("Other");
    let people = World::people(0..30);
    w.write_people("vip", &people);
    write_export_on(&w, "vip", "vip", w.list);
    w.sync_success("vip").await;

    write_export_on(&w, "vip", "vip", other);
    let plan = w.acsync(&["plan", "vip", "--json"]);
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).expect("plan json");
    assert_eq!(plan["left_owned"], 30, "{plan}");
    let r = w.sync_success("vip").await;
    assert_eq!(r.last_run.left_owned, Some(30));
    let left = r.last_run.left_list.unwrap_or_default();
    assert!(left.ends_with(&format!("#list={}", w.list)), "{left}");
    assert_eq!(w.active(), emails(&people), "the old list is left as it is");

    write_export_on(&w, "vip", "vip", w.list);
    w.write_people("vip", &people[3..]);
    let r = w.sync_success("vip").await;
    assert_eq!(r.last_run.removed, 3, "ownership resumed on the way back");
    assert_eq!(w.active(), emails(&people[3..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cosmetic_url_change_is_the_same_account() {
    let w = World::new().await;
    let people = World::people(0..30);
    w.write_people("vip", &people);
    write_export_on(&w, "vip", "vip", w.list);
    w.sync_success("vip").await;
    let url = w.sim.base_url().replace("127.0.0.1", "LOCALHOST") + "/api/3/";
    let toml = format!(
        "[daemon]\nstate_dir = \"state\"\n\n[connections.sim]\nurl = \"{url}\"\napi_key_file = \"sim.key\"\naccept_data_transfer = true\nrequests_per_second = 100\n"
    );
    std::fs::write(w.root().join("acsync.toml"), toml).expect("settings");
    w.write_people("vip", &people[1..]);
    let r = w.sync_success("vip").await;
    assert_eq!(r.last_run.removed, 1);
    assert_eq!(r.last_run.left_list, None, "not another account");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_state_database_stops_the_run_until_adopted() {
    let w = World::new().await;
    let people = World::people(0..30);
    w.write_people("vip", &people);
    write_export_on(&w, "vip", "vip", w.list);
    w.sync_success("vip").await;
    // Truncated to 0 bytes, as a full disk or a bad restore leaves it.
    for f in std::fs::read_dir(w.state_dir())
        .expect("state dir")
        .flatten()
    {
        let name = f.file_name().to_string_lossy().into_owned();
        if name.starts_with("state.sqlite3") {
            if name == "state.sqlite3" {
                std::fs::write(f.path(), b"").expect("truncate");
            } else {
                std::fs::remove_file(f.path()).expect("wal");
            }
        }
    }
    w.write_people("vip", &people[2..]);
    w.sim.reset_ledger();
    let out = w.acsync(&["sync", "vip"]);
    assert_eq!(out.status.code(), Some(1));
    let status = w.status("vip");
    let error = status.last_run.and_then(|r| r.error).unwrap_or_default();
    assert!(
        error.contains("--adopt") && error.contains("no record"),
        "{error}"
    );
    assert_eq!(w.sim.ledger().writes, 0, "nothing written");

    let out = w.acsync(&["sync", "vip", "--adopt"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(w.active().len(), 30, "adopting removes nobody");
    w.write_people("vip", &people[5..]);
    let r = w.sync_success("vip").await;
    assert_eq!(r.last_run.removed, 3, "adopted members are owned again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_configuration_folders_never_share_one_state() {
    let a = World::new().await;
    let b = World::new().await;
    let state = a.state_dir();
    let people = World::people(0..5);
    for w in [&a, &b] {
        let toml = format!(
            "[daemon]\nstate_dir = \"{}\"\n\n[connections.sim]\nurl = \"{}\"\napi_key_file = \"sim.key\"\naccept_data_transfer = true\nrequests_per_second = 100\n",
            state.display(),
            w.sim.base_url()
        );
        std::fs::write(w.root().join("acsync.toml"), toml).expect("settings");
        w.write_people("vip", &people);
        write_export_on(w, "vip", "vip", w.list);
    }
    a.sync_success("vip").await;
    let r = b.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Failed);
    let error = r.last_run.error.unwrap_or_default();
    assert!(error.contains("must use its own state_dir"), "{error}");
    assert!(b.active().is_empty(), "nothing written");
}
