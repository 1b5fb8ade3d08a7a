//! Jaeger's thrift model (jaegertracing/jaeger-idl `thrift/jaeger.thrift`, agent messages from
//! `thrift/agent.thrift`) decoded and mapped to the store's [`SpanBatch`].
//!
//! Three transports carry it: a thrift **binary** `Batch` in an HTTP body (`POST /api/traces` on
//! 14268, see [`super::jaeger_http`]), and the agent's `emitBatch` oneway message in a UDP
//! datagram, thrift **compact** on 6831 and **binary** on 6832 (see [`super::udp`]).
//!
//! Decoding is bounded by the payload itself: the thrift readers get a [`TConfiguration`] whose
//! message, string and container limits are the payload's length, so a length field of 2^31
//! fails at once instead of allocating; nesting is capped at 64 structs; and the generated code
//! never sizes a vector from a declared count (see `thrift/generate.sh`).
//!
//! The thrift crate's generated code decodes into owned structs (a `String` per tag key and
//! value); the mapping then fills a [`SpanBatch`] that borrows every name, key and value from
//! them, so nothing is copied a second time on the way to the store. Tags the mapping reads as
//! text (status, scope, a log's `event`) are first turned into string tags in place
//! (`normalize`), which lets the batch borrow their text too.
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

use opentelemetry_semantic_conventions::attribute::{OPENTRACING_REF_TYPE, SERVICE_NAME};
use thrift::TConfiguration;
use thrift::protocol::{
    TBinaryInputProtocol, TCompactInputProtocol, TInputProtocol, TSerializable, TType,
};

use super::IngestError;
use super::foreign::{self, Groups, StatusTags, kind_from_name, micros_to_nanos};
use super::r#gen::jaeger;
use super::receiver::decode_error;
use crate::store::batch::{
    AnyValue, Event, KIND_INTERNAL, KeyValue, Link, Resource, Span, SpanBatch,
};
use crate::vocabulary::{
    self, OTEL_LIBRARY_NAME, OTEL_LIBRARY_VERSION, OTEL_SCOPE_NAME, OTEL_SCOPE_VERSION,
    OTEL_STATUS_CODE, OTEL_STATUS_DESCRIPTION, SPAN_KIND,
};

/// Attribute set on spans whose Jaeger flags carry the debug bit (2).
pub const DEBUG_ATTRIBUTE: &str = "tracer.jaeger.debug";

/// Name given to an event made from a Jaeger log without an `event` field.
pub const DEFAULT_EVENT_NAME: &str = "log";

/// Agent messages carry at most this many structs inside one another (the thrift crate's own
/// default; Jaeger's model nests three deep).
const MAX_DEPTH: usize = 64;

/// The two thrift encodings Jaeger clients use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// `TBinaryProtocol` (HTTP 14268, agent 6832).
    Binary,
    /// `TCompactProtocol` (agent 6831).
    Compact,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Binary => "thrift binary",
            Protocol::Compact => "thrift compact",
        }
    }
}

/// Limits that keep a reader within `len` bytes of payload.
fn config(len: usize) -> TConfiguration {
    TConfiguration::builder()
        .max_message_size(Some(len))
        .max_frame_size(Some(len))
        .max_string_size(Some(len))
        .max_container_size(Some(len))
        .max_recursion_depth(Some(MAX_DEPTH))
        .build()
        .unwrap_or_default()
}

/// A thrift reader over `payload`, bounded by [`config`].
pub(crate) fn reader<'a>(payload: &'a [u8], protocol: Protocol) -> Box<dyn TInputProtocol + 'a> {
    let config = config(payload.len());
    match protocol {
        Protocol::Binary => Box::new(TBinaryInputProtocol::with_config(payload, false, config)),
        Protocol::Compact => Box::new(TCompactInputProtocol::with_config(payload, config)),
    }
}

/// Decodes a bare `Batch` struct (the body of `POST /api/traces`).
pub(crate) fn decode_batch(
    payload: &[u8],
    protocol: Protocol,
) -> Result<jaeger::Batch, IngestError> {
    let mut input = reader(payload, protocol);
    jaeger::Batch::read_from_in_protocol(&mut *input).map_err(|e| decode_error(protocol.name(), e))
}

/// Decodes an agent `emitBatch` message (a UDP datagram) into its `Batch`.
pub(crate) fn decode_emit_batch(
    payload: &[u8],
    protocol: Protocol,
) -> Result<jaeger::Batch, IngestError> {
    let mut input = reader(payload, protocol);
    let input = &mut *input;
    let bad = |e: thrift::Error| decode_error(protocol.name(), e);
    let message = input.read_message_begin().map_err(bad)?;
    if message.name != "emitBatch" {
        return Err(decode_error(
            protocol.name(),
            format!(
                "agent message {:?} is not supported (only emitBatch)",
                message.name
            ),
        ));
    }
    // `Agent.emitBatch_args { 1: jaeger.Batch batch }`, read here because the generated
    // argument struct is private to the generated module.
    input.read_struct_begin().map_err(bad)?;
    let mut batch = None;
    loop {
        let field = input.read_field_begin().map_err(bad)?;
        if field.field_type == TType::Stop {
            break;
        }
        if field.id == Some(1) && field.field_type == TType::Struct {
            batch = Some(jaeger::Batch::read_from_in_protocol(input).map_err(bad)?);
        } else {
            input.skip(field.field_type).map_err(bad)?;
        }
        input.read_field_end().map_err(bad)?;
    }
    input.read_struct_end().map_err(bad)?;
    input.read_message_end().map_err(bad)?;
    batch.ok_or_else(|| decode_error(protocol.name(), "emitBatch without a batch"))
}

/// Decodes a thrift binary `Batch` (the HTTP receiver's format), ready to map.
pub(crate) fn decode_binary_batch(payload: &[u8]) -> Result<jaeger::Batch, IngestError> {
    decode_batch(payload, Protocol::Binary).map(normalized)
}

/// Decodes a compact `emitBatch` datagram, ready to map.
pub(crate) fn decode_compact_datagram(payload: &[u8]) -> Result<jaeger::Batch, IngestError> {
    decode_emit_batch(payload, Protocol::Compact).map(normalized)
}

/// Decodes a binary `emitBatch` datagram, ready to map.
pub(crate) fn decode_binary_datagram(payload: &[u8]) -> Result<jaeger::Batch, IngestError> {
    decode_emit_batch(payload, Protocol::Binary).map(normalized)
}

fn normalized(mut batch: jaeger::Batch) -> jaeger::Batch {
    batch.spans.iter_mut().for_each(normalize);
    batch
}

/// Whether a tag's value is read as its `vStr` (STRING, and unknown types, as Jaeger's own
/// collector does).
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
/// text, so the mapping can borrow it; the tags turned are never kept as attributes.
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

/// Prepares a decoded span for [`push_span`]: the tags read as text become string tags.
pub(crate) fn normalize(span: &mut jaeger::Span) {
    for tag in span.tags.iter_mut().flatten() {
        if matches!(
            tag.key.as_str(),
            vocabulary::ERROR
                | OTEL_STATUS_CODE
                | OTEL_STATUS_DESCRIPTION
                | OTEL_SCOPE_NAME
                | OTEL_LIBRARY_NAME
                | OTEL_SCOPE_VERSION
                | OTEL_LIBRARY_VERSION
        ) {
            as_text(tag);
        }
    }
    for log in span.logs.iter_mut().flatten() {
        if let Some(event) = log.fields.iter_mut().find(|f| f.key == vocabulary::EVENT) {
            as_text(event);
        }
    }
}

fn trace_id(high: i64, low: i64) -> u128 {
    (u128::from(high as u64) << 64) | u128::from(low as u64)
}

fn tag_value(tag: &jaeger::Tag) -> AnyValue<'_> {
    match tag.v_type {
        jaeger::TagType::DOUBLE => AnyValue::Double(tag.v_double.map_or(0.0, |d| d.0)),
        jaeger::TagType::BOOL => AnyValue::Bool(tag.v_bool.unwrap_or(false)),
        jaeger::TagType::LONG => AnyValue::Int(tag.v_long.unwrap_or(0)),
        jaeger::TagType::BINARY => AnyValue::Bytes(tag.v_binary.as_deref().unwrap_or_default()),
        // STRING, and unknown types read as their string (Jaeger's own collector does likewise).
        _ => AnyValue::Str(tag.v_str.as_deref().unwrap_or_default()),
    }
}

/// The text of a tag [`normalize`] turned into a string tag.
fn tag_text(tag: &jaeger::Tag) -> &str {
    if is_text(tag) {
        tag.v_str.as_deref().unwrap_or_default()
    } else {
        ""
    }
}

fn push_tags<'a>(batch: &mut SpanBatch<'a>, tags: &'a [jaeger::Tag]) {
    batch.attributes.extend(tags.iter().map(|t| KeyValue {
        key: &t.key,
        value: tag_value(t),
    }));
}

/// Fills `out` (cleared first) with a decoded (and [`normalize`]d) thrift batch, borrowing
/// from it: one resource, the process.
pub(crate) fn fill<'a>(batch: &'a jaeger::Batch, out: &mut SpanBatch<'a>) {
    out.clear();
    out.spans.reserve(batch.spans.len());
    let resource = push_process(out, &batch.process);
    let mut groups = Groups::default();
    for span in &batch.spans {
        push_span(out, &mut groups, span, resource, None);
    }
}

/// Pushes the resource of a process (`service.name` and the process tags); its index.
pub(crate) fn push_process<'a>(batch: &mut SpanBatch<'a>, process: &'a jaeger::Process) -> u32 {
    let start = batch.attributes.len();
    batch.attributes.push(KeyValue {
        key: SERVICE_NAME,
        value: AnyValue::Str(&process.service_name),
    });
    push_tags(batch, process.tags.as_deref().unwrap_or_default());
    let attributes = batch.attributes_since(start);
    batch.resources.push(Resource {
        service: &process.service_name,
        attributes,
        dropped_attributes: 0,
    });
    (batch.resources.len() - 1) as u32
}

/// A span's times to the nanosecond, for a model finer than thrift's microseconds (Jaeger
/// protobuf): start, end, and one time per log in order.
pub(crate) struct Nanos<'t> {
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) logs: &'t [u64],
}

/// Maps one (normalized) span under `resource`, or counts it rejected. Shared with the Jaeger
/// protobuf receiver ([`super::jaeger_proto`]), which passes its own times.
pub(crate) fn push_span<'a>(
    batch: &mut SpanBatch<'a>,
    groups: &mut Groups<'a>,
    s: &'a jaeger::Span,
    resource: u32,
    nanos: Option<&Nanos<'_>>,
) {
    let mark = batch.mark();
    let trace = trace_id(s.trace_id_high, s.trace_id_low);
    let mut parent = s.parent_span_id as u64;
    let references = s.references.as_deref().unwrap_or_default();
    let is_parent = |r: &jaeger::SpanRef| {
        r.ref_type == jaeger::SpanRefType::CHILD_OF
            && r.trace_id_high == s.trace_id_high
            && r.trace_id_low == s.trace_id_low
    };
    if parent == 0
        && let Some(r) = references.iter().find(|r| is_parent(r))
    {
        parent = r.span_id as u64;
    }

    let mut kind = KIND_INTERNAL;
    let mut status = StatusTags::default();
    let (mut scope_name, mut scope_version) = ("", "");
    let attrs_start = batch.attributes.len();
    for tag in s.tags.as_deref().unwrap_or_default() {
        match tag.key.as_str() {
            SPAN_KIND => match kind_from_name(tag_text(tag)) {
                Some(k) => kind = k,
                None => batch.attributes.push(KeyValue {
                    key: &tag.key,
                    value: tag_value(tag),
                }),
            },
            vocabulary::ERROR => status.error_text(tag_text(tag)),
            OTEL_STATUS_CODE => status.code = Some(tag_text(tag)),
            OTEL_STATUS_DESCRIPTION => status.description = Some(tag_text(tag)),
            OTEL_SCOPE_NAME | OTEL_LIBRARY_NAME => scope_name = tag_text(tag),
            OTEL_SCOPE_VERSION | OTEL_LIBRARY_VERSION => scope_version = tag_text(tag),
            _ => batch.attributes.push(KeyValue {
                key: &tag.key,
                value: tag_value(tag),
            }),
        }
    }
    if s.flags & 2 != 0 {
        batch.attributes.push(KeyValue {
            key: DEBUG_ATTRIBUTE,
            value: AnyValue::Bool(true),
        });
    }
    let attributes = batch.attributes_since(attrs_start);

    let events_start = batch.events.len();
    for (i, log) in s.logs.as_deref().unwrap_or_default().iter().enumerate() {
        let mut name = None;
        let start = batch.attributes.len();
        for field in &log.fields {
            if field.key == vocabulary::EVENT && name.is_none() {
                name = Some(tag_text(field));
            } else {
                batch.attributes.push(KeyValue {
                    key: &field.key,
                    value: tag_value(field),
                });
            }
        }
        let time_ns = match nanos {
            Some(n) => n.logs.get(i).copied().unwrap_or(0),
            None => micros_to_nanos(log.timestamp),
        };
        let attributes = batch.attributes_since(start);
        batch.events.push(Event {
            time_ns,
            name: name.unwrap_or(DEFAULT_EVENT_NAME),
            attributes,
            dropped_attributes: 0,
        });
    }
    let events = batch.events_since(events_start);

    let links_start = batch.links.len();
    for r in references {
        if is_parent(r) && r.span_id as u64 == parent {
            continue; // the parent (taken from here, or repeated here as Jaeger clients do)
        }
        let ref_type = if r.ref_type == jaeger::SpanRefType::CHILD_OF {
            "child_of"
        } else {
            "follows_from"
        };
        let start = batch.attributes.len();
        batch.attributes.push(KeyValue {
            key: OPENTRACING_REF_TYPE,
            value: AnyValue::Str(ref_type),
        });
        let attributes = batch.attributes_since(start);
        batch.links.push(Link {
            trace_id: trace_id(r.trace_id_high, r.trace_id_low),
            span_id: r.span_id as u64,
            attributes,
            ..Link::default()
        });
    }
    let links = batch.links_since(links_start);

    let (start_ns, end_ns) = match nanos {
        Some(n) => (n.start, n.end),
        None => {
            let start = micros_to_nanos(s.start_time);
            (start, start.saturating_add(micros_to_nanos(s.duration)))
        }
    };
    let (status, status_message) = status.status();
    let scope = groups.scope(batch, scope_name, scope_version);
    let span = Span {
        resource,
        scope,
        trace_id: trace,
        span_id: s.span_id as u64,
        parent_span_id: parent,
        flags: (s.flags & 1) as u32,
        name: &s.operation_name,
        kind,
        start_ns,
        end_ns,
        status,
        status_message,
        attributes,
        events,
        links,
        ..Span::default()
    };
    foreign::push_span(batch, mark, span);
}

#[cfg(test)]
mod tests {
    use super::*;
    use thrift::protocol::{TCompactOutputProtocol, TOutputProtocol};

    fn sample() -> jaeger::Batch {
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
                tags: None,
                logs: None,
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
    fn a_compact_emit_batch_decodes() {
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
        assert_eq!(batch, sample());
        for cut in 0..out.len() {
            assert!(decode_emit_batch(&out[..cut], Protocol::Compact).is_err());
        }
    }
}
