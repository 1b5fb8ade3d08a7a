//! Jaeger's thrift model (jaegertracing/jaeger-idl `thrift/jaeger.thrift`, agent messages from
//! `thrift/agent.thrift`) decoded and mapped to the store's [`SpanBatch`].
//!
//! Three transports carry it: a thrift **binary** `Batch` in an HTTP body (`POST /api/traces` on
//! 14268, see [`super::jaeger_http`]), and the agent's `emitBatch` oneway message in a UDP
//! datagram, thrift **compact** on 6831 and **binary** on 6832 (see [`super::udp`]).
//!
//! Decoding reads the payload in place (`ingest::thrift_wire`, the struct walkers in `model`):
//! every name, key, string and binary value is a slice of the payload, and a batch's tags,
//! logs and references are three vectors the spans hold ranges of, so nothing is allocated per
//! field and nothing is freed per field once the spans are stored. The mapping then fills a
//! [`SpanBatch`] borrowing the same slices. Bounds are the reader's: lengths and counts never
//! beyond the bytes left, no allocation sized from a declared count, nesting capped at 64,
//! unknown fields skipped within the same bounds; required fields are checked as the thrift
//! crate's generated readers check them. Tags the mapping reads as text (status, scope, a
//! log's `event`) are made text as they are read (a bool its name, a number its decimal text).
//!
//! **Why not the `thrift` crate** (house rule: our own code only for a measured >= 3x gain).
//! Its generated code decodes into owned structs, a `String` per tag key and value, and
//! dropping them again cost as much as a fifth of the path. Measured on the same 16,384 spans
//! (`benches/ingest_callgrind.rs`, `INGEST_FORMAT=jaeger_compact`, callgrind instructions;
//! `docs/bench/collector.md`), decode + map only (the store's part is the same in both):
//!
//! | path | decode + map (+ drop) | per span | whole path with the store |
//! |---|---|---|---|
//! | thrift crate (main at `b402a05`) | 727.2 M | 44,385 | 865.5 M |
//! | this reader | 236.4 M | 14,430 | 374.7 M |
//!
//! 3.08x fewer instructions for decode + map (2.31x for the whole path, whose store part is
//! unchanged); in thread CPU time (`benches/receivers.rs`, same run, loaded machine) the whole
//! path went from 105k-168k to 273k-423k spans per CPU-second (best of 7, four runs).
//!
//! The generated model (`ingest::gen::jaeger`) remains what the Jaeger protobuf receiver lowers
//! to ([`super::jaeger_proto`]), viewed as this module's borrowed `Batch` for the mapping.
//!
//! # Mapping (as the OpenTelemetry Collector's Jaeger receiver does, where it says)
//! The batch follows OTLP's model (the store's), so the table names OTLP's fields.
//!
//! | Jaeger | OTLP |
//! |---|---|
//! | `traceIdHigh`, `traceIdLow` | trace id, high 8 bytes then low (a 64-bit id has high 0) |
//! | `spanId`, `parentSpanId` (0 = none) | span id, parent span id |
//! | first `CHILD_OF` reference (same trace), when `parentSpanId` is 0 | parent span id |
//! | `FOLLOWS_FROM` and further references | links with `opentracing.ref_type` (`follows_from`/`child_of`) |
//! | `flags` bit 1 (sampled) | span flags bit 0; bit 2 (debug) -> `tracer.jaeger.debug=true` |
//! | `operationName`, `startTime` + `duration` (µs) | name, start and end (ns) |
//! | tags (string, double, bool, long, binary) | attributes of the same type |
//! | `span.kind` tag | kind (none: INTERNAL), tag removed |
//! | `error`, `otel.status_code`, `otel.status_description` tags | status, tags removed |
//! | `otel.scope.name`/`.version` (or `otel.library.*`) tags | instrumentation scope, removed |
//! | logs | events at their timestamp; the `event` field is the name (else `log`), the other fields attributes |
//! | `process.serviceName`, process tags | resource `service.name` and attributes |

mod model;

use opentelemetry_semantic_conventions::attribute::{OPENTRACING_REF_TYPE, SERVICE_NAME};

use super::IngestError;
use super::foreign::{self, Groups, StatusTags, kind_from_name, micros_to_nanos};
use super::r#gen::jaeger;
use super::receiver::decode_error;
pub(crate) use super::thrift_wire::Protocol;
use super::thrift_wire::Reader;
use crate::store::batch::{
    AnyValue, Event, KIND_INTERNAL, KeyValue, Link, Resource, Span as BatchSpan, SpanBatch,
};
use crate::vocabulary::{
    self, OTEL_LIBRARY_NAME, OTEL_LIBRARY_VERSION, OTEL_SCOPE_NAME, OTEL_SCOPE_VERSION,
    OTEL_STATUS_CODE, OTEL_STATUS_DESCRIPTION, SPAN_KIND,
};
pub(crate) use model::{Batch, Log, Process, Span, SpanRef, Tag, Value};

/// Attribute set on spans whose Jaeger flags carry the debug bit (2).
pub const DEBUG_ATTRIBUTE: &str = "tracer.jaeger.debug";

/// Name given to an event made from a Jaeger log without an `event` field.
pub const DEFAULT_EVENT_NAME: &str = "log";

/// Decodes a bare `Batch` struct (the body of `POST /api/traces`).
pub(crate) fn decode_batch(payload: &[u8], protocol: Protocol) -> Result<Batch<'_>, IngestError> {
    Batch::read(&mut Reader::new(payload, protocol)).map_err(|e| decode_error(protocol.name(), e))
}

/// Decodes an agent `emitBatch` message (a UDP datagram) into its `Batch`.
pub(crate) fn decode_emit_batch(
    payload: &[u8],
    protocol: Protocol,
) -> Result<Batch<'_>, IngestError> {
    Batch::read_emit_batch(&mut Reader::new(payload, protocol))
        .map_err(|e| decode_error(protocol.name(), e))
}

/// Decodes a thrift binary `Batch` (the HTTP receiver's format), ready to map.
pub(crate) fn decode_binary_batch(payload: &[u8]) -> Result<Batch<'_>, IngestError> {
    decode_batch(payload, Protocol::Binary)
}

/// Decodes a compact `emitBatch` datagram, ready to map.
pub(crate) fn decode_compact_datagram(payload: &[u8]) -> Result<Batch<'_>, IngestError> {
    decode_emit_batch(payload, Protocol::Compact)
}

/// Decodes a binary `emitBatch` datagram, ready to map.
pub(crate) fn decode_binary_datagram(payload: &[u8]) -> Result<Batch<'_>, IngestError> {
    decode_emit_batch(payload, Protocol::Binary)
}

/// Whether a generated-model tag's value is read as its `vStr` (STRING, and unknown types).
fn is_text(tag: &jaeger::Tag) -> bool {
    !matches!(
        tag.v_type,
        jaeger::TagType::DOUBLE
            | jaeger::TagType::BOOL
            | jaeger::TagType::LONG
            | jaeger::TagType::BINARY
    )
}

/// Turns a tag that is read as text (status, scope, a log's `event`) into a string tag of that
/// text; the tags turned are never kept as attributes.
fn as_text(tag: &mut jaeger::Tag) {
    if is_text(tag) {
        return;
    }
    let text = match tag.v_type {
        jaeger::TagType::DOUBLE => tag.v_double.map_or(0.0, |d| d.0).to_string(),
        jaeger::TagType::BOOL => tag.v_bool.unwrap_or(false).to_string(),
        jaeger::TagType::LONG => tag.v_long.unwrap_or(0).to_string(),
        _ => String::new(),
    };
    tag.v_type = jaeger::TagType::STRING;
    tag.v_str = Some(text);
}

/// Prepares a span of the generated model (the Jaeger protobuf receiver lowers to it) for
/// Whether the mapping reads tag `key` as text (status, scope): such a tag of another type is
/// turned into a string tag first, so the batch can borrow its text.
pub(crate) fn read_as_text(key: &str) -> bool {
    matches!(
        key,
        vocabulary::ERROR
            | OTEL_STATUS_CODE
            | OTEL_STATUS_DESCRIPTION
            | OTEL_SCOPE_NAME
            | OTEL_LIBRARY_NAME
            | OTEL_SCOPE_VERSION
            | OTEL_LIBRARY_VERSION
    )
}

/// [`view_tag`]: the tags read as text become string tags, as [`Batch`] does while reading.
pub(crate) fn normalize(span: &mut jaeger::Span) {
    for tag in span.tags.iter_mut().flatten() {
        if read_as_text(&tag.key) {
            as_text(tag);
        }
    }
    for log in span.logs.iter_mut().flatten() {
        if let Some(event) = log.fields.iter_mut().find(|f| f.key == vocabulary::EVENT) {
            as_text(event);
        }
    }
}

/// A tag of the generated model (after [`normalize`]) as a borrowed [`Tag`].
pub(crate) fn view_tag(tag: &jaeger::Tag) -> Tag<'_> {
    let value = match tag.v_type {
        jaeger::TagType::DOUBLE => Value::Double(tag.v_double.map_or(0.0, |d| d.0)),
        jaeger::TagType::BOOL => Value::Bool(tag.v_bool.unwrap_or(false)),
        jaeger::TagType::LONG => Value::Long(tag.v_long.unwrap_or(0)),
        jaeger::TagType::BINARY => Value::Binary(tag.v_binary.as_deref().unwrap_or_default()),
        _ => Value::Str(tag.v_str.as_deref().unwrap_or_default()),
    };
    Tag {
        key: &tag.key,
        value,
    }
}

fn trace_id(high: i64, low: i64) -> u128 {
    (u128::from(high as u64) << 64) | u128::from(low as u64)
}

/// What a mapping reads a [`Batch`]'s tags with: the batch and the texts its
/// [`Value::Text`]s index (borrowed for as long as the store's batch).
#[derive(Clone, Copy)]
pub(crate) struct Lists<'b, 'a> {
    pub(crate) batch: &'b Batch<'a>,
    pub(crate) texts: &'a [String],
}

impl<'a> Lists<'_, 'a> {
    fn tags(&self, range: &std::ops::Range<u32>) -> &[Tag<'a>] {
        self.batch
            .tags
            .get(range.start as usize..range.end as usize)
            .unwrap_or_default()
    }

    fn value(&self, tag: &Tag<'a>) -> AnyValue<'a> {
        match tag.value {
            Value::Double(d) => AnyValue::Double(d),
            Value::Bool(b) => AnyValue::Bool(b),
            Value::Long(l) => AnyValue::Int(l),
            Value::Binary(b) => AnyValue::Bytes(b),
            Value::Str(s) => AnyValue::Str(s),
            Value::Text(i) => AnyValue::Str(self.text_at(i)),
        }
    }

    fn text_at(&self, i: u32) -> &'a str {
        self.texts.get(i as usize).map_or("", String::as_str)
    }

    /// The text of a tag read as text (made text while reading); empty for other values.
    fn text(&self, tag: &Tag<'a>) -> &'a str {
        match tag.value {
            Value::Str(s) => s,
            Value::Text(i) => self.text_at(i),
            _ => "",
        }
    }
}

/// Fills `out` (cleared first) with a decoded thrift batch, borrowing from it: one resource,
/// the process.
pub(crate) fn fill<'a>(batch: &'a Batch<'a>, out: &mut SpanBatch<'a>) {
    out.clear();
    out.spans.reserve(batch.spans.len());
    let lists = Lists {
        batch,
        texts: &batch.texts,
    };
    let resource = push_process(out, lists, &batch.process);
    let mut groups = Groups::default();
    for span in &batch.spans {
        push_span(out, &mut groups, lists, span, resource, None);
    }
}

/// Pushes the resource of a process (`service.name` and the process tags); its index.
pub(crate) fn push_process<'a>(
    out: &mut SpanBatch<'a>,
    lists: Lists<'_, 'a>,
    process: &Process<'a>,
) -> u32 {
    let start = out.attributes.len();
    out.attributes.push(KeyValue {
        key: SERVICE_NAME,
        value: AnyValue::Str(process.service_name),
    });
    out.attributes
        .extend(lists.tags(&process.tags).iter().map(|t| KeyValue {
            key: t.key,
            value: lists.value(t),
        }));
    let attributes = out.attributes_since(start);
    out.resources.push(Resource {
        service: process.service_name,
        attributes,
        dropped_attributes: 0,
    });
    (out.resources.len() - 1) as u32
}

/// A span's times to the nanosecond, for a model finer than thrift's microseconds (Jaeger
/// protobuf): start, end, and one time per log in order.
pub(crate) struct Nanos<'t> {
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) logs: &'t [u64],
}

/// Maps one span under `resource`, or counts it rejected. Shared with the Jaeger protobuf
/// receiver ([`super::jaeger_proto`]), which passes its own times.
pub(crate) fn push_span<'a>(
    out: &mut SpanBatch<'a>,
    groups: &mut Groups<'a>,
    lists: Lists<'_, 'a>,
    s: &Span<'a>,
    resource: u32,
    nanos: Option<&Nanos<'_>>,
) {
    let mark = out.mark();
    let trace = trace_id(s.trace_id_high, s.trace_id_low);
    let mut parent = s.parent_span_id as u64;
    let references = lists
        .batch
        .references
        .get(s.references.start as usize..s.references.end as usize)
        .unwrap_or_default();
    let is_parent = |r: &SpanRef| {
        r.child_of && r.trace_id_high == s.trace_id_high && r.trace_id_low == s.trace_id_low
    };
    if parent == 0
        && let Some(r) = references.iter().find(|r| is_parent(r))
    {
        parent = r.span_id as u64;
    }

    let mut kind = KIND_INTERNAL;
    let mut status = StatusTags::default();
    let (mut scope_name, mut scope_version) = ("", "");
    let attrs_start = out.attributes.len();
    for tag in lists.tags(&s.tags) {
        match tag.key {
            SPAN_KIND => match kind_from_name(lists.text(tag)) {
                Some(k) => kind = k,
                None => out.attributes.push(KeyValue {
                    key: tag.key,
                    value: lists.value(tag),
                }),
            },
            vocabulary::ERROR => status.error_text(lists.text(tag)),
            OTEL_STATUS_CODE => status.code = Some(lists.text(tag)),
            OTEL_STATUS_DESCRIPTION => status.description = Some(lists.text(tag)),
            OTEL_SCOPE_NAME | OTEL_LIBRARY_NAME => scope_name = lists.text(tag),
            OTEL_SCOPE_VERSION | OTEL_LIBRARY_VERSION => scope_version = lists.text(tag),
            _ => out.attributes.push(KeyValue {
                key: tag.key,
                value: lists.value(tag),
            }),
        }
    }
    if s.flags & 2 != 0 {
        out.attributes.push(KeyValue {
            key: DEBUG_ATTRIBUTE,
            value: AnyValue::Bool(true),
        });
    }
    let attributes = out.attributes_since(attrs_start);

    let events_start = out.events.len();
    let logs = lists
        .batch
        .logs
        .get(s.logs.start as usize..s.logs.end as usize)
        .unwrap_or_default();
    for (i, log) in logs.iter().enumerate() {
        let mut name = None;
        let start = out.attributes.len();
        for field in lists.tags(&log.fields) {
            if field.key == vocabulary::EVENT && name.is_none() {
                name = Some(lists.text(field));
            } else {
                out.attributes.push(KeyValue {
                    key: field.key,
                    value: lists.value(field),
                });
            }
        }
        let time_ns = match nanos {
            Some(n) => n.logs.get(i).copied().unwrap_or(0),
            None => micros_to_nanos(log.timestamp),
        };
        let attributes = out.attributes_since(start);
        out.events.push(Event {
            time_ns,
            name: name.unwrap_or(DEFAULT_EVENT_NAME),
            attributes,
            dropped_attributes: 0,
        });
    }
    let events = out.events_since(events_start);

    let links_start = out.links.len();
    for r in references {
        if is_parent(r) && r.span_id as u64 == parent {
            continue; // the parent (taken from here, or repeated here as Jaeger clients do)
        }
        let ref_type = if r.child_of {
            "child_of"
        } else {
            "follows_from"
        };
        let start = out.attributes.len();
        out.attributes.push(KeyValue {
            key: OPENTRACING_REF_TYPE,
            value: AnyValue::Str(ref_type),
        });
        let attributes = out.attributes_since(start);
        out.links.push(Link {
            trace_id: trace_id(r.trace_id_high, r.trace_id_low),
            span_id: r.span_id as u64,
            attributes,
            ..Link::default()
        });
    }
    let links = out.links_since(links_start);

    let (start_ns, end_ns) = match nanos {
        Some(n) => (n.start, n.end),
        None => {
            let start = micros_to_nanos(s.start_time);
            (start, start.saturating_add(micros_to_nanos(s.duration)))
        }
    };
    let (status, status_message) = status.status();
    let scope = groups.scope(out, scope_name, scope_version);
    let span = BatchSpan {
        resource,
        scope,
        trace_id: trace,
        span_id: s.span_id as u64,
        parent_span_id: parent,
        flags: (s.flags & 1) as u32,
        name: s.operation_name,
        kind,
        start_ns,
        end_ns,
        status,
        status_message,
        attributes,
        events,
        links,
        ..BatchSpan::default()
    };
    foreign::push_span(out, mark, span);
}

#[cfg(test)]
mod tests {
    use super::*;
    use thrift::protocol::{TCompactOutputProtocol, TOutputProtocol, TSerializable, TType};

    fn sample() -> jaeger::Batch {
        let tag = |key: &str, v_type, v_long| jaeger::Tag {
            key: key.into(),
            v_type,
            v_str: None,
            v_double: None,
            v_bool: None,
            v_long,
            v_binary: None,
        };
        jaeger::Batch {
            process: jaeger::Process {
                service_name: "svc".into(),
                tags: None,
            },
            spans: vec![jaeger::Span {
                trace_id_low: 1,
                trace_id_high: 0,
                span_id: 2,
                parent_span_id: 0,
                operation_name: "op".into(),
                references: None,
                flags: 1,
                start_time: 1_000,
                duration: 5,
                tags: Some(vec![
                    tag("otel.status_code", jaeger::TagType::STRING, None),
                    tag("otel.scope.version", jaeger::TagType::LONG, Some(7)),
                    tag("n", jaeger::TagType::LONG, Some(-3)),
                ]),
                logs: Some(vec![jaeger::Log {
                    timestamp: 1_001,
                    fields: vec![tag("event", jaeger::TagType::LONG, Some(42))],
                }]),
                incomplete: None,
            }],
        }
    }

    #[test]
    fn a_length_field_of_2_pow_31_fails_without_allocating() {
        // Batch { 1: Process { 1: serviceName = <string claiming 2^31 - 1 bytes> } }
        let payload = [0x0c, 0, 1, 0x0b, 0, 1, 0x7f, 0xff, 0xff, 0xff, b'x'];
        let err = decode_batch(&payload, Protocol::Binary).unwrap_err();
        assert!(err.to_string().contains("thrift binary"), "{err}");
        // Batch { 2: list<Span> claiming 2^31 - 1 elements }
        let payload = [0x0f, 0, 2, 0x0c, 0x7f, 0xff, 0xff, 0xff, 0];
        assert!(decode_batch(&payload, Protocol::Binary).is_err());
    }

    #[test]
    fn a_batch_without_its_required_fields_is_refused() {
        // Batch { 1: Process { } }: no serviceName.
        let err = decode_batch(&[0x0c, 0, 1, 0, 0], Protocol::Binary).unwrap_err();
        assert!(
            err.to_string()
                .contains("missing required field Process.serviceName"),
            "{err}"
        );
    }

    #[test]
    fn a_compact_emit_batch_decodes_and_numbers_read_as_text_become_text() {
        let mut out = Vec::new();
        {
            let mut p = TCompactOutputProtocol::new(&mut out);
            p.write_message_begin(&thrift::protocol::TMessageIdentifier::new(
                "emitBatch",
                thrift::protocol::TMessageType::OneWay,
                1,
            ))
            .unwrap();
            p.write_struct_begin(&thrift::protocol::TStructIdentifier::new("args"))
                .unwrap();
            p.write_field_begin(&thrift::protocol::TFieldIdentifier::new(
                "batch",
                TType::Struct,
                1,
            ))
            .unwrap();
            sample().write_to_out_protocol(&mut p).unwrap();
            p.write_field_end().unwrap();
            p.write_field_stop().unwrap();
            p.write_struct_end().unwrap();
            p.write_message_end().unwrap();
            p.flush().unwrap();
        }
        let batch = decode_emit_batch(&out, Protocol::Compact).unwrap();
        assert_eq!(batch.process.service_name, "svc");
        assert_eq!(batch.spans.len(), 1);
        let s = &batch.spans[0];
        assert_eq!(
            (s.trace_id_low, s.span_id, s.operation_name, s.start_time),
            (1, 2, "op", 1_000)
        );
        assert_eq!(batch.texts, ["42", "7"]);
        let mut mapped = SpanBatch::new();
        fill(&batch, &mut mapped);
        let span = &mapped.spans[0];
        assert_eq!(mapped.scopes[span.scope as usize].version, "7");
        assert_eq!(mapped.events_in(&span.events)[0].name, "42");
        let attrs = mapped.attributes_in(&span.attributes);
        assert_eq!(attrs.len(), 1);
        assert_eq!((attrs[0].key, attrs[0].value), ("n", AnyValue::Int(-3)));
        for cut in 0..out.len() {
            assert!(decode_emit_batch(&out[..cut], Protocol::Compact).is_err());
        }
    }
}
