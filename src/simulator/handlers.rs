//! The endpoints: an axum `Router` over `/api/3`. Requests reach it only
//! after the gate (auth, limits, faults) in `server.rs`. Bodies are read as
//! bytes and parsed here, so a malformed request gets a documented 4xx
//! shape, never axum's plain-text rejection and never a panic.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::bulk::{self, Info};
use super::query::{ContactQuery, DEFAULT_LIMIT, MAX_LIMIT};
use super::server::Shared;
use super::state::ChangedBy;
use super::wire::{self, ApiError, lenient_id};
use super::{tags, writes};

type Sh = State<Arc<Shared>>;
type ApiResult = Result<Response, ApiError>;

pub(super) fn router(shared: Arc<Shared>) -> Router {
    let r = writes::routes(tags::routes(Router::new()));
    r.route("/api/3/lists", get(lists))
        .route("/api/3/lists/{id}", get(list))
        .route("/api/3/fields", get(fields))
        .route("/api/3/contacts", get(contacts))
        .route("/api/3/contacts/{id}", get(contact))
        .route("/api/3/contacts/{id}/contactLists", get(contact_lists))
        .route("/api/3/contactLists", post(set_contact_list))
        .route(
            "/api/3/import/bulk_import",
            post(bulk_import).get(bulk_import_counts),
        )
        .route("/api/3/import/info", get(import_info))
        .fallback(|| async { (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"}))) })
        // Bodies over 399,999 bytes must reach the bulk handler to get the
        // documented 400 (§4.1), so the limit sits well above it.
        .layer(DefaultBodyLimit::max(16 << 20))
        .with_state(shared)
}

/// Query parameters; malformed query strings are a 400 `{}`.
pub(super) fn params(uri: &Uri) -> Result<HashMap<String, String>, ApiError> {
    Query::<HashMap<String, String>>::try_from_uri(uri)
        .map(|q| q.0)
        .map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// An optional unsigned parameter; an empty value counts as absent.
fn num(p: &HashMap<String, String>, key: &str) -> Result<Option<u64>, ApiError> {
    match p.get(key).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| ApiError::BadRequest(format!("{key}={s} is not a number"))),
    }
}

pub(super) fn path_id(raw: &str, kind: &'static str) -> Result<u64, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found(kind, raw))
}

pub(super) fn json_body(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// `limit` (default `default`, capped at 100, §2.5) and `offset`.
fn paging(p: &HashMap<String, String>, default: usize) -> Result<(usize, usize), ApiError> {
    let limit = match num(p, "limit")? {
        None | Some(0) => default,
        Some(n) => usize::try_from(n).unwrap_or(MAX_LIMIT).min(MAX_LIMIT),
    };
    let offset = usize::try_from(num(p, "offset")?.unwrap_or(0)).unwrap_or(usize::MAX);
    Ok((limit, offset))
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
        .map(|l| wire::list(&s.base, l))
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
    Ok(Json(json!({ "list": wire::list(&s.base, l) })).into_response())
}

/// `GET /fields` (§5.2): `limit` defaults to 100 here.
async fn fields(State(s): Sh, uri: Uri) -> ApiResult {
    let (limit, offset) = paging(&params(&uri)?, 100)?;
    let a = s.account();
    let fields = a.fields.iter().skip(offset).take(limit);
    let page: Vec<Value> = fields.clone().map(|f| wire::field(&s.base, f)).collect();
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

fn contact_query(p: &HashMap<String, String>) -> Result<ContactQuery, ApiError> {
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
        descending,
        limit,
        offset,
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

/// `GET /contacts` (§2.5, §3.3).
async fn contacts(State(s): Sh, uri: Uri) -> ApiResult {
    let mut q = contact_query(&params(&uri)?)?;
    q.ids = id_list(&uri)?;
    // meta.total alternates string / number, deterministically (§2.5).
    let as_string = s.query_count.fetch_add(1, Ordering::Relaxed) % 2 == 0;
    let a = s.account();
    let page = a.query_contacts(&q);
    let list: Vec<Value> = page
        .contacts
        .iter()
        .map(|c| wire::contact(&s.base, c))
        .collect();
    let page_input = json!({"segmentid": 0, "formid": 0, "listid": q.listid.unwrap_or(0),
        "tagid": 0, "limit": q.limit, "offset": q.offset, "search": null, "sort": null,
        "seriesid": 0, "waitid": 0, "status": q.status.map_or(-1, i64::from), "forceQuery": 0,
        "cacheid": format!("{:032x}", s.query_count.load(Ordering::Relaxed))});
    let meta = json!({"total": wire::total(page.total, as_string), "page_input": page_input});
    Ok(Json(json!({"scoreValues": [], "contacts": list, "meta": meta})).into_response())
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
        .map(|(l, m)| wire::contact_list(&s.base, c, *l, m, false))
        .collect();
    let values = wire::field_values(&s.base, c);
    let mut body = wire::contact(&s.base, c);
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

/// `GET /contacts/{id}/contactLists` (§3.2): status as a string.
async fn contact_lists(State(s): Sh, Path(raw): Path<String>) -> ApiResult {
    let id = path_id(&raw, "Subscriber")?;
    let a = s.account();
    let c = a
        .contact(id)
        .ok_or_else(|| ApiError::not_found("Subscriber", id))?;
    let lists: Vec<Value> = a
        .contact_lists(id)
        .iter()
        .map(|(l, m)| wire::contact_list(&s.base, c, *l, m, false))
        .collect();
    Ok(Json(json!({ "contactLists": lists })).into_response())
}

pub(super) fn unprocessable(code: &'static str, title: &str, pointer: &'static str) -> ApiError {
    ApiError::Unprocessable {
        code,
        title: title.to_string(),
        pointer,
    }
}

/// `POST /contactLists` (§3.1): status 1 subscribes, and resubscribes a
/// status-2 member (the documented warning); status 2 unsubscribes.
async fn set_contact_list(State(s): Sh, body: Bytes) -> ApiResult {
    let v = json_body(&body)?;
    let cl = v
        .get("contactList")
        .filter(|c| c.is_object())
        .ok_or_else(|| ApiError::BadRequest("missing contactList".into()))?;
    let get = |k: &str, pointer: &'static str| {
        cl.get(k)
            .and_then(lenient_id)
            .ok_or_else(|| unprocessable("field_missing", "Missing attribute", pointer))
    };
    let list = get("list", "/data/attributes/list")?;
    let contact = get("contact", "/data/attributes/contact")?;
    let status = get("status", "/data/attributes/status")?;
    let status = match status {
        1 | 2 => status as u8,
        _ => {
            return Err(unprocessable(
                "field_invalid",
                "Invalid status",
                "/data/attributes/status",
            ));
        }
    };
    let mut a = s.account();
    a.set_membership(contact, list, status, ChangedBy::Api)
        .map_err(|e| match e {
            super::state::MembershipError::NoContact(id) => ApiError::not_found("Subscriber", id),
            super::state::MembershipError::NoList(id) => ApiError::not_found("_List", id),
        })?;
    let c = a
        .contact(contact)
        .ok_or_else(|| ApiError::not_found("Subscriber", contact))?;
    let m = a
        .membership(contact, list)
        .ok_or_else(|| ApiError::not_found("_List", list))?;
    let body = json!({"contacts": [wire::contact(&s.base, c)],
        "contactList": wire::contact_list(&s.base, c, list, m, true)});
    Ok(Json(body).into_response())
}

/// `POST /import/bulk_import` (§4.1-§4.3).
async fn bulk_import(State(s): Sh, body: Bytes) -> ApiResult {
    let v = bulk::parse_body(&body)?;
    let n = bulk::count(&v);
    let now = Instant::now();
    let (fail_rate, false_polls) = {
        let mut g = s.gate();
        g.admit_bulk(n == 1, now).map_err(bulk::rate_limited)?;
        (g.faults().fail_batch_rate, g.faults().info_false_polls)
    };
    let contacts = {
        let a = s.account();
        bulk::validate(&v, &a.batches.refused_in_bulk)?
    };
    let (batch_id, faulted) = s
        .account()
        .batches
        .submit(contacts, now, fail_rate, false_polls);
    let batch_no = {
        let mut g = s.gate();
        g.ledger.batches_submitted += 1;
        g.ledger.contacts_queued += n as u64;
        g.ledger.faults_injected += u64::from(faulted);
        g.ledger.batches_submitted
    };
    // The docs show both `Success` and `success` (§4.3): alternate.
    let key = if batch_no % 2 == 1 {
        "Success"
    } else {
        "success"
    };
    let mut out = json!({"queued_contacts": n, "batchId": batch_id,
        "message": "Contact import queued"});
    out[key] = json!(1);
    Ok(Json(out).into_response())
}

/// `GET /import/bulk_import` (§4.4): aggregate counts only, strings as in
/// the documented example; `outstanding` lists the batches not yet processed,
/// `recentlyCompleted` those processed, per day (kept for the simulator's
/// life: the documented 7-day window is third-party).
async fn bulk_import_counts(State(s): Sh) -> ApiResult {
    let mut a = s.account();
    a.run_due_batches(Instant::now());
    let (batches, contacts) = a.batches.outstanding();
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let outstanding = if batches == 0 {
        json!([])
    } else {
        json!([{"forDate": today, "batches": batches.to_string(), "contacts": contacts.to_string()}])
    };
    let recent: Vec<Value> = (a.batches.recently_completed().into_iter())
        .map(|(day, b, c)| json!({"forDate": day, "batches": b.to_string(), "contacts": c.to_string()}))
        .collect();
    Ok(Json(json!({"outstanding": outstanding, "recentlyCompleted": recent})).into_response())
}

/// `GET /import/info?batchId=` (§4.4).
async fn import_info(State(s): Sh, uri: Uri) -> ApiResult {
    let p = params(&uri)?;
    let Some(id) = p.get("batchId").filter(|b| !b.is_empty()) else {
        let body = json!({"success": 0, "message": "'batchId' is a required field."});
        return Ok((StatusCode::BAD_REQUEST, Json(body)).into_response());
    };
    let info = s.account().batches.info(id, Instant::now());
    let body = match info.ok_or_else(|| ApiError::not_found("batch", id))? {
        Info::NotYet { injected } => {
            if injected {
                s.gate().ledger.faults_injected += 1;
            }
            json!({ "status": false })
        }
        Info::Active => json!({"status": "active", "success": [], "failure": []}),
        Info::Done(v) => v,
    };
    Ok(Json(body).into_response())
}
