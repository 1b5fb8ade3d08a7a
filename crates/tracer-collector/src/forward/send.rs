//! One export to an upstream, over OTLP/gRPC or OTLP/HTTP protobuf, and what its answer means
//! for the data: delivered (perhaps partly), to be retried (perhaps after a delay the upstream
//! asked for), or dropped with the upstream's reason.
//!
//! What is retryable follows the OTLP specification (protocol/exporter.md, "Retryable Response
//! Codes" and "Failures"):
//!
//! - gRPC: `CANCELLED`, `DEADLINE_EXCEEDED`, `ABORTED`, `OUT_OF_RANGE`, `UNAVAILABLE`,
//!   `DATA_LOSS`, and `RESOURCE_EXHAUSTED` only when the status carries a `RetryInfo` (the
//!   server says it can recover); the `RetryInfo` delay is honoured.
//! - HTTP: 429, 502, 503 and 504, honouring `Retry-After` (seconds or an HTTP date).
//! - A transport failure (refused, reset, timed out) is retryable.
//!
//! Everything else is final: the batch is dropped and counted with the upstream's message.
//!
//! The request bodies are the buffered protobuf bytes as they are: gRPC goes through a codec
//! that writes them unchanged ([`RawExport`]), so nothing is decoded and encoded again.

use std::io::Write as _;
use std::time::{Duration, SystemTime};

use bytes::{Buf, BufMut, Bytes};
use http::uri::PathAndQuery;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

use super::{Protocol, Upstream};

/// Path of the OTLP trace export method.
const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// Longest upstream message kept for the stats and the log.
const MAX_MESSAGE: usize = 512;
/// Longest delay an upstream may ask for; longer asks are capped.
pub(crate) const MAX_RETRY_DELAY: Duration = Duration::from_secs(300);

/// What became of one export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Accepted; `rejected` spans of it refused by the upstream (partial success).
    Delivered {
        /// Spans the upstream refused.
        rejected: u64,
        /// Its message about them.
        message: String,
    },
    /// Try again, after `after` when the upstream said so.
    Retry {
        /// The upstream's requested delay.
        after: Option<Duration>,
        /// Why.
        reason: String,
    },
    /// Final refusal: drop the batch.
    Rejected {
        /// The upstream's message.
        reason: String,
    },
}

type HttpsClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<Bytes>,
>;

/// Largest upstream answer read (an export response or an error message).
const MAX_ANSWER: usize = 64 << 10;

/// A connected client for one upstream.
#[derive(Debug, Clone)]
pub(crate) enum Client {
    /// OTLP/gRPC.
    Grpc(tonic::transport::Channel),
    /// OTLP/HTTP protobuf (boxed: the client is large, and built once per upstream).
    Http(Box<HttpsClient>),
}

/// A rustls client configuration with ring, the system's roots and the extra CAs of `pem`.
fn tls_config(pem: Option<&[u8]>, url: &str) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(pem) = pem {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| format!("CA file for {url}: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("CA file for {url}: {e}"))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!("CA file for {url}: no PEM certificate in it"));
        }
    }
    rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS for {url}: {e}"))
    .map(|b| b.with_root_certificates(roots).with_no_client_auth())
}

impl Client {
    /// A client for `upstream` (connections are made lazily, on first use).
    pub(crate) fn new(upstream: &Upstream) -> Result<Client, String> {
        match upstream.protocol {
            Protocol::Grpc => {
                let mut endpoint = tonic::transport::Endpoint::from_shared(upstream.url.clone())
                    .map_err(|e| format!("{}: {e}", upstream.url))?
                    .connect_timeout(upstream.timeout);
                if upstream.url.starts_with("https://") {
                    let mut tls = tonic::transport::ClientTlsConfig::new().with_native_roots();
                    if let Some(pem) = &upstream.ca_pem {
                        tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
                    }
                    endpoint = endpoint
                        .tls_config(tls)
                        .map_err(|e| format!("{}: TLS: {e}", upstream.url))?;
                }
                Ok(Client::Grpc(endpoint.connect_lazy()))
            }
            Protocol::HttpProtobuf => {
                let connector = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config(tls_config(upstream.ca_pem.as_deref(), &upstream.url)?)
                    .https_or_http()
                    .enable_http1()
                    .enable_http2()
                    .build();
                let client = hyper_util::client::legacy::Client::builder(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .build(connector);
                Ok(Client::Http(Box::new(client)))
            }
        }
    }

    /// Sends one export request. When no answer comes within the timeout the connection is
    /// given up and the next call opens a new one: the old one may be dead without the kernel
    /// knowing (a peer gone without a reset, a NAT entry dropped on the way), and HTTP/2 would
    /// send every retry into it.
    pub(crate) async fn send(&mut self, upstream: &Upstream, body: Bytes) -> Outcome {
        let answer = match self {
            Client::Grpc(channel) => send_grpc(channel.clone(), upstream, body).await,
            Client::Http(client) => send_http(client, upstream, body).await,
        };
        answer.unwrap_or_else(|NoAnswer(reason)| {
            // `Client::new` succeeded for this upstream once; it fails only on configuration.
            if let Ok(fresh) = Client::new(upstream) {
                *self = fresh;
            }
            Outcome::Retry {
                after: None,
                reason,
            }
        })
    }
}

/// No answer within the upstream's timeout (the reason says so).
struct NoAnswer(String);

impl NoAnswer {
    fn within(upstream: &Upstream) -> NoAnswer {
        NoAnswer(format!("no answer within {:?}", upstream.timeout))
    }
}

async fn send_grpc(
    channel: tonic::transport::Channel,
    upstream: &Upstream,
    body: Bytes,
) -> Result<Outcome, NoAnswer> {
    let mut grpc = tonic::client::Grpc::new(channel);
    if upstream.gzip {
        grpc = grpc.send_compressed(tonic::codec::CompressionEncoding::Gzip);
    }
    grpc = grpc.accept_compressed(tonic::codec::CompressionEncoding::Gzip);
    if let Err(e) = grpc.ready().await {
        return Ok(Outcome::Retry {
            after: None,
            reason: format!("connecting: {}", error_chain(&e)),
        });
    }
    let mut request = tonic::Request::new(body);
    for (name, value) in &upstream.headers {
        if let (Ok(k), Ok(v)) = (
            tonic::metadata::MetadataKey::from_bytes(name.as_str().as_bytes()),
            tonic::metadata::MetadataValue::try_from(value.as_bytes()),
        ) {
            request.metadata_mut().insert(k, v);
        }
    }
    let answer = tokio::time::timeout(
        upstream.timeout,
        grpc.unary(request, PathAndQuery::from_static(EXPORT_PATH), RawExport),
    )
    .await;
    match answer {
        Ok(Ok(response)) => Ok(delivered(response.into_inner())),
        Ok(Err(status)) => Ok(grpc_failure(&status)),
        Err(_) => Err(NoAnswer::within(upstream)),
    }
}

fn delivered(response: ExportTraceServiceResponse) -> Outcome {
    let (rejected, message) = response
        .partial_success
        .map(|p| (p.rejected_spans.max(0) as u64, truncate(p.error_message)))
        .unwrap_or_default();
    Outcome::Delivered { rejected, message }
}

/// The meaning of a gRPC error status for the batch.
pub(crate) fn grpc_failure(status: &Status) -> Outcome {
    use tonic::Code;
    let reason = truncate(format!("{:?}: {}", status.code(), status.message()));
    let retry_info = retry_delay(status.details());
    match status.code() {
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => Outcome::Retry {
            after: retry_info,
            reason,
        },
        Code::ResourceExhausted if retry_info.is_some() => Outcome::Retry {
            after: retry_info,
            reason,
        },
        // Made here, not sent by the upstream: tonic reports a connection that broke in the
        // middle of the call (reset, closed) as UNKNOWN with the transport error as its
        // source. No answer came, so the batch was not refused: send it again.
        Code::Unknown if std::error::Error::source(status).is_some() => Outcome::Retry {
            after: None,
            reason: truncate(format!("{reason} ({})", error_chain(status))),
        },
        _ => Outcome::Rejected { reason },
    }
}

async fn send_http(
    client: &HttpsClient,
    upstream: &Upstream,
    body: Bytes,
) -> Result<Outcome, NoAnswer> {
    use http_body_util::BodyExt as _;
    let mut request = http::Request::post(&upstream.url)
        .header(http::header::CONTENT_TYPE, "application/x-protobuf");
    for (name, value) in &upstream.headers {
        request = request.header(name, value);
    }
    let body = if upstream.gzip {
        let mut gz = flate2::write::GzEncoder::new(
            Vec::with_capacity(body.len() / 4),
            flate2::Compression::fast(),
        );
        match gz.write_all(&body).and_then(|()| gz.finish()) {
            Ok(zipped) => {
                request = request.header(http::header::CONTENT_ENCODING, "gzip");
                Bytes::from(zipped)
            }
            Err(e) => {
                return Ok(Outcome::Rejected {
                    reason: format!("gzip failed: {e}"),
                });
            }
        }
    } else {
        body
    };
    let request = match request.body(http_body_util::Full::new(body)) {
        Ok(r) => r,
        Err(e) => {
            return Ok(Outcome::Rejected {
                reason: format!("cannot build the request: {e}"),
            });
        }
    };
    let exchange = async {
        let response = client.request(request).await.map_err(|e| error_chain(&e))?;
        let (parts, body) = response.into_parts();
        let body = http_body_util::Limited::new(body, MAX_ANSWER)
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        Ok::<_, String>((parts, body))
    };
    let (parts, body) = match tokio::time::timeout(upstream.timeout, exchange).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(reason)) => {
            return Ok(Outcome::Retry {
                after: None,
                reason: truncate(reason),
            });
        }
        Err(_) => return Err(NoAnswer::within(upstream)),
    };
    let status = parts.status;
    let header = |name: http::header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let retry_after = parse_retry_after(&header(http::header::RETRY_AFTER));
    let content_type = header(http::header::CONTENT_TYPE);
    if status.is_success() {
        // An empty body is a full success; otherwise an ExportTraceServiceResponse.
        return Ok(match ExportTraceServiceResponse::decode(body) {
            Ok(answer) => delivered(answer),
            Err(_) => Outcome::Delivered {
                rejected: 0,
                message: String::new(),
            },
        });
    }
    let reason = truncate(format!(
        "HTTP {}: {}",
        status.as_u16(),
        http_message(&content_type, &body)
    ));
    Ok(match status.as_u16() {
        429 | 502 | 503 | 504 => Outcome::Retry {
            after: retry_after,
            reason,
        },
        _ => Outcome::Rejected { reason },
    })
}

/// The message of an OTLP/HTTP error body: a protobuf `google.rpc.Status` when the upstream
/// answers in protobuf, else the body's text.
fn http_message(content_type: &str, body: &[u8]) -> String {
    if content_type.starts_with("application/x-protobuf")
        && let Ok(status) = RpcStatus::decode(body)
    {
        return status.message;
    }
    String::from_utf8_lossy(&body[..body.len().min(MAX_MESSAGE)])
        .trim()
        .to_owned()
}

/// `Retry-After`: a number of seconds or an HTTP date (RFC 9110 section 10.2.3).
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds).min(MAX_RETRY_DELAY));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or_default()
            .min(MAX_RETRY_DELAY),
    )
}

/// `google.rpc.Status` (googleapis `google/rpc/status.proto`), for error details.
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types_any::Any>,
}

/// `google.protobuf.Any` and `google.rpc.RetryInfo`, the two messages read from details.
mod prost_types_any {
    /// `google.protobuf.Any`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct Any {
        #[prost(string, tag = "1")]
        pub(super) type_url: String,
        #[prost(bytes = "vec", tag = "2")]
        pub(super) value: Vec<u8>,
    }

    /// `google.rpc.RetryInfo` (googleapis `google/rpc/error_details.proto`).
    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct RetryInfo {
        #[prost(message, optional, tag = "1")]
        pub(super) retry_delay: Option<ProtoDuration>,
    }

    /// `google.protobuf.Duration`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub(super) struct ProtoDuration {
        #[prost(int64, tag = "1")]
        pub(super) seconds: i64,
        #[prost(int32, tag = "2")]
        pub(super) nanos: i32,
    }
}

const RETRY_INFO_TYPE: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// The delay of a `RetryInfo` in a gRPC status's details (`grpc-status-details-bin`).
pub(crate) fn retry_delay(details: &[u8]) -> Option<Duration> {
    if details.is_empty() {
        return None;
    }
    let status = RpcStatus::decode(details).ok()?;
    let info = status
        .details
        .iter()
        .find(|d| d.type_url == RETRY_INFO_TYPE)?;
    let delay = prost_types_any::RetryInfo::decode(info.value.as_slice())
        .ok()?
        .retry_delay
        .unwrap_or_default();
    let seconds = u64::try_from(delay.seconds).unwrap_or(0);
    let nanos = u32::try_from(delay.nanos).unwrap_or(0).min(999_999_999);
    Some((Duration::from_secs(seconds) + Duration::from_nanos(nanos.into())).min(MAX_RETRY_DELAY))
}

/// Encodes a `RetryInfo` status-details payload, as an upstream sends it.
#[cfg(test)]
pub(crate) fn retry_info_details(delay: Duration) -> Bytes {
    let info = prost_types_any::RetryInfo {
        retry_delay: Some(prost_types_any::ProtoDuration {
            seconds: delay.as_secs() as i64,
            nanos: delay.subsec_nanos() as i32,
        }),
    };
    let status = RpcStatus {
        code: tonic::Code::ResourceExhausted as i32,
        message: "slow down".into(),
        details: vec![prost_types_any::Any {
            type_url: RETRY_INFO_TYPE.into(),
            value: info.encode_to_vec(),
        }],
    };
    Bytes::from(status.encode_to_vec())
}

fn truncate(mut text: String) -> String {
    if text.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let more = e.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = e.source();
    }
    text
}

/// A gRPC codec that sends already-encoded `ExportTraceServiceRequest` bytes unchanged and
/// decodes the `ExportTraceServiceResponse`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RawExport;

impl Codec for RawExport {
    type Encode = Bytes;
    type Decode = ExportTraceServiceResponse;
    type Encoder = RawExport;
    type Decoder = RawExport;

    fn encoder(&mut self) -> Self::Encoder {
        RawExport
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawExport
    }
}

impl Encoder for RawExport {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawExport {
    type Item = ExportTraceServiceResponse;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        ExportTraceServiceResponse::decode(bytes)
            .map(Some)
            .map_err(|e| Status::internal(format!("undecodable export response: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_and_dates_and_caps_them() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("100000"), Some(MAX_RETRY_DELAY));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn resource_exhausted_is_retried_only_with_retry_info() {
        let bare = Status::resource_exhausted("full");
        assert!(matches!(grpc_failure(&bare), Outcome::Rejected { .. }));
        let with_info = Status::with_details(
            tonic::Code::ResourceExhausted,
            "full",
            retry_info_details(Duration::from_millis(1500)),
        );
        assert_eq!(
            grpc_failure(&with_info),
            Outcome::Retry {
                after: Some(Duration::from_millis(1500)),
                reason: "ResourceExhausted: full".into()
            }
        );
        assert!(matches!(
            grpc_failure(&Status::unavailable("down")),
            Outcome::Retry { after: None, .. }
        ));
        assert!(matches!(
            grpc_failure(&Status::invalid_argument("bad")),
            Outcome::Rejected { .. }
        ));
    }

    #[test]
    fn a_connection_broken_mid_call_is_retried_but_an_upstreams_unknown_is_final() {
        let broken = Status::from_error(Box::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset by peer",
        )));
        assert_eq!(broken.code(), tonic::Code::Unknown);
        match grpc_failure(&broken) {
            Outcome::Retry {
                after: None,
                reason,
            } => {
                assert!(reason.contains("connection reset"), "{reason}")
            }
            other => panic!("a broken connection was not retried: {other:?}"),
        }
        assert!(matches!(
            grpc_failure(&Status::unknown("the upstream's own unknown error")),
            Outcome::Rejected { .. }
        ));
    }
}
