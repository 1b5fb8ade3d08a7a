//! Jaeger v1 query HTTP API (`cmd/query/app/http_handler.go` and `query_parser.go` in Jaeger).
//!
//! Parameters follow Jaeger's parser: `start`/`end` in Unix microseconds, `minDuration`/
//! `maxDuration` as Go durations, `limit` (default 100), `tags` as a JSON object and repeated
//! `tag=key:value`, `lookback` as a Go duration when `start` is absent, repeated `traceID`.
//! An empty parameter counts as absent. Bad parameters give a 400 envelope whose message names
//! the parameter and the value.

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::StatusCode;
use serde::Serialize;

use super::convert::{parse_trace_id, to_jaeger};
use super::model::{DependencyLink, Envelope, EnvelopeError, Operation, Trace};
use super::params::{QueryParams, parse_go_duration};
use super::{QueryState, now_ns};
use crate::store::{KIND_NAMES, TraceQuery, parse_span_kind};

const DEFAULT_LIMIT: usize = 100;
const DEFAULT_DEPENDENCY_LOOKBACK_MS: u64 = 24 * 3600 * 1000;

/// Routes of the v1 API and the stats endpoint (state: [`QueryState`]).
pub fn routes() -> Router<QueryState> {
    Router::new()
        .route("/api/services", get(services))
        .route(
            "/api/services/{service}/operations",
            get(service_operations),
        )
        .route("/api/operations", get(operations))
        .route("/api/traces", get(find_traces))
        .route("/api/traces/{trace_id}", get(get_trace))
        .route("/api/dependencies", get(dependencies))
        .route("/api/collector/stats", get(stats))
}

fn ok<T: Serialize>(data: T, total: usize) -> Response {
    Json(Envelope {
        data: Some(data),
        total,
        limit: 0,
        offset: 0,
        errors: None,
    })
    .into_response()
}

fn fail(status: StatusCode, msg: impl Into<String>) -> Response {
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

fn bad_request(msg: impl Into<String>) -> Response {
    fail(StatusCode::BAD_REQUEST, msg)
}

async fn services(State(state): State<QueryState>) -> Response {
    let services = state.store.services();
    let total = services.len();
    ok(services, total)
}

async fn service_operations(
    State(state): State<QueryState>,
    Path(service): Path<String>,
) -> Response {
    let mut names: Vec<String> = state
        .store
        .operations(Some(&service), None)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    names.dedup();
    let total = names.len();
    ok(names, total)
}

async fn operations(State(state): State<QueryState>, RawQuery(raw): RawQuery) -> Response {
    let q = QueryParams::parse(raw.as_deref());
    let Some(service) = q.get("service") else {
        return bad_request("parameter 'service' is required");
    };
    let kind = match q.get("spanKind") {
        None => None,
        Some(k) => match parse_span_kind(k) {
            Some(kind) => Some(kind),
            None => {
                return bad_request(format!(
                    "unable to parse param 'spanKind': unsupported span kind {k:?}"
                ));
            }
        },
    };
    let ops: Vec<Operation> = state
        .store
        .operations(Some(service), kind)
        .into_iter()
        .map(|(name, kind)| Operation {
            name,
            span_kind: KIND_NAMES[kind as usize].to_owned(),
        })
        .collect();
    let total = ops.len();
    ok(ops, total)
}

fn message(text: impl Into<String>) -> String {
    text.into()
}

fn parse_int(q: &QueryParams, name: &str) -> Result<Option<i64>, String> {
    match q.get(name) {
        None => Ok(None),
        Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
            message(format!(
                "unable to parse param '{name}': invalid integer {v:?}"
            ))
        }),
    }
}

fn parse_duration(q: &QueryParams, name: &str) -> Result<Option<u64>, String> {
    match q.get(name) {
        None => Ok(None),
        Some(v) => parse_go_duration(v)
            .map(Some)
            .map_err(|e| format!("unable to parse param '{name}': {e}")),
    }
}

fn parse_tags(q: &QueryParams) -> Result<Vec<(String, String)>, String> {
    let mut tags = Vec::new();
    for tag in q.all("tag") {
        match tag.split_once(':') {
            Some((k, v)) => tags.push((k.to_owned(), v.to_owned())),
            None => {
                return Err(message(format!(
                    "malformed 'tag' parameter, expecting key:value, received: {tag}"
                )));
            }
        }
    }
    for json in q.all("tags") {
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(json).map_err(|e| {
                message(format!(
                    "malformed 'tags' parameter {json:?}, cannot unmarshal JSON: {e}"
                ))
            })?;
        for (k, v) in map {
            let v = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Bool(_) | serde_json::Value::Number(_) => v.to_string(),
                other => {
                    return Err(message(format!(
                        "malformed 'tags' parameter: value of {k:?} must be a string, got {other}"
                    )));
                }
            };
            tags.push((k, v));
        }
    }
    Ok(tags)
}

fn us_to_ns(us: i64) -> u64 {
    u64::try_from(us).unwrap_or(0).saturating_mul(1000)
}

/// Parses `/api/traces` parameters into a store query; `Err` is the 400 message.
fn parse_search(state: &QueryState, q: &QueryParams) -> Result<TraceQuery, String> {
    let service = q.get("service").map(str::to_owned);
    let now = now_ns();
    let end = parse_int(q, "end")?.map_or(now, us_to_ns);
    let start = match parse_int(q, "start")? {
        Some(us) => us_to_ns(us),
        None => {
            let lookback = match q.get("lookback").filter(|l| *l != "custom") {
                Some(l) => parse_go_duration(l)
                    .map_err(|e| message(format!("unable to parse param 'lookback': {e}")))?,
                None => state.default_lookback_ns,
            };
            end.saturating_sub(lookback)
        }
    };
    let limit = match parse_int(q, "limit")? {
        None => DEFAULT_LIMIT,
        Some(n) if n >= 0 => n as usize,
        Some(n) => {
            return Err(message(format!(
                "unable to parse param 'limit': {n} is negative"
            )));
        }
    };
    let duration_min = parse_duration(q, "minDuration")?;
    let duration_max = parse_duration(q, "maxDuration")?;
    if let (Some(min), Some(max)) = (duration_min, duration_max)
        && max < min
    {
        return Err(message(
            "'maxDuration' should be greater than 'minDuration'",
        ));
    }
    let tags = parse_tags(q)?;
    if service.is_none() {
        return Err(message("parameter 'service' is required"));
    }
    Ok(TraceQuery {
        service,
        operation: q.get("operation").map(str::to_owned),
        span_kind: None,
        tags,
        start_min_ns: Some(start),
        start_max_ns: Some(end),
        duration_min_ns: duration_min,
        duration_max_ns: duration_max,
        limit,
    })
}

async fn find_traces(State(state): State<QueryState>, RawQuery(raw): RawQuery) -> Response {
    let q = QueryParams::parse(raw.as_deref());
    let ids: Vec<&str> = q.all("traceID").collect();
    if !ids.is_empty() {
        let mut traces: Vec<Trace> = Vec::new();
        for id in ids {
            let Some(trace_id) = parse_trace_id(id) else {
                return bad_request(format!(
                    "cannot parse traceID param: invalid trace id {id:?}"
                ));
            };
            if let Some(t) = state.store.trace(trace_id) {
                traces.push(to_jaeger(&state.store, &t));
            }
        }
        let total = traces.len();
        return ok(traces, total);
    }
    let query = match parse_search(&state, &q) {
        Ok(query) => query,
        Err(msg) => return bad_request(msg),
    };
    let store = state.store.clone();
    let traces = tokio::task::spawn_blocking(move || {
        let found = store.search(&query);
        found
            .iter()
            .map(|t| to_jaeger(&store, t))
            .collect::<Vec<Trace>>()
    })
    .await;
    match traces {
        Ok(traces) => {
            let total = traces.len();
            ok(traces, total)
        }
        Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn get_trace(State(state): State<QueryState>, Path(trace_id): Path<String>) -> Response {
    let Some(id) = parse_trace_id(&trace_id) else {
        return bad_request(format!(
            "cannot parse traceID param: invalid trace id {trace_id:?}"
        ));
    };
    match state.store.trace(id) {
        Some(trace) => ok(vec![to_jaeger(&state.store, &trace)], 1),
        None => fail(StatusCode::NOT_FOUND, "trace not found"),
    }
}

async fn dependencies(State(state): State<QueryState>, RawQuery(raw): RawQuery) -> Response {
    let q = QueryParams::parse(raw.as_deref());
    let end_ms = match parse_int(&q, "endTs") {
        Ok(v) => v.map_or(now_ns() / 1_000_000, |ms| u64::try_from(ms).unwrap_or(0)),
        Err(msg) => return bad_request(msg),
    };
    let lookback_ms = match parse_int(&q, "lookback") {
        Ok(v) => v.map_or(DEFAULT_DEPENDENCY_LOOKBACK_MS, |ms| {
            u64::try_from(ms).unwrap_or(0)
        }),
        Err(msg) => return bad_request(msg),
    };
    let end_ns = end_ms.saturating_mul(1_000_000);
    let start_ns = end_ms.saturating_sub(lookback_ms).saturating_mul(1_000_000);
    let links: Vec<DependencyLink> = state
        .store
        .dependencies(start_ns, end_ns)
        .into_iter()
        .map(|e| DependencyLink {
            parent: e.parent,
            child: e.child,
            call_count: e.call_count,
        })
        .collect();
    let total = links.len();
    ok(links, total)
}

async fn stats(State(state): State<QueryState>) -> Response {
    Json(state.store.stats()).into_response()
}
