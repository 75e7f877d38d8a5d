//! Reading requests: query parameters, ids in paths, JSON bodies, paging,
//! and the 422 shape, shared by every endpoint file.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::Uri;
use axum::response::Response;
use serde_json::Value;

use super::super::engine::shared::Shared;
use super::super::model::query::MAX_LIMIT;
use super::wire::ApiError;

pub type Sh = State<Arc<Shared>>;
pub type ApiResult = Result<Response, ApiError>;

/// Query parameters; malformed query strings are a 400 `{}`.
pub fn params(uri: &Uri) -> Result<HashMap<String, String>, ApiError> {
    Query::<HashMap<String, String>>::try_from_uri(uri)
        .map(|q| q.0)
        .map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// An optional unsigned parameter; an empty value counts as absent.
pub fn num(p: &HashMap<String, String>, key: &str) -> Result<Option<u64>, ApiError> {
    match p.get(key).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| ApiError::BadRequest(format!("{key}={s} is not a number"))),
    }
}

pub fn path_id(raw: &str, kind: &'static str) -> Result<u64, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found(kind, raw))
}

pub fn json_body(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// `limit` (default `default`, capped at 100, §2.5) and `offset`.
pub fn paging(p: &HashMap<String, String>, default: usize) -> Result<(usize, usize), ApiError> {
    let limit = match num(p, "limit")? {
        None | Some(0) => default,
        Some(n) => usize::try_from(n).unwrap_or(MAX_LIMIT).min(MAX_LIMIT),
    };
    let offset = usize::try_from(num(p, "offset")?.unwrap_or(0)).unwrap_or(usize::MAX);
    Ok((limit, offset))
}

pub fn unprocessable(code: &'static str, title: &str, pointer: &'static str) -> ApiError {
    ApiError::Unprocessable {
        code,
        title: title.to_string(),
        pointer,
    }
}
