//! The realistic workload of the collector benches (`collector.rs`, `persist.rs`): HTTP server
//! spans with 10 attributes and 2 events, 8 spans per trace, 512 per request, 4 services.
#![allow(dead_code)] // each bench uses a different subset

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};

pub(crate) const SPANS_PER_BATCH: usize = 512;
pub(crate) const SPANS_PER_TRACE: usize = 8;
pub(crate) const SERVICES: [&str; 4] = ["frontend", "orders", "payments", "inventory"];

pub(crate) fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        key_strindex: 0,
    }
}

pub(crate) fn s(key: &str, value: String) -> KeyValue {
    kv(key, any_value::Value::StringValue(value))
}

pub(crate) fn int(key: &str, value: i64) -> KeyValue {
    kv(key, any_value::Value::IntValue(value))
}

/// A realistic span: 10 attributes (HTTP server conventions plus two ids), 2 events.
pub(crate) fn realistic_span(trace: u128, index: usize, base_ns: u64) -> Span {
    let span_id = (trace as u64) ^ ((index as u64 + 1) << 48) | 1;
    let parent = if index.is_multiple_of(SPANS_PER_TRACE) {
        Vec::new()
    } else {
        ((trace as u64) ^ (((index - 1) as u64 + 1) << 48) | 1)
            .to_be_bytes()
            .to_vec()
    };
    let order = trace % 100_000;
    let start = base_ns + (index as u64) * 1_000_000;
    Span {
        trace_id: trace.to_be_bytes().to_vec(),
        span_id: span_id.to_be_bytes().to_vec(),
        parent_span_id: parent,
        flags: 0x101,
        name: format!("GET /api/orders/{{id}}/step{}", index % SPANS_PER_TRACE),
        kind: 2,
        start_time_unix_nano: start,
        end_time_unix_nano: start + 1_000_000 + (trace as u64 % 5_000_000),
        attributes: vec![
            s("http.request.method", "GET".into()),
            s("url.path", format!("/api/orders/{order}")),
            s("http.route", "/api/orders/{id}".into()),
            int("http.response.status_code", 200),
            s("server.address", "orders.internal".into()),
            int("server.port", 8080),
            s("network.protocol.version", "1.1".into()),
            s(
                "client.address",
                format!("10.0.{}.{}", order % 256, index % 256),
            ),
            s("user_agent.original", "reqwest/0.13".into()),
            s("customer.id", format!("cust-{}", order % 5000)),
        ],
        events: vec![
            span::Event {
                time_unix_nano: start + 100_000,
                name: "cache.miss".into(),
                attributes: vec![s("cache.key", format!("order:{order}"))],
                dropped_attributes_count: 0,
            },
            span::Event {
                time_unix_nano: start + 500_000,
                name: "db.query".into(),
                attributes: vec![s("db.operation.name", "SELECT".into()), int("db.rows", 3)],
                dropped_attributes_count: 0,
            },
        ],
        status: Some(Status {
            message: String::new(),
            code: if trace.is_multiple_of(50) { 2 } else { 0 },
        }),
        ..Default::default()
    }
}

/// A batch of `SPANS_PER_BATCH` spans in traces of `SPANS_PER_TRACE`, one service per batch.
pub(crate) fn batch(number: usize, base_ns: u64) -> ExportTraceServiceRequest {
    let traces = SPANS_PER_BATCH / SPANS_PER_TRACE;
    let spans = (0..SPANS_PER_BATCH)
        .map(|i| {
            let trace = ((number * traces + i / SPANS_PER_TRACE) as u128 + 1)
                * 0x9e3779b97f4a7c15_f39cc0605cedc835;
            realistic_span(trace, i, base_ns)
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    s("service.name", SERVICES[number % SERVICES.len()].into()),
                    s("service.version", "1.4.2".into()),
                    s("host.name", format!("host-{}", number % 3)),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "tracer".into(),
                    version: "0.1.0".into(),
                    ..Default::default()
                }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

pub(crate) fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

pub(crate) fn batches(n: usize) -> Vec<ExportTraceServiceRequest> {
    let base = now_ns() - 3_600_000_000_000;
    (0..n)
        .map(|i| batch(i, base + i as u64 * 1_000_000))
        .collect()
}
