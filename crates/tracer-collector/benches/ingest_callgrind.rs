//! OTLP protobuf ingest (decode + store) as one deterministic run, for instruction counts under
//! callgrind, which repeat where the shared machine's wall and CPU times do not.
//!
//! The payloads are the collector bench's realistic spans (10 attributes, 2 events, 8 spans per
//! trace, 512 per batch), built with a fixed clock; only `ingest_all` is measured:
//!
//! ```text
//! cargo bench -p tracer-collector --bench ingest_callgrind --no-run
//! valgrind --tool=callgrind --toggle-collect='*ingest_all*' --callgrind-out-file=/tmp/cg.out \
//!     target/release/deps/ingest_callgrind-*
//! ```
//!
//! Results: `docs/bench/collector.md`.

use std::hint::black_box;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use prost::Message;
use tracer_collector::ingest::store_protobuf;
use tracer_collector::store::{Store, StoreLimits};

const SPANS_PER_BATCH: usize = 512;
const SPANS_PER_TRACE: usize = 8;
const BATCHES: usize = 32;
const BASE_NS: u64 = 1_764_000_000_000_000_000;
const SERVICES: [&str; 4] = ["orders", "payments", "inventory", "gateway"];

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        key_strindex: 0,
    }
}

fn s(key: &str, value: String) -> KeyValue {
    kv(key, any_value::Value::StringValue(value))
}

fn int(key: &str, value: i64) -> KeyValue {
    kv(key, any_value::Value::IntValue(value))
}

fn span_of(trace: u128, index: usize) -> Span {
    let span_id = (trace as u64) ^ ((index as u64 + 1) << 48) | 1;
    let parent = if index.is_multiple_of(SPANS_PER_TRACE) {
        Vec::new()
    } else {
        ((trace as u64) ^ ((index as u64) << 48) | 1)
            .to_be_bytes()
            .to_vec()
    };
    let order = trace % 100_000;
    let start = BASE_NS + (index as u64) * 1_000_000;
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

fn payload(number: usize) -> Vec<u8> {
    let traces = SPANS_PER_BATCH / SPANS_PER_TRACE;
    let spans = (0..SPANS_PER_BATCH)
        .map(|i| {
            let trace = ((number * traces + i / SPANS_PER_TRACE) as u128 + 1)
                * 0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835;
            span_of(trace, i)
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
    .encode_to_vec()
}

/// The measured part: every payload decoded and stored.
#[inline(never)]
fn ingest_all(store: &Store, payloads: &[Vec<u8>]) -> usize {
    let mut accepted = 0;
    for payload in payloads {
        accepted += black_box(store_protobuf(store, payload).expect("valid payload")).accepted;
    }
    accepted
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let payloads: Vec<Vec<u8>> = (0..BATCHES).map(payload).collect();
    let store = Store::new(StoreLimits::default());
    let accepted = ingest_all(&store, &payloads);
    assert_eq!(accepted, BATCHES * SPANS_PER_BATCH);
    println!(
        "ingest_callgrind: {accepted} spans in {BATCHES} batches, {} bytes protobuf",
        payloads.iter().map(Vec::len).sum::<usize>()
    );
}
