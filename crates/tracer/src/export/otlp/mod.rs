//! The OTLP exporter, built from [`OtlpConfig`]. Each transport is behind its own feature
//! (`otlp-http`, `otlp-grpc`) so that an HTTP-only build has no tonic in it; a protocol whose
//! feature is off is an error at init naming the feature.
//!
//! `grpc` and `http/protobuf` take the direct path ([`direct`]): the export thread encodes the
//! queued spans itself ([`encode`]) and sends the bytes (tonic, reqwest). `http/json` keeps
//! opentelemetry-otlp's exporter, fed `SpanData` by an `SdkSink`.

mod direct;
mod encode;
#[cfg(feature = "otlp-grpc")]
mod grpc;
#[cfg(feature = "otlp-http")]
mod http;

use std::time::{Duration, Instant};

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;

use crate::InitError;
use crate::config::{OtlpConfig, Protocol};
use crate::export::queue::Finished;
#[cfg(feature = "otlp-http")]
use crate::export::sink::SdkSink;
use crate::export::sink::{Accepted, Sink};
use direct::{DirectSink, Transport};

/// The OTLP sink of one tracer.
pub(crate) enum OtlpSink {
    /// gRPC and HTTP/protobuf: encoded here.
    Direct(Box<DirectSink>),
    /// HTTP/JSON: opentelemetry-otlp's exporter.
    #[cfg(feature = "otlp-http")]
    Json(Box<SdkSink<opentelemetry_otlp::SpanExporter>>),
}

impl Sink for OtlpSink {
    async fn export(
        &mut self,
        batch: &mut Vec<Finished>,
        deadline: Instant,
    ) -> Result<Accepted, String> {
        match self {
            Self::Direct(sink) => sink.export(batch, deadline).await,
            #[cfg(feature = "otlp-http")]
            Self::Json(sink) => sink.export(batch, deadline).await,
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        match self {
            Self::Direct(sink) => sink.set_resource(resource),
            #[cfg(feature = "otlp-http")]
            Self::Json(sink) => sink.set_resource(resource),
        }
    }

    fn shutdown(&mut self, timeout: Duration) -> OTelSdkResult {
        match self {
            Self::Direct(sink) => sink.shutdown(timeout),
            #[cfg(feature = "otlp-http")]
            Self::Json(sink) => sink.shutdown(timeout),
        }
    }
}

/// Builds the sink; must run inside a tokio runtime (the gRPC channel is created lazily on it).
pub(crate) fn build(config: &OtlpConfig) -> Result<OtlpSink, InitError> {
    let transport = match config.protocol {
        #[cfg(not(feature = "otlp-grpc"))]
        Protocol::Grpc => {
            return Err(InitError::Exporter(format!(
                "OTLP protocol grpc to {} needs tracer's `otlp-grpc` feature (this build has \
                 `otlp-http`: use http/protobuf or http/json)",
                config.endpoint
            )));
        }
        #[cfg(not(feature = "otlp-http"))]
        Protocol::HttpProtobuf | Protocol::HttpJson => {
            return Err(InitError::Exporter(format!(
                "OTLP protocol http to {} needs tracer's `otlp-http` feature (this build has \
                 `otlp-grpc`: use grpc)",
                config.endpoint
            )));
        }
        #[cfg(feature = "otlp-grpc")]
        Protocol::Grpc => Transport::Grpc(grpc::GrpcTransport::new(config)?),
        #[cfg(feature = "otlp-http")]
        Protocol::HttpProtobuf => Transport::Http(http::HttpTransport::new(config)?),
        #[cfg(feature = "otlp-http")]
        Protocol::HttpJson => {
            return Ok(OtlpSink::Json(Box::new(SdkSink::new(json_exporter(
                config,
            )?))));
        }
    };
    Ok(OtlpSink::Direct(Box::new(DirectSink::new(transport))))
}

/// opentelemetry-otlp's HTTP/JSON exporter.
#[cfg(feature = "otlp-http")]
fn json_exporter(config: &OtlpConfig) -> Result<opentelemetry_otlp::SpanExporter, InitError> {
    use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};

    let headers = config.headers.iter().cloned().collect();
    let mut builder = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpJson)
        .with_endpoint(config.endpoint.clone())
        .with_timeout(config.timeout)
        .with_headers(headers);
    if config.compression == crate::config::Compression::Gzip {
        builder = builder.with_compression(opentelemetry_otlp::Compression::Gzip);
    }
    builder
        .build()
        .map_err(|e| InitError::Exporter(format!("OTLP exporter to {}: {e}", config.endpoint)))
}
