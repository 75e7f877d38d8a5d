//! Bulk import (§4): validation, limits, the info lifecycle, application.

use std::time::Duration;

use serde_json::{Value, json};

use super::super::{ChangedBy, SimConfig, Simulator};
use super::{Answer, Api, fast};

fn contacts(n: usize, list: u64) -> Value {
    let cs: Vec<Value> = (0..n)
        .map(|i| json!({"email": format!("b{i}@example.com"), "subscribe": [{"listid": list}]}))
        .collect();
    json!({ "contacts": cs })
}

async fn import(api: &Api, body: &Value) -> Answer {
    api.post("/import/bulk_import", body).await
}

/// Poll `/import/info` until a terminal status.
async fn wait_done(api: &Api, batch: &str) -> Value {
    for _ in 0..200 {
        let info = api.get(&format!("/import/info?batchId={batch}")).await.body;
        if matches!(
            info["status"].as_str(),
            Some("completed" | "failed" | "interrupted")
        ) {
            return info;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("batch {batch} never finished");
}

fn batch_id(a: &Answer) -> String {
    a.body["batchId"].as_str().expect("batchId").to_string()
}

#[tokio::test]
async fn bulk_import_queues_and_both_success_keys_appear_section_4_3() {
    let sim = Simulator::start(fast()).await.expect("start");
    let l = sim.add_list("L");
    let api = Api::new(&sim);
    let first = import(&api, &contacts(3, l)).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.body["Success"], 1);
    assert_eq!(first.body["queued_contacts"], 3);
    assert_eq!(first.body["message"], "Contact import queued");
    assert_eq!(batch_id(&first).len(), 36);
    let second = import(&api, &contacts(2, l)).await;
    assert_eq!(
        second.body["success"], 1,
        "lowercase key on alternate answers"
    );
    wait_done(&api, &batch_id(&second)).await;
    assert_eq!(sim.active_emails(l).len(), 3);
}

#[tokio::test]
async fn bad_email_rejects_the_whole_batch_section_4_3() {
    let sim = Simulator::start(fast()).await.expect("start");
    let l = sim.add_list("L");
    let api = Api::new(&sim);
    let mut body = contacts(5, l);
    body["contacts"][3]["email"] = json!("broken.example.com");
    let a = import(&api, &body).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["success"], 0);
    assert!(
        a.body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("JSON payload did not pass validation"))
    );
    assert_eq!(a.body["failureReasons"][0]["contact"], 3);
    assert_eq!(
        a.body["failureReasons"][0]["failureReason"],
        "Field' email' incorrect format"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(sim.contact_count(), 0, "nothing queued");
    assert_eq!(sim.ledger().batches_submitted, 0);
}

#[tokio::test]
async fn at_most_250_contacts_and_399999_bytes_section_4_1() {
    let sim = Simulator::start(fast()).await.expect("start");
    let l = sim.add_list("L");
    let api = Api::new(&sim);
    let over = import(&api, &contacts(251, l)).await;
    assert_eq!(over.status, 400);
    assert!(over.body["failureReasons"][0].is_string());
    assert_eq!(import(&api, &contacts(250, l)).await.status, 200);
    let mut big = contacts(2, l);
    big["contacts"][0]["first_name"] = json!("x".repeat(400_000));
    let too_big = import(&api, &big).await;
    assert_eq!(too_big.status, 400);
    assert!(too_big.body["failureReasons"][0].is_string());
}

#[tokio::test]
async fn bulk_rate_limit_is_a_400_not_a_429_section_4_1_and_4_3() {
    let cfg = SimConfig {
        bulk_per_minute: 2,
        bulk_single_per_minute: 1,
        ..fast()
    };
    let sim = Simulator::start(cfg).await.expect("start");
    let l = sim.add_list("L");
    let api = Api::new(&sim);
    assert_eq!(import(&api, &contacts(2, l)).await.status, 200);
    assert_eq!(import(&api, &contacts(2, l)).await.status, 200);
    let limited = import(&api, &contacts(2, l)).await;
    assert_eq!(limited.status, 400);
    assert_eq!(limited.body["message"], "Rate limit exceeded.");
    let reason = limited.body["failureReasons"][0]
        .as_str()
        .unwrap_or_default();
    assert!(reason.starts_with("Up to 2 imports may be requested per minute."));
    // Single-contact requests have their own, smaller budget.
    assert_eq!(import(&api, &contacts(1, l)).await.status, 200);
    assert_eq!(import(&api, &contacts(1, l)).await.status, 400);
    assert_eq!(sim.ledger().bulk_rate_limited_400, 2);
}

#[tokio::test]
async fn import_info_false_then_active_then_completed_section_4_4() {
    let cfg = SimConfig {
        info_false_for: Duration::from_millis(150),
        // Wide `active` window so a slow CI machine cannot skip past it.
        import_duration: Duration::from_millis(400),
        ..fast()
    };
    let sim = Simulator::start(cfg).await.expect("start");
    let l = sim.add_list("L");
    let known = sim.add_contact("b0@example.com", None, None, None);
    let api = Api::new(&sim);
    let batch = batch_id(&import(&api, &contacts(3, l)).await);
    let q = format!("/import/info?batchId={batch}");
    assert_eq!(api.get(&q).await.body, json!({"status": false}));
    tokio::time::sleep(Duration::from_millis(170)).await;
    assert_eq!(api.get(&q).await.body["status"], "active");
    assert!(
        sim.active_emails(l).is_empty(),
        "nothing applied while active"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let done = api.get(&q).await.body;
    assert_eq!(done["status"], "completed");
    // Only newly created contacts are listed, as strings (§4.4).
    let success: Vec<&str> = done["success"]
        .as_array()
        .map_or(vec![], |s| s.iter().filter_map(Value::as_str).collect());
    assert_eq!(success.len(), 2);
    assert!(!success.contains(&known.to_string().as_str()));
    assert_eq!(sim.active_emails(l).len(), 3);
    let missing = api.get("/import/info").await;
    assert_eq!(missing.status, 400);
    assert_eq!(
        missing.body,
        json!({"success": 0, "message": "'batchId' is a required field."})
    );
    assert_eq!(api.get("/import/info?batchId=nope").await.status, 404);
}

#[tokio::test]
async fn bulk_refuses_to_resubscribe_unsubscribed_section_4_2_and_4_5() {
    let sim = Simulator::start(fast()).await.expect("start");
    let l = sim.add_list("L");
    let gone = sim.add_contact("b1@example.com", None, None, None);
    sim.set_membership(gone, l, 2, ChangedBy::Contact);
    sim.exclude_email("B2@example.com");
    let api = Api::new(&sim);
    let done = wait_done(&api, &batch_id(&import(&api, &contacts(4, l)).await)).await;
    assert_eq!(done["failure"], json!(["b1@example.com", "b2@example.com"]));
    let m = sim
        .members(l)
        .into_iter()
        .find(|m| m.contact_id == gone)
        .expect("row");
    assert_eq!(
        (m.status, m.changed_by),
        (2, ChangedBy::Contact),
        "untouched"
    );
    assert!(
        sim.contact("b2@example.com").is_none(),
        "excluded: not created"
    );
    let active = sim.active_emails(l);
    assert!(active.contains("b0@example.com") && active.contains("b3@example.com"));
}

#[tokio::test]
async fn bulk_applies_fields_tags_and_unsubscribes_section_4_2() {
    let sim = Simulator::start(fast()).await.expect("start");
    let (l, other) = (sim.add_list("L"), sim.add_list("Other"));
    let f = sim.add_field("COMPANY", "Company");
    let c = sim.add_contact("Old@Example.com", None, None, None);
    sim.set_membership(c, other, 1, ChangedBy::Api);
    let api = Api::new(&sim);
    let body = json!({"exclude_automations": true, "callback": {"url": "x", "requestType": "POST"},
        "contacts": [{"email": "OLD@example.com", "first_name": "Ola", "phone": 5551234,
        "tags": ["VIP", "vip"], "fields": [{"id": f, "value": "Acme"}],
        "subscribe": [{"listid": l.to_string()}], "unsubscribe": [{"listid": other}],
        "exclude_automations": true}]});
    let done = wait_done(&api, &batch_id(&import(&api, &body).await)).await;
    assert_eq!(done["success"], json!([]), "an update is not a new contact");
    let got = sim.contact("old@example.com").expect("contact");
    assert_eq!(
        (got.first_name.as_str(), got.phone.as_str()),
        ("Ola", "5551234")
    );
    assert_eq!(got.tags, vec!["VIP".to_string()]);
    assert_eq!(got.fields.get(&f).map(String::as_str), Some("Acme"));
    let m = sim.members(other);
    assert_eq!((m[0].status, m[0].changed_by), (2, ChangedBy::Import));
    assert_eq!(sim.contact_count(), 1);
    assert!(sim.duplicate_emails().is_empty());
}

/// §12, `GET /import/bulk_import`: the count is account-wide. Another
/// tool's import waits in the same queue as acsync's, so `outstanding`
/// is not 0 until it lands.
#[tokio::test]
async fn another_tools_import_counts_as_outstanding_until_it_lands_section_12() {
    let sim = Simulator::start(SimConfig {
        import_duration: Duration::from_millis(300),
        ..fast()
    })
    .await
    .expect("start");
    let api = Api::new(&sim);
    sim.import_by_others(5);
    let queued = api.get("/import/bulk_import").await.body;
    assert_ne!(queued["outstanding"], json!([]), "{queued}");
    tokio::time::sleep(Duration::from_millis(700)).await;
    let landed = api.get("/import/bulk_import").await.body;
    assert_eq!(landed["outstanding"], json!([]), "{landed}");
    assert_eq!(sim.contact_count(), 5, "the other tool's contacts landed");
}
