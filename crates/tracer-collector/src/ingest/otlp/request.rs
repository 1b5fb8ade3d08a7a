//! Decoded (prost) OTLP export requests to a [`SpanBatch`] borrowing from the request.
//!
//! The path for OTLP/JSON, for protobuf payloads the wire reader ([`super::protobuf`]) refuses
//! (prost then names the problem), and for trace file imports. The rules are those of the module above, so a request yields the same batch here
//! as through the wire reader.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue as OtlpAnyValue, any_value};
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue as OtlpKeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource as OtlpResource;
use opentelemetry_proto::tonic::trace::v1::Span as OtlpSpan;

use super::{MAX_VALUE_DEPTH, kind_and_status, link_ids, service_of, too_deep, validate_ids};
use crate::store::batch::{AnyValue, Event, KeyValue, Link, Resource, Scope, Span, SpanBatch};

/// The value of an OTLP `AnyValue` nesting arrays and maps at most `left` levels deep (their
/// items pushed onto the batch); `None` when it nests deeper. An empty value is an empty string.
pub(crate) fn value_of<'a>(
    batch: &mut SpanBatch<'a>,
    value: Option<&'a OtlpAnyValue>,
    left: usize,
) -> Option<AnyValue<'a>> {
    Some(match value.and_then(|v| v.value.as_ref()) {
        None => AnyValue::Str(""),
        Some(any_value::Value::StringValue(s)) => AnyValue::Str(s),
        Some(any_value::Value::BoolValue(b)) => AnyValue::Bool(*b),
        Some(any_value::Value::IntValue(i)) => AnyValue::Int(*i),
        Some(any_value::Value::DoubleValue(d)) => AnyValue::Double(*d),
        Some(any_value::Value::BytesValue(b)) => AnyValue::Bytes(b),
        Some(any_value::Value::StringValueStrindex(i)) => AnyValue::Int(i64::from(*i)),
        Some(any_value::Value::ArrayValue(_) | any_value::Value::KvlistValue(_)) if left == 0 => {
            return None;
        }
        Some(any_value::Value::ArrayValue(a)) => {
            let mut items = Vec::with_capacity(a.values.len());
            for v in &a.values {
                items.push(value_of(batch, Some(v), left - 1)?);
            }
            batch.push_array(&items)
        }
        Some(any_value::Value::KvlistValue(kv)) => {
            let mut entries = Vec::with_capacity(kv.values.len());
            for kv in &kv.values {
                let value = value_of(batch, kv.value.as_ref(), left - 1)?;
                entries.push(KeyValue {
                    key: &kv.key,
                    value,
                });
            }
            batch.push_map(&entries)
        }
    })
}

/// Pushes `attributes` onto the batch; a value nested too deep is an empty string, the
/// problem kept in `problem`.
fn push_attributes<'a>(
    batch: &mut SpanBatch<'a>,
    attributes: &'a [OtlpKeyValue],
    problem: &mut Option<String>,
) {
    batch.attributes.reserve(attributes.len());
    for kv in attributes {
        let value = value_of(batch, kv.value.as_ref(), MAX_VALUE_DEPTH).unwrap_or_else(|| {
            problem.get_or_insert_with(|| too_deep(&kv.key));
            AnyValue::Str("")
        });
        batch.attributes.push(KeyValue {
            key: &kv.key,
            value,
        });
    }
}

fn push_resource<'a>(batch: &mut SpanBatch<'a>, resource: Option<&'a OtlpResource>) {
    let start = batch.attributes.len();
    let (attributes, dropped) = resource.map_or((&[][..], 0), |r| {
        (&r.attributes[..], r.dropped_attributes_count)
    });
    push_attributes(batch, attributes, &mut None);
    let attributes = batch.attributes_since(start);
    let service = service_of(batch.attributes_in(&attributes));
    batch.resources.push(Resource {
        service,
        attributes,
        dropped_attributes: dropped,
    });
}

fn push_scope<'a>(batch: &mut SpanBatch<'a>, scope: Option<&'a InstrumentationScope>) {
    let start = batch.attributes.len();
    let mut pushed = Scope::default();
    if let Some(scope) = scope {
        pushed.name = &scope.name;
        pushed.version = &scope.version;
        pushed.dropped_attributes = scope.dropped_attributes_count;
        push_attributes(batch, &scope.attributes, &mut None);
    }
    pushed.attributes = batch.attributes_since(start);
    batch.scopes.push(pushed);
}

fn push_span<'a>(batch: &mut SpanBatch<'a>, span: &'a OtlpSpan, resource: u32, scope: u32) {
    let ids = match validate_ids(&span.trace_id, &span.span_id, &span.parent_span_id) {
        Ok(ids) => ids,
        Err(problem) => {
            batch.reject(&span.name, &problem);
            return;
        }
    };
    let mark = batch.mark();
    let (attrs_start, events_start, links_start) = (
        batch.attributes.len(),
        batch.events.len(),
        batch.links.len(),
    );
    let mut problem = None;
    push_attributes(batch, &span.attributes, &mut problem);
    let status = span.status.as_ref();
    let (kind, status_code) = kind_and_status(batch, span.kind, status.map_or(0, |s| s.code));
    let attributes = batch.attributes_since(attrs_start);
    for event in &span.events {
        let start = batch.attributes.len();
        push_attributes(batch, &event.attributes, &mut problem);
        let attributes = batch.attributes_since(start);
        batch.events.push(Event {
            time_ns: event.time_unix_nano,
            name: &event.name,
            attributes,
            dropped_attributes: event.dropped_attributes_count,
        });
    }
    for link in &span.links {
        let start = batch.attributes.len();
        push_attributes(batch, &link.attributes, &mut problem);
        let (trace_id, span_id) = link_ids(&link.trace_id, &link.span_id);
        let attributes = batch.attributes_since(start);
        batch.links.push(Link {
            trace_id,
            span_id,
            trace_state: &link.trace_state,
            flags: link.flags,
            attributes,
            dropped_attributes: link.dropped_attributes_count,
        });
    }
    if let Some(problem) = problem {
        batch.rewind(mark);
        batch.reject(&span.name, &problem);
        return;
    }
    let (trace_id, span_id, parent_span_id) = ids;
    let pushed = Span {
        resource,
        scope,
        trace_id,
        span_id,
        parent_span_id,
        trace_state: &span.trace_state,
        flags: span.flags,
        name: &span.name,
        kind,
        start_ns: span.start_time_unix_nano,
        end_ns: span.end_time_unix_nano,
        status: status_code,
        status_message: status.map_or("", |s| s.message.as_str()),
        attributes,
        dropped_attributes: span.dropped_attributes_count,
        events: batch.events_since(events_start),
        dropped_events: span.dropped_events_count,
        links: batch.links_since(links_start),
        dropped_links: span.dropped_links_count,
    };
    batch.spans.push(pushed);
}

/// The batch of `request`, borrowing its strings and bytes.
pub fn to_batch(request: &ExportTraceServiceRequest) -> SpanBatch<'_> {
    let mut batch = SpanBatch::new();
    let spans = request
        .resource_spans
        .iter()
        .flat_map(|rs| rs.scope_spans.iter())
        .map(|ss| ss.spans.len())
        .sum();
    batch.spans.reserve_exact(spans);
    for rs in &request.resource_spans {
        push_resource(&mut batch, rs.resource.as_ref());
        let resource = (batch.resources.len() - 1) as u32;
        for ss in &rs.scope_spans {
            push_scope(&mut batch, ss.scope.as_ref());
            let scope = (batch.scopes.len() - 1) as u32;
            for span in &ss.spans {
                push_span(&mut batch, span, resource, scope);
            }
        }
    }
    batch
}
