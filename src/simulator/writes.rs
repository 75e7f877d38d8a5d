//! Contact writes: `POST /contact/sync` (upsert by email, §2.2),
//! `POST /contacts` (create, 422 `duplicate` on a known email, §2.1) and
//! `PUT /contacts/{id}` (update by id, the one way to change an email,
//! §2.3). None of them touches list membership.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::handlers::{json_body, path_id, unprocessable};
use super::server::Shared;
use super::state::{Account, ContactPatch};
use super::wire::{self, ApiError, lenient_id, lenient_string};

type Sh = State<Arc<Shared>>;
type ApiResult = Result<Response, ApiError>;

pub(super) fn routes(r: Router<Arc<Shared>>) -> Router<Arc<Shared>> {
    r.route("/api/3/contact/sync", post(sync))
        .route("/api/3/contacts", post(create))
        .route("/api/3/contacts/{id}", put(update))
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
        Some(e) if !wire::email_deliverable(e) => {
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
    (a.check_fields(&patch.fields))
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
    let values = wire::field_values(&s.base, c);
    let mut body = wire::contact(&s.base, c);
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
