//! The trace-file endpoints of the query port (see the [module docs](super) for the shapes).

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Serialize;
use std::num::NonZeroUsize;
use std::sync::Arc;

use super::parse::{ParsedFile, parse};
use crate::ingest::{self, Ingestor};
use crate::query::QueryState;
use crate::query::convert::{parse_trace_id, to_jaeger, to_otlp, trace_id_hex};
use crate::query::model::{Envelope, EnvelopeError, Trace};
use crate::query::params::QueryParams;
use crate::store::{Store, StoreLimits};

/// `POST` a trace file here to store it (OTLP JSON or Jaeger JSON).
pub const IMPORT_PATH: &str = "/api/import";
/// `POST` OTLP JSON here to get it back as Jaeger UI JSON, without storing it.
pub const TRANSFORM_PATH: &str = "/api/transform";
/// `GET` one stored trace as a file: `?format=otlp-json` (default), `jaeger-json` or `html`.
pub const EXPORT_PATH: &str = "/api/export/{trace_id}";

/// State of the trace-file endpoints: the query side (store, query slots) and the ingestor
/// imports go through.
#[derive(Debug, Clone)]
pub struct FilesState {
    /// The query state (the store read by exports, the query slots).
    pub query: QueryState,
    /// The ingestor imports are stored through (its ingest budget and body limit apply).
    pub ingestor: Ingestor,
}

/// The routes of [`IMPORT_PATH`], [`TRANSFORM_PATH`] and [`EXPORT_PATH`].
pub fn router(state: FilesState) -> Router {
    Router::new()
        .route(IMPORT_PATH, post(import))
        .route(TRANSFORM_PATH, post(transform))
        .route(EXPORT_PATH, get(export))
        .with_state(state)
}

/// What an import stored, the `data` of its answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ImportSummary {
    /// Trace ids of the stored spans (as Jaeger prints them), in order of first appearance.
    #[serde(rename = "traceIDs")]
    pub trace_ids: Vec<String>,
    /// Spans stored.
    pub spans: usize,
    /// Spans the store rejected (invalid ids, values nested too deep).
    pub rejected: u64,
    /// Why spans were rejected; empty when none were.
    pub message: String,
    /// JSON documents (lines) read as OTLP JSON.
    #[serde(rename = "otlpDocuments")]
    pub otlp_documents: usize,
    /// JSON documents read as Jaeger JSON.
    #[serde(rename = "jaegerDocuments")]
    pub jaeger_documents: usize,
}

fn envelope<T: Serialize>(
    status: StatusCode,
    data: Option<T>,
    total: usize,
    errors: Vec<String>,
) -> Response {
    let body = Envelope {
        data,
        total,
        limit: 0,
        offset: 0,
        errors: (!errors.is_empty()).then(|| {
            errors
                .into_iter()
                .map(|msg| EnvelopeError {
                    code: status.as_u16(),
                    msg,
                    trace_id: None,
                })
                .collect()
        }),
    };
    (status, axum::Json(body)).into_response()
}

fn fail(status: StatusCode, msg: impl Into<String>) -> Response {
    let mut response = envelope::<()>(status, None, 0, vec![msg.into()]);
    if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// Reads a request body of at most `limit` bytes, reserving ingest budget for it.
async fn read_body(
    ingestor: &Ingestor,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Bytes, ingest::BudgetPermit), Response> {
    let limit = ingestor.body_limit();
    let too_large = || {
        fail(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the file is larger than the limit of {limit} bytes (the collector's \
                 --body-limit); split it (JSON lines can be cut between lines)"
            ),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let permit = ingestor
        .reserve(declared.map_or(limit, |n| n as usize))
        .map_err(|e| fail(StatusCode::TOO_MANY_REQUESTS, e.to_string()))?;
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => Ok((bytes, permit)),
        Err(e) => {
            let length_limit = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if length_limit {
                Err(too_large())
            } else {
                Err(fail(
                    StatusCode::BAD_REQUEST,
                    format!("failed to read the request body: {e}"),
                ))
            }
        }
    }
}

/// Trace ids of the parsed requests, in order of first appearance.
fn trace_ids(file: &ParsedFile) -> Vec<u128> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    let spans = file
        .requests
        .iter()
        .flat_map(|r| &r.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans);
    for span in spans {
        let Ok(bytes) = <[u8; 16]>::try_from(span.trace_id.as_slice()) else {
            continue;
        };
        let id = u128::from_be_bytes(bytes);
        if id != 0 && seen.insert(id) {
            out.push(id);
        }
    }
    out
}

/// Parses and stores a file; the summary of what was stored or the parse error.
/// Why a file was not stored.
enum ImportFailure {
    /// The file does not parse (400).
    Parse(super::parse::ParseError),
    /// Its spans could not be made durable (503; spans of earlier requests of the file may
    /// be stored, and are stored again by a retry, which the store merges by trace).
    Persist(ingest::IngestError),
}

/// Parses and stores a file through `sink` (after the log, with a data directory); the
/// summary of what was stored, or why not.
fn store_file(sink: &ingest::Sink, bytes: &[u8]) -> Result<ImportSummary, ImportFailure> {
    let store = sink.store();
    let file = parse(bytes).map_err(ImportFailure::Parse)?;
    let mut summary = ImportSummary {
        otlp_documents: file.otlp_documents,
        jaeger_documents: file.jaeger_documents,
        ..ImportSummary::default()
    };
    for request in &file.requests {
        let outcome = sink
            .stage_request(request)
            .and_then(|staged| sink.commit_blocking(staged))
            .map_err(ImportFailure::Persist)?;
        summary.spans += outcome.accepted;
        summary.rejected += outcome.rejected;
        if summary.message.is_empty() {
            summary.message = outcome.message;
        }
    }
    summary.trace_ids = trace_ids(&file)
        .into_iter()
        .filter(|id| store.trace_span_count(*id).is_some())
        .map(trace_id_hex)
        .collect();
    Ok(summary)
}

async fn import(State(state): State<FilesState>, headers: HeaderMap, body: Body) -> Response {
    // A JSON content type cannot be sent cross-origin without a CORS preflight (which this port
    // never grants), so a web page elsewhere cannot make the browser store traces here.
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    if !matches!(
        media.as_deref(),
        Some("application/json" | "application/x-ndjson" | "application/jsonl")
    ) {
        return fail(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "unsupported content type {:?}; send the file as application/json \
                 (application/x-ndjson for JSON lines works too)",
                media.as_deref().unwrap_or("(none)")
            ),
        );
    }
    let (bytes, permit) = match read_body(&state.ingestor, &headers, body).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let sink = state.ingestor.sink();
    let stored = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        store_file(&sink, &bytes)
    })
    .await;
    match stored {
        Ok(Ok(summary)) => {
            let total = summary.trace_ids.len();
            envelope(StatusCode::OK, Some(summary), total, Vec::new())
        }
        Ok(Err(ImportFailure::Parse(e))) => fail(StatusCode::BAD_REQUEST, e.to_string()),
        Ok(Err(ImportFailure::Persist(e))) => fail(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Converts a file to Jaeger traces through a throwaway store, the same path (ingest, then the
/// query conversion) a stored trace takes.
fn transform_file(
    bytes: &[u8],
    limit: usize,
) -> Result<(Vec<Trace>, Vec<String>), super::parse::ParseError> {
    let file = parse(bytes)?;
    let non_zero = |n: usize| NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN);
    // Large enough that nothing a body within the limit holds is evicted.
    let store = Store::new(StoreLimits {
        max_spans: non_zero(limit),
        max_bytes: non_zero(limit.saturating_mul(16)),
    });
    let mut errors = Vec::new();
    for request in &file.requests {
        let outcome = ingest::store_request(&store, request);
        if outcome.rejected > 0 {
            errors.push(outcome.message);
        }
    }
    let traces = trace_ids(&file)
        .into_iter()
        .filter_map(|id| store.trace(id))
        .map(|trace| to_jaeger(&store, &trace))
        .collect();
    Ok((traces, errors))
}

/// `POST /api/transform`, as Jaeger's query service serves it (`cmd/query/app/http_handler.go`,
/// `transformOTLP`): OTLP JSON in, `{"data": [trace, ...], "total": 0, "limit": 0,
/// "offset": 0, "errors": null}` out, one Jaeger UI trace per trace id in order of first
/// appearance; a body that does not parse is a 400 naming the line and field.
async fn transform(State(state): State<FilesState>, headers: HeaderMap, body: Body) -> Response {
    let (bytes, permit) = match read_body(&state.ingestor, &headers, body).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let limit = state.ingestor.body_limit();
    let converted = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        transform_file(&bytes, limit)
    })
    .await;
    match converted {
        // Jaeger leaves `total` at 0 for this endpoint.
        Ok(Ok((traces, errors))) => envelope(StatusCode::OK, Some(traces), 0, errors),
        Ok(Err(e)) => fail(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// The formats [`EXPORT_PATH`] serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExportFormat {
    OtlpJson,
    JaegerJson,
    Html,
}

impl ExportFormat {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "otlp-json" | "otlp" => ExportFormat::OtlpJson,
            "jaeger-json" | "jaeger" => ExportFormat::JaegerJson,
            "html" => ExportFormat::Html,
            _ => return None,
        })
    }
}

async fn export(
    State(state): State<FilesState>,
    Path(trace_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = QueryParams::parse(raw.as_deref());
    let format = match q.get("format") {
        None => ExportFormat::OtlpJson,
        Some(name) => match ExportFormat::parse(name) {
            Some(format) => format,
            None => {
                return fail(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "unknown format {name:?}; accepted: otlp-json (default), jaeger-json, html"
                    ),
                );
            }
        },
    };
    let Some(id) = parse_trace_id(&trace_id) else {
        return fail(
            StatusCode::BAD_REQUEST,
            format!("cannot parse traceID param: invalid trace id {trace_id:?}"),
        );
    };
    let _permit = match state.query.limiter.acquire().await {
        Ok(permit) => permit,
        Err(busy) => return fail(StatusCode::SERVICE_UNAVAILABLE, busy.message()),
    };
    let store: Arc<Store> = state.query.store.clone();
    let rendered = tokio::task::spawn_blocking(move || -> Option<Result<Vec<u8>, String>> {
        let trace = store.trace(id)?;
        Some(match format {
            ExportFormat::OtlpJson => serde_json::to_vec(&to_otlp(&store, &[trace]))
                .map_err(|e| e.to_string())
                .map(|mut v| {
                    v.push(b'\n');
                    v
                }),
            ExportFormat::JaegerJson => {
                let trace = to_jaeger(&store, &trace);
                serde_json::to_vec(&Envelope {
                    data: Some(vec![trace]),
                    total: 1,
                    limit: 0,
                    offset: 0,
                    errors: None,
                })
                .map_err(|e| e.to_string())
            }
            ExportFormat::Html => {
                let trace = to_jaeger(&store, &trace);
                crate::ui::offline::page(std::slice::from_ref(&trace))
                    .map(String::into_bytes)
                    .map_err(|e| e.to_string())
            }
        })
    })
    .await;
    let body = match rendered {
        Ok(Some(Ok(body))) => body,
        Ok(None) => return fail(StatusCode::NOT_FOUND, "trace not found"),
        Ok(Some(Err(e))) => return fail(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => return fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let hex = trace_id_hex(id);
    let (content_type, name) = match format {
        ExportFormat::OtlpJson => ("application/json", format!("trace-{hex}.otlp.json")),
        ExportFormat::JaegerJson => ("application/json", format!("trace-{hex}.jaeger.json")),
        ExportFormat::Html => ("text/html; charset=utf-8", format!("trace-{hex}.html")),
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if format == ExportFormat::Html {
        // Should a browser render it in place, the page keeps the policy it carries offline.
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(crate::ui::offline::OFFLINE_CONTENT_SECURITY_POLICY),
        );
    }
    response
}
