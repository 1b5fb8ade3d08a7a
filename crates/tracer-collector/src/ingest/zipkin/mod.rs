//! Zipkin's HTTP collector API (the seed's port 9411): `POST /api/v2/spans` and
//! `POST /api/v1/spans`, as openzipkin/zipkin-api `zipkin2-api.yaml` and `zipkin-api.yaml`
//! define them.
//!
//! | endpoint | `Content-Type` | body |
//! |---|---|---|
//! | `/api/v2/spans` | `application/json` (or none) | v2 JSON list of spans |
//! | `/api/v2/spans` | `application/x-protobuf` | `zipkin.proto3.ListOfSpans` (`zipkin.proto`) |
//! | `/api/v1/spans` | `application/json` (or none) | v1 JSON list of spans |
//! | `/api/v1/spans` | `application/x-thrift` | thrift binary `list<Span>` (`zipkincore.thrift`) |
//!
//! `Content-Encoding: gzip` is accepted. The answer is `202 Accepted` with an empty body; errors
//! are plain text: 400 undecodable (naming the first bad span and field), 413 over the body
//! limit (after decompression), 415 another content type or encoding, 429 with `Retry-After`
//! when the ingest budget is spent. The same v1 thrift spans also arrive over UDP on 5775
//! (`emitZipkinBatch`, thrift compact; see [`super::udp`]).
//!
//! # Mapping to the store's batch (OTLP's model; semantic conventions 1.42)
//! | Zipkin v2 | OTLP |
//! |---|---|
//! | `traceId` (16 or 32 hex digits) | trace id; a 64-bit id is left-padded with zeros |
//! | `id`, `parentId` | span id, parent span id |
//! | `kind` CLIENT/SERVER/PRODUCER/CONSUMER, absent | kind CLIENT/SERVER/PRODUCER/CONSUMER, INTERNAL |
//! | `name`, `timestamp` + `duration` (µs) | name, start and end (ns); flags `sampled` |
//! | `localEndpoint.serviceName` (absent: `unknown_service`) | resource `service.name` |
//! | `localEndpoint.ipv4`/`ipv6`, `.port` | `network.local.address`, `network.local.port` |
//! | `remoteEndpoint.serviceName` | `service.peer.name` |
//! | `remoteEndpoint.ipv4`/`ipv6`, `.port` | `network.peer.address`, `network.peer.port`; on CLIENT and PRODUCER spans also `server.address`, `server.port` |
//! | `tags` | string attributes (an endpoint attribute is not added when a tag has its key) |
//! | `error` tag | status ERROR, its value the message (none when `true`); tag removed |
//! | `otel.status_code`, `otel.status_description` tags | status (wins over `error`); removed |
//! | `otel.scope.name`/`.version` (or `otel.library.*`) tags | instrumentation scope; removed |
//! | `annotations` | events; a value `{"name": {attributes}}` (OpenTelemetry's exporters) is unpacked |
//! | `debug: true` | attribute `tracer.zipkin.debug = true` |
//! | `shared: true` | attribute `tracer.zipkin.shared = true`, span id derived (below) |
//!
//! **Shared spans.** In Zipkin, a server that joins its client's span reports a `shared` span
//! with the *same* id as the client span. OTLP and the store identify a span by trace and span
//! id, so keeping the id would make the two sides one span (the later overwriting or doubling
//! the earlier). As Jaeger does (its `SpanIDDeduper` adjuster), the shared span is given its
//! own id and the id it shares becomes its parent, so the trace reads client -> server. The new
//! id is derived from the trace and span ids (`convert::shared_span_id`: FNV-1a then a
//! splitmix64 round), so a span reported twice is still one span, and it can
//! never be zero or the shared id. The parent the shared span named (the client's parent) is
//! not kept: it is the client span's parent already.
//!
//! v1 spans go through the same mapping after Zipkin's v1-to-v2 rules (see `convert::from_v1`).

mod convert;
mod json_v2;
mod model;
mod thrift;

pub(crate) use convert::fill;
pub(crate) use convert::{ZipkinSpan, decode_json_v1, decode_proto};
pub(crate) use json_v2::{Spans as V2JsonSpans, decode as decode_json_v2, fill as fill_json_v2};
pub(crate) use thrift::{decode_emit_zipkin_batch, decode_v1_thrift};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderMap, StatusCode};

use super::receiver::{
    Convert, Format, FormatCounters, Receivers, error_response, is_gzip, media_type, plain,
    read_body, submit,
};

/// Path of the Zipkin v2 endpoint.
pub const V2_SPANS_PATH: &str = "/api/v2/spans";
/// Path of the Zipkin v1 endpoint.
pub const V1_SPANS_PATH: &str = "/api/v1/spans";

/// Attribute set on spans reported with `debug: true`.
pub const DEBUG_ATTRIBUTE: &str = "tracer.zipkin.debug";
/// Attribute set on spans reported with `shared: true` (their span id is derived, see above).
pub const SHARED_ATTRIBUTE: &str = "tracer.zipkin.shared";
/// `service.name` of spans without `localEndpoint.serviceName` (OpenTelemetry's default).
pub const UNKNOWN_SERVICE: &str = "unknown_service";

/// The Zipkin collector router (`POST /api/v2/spans`, `POST /api/v1/spans`).
pub fn router(receivers: Receivers) -> Router {
    Router::new()
        .route(V2_SPANS_PATH, post(post_v2))
        .route(V1_SPANS_PATH, post(post_v1))
        .with_state(receivers)
}

async fn post_v2(State(r): State<Receivers>, headers: HeaderMap, body: Body) -> Response {
    match media_type(&headers).as_deref() {
        None | Some("" | "application/json") => {
            receive(
                &r,
                &r.stats.zipkin_v2_json,
                headers,
                body,
                Format::ZipkinV2Json.converter(),
            )
            .await
        }
        Some("application/x-protobuf" | "application/protobuf") => {
            receive(
                &r,
                &r.stats.zipkin_v2_proto,
                headers,
                body,
                Format::ZipkinV2Proto.converter(),
            )
            .await
        }
        Some(other) => {
            r.stats.zipkin_v2_json.refused();
            plain(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "unsupported content type {other:?} on {V2_SPANS_PATH}; send application/json \
                     or application/x-protobuf"
                ),
            )
        }
    }
}

async fn post_v1(State(r): State<Receivers>, headers: HeaderMap, body: Body) -> Response {
    match media_type(&headers).as_deref() {
        None | Some("" | "application/json") => {
            receive(
                &r,
                &r.stats.zipkin_v1_json,
                headers,
                body,
                Format::ZipkinV1Json.converter(),
            )
            .await
        }
        Some("application/x-thrift" | "application/vnd.apache.thrift.binary") => {
            receive(
                &r,
                &r.stats.zipkin_v1_thrift,
                headers,
                body,
                Format::ZipkinV1Thrift.converter(),
            )
            .await
        }
        Some(other) => {
            r.stats.zipkin_v1_json.refused();
            plain(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "unsupported content type {other:?} on {V1_SPANS_PATH}; send application/json \
                     or application/x-thrift"
                ),
            )
        }
    }
}

async fn receive(
    r: &Receivers,
    counters: &FormatCounters,
    headers: HeaderMap,
    body: Body,
    convert: Convert,
) -> Response {
    let gzip = match is_gzip(&headers) {
        Ok(gzip) => gzip,
        Err(message) => {
            counters.refused();
            return plain(StatusCode::UNSUPPORTED_MEDIA_TYPE, message);
        }
    };
    let (payload, meter) = match read_body(&r.ingestor, &headers, body).await {
        Ok(read) => read,
        Err(response) => {
            counters.refused();
            return response;
        }
    };
    match submit(&r.ingestor, counters, payload, gzip, meter, convert).await {
        Ok(outcome) => {
            if outcome.rejected > 0 {
                tracing::debug!(rejected = outcome.rejected, message = %outcome.message, "zipkin spans rejected");
            }
            StatusCode::ACCEPTED.into_response()
        }
        Err(e) => error_response(e),
    }
}
