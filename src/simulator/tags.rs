//! Tags (§5.3): the account's tag registry (names unique
//! case-insensitively), contact-tag rows, and the endpoints `GET/POST
//! /tags`, `POST /contactTags`, `DELETE /contactTags/{id}`. Bulk import adds
//! tags through the same registry ("New tags will be created if they do not
//! already exist", §4.2).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::handlers::{json_body, params, path_id, unprocessable};
use super::server::Shared;
use super::state::{Account, now_unix};
use super::wire::{self, ApiError, lenient_id};

#[derive(Debug)]
struct TagDef {
    name: String,
    description: String,
    cdate: i64,
}

#[derive(Debug, Default)]
pub(super) struct Tags {
    /// Tag id = index + 1.
    defs: Vec<TagDef>,
    by_name: HashMap<String, u64>,
    /// contactTag id -> (contact, tag).
    rows: BTreeMap<u64, (u64, u64)>,
    by_pair: HashMap<(u64, u64), u64>,
    next_row: u64,
}

impl Tags {
    fn def(&self, id: u64) -> Option<&TagDef> {
        self.defs.get(usize::try_from(id.checked_sub(1)?).ok()?)
    }
}

impl Account {
    /// The id of the tag named `name` (any case), created if missing.
    pub fn ensure_tag(&mut self, name: &str) -> u64 {
        if let Some(id) = self.tags.by_name.get(&name.to_lowercase()) {
            return *id;
        }
        self.create_tag(name, "").unwrap_or_default()
    }

    /// `None` when a tag of that name (any case) exists: AC refuses
    /// duplicates and matches names case-insensitively (§5.3).
    fn create_tag(&mut self, name: &str, description: &str) -> Option<u64> {
        let key = name.to_lowercase();
        if self.tags.by_name.contains_key(&key) {
            return None;
        }
        let id = self.tags.defs.len() as u64 + 1;
        self.tags.defs.push(TagDef {
            name: name.to_string(),
            description: description.to_string(),
            cdate: now_unix(),
        });
        self.tags.by_name.insert(key, id);
        Some(id)
    }

    /// Tag a contact; returns the contactTag row id (existing or new).
    /// `None` when the contact or tag does not exist.
    pub fn tag_contact(&mut self, contact: u64, tag: u64) -> Option<u64> {
        let name = self.tags.def(tag)?.name.clone();
        if let Some(row) = self.tags.by_pair.get(&(contact, tag)) {
            return Some(*row);
        }
        let c = self.contact_mut(contact)?;
        if !c.data.tags.iter().any(|t| t.eq_ignore_ascii_case(&name)) {
            c.data.tags.push(name);
        }
        self.tags.next_row += 1;
        let row = self.tags.next_row;
        self.tags.rows.insert(row, (contact, tag));
        self.tags.by_pair.insert((contact, tag), row);
        Some(row)
    }

    fn untag(&mut self, row: u64) -> bool {
        let Some((contact, tag)) = self.tags.rows.remove(&row) else {
            return false;
        };
        self.tags.by_pair.remove(&(contact, tag));
        let name = self.tags.def(tag).map(|d| d.name.clone());
        if let (Some(c), Some(name)) = (self.contact_mut(contact), name) {
            c.data.tags.retain(|t| !t.eq_ignore_ascii_case(&name));
        }
        true
    }

    fn tag_json(&self, id: u64) -> Value {
        let Some(d) = self.tags.def(id) else {
            return Value::Null;
        };
        json!({"tagType": "contact", "tag": d.name, "description": d.description,
            "cdate": wire::date(d.cdate), "id": id.to_string()})
    }
}

type Sh = State<Arc<Shared>>;
type ApiResult = Result<Response, ApiError>;

pub(super) fn routes(r: Router<Arc<Shared>>) -> Router<Arc<Shared>> {
    r.route("/api/3/tags", get(list_tags).post(add_tag))
        .route("/api/3/contactTags", post(add_contact_tag))
        .route("/api/3/contactTags/{id}", delete(remove_contact_tag))
}

/// `GET /tags?search=` ("contains") or `filters[search][eq]=` (§5.3).
async fn list_tags(State(s): Sh, uri: Uri) -> ApiResult {
    let p = params(&uri)?;
    let contains = p.get("search").map(|s| s.to_lowercase());
    let equals = p.get("filters[search][eq]").map(|s| s.to_lowercase());
    let a = s.account();
    let hits: Vec<Value> = (1..=a.tags.defs.len() as u64)
        .filter(|id| {
            let name = a
                .tags
                .def(*id)
                .map(|d| d.name.to_lowercase())
                .unwrap_or_default();
            contains.as_ref().is_none_or(|c| name.contains(c.as_str()))
                && equals.as_ref().is_none_or(|e| name == *e)
        })
        .map(|id| a.tag_json(id))
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
        .create_tag(name, description)
        .ok_or_else(|| unprocessable("duplicate", "Duplicate entry", "/data/attributes/tag"))?;
    Ok((StatusCode::CREATED, Json(json!({ "tag": a.tag_json(id) }))).into_response())
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
    let body = json!({"contactTag": {"cdate": wire::date(now_unix()),
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
