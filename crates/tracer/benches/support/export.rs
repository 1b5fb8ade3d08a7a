//! Shared by `benches/callgrind.rs` and `benches/export.rs`: null OTLP receivers on 127.0.0.1
//! (they answer OK and discard), tracers exporting to them through tracer's direct OTLP path
//! or through opentelemetry-otlp's exporter, and the spans both export.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::trace::{Span as _, SpanKind};
use opentelemetry::{Context, KeyValue};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use tracer::{ExporterKind, Protocol, Sampler};

struct Null;

#[tonic::async_trait]
impl TraceService for Null {
    async fn export(
        &self,
        _request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// Starts a null receiver for `protocol` on its own thread; returns the endpoint URL.
pub fn null_receiver(protocol: Protocol) -> String {
    let (tx, rx) = std::sync::mpsc::channel::<SocketAddr>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            if protocol == Protocol::Grpc {
                let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
                tonic::transport::Server::builder()
                    .add_service(TraceServiceServer::new(Null))
                    .serve_with_incoming(incoming)
                    .await
                    .unwrap();
            } else {
                let app = axum::Router::new().route(
                    "/v1/traces",
                    axum::routing::post(|_body: bytes::Bytes| async {
                        (
                            [("content-type", "application/x-protobuf")],
                            Vec::<u8>::new(),
                        )
                    }),
                );
                axum::serve(listener, app).await.unwrap();
            }
        });
    });
    let addr = rx.recv().unwrap();
    match protocol {
        Protocol::Grpc => format!("http://{addr}"),
        _ => format!("http://{addr}/v1/traces"),
    }
}

/// opentelemetry-otlp's exporter, built on its first export so that, like tracer's own, it
/// lives on the export thread's runtime (a gRPC channel runs its connection there).
pub struct LazyOtlp {
    protocol: Protocol,
    endpoint: String,
    resource: Option<Resource>,
    inner: OnceLock<opentelemetry_otlp::SpanExporter>,
}

impl std::fmt::Debug for LazyOtlp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LazyOtlp")
    }
}

impl LazyOtlp {
    fn exporter(&self) -> &opentelemetry_otlp::SpanExporter {
        use opentelemetry_otlp::WithExportConfig as _;
        self.inner.get_or_init(|| {
            let mut exporter = match self.protocol {
                Protocol::Grpc => opentelemetry_otlp::SpanExporter::builder()
                    .with_tonic()
                    .with_endpoint(self.endpoint.clone())
                    .build(),
                _ => opentelemetry_otlp::SpanExporter::builder()
                    .with_http()
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                    .with_endpoint(self.endpoint.clone())
                    .build(),
            }
            .unwrap();
            if let Some(resource) = &self.resource {
                exporter.set_resource(resource);
            }
            exporter
        })
    }
}

impl SpanExporter for LazyOtlp {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.exporter().export(batch).await
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = Some(resource.clone());
    }
}

/// `ours`: tracer's OTLP exporter; `sdk`: opentelemetry-otlp's, given as a `span_exporter`.
/// Batches of up to 512 spans, exported when full or flushed.
pub fn guard(path: &str, protocol: Protocol) -> tracer::Guard {
    let endpoint = null_receiver(protocol);
    let builder = tracer::builder()
        .without_env()
        .service_name("bench")
        .resource_attribute("deployment.environment", "bench")
        .sampler(Sampler::AlwaysOn)
        .schedule_delay(Duration::from_secs(3600))
        .max_queue_size(NonZeroUsize::new(8192).unwrap())
        .max_export_batch_size(NonZeroUsize::new(512).unwrap());
    let builder = match path {
        "ours" => builder
            .exporter(ExporterKind::Otlp)
            .otlp_protocol(protocol)
            .otlp_endpoint(endpoint),
        "sdk" => builder.span_exporter(LazyOtlp {
            protocol,
            endpoint,
            resource: None,
            inner: OnceLock::new(),
        }),
        _ => panic!("path is ours or sdk, not {path:?}"),
    };
    builder.build().expect("a valid configuration")
}

/// `count` finished server spans as an HTTP integration makes them: five attributes (two
/// static strings, an owned string, two integers), one span in four with an event.
pub fn make_spans(tracer: &tracer::Tracer, count: usize) {
    for i in 0..count {
        let attributes = vec![
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("http.route", "/orders/{id}"),
            KeyValue::new("url.path", format!("/orders/{i}")),
            KeyValue::new("http.response.status_code", 200_i64),
            KeyValue::new("server.port", 8080_i64),
        ];
        let mut span = tracer
            .span(
                "GET /orders/{id}",
                SpanKind::Server,
                attributes,
                &Context::new(),
            )
            .expect("tracing is on");
        if i % 4 == 0 {
            span.add_event("cache miss", vec![KeyValue::new("cache.key", "orders")]);
        }
        span.end();
    }
}
