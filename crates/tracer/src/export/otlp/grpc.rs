//! OTLP/gRPC for the direct path: a unary call to `TraceService/Export` whose request body is
//! the pre-encoded `ExportTraceServiceRequest`, on tonic's channel (h2, gzip, timeouts).

use std::time::Duration;

use bytes::{BufMut as _, Bytes};
use http::uri::PathAndQuery;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message as _;
use tonic::client::Grpc;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};

use super::direct::{SendError, accepted, chain};
use crate::InitError;
use crate::config::{Compression, OtlpConfig};
use crate::export::sink::Accepted;

/// The method, from `opentelemetry/proto/collector/trace/v1/trace_service.proto`.
const EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

pub(crate) struct GrpcTransport {
    client: Grpc<Channel>,
    metadata: MetadataMap,
    timeout: Duration,
    endpoint: String,
}

impl GrpcTransport {
    /// The channel connects lazily, on the export thread's runtime (which must be current).
    pub(super) fn new(config: &OtlpConfig) -> Result<Self, InitError> {
        let endpoint = Endpoint::from_shared(config.endpoint.clone()).map_err(|e| {
            InitError::Exporter(format!(
                "invalid OTLP gRPC endpoint {:?}: {}",
                config.endpoint,
                chain(&e)
            ))
        })?;
        let channel = endpoint.timeout(config.timeout).connect_lazy();
        let mut client = Grpc::new(channel);
        if config.compression == Compression::Gzip {
            client = client
                .send_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Gzip);
        }
        let mut metadata = MetadataMap::new();
        for (k, v) in &config.headers {
            let key = MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes())
                .map_err(|_| InitError::Exporter(format!("invalid OTLP header name {k:?}")))?;
            let value = MetadataValue::try_from(v.as_str())
                .map_err(|_| InitError::Exporter(format!("invalid OTLP header value for {k:?}")))?;
            metadata.insert(key, value);
        }
        Ok(Self {
            client,
            metadata,
            timeout: config.timeout,
            endpoint: config.endpoint.clone(),
        })
    }

    pub(super) async fn send(&mut self, request: Bytes) -> Result<Accepted, SendError> {
        self.client.ready().await.map_err(|e| SendError {
            message: format!("gRPC export to {}: {}", self.endpoint, chain(&e)),
            retryable: true,
        })?;
        let mut request = Request::new(request);
        *request.metadata_mut() = self.metadata.clone();
        request.set_timeout(self.timeout);
        let path = PathAndQuery::from_static(EXPORT);
        match self.client.unary(request, path, ExportCodec).await {
            Ok(response) => Ok(response.into_inner()),
            Err(status) => Err(SendError {
                message: describe(&self.endpoint, &status),
                retryable: retryable(status.code()),
            }),
        }
    }
}

fn describe(endpoint: &str, status: &Status) -> String {
    let mut out = format!("gRPC export to {endpoint} failed: {:?}", status.code());
    if !status.message().is_empty() {
        out.push_str(": ");
        out.push_str(status.message());
    }
    if let Some(source) = std::error::Error::source(status) {
        out.push_str(": ");
        out.push_str(&chain(source));
    }
    out
}

/// The codes the OTLP specification lets a client retry (opentelemetry-otlp's rule).
fn retryable(code: Code) -> bool {
    matches!(
        code,
        Code::Cancelled
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
            | Code::Aborted
            | Code::OutOfRange
            | Code::Unavailable
            | Code::DataLoss
    )
}

/// Sends the request's bytes as they are; decodes the response's `partial_success`.
#[derive(Clone, Copy, Debug, Default)]
struct ExportCodec;

impl Codec for ExportCodec {
    type Encode = Bytes;
    type Decode = Accepted;
    type Encoder = ExportCodec;
    type Decoder = ExportCodec;

    fn encoder(&mut self) -> Self::Encoder {
        ExportCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        ExportCodec
    }
}

impl Encoder for ExportCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for ExportCodec {
    type Item = Accepted;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Accepted>, Status> {
        let response = ExportTraceServiceResponse::decode(src).map_err(|e| {
            Status::internal(format!("undecodable ExportTraceServiceResponse: {e}"))
        })?;
        Ok(Some(accepted(response)))
    }
}
