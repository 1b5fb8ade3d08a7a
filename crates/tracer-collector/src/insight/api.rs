//! The insight endpoints on the query port (tracer's own, beside the Jaeger API, whose shapes
//! they leave alone), with their JSON model.
//!
//! - `GET /api/traces/{id}/findings` answers [`TraceFindings`] in Jaeger's envelope
//!   (`{"data": {...}, "total": n, "limit": 0, "offset": 0, "errors": null}`): 404 when the
//!   trace is not stored, 413 when it has more than [`MAX_TRACE_SPANS`] spans, 400 for a bad id,
//!   503 when every query slot is busy.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use tracer_collector::insight::api::TraceFindings;
//! use tracer_collector::query::model::Envelope;
//! let url = "http://127.0.0.1:16686/api/traces/4bf92f3577b34da6a3ce929d0e0e4736/findings";
//! let body = reqwest::get(url).await?.text().await?;
//! let answer: Envelope<TraceFindings> = serde_json::from_str(&body)?;
//! for finding in answer.data.map(|d| d.findings).unwrap_or_default() {
//!     println!("{}", finding.message);
//! }
//! # Ok(()) }
//! ```

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::MAX_TRACE_SPANS;
use super::lint::{Finding, lint};
use super::view::TraceView;
use crate::query::QueryState;
use crate::query::convert::{parse_trace_id, trace_id_hex};
use crate::query::model::{Envelope, EnvelopeError};

/// Path of the findings of one trace (`{trace_id}` in hex).
pub const FINDINGS_PATH: &str = "/api/traces/{trace_id}/findings";

/// The linter's answer for one trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceFindings {
    /// The trace id, as Jaeger prints it.
    #[serde(rename = "traceID")]
    pub trace_id: String,
    /// Spans read.
    pub span_count: usize,
    /// The findings, warnings first ([`lint`]).
    pub findings: Vec<Finding>,
}

/// Why a trace could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// No span of the trace is stored.
    #[error("trace {0} is not in the store")]
    NotFound(String),
    /// The trace is larger than the tools read.
    #[error("trace {id} has {spans} spans; the insight tools read at most {MAX_TRACE_SPANS}")]
    TooLarge {
        /// The trace id.
        id: String,
        /// Its span count.
        spans: usize,
    },
    /// Every query slot is busy.
    #[error("{0}")]
    Busy(String),
    /// The blocking task failed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl LoadError {
    fn status(&self) -> StatusCode {
        match self {
            LoadError::NotFound(_) => StatusCode::NOT_FOUND,
            LoadError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            LoadError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            LoadError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Reads trace `id` out of the store as a [`TraceView`], taking a query slot and doing the
/// work off the async threads.
pub async fn load_view(state: &QueryState, id: u128) -> Result<TraceView, LoadError> {
    let permit = state
        .limiter
        .acquire()
        .await
        .map_err(|b| LoadError::Busy(b.message()))?;
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let hex = trace_id_hex(id);
        match store.trace_span_count(id) {
            None => return Err(LoadError::NotFound(hex)),
            Some(spans) if spans > MAX_TRACE_SPANS => {
                return Err(LoadError::TooLarge { id: hex, spans });
            }
            Some(_) => {}
        }
        let trace = store.trace(id).ok_or(LoadError::NotFound(hex))?;
        Ok(TraceView::from_stored(&store, &trace))
    })
    .await
    .map_err(|e| LoadError::Internal(e.to_string()))?
}

/// The findings of trace `id`.
pub async fn findings(state: &QueryState, id: u128) -> Result<TraceFindings, LoadError> {
    let view = load_view(state, id).await?;
    Ok(TraceFindings {
        trace_id: trace_id_hex(id),
        span_count: view.spans.len(),
        findings: lint(&view),
    })
}

/// The insight routes (state: [`QueryState`]).
pub fn routes() -> Router<QueryState> {
    Router::new().route(FINDINGS_PATH, get(get_findings))
}

/// The insight router, ready to merge into the query router.
pub fn router(state: QueryState) -> Router {
    routes().with_state(state)
}

pub(crate) fn fail(status: StatusCode, msg: impl Into<String>) -> Response {
    let body: Envelope<()> = Envelope {
        data: None,
        total: 0,
        limit: 0,
        offset: 0,
        errors: Some(vec![EnvelopeError {
            code: status.as_u16(),
            msg: msg.into(),
            trace_id: None,
        }]),
    };
    (status, Json(body)).into_response()
}

pub(crate) fn ok<T: Serialize>(data: T, total: usize) -> Response {
    Json(Envelope {
        data: Some(data),
        total,
        limit: 0,
        offset: 0,
        errors: None,
    })
    .into_response()
}

async fn get_findings(State(state): State<QueryState>, Path(trace_id): Path<String>) -> Response {
    let Some(id) = parse_trace_id(&trace_id) else {
        return fail(
            StatusCode::BAD_REQUEST,
            format!("invalid trace id {trace_id:?}: expected 1 to 32 hex digits"),
        );
    };
    match findings(&state, id).await {
        Ok(answer) => {
            let n = answer.findings.len();
            ok(answer, n)
        }
        Err(e) => fail(e.status(), e.to_string()),
    }
}
