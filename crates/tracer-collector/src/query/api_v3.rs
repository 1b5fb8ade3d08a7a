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
//! Bounds: a search returns at most `query.search_depth` traces, [`DEFAULT_SEARCH_DEPTH`] when
//! absent; a depth outside 1 to [`MAX_SEARCH_DEPTH`] is a 400 naming the parameter. Results are
//! written a chunk of spans at a time ([`super::stream`]); searches and fetches take a query
//! slot (503 with `Retry-After` when none frees up in time).
//!
//! Errors are `{"error": {"httpCode": N, "message": "..."}}`; no match is a 404 with
//! `No traces found` for `/api/v3/traces`, as in Jaeger, and an empty list for
//! `/api/v3/trace-summaries`.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::{HeaderValue, StatusCode, header};
use serde_json::json;
use tokio::sync::OwnedSemaphorePermit;

use super::QueryState;
use super::convert::{parse_trace_id, to_otlp_spans, to_summaries};
use super::model::TraceSummaries;
use super::params::{QueryParams, parse_go_duration, parse_rfc3339};
use super::rest_handler::search_timeout_message;
use super::stream::{BodyWriter, Busy, CONVERT_SPANS, SEARCH_TIMEOUT};
use crate::store::TraceQuery;
use crate::vocabulary::{KIND_NAMES, parse_span_kind, tag_condition};

/// Traces a search returns when the request gives no `query.search_depth` (or
/// `query.num_traces`).
pub const DEFAULT_SEARCH_DEPTH: usize = 100;
/// Most traces one search may return; a larger (or zero) search depth is a 400.
pub const MAX_SEARCH_DEPTH: usize = 1500;

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

/// Answers `{"result": <OTLP JSON TracesData>}` for the traces `ids`, written a chunk of spans
/// at a time; a trace evicted meanwhile is left out.
fn result(state: &QueryState, permit: OwnedSemaphorePermit, ids: Vec<u128>) -> Response {
    let store = state.store.clone();
    BodyWriter::respond(StatusCode::OK, permit, move |w| {
        w.raw("{\"result\":{\"resourceSpans\":[")?;
        let mut first = true;
        for id in ids {
            let Some(trace) = store.trace(id) else {
                continue;
            };
            for chunk in trace.span_chunks(CONVERT_SPANS) {
                let data = to_otlp_spans(&store, chunk.map(|span| (id, span)));
                for resource_spans in &data.resource_spans {
                    if !first {
                        w.raw(",")?;
                    }
                    first = false;
                    w.json(resource_spans)?;
                }
            }
        }
        w.raw("]}}")
    })
}

fn busy(b: Busy) -> Response {
    let mut response = error(StatusCode::SERVICE_UNAVAILABLE, b.message());
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

async fn get_trace(State(state): State<QueryState>, Path(trace_id): Path<String>) -> Response {
    let Some(id) = parse_trace_id(&trace_id) else {
        return param_error("trace_id", format!("invalid trace id {trace_id:?}"));
    };
    let permit = match state.limiter.acquire().await {
        Ok(permit) => permit,
        Err(b) => return busy(b),
    };
    if state.store.trace_span_count(id).is_none() {
        return error(StatusCode::NOT_FOUND, "No traces found");
    }
    result(&state, permit, vec![id])
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
    let mut limit = DEFAULT_SEARCH_DEPTH;
    let depth = param(q, "query.searchDepth", "query.search_depth")
        .or_else(|| q.get("query.num_traces").map(|v| (v, "query.num_traces")));
    if let Some((n, name)) = depth {
        limit = n
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_SEARCH_DEPTH).contains(n))
            .ok_or_else(|| {
                param_message(
                    name,
                    format!(
                        "{n:?} is not accepted; accepted 1 to {MAX_SEARCH_DEPTH} \
                         (default {DEFAULT_SEARCH_DEPTH})"
                    ),
                )
            })?;
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
        tags: tags.iter().map(|(k, v)| tag_condition(k, v)).collect(),
        start_min_ns: Some(start_min),
        start_max_ns: Some(start_max.max(start_min)),
        duration_min_ns: duration("query.durationMin", "query.duration_min")?,
        duration_max_ns: duration("query.durationMax", "query.duration_max")?,
        limit,
    })
}

/// Runs a search in a query slot: the slot and the ids found, or the error response.
async fn search(
    state: &QueryState,
    raw: Option<&str>,
) -> Result<(OwnedSemaphorePermit, Vec<u128>), Response> {
    let q = QueryParams::parse(raw);
    let query = parse_query(&q).map_err(|message| error(StatusCode::BAD_REQUEST, message))?;
    let permit = state.limiter.acquire().await.map_err(busy)?;
    let store = state.store.clone();
    let deadline = std::time::Instant::now() + SEARCH_TIMEOUT;
    match tokio::task::spawn_blocking(move || store.search_ids(&query, Some(deadline))).await {
        Ok(Some(ids)) => Ok((permit, ids)),
        Ok(None) => Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            search_timeout_message(),
        )),
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

async fn find_traces(State(state): State<QueryState>, RawQuery(raw): RawQuery) -> Response {
    match search(&state, raw.as_deref()).await {
        Ok((_, ids)) if ids.is_empty() => error(StatusCode::NOT_FOUND, "No traces found"),
        Ok((permit, ids)) => result(&state, permit, ids),
        Err(response) => response,
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
    let (permit, ids) = match search(&state, raw.as_deref()).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let store = state.store.clone();
    let summarized = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        // One trace copied out of the store at a time.
        ids.into_iter()
            .filter_map(|id| store.trace(id))
            .flat_map(|trace| to_summaries(&store, std::slice::from_ref(&trace)))
            .collect::<Vec<_>>()
    })
    .await;
    match summarized {
        Ok(summaries) => Json(TraceSummaries { summaries }).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
