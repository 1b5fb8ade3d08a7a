//! OTLP/gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export`.
//!
//! The method is served with tonic's gRPC machinery (framing, gzip, status trailers) but with a
//! codec that hands over the raw message bytes, so decoding goes through the same [`Ingestor`]
//! as HTTP and large batches are decoded off the async workers. The service is mounted on an
//! axum router, which speaks HTTP/2 without TLS (h2c) as gRPC clients expect.
//!
//! Status codes: `INVALID_ARGUMENT` for an undecodable message or a request with more than one
//! message (Export is unary), `RESOURCE_EXHAUSTED` over the body limit, `UNAVAILABLE`
//! (retryable) when the ingest budget is spent, which counts the message while it is still
//! arriving; `DEADLINE_EXCEEDED` for a body that stalls or trickles (see [`crate::serve`]);
//! rejected spans are reported in `partial_success`. The port is gRPC only: an HTTP/1 request
//! gets 505 and a content type other than `application/grpc` gets 415, each with a message
//! saying what to send instead, as the gRPC over HTTP/2 specification asks.

use std::future::Future;
use std::pin::Pin;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::{Buf, Bytes};
use http::StatusCode;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Status, Streaming, server::ClientStreamingService, server::Grpc};

use super::{Encoding, IngestError, Ingestor};

/// Path of the export method.
pub const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// The OTLP/gRPC router.
pub fn router(ingestor: Ingestor) -> Router {
    Router::new()
        .route(EXPORT_PATH, post(export))
        .with_state(ingestor)
}

async fn export(State(ingestor): State<Ingestor>, req: Request) -> Response {
    if let Some(refusal) = refuse_non_grpc(
        &req,
        "OTLP/gRPC",
        "to export over HTTP/1.1, POST to /v1/traces on the OTLP/HTTP port (4318)",
    ) {
        return refusal;
    }
    let limit = ingestor.body_limit();
    let req = metered(req, ingestor.meter());
    let mut grpc = Grpc::new(RawCodec::<ExportTraceServiceResponse>::default())
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit);
    grpc.client_streaming(ExportSvc(ingestor), req)
        .await
        .into_response()
}

/// The answer to a request that is not gRPC over HTTP/2 on a gRPC port named `port` (505 for
/// HTTP/1 with `http1_hint`, 415 for a content type other than `application/grpc`), or `None`.
pub(crate) fn refuse_non_grpc(req: &Request, port: &str, http1_hint: &str) -> Option<Response> {
    if req.version() != http::Version::HTTP_2 {
        return Some(
            (
                StatusCode::HTTP_VERSION_NOT_SUPPORTED,
                format!("{port} needs HTTP/2 (h2c); {http1_hint}"),
            )
                .into_response(),
        );
    }
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).to_ascii_lowercase());
    match content_type.as_deref() {
        Some("application/grpc" | "application/grpc+proto") => None,
        // The gRPC spec: a content type not starting with application/grpc gets HTTP 415.
        other => Some(
            (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "unsupported content type {:?} on the {port} port; send application/grpc \
                     (protobuf)",
                    other.unwrap_or("(none)")
                ),
            )
                .into_response(),
        ),
    }
}

/// `req` with a body that reserves ingest budget through `meter` as it arrives.
pub(crate) fn metered(req: Request, meter: super::BudgetMeter) -> Request {
    req.map(|body| axum::body::Body::new(MeteredBody { inner: body, meter }))
}

/// The request body, reserving ingest budget for each frame as it arrives; over budget it fails
/// with `UNAVAILABLE` (retryable), a stalled or trickling body with `DEADLINE_EXCEEDED`.
struct MeteredBody {
    inner: axum::body::Body,
    meter: super::BudgetMeter,
}

impl http_body::Body for MeteredBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Status>>> {
        let this = &mut *self;
        match std::task::ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref()
                    && let Err(e) = this.meter.add(data.len())
                {
                    return std::task::Poll::Ready(Some(Err(Status::unavailable(e.to_string()))));
                }
                std::task::Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(e)) => {
                let timed_out = crate::serve::is_body_timeout(&e);
                let status = if timed_out {
                    Status::deadline_exceeded(e.to_string())
                } else {
                    Status::cancelled(format!("request body failed: {e}"))
                };
                std::task::Poll::Ready(Some(Err(status)))
            }
            None => std::task::Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

struct ExportSvc(Ingestor);

impl ClientStreamingService<Bytes> for ExportSvc {
    type Response = ExportTraceServiceResponse;
    type Future =
        Pin<Box<dyn Future<Output = Result<tonic::Response<Self::Response>, Status>> + Send>>;

    fn call(&mut self, request: tonic::Request<Streaming<Bytes>>) -> Self::Future {
        let ingestor = self.0.clone();
        Box::pin(async move {
            // Export is unary: read the stream to its end so a second message is refused
            // instead of silently ignored.
            let mut messages = request.into_inner();
            let Some(payload) = messages.message().await? else {
                return Err(Status::invalid_argument(
                    "the request has no ExportTraceServiceRequest message",
                ));
            };
            if messages.message().await?.is_some() {
                return Err(Status::invalid_argument(
                    "Export is a unary method: the request carried more than one message",
                ));
            }
            // Releases the budget reserved while receiving; the export reserves it again.
            drop(messages);
            let outcome = ingestor
                .export(payload, Encoding::Protobuf, false)
                .await
                .map_err(|e| {
                    tracing::debug!(error = %e, "otlp/grpc export refused");
                    match e {
                        IngestError::Decode { .. } => Status::invalid_argument(e.to_string()),
                        IngestError::TooLarge { .. } => Status::resource_exhausted(e.to_string()),
                        IngestError::Busy => Status::unavailable(e.to_string()),
                        IngestError::Internal(_) => Status::internal(e.to_string()),
                        IngestError::Unavailable(_) => Status::unavailable(e.to_string()),
                    }
                })?;
            Ok(tonic::Response::new(ExportTraceServiceResponse {
                partial_success: (outcome.rejected > 0).then_some(ExportTracePartialSuccess {
                    rejected_spans: outcome.rejected as i64,
                    error_message: outcome.message,
                }),
            }))
        })
    }
}

/// Decodes a message to its raw bytes, encodes responses (`R`) with prost.
pub(crate) struct RawCodec<R>(std::marker::PhantomData<fn() -> R>);

impl<R> Default for RawCodec<R> {
    fn default() -> Self {
        RawCodec(std::marker::PhantomData)
    }
}

impl<R: Message + Send + 'static> Codec for RawCodec<R> {
    type Encode = R;
    type Decode = Bytes;
    type Encoder = RawCodec<R>;
    type Decoder = RawCodec<R>;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec::default()
    }
}

impl<R: Message + Send + 'static> Encoder for RawCodec<R> {
    type Item = R;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.reserve(item.encoded_len());
        item.encode(dst)
            .map_err(|e| Status::internal(format!("encoding the response failed: {e}")))
    }
}

impl<R: Send + 'static> Decoder for RawCodec<R> {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
