//! What a membership row and a contact read tell about a change:
//! times in the account's zone, the marks an opt-out leaves, `sourceid`,
//! and the rows side-loaded with `GET /contacts?ids[]=…`.

use serde_json::{Value, json};

use super::super::{ChangedBy, SimConfig, Simulator};
use super::{Api, fast, ids};

/// The wall-clock part of a zoned time, in the zoneless form.
fn wall(zoned: &Value) -> String {
    zoned.as_str().unwrap_or("")[..19].replace('T', " ")
}

fn offset(zoned: &Value) -> String {
    zoned
        .as_str()
        .unwrap_or("")
        .get(19..)
        .unwrap_or("")
        .to_string()
}

/// §12, "Times are in the account's zone": zoned fields carry the zone's
/// offset (US Central by default: −05:00 in summer, −06:00 in winter), and
/// the zoneless ones the same local wall-clock time, `*_utc_timestamp`
/// included.
#[tokio::test]
async fn times_are_in_the_account_zone_section_12() {
    let sim = Simulator::start(fast()).await.expect("start");
    let l = sim.add_list("L");
    let c = sim.add_contact("a@example.com", None, None, None);
    sim.set_membership(c, l, 1, ChangedBy::Api);
    let api = Api::new(&sim);
    for (udate, zoned) in [
        (1620835806, "2021-05-12T11:10:06-05:00"),
        (1610471406, "2021-01-12T11:10:06-06:00"),
    ] {
        assert!(sim.set_membership_udate("a@example.com", l, udate));
        let row = &api.get(&format!("/contacts/{c}/contactLists")).await.body["contactLists"][0];
        assert_eq!(row["udate"], json!(zoned));
        assert_eq!(row["updated_timestamp"], json!(wall(&row["udate"])));
        assert_eq!(row["created_timestamp"], json!(wall(&row["sdate"])));
    }
    let contact = &api.get(&format!("/contacts/{c}")).await.body["contact"];
    assert!(
        ["-05:00", "-06:00"].contains(&offset(&contact["cdate"]).as_str()),
        "{}",
        contact["cdate"]
    );
    assert_eq!(
        contact["created_utc_timestamp"],
        json!(wall(&contact["cdate"]))
    );
    assert_eq!(
        contact["updated_utc_timestamp"],
        json!(wall(&contact["udate"]))
    );

    // Another zone, set in the configuration or on the handle.
    let cfg = SimConfig {
        time_zone: chrono_tz::Etc::GMTPlus6,
        ..fast()
    };
    let sim = Simulator::start(cfg).await.expect("start");
    let c = sim.add_contact("a@example.com", None, None, None);
    let api = Api::new(&sim);
    let contact = &api.get(&format!("/contacts/{c}")).await.body["contact"];
    assert_eq!(offset(&contact["cdate"]), "-06:00");
    sim.set_time_zone(chrono_tz::Asia::Tokyo);
    let contact = &api.get(&format!("/contacts/{c}")).await.body["contact"];
    assert_eq!(offset(&contact["cdate"]), "+09:00");
}

/// The fault switch: a row's `udate` without its zone (the legacy form,
/// local time), `sdate` still zoned.
#[tokio::test]
async fn zoneless_row_udate_is_local_wall_clock_time() {
    let sim = Simulator::start(fast()).await.expect("start");
    let l = sim.add_list("L");
    let c = sim.add_contact("a@example.com", None, None, None);
    sim.set_membership(c, l, 2, ChangedBy::Api);
    assert!(sim.set_membership_udate("a@example.com", l, 1620835806));
    sim.set_zoneless_row_udate(true);
    let api = Api::new(&sim);
    let row = &api.get(&format!("/contacts/{c}/contactLists")).await.body["contactLists"][0];
    assert_eq!(row["udate"], json!("2021-05-12 11:10:06"));
    assert!(row["sdate"].as_str().is_some_and(|s| s.len() == 25));
}

/// §12, "`udate` of a membership row": an opt-out through a campaign's
/// link names the campaign, the message and a reason; an automation's
/// unsubscribe names the automation; an API write leaves them empty and
/// records the `sourceid` it sent (§3.1: 4 for a re-subscription).
#[tokio::test]
async fn an_opt_out_marks_its_row_an_api_write_does_not_section_12() {
    let sim = Simulator::start(fast()).await.expect("start");
    let l = sim.add_list("L");
    let (a, b) = (
        sim.add_contact("a@example.com", None, None, None),
        sim.add_contact("b@example.com", None, None, None),
    );
    sim.set_membership(a, l, 2, ChangedBy::Contact);
    sim.set_membership(b, l, 2, ChangedBy::Automation);
    let api = Api::new(&sim);
    let row = |id: u64| {
        let api = &api;
        async move {
            api.get(&format!("/contacts/{id}/contactLists")).await.body["contactLists"][0].clone()
        }
    };
    let opted = row(a).await;
    assert_eq!(
        (&opted["campaign"], &opted["message"]),
        (&json!("7"), &json!("12"))
    );
    assert_ne!(opted["unsubreason"], json!(""));
    assert_eq!(opted["unsubscribeAutomation"], Value::Null);
    let automated = row(b).await;
    assert_eq!(automated["unsubscribeAutomation"], json!("3"));
    assert_eq!(automated["campaign"], Value::Null);

    let body = json!({"contactList": {"list": l, "contact": a, "status": 1, "sourceid": 4}});
    assert_eq!(api.post("/contactLists", &body).await.status, 200);
    let back = row(a).await;
    assert_eq!(back["sourceid"], json!("4"));
    let body = json!({"contactList": {"list": l, "contact": a, "status": 2}});
    assert_eq!(api.post("/contactLists", &body).await.status, 200);
    let ours = row(a).await;
    assert_eq!(
        (
            &ours["unsubreason"],
            &ours["campaign"],
            &ours["message"],
            &ours["sourceid"]
        ),
        (&json!(""), &Value::Null, &Value::Null, &json!("0"))
    );
}

/// §12, "`include=contactLists` side-loads membership rows": `GET
/// /contacts?ids[]=…&include=contactLists` answers each contact's own rows
/// beside it; with the fault switch on, `listid`+`status` are ignored when
/// `ids[]` is present and every asked contact comes back; with the other,
/// `include` is ignored.
#[tokio::test]
async fn ids_read_side_loads_rows_and_the_filter_fault_section_12() {
    let sim = Simulator::start(fast()).await.expect("start");
    let (l, other) = (sim.add_list("L"), sim.add_list("Other"));
    let active = sim.add_contact("a@example.com", None, None, None);
    let bounced = sim.add_contact("b@example.com", None, None, None);
    let stranger = sim.add_contact("c@example.com", None, None, None);
    sim.set_membership(active, l, 1, ChangedBy::Api);
    sim.set_membership(active, other, 2, ChangedBy::Contact);
    sim.set_membership(bounced, l, 3, ChangedBy::Admin);
    let api = Api::new(&sim);
    let path = format!(
        "/contacts?ids[]={active}&ids[]={bounced}&ids[]={stranger}&listid={l}&status=1&include=contactLists"
    );
    let read = api.get(&path).await;
    assert_eq!(ids(&read), vec![active]);
    let rows = read.body["contactLists"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(rows.len(), 2, "both of its rows: {rows:?}");
    assert!(
        rows.iter()
            .all(|r| r["contact"] == json!(active.to_string()))
    );
    assert_eq!(
        read.body["contacts"][0]["contactLists"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let plain = api
        .get(&format!("/contacts?ids[]={active}&listid={l}&status=1"))
        .await;
    assert!(plain.body.get("contactLists").is_none());

    sim.set_ids_ignore_list_filter(true);
    let read = api.get(&path).await;
    assert_eq!(ids(&read), vec![active, bounced, stranger]);
    let rows = read.body["contactLists"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(rows.len(), 3, "the stranger has no row: {rows:?}");

    sim.set_include_ignored(true);
    let read = api.get(&path).await;
    assert!(read.body.get("contactLists").is_none());
}

/// docs/activecampaign-api.md §12, "Reading a list by id order": a list
/// that gains or loses members while it is read makes the rows an
/// id-ordered read finds differ from the first page's `meta.total`.
#[tokio::test]
async fn a_list_read_while_it_changes_differs_from_its_first_total_section_12() {
    let sim = Simulator::start(fast()).await.expect("start");
    let l = sim.add_list("Busy");
    for i in 0..250 {
        let id = sim.add_contact(&format!("m{i:03}@example.com"), None, None, None);
        sim.set_membership(id, l, 1, ChangedBy::Api);
    }
    sim.churn_list_reads(crate::simulator::ReadChurn {
        list_id: l,
        sign_ups: 1,
        ..Default::default()
    });
    let api = Api::new(&sim);
    let (mut cursor, mut read, mut total) = (0, 0, None);
    loop {
        let q =
            format!("/contacts?listid={l}&status=1&limit=100&orders[id]=ASC&id_greater={cursor}");
        let a = api.get(&q).await;
        let t = a.body["meta"]["total"]
            .to_string()
            .trim_matches('"')
            .to_string();
        total.get_or_insert(t);
        let page = ids(&a);
        let Some(last) = page.last() else { break };
        (cursor, read) = (*last, read + page.len());
    }
    assert_eq!(
        total.as_deref(),
        Some("250"),
        "the count when the read began"
    );
    assert_eq!(
        read, 252,
        "the sign-ups after the two full pages were read too"
    );
    assert_eq!(sim.churned_pages(), 2, "full pages only: the read ends");
    // A count (limit 1) changes nothing.
    api.get(&format!("/contacts?listid={l}&status=1&limit=1"))
        .await;
    assert_eq!(sim.churned_pages(), 2);
}
