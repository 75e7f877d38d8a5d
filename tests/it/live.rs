//! The assumptions acsync makes about ActiveCampaign, as a contract run
//! against two peers: the simulator (on every `cargo test`) and, opt-in, a
//! real account. The live variant is `#[ignore]`d; run it with a scratch list
//! of an account you may write to:
//!
//! ```sh
//! ACSYNC_LIVE_URL=https://acme.api-us1.com ACSYNC_LIVE_KEY=… ACSYNC_LIVE_LIST=42 \
//!   cargo test --test it live:: -- --ignored --nocapture
//! ```
//!
//! It creates two contacts named `acsync-contract-<time>-…@example.com`,
//! subscribes and unsubscribes them on that list, and sends about 40 requests
//! (a short burst on purpose, to see a 429). It deletes nothing.

use std::time::Duration;

use acsync::activecampaign::{BatchStatus, BulkContact, Client, ClientConfig, ContactInput};
use acsync::model::ListStatus;
use secrecy::SecretString;

use crate::harness::fast_sim;

struct Peer {
    client: Client,
    base_url: String,
    key: String,
    list: u64,
}

fn client(base_url: &str, key: &str, poll: Duration) -> Client {
    let url = reqwest::Url::parse(base_url).expect("url");
    let conn = acsync::config::Connection {
        name: "contract".into(),
        base_url: url,
        api_key: acsync::config::ApiKeySource::Env("UNUSED".into()),
        requests_per_second: 5,
        allowed_exports: Vec::new(),
    };
    let mut cfg = ClientConfig::new(&conn, SecretString::from(key.to_string()));
    cfg.poll_interval = poll;
    Client::new(cfg).expect("client")
}

fn unique(tag: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("acsync-contract-{t}-{tag}@example.com")
}

/// `GET /contacts?listid=&status=` filters by the status on THAT list (our
/// full read depends on it: activecampaign-api.md §3.3, a documented gap).
async fn listid_status_is_per_list(p: &Peer) {
    let email = unique("status");
    let id = p
        .client
        .contact_sync(&ContactInput {
            email: email.clone(),
            ..Default::default()
        })
        .await
        .expect("sync");
    p.client
        .set_list_status(id, p.list, ListStatus::Active)
        .await
        .expect("subscribe");
    let quiet = |_n: u64| {};
    let active = p
        .client
        .list_members(p.list, ListStatus::Active, &quiet)
        .await
        .expect("active")
        .members;
    assert!(
        active.iter().any(|m| m.email == email),
        "status=1 lists the active member"
    );
    p.client
        .set_list_status(id, p.list, ListStatus::Unsubscribed)
        .await
        .expect("unsubscribe");
    let active = p
        .client
        .list_members(p.list, ListStatus::Active, &quiet)
        .await
        .expect("active")
        .members;
    let unsub = p
        .client
        .list_members(p.list, ListStatus::Unsubscribed, &quiet)
        .await
        .expect("unsub")
        .members;
    assert!(
        !active.iter().any(|m| m.email == email),
        "status=1 no longer lists it"
    );
    assert!(unsub.iter().any(|m| m.email == email), "status=2 lists it");
}

/// Bulk import refuses to resubscribe a status-2 member and reports its email
/// in `failure` (§4.2, §4.5): why opt-outs are safe from our adds.
async fn bulk_import_refuses_resubscription(p: &Peer) {
    let email = unique("optout");
    let id = p
        .client
        .contact_sync(&ContactInput {
            email: email.clone(),
            ..Default::default()
        })
        .await
        .expect("sync");
    p.client
        .set_list_status(id, p.list, ListStatus::Unsubscribed)
        .await
        .expect("unsubscribe");
    let batch = vec![BulkContact {
        email: email.clone(),
        subscribe: vec![p.list],
        ..Default::default()
    }];
    let batch_id = p.client.bulk_submit(&batch, true).await.expect("submit");
    let result = crate::util::batch_end(&p.client, &batch_id).await;
    assert_eq!(result.status, BatchStatus::Completed);
    assert!(
        result.failed_emails.contains(&email),
        "refused: {:?}",
        result.failed_emails
    );
    assert_eq!(
        p.client.list_status_of(id, p.list).await.expect("status"),
        Some(ListStatus::Unsubscribed)
    );
}

/// Over 5 requests a second: 429 with `Retry-After` (seconds) and the
/// `RateLimit-*` headers (§1.3). Raw requests: the client would pace them.
async fn over_the_limit_is_429_with_headers(p: &Peer) {
    let http = reqwest::Client::new();
    let url = format!(
        "{}/api/3/lists/{}",
        p.base_url.trim_end_matches('/'),
        p.list
    );
    let tasks: Vec<_> = (0..20)
        .map(|_| tokio::spawn(http.get(&url).header("Api-Token", p.key.clone()).send()))
        .collect();
    let mut limited = None;
    for t in tasks {
        if let Ok(Ok(r)) = t.await
            && r.status().as_u16() == 429
        {
            limited = Some(r);
        }
    }
    let r = limited.expect("a burst of 20 concurrent requests sees a 429");
    let retry: u64 = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!(retry >= 1);
    assert!(
        r.headers().contains_key("ratelimit-limit"),
        "RateLimit-Limit header"
    );
}

async fn contract(p: &Peer) {
    listid_status_is_per_list(p).await;
    bulk_import_refuses_resubscription(p).await;
    over_the_limit_is_429_with_headers(p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_holds_on_the_simulator() {
    let cfg = acsync::simulator::SimConfig {
        requests_per_second: 5,
        ..fast_sim()
    };
    let sim = acsync::simulator::Simulator::start(cfg).await.expect("sim");
    let list = sim.add_list("contract");
    let peer = Peer {
        client: client(&sim.base_url(), &sim.api_key(), Duration::from_millis(50)),
        base_url: sim.base_url(),
        key: sim.api_key().to_string(),
        list,
    };
    contract(&peer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real ActiveCampaign account: ACSYNC_LIVE_URL, ACSYNC_LIVE_KEY, ACSYNC_LIVE_LIST"]
async fn contract_holds_on_a_live_account() {
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set"));
    let (url, key) = (var("ACSYNC_LIVE_URL"), var("ACSYNC_LIVE_KEY"));
    let list: u64 = var("ACSYNC_LIVE_LIST")
        .parse()
        .expect("ACSYNC_LIVE_LIST is a list id");
    let peer = Peer {
        client: client(&url, &key, Duration::from_secs(2)),
        base_url: url,
        key,
        list,
    };
    contract(&peer).await;
}
