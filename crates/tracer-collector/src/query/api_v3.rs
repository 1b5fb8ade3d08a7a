//! Jaeger api_v3 over HTTP, as Jaeger's grpc-gateway serves it
//! (`cmd/query/app/apiv3/http_gateway.go`, `idl/proto/api_v3/query_service.proto`).
//!
//! - `GET /api/v3/services` -> `{"services": [...]}`
//! - `GET /api/v3/operations?service=&span_kind=` -> `{"operations": [{"name","spanKind"}]}`
//! - `GET /api/v3/traces?query.service_name=&query.operation_name=&query.start_time_min=&
//!   query.start_time_max=&query.duration_min=&query.duration_max=&query.search_depth=&
//!   query.num_traces=&query.attributes=` -> `{"result": <OTLP JSON TracesData>}`; times are
//!   RFC 3339, durations Go durations, attributes either a JSON object or repeated
//!   `query.attributes[key]=value`.
//! - `GET /api/v3/traces/{trace_id}` -> `{"result": ...}`
//!
//! Errors are `{"error": {"httpCode": N, "message": "..."}}`; no match is a 404 with
//! `No traces found`, as in Jaeger. `/api/v3/trace-summaries` is not served: its shape is not
//! part of the api_v3 proto this follows.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;
use serde_json::json;

use super::QueryState;
use super::convert::{parse_trace_id, to_otlp};
use super::params::{QueryParams, parse_go_duration, parse_rfc3339};
use crate::store::{KIND_NAMES, StoredTrace, TraceQuery, parse_span_kind};

/// Routes of api_v3 (state: [`QueryState`]).
pub fn routes() -> Router<QueryState> {
    Router::new()
        .route("/api/v3/services", get(services))
        .route("/api/v3/operations", get(operations))
        .route("/api/v3/traces", get(find_traces))
        .route("/api/v3/traces/{trace_id}", get(get_trace))
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

fn parse_query(q: &QueryParams) -> Result<TraceQuery, String> {
    let (Some(min), Some(max)) = (q.get("query.start_time_min"), q.get("query.start_time_max"))
    else {
        return Err("query.start_time_min and query.start_time_max are required".to_owned());
    };
    let start_min = parse_rfc3339(min).map_err(|e| param_message("query.start_time_min", e))?;
    let start_max = parse_rfc3339(max).map_err(|e| param_message("query.start_time_max", e))?;
    let duration = |name: &str| -> Result<Option<u64>, String> {
        q.get(name)
            .map(|d| parse_go_duration(d).map_err(|e| param_message(name, e)))
            .transpose()
    };
    let mut limit = 0usize;
    for name in ["query.search_depth", "query.num_traces"] {
        if let Some(n) = q.get(name) {
            limit = n
                .parse::<usize>()
                .map_err(|_| param_message(name, format!("invalid integer {n:?}")))?;
        }
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
        service: q.get("query.service_name").map(str::to_owned),
        operation: q.get("query.operation_name").map(str::to_owned),
        span_kind: None,
        tags,
        start_min_ns: Some(start_min),
        start_max_ns: Some(start_max.max(start_min)),
        duration_min_ns: duration("query.duration_min")?,
        duration_max_ns: duration("query.duration_max")?,
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
