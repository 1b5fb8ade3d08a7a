//! The OTLP exporter, built from [`OtlpConfig`].

use std::collections::HashMap;

use opentelemetry_otlp::{SpanExporter, WithExportConfig, WithHttpConfig, WithTonicConfig};

use crate::InitError;
use crate::config::{Compression, OtlpConfig, Protocol};

/// Builds the exporter; must run inside a tokio runtime (the gRPC channel is created lazily on it).
pub(crate) fn build(config: &OtlpConfig) -> Result<SpanExporter, InitError> {
    let compression = match config.compression {
        Compression::Gzip => Some(opentelemetry_otlp::Compression::Gzip),
        Compression::None => None,
    };
    let exporter = match config.protocol {
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
