//! Auth, limits, contacts, lists, fields, contactLists.

use serde_json::json;

use super::super::{ChangedBy, SimConfig, Simulator};
use super::{Answer, Api, fast, ids};

#[tokio::test]
async fn auth_missing_or_wrong_token_is_403_section_1_2() {
    let sim = Simulator::start(fast()).await.expect("start");
    let l = sim.add_list("L");
    for key in ["", "wrong-key"] {
        let a = Api::with_key(&sim, key).get(&format!("/lists/{l}")).await;
        assert_eq!(a.status, 403);
        assert_eq!(a.body["errors"][0]["status"], 403);
        assert_eq!(a.body["errors"][0]["title"], "Forbidden");
    }
    assert_eq!(Api::new(&sim).get(&format!("/lists/{l}")).await.status, 200);
}

#[tokio::test]
async fn over_5_per_second_is_429_with_headers_section_1_3() {
    let sim = Simulator::start(SimConfig::default()).await.expect("start");
    let l = sim.add_list("L");
    let api = Api::new(&sim);
    for expected_remaining in (0..5).rev() {
        let a = api.get(&format!("/lists/{l}")).await;
        assert_eq!(a.status, 200);
        assert_eq!(a.header("RateLimit-Limit"), Some("5"));
        let remaining = expected_remaining.to_string();
        assert_eq!(a.header("RateLimit-Remaining"), Some(remaining.as_str()));
    }
    // Auth is checked before the limit: a bad key still gets 403.
    let bad = Api::with_key(&sim, "nope")
        .get(&format!("/lists/{l}"))
        .await;
    assert_eq!(bad.status, 403);
    let a = api.get(&format!("/lists/{l}")).await;
    assert_eq!(a.status, 429);
    assert_eq!(a.header("Retry-After"), Some("1"));
    assert_eq!(a.header("RateLimit-Remaining"), Some("0"));
    let ledger = sim.ledger();
    assert_eq!(ledger.rate_limited_429, 1);
    assert_eq!(ledger.max_in_any_second, 5);
    assert_eq!(ledger.total, 7, "429s and 403s count in total");
}

/// 250 contacts on a list, every third unsubscribed.
fn seed_list(sim: &Simulator, n: u64) -> u64 {
    let l = sim.add_list("Big");
    for i in 1..=n {
        let id = sim.add_contact(&format!("u{i}@example.com"), None, None, None);
        let status = if i % 3 == 0 { 2 } else { 1 };
        sim.set_membership(id, l, status, ChangedBy::Api);
    }
    l
}

#[tokio::test]
async fn paging_with_id_greater_and_100_cap_section_2_5() {
    let sim = Simulator::start(fast()).await.expect("start");
    let l = seed_list(&sim, 250);
    let api = Api::new(&sim);
    assert_eq!(
        ids(&api.get(&format!("/contacts?listid={l}")).await).len(),
        20
    );
    let (mut cursor, mut seen) = (0, Vec::new());
    loop {
        let q = format!("/contacts?listid={l}&limit=500&orders[id]=ASC&id_greater={cursor}");
        let page = ids(&api.get(&q).await);
        assert!(page.len() <= 100, "limit is capped at 100");
        let Some(last) = page.last() else { break };
        cursor = *last;
        seen.extend(page);
    }
    assert_eq!(
        seen,
        (1..=250).collect::<Vec<u64>>(),
        "all, once, in id order"
    );
    let a = api
        .get(&format!("/contacts?listid={l}&limit=100&offset=200"))
        .await;
    assert_eq!(ids(&a).first(), Some(&201));
}

#[tokio::test]
async fn meta_total_alternates_string_and_number_section_2_5() {
    let sim = Simulator::start(fast()).await.expect("start");
    let l = seed_list(&sim, 6);
    let api = Api::new(&sim);
    let q = format!("/contacts?listid={l}&status=1");
    let first = api.get(&q).await.body["meta"]["total"].clone();
    let second = api.get(&q).await.body["meta"]["total"].clone();
    assert_eq!(first, json!("4"));
    assert_eq!(second, json!(4));
    let c = &api.get(&q).await.body["contacts"][0];
    assert_eq!(c["id"], "1", "ids are strings");
    assert_eq!(c["firstName"], "", "empty names are empty strings");
}

#[tokio::test]
async fn status_filter_is_per_list_with_listid_section_3_3() {
    let sim = Simulator::start(fast()).await.expect("start");
    let (l1, l2) = (sim.add_list("One"), sim.add_list("Two"));
    let a = sim.add_contact("a@example.com", None, None, None);
    sim.set_membership(a, l1, 1, ChangedBy::Api);
    sim.set_membership(a, l2, 2, ChangedBy::Contact);
    let api = Api::new(&sim);
    assert_eq!(
        ids(&api.get(&format!("/contacts?listid={l1}&status=1")).await),
        vec![a]
    );
    assert!(ids(&api.get(&format!("/contacts?listid={l2}&status=1")).await).is_empty());
    assert_eq!(
        ids(&api.get(&format!("/contacts?listid={l2}&status=2")).await),
        vec![a]
    );
    let by_email = api.get("/contacts?email=A@Example.COM").await;
    assert_eq!(ids(&by_email), vec![a], "email filter is case-insensitive");
}

#[tokio::test]
async fn contact_list_status_int_on_post_string_on_get_section_3_1_and_3_2() {
    let sim = Simulator::start(fast()).await.expect("start");
    let l = sim.add_list("L");
    let c = sim.add_contact("a@example.com", Some("Ann"), None, None);
    let api = Api::new(&sim);
    let body = json!({"contactList": {"list": l.to_string(), "contact": c, "status": 1}});
    let post = api.post("/contactLists", &body).await;
    assert_eq!(post.status, 200);
    assert_eq!(post.body["contactList"]["status"], json!(1));
    assert_eq!(post.body["contactList"]["list"], json!(l.to_string()));
    let get = api.get(&format!("/contacts/{c}/contactLists")).await;
    assert_eq!(get.body["contactLists"][0]["status"], json!("1"));
    let full = api.get(&format!("/contacts/{c}")).await;
    assert_eq!(full.body["contactLists"][0]["status"], json!("1"));
    assert_eq!(full.body["contact"]["firstName"], "Ann");
}

#[tokio::test]
async fn contact_lists_sub_resource_pages_by_20_without_limit_section_12() {
    let sim = Simulator::start(fast()).await.expect("start");
    let c = sim.add_contact("a@example.com", None, None, None);
    for n in 0..25 {
        let l = sim.add_list(&format!("L{n}"));
        sim.set_membership(c, l, 1, ChangedBy::Contact);
    }
    let api = Api::new(&sim);
    let rows = |a: &Answer| a.body["contactLists"].as_array().map_or(0, Vec::len);
    let default = api.get(&format!("/contacts/{c}/contactLists")).await;
    assert_eq!(rows(&default), 20, "no limit: the first 20 rows only");
    let first = api
        .get(&format!("/contacts/{c}/contactLists?limit=100"))
        .await;
    assert_eq!(rows(&first), 25);
    let rest = api
        .get(&format!("/contacts/{c}/contactLists?offset=20"))
        .await;
    assert_eq!(rows(&rest), 5);
    let lists = api.get("/lists").await;
    assert_eq!(lists.body["lists"].as_array().map_or(0, Vec::len), 20);
}

#[tokio::test]
async fn contact_lists_status_1_resubscribes_unsubscribed_section_3_1() {
    let sim = Simulator::start(fast()).await.expect("start");
    let l = sim.add_list("L");
    let c = sim.add_contact("a@example.com", None, None, None);
    sim.set_membership(c, l, 2, ChangedBy::Contact);
    let api = Api::new(&sim);
    let body = json!({"contactList": {"list": l, "contact": c.to_string(), "status": 1}});
    assert_eq!(api.post("/contactLists", &body).await.status, 200);
    let m = &sim.members(l)[0];
    assert_eq!((m.status, m.changed_by), (1, ChangedBy::Api));
    let body = json!({"contactList": {"list": l, "contact": c, "status": 2}});
    assert_eq!(api.post("/contactLists", &body).await.status, 200);
    assert!(sim.active_emails(l).is_empty());
}

#[tokio::test]
async fn contact_sync_upserts_by_email_case_insensitively_section_2_2() {
    let sim = Simulator::start(fast()).await.expect("start");
    let l = sim.add_list("L");
    let f = sim.add_field("COMPANY", "Company");
    let api = Api::new(&sim);
    let body = json!({"contact": {"email": "Jane@Example.com", "firstName": "Jane",
        "fieldValues": [{"field": f.to_string(), "value": "Acme"}]}});
    let created = api.post("/contact/sync", &body).await;
    assert_eq!(created.status, 201);
    let id = created.body["contact"]["id"].clone();
    let again = json!({"contact": {"email": "jane@EXAMPLE.COM", "lastName": "Doe"}});
    let updated = api.post("/contact/sync", &again).await;
    assert!(updated.status == 200 || updated.status == 201);
    assert_eq!(updated.body["contact"]["id"], id);
    assert_eq!(sim.contact_count(), 1);
    assert!(sim.duplicate_emails().is_empty());
    let c = sim.contact("JANE@example.com").expect("contact");
    assert_eq!(
        (c.first_name.as_str(), c.last_name.as_str()),
        ("Jane", "Doe")
    );
    assert_eq!(c.fields.get(&f).map(String::as_str), Some("Acme"));
    assert!(
        sim.members(l).is_empty(),
        "sync does not touch list membership"
    );
    let bad = api
        .post(
            "/contact/sync",
            &json!({"contact": {"email": "not-an-email"}}),
        )
        .await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.body["errors"][0]["code"], "field_invalid");
}

#[tokio::test]
async fn not_found_shapes_section_3_2_and_5_1() {
    let sim = Simulator::start(fast()).await.expect("start");
    let api = Api::new(&sim);
    let list = api.get("/lists/7").await;
    assert_eq!(
        (list.status, list.body["message"].as_str()),
        (404, Some("No Result found for _List with id 7"))
    );
    let c = api.get("/contacts/121/contactLists").await;
    assert_eq!(
        c.body["message"],
        "No Result found for Subscriber with id 121"
    );
    assert_eq!(api.get("/contacts/121").await.status, 404);
    let l = sim.add_list("L");
    let body = json!({"contactList": {"list": l, "contact": 55, "status": 1}});
    let post = api.post("/contactLists", &body).await;
    assert_eq!(
        post.body["message"],
        "No Result found for Subscriber with id 55"
    );
}

#[tokio::test]
async fn lists_and_fields_shapes_section_5_1_and_5_2() {
    let sim = Simulator::start(fast()).await.expect("start");
    let l = sim.add_list("Email Subscription");
    sim.add_field("COMPANY", "Company");
    sim.add_field("CITY", "City");
    let api = Api::new(&sim);
    let list = api.get(&format!("/lists/{l}")).await.body;
    assert_eq!(list["list"]["id"], "1");
    assert_eq!(list["list"]["stringid"], "email-subscription");
    let fields = api.get("/fields").await.body;
    assert_eq!(fields["meta"]["total"], "2");
    assert_eq!(fields["fields"][1]["perstag"], "CITY");
    assert_eq!(fields["fields"][1]["id"], "2");
    assert_eq!(
        api.get("/fields?limit=1&offset=1").await.body["fields"][0]["id"],
        "2"
    );
}

#[tokio::test]
async fn malformed_requests_get_4xx_never_a_panic_section_6() {
    let sim = Simulator::start(fast()).await.expect("start");
    let api = Api::new(&sim);
    let sync = api.post_raw("/contact/sync", "{not json".into()).await;
    assert_eq!((sync.status, sync.body.clone()), (400, json!({})));
    assert_eq!(api.get("/contacts?limit=abc").await.status, 400);
    assert_eq!(api.get("/contacts?status=9000").await.status, 400);
    assert_eq!(
        api.get("/contacts?id_greater=5&id_less=5").await.status,
        200
    );
    assert_eq!(api.get("/contacts/abc").await.status, 404);
    let cl = api
        .post("/contactLists", &json!({"contactList": {"list": "x"}}))
        .await;
    assert_eq!(cl.status, 422);
    // The server is still up.
    assert_eq!(api.get("/contacts").await.status, 200);
}

#[tokio::test]
async fn tags_unique_case_insensitively_and_contact_tags_section_5_3() {
    let sim = Simulator::start(fast()).await.expect("start");
    let c = sim.add_contact("a@example.com", None, None, None);
    let api = Api::new(&sim);
    let made = api
        .post(
            "/tags",
            &json!({"tag": {"tag": "VIP", "tagType": "contact"}}),
        )
        .await;
    assert_eq!(made.status, 201);
    let tag = made.body["tag"]["id"].clone();
    let dup = api
        .post(
            "/tags",
            &json!({"tag": {"tag": "vip", "tagType": "contact"}}),
        )
        .await;
    assert_eq!(
        (dup.status, dup.body["errors"][0]["code"].as_str()),
        (422, Some("duplicate"))
    );
    assert_eq!(api.get("/tags?search=vi").await.body["tags"][0]["id"], tag);
    let body = json!({"contactTag": {"contact": c.to_string(), "tag": tag}});
    let row = api.post("/contactTags", &body).await;
    assert_eq!(row.status, 201);
    assert_eq!(
        sim.contact("a@example.com").map(|c| c.tags),
        Some(vec!["VIP".to_string()])
    );
    let missing = api
        .post(
            "/contactTags",
            &json!({"contactTag": {"contact": 99, "tag": tag}}),
        )
        .await;
    assert_eq!(missing.body["errors"][0]["detail"], "Contact not found");
    let id = row.body["contactTag"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let http = reqwest::Client::new();
    let del = |id: String| {
        http.delete(format!("{}/api/3/contactTags/{id}", sim.base_url()))
            .header("Api-Token", sim.api_key())
            .send()
    };
    assert_eq!(
        del(id.clone()).await.map(|r| r.status().as_u16()).ok(),
        Some(200)
    );
    assert_eq!(del(id).await.map(|r| r.status().as_u16()).ok(), Some(404));
    assert_eq!(sim.contact("a@example.com").map(|c| c.tags.len()), Some(0));
}

#[tokio::test]
async fn create_refuses_duplicates_and_put_renames_section_2_1_and_2_3() {
    let sim = Simulator::start(fast()).await.expect("start");
    let a = sim.add_contact("a@example.com", None, None, None);
    sim.add_contact("b@example.com", None, None, None);
    let api = Api::new(&sim);
    let dup = api
        .post("/contacts", &json!({"contact": {"email": "A@example.com"}}))
        .await;
    assert_eq!(
        (dup.status, dup.body["errors"][0]["code"].as_str()),
        (422, Some("duplicate"))
    );
    let http = reqwest::Client::new();
    let put = |email: &'static str| {
        http.put(format!("{}/api/3/contacts/{a}", sim.base_url()))
            .header("Api-Token", sim.api_key())
            .json(&json!({"contact": {"email": email, "firstName": "Ann"}}))
            .send()
    };
    let taken = put("B@example.com").await.map(|r| r.status().as_u16()).ok();
    assert_eq!(taken, Some(422), "rename onto another contact's email");
    assert_eq!(
        put("new@example.com")
            .await
            .map(|r| r.status().as_u16())
            .ok(),
        Some(200)
    );
    assert!(sim.contact("a@example.com").is_none());
    assert_eq!(
        sim.contact("NEW@example.com").map(|c| (c.id, c.first_name)),
        Some((a, "Ann".into()))
    );
    assert!(sim.duplicate_emails().is_empty());
    let created = api
        .post("/contacts", &json!({"contact": {"email": "a@example.com"}}))
        .await;
    assert_eq!(created.status, 201, "the old email is free again");
}
