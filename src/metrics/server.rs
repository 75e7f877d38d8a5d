//! The HTTP endpoint on `[daemon] metrics_listen`: `GET /metrics` (the text
//! exposition) and `GET /healthz` (`ok` while the daemon serves). Read-only,
//! no request body is ever read; bind it to loopback or a private address,
//! as the series name exports and connections.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::Metrics;

/// The content type Prometheus expects for the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Why the endpoint could not be served.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("metrics_listen {addr}: cannot listen: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("metrics endpoint: {0}")]
    Serve(#[source] std::io::Error),
}

/// Binds `addr` now, so a taken port is reported at start, not later.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })
}

/// The routes, over `metrics`.
pub fn router(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(metrics)
}

async fn scrape(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics.render())
}

/// Serves on `listener` until `stop` is cancelled.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) -> Result<(), ServerError> {
    axum::serve(listener, router(metrics))
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
        .map_err(ServerError::Serve)
}
