//! OTLP/gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export`.
//!
//! The method is served with tonic's gRPC machinery (framing, gzip, status trailers) but with a
//! codec that hands over the raw message bytes, so decoding goes through the same [`Ingestor`]
//! as HTTP and large batches are decoded off the async workers. The service is mounted on an
//! axum router, which speaks HTTP/2 without TLS (h2c) as gRPC clients expect.
//!
//! Status codes: `INVALID_ARGUMENT` for an undecodable message, `RESOURCE_EXHAUSTED` over the
//! body limit, `UNAVAILABLE` (retryable) when the ingest budget is spent; rejected spans are
//! reported in `partial_success`.

use std::future::Future;
use std::pin::Pin;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::IntoResponse;
use axum::routing::post;
use bytes::{Buf, Bytes};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Status, server::Grpc, server::UnaryService};

use super::{Encoding, IngestError, Ingestor};

/// Path of the export method.
pub const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// The OTLP/gRPC router.
pub fn router(ingestor: Ingestor) -> Router {
    Router::new()
        .route(EXPORT_PATH, post(export))
        .with_state(ingestor)
}

async fn export(State(ingestor): State<Ingestor>, req: Request) -> impl IntoResponse {
    let limit = ingestor.body_limit();
    let mut grpc = Grpc::new(RawCodec)
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit);
    grpc.unary(ExportSvc(ingestor), req).await
}

struct ExportSvc(Ingestor);

impl UnaryService<Bytes> for ExportSvc {
    type Response = ExportTraceServiceResponse;
    type Future =
        Pin<Box<dyn Future<Output = Result<tonic::Response<Self::Response>, Status>> + Send>>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let ingestor = self.0.clone();
        Box::pin(async move {
            let outcome = ingestor
                .export(request.into_inner(), Encoding::Protobuf, false)
                .await
                .map_err(|e| {
                    tracing::debug!(error = %e, "otlp/grpc export refused");
                    match e {
                        IngestError::Decode { .. } => Status::invalid_argument(e.to_string()),
                        IngestError::TooLarge { .. } => Status::resource_exhausted(e.to_string()),
                        IngestError::Busy => Status::unavailable(e.to_string()),
                        IngestError::Internal(_) => Status::internal(e.to_string()),
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

/// Decodes a message to its raw bytes, encodes responses with prost.
struct RawCodec;

impl Codec for RawCodec {
    type Encode = ExportTraceServiceResponse;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = ExportTraceServiceResponse;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.reserve(item.encoded_len());
        item.encode(dst)
            .map_err(|e| Status::internal(format!("encoding the response failed: {e}")))
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
