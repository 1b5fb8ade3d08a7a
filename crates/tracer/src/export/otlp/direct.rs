//! The direct OTLP path: batches encoded by [`Encoder`] from the queued spans and sent as
//! they are, over gRPC (`grpc.rs`) or HTTP/protobuf (`http.rs`).
//!
//! What opentelemetry-otlp's exporter does around the request is kept: the configured
//! headers (gRPC metadata), gzip, the per-request timeout, and its retry rule (at most three
//! retries of a failure the OTLP specification calls retryable, 100 ms then doubling, while
//! the export's time lasts). Beyond it, errors name the endpoint and the receiver's status
//! and message, and a `partial_success` with rejected spans counts them as failed, with the
//! receiver's message in `last_error` and the loss warning.

use std::time::{Duration, Instant};

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;

use super::encode::Encoder;
use crate::export::queue::Finished;
use crate::export::sink::{Accepted, Sink};

/// Retries after the first attempt, and the first wait (doubled after each retry): the
/// values of opentelemetry-otlp's `RetryPolicy::recommended()`.
const RETRIES: u32 = 3;
const FIRST_RETRY: Duration = Duration::from_millis(100);

/// Why one attempt failed, and whether the OTLP specification lets it be retried.
#[derive(Debug)]
pub(super) struct SendError {
    pub(super) message: String,
    pub(super) retryable: bool,
}

/// A transport of pre-encoded `ExportTraceServiceRequest`s.
pub(super) enum Transport {
    #[cfg(feature = "otlp-grpc")]
    Grpc(super::grpc::GrpcTransport),
    #[cfg(feature = "otlp-http")]
    Http(super::http::HttpTransport),
}

impl Transport {
    fn payload(&mut self, request: &[u8]) -> Result<Bytes, SendError> {
        match self {
            #[cfg(feature = "otlp-grpc")]
            Self::Grpc(_) => Ok(Bytes::copy_from_slice(request)),
            #[cfg(feature = "otlp-http")]
            Self::Http(http) => http.payload(request),
        }
    }

    async fn send(&mut self, payload: &Bytes) -> Result<Accepted, SendError> {
        match self {
            #[cfg(feature = "otlp-grpc")]
            Self::Grpc(grpc) => grpc.send(payload.clone()).await,
            #[cfg(feature = "otlp-http")]
            Self::Http(http) => http.send(payload.clone()).await,
        }
    }
}

/// The [`Sink`] of the direct path.
pub(crate) struct DirectSink {
    encoder: Encoder,
    transport: Transport,
}

impl DirectSink {
    pub(super) fn new(transport: Transport) -> Self {
        Self {
            encoder: Encoder::new(crate::span::pipeline::scope()),
            transport,
        }
    }
}

/// The batch as the bytes to send (the records stay in `batch`, for the export thread to
/// reuse): `benches/callgrind.rs` counts the instructions of this function against the SDK's
/// conversion and encoding.
#[inline(never)]
fn prepare(
    encoder: &mut Encoder,
    transport: &mut Transport,
    batch: &[Finished],
) -> Result<Bytes, String> {
    transport
        .payload(encoder.encode(batch))
        .map_err(|e| e.message)
}

/// What a receiver's `ExportTraceServiceResponse` says about the batch.
pub(super) fn accepted(response: ExportTraceServiceResponse) -> Accepted {
    let Some(partial) = response.partial_success else {
        return Accepted::default();
    };
    let message = (!partial.error_message.is_empty()).then_some(partial.error_message);
    let rejected = u64::try_from(partial.rejected_spans).unwrap_or(0);
    if rejected == 0
        && let Some(message) = &message
    {
        // The specification's warning without loss: said once per response, as the SDK does.
        tracing::warn!(target: "tracer::export", message = %message, "the OTLP receiver accepted every span with a warning");
    }
    Accepted { rejected, message }
}

impl Sink for DirectSink {
    async fn export(
        &mut self,
        batch: &mut Vec<Finished>,
        deadline: Instant,
    ) -> Result<Accepted, String> {
        let payload = prepare(&mut self.encoder, &mut self.transport, batch)?;
        let mut wait = FIRST_RETRY;
        let mut retries = 0;
        loop {
            match self.transport.send(&payload).await {
                Ok(accepted) => return Ok(accepted),
                Err(e) if e.retryable && retries < RETRIES && Instant::now() + wait < deadline => {
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                    retries += 1;
                }
                Err(e) if retries > 0 => {
                    return Err(format!("{} (after {retries} retries)", e.message));
                }
                Err(e) => return Err(e.message),
            }
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.encoder.set_resource(resource);
    }

    fn shutdown(&mut self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// An error and its sources, `: `-separated (tonic's and reqwest's errors put the cause in
/// `source()`).
pub(super) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        let text = e.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = e.source();
    }
    out
}
