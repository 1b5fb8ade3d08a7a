//! OTLP/HTTP: `POST /v1/traces`, following the OTLP specification's HTTP transport.
//!
//! - `Content-Type: application/x-protobuf` or `application/json` (OTLP/JSON: hex ids,
//!   lowerCamelCase names, 64-bit integers as numbers or strings, enums as integers, unknown
//!   fields ignored); the response uses the request's content type.
//! - `Content-Encoding: gzip` is accepted; the body may be chunked.
//! - Errors carry a `google.rpc.Status` (in the request's encoding) whose message says what is
//!   wrong: 400 bad payload, 408 for a body that stalls or trickles (see [`crate::serve`]), 413
//!   over the body limit, 415 unsupported content type or encoding, 429 with `Retry-After` when
//!   the ingest budget is spent; the budget counts a body from its first byte (all of it at once
//!   when `Content-Length` declares it), not only once it is complete. Rejected spans (invalid
//!   ids, values nested too deep) give a 200 with `partial_success`.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body_util::BodyExt;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message;

use super::{Encoding, IngestError, Ingestor};

/// Path of the OTLP/HTTP trace export endpoint.
pub const TRACES_PATH: &str = "/v1/traces";

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

/// `google.rpc.Status`, the OTLP/HTTP error body.
#[derive(Clone, PartialEq, Message, serde::Serialize)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// The OTLP/HTTP router (`POST /v1/traces`).
pub fn router(ingestor: Ingestor) -> Router {
    Router::new()
        .route(TRACES_PATH, post(export))
        .with_state(ingestor)
}

fn encode(encoding: Encoding, status: StatusCode, message: &impl SerializeBoth) -> Response {
    let (content_type, body) = match encoding {
        Encoding::Protobuf => (PROTOBUF, message.protobuf()),
        Encoding::Json => (JSON, message.json()),
    };
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

trait SerializeBoth {
    fn protobuf(&self) -> Vec<u8>;
    fn json(&self) -> Vec<u8>;
}

impl SerializeBoth for RpcStatus {
    fn protobuf(&self) -> Vec<u8> {
        self.encode_to_vec()
    }
    fn json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl SerializeBoth for ExportTraceServiceResponse {
    fn protobuf(&self) -> Vec<u8> {
        self.encode_to_vec()
    }
    fn json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

fn error(encoding: Encoding, status: StatusCode, grpc_code: i32, message: String) -> Response {
    tracing::debug!(status = status.as_u16(), %message, "otlp/http export refused");
    encode(
        encoding,
        status,
        &RpcStatus {
            code: grpc_code,
            message,
        },
    )
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

async fn export(State(ingestor): State<Ingestor>, headers: HeaderMap, body: Body) -> Response {
    let encoding = match media_type(&headers).as_deref() {
        Some("application/x-protobuf" | "application/protobuf") => Encoding::Protobuf,
        Some("application/json") => Encoding::Json,
        other => {
            return error(
                Encoding::Json,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                3,
                format!(
                    "unsupported content type {:?}; send application/x-protobuf or application/json",
                    other.unwrap_or("(none)")
                ),
            );
        }
    };
    let gzip = match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("" | "identity") => false,
        Some("gzip" | "x-gzip") => true,
        Some(other) => {
            return error(
                encoding,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                3,
                format!("unsupported content encoding {other:?}; send gzip or identity"),
            );
        }
    };
    let limit = ingestor.body_limit();
    let too_large = |limit: usize| {
        error(
            encoding,
            StatusCode::PAYLOAD_TOO_LARGE,
            8,
            IngestError::TooLarge { limit }.to_string(),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large(limit);
    }
    let busy = |e: IngestError| {
        let mut response = error(encoding, StatusCode::TOO_MANY_REQUESTS, 14, e.to_string());
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        response
    };
    // The budget is reserved as the body arrives (all of it up front when the length is
    // declared), so bodies still being received are bounded by it too.
    let mut meter = ingestor.meter();
    if let Some(n) = declared
        && let Err(e) = meter.cover(n as usize)
    {
        return busy(e);
    }
    let mut body = body;
    let mut payload = bytes::BytesMut::with_capacity(declared.unwrap_or(0) as usize);
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) => {
                let timed_out = crate::serve::is_body_timeout(&e);
                let status = if timed_out {
                    StatusCode::REQUEST_TIMEOUT
                } else {
                    StatusCode::BAD_REQUEST
                };
                return error(
                    encoding,
                    status,
                    3,
                    format!("failed to read request body: {e}"),
                );
            }
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if payload.len() + data.len() > limit {
            return too_large(limit);
        }
        if let Err(e) = meter.add(data.len()) {
            return busy(e);
        }
        payload.extend_from_slice(&data);
    }
    let payload = payload.freeze();
    match ingestor
        .export_metered(payload, encoding, gzip, meter)
        .await
    {
        Ok(outcome) => {
            let response = ExportTraceServiceResponse {
                partial_success: (outcome.rejected > 0).then_some(ExportTracePartialSuccess {
                    rejected_spans: outcome.rejected as i64,
                    error_message: outcome.message,
                }),
            };
            encode(encoding, StatusCode::OK, &response)
        }
        Err(e @ IngestError::Decode { .. }) => {
            error(encoding, StatusCode::BAD_REQUEST, 3, e.to_string())
        }
        Err(IngestError::TooLarge { limit }) => too_large(limit),
        Err(e @ IngestError::Busy) => busy(e),
        Err(e @ IngestError::Unavailable(_)) => {
            tracing::warn!(error = %e, "otlp/http export not persisted");
            let mut response = error(encoding, StatusCode::SERVICE_UNAVAILABLE, 14, e.to_string());
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
        Err(e @ IngestError::Internal(_)) => {
            tracing::warn!(error = %e, "otlp/http export failed");
            error(
                encoding,
                StatusCode::INTERNAL_SERVER_ERROR,
                13,
                e.to_string(),
            )
        }
    }
}
