//! The endpoints: an axum `Router` over `/api/3`. Requests reach it only
//! after the gate (auth, limits, faults) in `server.rs`. Bodies are read as
//! bytes and parsed here, so a malformed request gets a documented 4xx
//! shape, never axum's plain-text rejection and never a panic.
//!
//! `reads` serves lists, fields and contacts; `writes` contact and
//! membership writes; `tags` tags; `bulk` bulk import; `wire` renders the
//! JSON shapes; `params` reads query strings and bodies.

pub mod bulk;
pub mod params;
pub mod reads;
pub mod tags;
pub mod wire;
pub mod writes;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::{Json, Router};
use serde_json::json;

use super::engine::shared::Shared;

pub fn router(shared: Arc<Shared>) -> Router {
    let r = writes::routes(tags::routes(bulk::routes(Router::new())));
    reads::routes(r)
        .fallback(|| async { (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"}))) })
        // Bodies over 399,999 bytes must reach the bulk handler to get the
        // documented 400 (§4.1), so the limit sits well above it.
        .layer(DefaultBodyLimit::max(16 << 20))
        .with_state(shared)
}
