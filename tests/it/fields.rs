//! Custom fields: every `[mapping.fields]` key is
//! resolved against `GET /fields` before any write, by `plan` as by `sync`;
//! values are converted or refused per the field's type, a refused value
//! being a per-row report (the contact is still synced), never a batch
//! failure.

use acsync::status::Outcome;

use crate::harness::World;

/// An export `vip` of `csv` (header included) with `[mapping.fields]` `fields`.
fn export_with_fields(w: &World, csv: &str, fields: &str) {
    std::fs::write(w.root().join("segments/vip.csv"), csv).expect("csv");
    w.write_export("vip", "");
    let path = w.exports().join("vip.toml");
    let text = std::fs::read_to_string(&path).expect("export");
    std::fs::write(&path, format!("{text}\n[mapping.fields]\n{fields}\n")).expect("fields");
}

fn people_with(n: usize, column: &str, value: impl Fn(usize) -> String) -> String {
    let mut csv = format!("email,first_name,last_name,{column}\n");
    for i in 0..n {
        csv.push_str(&format!("user{i}@example.com,F{i},L,{}\n", value(i)));
    }
    csv
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `plan` and `sync` both fail on `key`, and nothing is written.
async fn plan_and_sync_refuse(w: &World, key: &str, expect: &str) {
    let out = w.acsync(&["plan", "vip"]);
    let said = text(&out);
    assert!(!out.status.success(), "plan must fail: {said}");
    assert!(said.contains(expect), "{said}");
    let r = w.sync("vip").await;
    assert_eq!(r.outcome, Outcome::Failed);
    let err = r.last_run.error.unwrap_or_default();
    assert!(err.contains(expect), "{err}");
    assert!(err.contains(&format!("`{key}`")), "{err}");
    assert_eq!(w.sim.ledger().writes, 0, "{:?}", w.sim.ledger().by_endpoint);
    assert!(w.active().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_tag_fails_plan_and_sync_before_any_write() {
    let w = World::new().await;
    w.sim.add_field("COMPANY", "Company");
    export_with_fields(
        &w,
        &people_with(12, "co", |i| format!("Acme{i}")),
        "NOSUCH = \"co\"",
    );
    plan_and_sync_refuse(&w, "NOSUCH", "no field has this personalization tag").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_numeric_id_fails_plan_and_sync_before_any_write() {
    let w = World::new().await;
    w.sim.add_field("COMPANY", "Company");
    export_with_fields(
        &w,
        &people_with(3, "co", |i| format!("Acme{i}")),
        "99 = \"co\"",
    );
    plan_and_sync_refuse(
        &w,
        "99",
        "no field has this id; the account's fields: COMPANY (id 1, text)",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iso_date_is_sent_as_yyyy_mm_dd_in_bulk_and_single_writes() {
    for n in [12, 2] {
        let w = World::new().await;
        let day = w.sim.add_typed_field("BIRTHDAY", "Birthday", "date", &[]);
        export_with_fields(
            &w,
            &people_with(n, "born", |_| "2026-03-04T10:00:00Z".into()),
            "BIRTHDAY = \"born\"",
        );
        let r = w.sync("vip").await;
        assert_eq!(
            (r.outcome, r.last_run.added),
            (Outcome::Success, n as u64),
            "{:?}",
            r.last_run
        );
        let c = w.sim.contact("user1@example.com").expect("contact");
        assert_eq!(c.fields.get(&day).map(String::as_str), Some("2026-03-04"));
    }
}

/// An ambiguous date is refused for its row only: the contact is synced
/// without it and the row is listed in `failures` with the reason. The
/// run's outcome stays `success`: acsync wrote everything it sent, and a
/// row with a value it could not use is reported the way a source row
/// with an unusable field is (docs/run-rules.md, the segment); `partial` is kept for
/// writes ActiveCampaign refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ambiguous_date_is_refused_per_row_and_the_contact_still_synced() {
    let w = World::new().await;
    let day = w.sim.add_typed_field("BIRTHDAY", "Birthday", "date", &[]);
    let csv = people_with(12, "born", |i| {
        if i == 4 {
            "03/04/2026".into()
        } else {
            "2026-03-04".into()
        }
    });
    export_with_fields(&w, &csv, "BIRTHDAY = \"born\"");
    let r = w.sync("vip").await;
    assert_eq!(
        (r.outcome, r.last_run.added, r.last_run.failed),
        (Outcome::Success, 12, 0)
    );
    let f = r
        .last_run
        .failures
        .iter()
        .find(|f| f.row == Some(6))
        .unwrap_or_else(|| panic!("line 6 reported: {:?}", r.last_run.failures));
    assert_eq!(
        f.reason,
        "custom field BIRTHDAY: `03/04/2026` is not a date acsync can read without guessing: use YYYY-MM-DD or ISO 8601 (a date field, sent as YYYY-MM-DD); not sent"
    );
    assert_eq!(r.last_run.failures.len(), 1);
    let c = w.sim.contact("user4@example.com").expect("synced anyway");
    assert_eq!(c.fields.get(&day), None, "the refused value is not sent");
    assert_eq!(w.active().len(), 12);
    // The status file shows it too.
    let s = w.status_json("vip");
    assert_eq!(s["last_run"]["failures"][0]["row"], 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropdown_values_match_options_case_insensitively_and_others_are_refused() {
    let w = World::new().await;
    let tier = w
        .sim
        .add_typed_field("TIER", "Tier", "dropdown", &["Gold", "Silver"]);
    let csv = people_with(3, "tier", |i| ["gold", "SILVER", "platinum"][i].into());
    export_with_fields(&w, &csv, "TIER = \"tier\"");
    let r = w.sync("vip").await;
    assert_eq!(
        (r.outcome, r.last_run.added),
        (Outcome::Success, 3),
        "{:?}",
        r.last_run
    );
    let value = |e: &str| w.sim.contact(e).and_then(|c| c.fields.get(&tier).cloned());
    assert_eq!(value("user0@example.com").as_deref(), Some("Gold"));
    assert_eq!(value("user1@example.com").as_deref(), Some("Silver"));
    assert_eq!(value("user2@example.com"), None);
    assert_eq!(r.last_run.failures.len(), 1, "{:?}", r.last_run.failures);
    assert_eq!(
        r.last_run.failures[0].reason,
        "custom field TIER: `platinum` is not an option of TIER (id 1, dropdown) (options: `Gold`, `Silver`); not sent"
    );
    // Converted values are what the next run compares: nothing to rewrite.
    w.sim.reset_ledger();
    let r = w.sync("vip").await;
    assert_eq!((r.last_run.updated, w.sim.ledger().writes), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkbox_list_becomes_double_pipe_values() {
    let w = World::new().await;
    let topics = w
        .sim
        .add_typed_field("TOPICS", "Topics", "checkbox", &["News", "Offers"]);
    // A JSON array in a CSV cell, a delimited cell, and a JSONL array.
    let csv = "email,first_name,last_name,topics\n\
               a@example.com,A,L,\"[\"\"news\"\",\"\"Offers\"\"]\"\n\
               b@example.com,B,L,\"offers, news\"\n";
    export_with_fields(&w, csv, "TOPICS = \"topics\"");
    let r = w.sync("vip").await;
    assert_eq!(
        (r.outcome, r.last_run.added),
        (Outcome::Success, 2),
        "{:?}",
        r.last_run
    );
    let value = |e: &str| {
        w.sim
            .contact(e)
            .and_then(|c| c.fields.get(&topics).cloned())
    };
    assert_eq!(value("a@example.com").as_deref(), Some("||News||Offers||"));
    assert_eq!(value("b@example.com").as_deref(), Some("||Offers||News||"));

    std::fs::write(
        w.root().join("segments/vip.jsonl"),
        "{\"email\":\"a@example.com\",\"topics\":[\"news\",\"Offers\"]}\n\
         {\"email\":\"b@example.com\",\"topics\":\"offers, news\"}\n\
         {\"email\":\"c@example.com\",\"topics\":[\"offers\"]}\n",
    )
    .expect("jsonl");
    let path = w.exports().join("vip.toml");
    let toml = std::fs::read_to_string(&path).expect("export");
    let toml = toml
        .replace("kind = \"csv\"", "kind = \"jsonl\"")
        .replace("vip.csv", "vip.jsonl")
        .replace(
            "first_name = \"first_name\"\nlast_name = \"last_name\"\n",
            "",
        );
    std::fs::write(&path, toml).expect("export");
    let r = w.sync("vip").await;
    assert_eq!(
        (r.outcome, r.last_run.added),
        (Outcome::Success, 1),
        "{:?}",
        r.last_run
    );
    assert_eq!(value("c@example.com").as_deref(), Some("||Offers||"));
}

/// The simulator refuses what ActiveCampaign refuses instead of dropping it
/// (its decision for the undocumented cases is in `src/simulator/fields.rs`):
/// `contact/sync` answers 422 `field_invalid` and writes nothing; a bulk
/// import reports the contact in `failure` and imports the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_refuses_unknown_fields_and_values_of_the_wrong_type() {
    let w = World::new().await;
    let day = w.sim.add_typed_field("BIRTHDAY", "Birthday", "date", &[]);
    let http = reqwest::Client::new();
    let post = |path: &str, body: serde_json::Value| {
        http.post(format!("{}/api/3/{path}", w.sim.base_url()))
            .header("Api-Token", w.sim.api_key())
            .json(&body)
            .send()
    };
    for (field, value) in [("99", "x"), (&*day.to_string(), "03/04/2026")] {
        let body = serde_json::json!({"contact": {"email": "a@example.com",
            "fieldValues": [{"field": field, "value": value}]}});
        let resp = post("contact/sync", body).await.expect("sync");
        assert_eq!(resp.status().as_u16(), 422);
        let v: serde_json::Value = resp.json().await.expect("json");
        assert_eq!(v["errors"][0]["code"], "field_invalid", "{v}");
    }
    assert!(w.sim.contact("a@example.com").is_none(), "nothing written");

    let contacts: Vec<serde_json::Value> = (0..10)
        .map(|i| {
            let fields = if i == 3 {
                serde_json::json!([{"id": 99, "value": "x"}])
            } else {
                serde_json::json!([{"id": day, "value": "2026-03-04"}])
            };
            serde_json::json!({"email": format!("b{i}@example.com"), "fields": fields,
                "subscribe": [{"listid": w.list}]})
        })
        .collect();
    let resp = post(
        "import/bulk_import",
        serde_json::json!({"contacts": contacts}),
    )
    .await
    .expect("bulk");
    assert_eq!(resp.status().as_u16(), 200);
    let v: serde_json::Value = resp.json().await.expect("json");
    let batch = v["batchId"].as_str().expect("batch id").to_owned();
    let info = loop {
        tokio::time::sleep(std::time::Duration::from_millis(40)).await;
        let r = http
            .get(format!(
                "{}/api/3/import/info?batchId={batch}",
                w.sim.base_url()
            ))
            .header("Api-Token", w.sim.api_key())
            .send()
            .await
            .expect("info");
        let v: serde_json::Value = r.json().await.unwrap_or_default();
        if v["status"] == "completed" {
            break v;
        }
    };
    assert_eq!(
        info["failure"],
        serde_json::json!(["b3@example.com"]),
        "{info}"
    );
    assert!(w.sim.contact("b3@example.com").is_none());
    assert_eq!(w.active().len(), 9);
}

/// The 1-based line of the first line of `file` starting with `prefix`.
fn line_of(file: &std::path::Path, prefix: &str) -> usize {
    let text = std::fs::read_to_string(file).expect("export");
    1 + text
        .lines()
        .position(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("{prefix} in {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_online_locates_an_unknown_field_and_an_unknown_list() {
    let w = World::new().await;
    w.sim.add_field("COMPANY", "Company");
    export_with_fields(
        &w,
        &people_with(2, "co", |i| format!("Acme{i}")),
        "COMPANY = \"co\"\nNOSUCH = \"co\"\n42 = \"co\"",
    );
    let out = w.acsync(&["check"]);
    assert!(
        out.status.success(),
        "offline the file is valid: {}",
        text(&out)
    );

    let out = w.acsync(&["check", "--online"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    let file = w.exports().join("vip.toml");
    let at = |key: &str| {
        format!(
            "{}:{}:1: custom field `{key}`",
            file.display(),
            line_of(&file, key)
        )
    };
    for key in ["NOSUCH", "42"] {
        assert!(said.contains(&at(key)), "{key} located: {said}");
    }
    assert!(!said.contains("`COMPANY`"), "{said}");
    assert_eq!(w.sim.ledger().writes, 0);

    // An unknown list, at its key; GitHub annotations carry the same place.
    let toml = std::fs::read_to_string(&file).expect("export");
    let toml = toml.replace(&format!("list_id = {}", w.list), "list_id = 999");
    std::fs::write(&file, toml.replace("NOSUCH = \"co\"\n42 = \"co\"\n", "")).expect("export");
    let out = w.acsync(&["check", "--online", "--format", "github"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains(&format!("line={},col=11", line_of(&file, "list_id"))),
        "{said}"
    );
    assert!(
        said.contains("list 999 does not exist in ActiveCampaign"),
        "{said}"
    );
}
