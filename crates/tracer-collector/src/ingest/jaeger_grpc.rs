//! Jaeger's gRPC port (14250): `jaeger.api_v2.CollectorService/PostSpans`, where `jaeger-agent`
//! and the Jaeger exporters of OpenTelemetry SDKs send spans, and
//! `jaeger.api_v2.SamplingManager/GetSamplingStrategy`, where they ask for a strategy.
//!
//! Served as OTLP/gRPC is ([`super::grpc`]): tonic's gRPC machinery on an axum router (h2c),
//! the request body reserving ingest budget as it arrives, and `PostSpans` messages kept as
//! raw bytes and handed to the receivers' common path ([`super::receiver`]), which decodes them
//! ([`super::jaeger_proto`]) off the async workers when large and counts them under
//! `jaegerGrpc` in the ingest stats. The strategies are the sampling port's
//! ([`super::strategies`]).
//!
//! Status codes: `INVALID_ARGUMENT` with the decoder's message for an undecodable message (or
//! an id of the wrong length; on either method), or a `PostSpans` call with other than one
//! message; `RESOURCE_EXHAUSTED` over
//! the body limit; `UNAVAILABLE` (retryable) when the ingest budget is spent; as on the OTLP
//! port, HTTP/1 gets 505 and a content type other than `application/grpc` 415. Rejected spans
//! (invalid ids) do not fail the call: `PostSpansResponse` has no field to report them, so they
//! are counted (`rejectedSpans`) and logged.
//!
//! The generated messages and clients of `jaeger.api_v2` are public as [`api_v2`], so a Rust
//! program can post spans or ask for a strategy with `api_v2::collector_service_client` and
//! `api_v2::sampling_manager_client`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use prost::Message;
use tonic::codec::CompressionEncoding;
use tonic::server::{ClientStreamingService, Grpc, UnaryService};
use tonic::{Code, Status, Streaming};

use super::IngestError;
pub use super::r#gen::jaeger_api_v2 as api_v2;
use super::grpc::{RawCodec, metered, refuse_non_grpc};
use super::receiver::{Format, Receivers, submit};
use super::strategies::SamplingStrategies;

/// Path of `CollectorService/PostSpans`.
pub const POST_SPANS_PATH: &str = "/jaeger.api_v2.CollectorService/PostSpans";

/// Path of `SamplingManager/GetSamplingStrategy`.
pub const GET_SAMPLING_STRATEGY_PATH: &str = "/jaeger.api_v2.SamplingManager/GetSamplingStrategy";

const HTTP1_HINT: &str = "to send Jaeger spans over HTTP/1.1, POST thrift to /api/traces on the Jaeger HTTP port (14268)";

#[derive(Clone)]
struct PortState {
    receivers: Receivers,
    strategies: Arc<SamplingStrategies>,
}

/// The Jaeger gRPC router.
pub fn router(receivers: Receivers, strategies: Arc<SamplingStrategies>) -> Router {
    Router::new()
        .route(POST_SPANS_PATH, post(post_spans))
        .route(GET_SAMPLING_STRATEGY_PATH, post(get_sampling_strategy))
        .with_state(PortState {
            receivers,
            strategies,
        })
}

async fn post_spans(State(state): State<PortState>, req: Request) -> Response {
    if let Some(refusal) = refuse_non_grpc(&req, "Jaeger gRPC", HTTP1_HINT) {
        return refusal;
    }
    let ingestor = &state.receivers.ingestor;
    let limit = ingestor.body_limit();
    let req = metered(req, ingestor.meter());
    let mut grpc = Grpc::new(RawCodec::<api_v2::PostSpansResponse>::default())
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit);
    grpc.client_streaming(PostSpansSvc(state.receivers), req)
        .await
        .into_response()
}

struct PostSpansSvc(Receivers);

impl ClientStreamingService<Bytes> for PostSpansSvc {
    type Response = api_v2::PostSpansResponse;
    type Future =
        Pin<Box<dyn Future<Output = Result<tonic::Response<Self::Response>, Status>> + Send>>;

    fn call(&mut self, request: tonic::Request<Streaming<Bytes>>) -> Self::Future {
        let receivers = self.0.clone();
        Box::pin(async move {
            let counters = &receivers.stats.jaeger_grpc;
            let refused = |status: Status| {
                counters.refused();
                tracing::debug!(status = %status.message(), "jaeger/grpc PostSpans refused");
                status
            };
            // PostSpans is unary: read the stream to its end so a second message is refused
            // instead of silently ignored.
            let mut messages = request.into_inner();
            let payload = match messages.message().await {
                Ok(Some(payload)) => payload,
                Ok(None) => {
                    return Err(refused(Status::invalid_argument(
                        "the call has no PostSpansRequest message",
                    )));
                }
                Err(status) => return Err(refused(over_limit(status))),
            };
            match messages.message().await {
                Ok(None) => {}
                Ok(Some(_)) => {
                    return Err(refused(Status::invalid_argument(
                        "PostSpans is a unary method: the call carried more than one message",
                    )));
                }
                Err(status) => return Err(refused(over_limit(status))),
            }
            // Releases the budget reserved while receiving; `submit` reserves it again.
            drop(messages);
            let ingestor = &receivers.ingestor;
            let outcome = submit(
                ingestor,
                counters,
                payload,
                false,
                ingestor.meter(),
                Format::JaegerProto.converter(),
            )
            .await
            .map_err(|e| {
                tracing::debug!(error = %e, "jaeger/grpc PostSpans refused");
                match e {
                    IngestError::Decode { .. } => Status::invalid_argument(e.to_string()),
                    IngestError::TooLarge { .. } => Status::resource_exhausted(e.to_string()),
                    IngestError::Busy => Status::unavailable(e.to_string()),
                    IngestError::Internal(_) => Status::internal(e.to_string()),
                    IngestError::Unavailable(_) => Status::unavailable(e.to_string()),
                }
            })?;
            if outcome.rejected > 0 {
                tracing::debug!(message = %outcome.message, "jaeger/grpc spans rejected");
            }
            Ok(tonic::Response::new(api_v2::PostSpansResponse {}))
        })
    }
}

/// tonic reports a message over the decoding limit as `OUT_OF_RANGE`; for a body limit gRPC
/// clients expect `RESOURCE_EXHAUSTED` (what OTLP says too).
fn over_limit(status: Status) -> Status {
    if status.code() == Code::OutOfRange {
        Status::resource_exhausted(status.message().to_owned())
    } else {
        status
    }
}

async fn get_sampling_strategy(State(state): State<PortState>, req: Request) -> Response {
    if let Some(refusal) = refuse_non_grpc(
        &req,
        "Jaeger gRPC",
        "to fetch a strategy over HTTP/1.1, GET /sampling?service=NAME on the sampling port (5778)",
    ) {
        return refusal;
    }
    // Raw bytes in, so an undecodable message is `INVALID_ARGUMENT` (prost's codec in tonic
    // reports it as `INTERNAL`).
    let mut grpc = Grpc::new(RawCodec::<api_v2::SamplingStrategyResponse>::default())
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        // A service name; anything larger is not a strategy request.
        .max_decoding_message_size(64 << 10);
    grpc.unary(StrategySvc(state.strategies), req)
        .await
        .into_response()
}

struct StrategySvc(Arc<SamplingStrategies>);

impl UnaryService<Bytes> for StrategySvc {
    type Response = api_v2::SamplingStrategyResponse;
    type Future =
        Pin<Box<dyn Future<Output = Result<tonic::Response<Self::Response>, Status>> + Send>>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let strategies = self.0.clone();
        Box::pin(async move {
            let parameters = api_v2::SamplingStrategyParameters::decode(request.into_inner())
                .map_err(|e| {
                    Status::invalid_argument(format!(
                        "invalid SamplingStrategyParameters message: {e}"
                    ))
                })?;
            Ok(tonic::Response::new(
                strategies.for_service(&parameters.service_name).to_proto(),
            ))
        })
    }
}
