//! The OTLP exporter, built from [`OtlpConfig`]. Each transport is behind its own feature
//! (`otlp-http`, `otlp-grpc`) so that an HTTP-only build has no tonic in it; a protocol whose
//! feature is off is an error at init naming the feature.

#[cfg(feature = "otlp-http")]
use std::collections::HashMap;

#[cfg(feature = "otlp-http")]
use opentelemetry_otlp::WithHttpConfig;
#[cfg(feature = "otlp-grpc")]
use opentelemetry_otlp::WithTonicConfig;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};

mod encode;

use crate::InitError;
use crate::config::{Compression, OtlpConfig, Protocol};

/// Builds the exporter; must run inside a tokio runtime (the gRPC channel is created lazily on it).
pub(crate) fn build(config: &OtlpConfig) -> Result<SpanExporter, InitError> {
    let compression = match config.compression {
        Compression::Gzip => Some(opentelemetry_otlp::Compression::Gzip),
        Compression::None => None,
    };
    let exporter = match config.protocol {
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
        Protocol::Grpc => {
            let mut metadata = tonic::metadata::MetadataMap::new();
            for (k, v) in &config.headers {
                let key =
                    tonic::metadata::MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes())
                        .map_err(|_| {
                            InitError::Exporter(format!("invalid OTLP header name {k:?}"))
                        })?;
                let value = v.parse().map_err(|_| {
                    InitError::Exporter(format!("invalid OTLP header value for {k:?}"))
                })?;
                metadata.insert(key, value);
            }
            let mut builder = SpanExporter::builder()
                .with_tonic()
                .with_endpoint(config.endpoint.clone())
                .with_timeout(config.timeout)
                .with_metadata(metadata);
            if let Some(c) = compression {
                builder = builder.with_compression(c);
            }
            builder.build()
        }
        #[cfg(feature = "otlp-http")]
        Protocol::HttpProtobuf | Protocol::HttpJson => {
            let protocol = if config.protocol == Protocol::HttpJson {
                opentelemetry_otlp::Protocol::HttpJson
            } else {
                opentelemetry_otlp::Protocol::HttpBinary
            };
            let headers: HashMap<String, String> = config.headers.iter().cloned().collect();
            let mut builder = SpanExporter::builder()
                .with_http()
                .with_protocol(protocol)
                .with_endpoint(config.endpoint.clone())
                .with_timeout(config.timeout)
                .with_headers(headers);
            if let Some(c) = compression {
                builder = builder.with_compression(c);
            }
            builder.build()
        }
    };
    exporter.map_err(|e| InitError::Exporter(format!("OTLP exporter to {}: {e}", config.endpoint)))
}
