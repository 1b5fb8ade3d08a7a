//! The insight endpoints on the query port (tracer's own, beside the Jaeger API, whose shapes
//! they leave alone), with their JSON model.
//!
//! - `GET /api/traces/{id}/findings` answers [`TraceFindings`] in Jaeger's envelope
//!   (`{"data": {...}, "total": n, "limit": 0, "offset": 0, "errors": null}`): 404 when the
//!   trace is not stored, 400 for a bad id, 503 when every query slot is busy; a trace of more
//!   than [`MAX_TRACE_SPANS`] spans is not linted (`skipped` says so, `findings` is empty).
//!
//! - `GET /api/regressions` compares two sets of traces per operation path
//!   ([`super::regress`]) and answers [`Regressions`]. The sets are either two time windows,
//!   `window` (a Go duration, default `30m`) ending at `end` (Unix µs, default now) against the
//!   window before it, or given outright as `beforeStart`, `beforeEnd`, `afterStart`,
//!   `afterEnd` (Unix µs); optionally only traces with a span of `service`. Or two lists of
//!   trace ids, `before` and `after` (comma-separated or repeated; two uploaded files give
//!   theirs). `minRatio` and `minDeltaMs` change the significance thresholds. Each side reads
//!   at most [`MAX_SET_TRACES`] traces and [`MAX_SET_SPANS`] spans (the answer says when it
//!   stopped short); bad parameters are a 400 naming the parameter and the value.
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

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use http::StatusCode;
use serde::{Deserialize, Serialize};

use axum::extract::RawQuery;

use super::MAX_TRACE_SPANS;
use super::lint::{Finding, lint};
use super::regress::{self, Comparison, Samples, Significance};
use super::view::TraceView;
use crate::query::QueryState;
use crate::query::convert::{parse_trace_id, trace_id_hex};
use crate::query::params::{QueryParams, parse_go_duration};
use crate::query::rest_handler::{fail, ok};
use crate::store::TraceQuery;
use crate::store::batch::KIND_SERVER;

/// Path of the findings of one trace (`{trace_id}` in hex).
pub const FINDINGS_PATH: &str = "/api/traces/{trace_id}/findings";
/// Path of the comparison of two sets of traces.
pub const REGRESSIONS_PATH: &str = "/api/regressions";
/// Most traces read for one side of a comparison.
pub const MAX_SET_TRACES: usize = 2_000;
/// Most spans read for one side of a comparison.
pub const MAX_SET_SPANS: usize = 200_000;
/// Default length of each window of `/api/regressions`, in nanoseconds (30 minutes).
pub const DEFAULT_WINDOW_NS: u64 = 30 * 60 * 1_000_000_000;

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
    /// Why the trace was not linted (it has more than [`MAX_TRACE_SPANS`] spans); `findings`
    /// is then empty. Absent when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
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

/// The findings of trace `id`. A trace over [`MAX_TRACE_SPANS`] spans is an answer, not an
/// error: no findings, and [`TraceFindings::skipped`] says why (the trace page asks for every
/// trace it shows, 100,000-span ones too).
pub async fn findings(state: &QueryState, id: u128) -> Result<TraceFindings, LoadError> {
    match load_view(state, id).await {
        Ok(view) => Ok(TraceFindings {
            trace_id: trace_id_hex(id),
            span_count: view.spans.len(),
            findings: lint(&view),
            skipped: None,
        }),
        Err(e @ LoadError::TooLarge { spans, .. }) => Ok(TraceFindings {
            trace_id: trace_id_hex(id),
            span_count: spans,
            findings: Vec::new(),
            skipped: Some(e.to_string()),
        }),
        Err(e) => Err(e),
    }
}

/// The insight routes (state: [`QueryState`]).
pub fn routes() -> Router<QueryState> {
    Router::new()
        .route(FINDINGS_PATH, get(get_findings))
        .route(REGRESSIONS_PATH, get(get_regressions))
}

/// One set of traces to compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceSet {
    /// The traces that started in a time window (Unix ns, both ends included), optionally
    /// only those with a span of `service`.
    Window {
        /// Only traces with a span of this service.
        service: Option<String>,
        /// Window start.
        start_ns: u64,
        /// Window end.
        end_ns: u64,
    },
    /// These traces.
    Ids(Vec<u128>),
}

/// How the spans of a set are keyed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keys {
    /// By operation path ([`regress::operation_paths`]).
    Paths,
    /// By operation (span name), server spans of this service only.
    ServerOperations(String),
}

/// What was read of one set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetRead {
    /// Traces read.
    pub traces: usize,
    /// Spans read.
    pub spans: usize,
    /// Whether a bound ([`MAX_SET_TRACES`], [`MAX_SET_SPANS`], a trace over
    /// [`MAX_TRACE_SPANS`]) left traces out.
    pub truncated: bool,
}

/// Reads the samples of `set` out of the store, keyed by `keys`, in a query slot off the async
/// threads and within the bounds of the module docs.
pub async fn samples_of(
    state: &QueryState,
    set: TraceSet,
    keys: Keys,
) -> Result<(Samples, SetRead), LoadError> {
    let permit = state
        .limiter
        .acquire()
        .await
        .map_err(|b| LoadError::Busy(b.message()))?;
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let deadline = std::time::Instant::now() + crate::query::stream::SEARCH_TIMEOUT;
        let mut read = SetRead::default();
        let ids = match set {
            TraceSet::Ids(ids) => ids,
            TraceSet::Window {
                service,
                start_ns,
                end_ns,
            } => {
                let query = TraceQuery {
                    service,
                    start_min_ns: Some(start_ns),
                    start_max_ns: Some(end_ns),
                    limit: MAX_SET_TRACES + 1,
                    ..TraceQuery::default()
                };
                store.search_ids(&query, Some(deadline)).ok_or_else(|| {
                    LoadError::Busy(crate::query::rest_handler::search_timeout_message())
                })?
            }
        };
        let mut samples = Samples::new();
        for (n, id) in ids.into_iter().enumerate() {
            if n >= MAX_SET_TRACES || std::time::Instant::now() > deadline {
                read.truncated = true;
                break;
            }
            let Some(count) = store.trace_span_count(id) else {
                continue;
            };
            if count > MAX_TRACE_SPANS || read.spans + count > MAX_SET_SPANS {
                read.truncated = true;
                continue;
            }
            let Some(trace) = store.trace(id) else {
                continue;
            };
            let view = TraceView::from_stored(&store, &trace);
            read.traces += 1;
            read.spans += view.spans.len();
            match &keys {
                Keys::Paths => regress::add_trace(&mut samples, &view),
                Keys::ServerOperations(service) => {
                    for span in view
                        .spans
                        .iter()
                        .filter(|s| s.kind == KIND_SERVER && &s.service == service)
                    {
                        let sample = regress::Sample {
                            duration_ns: span.duration_ns,
                            trace_id: view.trace_id,
                            span_id: span.span_id,
                        };
                        regress::add(&mut samples, span.name.clone(), sample);
                    }
                }
            }
        }
        Ok((samples, read))
    })
    .await
    .map_err(|e| LoadError::Internal(e.to_string()))?
}

/// The answer of `/api/regressions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Regressions {
    /// The earlier set, as asked for (`{"start", "end"}` in Unix µs, or `{"traceIDs"}`).
    pub before_set: serde_json::Value,
    /// The later set, as asked for.
    pub after_set: serde_json::Value,
    /// What was read of the earlier set.
    pub before: SetRead,
    /// What was read of the later set.
    pub after: SetRead,
    /// The comparison.
    pub comparison: Comparison,
}

fn set_json(set: &TraceSet) -> serde_json::Value {
    match set {
        TraceSet::Window {
            service,
            start_ns,
            end_ns,
        } => serde_json::json!({
            "service": service, "start": start_ns / 1000, "end": end_ns / 1000,
        }),
        TraceSet::Ids(ids) => {
            serde_json::json!({"traceIDs": ids.iter().map(|&i| trace_id_hex(i)).collect::<Vec<_>>()})
        }
    }
}

fn parse_sets(q: &QueryParams, now_ns: u64) -> Result<(TraceSet, TraceSet, Significance), String> {
    let ids = |name: &str| -> Result<Vec<u128>, String> {
        let mut out = Vec::new();
        for value in q.all(name) {
            for raw in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let id = parse_trace_id(raw).ok_or_else(|| {
                    format!("parameter {name}: {raw:?} is not a trace id (1 to 32 hex digits)")
                })?;
                out.push(id);
            }
        }
        if out.len() > MAX_SET_TRACES {
            return Err(format!(
                "parameter {name}: {} trace ids; at most {MAX_SET_TRACES}",
                out.len()
            ));
        }
        Ok(out)
    };
    let micros = |name: &str| -> Result<Option<u64>, String> {
        q.get(name)
            .map(|v| {
                v.parse::<u64>()
                    .map(|us| us.saturating_mul(1000))
                    .map_err(|_| {
                        format!("parameter {name}: {v:?} is not a time in Unix microseconds")
                    })
            })
            .transpose()
    };
    let number = |name: &str, default: f64, min: f64| -> Result<f64, String> {
        match q.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= min)
                .ok_or_else(|| format!("parameter {name}: {v:?} is not a number >= {min}")),
        }
    };
    let defaults = Significance::default();
    let rule = Significance {
        min_ratio: number("minRatio", defaults.min_ratio, 1.0)?,
        min_delta_ms: number("minDeltaMs", defaults.min_delta_ms, 0.0)?,
        ..defaults
    };
    let (before_ids, after_ids) = (ids("before")?, ids("after")?);
    if !before_ids.is_empty() || !after_ids.is_empty() {
        if before_ids.is_empty() || after_ids.is_empty() {
            return Err("parameters before and after: give trace ids for both sets".to_owned());
        }
        return Ok((TraceSet::Ids(before_ids), TraceSet::Ids(after_ids), rule));
    }
    let service = q.get("service").map(str::to_owned);
    let window = |start: Option<u64>, end: Option<u64>| TraceSet::Window {
        service: service.clone(),
        start_ns: start.unwrap_or(0),
        end_ns: end.unwrap_or(0),
    };
    let explicit = [
        micros("beforeStart")?,
        micros("beforeEnd")?,
        micros("afterStart")?,
        micros("afterEnd")?,
    ];
    if explicit.iter().any(Option::is_some) {
        let [Some(bs), Some(be), Some(a_s), Some(ae)] = explicit else {
            return Err(
                "parameters beforeStart, beforeEnd, afterStart, afterEnd: give all four".to_owned(),
            );
        };
        if bs > be || a_s > ae {
            return Err("parameters beforeStart..beforeEnd and afterStart..afterEnd: each window must start before it ends".to_owned());
        }
        return Ok((
            window(Some(bs), Some(be)),
            window(Some(a_s), Some(ae)),
            rule,
        ));
    }
    let length = match q.get("window") {
        None => DEFAULT_WINDOW_NS,
        Some(v) => match parse_go_duration(v) {
            Ok(ns) if ns > 0 => ns,
            _ => {
                return Err(format!(
                    "parameter window: {v:?} is not a positive duration such as 30m or 1h"
                ));
            }
        },
    };
    let end = micros("end")?.unwrap_or(now_ns);
    let middle = end.saturating_sub(length);
    let before = window(Some(middle.saturating_sub(length)), Some(middle));
    let after = window(Some(middle.saturating_add(1)), Some(end));
    Ok((before, after, rule))
}

async fn get_regressions(State(state): State<QueryState>, RawQuery(raw): RawQuery) -> Response {
    let q = QueryParams::parse(raw.as_deref());
    let (before_set, after_set, rule) = match parse_sets(&q, crate::query::now_ns()) {
        Ok(sets) => sets,
        Err(msg) => return fail(StatusCode::BAD_REQUEST, msg),
    };
    let result = async {
        let (before, before_read) = samples_of(&state, before_set.clone(), Keys::Paths).await?;
        let (after, after_read) = samples_of(&state, after_set.clone(), Keys::Paths).await?;
        Ok::<_, LoadError>(Regressions {
            before_set: set_json(&before_set),
            after_set: set_json(&after_set),
            before: before_read,
            after: after_read,
            comparison: regress::compare(&before, &after, &rule),
        })
    }
    .await;
    match result {
        Ok(answer) => {
            let n = answer.comparison.slower.len();
            ok(answer, n)
        }
        Err(e) => fail(e.status(), e.to_string()),
    }
}

/// The insight router, ready to merge into the query router.
pub fn router(state: QueryState) -> Router {
    routes().with_state(state)
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
