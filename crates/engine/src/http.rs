//! The HTTP side: `/health` and `/metrics` now; the JSON API and the web app later.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::metrics::Metrics;

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct HttpState {
    /// The engine's counters.
    pub metrics: Arc<Metrics>,
}

async fn health(State(s): State<HttpState>) -> impl IntoResponse {
    let calls = s.metrics.calls_active.load(Ordering::Relaxed);
    (
        [(header::CONTENT_TYPE, "application/json")],
        format!("{{\"status\":\"ok\",\"calls_active\":{calls}}}\n"),
    )
}

async fn metrics(State(s): State<HttpState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
}

/// Binds the HTTP port and serves until the task is dropped.
pub async fn serve(
    addr: SocketAddr,
    state: HttpState,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let app = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "http server stopped");
        }
    }))
}
