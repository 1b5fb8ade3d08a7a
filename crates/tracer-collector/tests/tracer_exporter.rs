//! Spans made with the `tracer` library and exported by its own pipeline (queue, export thread,
//! OTLP over gRPC, HTTP/protobuf and HTTP/JSON) come back through the Jaeger query API with
//! every attribute, event, link, status, kind and resource attribute.

mod common;

use common::TestCollector;
use opentelemetry::trace::{
    Link, Span as _, SpanBuilder, SpanContext, SpanId, SpanKind, Status, TraceContextExt,
    TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Context, KeyValue};
use serde_json::Value;
use tracer::{ExporterKind, Protocol, Sampler};

fn tag<'a>(tags: &'a Value, key: &str) -> &'a Value {
    tags.as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == key)
        .unwrap_or_else(|| panic!("no tag {key} in {tags}"))
}

/// Makes `server GET /orders/{id}` with a `client SELECT orders` child carrying an error,
/// an event, a link and typed attributes; returns the trace id after the guard has shut down.
fn make_trace(service: &str, protocol: Protocol, endpoint: String) -> TraceId {
    let guard = tracer::builder()
        .without_env()
        .service_name(service)
        .resource_attribute("deployment.environment.name", "test")
        .sampler(Sampler::AlwaysOn)
        .exporter(ExporterKind::Otlp)
        .otlp_protocol(protocol)
        .otlp_endpoint(endpoint)
        .build()
        .unwrap();
    let tracer = guard.tracer();
    let root = tracer
        .span(
            "GET /orders/{id}",
            SpanKind::Server,
            vec![KeyValue::new("http.response.status_code", 200)],
            &Context::new(),
        )
        .unwrap();
    let trace_id = root.span_context().trace_id();
    let cx = Context::new().with_span(root);
    let linked = SpanContext::new(
        TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap(),
        SpanId::from_hex("b7ad6b7169203331").unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    let mut child = tracer
        .start_span(
            SpanBuilder::from_name("SELECT orders")
                .with_kind(SpanKind::Client)
                .with_attributes(vec![
                    KeyValue::new("db.system.name", "mysql"),
                    KeyValue::new("db.response.status_code", "1062"),
                    KeyValue::new("db.operation.batch.size", 3),
                    KeyValue::new("retry", true),
                    KeyValue::new("ratio", 0.25),
                ])
                .with_links(vec![Link::with_context(linked)]),
            &cx,
        )
        .unwrap();
    child.add_event(
        "exception",
        vec![KeyValue::new("exception.message", "duplicate key")],
    );
    child.set_status(Status::error("duplicate key"));
    child.end();
    cx.span().end();
    guard
        .shutdown()
        .expect("every span exported before shutdown returns");
    trace_id
}

async fn assert_complete(collector: &TestCollector, trace_id: TraceId, service: &str) {
    let (status, body) = collector.get(&format!("/api/traces/{trace_id}")).await;
    assert_eq!(status, 200, "{body}");
    let trace = &body["data"][0];
    let spans = trace["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 2, "{body}");
    let root = spans
        .iter()
        .find(|s| s["operationName"] == "GET /orders/{id}")
        .unwrap();
    let child = spans
        .iter()
        .find(|s| s["operationName"] == "SELECT orders")
        .unwrap();
    let process = &trace["processes"][child["processID"].as_str().unwrap()];
    assert_eq!(process["serviceName"], service);
    assert_eq!(
        tag(&process["tags"], "deployment.environment.name")["value"],
        "test"
    );
    assert_eq!(
        tag(&process["tags"], "telemetry.sdk.language")["value"],
        "rust"
    );
    let refs = child["references"].as_array().unwrap();
    assert_eq!(refs[0]["refType"], "CHILD_OF");
    assert_eq!(refs[0]["spanID"], root["spanID"]);
    assert_eq!(refs[1]["refType"], "FOLLOWS_FROM");
    assert_eq!(refs[1]["spanID"], "b7ad6b7169203331");
    let tags = &child["tags"];
    assert_eq!(tag(tags, "db.system.name")["value"], "mysql");
    assert_eq!(tag(tags, "db.response.status_code")["value"], "1062");
    assert_eq!(tag(tags, "db.operation.batch.size")["type"], "int64");
    assert_eq!(tag(tags, "retry")["type"], "bool");
    assert_eq!(tag(tags, "ratio")["value"], 0.25);
    assert_eq!(tag(tags, "span.kind")["value"], "client");
    assert_eq!(tag(tags, "error")["value"], true);
    assert_eq!(
        tag(tags, "otel.status_description")["value"],
        "duplicate key"
    );
    assert_eq!(tag(&root["tags"], "span.kind")["value"], "server");
    assert_eq!(
        tag(&root["tags"], "http.response.status_code")["value"],
        200
    );
    let log = &child["logs"][0];
    assert_eq!(tag(&log["fields"], "event")["value"], "exception");
    assert_eq!(
        tag(&log["fields"], "exception.message")["value"],
        "duplicate key"
    );
}

async fn round_trip(protocol: Protocol, service: &'static str) {
    let collector = TestCollector::start().await;
    let endpoint = match protocol {
        Protocol::Grpc => format!("http://{}", collector.grpc),
        _ => collector.traces_url(),
    };
    // The guard's shutdown waits for the export: run it off the async workers.
    let trace_id = tokio::task::spawn_blocking(move || make_trace(service, protocol, endpoint))
        .await
        .unwrap();
    assert_complete(&collector, trace_id, service).await;
    collector.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracer_spans_over_grpc_come_back_complete() {
    round_trip(Protocol::Grpc, "tracer-grpc").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracer_spans_over_http_protobuf_come_back_complete() {
    round_trip(Protocol::HttpProtobuf, "tracer-http").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracer_spans_over_http_json_come_back_complete() {
    round_trip(Protocol::HttpJson, "tracer-json").await;
}
