//! The simulator answers in the shapes of ActiveCampaign's documented
//! examples: for every endpoint acsync calls, each key of the
//! documented 2xx example is present with the same JSON type, recursively
//! (values may differ). The examples are in `documented_examples.json`,
//! verbatim from the official reference (its `source` says where).
//!
//! Rules: a `null` in an example only says the key exists (its type is not
//! shown); the simulator may add keys; an array is compared element by
//! element with the example's first element. `meta.total` may be a string or
//! a number (both are documented, §2.5). An array the example fills may be
//! empty only where acsync never creates what it holds (automations, deals,
//! geo data, accounts).

use std::time::Duration;

use serde_json::{Value, json};

use super::super::{ChangedBy, SimConfig, Simulator};
use super::{Answer, Api, fast};

const EXAMPLES: &str = include_str!("documented_examples.json");

/// Paths (keys joined by `.`, array elements as `[]`) allowed to be empty.
const EMPTY_OK: &[&str] = &[
    "contactAutomations",
    "deals",
    "geoAddresses",
    "geoIps",
    "contact.contactAutomations",
    "contact.geoIps",
    "contact.deals",
    "contact.accountContacts",
];

/// Paths whose scalar type may be a string or a number.
const STRING_OR_NUMBER: &[&str] = &["meta.total"];

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Where `got` differs in shape from the documented `doc`, one line each.
fn shape_diff(doc: &Value, got: &Value, path: &str, out: &mut Vec<String>) {
    let at = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match (doc, got) {
        (Value::Null, _) => {}
        (Value::Object(d), Value::Object(g)) => {
            for (k, dv) in d {
                match g.get(k) {
                    Some(gv) => shape_diff(dv, gv, &at(k), out),
                    None => out.push(format!("{}: missing ({})", at(k), kind(dv))),
                }
            }
        }
        (Value::Array(d), Value::Array(g)) => match (d.first(), g.is_empty()) {
            (None, _) => {}
            (Some(_), true) if EMPTY_OK.contains(&path) => {}
            (Some(_), true) => out.push(format!("{path}: empty, the example is not")),
            (Some(first), false) => {
                for item in g {
                    shape_diff(first, item, &format!("{path}[]"), out);
                }
            }
        },
        (Value::String(_) | Value::Number(_), Value::String(_) | Value::Number(_))
            if STRING_OR_NUMBER.contains(&path) => {}
        (d, g) if kind(d) == kind(g) => {}
        (d, g) => out.push(format!(
            "{path}: {} where the example has {}",
            kind(g),
            kind(d)
        )),
    }
}

/// Checks one answer against the example named `endpoint`.
fn check(examples: &Value, endpoint: &str, a: &Answer, failures: &mut Vec<String>) {
    let ex = &examples["examples"][endpoint];
    assert!(ex.is_object(), "no documented example for {endpoint}");
    if u64::from(a.status) / 100 != 2 {
        failures.push(format!("{endpoint}: answered {} {}", a.status, a.body));
        return;
    }
    let mut out = Vec::new();
    shape_diff(&ex["body"], &a.body, "", &mut out);
    failures.extend(out.into_iter().map(|d| format!("{endpoint}: {d}")));
}

/// A list with one member who has a custom field value.
fn seed(sim: &Simulator) -> (u64, u64, u64) {
    let list = sim.add_list("Shapes");
    let field = sim.add_field("COMPANY", "Company");
    let id = sim.add_contact("jane@example.com", Some("Jane"), Some("Doe"), Some("123"));
    sim.set_membership(id, list, 1, ChangedBy::Api);
    (list, field, id)
}

/// The bulk-import answers: a batch that creates one contact and fails
/// one, followed to its end, then the counts.
async fn check_bulk(examples: &Value, api: &Api, list: u64, failures: &mut Vec<String>) {
    let batch = json!({"contacts": [{"email": "new@example.com", "subscribe": [{"listid": list}]},
        {"email": "excluded@example.com"}]});
    let a = api.post("/import/bulk_import", &batch).await;
    check(examples, "POST /import/bulk_import", &a, failures);
    let batch_id = a.body["batchId"].as_str().unwrap_or_default().to_string();
    let info = loop {
        let a = api.get(&format!("/import/info?batchId={batch_id}")).await;
        if a.body["status"] == "completed" || a.status != 200 {
            break a;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    check(examples, "GET /import/info", &info, failures);
    // One batch done, one queued: both lists of the counts are filled.
    let next =
        json!({"contacts": [{"email": "later@example.com"}, {"email": "later2@example.com"}]});
    assert_eq!(api.post("/import/bulk_import", &next).await.status, 200);
    let a = api.get("/import/bulk_import").await;
    check(examples, "GET /import/bulk_import", &a, failures);
}

#[tokio::test]
async fn every_answer_has_the_documented_shape() {
    let examples: Value = serde_json::from_str(EXAMPLES).expect("fixture is JSON");
    let sim = Simulator::start(SimConfig {
        info_false_for: Duration::from_millis(150),
        import_duration: Duration::from_millis(50),
        ..fast()
    })
    .await
    .expect("start");
    sim.exclude_email("excluded@example.com");
    let (list, field, id) = seed(&sim);
    let api = Api::new(&sim);
    let mut failures = Vec::new();

    let sync = json!({"contact": {"email": "jane@example.com", "firstName": "Jane",
        "fieldValues": [{"field": field.to_string(), "value": "Acme"}]}});
    check(
        &examples,
        "POST /contact/sync",
        &api.post("/contact/sync", &sync).await,
        &mut failures,
    );
    for _ in 0..2 {
        // Twice: `meta.total` alternates string and number.
        let a = api.get(&format!("/contacts?listid={list}&limit=100")).await;
        check(&examples, "GET /contacts", &a, &mut failures);
    }
    let a = api.get(&format!("/contacts/{id}")).await;
    check(&examples, "GET /contacts/{id}", &a, &mut failures);
    let a = api.get(&format!("/contacts/{id}/contactLists")).await;
    check(
        &examples,
        "GET /contacts/{id}/contactLists",
        &a,
        &mut failures,
    );
    let body = json!({"contactList": {"list": list, "contact": id, "status": 1}});
    let a = api.post("/contactLists", &body).await;
    check(&examples, "POST /contactLists", &a, &mut failures);
    let a = api.get(&format!("/lists/{list}")).await;
    check(&examples, "GET /lists/{id}", &a, &mut failures);
    check(
        &examples,
        "GET /fields",
        &api.get("/fields").await,
        &mut failures,
    );

    check_bulk(&examples, &api, list, &mut failures).await;

    assert!(
        failures.is_empty(),
        "{} shape differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_comparison_sees_types_missing_keys_and_nested_arrays() {
    let doc = json!({"id": "5", "n": 1, "x": null, "a": [{"k": "v"}], "meta": {"total": "6"}});
    let same =
        json!({"id": "9", "n": 2, "x": 3, "a": [{"k": "w"}], "meta": {"total": 7}, "extra": 1});
    let mut out = Vec::new();
    shape_diff(&doc, &same, "", &mut out);
    assert!(out.is_empty(), "{out:?}");
    let wrong = json!({"id": 9, "a": [{"k": 1}, {}], "meta": {"total": "6"}, "n": "2", "x": null});
    shape_diff(&doc, &wrong, "", &mut out);
    out.sort();
    assert_eq!(
        out,
        vec![
            "a[].k: missing (string)",
            "a[].k: number where the example has string",
            "id: number where the example has string",
            "n: string where the example has number",
        ]
    );
}
