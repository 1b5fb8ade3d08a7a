//! Spans made by the OpenTelemetry SDK and sent by the real `opentelemetry-otlp` exporter, over
//! gRPC and over HTTP/protobuf, come back through the Jaeger query API with every attribute,
//! event, link, status, kind, scope and resource attribute.

mod common;

use std::sync::{Arc, Mutex};

use common::TestCollector;
use opentelemetry::trace::{
    Link, Span as _, SpanContext, SpanKind, Status, TraceContextExt, TraceFlags, TraceId,
    TraceState, Tracer, TracerProvider as _,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use serde_json::Value;

/// Collects finished spans so the test can hand them to the OTLP exporter itself, inside the
/// test's runtime.
#[derive(Debug, Clone, Default)]
struct Capture(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Capture {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.lock().unwrap().extend(batch);
        Ok(())
    }
}

fn resource(service: &str) -> Resource {
    Resource::builder_empty()
        .with_service_name(service.to_owned())
        .with_attribute(KeyValue::new("deployment.environment.name", "test"))
        .with_attribute(KeyValue::new("host.cores", 2))
        .build()
}

/// Makes a two-span trace (server root, client child with everything set).
fn make_spans(service: &str) -> (Vec<SpanData>, TraceId) {
    let capture = Capture::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(capture.clone())
        .with_resource(resource(service))
        .build();
    let tracer = provider.tracer_with_scope(
        InstrumentationScope::builder("roundtrip-test")
            .with_version("1.2.3")
            .build(),
    );
    let linked = SpanContext::new(
        TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
        opentelemetry::trace::SpanId::from_hex("b7ad6b7169203331").unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    let root = tracer
        .span_builder("GET /orders")
        .with_kind(SpanKind::Server)
        .with_attributes(vec![KeyValue::new("http.request.method", "GET")])
        .start(&tracer);
    let trace_id = root.span_context().trace_id();
    let cx = Context::current_with_span(root);
    {
        let mut child = tracer
            .span_builder("SELECT orders")
            .with_kind(SpanKind::Client)
            .with_attributes(vec![
                KeyValue::new("db.system.name", "mysql"),
                KeyValue::new("db.response.status_code", 1062),
                KeyValue::new("retry", true),
                KeyValue::new("ratio", 0.5),
            ])
            .with_links(vec![Link::with_context(linked)])
            .start_with_context(&tracer, &cx);
        child.add_event(
            "exception",
            vec![KeyValue::new("exception.message", "duplicate key")],
        );
        child.set_status(Status::error("duplicate key"));
        child.end();
    }
    cx.span().end();
    drop(cx);
    provider.force_flush().unwrap();
    let spans = capture.0.lock().unwrap().clone();
    assert_eq!(spans.len(), 2);
    (spans, trace_id)
}

fn tag<'a>(tags: &'a Value, key: &str) -> &'a Value {
    tags.as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == key)
        .unwrap_or_else(|| panic!("no tag {key} in {tags}"))
}

async fn assert_trace_complete(collector: &TestCollector, trace_id: TraceId, service: &str) {
    let (status, body) = collector.get(&format!("/api/traces/{trace_id}")).await;
    assert_eq!(status, 200, "{body}");
    let trace = &body["data"][0];
    assert_eq!(trace["traceID"], trace_id.to_string());
    let spans = trace["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 2);
    let root = spans
        .iter()
        .find(|s| s["operationName"] == "GET /orders")
        .unwrap();
    let child = spans
        .iter()
        .find(|s| s["operationName"] == "SELECT orders")
        .unwrap();

    // Process: service name and resource attributes.
    let process = &trace["processes"][child["processID"].as_str().unwrap()];
    assert_eq!(process["serviceName"], service);
    assert_eq!(
        tag(&process["tags"], "deployment.environment.name")["value"],
        "test"
    );
    assert_eq!(tag(&process["tags"], "host.cores")["type"], "int64");
    assert_eq!(tag(&process["tags"], "host.cores")["value"], 2);

    // Parent reference first, then the link.
    let refs = child["references"].as_array().unwrap();
    assert_eq!(refs[0]["refType"], "CHILD_OF");
    assert_eq!(refs[0]["spanID"], root["spanID"]);
    assert_eq!(refs[1]["refType"], "FOLLOWS_FROM");
    assert_eq!(refs[1]["traceID"], "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(refs[1]["spanID"], "b7ad6b7169203331");

    // Attributes with their types, kind, status and scope.
    let tags = &child["tags"];
    assert_eq!(tag(tags, "db.system.name")["value"], "mysql");
    assert_eq!(tag(tags, "db.response.status_code")["value"], 1062);
    assert_eq!(tag(tags, "retry")["type"], "bool");
    assert_eq!(tag(tags, "ratio")["type"], "float64");
    assert_eq!(tag(tags, "ratio")["value"], 0.5);
    assert_eq!(tag(tags, "span.kind")["value"], "client");
    assert_eq!(tag(tags, "otel.status_code")["value"], "ERROR");
    assert_eq!(tag(tags, "error")["value"], true);
    assert_eq!(
        tag(tags, "otel.status_description")["value"],
        "duplicate key"
    );
    assert_eq!(tag(tags, "otel.scope.name")["value"], "roundtrip-test");
    assert_eq!(tag(tags, "otel.scope.version")["value"], "1.2.3");
    assert_eq!(tag(&root["tags"], "span.kind")["value"], "server");

    // The event as a log.
    let log = &child["logs"][0];
    assert_eq!(tag(&log["fields"], "event")["value"], "exception");
    assert_eq!(
        tag(&log["fields"], "exception.message")["value"],
        "duplicate key"
    );
    assert!(log["timestamp"].as_u64().unwrap() >= child["startTime"].as_u64().unwrap());
}

#[tokio::test]
async fn spans_exported_over_grpc_come_back_complete() {
    let collector = TestCollector::start().await;
    let (spans, trace_id) = make_spans("grpc-service");
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(format!("http://{}", collector.grpc))
        .build()
        .unwrap();
    exporter.set_resource(&resource("grpc-service"));
    exporter.export(spans).await.unwrap();
    assert_trace_complete(&collector, trace_id, "grpc-service").await;
    collector.stop().await;
}

#[tokio::test]
async fn spans_exported_over_http_protobuf_come_back_complete() {
    let collector = TestCollector::start().await;
    let (spans, trace_id) = make_spans("http-service");
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(collector.traces_url())
        .build()
        .unwrap();
    exporter.set_resource(&resource("http-service"));
    exporter.export(spans).await.unwrap();
    assert_trace_complete(&collector, trace_id, "http-service").await;
    collector.stop().await;
}
