//! Differential tests: our bytes, decoded with opentelemetry-proto's prost types, against
//! opentelemetry-proto's own `transform` of the same spans (the oracle).

use std::borrow::Cow;
use std::time::{Duration, UNIX_EPOCH};

use opentelemetry::trace::{
    Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanData;
use prost::Message as _;

use super::Encoder;
use crate::export::queue::Finished;
use crate::span::pipeline::scope;
use crate::span::record::SpanRecord;

fn every_value() -> Vec<KeyValue> {
    vec![
        KeyValue::new("str", "value"),
        KeyValue::new("empty.str", ""),
        KeyValue::new("", "empty key"),
        KeyValue::new("bool.true", true),
        KeyValue::new("bool.false", false),
        KeyValue::new("int.zero", 0_i64),
        KeyValue::new("int.negative", -42_i64),
        KeyValue::new("int.max", i64::MAX),
        KeyValue::new("int.min", i64::MIN),
        KeyValue::new("float", 3.5_f64),
        KeyValue::new("float.zero", 0.0_f64),
        KeyValue::new("float.negative", -1e300_f64),
        KeyValue::new("float.inf", f64::INFINITY),
        KeyValue::new("owned", String::from("an owned string")),
        KeyValue::new("unicode", "grüße, 世界"),
        KeyValue::new("array.bool", Value::Array(Array::Bool(vec![true, false]))),
        KeyValue::new("array.i64", Value::Array(Array::I64(vec![0, -1, i64::MAX]))),
        KeyValue::new("array.f64", Value::Array(Array::F64(vec![0.0, 2.5]))),
        KeyValue::new(
            "array.string",
            Value::Array(Array::String(vec![
                StringValue::from("a"),
                StringValue::from(""),
                StringValue::from(String::from("c")),
            ])),
        ),
        KeyValue::new("array.empty", Value::Array(Array::I64(vec![]))),
        // Longer than 127 and than 16,383 bytes: lengths of two and three bytes.
        KeyValue::new("long.200", "x".repeat(200)),
        KeyValue::new("long.20000", "y".repeat(20_000)),
    ]
}

fn context(trace: u128, span: u64, flags: TraceFlags, remote: bool, state: &str) -> SpanContext {
    SpanContext::new(
        TraceId::from(trace),
        SpanId::from(span),
        flags,
        remote,
        if state.is_empty() {
            TraceState::NONE
        } else {
            state.parse().unwrap()
        },
    )
}

/// A record with every field set, events and links included.
fn full_record(n: u64) -> SpanRecord {
    let at = |ns: u64| UNIX_EPOCH + Duration::from_nanos(1_700_000_000_000_000_000 + ns);
    SpanRecord {
        context: context(
            0x1122_3344_5566_7788_99aa_bbcc_ddee_ff00 + u128::from(n),
            0x1020_3040_5060_7080 + n,
            TraceFlags::SAMPLED,
            false,
            "vendor=span,other=x",
        ),
        parent_span_id: SpanId::from(0x8877_6655_4433_2211),
        parent_is_remote: n.is_multiple_of(2),
        kind: [
            SpanKind::Server,
            SpanKind::Client,
            SpanKind::Producer,
            SpanKind::Consumer,
            SpanKind::Internal,
        ][n as usize % 5]
            .clone(),
        name: Cow::Owned(format!("span {n}")),
        start: at(1_000),
        end: at(2_500 + n),
        attributes: every_value(),
        dropped_attributes: 2,
        events: vec![
            Event::new(
                "exception",
                at(1_500),
                vec![KeyValue::new("handled", false)],
                3,
            ),
            Event::new("empty", at(1_600), vec![], 0),
        ],
        dropped_events: 4,
        links: vec![
            Link::new(
                context(0x2233, 0x2030, TraceFlags::SAMPLED, true, "vendor=link"),
                vec![KeyValue::new("link.attr", "linked")],
                5,
            ),
            Link::new(
                context(0x3344, 0x4050, TraceFlags::default(), false, ""),
                vec![],
                0,
            ),
        ],
        dropped_links: 6,
        status: match n % 3 {
            0 => Status::error("it broke"),
            1 => Status::Ok,
            _ => Status::Unset,
        },
    }
}

/// A root span: no parent, no tracestate, not sampled, no events or links, a time before 1970.
fn bare_record() -> SpanRecord {
    SpanRecord {
        context: context(7, 8, TraceFlags::default(), false, ""),
        parent_span_id: SpanId::INVALID,
        parent_is_remote: false,
        kind: SpanKind::Internal,
        name: Cow::Borrowed(""),
        start: UNIX_EPOCH - Duration::from_secs(5),
        end: UNIX_EPOCH,
        attributes: vec![],
        dropped_attributes: 0,
        events: vec![],
        dropped_events: 0,
        links: vec![],
        dropped_links: 0,
        status: Status::error(""),
    }
}

fn sdk_span(record: SpanRecord, scope: &InstrumentationScope) -> SpanData {
    record.into_span_data(scope)
}

fn library_scope() -> InstrumentationScope {
    InstrumentationScope::builder("library")
        .with_version("2.1.0")
        .with_schema_url("https://opentelemetry.io/schemas/1.26.0")
        .with_attributes([KeyValue::new("scope.attr", true)])
        .build()
}

fn resource() -> Resource {
    Resource::builder_empty()
        .with_schema_url(
            [KeyValue::new("service.name", "checkout")],
            "https://opentelemetry.io/schemas/1.26.0",
        )
        .with_attribute(KeyValue::new("host.cores", 2_i64))
        .build()
}

/// The oracle: what opentelemetry-otlp sends for these spans.
fn oracle(spans: &[Finished], resource: &Resource) -> ExportTraceServiceRequest {
    let own = scope();
    let data = spans
        .iter()
        .map(|span| match span {
            Finished::Ours(record) => (**record).clone().into_span_data(&own),
            Finished::Sdk(data) => (**data).clone(),
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: group_spans_by_resource_and_scope(
            data,
            &ResourceAttributesWithSchema::from(resource),
        ),
    }
}

fn ours(encoder: &mut Encoder, spans: &[Finished]) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest::decode(encoder.encode(spans)).expect("our bytes decode")
}

fn assert_same(spans: &[Finished], resource: &Resource) {
    let mut encoder = Encoder::new(scope());
    encoder.set_resource(resource);
    assert_eq!(ours(&mut encoder, spans), oracle(spans, resource));
}

#[test]
fn own_spans_with_every_field_encode_as_the_sdk_transform_does() {
    let spans: Vec<Finished> = (0..6)
        .map(|n| Finished::Ours(Box::new(full_record(n))))
        .collect();
    assert_same(&spans, &resource());
}

#[test]
fn a_root_with_nothing_set_encodes_as_the_sdk_transform_does() {
    assert_same(&[Finished::Ours(Box::new(bare_record()))], &resource());
}

#[test]
fn sdk_spans_keep_their_scopes_grouped_in_order_of_first_appearance() {
    let library = library_scope();
    let other = InstrumentationScope::builder("other").build();
    // An SDK span whose scope is tracer's own joins the own spans' group.
    let spans = vec![
        Finished::Sdk(Box::new(sdk_span(full_record(1), &library))),
        Finished::Ours(Box::new(full_record(2))),
        Finished::Sdk(Box::new(sdk_span(full_record(3), &other))),
        Finished::Sdk(Box::new(sdk_span(full_record(4), &library))),
        Finished::Ours(Box::new(bare_record())),
        Finished::Sdk(Box::new(sdk_span(full_record(5), &scope()))),
        Finished::Ours(Box::new(full_record(6))),
    ];
    let request = ours(&mut Encoder::new(scope()), &spans);
    let scopes: Vec<_> = request.resource_spans[0]
        .scope_spans
        .iter()
        .map(|s| (s.scope.as_ref().unwrap().name.as_str(), s.spans.len()))
        .collect();
    assert_eq!(scopes, [("library", 2), ("tracer", 4), ("other", 1)]);
    assert_same(&spans, &resource());
}

#[test]
fn an_empty_or_schemaless_resource_encodes_as_the_sdk_transform_does() {
    let spans = [Finished::Ours(Box::new(full_record(0)))];
    assert_same(&spans, &Resource::builder_empty().build());
    // Before `set_resource`, the SDK exporter sends an empty resource too.
    let mut encoder = Encoder::new(scope());
    let empty = oracle(&spans, &Resource::builder_empty().build());
    assert_eq!(ours(&mut encoder, &spans), empty);
}

#[test]
fn a_full_batch_of_large_spans_encodes_as_the_sdk_transform_does() {
    // 512 spans of ~21 kB: a ScopeSpans of ~11 MB, whose length takes four bytes.
    let spans: Vec<Finished> = (0..512)
        .map(|n| Finished::Ours(Box::new(full_record(n))))
        .collect();
    assert_same(&spans, &resource());
}

#[test]
fn the_reused_buffer_holds_only_the_latest_batch() {
    // One resource instance: its attributes' order is that of its hash map.
    let resource = resource();
    let mut encoder = Encoder::new(scope());
    encoder.set_resource(&resource);
    let big: Vec<Finished> = (0..20)
        .map(|n| Finished::Ours(Box::new(full_record(n))))
        .collect();
    let small = [Finished::Ours(Box::new(bare_record()))];
    let _ = encoder.encode(&big);
    let capacity = encoder.capacity();
    assert_eq!(ours(&mut encoder, &small), oracle(&small, &resource));
    assert_eq!(
        encoder.capacity(),
        capacity,
        "the buffer is reused, not regrown"
    );
    assert_eq!(ours(&mut encoder, &big), oracle(&big, &resource));
}

#[test]
fn a_buffer_grown_by_a_huge_batch_is_not_kept() {
    let resource = resource();
    let mut encoder = Encoder::new(scope());
    encoder.set_resource(&resource);
    let huge: Vec<Finished> = (0..256)
        .map(|n| Finished::Ours(Box::new(full_record(n))))
        .collect();
    let _ = encoder.encode(&huge);
    assert!(encoder.capacity() > super::RETAINED_MAX);
    let small = [Finished::Ours(Box::new(bare_record()))];
    assert_eq!(ours(&mut encoder, &small), oracle(&small, &resource));
    assert!(encoder.capacity() < 64 * 1024, "{}", encoder.capacity());
}

#[test]
fn the_comparison_sees_a_wrong_field() {
    // The oracle comparison is not vacuous: one changed field makes it differ.
    let spans = [Finished::Ours(Box::new(full_record(1)))];
    let mut changed = full_record(1);
    changed.links[0].dropped_attributes_count += 1;
    let resource = resource();
    let mut encoder = Encoder::new(scope());
    encoder.set_resource(&resource);
    let ours = ours(&mut encoder, &[Finished::Ours(Box::new(changed))]);
    assert_ne!(ours, oracle(&spans, &resource));
}
