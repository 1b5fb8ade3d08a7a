//! A [`SpanBatch`] back to an OTLP `ExportTraceServiceRequest`, for the forwarder.
//!
//! The forwarder ([`crate::forward`]) and its tail sampler take OTLP protobuf bytes. An OTLP
//! protobuf export is forwarded as it arrived, OTLP/JSON from its prost request; spans that
//! arrived as Jaeger or Zipkin exist only as the batch their decoder filled, so they are encoded
//! from it here: the spans grouped under their resource and
//! scope (one `ResourceSpans` per resource, one `ScopeSpans` per resource and scope, in the
//! order they first appear), every field as the batch holds it. Decoding the bytes again
//! ([`super::protobuf`]) yields the same batch, up to that grouping.
//!
//! The request is built with the prost types and encoded by prost: this runs only when a
//! forwarder is configured (see [`crate::ingest`]), so it is not on the path whose speed the
//! benchmarks measure.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue as OtlpAnyValue, ArrayValue, InstrumentationScope, KeyValue as OtlpKeyValue,
    KeyValueList, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use prost::Message;

use crate::store::batch::{AnyValue, KeyValue, SpanBatch};

/// The protobuf bytes of [`to_request`].
pub fn encode(batch: &SpanBatch<'_>) -> Vec<u8> {
    to_request(batch).encode_to_vec()
}

/// The export request holding every span of `batch` (its rejected spans are not in it).
pub fn to_request(batch: &SpanBatch<'_>) -> ExportTraceServiceRequest {
    // (batch resource index, its ResourceSpans); scopes found by (batch scope index).
    let mut resources: Vec<(u32, ResourceSpans, Vec<u32>)> = Vec::new();
    for s in &batch.spans {
        let ri = match resources.iter().position(|(r, ..)| *r == s.resource) {
            Some(i) => i,
            None => {
                resources.push((s.resource, resource_spans(batch, s.resource), Vec::new()));
                resources.len() - 1
            }
        };
        let (_, rs, scopes) = &mut resources[ri];
        let si = match scopes.iter().position(|&sc| sc == s.scope) {
            Some(i) => i,
            None => {
                scopes.push(s.scope);
                rs.scope_spans.push(scope_spans(batch, s.scope));
                scopes.len() - 1
            }
        };
        let status = (s.status != 0 || !s.status_message.is_empty()).then(|| Status {
            message: s.status_message.to_owned(),
            code: i32::from(s.status),
        });
        rs.scope_spans[si].spans.push(Span {
            trace_id: s.trace_id.to_be_bytes().to_vec(),
            span_id: s.span_id.to_be_bytes().to_vec(),
            trace_state: s.trace_state.to_owned(),
            parent_span_id: if s.parent_span_id == 0 {
                Vec::new()
            } else {
                s.parent_span_id.to_be_bytes().to_vec()
            },
            flags: s.flags,
            name: s.name.to_owned(),
            kind: i32::from(s.kind),
            start_time_unix_nano: s.start_ns,
            end_time_unix_nano: s.end_ns,
            attributes: attributes(batch, batch.attributes_in(&s.attributes)),
            dropped_attributes_count: s.dropped_attributes,
            events: batch
                .events_in(&s.events)
                .iter()
                .map(|e| span::Event {
                    time_unix_nano: e.time_ns,
                    name: e.name.to_owned(),
                    attributes: attributes(batch, batch.attributes_in(&e.attributes)),
                    dropped_attributes_count: e.dropped_attributes,
                })
                .collect(),
            dropped_events_count: s.dropped_events,
            links: batch
                .links_in(&s.links)
                .iter()
                .map(|l| span::Link {
                    trace_id: l.trace_id.to_be_bytes().to_vec(),
                    span_id: l.span_id.to_be_bytes().to_vec(),
                    trace_state: l.trace_state.to_owned(),
                    attributes: attributes(batch, batch.attributes_in(&l.attributes)),
                    dropped_attributes_count: l.dropped_attributes,
                    flags: l.flags,
                })
                .collect(),
            dropped_links_count: s.dropped_links,
            status,
        });
    }
    ExportTraceServiceRequest {
        resource_spans: resources.into_iter().map(|(_, rs, _)| rs).collect(),
    }
}

fn resource_spans(batch: &SpanBatch<'_>, index: u32) -> ResourceSpans {
    let resource = batch.resources.get(index as usize).map(|r| Resource {
        attributes: attributes(batch, batch.attributes_in(&r.attributes)),
        dropped_attributes_count: r.dropped_attributes,
        entity_refs: Vec::new(),
    });
    ResourceSpans {
        resource,
        scope_spans: Vec::new(),
        schema_url: String::new(),
    }
}

fn scope_spans(batch: &SpanBatch<'_>, index: u32) -> ScopeSpans {
    let scope = batch.scopes.get(index as usize).and_then(|s| {
        let empty = s.name.is_empty()
            && s.version.is_empty()
            && s.attributes.is_empty()
            && s.dropped_attributes == 0;
        (!empty).then(|| InstrumentationScope {
            name: s.name.to_owned(),
            version: s.version.to_owned(),
            attributes: attributes(batch, batch.attributes_in(&s.attributes)),
            dropped_attributes_count: s.dropped_attributes,
        })
    });
    ScopeSpans {
        scope,
        spans: Vec::new(),
        schema_url: String::new(),
    }
}

fn attributes(batch: &SpanBatch<'_>, attributes: &[KeyValue<'_>]) -> Vec<OtlpKeyValue> {
    attributes.iter().map(|kv| key_value(batch, kv)).collect()
}

fn key_value(batch: &SpanBatch<'_>, kv: &KeyValue<'_>) -> OtlpKeyValue {
    OtlpKeyValue {
        key: kv.key.to_owned(),
        value: Some(value(batch, &kv.value)),
        key_strindex: 0,
    }
}

fn value(batch: &SpanBatch<'_>, v: &AnyValue<'_>) -> OtlpAnyValue {
    use any_value::Value;
    let value = match *v {
        AnyValue::Str(s) => Value::StringValue(s.to_owned()),
        AnyValue::Bool(b) => Value::BoolValue(b),
        AnyValue::Int(i) => Value::IntValue(i),
        AnyValue::Double(d) => Value::DoubleValue(d),
        AnyValue::Bytes(b) => Value::BytesValue(b.to_vec()),
        AnyValue::Array { .. } => Value::ArrayValue(ArrayValue {
            values: batch
                .array_items(v)
                .iter()
                .map(|item| value(batch, item))
                .collect(),
        }),
        AnyValue::Map { .. } => Value::KvlistValue(KeyValueList {
            values: batch
                .map_entries(v)
                .iter()
                .map(|kv| key_value(batch, kv))
                .collect(),
        }),
    };
    OtlpAnyValue { value: Some(value) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::otlp::protobuf;
    use crate::store::batch::{Event, Link, Resource, Scope, Span as BatchSpan};

    #[test]
    fn an_encoded_batch_decodes_to_the_same_batch() {
        let mut batch = SpanBatch::new();
        batch.attributes.push(KeyValue {
            key: "service.name",
            value: AnyValue::Str("svc"),
        });
        batch.resources.push(Resource {
            service: "svc",
            attributes: 0..1,
            dropped_attributes: 1,
        });
        batch.scopes.push(Scope {
            name: "lib",
            version: "1",
            attributes: 1..1,
            dropped_attributes: 0,
        });
        let items = [AnyValue::Int(1), AnyValue::Bytes(&[0, 1])];
        let array = batch.push_array(&items);
        let map = batch.push_map(&[KeyValue {
            key: "k",
            value: AnyValue::Double(0.5),
        }]);
        for value in [AnyValue::Bool(true), array, map] {
            batch.attributes.push(KeyValue { key: "a", value });
        }
        batch.attributes.push(KeyValue {
            key: "e",
            value: AnyValue::Str("x"),
        });
        batch.events.push(Event {
            time_ns: 5,
            name: "ev",
            attributes: 4..5,
            dropped_attributes: 0,
        });
        batch.links.push(Link {
            trace_id: 9,
            span_id: 8,
            trace_state: "t=1",
            flags: 1,
            attributes: 5..5,
            dropped_attributes: 0,
        });
        batch.spans.push(BatchSpan {
            trace_id: 7,
            span_id: 2,
            parent_span_id: 1,
            name: "op",
            kind: 2,
            start_ns: 1,
            end_ns: 3,
            status: 2,
            status_message: "bad",
            attributes: 1..4,
            events: 0..1,
            links: 0..1,
            ..BatchSpan::default()
        });
        let bytes = encode(&batch);
        let decoded = protobuf::decode(&bytes).unwrap();
        assert_eq!(decoded.spans, batch.spans);
        assert_eq!(decoded.resources, batch.resources);
        assert_eq!(decoded.scopes, batch.scopes);
        assert_eq!(decoded.events, batch.events);
        assert_eq!(decoded.links, batch.links);
        assert_eq!(decoded.attributes, batch.attributes);
        assert_eq!(
            (decoded.values, decoded.entries),
            (batch.values, batch.entries)
        );
    }
}
