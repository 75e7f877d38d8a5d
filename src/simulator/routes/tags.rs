//! Tag endpoints (§5.3): `GET/POST /tags`, `POST /contactTags`,
//! `DELETE /contactTags/{id}`, over the registry of [`model::tags`].
//!
//! [`model::tags`]: super::super::model::tags

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::super::engine::shared::Shared;
use super::super::model::records::now_unix;
use super::super::model::tags::Tags;
use super::super::model::values::lenient_id;
use super::super::model::zone::AccountTimes;
use super::params::{ApiResult, Sh, json_body, params, path_id, unprocessable};
use super::wire::{self, ApiError};

pub fn routes(r: Router<Arc<Shared>>) -> Router<Arc<Shared>> {
    r.route("/api/3/tags", get(list_tags).post(add_tag))
        .route("/api/3/contactTags", post(add_contact_tag))
        .route("/api/3/contactTags/{id}", delete(remove_contact_tag))
}

fn tag_json(times: AccountTimes, tags: &Tags, id: u64) -> Value {
    let Some(d) = tags.def(id) else {
        return Value::Null;
    };
    json!({"tagType": "contact", "tag": d.name, "description": d.description,
        "cdate": times.zoned(d.cdate), "id": id.to_string()})
}

/// `GET /tags?search=` ("contains") or `filters[search][eq]=` (§5.3).
async fn list_tags(State(s): Sh, uri: Uri) -> ApiResult {
    let p = params(&uri)?;
    let contains = p.get("search").map(|s| s.to_lowercase());
    let equals = p.get("filters[search][eq]").map(|s| s.to_lowercase());
    let a = s.account();
    let hits: Vec<Value> = a
        .tags
        .ids()
        .filter(|id| {
            let name = a
                .tags
                .def(*id)
                .map(|d| d.name.to_lowercase())
                .unwrap_or_default();
            contains.as_ref().is_none_or(|c| name.contains(c.as_str()))
                && equals.as_ref().is_none_or(|e| name == *e)
        })
        .map(|id| tag_json(a.times, &a.tags, id))
        .collect();
    let total = wire::total(hits.len() as u64, true);
    Ok(Json(json!({"tags": hits, "meta": {"total": total}})).into_response())
}

/// `POST /tags` → 201; a duplicate name (any case) → 422 `duplicate`.
async fn add_tag(State(s): Sh, body: Bytes) -> ApiResult {
    let v = json_body(&body)?;
    let name = v["tag"]["tag"].as_str().map(str::trim).unwrap_or_default();
    if name.is_empty() {
        return Err(unprocessable(
            "field_missing",
            "Missing attribute",
            "/data/attributes/tag",
        ));
    }
    let description = v["tag"]["description"].as_str().unwrap_or_default();
    let mut a = s.account();
    let id = a
        .tags
        .create(name, description, now_unix())
        .ok_or_else(|| unprocessable("duplicate", "Duplicate entry", "/data/attributes/tag"))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "tag": tag_json(a.times, &a.tags, id) })),
    )
        .into_response())
}

/// `POST /contactTags` (§5.3): 201, or the `errors` 404/422 shapes.
async fn add_contact_tag(State(s): Sh, body: Bytes) -> ApiResult {
    let v = json_body(&body)?;
    let get = |k: &str, pointer: &'static str| {
        v["contactTag"]
            .get(k)
            .and_then(lenient_id)
            .ok_or_else(|| unprocessable("field_missing", "Missing attribute", pointer))
    };
    let contact = get("contact", "/data/attributes/contact")?;
    let tag = get("tag", "/data/attributes/tag")?;
    let mut a = s.account();
    if a.contact(contact).is_none() {
        return Ok(not_found_detail("Contact not found"));
    }
    let Some(row) = a.tag_contact(contact, tag) else {
        return Ok(not_found_detail("Tag not found"));
    };
    let body = json!({"contactTag": {"cdate": a.times.zoned(now_unix()),
        "contact": contact.to_string(), "id": row.to_string(), "links": {}, "tag": tag.to_string()}});
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `DELETE /contactTags/{id}` → `200 {}` (§5.3).
async fn remove_contact_tag(State(s): Sh, Path(raw): Path<String>) -> ApiResult {
    let row = path_id(&raw, "SubscriberTag")?;
    if !s.account().untag(row) {
        return Err(ApiError::not_found("SubscriberTag", row));
    }
    Ok(Json(json!({})).into_response())
}

/// The `errors`-array 404 of `/contactTags` (§5.3).
fn not_found_detail(detail: &str) -> Response {
    let body = json!({"errors": [{"status": 404, "title": "Not Found", "detail": detail}]});
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}
