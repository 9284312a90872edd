//! The HTTP side: `/health`, `/metrics`, and the JSON API (`/api/overrides`) that the
//! `vaxel override` command and, later, the web app use.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use jiff::civil::Date;
use serde::Deserialize;
use vaxel_media::Prompt;
use vaxel_plan::Plan;

use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::overrides::{OverrideStore, format_hours, parse_hours};

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct HttpState {
    /// The engine's counters.
    pub metrics: Arc<Metrics>,
    /// The plan in force (replaced on reload).
    pub plan: Arc<RwLock<Arc<Plan<Prompt>>>>,
    /// Schedule overrides.
    pub overrides: Arc<OverrideStore>,
    /// The switchboard's clock (`--now` aware).
    pub clock: Clock,
}

impl HttpState {
    fn plan(&self) -> Option<Arc<Plan<Prompt>>> {
        self.plan.read().ok().map(|p| p.clone())
    }

    /// Today in the switchboard's time zone.
    fn today(&self) -> Date {
        let tz = self
            .plan()
            .and_then(|p| jiff::tz::TimeZone::get(&p.server.timezone).ok())
            .unwrap_or(jiff::tz::TimeZone::UTC);
        self.clock.now().to_zoned(tz).date()
    }
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

fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(serde_json_error(msg.into()))).into_response()
}

#[derive(serde::Serialize)]
struct ApiError {
    error: String,
}

fn serde_json_error(error: String) -> ApiError {
    ApiError { error }
}

async fn list_overrides(State(s): State<HttpState>) -> Response {
    Json(s.overrides.list(s.today())).into_response()
}

/// Body of `PUT /api/overrides/{schedule}/{date}`.
#[derive(Deserialize)]
struct SetOverride {
    /// `HH:MM-HH:MM` or `closed`.
    hours: String,
}

/// Checks the schedule exists and the date is today or later.
fn target(s: &HttpState, schedule: &str, date: &str) -> Result<Date, (StatusCode, String)> {
    let plan = s.plan().ok_or((
        StatusCode::SERVICE_UNAVAILABLE,
        "no plan loaded".to_string(),
    ))?;
    if !plan.schedules.iter().any(|x| x.id == schedule) {
        return Err((StatusCode::NOT_FOUND, format!("no schedule `{schedule}`")));
    }
    let date: Date = date.parse().map_err(|_| {
        (
            StatusCode::BAD_REQUEST,
            format!("`{date}` is not a date (YYYY-MM-DD)"),
        )
    })?;
    if date < s.today() {
        return Err((
            StatusCode::BAD_REQUEST,
            format!("{date} has already passed"),
        ));
    }
    Ok(date)
}

async fn set_override(
    State(s): State<HttpState>,
    Path((schedule, date)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<SetOverride>,
) -> Response {
    let date = match target(&s, &schedule, &date) {
        Ok(d) => d,
        Err((status, msg)) => return error(status, msg),
    };
    let hours = match parse_hours(&body.hours) {
        Ok(h) => h,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let by = headers
        .get("x-vaxel-user")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("api")
        .to_string();
    let at = s.clock.now().to_string();
    match s.overrides.set(&schedule, date, hours, &by, &at) {
        Ok(()) => {
            tracing::info!(schedule, %date, hours = %format_hours(&hours), set_by = %by, "schedule override set");
            (StatusCode::OK, Json(s.overrides.list(s.today()))).into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn remove_override(
    State(s): State<HttpState>,
    Path((schedule, date)): Path<(String, String)>,
) -> Response {
    let date: Date = match date.parse() {
        Ok(d) => d,
        Err(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("`{date}` is not a date (YYYY-MM-DD)"),
            );
        }
    };
    match s.overrides.remove(&schedule, date) {
        Ok(true) => {
            tracing::info!(schedule, %date, "schedule override removed");
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(false) => error(
            StatusCode::NOT_FOUND,
            format!("no override for `{schedule}` on {date}"),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Binds the HTTP port and serves until the task is dropped.
pub async fn serve(
    addr: SocketAddr,
    state: HttpState,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let app = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/api/overrides", get(list_overrides))
        .route(
            "/api/overrides/{schedule}/{date}",
            put(set_override).delete(remove_override),
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "http server stopped");
        }
    }))
}
