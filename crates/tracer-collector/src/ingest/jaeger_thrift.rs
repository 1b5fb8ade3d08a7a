//! Jaeger's thrift model (jaegertracing/jaeger-idl `thrift/jaeger.thrift`, agent messages from
//! `thrift/agent.thrift`) decoded and mapped to OTLP.
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
//! # Mapping (as the OpenTelemetry Collector's Jaeger receiver does, where it says)
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

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{Span, span};
use opentelemetry_semantic_conventions::attribute::{OPENTRACING_REF_TYPE, SERVICE_NAME};
use thrift::TConfiguration;
use thrift::protocol::{
    TBinaryInputProtocol, TCompactInputProtocol, TInputProtocol, TSerializable, TType,
};

use super::IngestError;
use super::r#gen::jaeger;
use super::otlp_build::{
    BatchBuilder, KIND_INTERNAL, OTEL_LIBRARY_NAME, OTEL_LIBRARY_VERSION, OTEL_SCOPE_NAME,
    OTEL_SCOPE_VERSION, OTEL_STATUS_CODE, OTEL_STATUS_DESCRIPTION, SPAN_KIND_TAG, StatusTags,
    error_text_is_true, kind_from_name, kv, micros_to_nanos, string_kv,
};
use super::receiver::decode_error;
use crate::vocabulary;

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

/// Decodes a thrift binary `Batch` and maps it to OTLP (the HTTP receiver's conversion).
pub(crate) fn convert_binary_batch(
    payload: &[u8],
) -> Result<ExportTraceServiceRequest, IngestError> {
    decode_batch(payload, Protocol::Binary).map(|b| to_otlp(&b))
}

/// Decodes a compact `emitBatch` datagram and maps it to OTLP.
pub(crate) fn convert_compact_datagram(
    payload: &[u8],
) -> Result<ExportTraceServiceRequest, IngestError> {
    decode_emit_batch(payload, Protocol::Compact).map(|b| to_otlp(&b))
}

/// Decodes a binary `emitBatch` datagram and maps it to OTLP.
pub(crate) fn convert_binary_datagram(
    payload: &[u8],
) -> Result<ExportTraceServiceRequest, IngestError> {
    decode_emit_batch(payload, Protocol::Binary).map(|b| to_otlp(&b))
}

fn trace_id(high: i64, low: i64) -> Vec<u8> {
    let mut id = Vec::with_capacity(16);
    id.extend_from_slice(&high.to_be_bytes());
    id.extend_from_slice(&low.to_be_bytes());
    id
}

fn tag_value(tag: &jaeger::Tag) -> any_value::Value {
    use any_value::Value;
    match tag.v_type {
        jaeger::TagType::DOUBLE => Value::DoubleValue(tag.v_double.map_or(0.0, |d| d.0)),
        jaeger::TagType::BOOL => Value::BoolValue(tag.v_bool.unwrap_or(false)),
        jaeger::TagType::LONG => Value::IntValue(tag.v_long.unwrap_or(0)),
        jaeger::TagType::BINARY => Value::BytesValue(tag.v_binary.clone().unwrap_or_default()),
        // STRING, and unknown types read as their string (Jaeger's own collector does likewise).
        _ => Value::StringValue(tag.v_str.clone().unwrap_or_default()),
    }
}

fn tag_text(tag: &jaeger::Tag) -> String {
    match tag_value(tag) {
        any_value::Value::StringValue(s) => s,
        any_value::Value::BoolValue(b) => b.to_string(),
        any_value::Value::IntValue(i) => i.to_string(),
        any_value::Value::DoubleValue(d) => d.to_string(),
        _ => String::new(),
    }
}

fn attributes(tags: &[jaeger::Tag]) -> Vec<KeyValue> {
    tags.iter()
        .map(|t| kv(t.key.clone(), tag_value(t)))
        .collect()
}

/// Maps a decoded batch to one OTLP request (one resource: the batch's process).
pub(crate) fn to_otlp(batch: &jaeger::Batch) -> ExportTraceServiceRequest {
    let resource = resource(&batch.process);
    let mut builder = BatchBuilder::default();
    for span in &batch.spans {
        let (scope, otlp) = convert_span(span);
        builder.push(&resource, (&scope.0, &scope.1), otlp);
    }
    builder.finish()
}

/// The resource attributes of a process: `service.name` and the process tags.
pub(crate) fn resource(process: &jaeger::Process) -> Vec<KeyValue> {
    let mut resource = vec![string_kv(SERVICE_NAME, process.service_name.clone())];
    resource.extend(attributes(process.tags.as_deref().unwrap_or_default()));
    resource
}

/// Maps one span; returns its instrumentation scope (name, version; empty when no tag names
/// one) and the OTLP span. Shared with the Jaeger protobuf receiver ([`super::jaeger_proto`]).
pub(crate) fn convert_span(s: &jaeger::Span) -> ((String, String), Span) {
    let trace = trace_id(s.trace_id_high, s.trace_id_low);
    let mut parent = (s.parent_span_id != 0).then(|| s.parent_span_id.to_be_bytes().to_vec());
    let mut links = Vec::new();
    for r in s.references.as_deref().unwrap_or_default() {
        let same_trace = r.trace_id_high == s.trace_id_high && r.trace_id_low == s.trace_id_low;
        let child_of = r.ref_type == jaeger::SpanRefType::CHILD_OF;
        if child_of && same_trace && parent.is_none() {
            parent = Some(r.span_id.to_be_bytes().to_vec());
            continue;
        }
        if child_of && same_trace && parent.as_deref() == Some(&r.span_id.to_be_bytes()[..]) {
            continue; // the parent, repeated as a reference (Jaeger clients do this)
        }
        let ref_type = if child_of { "child_of" } else { "follows_from" };
        links.push(span::Link {
            trace_id: trace_id(r.trace_id_high, r.trace_id_low),
            span_id: r.span_id.to_be_bytes().to_vec(),
            attributes: vec![string_kv(OPENTRACING_REF_TYPE, ref_type)],
            ..Default::default()
        });
    }

    let mut kind = KIND_INTERNAL;
    let mut status = StatusTags::default();
    let mut scope = (String::new(), String::new());
    let mut attrs = Vec::new();
    for tag in s.tags.as_deref().unwrap_or_default() {
        match tag.key.as_str() {
            SPAN_KIND_TAG => match kind_from_name(&tag_text(tag)) {
                Some(k) => kind = k,
                None => attrs.push(kv(tag.key.clone(), tag_value(tag))),
            },
            vocabulary::ERROR => {
                let text = tag_text(tag);
                if error_text_is_true(&text) {
                    status.error = Some(if text == "true" { String::new() } else { text });
                }
            }
            OTEL_STATUS_CODE => status.code = Some(tag_text(tag).to_ascii_uppercase()),
            OTEL_STATUS_DESCRIPTION => status.description = Some(tag_text(tag)),
            OTEL_SCOPE_NAME | OTEL_LIBRARY_NAME => scope.0 = tag_text(tag),
            OTEL_SCOPE_VERSION | OTEL_LIBRARY_VERSION => scope.1 = tag_text(tag),
            _ => attrs.push(kv(tag.key.clone(), tag_value(tag))),
        }
    }
    if s.flags & 2 != 0 {
        attrs.push(kv(DEBUG_ATTRIBUTE, any_value::Value::BoolValue(true)));
    }

    let events = s
        .logs
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|log| {
            let mut name = None;
            let mut attributes = Vec::with_capacity(log.fields.len());
            for field in &log.fields {
                if field.key == vocabulary::EVENT && name.is_none() {
                    name = Some(tag_text(field));
                } else {
                    attributes.push(kv(field.key.clone(), tag_value(field)));
                }
            }
            span::Event {
                time_unix_nano: micros_to_nanos(log.timestamp),
                name: name.unwrap_or_else(|| DEFAULT_EVENT_NAME.to_owned()),
                attributes,
                dropped_attributes_count: 0,
            }
        })
        .collect();

    let start = micros_to_nanos(s.start_time);
    let span = Span {
        trace_id: trace,
        span_id: s.span_id.to_be_bytes().to_vec(),
        parent_span_id: parent.unwrap_or_default(),
        flags: (s.flags & 1) as u32,
        name: s.operation_name.clone(),
        kind,
        start_time_unix_nano: start,
        end_time_unix_nano: start.saturating_add(micros_to_nanos(s.duration)),
        attributes: attrs,
        events,
        links,
        status: status.status(),
        ..Default::default()
    };
    (scope, span)
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
