//! OTLP/HTTP with protobuf bodies for the direct path: the pre-encoded request POSTed with
//! reqwest (the client opentelemetry-otlp uses), gzip by flate2.

use std::io::Write as _;

use bytes::Bytes;
use flate2::Compression as Level;
use flate2::write::GzEncoder;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message as _;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};

use super::direct::{SendError, accepted, chain};
use crate::InitError;
use crate::config::{Compression, OtlpConfig};
use crate::export::sink::Accepted;

/// The most of a response body read (for its `partial_success` or an error message).
const MAX_RESPONSE: usize = 64 * 1024;
/// The most of an error response's body quoted in the error.
const MAX_QUOTED: usize = 512;

pub(crate) struct HttpTransport {
    client: reqwest::Client,
    headers: HeaderMap,
    gzip: bool,
    endpoint: String,
}

impl HttpTransport {
    pub(super) fn new(config: &OtlpConfig) -> Result<Self, InitError> {
        let mut headers = HeaderMap::new();
        for (k, v) in &config.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| InitError::Exporter(format!("invalid OTLP header name {k:?}")))?;
            let value = HeaderValue::from_str(v)
                .map_err(|_| InitError::Exporter(format!("invalid OTLP header value for {k:?}")))?;
            headers.insert(name, value);
        }
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        let gzip = config.compression == Compression::Gzip;
        if gzip {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| {
                InitError::Exporter(format!(
                    "OTLP HTTP client for {}: {}",
                    config.endpoint,
                    chain(&e)
                ))
            })?;
        Ok(Self {
            client,
            headers,
            gzip,
            endpoint: config.endpoint.clone(),
        })
    }

    /// The body to POST: the request, gzipped when configured.
    pub(super) fn payload(&mut self, request: &[u8]) -> Result<Bytes, SendError> {
        if !self.gzip {
            return Ok(Bytes::copy_from_slice(request));
        }
        let mut gz = GzEncoder::new(Vec::with_capacity(request.len() / 4), Level::default());
        gz.write_all(request)
            .and_then(|()| gz.finish())
            .map(Bytes::from)
            .map_err(|e| SendError {
                message: format!("gzip of the OTLP request to {}: {e}", self.endpoint),
                retryable: false,
            })
    }

    pub(super) async fn send(&mut self, body: Bytes) -> Result<Accepted, SendError> {
        let network = |e: reqwest::Error| SendError {
            message: format!("HTTP export to {} failed: {}", self.endpoint, chain(&e)),
            retryable: true,
        };
        let mut response = self
            .client
            .post(&self.endpoint)
            .headers(self.headers.clone())
            .body(body)
            .send()
            .await
            .map_err(network)?;
        let status = response.status();
        let mut body = Vec::new();
        while body.len() < MAX_RESPONSE {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    body.extend_from_slice(&chunk[..chunk.len().min(MAX_RESPONSE - body.len())])
                }
                Ok(None) => break,
                Err(e) if status.is_success() => return Err(network(e)),
                Err(_) => break,
            }
        }
        if status.is_success() {
            // An empty or non-protobuf body says nothing about partial success.
            return Ok(ExportTraceServiceResponse::decode(body.as_slice())
                .map(accepted)
                .unwrap_or_default());
        }
        let text = String::from_utf8_lossy(&body[..body.len().min(MAX_QUOTED)]);
        let text = text.trim();
        Err(SendError {
            message: if text.is_empty() {
                format!("HTTP export to {} failed: {status}", self.endpoint)
            } else {
                format!("HTTP export to {} failed: {status}: {text}", self.endpoint)
            },
            retryable: matches!(status.as_u16(), 429 | 502 | 503 | 504),
        })
    }
}
