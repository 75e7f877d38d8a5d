//! Contact writes: `POST /contact/sync` (upsert by email, §2.2),
//! `POST /contacts` (create, 422 `duplicate` on a known email, §2.1) and
//! `PUT /contacts/{id}` (update by id, the one way to change an email,
//! §2.3), none of which touches list membership; and `POST /contactLists`
//! (§3.1), the membership write.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{post, put};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::super::engine::shared::Shared;
use super::super::model::account::Account;
use super::super::model::records::{ChangedBy, ContactPatch};
use super::super::model::values::{email_deliverable, lenient_id, lenient_string};
use super::params::{ApiResult, Sh, json_body, path_id, unprocessable};
use super::wire::{self, ApiError};

pub fn routes(r: Router<Arc<Shared>>) -> Router<Arc<Shared>> {
    r.route("/api/3/contact/sync", post(sync))
        .route("/api/3/contacts", post(create))
        .route("/api/3/contacts/{id}", put(update))
        .route("/api/3/contactLists", post(set_contact_list))
}

const EMAIL: &str = "/data/attributes/email";

/// The camelCase `contact` object (§2.1-§2.3). The email is lowercased;
/// `None` when absent (allowed only for `PUT`).
fn contact_body(body: &[u8]) -> Result<(Option<String>, ContactPatch), ApiError> {
    let v = json_body(body)?;
    let c = v
        .get("contact")
        .filter(|c| c.is_object())
        .ok_or_else(|| ApiError::BadRequest("missing contact".into()))?;
    let email = match c.get("email").and_then(Value::as_str).map(str::trim) {
        None | Some("") => None,
        Some(e) if !email_deliverable(e) => {
            return Err(unprocessable(
                "field_invalid",
                "Email address is invalid",
                EMAIL,
            ));
        }
        Some(e) => Some(e.to_lowercase()),
    };
    let text = |k: &str| c.get(k).and_then(lenient_string);
    let mut patch = ContactPatch {
        first_name: text("firstName"),
        last_name: text("lastName"),
        phone: text("phone"),
        ..ContactPatch::default()
    };
    let values = c.get("fieldValues").and_then(Value::as_array);
    for fv in values.into_iter().flatten() {
        let Some(field) = fv.get("field").and_then(lenient_id) else {
            return Err(unprocessable(
                "field_invalid",
                "Field id is invalid",
                "/data/attributes/field",
            ));
        };
        let value = fv.get("value").and_then(lenient_string).unwrap_or_default();
        patch.fields.push((field, value));
    }
    Ok((email, patch))
}

/// A field value ActiveCampaign would refuse: 422 `field_invalid`, nothing
/// written (the simulator's decision, see `fields.rs`).
fn check_fields(a: &Account, patch: &ContactPatch) -> Result<(), ApiError> {
    a.check_fields(&patch.fields)
        .map_err(|why| unprocessable("field_invalid", &why, "/data/attributes/fieldValues"))
}

fn required(email: Option<String>) -> Result<String, ApiError> {
    email.ok_or_else(|| unprocessable("field_missing", "Email address is required", EMAIL))
}

fn duplicate() -> ApiError {
    unprocessable(
        "duplicate",
        "Email address already exists in the system",
        EMAIL,
    )
}

/// `{"fieldValues":[...],"contact":{...,"fieldValues":[ids]}}` (§2.2).
fn answer(s: &Shared, a: &Account, id: u64, status: StatusCode) -> ApiResult {
    let c = a
        .contact(id)
        .ok_or_else(|| ApiError::not_found("Subscriber", id))?;
    let values = wire::field_values(&s.base, a.times, c);
    let mut body = wire::contact(&s.base, a.times, c);
    body["organization"] = json!(""); // "" here, null in GETs (both documented)
    body["fieldValues"] = json!(values.iter().map(|f| f["id"].clone()).collect::<Vec<_>>());
    Ok((
        status,
        Json(json!({"fieldValues": values, "contact": body})),
    )
        .into_response())
}

/// `POST /contact/sync` (§2.2): upsert by email, case-insensitively.
async fn sync(State(s): Sh, body: Bytes) -> ApiResult {
    let (email, patch) = contact_body(&body)?;
    let email = required(email)?;
    let mut a = s.account();
    check_fields(&a, &patch)?;
    let (id, created) = a.upsert_contact(&email, patch);
    // 201 is the documented answer; updates answer 200 to keep clients
    // honest about "accept any 2xx" (§2.2, §10 item 9).
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    answer(&s, &a, id, status)
}

/// `POST /contacts` (§2.1): create only.
async fn create(State(s): Sh, body: Bytes) -> ApiResult {
    let (email, patch) = contact_body(&body)?;
    let email = required(email)?;
    let mut a = s.account();
    if a.contact_by_email(&email).is_some() {
        return Err(duplicate());
    }
    check_fields(&a, &patch)?;
    let (id, _) = a.upsert_contact(&email, patch);
    answer(&s, &a, id, StatusCode::CREATED)
}

/// `PUT /contacts/{id}` (§2.3): update by id, email included.
async fn update(State(s): Sh, Path(raw): Path<String>, body: Bytes) -> ApiResult {
    let id = path_id(&raw, "Subscriber")?;
    let (email, patch) = contact_body(&body)?;
    let mut a = s.account();
    let current = a
        .contact(id)
        .map(|c| c.data.email.clone())
        .ok_or_else(|| ApiError::not_found("Subscriber", id))?;
    let email = email.unwrap_or(current);
    check_fields(&a, &patch)?;
    if !a.change_email(id, &email) {
        return Err(duplicate());
    }
    a.upsert_contact(&email, patch);
    answer(&s, &a, id, StatusCode::OK)
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
    // `sourceid`: optional, "set to 4 when re-subscribing" (§3.1).
    let sourceid = cl.get("sourceid").and_then(lenient_id).unwrap_or(0);
    let mut a = s.account();
    a.set_membership(contact, list, status, ChangedBy::Api)
        .map_err(ApiError::from)?;
    a.set_membership_source(contact, list, sourceid);
    let c = a
        .contact(contact)
        .ok_or_else(|| ApiError::not_found("Subscriber", contact))?;
    let m = a
        .membership(contact, list)
        .ok_or_else(|| ApiError::not_found("_List", list))?;
    let body = json!({"contacts": [wire::contact(&s.base, a.times, c)],
        "contactList": wire::contact_list(&s.base, a.times, c, list, m, true)});
    Ok(Json(body).into_response())
}
