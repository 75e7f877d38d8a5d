//! Bulk-import endpoints (§4): `POST /import/bulk_import`,
//! `GET /import/bulk_import` and `GET /import/info`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::super::engine::batches::Info;
use super::super::engine::bulk_request;
use super::super::engine::shared::Shared;
use super::params::{ApiResult, Sh, params};
use super::wire::ApiError;

pub fn routes(r: Router<Arc<Shared>>) -> Router<Arc<Shared>> {
    r.route(
        "/api/3/import/bulk_import",
        axum::routing::post(bulk_import).get(bulk_import_counts),
    )
    .route("/api/3/import/info", get(import_info))
}

/// `POST /import/bulk_import` (§4.1-§4.3).
async fn bulk_import(State(s): Sh, body: Bytes) -> ApiResult {
    let v = bulk_request::parse_body(&body)?;
    let n = bulk_request::count(&v);
    let now = Instant::now();
    let (fail_rate, false_polls) = {
        let mut g = s.gate();
        g.admit_bulk(n == 1, now)
            .map_err(bulk_request::rate_limited)?;
        (g.faults().fail_batch_rate, g.faults().info_false_polls)
    };
    let contacts = {
        let mut a = s.account();
        if a.batches.documented_rejections > 0 {
            a.batches.documented_rejections -= 1;
            return Err(bulk_request::documented_rejection().into());
        }
        bulk_request::validate(
            &v,
            &a.batches.refused_in_bulk,
            a.batches.exclude_automations_at,
            a.batches.failure_index_base,
        )?
    };
    let (batch_id, faulted, hold) = {
        let mut a = s.account();
        let (id, faulted) = a.batches.submit(contacts, now, fail_rate, false_polls);
        (id, faulted, a.batches.hold_answer)
    };
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
    if let Some((_, hold)) = hold.filter(|(n, _)| *n == batch_no) {
        tokio::time::sleep(hold).await;
    }
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
    let recent: Vec<Value> = a.batches.recently_completed().into_iter()
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
