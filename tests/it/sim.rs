//! Integration tests: sim. The simulator's behaviour is pinned by its
//! in-module tests (`src/simulator/tests/`); this checks the public API as
//! other crates' code sees it.

use std::time::Duration;

use acsync::simulator::{ChangedBy, Faults, Ledger, SimConfig, Simulator};
use serde_json::json;

fn assert_shareable<T: Send + Sync + Clone + 'static>() {}

#[tokio::test]
async fn public_api_round_trip() {
    assert_shareable::<Simulator>();
    let cfg = SimConfig {
        requests_per_second: 0,
        info_false_for: Duration::from_millis(10),
        import_duration: Duration::from_millis(10),
        ..SimConfig::default()
    };
    let sim = Simulator::start(cfg).await.expect("start");
    let list = sim.add_list("Newsletter");
    sim.add_field("COMPANY", "Company");
    let id = sim.add_contact("Ann@Example.com", Some("Ann"), None, None);
    sim.set_membership(id, list, 1, ChangedBy::Admin);
    sim.set_faults(Faults::default());

    let resp = reqwest::Client::new()
        .post(format!("{}/api/3/contact/sync", sim.base_url()))
        .header("Api-Token", sim.api_key())
        .json(&json!({"contact": {"email": "bob@example.com", "lastName": "B"}}))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 201);

    let ann = sim.contact("ann@example.com").expect("ann");
    assert_eq!((ann.id, ann.first_name.as_str()), (id, "Ann"));
    assert_eq!(sim.members(list)[0].changed_by, ChangedBy::Admin);
    assert_eq!(sim.active_emails(list).len(), 1);
    assert_eq!(sim.contact_count(), 2);
    assert!(sim.duplicate_emails().is_empty());
    let ledger: Ledger = sim.ledger();
    assert_eq!(ledger.by_endpoint.get("POST /contact/sync"), Some(&1));
    sim.reset_ledger();
    sim.shutdown().await;
}
