//! The direct OTLP path (grpc and http/protobuf encoded by tracer) against real receivers on
//! 127.0.0.1:0: configured headers arrive, gzip is applied, a receiver's partial success and
//! its errors count as failed spans with the receiver's words, and own, plain OpenTelemetry
//! API and `tracing` spans of one batch all arrive with their scopes.

mod support;

use std::io::Read as _;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::trace::{Span as _, SpanKind, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message as _;
use tracer::{Compression, ExporterKind, Protocol, Sampler};
use tracing_subscriber::layer::SubscriberExt as _;

/// How the receiver answers every export.
#[derive(Clone, Copy, Debug)]
enum Answer {
    Ok,
    /// `partial_success` with this many rejected spans.
    Partial(i64),
    /// gRPC UNAVAILABLE / HTTP 503, with a message.
    Unavailable,
}

const PARTIAL_MESSAGE: &str = "spans older than the retention window";
const UNAVAILABLE_MESSAGE: &str = "the ingester is overloaded";

/// `(name, value)` pairs: headers (lower-case names), or `(scope, span name)`.
type Pairs = Vec<(String, String)>;

/// What the receiver saw: per request, its headers and its spans.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(Pairs, Pairs)>>>);

impl Seen {
    fn record(&self, headers: Pairs, request: &ExportTraceServiceRequest) {
        let mut spans = Vec::new();
        for rs in &request.resource_spans {
            for ss in &rs.scope_spans {
                let scope = ss
                    .scope
                    .as_ref()
                    .map(|s| s.name.clone())
                    .unwrap_or_default();
                for span in &ss.spans {
                    spans.push((scope.clone(), span.name.clone()));
                }
            }
        }
        self.0.lock().unwrap().push((headers, spans));
    }

    fn requests(&self) -> Vec<(Pairs, Pairs)> {
        self.0.lock().unwrap().clone()
    }

    fn header(&self, name: &str) -> Vec<String> {
        self.requests()
            .iter()
            .filter_map(|(headers, _)| {
                headers
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            })
            .collect()
    }

    fn spans(&self) -> Pairs {
        self.requests().into_iter().flat_map(|(_, s)| s).collect()
    }
}

fn response(answer: Answer) -> ExportTraceServiceResponse {
    match answer {
        Answer::Partial(rejected) => ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: rejected,
                error_message: PARTIAL_MESSAGE.into(),
            }),
        },
        _ => ExportTraceServiceResponse::default(),
    }
}

struct Grpc(Seen, Answer);

#[tonic::async_trait]
impl TraceService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let headers = request
            .metadata()
            .clone()
            .into_headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        self.0.record(headers, request.get_ref());
        match self.1 {
            Answer::Unavailable => Err(tonic::Status::unavailable(UNAVAILABLE_MESSAGE)),
            answer => Ok(tonic::Response::new(response(answer))),
        }
    }
}

struct Receiver {
    endpoint: String,
    seen: Seen,
    _stop: std::sync::mpsc::Sender<()>,
}

/// A receiver for `protocol` on its own thread and runtime.
fn receiver(protocol: Protocol, answer: Answer) -> Receiver {
    let seen = Seen::default();
    let state = seen.clone();
    let (addr, stop_tx) = support::spawn_server(move |listener, shutdown| async move {
        let stop = async {
            let _ = shutdown.await;
        };
        if protocol == Protocol::Grpc {
            let service = TraceServiceServer::new(Grpc(state, answer))
                .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::TcpListenerStream::new(listener),
                    stop,
                )
                .await
                .unwrap();
        } else {
            let app = axum::Router::new().route(
                "/v1/traces",
                axum::routing::post(
                    move |headers: axum::http::HeaderMap, body: bytes::Bytes| async move {
                        let mut raw = body.to_vec();
                        if headers.get("content-encoding").is_some_and(|v| v == "gzip") {
                            raw.clear();
                            flate2::read::GzDecoder::new(&body[..])
                                .read_to_end(&mut raw)
                                .expect("a gzip body");
                        }
                        let request = ExportTraceServiceRequest::decode(raw.as_slice())
                            .expect("a protobuf ExportTraceServiceRequest");
                        let headers = headers
                            .iter()
                            .map(|(k, v)| {
                                (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())
                            })
                            .collect();
                        state.record(headers, &request);
                        match answer {
                            Answer::Unavailable => (
                                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                                [("content-type", "text/plain")],
                                UNAVAILABLE_MESSAGE.as_bytes().to_vec(),
                            ),
                            answer => (
                                axum::http::StatusCode::OK,
                                [("content-type", "application/x-protobuf")],
                                response(answer).encode_to_vec(),
                            ),
                        }
                    },
                ),
            );
            axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
                .unwrap();
        }
    });
    let endpoint = match protocol {
        Protocol::Grpc => format!("http://{addr}"),
        _ => format!("http://{addr}/v1/traces"),
    };
    Receiver {
        endpoint,
        seen,
        _stop: stop_tx,
    }
}

fn builder(protocol: Protocol, receiver: &Receiver) -> tracer::TracerBuilder {
    tracer::builder()
        .without_env()
        .service_name("direct")
        .sampler(Sampler::AlwaysOn)
        .exporter(ExporterKind::Otlp)
        .otlp_protocol(protocol)
        .otlp_endpoint(receiver.endpoint.clone())
        .schedule_delay(Duration::from_secs(3600))
        .max_queue_size(NonZeroUsize::new(1024).unwrap())
        .export_timeout(Duration::from_secs(5))
}

fn make_spans(tracer: &tracer::Tracer, count: usize) {
    for i in 0..count {
        let mut span = tracer
            .span(
                format!("span-{i}"),
                SpanKind::Internal,
                vec![KeyValue::new("i", i as i64)],
                &Context::new(),
            )
            .expect("tracing is on");
        span.end();
    }
}

const BOTH: [Protocol; 2] = [Protocol::Grpc, Protocol::HttpProtobuf];

#[test]
fn configured_headers_arrive_at_the_receiver_on_both_transports() {
    for protocol in BOTH {
        let receiver = receiver(protocol, Answer::Ok);
        let guard = builder(protocol, &receiver)
            .otlp_header("Authorization", "Bearer s3cret")
            .otlp_header("x-tenant", "blue")
            .build()
            .unwrap();
        make_spans(guard.tracer(), 3);
        guard.flush().unwrap();
        assert_eq!(
            receiver.seen.header("authorization"),
            ["Bearer s3cret"],
            "{protocol:?}"
        );
        assert_eq!(receiver.seen.header("x-tenant"), ["blue"], "{protocol:?}");
        let content_type = receiver.seen.header("content-type");
        let expected = match protocol {
            Protocol::Grpc => "application/grpc",
            _ => "application/x-protobuf",
        };
        assert_eq!(content_type, [expected], "{protocol:?}");
        assert_eq!(receiver.seen.spans().len(), 3, "{protocol:?}");
        assert_eq!(guard.stats().exported, 3);
    }
}

#[test]
fn gzip_compresses_the_request_on_both_transports() {
    for protocol in BOTH {
        let receiver = receiver(protocol, Answer::Ok);
        let guard = builder(protocol, &receiver)
            .otlp_compression(Compression::Gzip)
            .build()
            .unwrap();
        make_spans(guard.tracer(), 5);
        guard.flush().unwrap();
        let header = match protocol {
            Protocol::Grpc => "grpc-encoding",
            _ => "content-encoding",
        };
        assert_eq!(receiver.seen.header(header), ["gzip"], "{protocol:?}");
        let names: Vec<_> = receiver.seen.spans().into_iter().map(|(_, n)| n).collect();
        assert_eq!(
            names,
            ["span-0", "span-1", "span-2", "span-3", "span-4"],
            "{protocol:?}"
        );
    }
}

#[test]
fn without_gzip_the_request_is_not_compressed() {
    for protocol in BOTH {
        let receiver = receiver(protocol, Answer::Ok);
        let guard = builder(protocol, &receiver).build().unwrap();
        make_spans(guard.tracer(), 1);
        guard.flush().unwrap();
        assert!(
            receiver.seen.header("grpc-encoding").is_empty(),
            "{protocol:?}"
        );
        assert!(
            receiver.seen.header("content-encoding").is_empty(),
            "{protocol:?}"
        );
    }
}

#[test]
fn a_partial_success_counts_the_rejected_spans_as_failed_with_the_receivers_message() {
    for protocol in BOTH {
        let receiver = receiver(protocol, Answer::Partial(3));
        let guard = builder(protocol, &receiver).build().unwrap();
        make_spans(guard.tracer(), 10);
        let flushed = guard.flush();
        let stats = guard.stats();
        assert_eq!(
            (stats.exported, stats.failed),
            (7, 3),
            "{protocol:?}: {stats:?}"
        );
        let error = flushed
            .expect_err("the flush reports the rejected spans")
            .to_string();
        assert!(error.contains(PARTIAL_MESSAGE), "{protocol:?}: {error}");
        assert!(
            error.contains("rejected 3 of 10 spans"),
            "{protocol:?}: {error}"
        );
        assert_eq!(
            receiver.seen.requests().len(),
            1,
            "a partial success is not retried"
        );
    }
}

#[test]
fn an_unavailable_receiver_counts_the_batch_failed_with_the_status_after_retries() {
    for protocol in BOTH {
        let receiver = receiver(protocol, Answer::Unavailable);
        let guard = builder(protocol, &receiver).build().unwrap();
        make_spans(guard.tracer(), 4);
        let flushed = guard.flush();
        let stats = guard.stats();
        assert_eq!(
            (stats.exported, stats.failed),
            (0, 4),
            "{protocol:?}: {stats:?}"
        );
        let error = flushed.expect_err("the flush reports the loss").to_string();
        let status = match protocol {
            Protocol::Grpc => "Unavailable",
            _ => "503 Service Unavailable",
        };
        assert!(error.contains(status), "{protocol:?}: {error}");
        assert!(error.contains(UNAVAILABLE_MESSAGE), "{protocol:?}: {error}");
        assert!(error.contains(&receiver.endpoint), "{protocol:?}: {error}");
        assert!(error.contains("after 3 retries"), "{protocol:?}: {error}");
        // The first attempt and three retries, as opentelemetry-otlp's recommended policy.
        assert_eq!(receiver.seen.requests().len(), 4, "{protocol:?}");
    }
}

#[test]
fn own_plain_api_and_tracing_spans_of_one_batch_arrive_with_their_scopes() {
    for protocol in BOTH {
        let receiver = receiver(protocol, Answer::Ok);
        let guard = builder(protocol, &receiver).build().unwrap();
        let tracer = guard.tracer();
        make_spans(tracer, 1);
        // A library using the plain OpenTelemetry API with its own scope.
        let library = tracer.provider().tracer_with_scope(
            opentelemetry::InstrumentationScope::builder("inventory-client")
                .with_version("1.2.3")
                .build(),
        );
        library.start("reserve stock").end();
        let subscriber = tracing_subscriber::registry().with(tracer::tracing_layer(tracer));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info_span!("load cart").in_scope(|| {});
        });
        make_spans(tracer, 1);
        guard.flush().unwrap();
        assert_eq!(receiver.seen.requests().len(), 1, "one batch, {protocol:?}");
        let mut spans = receiver.seen.spans();
        spans.sort();
        assert_eq!(
            spans,
            [
                ("inventory-client".to_owned(), "reserve stock".to_owned()),
                ("tracer".to_owned(), "load cart".to_owned()),
                ("tracer".to_owned(), "span-0".to_owned()),
                ("tracer".to_owned(), "span-0".to_owned()),
            ],
            "{protocol:?}"
        );
    }
}
