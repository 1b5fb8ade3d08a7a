//! Receiver throughput: decode + map + store, per core, for Jaeger thrift compact (`emitBatch`,
//! what 6831 receives), Zipkin v2 JSON (9411) and, as the baseline, OTLP protobuf (4318/4317).
//! The same 512 spans (one service, 8 per trace, 6 attributes and one event each) in every
//! format; no network, one thread.
//!
//! Run: `cargo bench -p tracer-collector --bench receivers`. Results: `docs/bench/collector.md`.

#[path = "../tests/common/jaeger_wire.rs"]
mod jaeger_wire;

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span};
use prost::Message;
use tracer_collector::ingest::receiver::Format;
use tracer_collector::ingest::{store_protobuf, store_request};
use tracer_collector::store::{Store, StoreLimits};

const SPANS: usize = 512;
const PER_TRACE: usize = 8;
const BASE_US: u64 = 1_700_000_000_000_000;

/// (trace, span id, parent, start µs, duration µs, status code, user) of span `i`.
fn shape(i: usize) -> (u128, u64, u64, u64, u64, i64, String) {
    let trace = 0x1000 + (i / PER_TRACE) as u128;
    let id = 1 + i as u64;
    let parent = if i.is_multiple_of(PER_TRACE) {
        0
    } else {
        id - 1
    };
    (
        trace,
        id,
        parent,
        BASE_US + i as u64 * 10,
        250,
        200 + (i % 3) as i64,
        format!("user-{}", i % 97),
    )
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        key_strindex: 0,
    }
}

fn otlp() -> Vec<u8> {
    let spans = (0..SPANS)
        .map(|i| {
            let (trace, id, parent, start, dur, status, user) = shape(i);
            Span {
                trace_id: trace.to_be_bytes().to_vec(),
                span_id: id.to_be_bytes().to_vec(),
                parent_span_id: if parent == 0 {
                    vec![]
                } else {
                    parent.to_be_bytes().to_vec()
                },
                flags: 1,
                name: "GET /orders/{id}".into(),
                kind: 2,
                start_time_unix_nano: start * 1000,
                end_time_unix_nano: (start + dur) * 1000,
                attributes: vec![
                    kv(
                        "http.request.method",
                        any_value::Value::StringValue("GET".into()),
                    ),
                    kv(
                        "url.path",
                        any_value::Value::StringValue(format!("/orders/{id}")),
                    ),
                    kv(
                        "http.response.status_code",
                        any_value::Value::IntValue(status),
                    ),
                    kv(
                        "server.address",
                        any_value::Value::StringValue("orders.internal".into()),
                    ),
                    kv("user.id", any_value::Value::StringValue(user)),
                    kv("retry", any_value::Value::BoolValue(false)),
                ],
                events: vec![span::Event {
                    time_unix_nano: (start + 5) * 1000,
                    name: "cache miss".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv(
                    "service.name",
                    any_value::Value::StringValue("orders".into()),
                )],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    }
    .encode_to_vec()
}

fn jaeger_compact() -> Vec<u8> {
    use jaeger_wire::*;
    let spans = (0..SPANS)
        .map(|i| {
            let (trace, id, parent, start, dur, status, user) = shape(i);
            let mut s = span(
                (trace >> 64) as i64,
                trace as i64,
                id as i64,
                parent as i64,
                "GET /orders/{id}",
                start as i64,
                dur as i64,
            );
            s.tags = Some(vec![
                str_tag("span.kind", "server"),
                str_tag("http.request.method", "GET"),
                str_tag("url.path", &format!("/orders/{id}")),
                long_tag("http.response.status_code", status),
                str_tag("server.address", "orders.internal"),
                str_tag("user.id", &user),
                bool_tag("retry", false),
            ]);
            s.logs = Some(vec![Log {
                timestamp: (start + 5) as i64,
                fields: vec![str_tag("event", "cache miss")],
            }]);
            s
        })
        .collect();
    emit_batch(
        &Batch {
            process: Process {
                service_name: "orders".into(),
                tags: None,
            },
            spans,
        },
        true,
    )
}

fn zipkin_json() -> Vec<u8> {
    let spans: Vec<serde_json::Value> = (0..SPANS)
        .map(|i| {
            let (trace, id, parent, start, dur, status, user) = shape(i);
            let mut span = serde_json::json!({
                "traceId": format!("{trace:032x}"), "id": format!("{id:016x}"), "kind": "SERVER",
                "name": "GET /orders/{id}", "timestamp": start, "duration": dur,
                "localEndpoint": {"serviceName": "orders"},
                "tags": {"http.request.method": "GET", "url.path": format!("/orders/{id}"),
                         "http.response.status_code": status.to_string(),
                         "server.address": "orders.internal", "user.id": user, "retry": "false"},
                "annotations": [{"timestamp": start + 5, "value": "cache miss"}]
            });
            if parent != 0 {
                span["parentId"] = format!("{parent:016x}").into();
            }
            span
        })
        .collect();
    serde_json::to_vec(&spans).unwrap()
}

fn store() -> Arc<Store> {
    // Large enough that the benchmark measures insertion, not eviction churn alone.
    Arc::new(Store::new(StoreLimits::default()))
}

fn receivers(c: &mut Criterion) {
    let mut group = c.benchmark_group("receiver_decode_store");
    group.throughput(Throughput::Elements(SPANS as u64));
    let payloads = [
        ("otlp_protobuf", otlp()),
        ("jaeger_thrift_compact", jaeger_compact()),
        ("zipkin_json_v2", zipkin_json()),
    ];
    for (name, payload) in &payloads {
        eprintln!("{name}: {} bytes for {SPANS} spans", payload.len());
    }
    let store_otlp = store();
    group.bench_function("otlp_protobuf", |b| {
        b.iter(|| black_box(store_protobuf(&store_otlp, black_box(&payloads[0].1)).unwrap()))
    });
    let store_jaeger = store();
    group.bench_function("jaeger_thrift_compact", |b| {
        b.iter(|| {
            let request = Format::JaegerAgentCompact
                .convert(black_box(&payloads[1].1))
                .unwrap();
            black_box(store_request(&store_jaeger, &request))
        })
    });
    let store_zipkin = store();
    group.bench_function("zipkin_json_v2", |b| {
        b.iter(|| {
            let request = Format::ZipkinV2Json
                .convert(black_box(&payloads[2].1))
                .unwrap();
            black_box(store_request(&store_zipkin, &request))
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = receivers
}
criterion_main!(benches);
