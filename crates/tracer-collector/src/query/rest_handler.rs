//! Jaeger v1 query HTTP API (`cmd/query/app/http_handler.go` and `query_parser.go` in Jaeger).
//!
//! Parameters follow Jaeger's parser: `start`/`end` in Unix microseconds, `minDuration`/
//! `maxDuration` as Go durations, `limit` (default 100), `tags` as a JSON object and repeated
//! `tag=key:value`, `lookback` as a Go duration when `start` is absent, repeated `traceID`.
//! An empty parameter counts as absent. Bad parameters give a 400 envelope whose message names
//! the parameter and the value.
//!
//! Bounds: a search returns at most `limit` traces, [`DEFAULT_LIMIT`] when absent; a `limit`
//! outside 1 to [`MAX_LIMIT`] (0 included, which Jaeger's memory store reads as "all") is a
//! 400, as is a list of more than [`MAX_LIMIT`] `traceID`s. Traces are written to the response
//! a chunk of spans at a time ([`super::stream`]), and searches, trace fetches and dependency
//! scans take a query slot (503 with `Retry-After` when none frees up in time).

use axum::Json;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::io;

use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use super::convert::{JaegerSpans, parse_trace_id};
use super::model::{DependencyLink, Envelope, EnvelopeError, Operation};
use super::params::{QueryParams, parse_go_duration};
use super::stream::{BodyWriter, CONVERT_SPANS, SEARCH_TIMEOUT};
use super::{QueryState, now_ns};
use crate::store::{Store, StoredTrace, TraceQuery};
use crate::vocabulary::{KIND_NAMES, parse_span_kind, tag_condition};

/// Traces a search returns when the request gives no `limit`.
pub const DEFAULT_LIMIT: usize = 100;
/// Most traces one search (or one `traceID` list) may return; a larger `limit` is a 400.
pub const MAX_LIMIT: usize = 1500;
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
        .route(
            super::tree_stream::TREE_STREAM_PATH,
            get(super::tree_stream::tree_stream),
        )
}

/// A Jaeger envelope with `data`, as the query API answers (also the insight endpoints').
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

/// A Jaeger error envelope with `status` and `msg`.
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
        Some(n) if (1..=MAX_LIMIT as i64).contains(&n) => n as usize,
        Some(n) => {
            return Err(message(format!(
                "unable to parse param 'limit': {n} is out of range; accepted 1 to {MAX_LIMIT} \
                 (default {DEFAULT_LIMIT})"
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
        tags: tags.iter().map(|(k, v)| tag_condition(k, v)).collect(),
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
    let wanted = if ids.is_empty() {
        match parse_search(&state, &q) {
            Ok(query) => Wanted::Search(query),
            Err(msg) => return bad_request(msg),
        }
    } else {
        if ids.len() > MAX_LIMIT {
            return bad_request(format!(
                "too many 'traceID' params: {}; at most {MAX_LIMIT} per request",
                ids.len()
            ));
        }
        let mut parsed = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(trace_id) = parse_trace_id(id) else {
                return bad_request(format!(
                    "cannot parse traceID param: invalid trace id {id:?}"
                ));
            };
            parsed.push(trace_id);
        }
        Wanted::Ids(parsed)
    };
    let permit = match state.limiter.acquire().await {
        Ok(permit) => permit,
        Err(busy) => return unavailable(busy.message()),
    };
    let ids = match wanted {
        Wanted::Ids(ids) => ids,
        Wanted::Search(query) => {
            let store = state.store.clone();
            let deadline = std::time::Instant::now() + SEARCH_TIMEOUT;
            match tokio::task::spawn_blocking(move || store.search_ids(&query, Some(deadline)))
                .await
            {
                Ok(Some(ids)) => ids,
                Ok(None) => return unavailable(search_timeout_message()),
                Err(e) => return fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            }
        }
    };
    let store = state.store.clone();
    BodyWriter::respond(StatusCode::OK, permit, move |w| {
        w.raw("{\"data\":[")?;
        let mut total = 0usize;
        for id in ids {
            // A trace evicted since the search is left out.
            let Some(trace) = store.trace(id) else {
                continue;
            };
            if total > 0 {
                w.raw(",")?;
            }
            write_jaeger_trace(&store, w, &trace)?;
            total += 1;
        }
        w.raw(&format!(
            "],\"total\":{total},\"limit\":0,\"offset\":0,\"errors\":null}}"
        ))
    })
}

/// What `/api/traces` was asked for.
enum Wanted {
    Ids(Vec<u128>),
    Search(TraceQuery),
}

/// Writes one trace as Jaeger's UI model (the JSON of [`Trace`]), a chunk of spans at a time.
fn write_jaeger_trace(store: &Store, w: &mut BodyWriter, trace: &StoredTrace) -> io::Result<()> {
    let mut converter = JaegerSpans::new(store, trace.trace_id);
    w.raw("{\"traceID\":")?;
    w.json(converter.trace_hex())?;
    w.raw(",\"spans\":[")?;
    let mut first = true;
    for chunk in trace.span_chunks(CONVERT_SPANS) {
        for span in converter.convert(chunk) {
            if !first {
                w.raw(",")?;
            }
            first = false;
            w.json(&span)?;
        }
    }
    w.raw("],\"processes\":")?;
    w.json(&converter.into_processes())?;
    w.raw(",\"warnings\":null}")
}

pub(crate) fn search_timeout_message() -> String {
    format!(
        "the search was stopped after {} s; narrow the time range or name a service",
        SEARCH_TIMEOUT.as_secs()
    )
}

fn unavailable(msg: String) -> Response {
    let mut response = fail(StatusCode::SERVICE_UNAVAILABLE, msg);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// The trace `trace_id` names, read in a query slot (kept for writing the response), or the
/// error to answer: 400 for a bad id, 503 with every slot busy, 404 for an unknown trace.
pub(crate) async fn stored_trace(
    state: &QueryState,
    trace_id: &str,
) -> Result<(tokio::sync::OwnedSemaphorePermit, StoredTrace), Response> {
    let Some(id) = parse_trace_id(trace_id) else {
        return Err(bad_request(format!(
            "cannot parse traceID param: invalid trace id {trace_id:?}"
        )));
    };
    let permit = state
        .limiter
        .acquire()
        .await
        .map_err(|busy| unavailable(busy.message()))?;
    let store = state.store.clone();
    match tokio::task::spawn_blocking(move || store.trace(id)).await {
        Ok(Some(trace)) => Ok((permit, trace)),
        Ok(None) => Err(fail(StatusCode::NOT_FOUND, "trace not found")),
        Err(e) => Err(fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

async fn get_trace(State(state): State<QueryState>, Path(trace_id): Path<String>) -> Response {
    let (permit, trace) = match stored_trace(&state, &trace_id).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let store = state.store.clone();
    BodyWriter::respond(StatusCode::OK, permit, move |w| {
        w.raw("{\"data\":[")?;
        write_jaeger_trace(&store, w, &trace)?;
        w.raw("],\"total\":1,\"limit\":0,\"offset\":0,\"errors\":null}")
    })
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
    let _permit = match state.limiter.acquire().await {
        Ok(permit) => permit,
        Err(busy) => return unavailable(busy.message()),
    };
    let store = state.store.clone();
    let edges =
        match tokio::task::spawn_blocking(move || store.dependencies(start_ns, end_ns)).await {
            Ok(edges) => edges,
            Err(e) => return fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        };
    let links: Vec<DependencyLink> = edges
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

/// The store's counters plus, under `listeners`, each port's connection counters (and the
/// forwarder's and the durable log's, under `forward` and `persist`, when they run, and the
/// forward buffer's log under `forward_buffer` when it is on disk).
async fn stats(State(state): State<QueryState>) -> Response {
    let mut body = serde_json::to_value(state.store.stats()).unwrap_or_default();
    if let serde_json::Value::Object(map) = &mut body {
        map.insert(
            "listeners".to_owned(),
            serde_json::to_value(state.listeners.snapshot()).unwrap_or_default(),
        );
        if let Some(forwarder) = state.forward.get() {
            map.insert(
                "forward".to_owned(),
                serde_json::to_value(forwarder.stats()).unwrap_or_default(),
            );
            if let Some(tail) = forwarder.tail_stats() {
                map.insert(
                    "forward_tail_sampling".to_owned(),
                    serde_json::to_value(tail).unwrap_or_default(),
                );
            }
            if let Some(disk) = forwarder.disk_stats() {
                map.insert(
                    "forward_buffer".to_owned(),
                    serde_json::to_value(disk).unwrap_or_default(),
                );
            }
        }
        if let Some(log) = state.persist.get() {
            map.insert(
                "persist".to_owned(),
                serde_json::to_value(log.stats()).unwrap_or_default(),
            );
        }
    }
    Json(body).into_response()
}
