//! Reading only what changed (activecampaign-api.md §12, "Reading only what
//! changed"; §2.5 for the parameters and paging): the `filters[…]` dates of
//! `GET /contacts`, what moves a contact's `udate`, the switch for the
//! undocumented alternative (a status change that leaves it), and `age`.

use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use serde_json::{Value, json};

use super::super::{ChangedBy, Simulator};
use super::{Answer, Api, fast, ids};

const DAY: i64 = 24 * 3600;

/// Query-string form of a value: `+` (an offset) and spaces escaped.
fn enc(value: &str) -> String {
    value.replace('+', "%2B").replace(' ', "%20")
}

/// RFC 3339 in UTC, `secs_ago` before now.
fn ago(secs_ago: i64) -> String {
    (Utc::now() - chrono::TimeDelta::seconds(secs_ago)).to_rfc3339()
}

fn total(a: &Answer) -> u64 {
    let t = &a.body["meta"]["total"];
    t.as_u64()
        .or_else(|| t.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(u64::MAX)
}

fn time(v: &Value) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or("")).expect("zoned time")
}

/// Ten members of a list (`u1`..`u10`, ids 1-10, active) and one contact
/// on no list (id 11), all created three days ago.
async fn aged_list() -> (Simulator, u64) {
    let sim = Simulator::start(fast()).await.expect("start");
    let l = sim.add_list("L");
    for i in 1..=10 {
        let c = sim.add_contact(&format!("u{i}@example.com"), None, None, None);
        sim.set_membership(c, l, 1, ChangedBy::Api);
    }
    sim.add_contact("u11@example.com", None, None, None);
    sim.age(3 * DAY);
    (sim, l)
}

/// Changes by others today: 3 opts out, 5's name is edited, 7 bounces,
/// 11 (on no list) is edited, 12 is a new member.
fn change_some(sim: &Simulator, l: u64) {
    sim.set_membership(3, l, 2, ChangedBy::Contact);
    assert!(sim.edit_contact_by_others("u5@example.com", "Eve"));
    sim.set_membership(7, l, 3, ChangedBy::Admin);
    assert!(sim.edit_contact_by_others("u11@example.com", "Kim"));
    let new = sim.add_contact("u12@example.com", None, None, None);
    sim.set_membership(new, l, 1, ChangedBy::Admin);
}

/// `filters[updated_after]` / `[created_after]` and their `_before`
/// twins select by the contact's `udate` / `cdate` and combine with
/// `listid`, `status`, `ids[]`, `email`, `orders[id]` + `id_greater`
/// paging and `offset`; `meta.total` counts every match, without the
/// cursor and the paging.
#[tokio::test]
async fn date_filters_select_by_udate_and_cdate_and_combine_section_12() {
    let (sim, l) = aged_list().await;
    change_some(&sim, l);
    let api = Api::new(&sim);
    let since = enc(&ago(DAY));
    let get = |q: String| {
        let api = &api;
        async move { api.get(&format!("/contacts?{q}")).await }
    };
    let changed = format!("listid={l}&filters[updated_after]={since}&orders[id]=ASC&limit=2");
    let first = get(format!("{changed}&id_greater=0")).await;
    assert_eq!((ids(&first), total(&first)), (vec![3, 5], 4));
    let second = get(format!("{changed}&id_greater=5")).await;
    assert_eq!((ids(&second), total(&second)), (vec![7, 12], 4));
    let end = get(format!("{changed}&id_greater=12")).await;
    assert_eq!((ids(&end), total(&end)), (vec![], 4));
    let offset = get(format!("{changed}&offset=1")).await;
    assert_eq!(ids(&offset), vec![5, 7]);

    let with_status = |s: u8| format!("listid={l}&status={s}&filters[updated_after]={since}");
    let active = get(with_status(1)).await;
    assert_eq!((ids(&active), total(&active)), (vec![5, 12], 2));
    assert_eq!(ids(&get(with_status(2)).await), vec![3]);
    assert_eq!(ids(&get(with_status(3)).await), vec![7]);

    let side = get(format!("{changed}&include=contactLists")).await;
    assert_eq!(side.body["contactLists"].as_array().map(Vec::len), Some(2));

    let unchanged = get(format!(
        "listid={l}&filters[updated_before]={since}&limit=100"
    ))
    .await;
    assert_eq!(
        (ids(&unchanged), total(&unchanged)),
        (vec![1, 2, 4, 6, 8, 9, 10], 7)
    );
    let created = get(format!("listid={l}&filters[created_after]={since}")).await;
    assert_eq!((ids(&created), total(&created)), (vec![12], 1));
    let old = get(format!(
        "listid={l}&filters[created_before]={since}&limit=100"
    ))
    .await;
    assert_eq!(total(&old), 10);
    let both = format!("filters[created_before]={since}&filters[updated_after]={since}");
    assert_eq!(ids(&get(format!("listid={l}&{both}")).await), vec![3, 5, 7]);

    let any_list = get(format!("filters[updated_after]={since}&orders[id]=DESC")).await;
    assert_eq!(ids(&any_list), vec![12, 11, 7, 5, 3]);
    let asked = get(format!(
        "ids[]=1&ids[]=3&ids[]=11&filters[updated_after]={since}"
    ))
    .await;
    assert_eq!((ids(&asked), total(&asked)), (vec![3, 11], 2));
    let by_email = |e: &str| format!("email={e}&filters[updated_after]={since}");
    assert_eq!(ids(&get(by_email("u5@example.com")).await), vec![5]);
    assert_eq!(
        ids(&get(by_email("u6@example.com")).await),
        Vec::<u64>::new()
    );
}

/// The comparison is strict, to the second: a contact whose `udate` is
/// the cutoff itself is not "after" it, nor "before" it.
#[tokio::test]
async fn date_filters_are_strict_to_the_second_section_12() {
    let sim = Simulator::start(fast()).await.expect("start");
    let c = sim.add_contact("a@example.com", None, None, None);
    let api = Api::new(&sim);
    let udate = time(&api.get(&format!("/contacts/{c}")).await.body["contact"]["udate"]);
    let at = |t: DateTime<FixedOffset>| enc(&t.to_rfc3339());
    let second = chrono::TimeDelta::seconds(1);
    for (filter, cutoff, expected) in [
        ("updated_after", udate, vec![]),
        ("updated_before", udate, vec![]),
        ("updated_after", udate - second, vec![c]),
        ("updated_before", udate + second, vec![c]),
        ("created_after", udate - second, vec![c]),
        ("created_before", udate - second, vec![]),
    ] {
        let a = api
            .get(&format!("/contacts?filters[{filter}]={}", at(cutoff)))
            .await;
        assert_eq!(ids(&a), expected, "{filter} {cutoff}");
    }
}

/// Accepted forms: RFC 3339 with an offset (exact, any offset), and
/// without a zone `YYYY-MM-DD hh:mm:ss`, `YYYY-MM-DDThh:mm:ss` (wall-clock
/// time in the account's zone, §12 "Times are in the account's zone") and
/// `YYYY-MM-DD` (the start of that day there). Anything else is a 400
/// naming the parameter.
#[tokio::test]
async fn date_filter_value_forms_section_12() {
    let sim = Simulator::start(fast()).await.expect("start");
    sim.add_contact("a@example.com", None, None, None);
    // Updated 3 hours ago; the account is US Central (UTC−6 or −5).
    sim.age(3 * 3600);
    let api = Api::new(&sim);
    let selected = |value: String| {
        let api = &api;
        async move {
            let a = api
                .get(&format!("/contacts?filters[updated_after]={}", enc(&value)))
                .await;
            assert_eq!(a.status, 200, "{value}");
            !ids(&a).is_empty()
        }
    };
    let chicago = chrono_tz::America::Chicago;
    let local = |secs_ago: i64, form: &str| {
        let t = Utc::now() - chrono::TimeDelta::seconds(secs_ago);
        t.with_timezone(&chicago).format(form).to_string()
    };
    for form in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"] {
        // Read as UTC, 2 hours ago local would be 7 or 8 hours ago.
        assert!(!selected(local(2 * 3600, form)).await, "{form}");
        assert!(selected(local(4 * 3600, form)).await, "{form}");
    }
    let tokyo = |secs_ago: i64| {
        let t = Utc::now() - chrono::TimeDelta::seconds(secs_ago);
        t.with_timezone(&chrono_tz::Asia::Tokyo).to_rfc3339()
    };
    assert!(!selected(tokyo(2 * 3600)).await);
    assert!(selected(tokyo(4 * 3600)).await);
    assert!(selected(ago(4 * 3600).replace("+00:00", "Z")).await);
    // The start of the local day two days ago is before the update; that
    // of tomorrow is after it.
    assert!(selected(local(2 * DAY, "%Y-%m-%d")).await);
    assert!(!selected(local(-DAY, "%Y-%m-%d")).await);

    for name in [
        "updated_after",
        "updated_before",
        "created_after",
        "created_before",
    ] {
        for bad in ["yesterday", "1700000000", "2026-12-07T01:00", "07/12/2026"] {
            let a = api
                .get(&format!("/contacts?filters[{name}]={}", enc(bad)))
                .await;
            assert_eq!(a.status, 400, "{name}={bad}");
            let message = a.body["message"].as_str().unwrap_or("");
            assert!(message.contains(&format!("filters[{name}]")), "{message}");
        }
    }
}

/// Ids of the contacts `GET /contacts?filters[updated_after]=…` finds
/// changed in the last day.
async fn changed_today(api: &Api) -> Vec<u64> {
    let since = enc(&ago(DAY));
    ids(&api
        .get(&format!(
            "/contacts?filters[updated_after]={since}&limit=100"
        ))
        .await)
}

/// A list membership created or changing status moves the contact's
/// `udate` (the simulator's default answer to an undocumented question,
/// §12); a write of the same status does not. With the switch off no
/// status change moves it: the alternative the drift check must detect.
#[tokio::test]
async fn status_change_moves_udate_unless_switched_off_section_12() {
    let (sim, l) = aged_list().await;
    let api = Api::new(&sim);
    sim.set_membership(1, l, 1, ChangedBy::Api);
    assert_eq!(changed_today(&api).await, Vec::<u64>::new(), "same status");
    sim.set_membership(2, l, 2, ChangedBy::Contact);
    let m = json!({"contactList": {"list": l, "contact": 4, "status": 2}});
    assert_eq!(api.post("/contactLists", &m).await.status, 200);
    let other = sim.add_list("Other");
    sim.set_membership(6, other, 1, ChangedBy::Admin);
    assert_eq!(changed_today(&api).await, vec![2, 4, 6]);

    sim.age(3 * DAY);
    sim.set_status_change_moves_udate(false);
    sim.set_membership(2, l, 1, ChangedBy::Contact);
    sim.set_membership(8, l, 3, ChangedBy::Admin);
    let m = json!({"contactList": {"list": l, "contact": 9, "status": 2}});
    assert_eq!(api.post("/contactLists", &m).await.status, 200);
    sim.set_membership(10, other, 1, ChangedBy::Admin);
    assert_eq!(changed_today(&api).await, Vec::<u64>::new());
    assert_eq!(sim.list_status("u8@example.com", l), Some(3));
    // Contact edits still move it.
    assert!(sim.edit_contact_by_others("u9@example.com", "Ida"));
    assert_eq!(changed_today(&api).await, vec![9]);
    sim.set_status_change_moves_udate(true);
    sim.set_membership(2, l, 2, ChangedBy::Contact);
    assert_eq!(changed_today(&api).await, vec![2, 9]);
}

/// Every contact write moves `udate`: `POST /contact/sync`,
/// `PUT /contacts/{id}`, an email change, an edit by others and a bulk
/// import's upsert. Tagging does not: a contactTag is a row of its own
/// with its own `cdate` (the simulator's choice; undocumented).
#[tokio::test]
async fn contact_writes_move_udate_and_tags_do_not_section_12() {
    let (sim, l) = aged_list().await;
    let api = Api::new(&sim);
    let tag = api
        .post(
            "/tags",
            &json!({"tag": {"tag": "vip", "tagType": "contact"}}),
        )
        .await;
    let tag_id = tag.body["tag"]["id"].clone();
    let row = json!({"contactTag": {"contact": "10", "tag": tag_id}});
    assert_eq!(api.post("/contactTags", &row).await.status, 201);
    assert_eq!(changed_today(&api).await, Vec::<u64>::new(), "tagging");

    let sync = json!({"contact": {"email": "u1@example.com", "firstName": "Al"}});
    assert!(api.post("/contact/sync", &sync).await.status < 300);
    let put = json!({"contact": {"lastName": "Bo"}});
    let http = reqwest::Client::new();
    let answer = http
        .put(format!("{}/api/3/contacts/2", sim.base_url()))
        .header("Api-Token", sim.api_key())
        .json(&put)
        .send()
        .await
        .expect("PUT");
    assert_eq!(answer.status().as_u16(), 200);
    assert!(sim.change_email("u3@example.com", "u3.new@example.com"));
    assert!(sim.edit_contact_by_others("u4@example.com", "Di"));
    let bulk = json!({"contacts": [{"email": "u5@example.com", "first_name": "Ed",
        "subscribe": [{"listid": l}]}]});
    assert_eq!(api.post("/import/bulk_import", &bulk).await.status, 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(changed_today(&api).await, vec![1, 2, 3, 4, 5]);
}

/// `age` moves every record date into the past by the same amount:
/// a contact's `cdate`/`udate`, its rows' `sdate`/`udate`.
#[tokio::test]
async fn age_moves_every_record_date_into_the_past() {
    let (sim, l) = aged_list().await;
    let api = Api::new(&sim);
    sim.set_membership(1, l, 2, ChangedBy::Contact);
    let read = || {
        let api = &api;
        async move {
            let c = api.get("/contacts/1").await.body;
            let row = &c["contactLists"][0];
            [
                &c["contact"]["cdate"],
                &c["contact"]["udate"],
                &row["sdate"],
                &row["udate"],
            ]
            .map(|t| time(t).timestamp())
        }
    };
    let before = read().await;
    sim.age(3600);
    let after = read().await;
    assert_eq!(before.map(|t| t - 3600), after);
    // The row was created before the first `age` and changed after it.
    assert!(before[2] < before[3] - DAY, "{before:?}");
}
