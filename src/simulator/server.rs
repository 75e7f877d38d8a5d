//! Serving: the accept loop, one hyper HTTP/1 connection per client, and the
//! gate each request passes before the router: ledger, fault dice (delay,
//! dropped connection, 500/503), auth (§1.2), 429 storms and the general
//! rate limit (§1.3), then `RateLimit-*` headers on the answer. A freeze
//! (`Simulator::freeze_after`) holds requests unanswered forever, as a
//! process killed mid-run leaves them.
//!
//! hyper is used directly (not `axum::serve`) because a dropped connection
//! is modelled by the service returning `Err`: hyper then closes the socket
//! without writing an answer, exactly what a client sees on a reset.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::{Service, service_fn};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::engine::gate::{Admit, FreezeStep, endpoint_key};
use super::engine::shared::Shared;
use super::routes::wire;

/// Returned by the service to make hyper close the connection unanswered.
#[derive(Debug, thiserror::Error)]
#[error("simulated dropped connection")]
pub struct Dropped;

/// Accept connections until the task is aborted. Connection tasks live in a
/// `JoinSet` owned here, so aborting this task stops them all.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>, router: Router) {
    let mut conns = JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and the like: back off, keep serving.
                tracing::warn!(error = %e, "simulator: accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (shared, router) = (shared.clone(), router.clone());
        conns.spawn(async move {
            let svc = service_fn(move |req| handle(shared.clone(), router.clone(), req));
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc);
            if let Err(e) = conn.await {
                tracing::trace!(%peer, error = %e, "simulator: connection ended");
            }
        });
    }
}

/// One request through the gate, then the router.
async fn handle(
    shared: Arc<Shared>,
    router: Router,
    req: Request<Incoming>,
) -> Result<Response<Body>, Dropped> {
    let key = endpoint_key(req.method().as_str(), req.uri().path());
    let is_read = req.method() == Method::GET;
    let (roll, freeze) = {
        let mut g = shared.gate();
        g.record_request(key, is_read);
        (g.roll(), g.freeze_step())
    };
    if freeze == FreezeStep::Hang {
        return std::future::pending().await;
    }
    if let Some(delay) = roll.delay {
        shared.gate().ledger.faults_injected += 1;
        tokio::time::sleep(delay).await;
    }
    if roll.drop {
        let mut g = shared.gate();
        g.ledger.faults_injected += 1;
        g.ledger.dropped += 1;
        return Err(Dropped);
    }
    let resp = match gate(&shared, &req, roll.error) {
        GateDecision::Answer(r) => r,
        GateDecision::Pass { rps, remaining } => {
            with_limit_headers(route(router, req).await, rps, remaining)
        }
    };
    if freeze == FreezeStep::ApplyThenHang {
        return std::future::pending().await;
    }
    shared.gate().record_status(resp.status().as_u16());
    Ok(resp)
}

/// What the gate decided for one request.
enum GateDecision {
    /// Answer now (403, 429, injected 5xx).
    Answer(Response<Body>),
    /// Go on to the router; the values feed the `RateLimit-*` headers.
    Pass { rps: u32, remaining: Option<u32> },
}

/// Auth first, then storm and the general limit (checked before anything
/// else, §1.3), then the injected 5xx (which did use a request slot).
fn gate<B>(shared: &Shared, req: &Request<B>, error: Option<u16>) -> GateDecision {
    let token = req.headers().get("api-token").map(HeaderValue::as_bytes);
    if token != Some(shared.api_key().as_bytes()) {
        return GateDecision::Answer(wire::forbidden());
    }
    let now = Instant::now();
    let mut g = shared.gate();
    let rps = g.rps();
    if let Some(secs) = g.storm(now) {
        g.ledger.faults_injected += 1;
        g.ledger.rate_limited_429 += 1;
        return GateDecision::Answer(limited(secs, rps));
    }
    let remaining = match g.admit(now) {
        Admit::No { retry_after } => {
            g.ledger.rate_limited_429 += 1;
            return GateDecision::Answer(limited(retry_after, rps));
        }
        Admit::Yes { remaining } => remaining,
    };
    match error.and_then(|c| StatusCode::from_u16(c).ok()) {
        Some(status) => {
            g.ledger.faults_injected += 1;
            let r = wire::server_error(status);
            GateDecision::Answer(with_limit_headers(r, rps, remaining))
        }
        None => GateDecision::Pass { rps, remaining },
    }
}

async fn route(router: Router, req: Request<Incoming>) -> Response<Body> {
    let svc = TowerToHyperService::new(router);
    match svc.call(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    }
}

/// A 429 with `Retry-After` (whole seconds) and the limit headers (§1.3).
fn limited(retry_after: u64, rps: u32) -> Response<Body> {
    let mut r = with_limit_headers(wire::too_many_requests(), rps, Some(0));
    if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
        r.headers_mut().insert("retry-after", v);
    }
    r
}

/// `RateLimit-Limit` / `RateLimit-Remaining`, also on 2xx (§1.3). Omitted
/// when the simulator runs unlimited.
fn with_limit_headers(mut r: Response<Body>, rps: u32, remaining: Option<u32>) -> Response<Body> {
    if let Some(rem) = remaining.filter(|_| rps > 0) {
        let h = r.headers_mut();
        h.insert("ratelimit-limit", HeaderValue::from(rps));
        h.insert("ratelimit-remaining", HeaderValue::from(rem));
    }
    r
}

pub fn local_base(addr: SocketAddr) -> String {
    format!("http://{addr}")
}
