//! Read endpoints: `GET /lists`, `/lists/{id}`, `/fields`, `/contacts`,
//! `/contacts/{id}` and `/contacts/{id}/contactLists`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{Path, Query, State};
use axum::http::Uri;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::super::engine::shared::Shared;
use super::super::model::query::{ContactQuery, DEFAULT_LIMIT, DateFilters};
use super::super::model::zone::AccountTimes;
use super::params::{ApiResult, Sh, num, paging, params, path_id};
use super::wire::{self, ApiError};

pub fn routes(r: Router<Arc<Shared>>) -> Router<Arc<Shared>> {
    r.route("/api/3/lists", get(lists))
        .route("/api/3/lists/{id}", get(list))
        .route("/api/3/fields", get(fields))
        .route("/api/3/contacts", get(contacts))
        .route("/api/3/contacts/{id}", get(contact))
        .route("/api/3/contacts/{id}/contactLists", get(contact_lists))
}

/// `GET /lists` (§5.1), paged like everything else.
async fn lists(State(s): Sh, uri: Uri) -> ApiResult {
    let (limit, offset) = paging(&params(&uri)?, DEFAULT_LIMIT)?;
    let a = s.account();
    let page: Vec<Value> = a
        .lists
        .values()
        .skip(offset)
        .take(limit)
        .map(|l| wire::list(&s.base, a.times, l))
        .collect();
    let total = wire::total(a.lists.len() as u64, true);
    Ok(Json(json!({"lists": page, "meta": {"total": total}})).into_response())
}

/// `GET /lists/{id}` (§5.1).
async fn list(State(s): Sh, Path(raw): Path<String>) -> ApiResult {
    let id = path_id(&raw, "_List")?;
    let a = s.account();
    let l = a
        .lists
        .get(&id)
        .ok_or_else(|| ApiError::not_found("_List", id))?;
    Ok(Json(json!({ "list": wire::list(&s.base, a.times, l) })).into_response())
}

/// `GET /fields` (§5.2): `limit` defaults to 100 here.
async fn fields(State(s): Sh, uri: Uri) -> ApiResult {
    let (limit, offset) = paging(&params(&uri)?, 100)?;
    let a = s.account();
    let fields = a.fields.iter().skip(offset).take(limit);
    let page: Vec<Value> = fields
        .clone()
        .map(|f| wire::field(&s.base, a.times, f))
        .collect();
    // The options of the page's choice fields ride along as `fieldOptions`.
    let mut options = Vec::new();
    for f in fields {
        options.extend(wire::field_options(f, f.id * 1000));
    }
    let total = wire::total(a.fields.len() as u64, true);
    let body =
        json!({"fieldOptions": options, "fieldRels": [], "fields": page, "meta": {"total": total}});
    Ok(Json(body).into_response())
}

fn contact_query(
    p: &HashMap<String, String>,
    times: AccountTimes,
) -> Result<ContactQuery, ApiError> {
    let (limit, offset) = paging(p, DEFAULT_LIMIT)?;
    let status = match p.get("status").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None | Some("-1") => None,
        Some(s) => Some(
            s.parse::<u8>()
                .map_err(|_| ApiError::BadRequest(format!("status={s}")))?,
        ),
    };
    let descending = p
        .get("orders[id]")
        .is_some_and(|o| o.eq_ignore_ascii_case("desc"));
    Ok(ContactQuery {
        // listid=0 is AC's "no list" default (page_input, §2.5).
        listid: num(p, "listid")?.filter(|l| *l != 0),
        status,
        email: p.get("email").filter(|e| !e.is_empty()).cloned(),
        ids: None,
        id_greater: num(p, "id_greater")?,
        id_less: num(p, "id_less")?,
        dates: date_filters(p, times)?,
        descending,
        limit,
        offset,
    })
}

/// The `filters[…]` dates of `GET /contacts` (activecampaign-api.md §12,
/// "Reading only what changed"). A value in no form the account reads is
/// a 400 naming the parameter: what ActiveCampaign does with one is
/// undocumented, and a client bug must not pass for an empty answer.
fn date_filters(p: &HashMap<String, String>, times: AccountTimes) -> Result<DateFilters, ApiError> {
    let time = |key: &'static str| match p.get(key).map(|s| s.trim()) {
        None | Some("") => Ok(None),
        Some(sent) => times
            .parse_sent(sent)
            .map(Some)
            .ok_or_else(|| ApiError::BadParameter {
                name: key,
                value: sent.to_string(),
            }),
    };
    Ok(DateFilters {
        created_after: time("filters[created_after]")?,
        created_before: time("filters[created_before]")?,
        updated_after: time("filters[updated_after]")?,
        updated_before: time("filters[updated_before]")?,
    })
}

/// The repeated `ids[]` (or `ids`) parameter of `GET /contacts` (§2.5);
/// `None` when absent.
fn id_list(uri: &Uri) -> Result<Option<Vec<u64>>, ApiError> {
    let pairs = Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?
        .0;
    let mut ids = None::<Vec<u64>>;
    for (k, v) in pairs.iter().filter(|(k, _)| k == "ids[]" || k == "ids") {
        let id = v
            .trim()
            .parse()
            .map_err(|_| ApiError::BadRequest(format!("{k}={v} is not a number")))?;
        ids.get_or_insert_with(Vec::new).push(id);
    }
    Ok(ids)
}

/// `GET /contacts` (§2.5, §3.3); `include=contactLists` side-loads each
/// returned contact's membership rows (§12), in the shape of
/// `GET /contacts/{id}`: row ids on the contact, rows at the top level.
async fn contacts(State(s): Sh, uri: Uri) -> ApiResult {
    let p = params(&uri)?;
    let mut a = s.account();
    let mut q = contact_query(&p, a.times)?;
    q.ids = id_list(&uri)?;
    let asked = p
        .get("include")
        .is_some_and(|i| i.split(',').any(|r| r.trim() == "contactLists"));
    // meta.total alternates string / number, deterministically (§2.5).
    let as_string = s.query_count.fetch_add(1, Ordering::Relaxed) % 2 == 0;
    let side_load = asked && !a.include_ignored;
    let page = a.query_contacts(&q);
    let full = page.contacts.len() == q.limit;
    let mut rows = Vec::new();
    let mut list = Vec::with_capacity(page.contacts.len());
    for c in &page.contacts {
        let mut contact = wire::contact(&s.base, a.times, c);
        if side_load {
            let own = a.contact_lists(c.data.id);
            contact["contactLists"] = json!(
                own.iter()
                    .map(|(_, m)| m.id.to_string())
                    .collect::<Vec<_>>()
            );
            rows.extend(
                own.iter()
                    .map(|(l, m)| wire::contact_list(&s.base, a.times, c, *l, m, false)),
            );
        }
        list.push(contact);
    }
    let page_input = json!({"segmentid": 0, "formid": 0, "listid": q.listid.unwrap_or(0),
        "tagid": 0, "limit": q.limit, "offset": q.offset, "search": null, "sort": null,
        "seriesid": 0, "waitid": 0, "status": q.status.map_or(-1, i64::from), "forceQuery": 0,
        "cacheid": format!("{:032x}", s.query_count.load(Ordering::Relaxed))});
    let meta = json!({"total": wire::total(page.total, as_string), "page_input": page_input});
    let mut body = json!({"scoreValues": [], "contacts": list, "meta": meta});
    if side_load {
        body["contactLists"] = json!(rows);
    }
    let paged = q.limit > 1 && q.ids.is_none() && q.email.is_none();
    if let Some(list) = q.listid.filter(|_| paged) {
        a.after_list_page(list, full);
    }
    Ok(Json(body).into_response())
}

/// `GET /contacts/{id}` with sideloaded `contactLists` (§2.6).
async fn contact(State(s): Sh, Path(raw): Path<String>) -> ApiResult {
    let id = path_id(&raw, "Subscriber")?;
    let a = s.account();
    let c = a
        .contact(id)
        .ok_or_else(|| ApiError::not_found("Subscriber", id))?;
    let memberships = a.contact_lists(id);
    let lists: Vec<Value> = memberships
        .iter()
        .map(|(l, m)| wire::contact_list(&s.base, a.times, c, *l, m, false))
        .collect();
    let values = wire::field_values(&s.base, a.times, c);
    let mut body = wire::contact(&s.base, a.times, c);
    body["contactLists"] = json!(
        memberships
            .iter()
            .map(|(_, m)| m.id.to_string())
            .collect::<Vec<_>>()
    );
    body["fieldValues"] = json!(values.iter().map(|f| f["id"].clone()).collect::<Vec<_>>());
    for sideload in ["contactAutomations", "geoIps", "deals", "accountContacts"] {
        body[sideload] = json!([]);
    }
    let out = json!({"contactAutomations": [], "contactLists": lists, "deals": [],
        "fieldValues": values, "geoAddresses": [], "geoIps": [], "contact": body});
    Ok(Json(out).into_response())
}

/// `GET /contacts/{id}/contactLists` (§3.2): status as a string. Paged like
/// every collection (§12, "Collections page by 20"): without `limit` only
/// the first 20 rows come back.
async fn contact_lists(State(s): Sh, Path(raw): Path<String>, uri: Uri) -> ApiResult {
    let id = path_id(&raw, "Subscriber")?;
    let (limit, offset) = paging(&params(&uri)?, DEFAULT_LIMIT)?;
    let a = s.account();
    let c = a
        .contact(id)
        .ok_or_else(|| ApiError::not_found("Subscriber", id))?;
    let rows = a.contact_lists(id);
    let lists: Vec<Value> = rows
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(l, m)| wire::contact_list(&s.base, a.times, c, *l, m, false))
        .collect();
    let total = wire::total(rows.len() as u64, true);
    Ok(Json(json!({ "contactLists": lists, "meta": {"total": total} })).into_response())
}
