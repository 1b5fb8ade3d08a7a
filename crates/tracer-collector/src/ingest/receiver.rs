//! What the Jaeger and Zipkin receivers share: per-format counters, bounded request bodies and
//! the path from a payload to the store.
//!
//! Every receiver hands `submit` the raw payload and its format's decoder (payload bytes to a
//! [`Decoded`] payload, which maps to the store's [`SpanBatch`] borrowing from it). `submit`
//! reserves the payload's size from the [`Ingestor`]'s ingest budget, gunzips with the body
//! limit as the bound, decodes (on tokio's blocking pool for gzip and large payloads), stores
//! the batch and, when a forwarder is configured, hands it on as OTLP protobuf
//! (`ingest::forward_batch`), counting what happened in the format's [`FormatCounters`]. The
//! counters are served as JSON by [`stats_router`] (`GET /api/collector/ingest-stats`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body_util::BodyExt;
use serde::Serialize;

use super::{BudgetMeter, ExportOutcome, IngestError, Ingestor};
use crate::store::{SpanBatch, Store};

/// Zipkin's HTTP port.
pub const DEFAULT_ZIPKIN_PORT: u16 = 9411;
/// Jaeger's thrift-over-HTTP collector port.
pub const DEFAULT_JAEGER_HTTP_PORT: u16 = 14268;
/// The Jaeger agent's thrift compact UDP port.
pub const DEFAULT_JAEGER_COMPACT_PORT: u16 = 6831;
/// The Jaeger agent's thrift binary UDP port.
pub const DEFAULT_JAEGER_BINARY_PORT: u16 = 6832;
/// The Jaeger agent's Zipkin thrift compact UDP port (legacy clients).
pub const DEFAULT_ZIPKIN_COMPACT_PORT: u16 = 5775;
/// Jaeger's gRPC collector port (`jaeger.api_v2` `CollectorService` and `SamplingManager`).
pub const DEFAULT_JAEGER_GRPC_PORT: u16 = 14250;

/// Path of the receivers' counters on the router returned by [`stats_router`].
pub const INGEST_STATS_PATH: &str = "/api/collector/ingest-stats";

/// Payloads at least this large are converted on tokio's blocking pool.
const BLOCKING_THRESHOLD: usize = 64 * 1024;

/// Counters of one receiver format; all only grow.
#[derive(Debug, Default)]
pub struct FormatCounters {
    /// Requests or datagrams that were decoded and stored.
    pub batches: AtomicU64,
    /// Spans stored.
    pub spans: AtomicU64,
    /// Spans the store refused (invalid ids, values nested too deep).
    pub rejected_spans: AtomicU64,
    /// Requests refused whole (undecodable, too large, busy).
    pub rejected_batches: AtomicU64,
    /// UDP datagrams dropped (undecodable, truncated, too large, or not an `emitBatch`).
    pub dropped_datagrams: AtomicU64,
    /// The inode of the UDP socket this format is read from (0: none), whose kernel drop count
    /// the snapshot reads.
    pub(crate) socket_inode: AtomicU64,
    /// The kernel receive buffer of that UDP socket in bytes, as the kernel reports it
    /// (`SO_RCVBUF`; 0: none).
    pub(crate) socket_receive_buffer: AtomicU64,
}

/// A point-in-time copy of [`FormatCounters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FormatSnapshot {
    /// See [`FormatCounters::batches`].
    pub batches: u64,
    /// See [`FormatCounters::spans`].
    pub spans: u64,
    /// See [`FormatCounters::rejected_spans`].
    pub rejected_spans: u64,
    /// See [`FormatCounters::rejected_batches`].
    pub rejected_batches: u64,
    /// See [`FormatCounters::dropped_datagrams`].
    pub dropped_datagrams: u64,
    /// UDP datagrams the kernel dropped before the collector could read them (its receive
    /// buffer was full), as Linux counts them for the socket in `/proc/net/udp`; absent for
    /// formats not read from a UDP socket and where the count cannot be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_dropped_datagrams: Option<u64>,
    /// The kernel receive buffer of the format's UDP socket in bytes, as the kernel reports it
    /// (`SO_RCVBUF`: Linux reports twice what was asked, for its bookkeeping, capped by
    /// `net.core.rmem_max`); absent for formats not read from a UDP socket. Set with
    /// `--udp-socket-buffer-bytes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket_receive_buffer_bytes: Option<u64>,
}

impl FormatCounters {
    /// Copies the counters.
    pub fn snapshot(&self) -> FormatSnapshot {
        FormatSnapshot {
            batches: self.batches.load(Ordering::Relaxed),
            spans: self.spans.load(Ordering::Relaxed),
            rejected_spans: self.rejected_spans.load(Ordering::Relaxed),
            rejected_batches: self.rejected_batches.load(Ordering::Relaxed),
            dropped_datagrams: self.dropped_datagrams.load(Ordering::Relaxed),
            kernel_dropped_datagrams: match self.socket_inode.load(Ordering::Relaxed) {
                0 => None,
                inode => super::udp::kernel_drops(inode),
            },
            socket_receive_buffer_bytes: match self.socket_receive_buffer.load(Ordering::Relaxed) {
                0 => None,
                bytes => Some(bytes),
            },
        }
    }

    fn stored(&self, outcome: &ExportOutcome) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.spans
            .fetch_add(outcome.accepted as u64, Ordering::Relaxed);
        self.rejected_spans
            .fetch_add(outcome.rejected, Ordering::Relaxed);
    }

    /// Counts a request refused whole.
    pub(crate) fn refused(&self) {
        self.rejected_batches.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a dropped datagram.
    pub(crate) fn dropped(&self) {
        self.dropped_datagrams.fetch_add(1, Ordering::Relaxed);
    }
}

/// Counters of every Jaeger and Zipkin receiver format.
#[derive(Debug, Default)]
pub struct ReceiverStats {
    /// Zipkin v2 JSON (`POST /api/v2/spans`, `application/json`).
    pub zipkin_v2_json: FormatCounters,
    /// Zipkin v2 protobuf (`POST /api/v2/spans`, `application/x-protobuf`).
    pub zipkin_v2_proto: FormatCounters,
    /// Zipkin v1 JSON (`POST /api/v1/spans`, `application/json`).
    pub zipkin_v1_json: FormatCounters,
    /// Zipkin v1 thrift (`POST /api/v1/spans`, `application/x-thrift`).
    pub zipkin_v1_thrift: FormatCounters,
    /// Jaeger thrift over HTTP (`POST /api/traces`).
    pub jaeger_thrift_http: FormatCounters,
    /// Jaeger agent thrift compact over UDP (6831).
    pub jaeger_agent_compact: FormatCounters,
    /// Jaeger agent thrift binary over UDP (6832).
    pub jaeger_agent_binary: FormatCounters,
    /// Zipkin thrift compact over UDP (5775, `emitZipkinBatch`).
    pub zipkin_agent_compact: FormatCounters,
    /// Jaeger protobuf over gRPC (14250, `CollectorService/PostSpans`).
    pub jaeger_grpc: FormatCounters,
}

/// A point-in-time copy of [`ReceiverStats`], as served by [`stats_router`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiverSnapshot {
    /// See [`ReceiverStats::zipkin_v2_json`].
    pub zipkin_v2_json: FormatSnapshot,
    /// See [`ReceiverStats::zipkin_v2_proto`].
    pub zipkin_v2_proto: FormatSnapshot,
    /// See [`ReceiverStats::zipkin_v1_json`].
    pub zipkin_v1_json: FormatSnapshot,
    /// See [`ReceiverStats::zipkin_v1_thrift`].
    pub zipkin_v1_thrift: FormatSnapshot,
    /// See [`ReceiverStats::jaeger_thrift_http`].
    pub jaeger_thrift_http: FormatSnapshot,
    /// See [`ReceiverStats::jaeger_agent_compact`].
    pub jaeger_agent_compact: FormatSnapshot,
    /// See [`ReceiverStats::jaeger_agent_binary`].
    pub jaeger_agent_binary: FormatSnapshot,
    /// See [`ReceiverStats::zipkin_agent_compact`].
    pub zipkin_agent_compact: FormatSnapshot,
    /// See [`ReceiverStats::jaeger_grpc`].
    pub jaeger_grpc: FormatSnapshot,
}

impl ReceiverStats {
    /// Copies every counter.
    pub fn snapshot(&self) -> ReceiverSnapshot {
        ReceiverSnapshot {
            zipkin_v2_json: self.zipkin_v2_json.snapshot(),
            zipkin_v2_proto: self.zipkin_v2_proto.snapshot(),
            zipkin_v1_json: self.zipkin_v1_json.snapshot(),
            zipkin_v1_thrift: self.zipkin_v1_thrift.snapshot(),
            jaeger_thrift_http: self.jaeger_thrift_http.snapshot(),
            jaeger_agent_compact: self.jaeger_agent_compact.snapshot(),
            jaeger_agent_binary: self.jaeger_agent_binary.snapshot(),
            zipkin_agent_compact: self.zipkin_agent_compact.snapshot(),
            jaeger_grpc: self.jaeger_grpc.snapshot(),
        }
    }
}

/// `GET /api/collector/ingest-stats`: the receivers' counters as JSON ([`ReceiverSnapshot`]).
pub fn stats_router(stats: Arc<ReceiverStats>) -> Router {
    Router::new()
        .route(INGEST_STATS_PATH, get(serve_stats))
        .with_state(stats)
}

async fn serve_stats(State(stats): State<Arc<ReceiverStats>>) -> Response {
    axum::Json(stats.snapshot()).into_response()
}

/// What a receiver's HTTP endpoints need: the ingestor and the counters.
#[derive(Debug, Clone)]
pub struct Receivers {
    /// Decodes into and feeds the store.
    pub ingestor: Ingestor,
    /// Counters per format.
    pub stats: Arc<ReceiverStats>,
}

/// Decodes a payload (already gunzipped and within the body limit).
pub(crate) type Convert = for<'p> fn(&'p [u8]) -> Result<Decoded<'p>, IngestError>;

/// Every payload format the receivers accept, for decoding payloads outside a listener
/// (embedding, benchmarks, fuzzing) with [`Format::decode`] or [`Format::store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Zipkin v2 JSON list of spans.
    ZipkinV2Json,
    /// Zipkin v2 protobuf `ListOfSpans`.
    ZipkinV2Proto,
    /// Zipkin v1 JSON list of spans.
    ZipkinV1Json,
    /// Zipkin v1 thrift binary `list<Span>`.
    ZipkinV1Thrift,
    /// Jaeger thrift binary `Batch` (HTTP body).
    JaegerThriftBinary,
    /// Jaeger agent `emitBatch` message, thrift compact (6831 datagram).
    JaegerAgentCompact,
    /// Jaeger agent `emitBatch` message, thrift binary (6832 datagram).
    JaegerAgentBinary,
    /// Jaeger agent `emitZipkinBatch` message, thrift compact (5775 datagram).
    ZipkinAgentCompact,
    /// Jaeger protobuf `PostSpansRequest` (the message of a 14250 `PostSpans` call).
    JaegerProto,
}

impl Format {
    /// The format's decoder: one function per format.
    pub(crate) fn converter(self) -> Convert {
        use super::{jaeger_proto as jp, jaeger_thrift as j, zipkin as z};
        fn jaeger<'p>(
            decode: fn(&'p [u8]) -> Result<j::Batch<'p>, IngestError>,
            p: &'p [u8],
        ) -> Result<Decoded<'p>, IngestError> {
            decode(p).map(|b| Decoded(Payload::Jaeger(Box::new(b))))
        }
        fn zipkin<'p>(
            decode: fn(&'p [u8]) -> Result<Vec<z::ZipkinSpan<'p>>, IngestError>,
            p: &'p [u8],
        ) -> Result<Decoded<'p>, IngestError> {
            decode(p).map(|s| Decoded(Payload::Zipkin(s)))
        }
        match self {
            Format::ZipkinV2Json => {
                |p| z::decode_json_v2(p).map(|s| Decoded(Payload::ZipkinV2Json(Box::new(s))))
            }
            Format::ZipkinV2Proto => |p| zipkin(z::decode_proto, p),
            Format::ZipkinV1Json => |p| zipkin(z::decode_json_v1, p),
            Format::ZipkinV1Thrift => |p| zipkin(z::decode_v1_thrift, p),
            Format::ZipkinAgentCompact => |p| zipkin(z::decode_emit_zipkin_batch, p),
            Format::JaegerThriftBinary => |p| jaeger(j::decode_binary_batch, p),
            Format::JaegerAgentCompact => |p| jaeger(j::decode_compact_datagram, p),
            Format::JaegerAgentBinary => |p| jaeger(j::decode_binary_datagram, p),
            Format::JaegerProto => {
                |p| jp::decode_post_spans(p).map(|l| Decoded(Payload::JaegerProto(l)))
            }
        }
    }

    /// Decodes an uncompressed payload of this format; [`Decoded::to_batch`] maps it.
    pub fn decode(self, payload: &[u8]) -> Result<Decoded<'_>, IngestError> {
        (self.converter())(payload)
    }

    /// Decodes an uncompressed payload of this format and stores its spans, as the receiver
    /// of the format does (without the durable log and the forwarder).
    pub fn store(self, store: &Store, payload: &[u8]) -> Result<ExportOutcome, IngestError> {
        let decoded = self.decode(payload)?;
        Ok(super::with_spare_batch(|batch| {
            decoded.fill(batch);
            super::store_spans(store, batch)
        }))
    }
}

/// A payload of one of the [`Format`]s, decoded: data the store's batch borrows from, which may
/// borrow from the payload in turn (the thrift formats read it in place, Zipkin v2 JSON keeps its
/// unescaped strings there).
#[derive(Debug)]
pub struct Decoded<'p>(Payload<'p>);

#[derive(Debug)]
enum Payload<'p> {
    Jaeger(Box<super::jaeger_thrift::Batch<'p>>),
    JaegerProto(super::jaeger_proto::Lowered),
    Zipkin(Vec<super::zipkin::ZipkinSpan<'p>>),
    ZipkinV2Json(Box<super::zipkin::V2JsonSpans<'p>>),
}

impl Decoded<'_> {
    /// The spans as the store's format-neutral batch, borrowing from the payload.
    pub fn to_batch(&self) -> SpanBatch<'_> {
        let mut batch = SpanBatch::new();
        self.fill(&mut batch);
        batch
    }

    /// [`Decoded::to_batch`] into `batch` (cleared first), reusing its vectors.
    pub fn fill<'a>(&'a self, batch: &mut SpanBatch<'a>) {
        match &self.0 {
            Payload::Jaeger(b) => super::jaeger_thrift::fill(b, batch),
            Payload::JaegerProto(l) => l.fill(batch),
            Payload::Zipkin(spans) => super::zipkin::fill(spans, batch),
            Payload::ZipkinV2Json(spans) => super::zipkin::fill_json_v2(spans, batch),
        }
    }
}

/// Reserves budget for `payload`, gunzips it when `gzip`, decodes it with `convert` and stores
/// the result, counting the outcome in `counters`.
pub(crate) async fn submit(
    ingestor: &Ingestor,
    counters: &FormatCounters,
    payload: Bytes,
    gzip: bool,
    mut meter: BudgetMeter,
    convert: Convert,
) -> Result<ExportOutcome, IngestError> {
    let result = async {
        meter.cover(payload.len())?;
        let _meter = meter;
        let sink = ingestor.sink();
        let staging = sink.clone();
        let limit = ingestor.body_limit();
        let forwarder = ingestor.forwarder().cloned();
        let large = payload.len() >= BLOCKING_THRESHOLD;
        let work = move || -> Result<super::Staged, IngestError> {
            let payload = if gzip {
                super::gunzip(&payload, limit)?
            } else {
                payload
            };
            if payload.len() > limit {
                return Err(IngestError::TooLarge { limit });
            }
            let decoded = convert(&payload)?;
            super::with_spare_batch(|batch| {
                decoded.fill(batch);
                let staged = staging.stage(batch)?;
                super::forward_batch(forwarder.as_ref(), batch, staged.outcome());
                Ok(staged)
            })
        };
        let staged = if gzip || large {
            tokio::task::spawn_blocking(work)
                .await
                .map_err(|e| IngestError::Internal(e.to_string()))??
        } else {
            work()?
        };
        sink.commit(staged).await
    }
    .await;
    match &result {
        Ok(outcome) => counters.stored(outcome),
        Err(_) => counters.refused(),
    }
    result
}

/// The media type of a request (lowercase, parameters removed).
pub(crate) fn media_type(headers: &HeaderMap) -> Option<String> {
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

/// Whether the request is gzip-compressed; `Err` (the 415 message) for an encoding other than
/// gzip and identity.
pub(crate) fn is_gzip(headers: &HeaderMap) -> Result<bool, String> {
    match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("" | "identity") => Ok(false),
        Some("gzip" | "x-gzip") => Ok(true),
        Some(other) => Err(format!(
            "unsupported content encoding {other:?}; send gzip or identity"
        )),
    }
}

/// A plain-text response (the Jaeger and Zipkin collectors answer errors as text).
pub(crate) fn plain(status: StatusCode, message: String) -> Response {
    tracing::debug!(status = status.as_u16(), %message, "receiver request refused");
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message,
    )
        .into_response()
}

/// The response for an [`IngestError`].
pub(crate) fn error_response(error: IngestError) -> Response {
    let status = match &error {
        IngestError::Decode { .. } => StatusCode::BAD_REQUEST,
        IngestError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        IngestError::Busy => StatusCode::TOO_MANY_REQUESTS,
        IngestError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        IngestError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    let mut response = plain(status, error.to_string());
    if matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    ) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// Reads a request body up to the body limit, reserving ingest budget as it arrives.
pub(crate) async fn read_body(
    ingestor: &Ingestor,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Bytes, BudgetMeter), Response> {
    let limit = ingestor.body_limit();
    let too_large = || error_response(IngestError::TooLarge { limit });
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut meter = ingestor.meter();
    if let Some(n) = declared {
        meter.cover(n as usize).map_err(error_response)?;
    }
    let mut body = body;
    let mut payload = bytes::BytesMut::with_capacity(declared.unwrap_or(0) as usize);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            let status = if crate::serve::is_body_timeout(&e) {
                StatusCode::REQUEST_TIMEOUT
            } else {
                StatusCode::BAD_REQUEST
            };
            plain(status, format!("failed to read request body: {e}"))
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if payload.len() + data.len() > limit {
            return Err(too_large());
        }
        meter.add(data.len()).map_err(error_response)?;
        payload.extend_from_slice(&data);
    }
    Ok((payload.freeze(), meter))
}

/// A decode error naming the format.
pub(crate) fn decode_error(encoding: &'static str, detail: impl ToString) -> IngestError {
    IngestError::Decode {
        encoding,
        detail: detail.to_string(),
    }
}
