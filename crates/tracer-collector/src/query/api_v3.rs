//! Jaeger api_v3 over HTTP, as Jaeger's HTTP gateway serves it
//! (`cmd/jaeger/internal/extension/jaegerquery/internal/apiv3/http_gateway.go`,
//! `idl/proto/api_v3/query_service.proto`).
//!
//! - `GET /api/v3/services` -> `{"services": [...]}`
//! - `GET /api/v3/operations?service=&span_kind=` -> `{"operations": [{"name","spanKind"}]}`
//! - `GET /api/v3/traces?query.service_name=&query.operation_name=&query.start_time_min=&
//!   query.start_time_max=&query.duration_min=&query.duration_max=&query.search_depth=&
//!   query.num_traces=&query.attributes=` -> `{"result": <OTLP JSON TracesData>}`; times are
//!   RFC 3339, durations Go durations, attributes either a JSON object or repeated
//!   `query.attributes[key]=value`. Each parameter is also accepted under the lowerCamelCase
//!   name current Jaeger treats as canonical (`query.serviceName`, `query.startTimeMin`, ...).
//! - `GET /api/v3/traces/{trace_id}` -> `{"result": ...}`
//! - `GET /api/v3/trace-summaries` with the parameters of `/api/v3/traces` ->
//!   `{"summaries": [...]}` (see [`find_trace_summaries`]).
//!
//! Errors are `{"error": {"httpCode": N, "message": "..."}}`; no match is a 404 with
//! `No traces found` for `/api/v3/traces`, as in Jaeger, and an empty list for
//! `/api/v3/trace-summaries`.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;
use serde_json::json;

use super::QueryState;
use super::convert::{parse_trace_id, to_otlp, to_summaries};
use super::model::TraceSummaries;
use super::params::{QueryParams, parse_go_duration, parse_rfc3339};
use crate::store::{KIND_NAMES, StoredTrace, TraceQuery, parse_span_kind};

/// Routes of api_v3 (state: [`QueryState`]).
pub fn routes() -> Router<QueryState> {
    Router::new()
        .route("/api/v3/services", get(services))
        .route("/api/v3/operations", get(operations))
        .route("/api/v3/traces", get(find_traces))
        .route("/api/v3/traces/{trace_id}", get(get_trace))
        .route("/api/v3/trace-summaries", get(find_trace_summaries))
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = json!({"error": {"httpCode": status.as_u16(), "message": message.into()}});
    (status, Json(body)).into_response()
}

fn param_error(name: &str, detail: impl std::fmt::Display) -> Response {
    error(StatusCode::BAD_REQUEST, param_message(name, detail))
}

async fn services(State(state): State<QueryState>) -> Response {
    Json(json!({"services": state.store.services()})).into_response()
}

async fn operations(State(state): State<QueryState>, RawQuery(raw): RawQuery) -> Response {
    let q = QueryParams::parse(raw.as_deref());
    let kind = match q.get("span_kind") {
        None => None,
        Some(k) => match parse_span_kind(k) {
            Some(kind) => Some(kind),
            None => return param_error("span_kind", format!("unsupported span kind {k:?}")),
        },
    };
    let operations: Vec<serde_json::Value> = state
        .store
        .operations(q.get("service"), kind)
        .into_iter()
        .map(|(name, kind)| json!({"name": name, "spanKind": KIND_NAMES[kind as usize]}))
        .collect();
    Json(json!({"operations": operations})).into_response()
}

fn result(state: &QueryState, traces: &[StoredTrace]) -> Response {
    if traces.is_empty() {
        return error(StatusCode::NOT_FOUND, "No traces found");
    }
    let data = to_otlp(&state.store, traces);
    match serde_json::to_value(&data) {
        Ok(value) => Json(json!({ "result": value })).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn get_trace(State(state): State<QueryState>, Path(trace_id): Path<String>) -> Response {
    let Some(id) = parse_trace_id(&trace_id) else {
        return param_error("trace_id", format!("invalid trace id {trace_id:?}"));
    };
    let traces: Vec<StoredTrace> = state.store.trace(id).into_iter().collect();
    result(&state, &traces)
}

fn param_message(name: &str, detail: impl std::fmt::Display) -> String {
    format!("malformed parameter {name}: {detail}")
}

/// The value of a search parameter and the name it was given under: the lowerCamelCase name
/// current Jaeger treats as canonical, else its snake_case alias.
fn param<'a>(q: &'a QueryParams, camel: &'a str, snake: &'a str) -> Option<(&'a str, &'a str)> {
    q.get(camel)
        .map(|v| (v, camel))
        .or_else(|| q.get(snake).map(|v| (v, snake)))
}

fn parse_query(q: &QueryParams) -> Result<TraceQuery, String> {
    let (Some((min, min_name)), Some((max, max_name))) = (
        param(q, "query.startTimeMin", "query.start_time_min"),
        param(q, "query.startTimeMax", "query.start_time_max"),
    ) else {
        return Err("query.start_time_min and query.start_time_max are required".to_owned());
    };
    let start_min = parse_rfc3339(min).map_err(|e| param_message(min_name, e))?;
    let start_max = parse_rfc3339(max).map_err(|e| param_message(max_name, e))?;
    let duration = |camel: &str, snake: &str| -> Result<Option<u64>, String> {
        param(q, camel, snake)
            .map(|(d, name)| parse_go_duration(d).map_err(|e| param_message(name, e)))
            .transpose()
    };
    let mut limit = 0usize;
    let depth = param(q, "query.searchDepth", "query.search_depth")
        .or_else(|| q.get("query.num_traces").map(|v| (v, "query.num_traces")));
    if let Some((n, name)) = depth {
        limit = n
            .parse::<usize>()
            .map_err(|_| param_message(name, format!("invalid integer {n:?}")))?;
    }
    let mut tags = Vec::new();
    if let Some(json) = q.get("query.attributes") {
        let map: std::collections::BTreeMap<String, String> =
            serde_json::from_str(json).map_err(|e| param_message("query.attributes", e))?;
        tags.extend(map);
    }
    for (key, value) in q.with_prefix("query.attributes[") {
        if let Some(key) = key.strip_suffix(']') {
            tags.push((key.to_owned(), value.to_owned()));
        }
    }
    Ok(TraceQuery {
        service: param(q, "query.serviceName", "query.service_name").map(|(v, _)| v.to_owned()),
        operation: param(q, "query.operationName", "query.operation_name")
            .map(|(v, _)| v.to_owned()),
        span_kind: None,
        tags,
        start_min_ns: Some(start_min),
        start_max_ns: Some(start_max.max(start_min)),
        duration_min_ns: duration("query.durationMin", "query.duration_min")?,
        duration_max_ns: duration("query.durationMax", "query.duration_max")?,
        limit,
    })
}

async fn find_traces(State(state): State<QueryState>, RawQuery(raw): RawQuery) -> Response {
    let q = QueryParams::parse(raw.as_deref());
    let query = match parse_query(&q) {
        Ok(query) => query,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let store = state.store.clone();
    match tokio::task::spawn_blocking(move || store.search(&query)).await {
        Ok(traces) => result(&state, &traces),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `GET /api/v3/trace-summaries`: the traces `/api/v3/traces` would return for the same
/// parameters, as one summary each instead of their spans.
///
/// The shape follows Jaeger's api_v3 `FindTraceSummariesResponse` (jaegertracing/jaeger
/// `docs/adr/010-trace-summary-api.md` and the gateway's `FindTraceSummaries` snapshot):
///
/// ```json
/// {"summaries": [{
///   "traceId": "0af7651916cd43dd8448eb211c80319c",
///   "rootServiceName": "frontend", "rootOperationName": "GET /checkout",
///   "minStartTimeUnixNano": "1700000000000000000", "maxEndTimeUnixNano": "1700000000120000000",
///   "spanCount": 10, "errorSpanCount": 1, "orphanSpanCount": 0,
///   "services": [{"name": "frontend", "spanCount": 3, "errorSpanCount": 0}]
/// }]}
/// ```
///
/// Newest trace first, as the search returns them. The root is the span without a parent (the
/// earliest if there are several); an error span has status ERROR; an orphan's parent is not
/// in the trace. Zero counts and an empty list are written out, where Jaeger's proto3
/// marshaller leaves zero-valued fields out (its snapshot has no `orphanSpanCount`); proto3
/// JSON readers accept both. No match is `{"summaries": []}` with 200, not a 404. Bad
/// parameters get the same 400 as `/api/v3/traces`.
pub async fn find_trace_summaries(
    State(state): State<QueryState>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = QueryParams::parse(raw.as_deref());
    let query = match parse_query(&q) {
        Ok(query) => query,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let store = state.store.clone();
    let summarized = tokio::task::spawn_blocking(move || {
        let traces = store.search(&query);
        to_summaries(&store, &traces)
    })
    .await;
    match summarized {
        Ok(summaries) => Json(TraceSummaries { summaries }).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
