//! JSON shapes on the wire: how contacts, memberships, lists and fields are
//! rendered, how ids and emails are read leniently from requests, and the
//! error bodies of §6. Every quirk here is deliberate (string ids, status as
//! an int in one place and a string in another, `{}` 400 bodies).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::super::engine::bulk_request::BulkRefusal;
use super::super::model::fields::Field;
use super::super::model::records::{Contact, List, Membership, MembershipError};
use super::super::model::zone::AccountTimes;

/// An error answer. Each variant renders one documented shape (§6).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 404 `{"message":"No Result found for Subscriber with id 1"}`.
    #[error("No Result found for {kind} with id {id}")]
    NotFound { kind: &'static str, id: String },
    /// 400 with the documented empty body `{}` (§6: contact/sync,
    /// contactLists, lists). The reason is only logged.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 400 `{"message":"…"}` naming a query parameter whose value the
    /// simulator cannot read. The shape is the simulator's choice (a bad
    /// parameter value is undocumented): a client's bug shows in its log.
    #[error("Invalid value for {name}: {value:?}")]
    BadParameter { name: &'static str, value: String },
    /// 422 `{"errors":[{"title","detail","code","source":{"pointer"}}]}`.
    #[error("{title}")]
    Unprocessable {
        code: &'static str,
        title: String,
        pointer: &'static str,
    },
    /// 400 bulk-import shape `{"success":0,"message","failureReasons"}`
    /// (§4.3); `reasons` holds strings or `{contact, failureReason}` objects.
    #[error("{message}")]
    Bulk { message: String, reasons: Value },
}

impl ApiError {
    pub fn not_found(kind: &'static str, id: impl ToString) -> Self {
        ApiError::NotFound {
            kind,
            id: id.to_string(),
        }
    }
}

impl From<BulkRefusal> for ApiError {
    fn from(r: BulkRefusal) -> Self {
        ApiError::Bulk {
            message: r.message,
            reasons: r.reasons,
        }
    }
}

impl From<MembershipError> for ApiError {
    fn from(e: MembershipError) -> Self {
        match e {
            MembershipError::NoContact(id) => ApiError::not_found("Subscriber", id),
            MembershipError::NoList(id) => ApiError::not_found("_List", id),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::NotFound { .. } => {
                let body = json!({ "message": self.to_string() });
                (StatusCode::NOT_FOUND, Json(body)).into_response()
            }
            ApiError::BadRequest(why) => {
                tracing::debug!(%why, "simulator: 400");
                (StatusCode::BAD_REQUEST, Json(json!({}))).into_response()
            }
            ApiError::BadParameter { .. } => {
                let body = json!({ "message": self.to_string() });
                (StatusCode::BAD_REQUEST, Json(body)).into_response()
            }
            ApiError::Unprocessable {
                code,
                title,
                pointer,
            } => {
                let err = json!({"title": title, "detail": "", "code": code,
                    "source": {"pointer": pointer}});
                let body = json!({ "errors": [err] });
                (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
            }
            ApiError::Bulk { message, reasons } => {
                let body = json!({"success": 0, "message": message, "failureReasons": reasons});
                (StatusCode::BAD_REQUEST, Json(body)).into_response()
            }
        }
    }
}

/// 403 for a missing or wrong `Api-Token` (§1.2, §6).
pub fn forbidden() -> Response {
    let err = json!({"status": 403, "title": "Forbidden",
        "detail": "The request could not be authenticated or the authenticated user is not authorized to access the requested resource."});
    (StatusCode::FORBIDDEN, Json(json!({ "errors": [err] }))).into_response()
}

/// 429 body. Undocumented (§1.3); AC's clients only read status + headers.
pub fn too_many_requests() -> Response {
    let body = json!({"message": "Too Many Requests"});
    (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response()
}

/// Injected 500/503. Bodies undocumented (§6); 503 doubles as throttling in
/// the wild (§1.3).
pub fn server_error(status: StatusCode) -> Response {
    let message = status.canonical_reason().unwrap_or("Server Error");
    (status, Json(json!({ "message": message }))).into_response()
}

/// A contact as `GET /contacts` renders it (§2.5): string ids, "" for
/// empty names and phone, the never-set dates as AC's zero dates, and the
/// keys of the documented example (`tests/documented_examples.json`).
/// Times in the account's zone (§12): zoned, or local without a zone.
pub fn contact(base: &str, t: AccountTimes, c: &Contact) -> Value {
    let d = &c.data;
    let id = d.id.to_string();
    json!({
        "cdate": t.zoned(c.cdate), "email": d.email, "phone": d.phone,
        "firstName": d.first_name, "lastName": d.last_name, "orgid": "0", "orgname": "",
        "segmentio_id": "", "bounced_hard": "0", "bounced_soft": "0",
        "bounced_date": "0000-00-00", "ip": "0", "ua": "", "hash": format!("{:032x}", d.id),
        "socialdata_lastcheck": ZERO_TIME, "email_local": "", "email_domain": "",
        "sentcnt": "0", "rating_tstamp": "0000-00-00", "gravatar": "0",
        "email_empty": false, "deleted": "0", "anonymized": "0",
        "adate": t.zoned(c.udate), "udate": t.zoned(c.udate), "edate": null,
        "deleted_at": ZERO_TIME, "created_utc_timestamp": t.wall_clock(c.cdate),
        "updated_utc_timestamp": t.wall_clock(c.udate), "scoreValues": [],
        "links": links(base, "contacts", &id, CONTACT_LINKS),
        "id": id, "organization": null,
    })
}

/// AC's "never" for a time (as in the documented contact examples).
const ZERO_TIME: &str = "0000-00-00 00:00:00";

const CONTACT_LINKS: &[&str] = &[
    "bounceLogs",
    "contactAutomations",
    "contactData",
    "contactGoals",
    "contactLists",
    "contactLogs",
    "contactTags",
    "contactDeals",
    "deals",
    "fieldValues",
    "geoIps",
    "notes",
    "organization",
    "plusAppend",
    "trackingLogs",
    "scoreValues",
    "accountContacts",
    "automationEntryCounts",
];

const CONTACT_LIST_LINKS: &[&str] = &[
    "automation",
    "list",
    "contact",
    "form",
    "autosyncLog",
    "campaign",
    "unsubscribeAutomation",
    "message",
];

/// `{"rel": "{base}/api/3/{kind}/{id}/rel", ...}`.
fn links(base: &str, kind: &str, id: &str, rels: &[&str]) -> Value {
    let map: serde_json::Map<String, Value> = rels
        .iter()
        .map(|r| {
            (
                r.to_string(),
                json!(format!("{base}/api/3/{kind}/{id}/{r}")),
            )
        })
        .collect();
    Value::Object(map)
}

/// Field values of a contact (§2.2 response), with synthetic ids.
pub fn field_values(base: &str, t: AccountTimes, c: &Contact) -> Vec<Value> {
    let cid = c.data.id.to_string();
    c.data
        .fields
        .iter()
        .map(|(fid, value)| {
            let id = format!("{}{:04}", c.data.id, fid);
            json!({"contact": cid, "field": fid.to_string(), "value": value,
                "cdate": t.zoned(c.cdate), "udate": t.zoned(c.udate), "created_by": null,
                "updated_by": null, "links": links(base, "fieldValues", &id, &["owner", "field"]),
                "id": id, "owner": cid})
        })
        .collect()
}

/// A membership row. `status_as_int` is true for the `POST /contactLists`
/// answer (`"status": 1`, §3.1) and false for GETs (`"status": "1"`, §3.2).
pub fn contact_list(
    base: &str,
    t: AccountTimes,
    c: &Contact,
    list: u64,
    m: &Membership,
    status_as_int: bool,
) -> Value {
    let mark = &m.mark;
    let status = if status_as_int {
        json!(m.status)
    } else {
        json!(m.status.to_string())
    };
    json!({
        "contact": c.data.id.to_string(), "list": list.to_string(), "form": null,
        "seriesid": "0", "sdate": t.zoned(m.sdate), "udate": t.row_udate(m.udate), "status": status,
        "responder": "1", "sync": "0", "unsubreason": mark.reason,
        "campaign": id_or_null(mark.campaign), "message": id_or_null(mark.message),
        "first_name": c.data.first_name, "last_name": c.data.last_name, "ip4Sub": "0",
        "sourceid": m.sourceid.to_string(), "autosyncLog": null, "ip4_last": "0", "ip4Unsub": "0",
        "created_timestamp": t.wall_clock(m.sdate), "updated_timestamp": t.wall_clock(m.udate),
        "created_by": null, "updated_by": null,
        "unsubscribeAutomation": id_or_null(mark.automation),
        "links": links(base, "contactLists", &m.id.to_string(), CONTACT_LIST_LINKS),
        "id": m.id.to_string(), "automation": null,
    })
}

/// A related record's id as the row names it (`"7"`), or `null`.
fn id_or_null(id: Option<u64>) -> Value {
    id.map_or(Value::Null, |id| json!(id.to_string()))
}

/// `GET /lists/{id}` body (§5.1), with every key of the documented example.
pub fn list(base: &str, t: AccountTimes, l: &List) -> Value {
    let id = l.id.to_string();
    let mut v = json!({
        "stringid": l.stringid, "userid": "1", "name": l.name, "cdate": t.zoned(l.cdate),
        "analytics_domains": null, "analytics_source": "", "analytics_ua": "",
        "twitter_token": "", "twitter_token_secret": "", "facebook_session": null,
        "carboncopy": null, "subscription_notify": null, "unsubscription_notify": null,
        "to_name": "Subscriber", "optinoptout": "1", "sender_url": "", "sender_reminder": "",
        "fulladdress": "", "optinmessageid": "0", "optoutconf": "0", "deletestamp": null,
        "udate": null, "links": links(base, "lists", &id, &["contactGoalLists", "user", "addressLists"]),
        "id": id, "user": "1",
    });
    for (k, val) in [
        ("p_use_tracking", "1"),
        ("p_use_analytics_read", "0"),
        ("p_use_analytics_link", "0"),
        ("p_use_twitter", "0"),
        ("p_use_facebook", "0"),
        ("p_embed_image", "1"),
        ("p_use_captcha", "1"),
        ("send_last_broadcast", "0"),
        ("private", "0"),
        ("require_name", "0"),
        ("get_unsubscribe_reason", "0"),
        ("sender_name", ""),
        ("sender_addr1", ""),
        ("sender_addr2", ""),
        ("sender_city", ""),
        ("sender_state", ""),
        ("sender_zip", ""),
        ("sender_country", ""),
        ("sender_phone", ""),
    ] {
        v[k] = json!(val);
    }
    v
}

/// The `fieldOptions` rows of a field (shape of `POST /fieldOption/bulk`'s
/// answer); `first_id` numbers them.
pub fn field_options(f: &Field, first_id: u64) -> Vec<Value> {
    f.options
        .iter()
        .enumerate()
        .map(|(i, o)| {
            json!({"orderid": i + 1, "value": o, "label": o, "isdefault": 0,
                "field": f.id.to_string(), "id": (first_id + i as u64).to_string()})
        })
        .collect()
}

/// One entry of `GET /fields` (§5.2).
pub fn field(base: &str, t: AccountTimes, f: &Field) -> Value {
    let id = f.id.to_string();
    json!({
        "title": f.title, "descript": null, "type": f.kind, "isrequired": "0",
        "perstag": f.perstag, "defval": "", "show_in_list": "0", "rows": "0", "cols": "0",
        "visible": "1", "service": "", "ordernum": f.id.to_string(),
        "cdate": t.zoned(0), "udate": t.zoned(0), "options": [], "relations": [],
        "links": links(base, "fields", &id, &["options", "relations"]), "id": id,
    })
}

/// `meta.total` is a string in one official example and a number in another
/// (§2.5); `as_string` lets the caller alternate.
pub fn total(n: u64, as_string: bool) -> Value {
    if as_string {
        json!(n.to_string())
    } else {
        json!(n)
    }
}
