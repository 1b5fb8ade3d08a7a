//! The workload's OTLP batches (`workload.rs`) written as Jaeger and Zipkin clients send them,
//! so the receiver benches compare formats on the same spans.
//!
//! - Jaeger: an agent `emitBatch` message in thrift compact (what 6831 receives): the resource
//!   is the `Process` (`service.name` its service name, the other attributes its tags), the
//!   span kind a `span.kind` tag, an error status `error=true`, the scope `otel.scope.*` tags,
//!   events logs whose `event` field is the name (as OpenTelemetry's Jaeger exporter did).
//! - Zipkin: a v2 JSON list (what 9411 receives on `/api/v2/spans`), as OpenTelemetry's Zipkin
//!   exporter writes it: attributes as string tags, the status as `otel.status_code` (and
//!   `error`), the scope as `otel.scope.*` tags, events as `{"name": {attributes}}`
//!   annotations; Zipkin has no place for the other resource attributes.
//!
//! The including bench declares `mod jaeger_wire` (`tests/common/jaeger_wire.rs`).
#![allow(dead_code)] // each bench uses a different subset

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};

use crate::jaeger_wire::{self, Batch, Log, Process, Tag};

fn text(value: &Option<AnyValue>) -> String {
    match value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        _ => String::new(),
    }
}

fn tag(kv: &KeyValue) -> Tag {
    match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::IntValue(i)) => jaeger_wire::long_tag(&kv.key, *i),
        Some(any_value::Value::BoolValue(b)) => jaeger_wire::bool_tag(&kv.key, *b),
        Some(any_value::Value::DoubleValue(d)) => jaeger_wire::double_tag(&kv.key, *d),
        _ => jaeger_wire::str_tag(&kv.key, &text(&kv.value)),
    }
}

fn be_i64(bytes: &[u8]) -> i64 {
    let mut b = [0u8; 8];
    b[8 - bytes.len().min(8)..].copy_from_slice(&bytes[..bytes.len().min(8)]);
    i64::from_be_bytes(b)
}

const KINDS: [&str; 6] = ["", "internal", "server", "client", "producer", "consumer"];

/// One `emitBatch` datagram (thrift compact) per resource of `request`.
pub(crate) fn jaeger_compact(request: &ExportTraceServiceRequest) -> Vec<Vec<u8>> {
    request
        .resource_spans
        .iter()
        .map(|rs| {
            let attrs = rs.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
            let service = attrs
                .iter()
                .find(|kv| kv.key == "service.name")
                .map(|kv| text(&kv.value))
                .unwrap_or_default();
            let process = Process {
                service_name: service,
                tags: Some(
                    attrs
                        .iter()
                        .filter(|kv| kv.key != "service.name")
                        .map(tag)
                        .collect(),
                ),
            };
            let mut spans = Vec::new();
            for ss in &rs.scope_spans {
                for s in &ss.spans {
                    let start_us = (s.start_time_unix_nano / 1000) as i64;
                    let mut js = jaeger_wire::span(
                        be_i64(&s.trace_id[..8]),
                        be_i64(&s.trace_id[8..]),
                        be_i64(&s.span_id),
                        be_i64(&s.parent_span_id),
                        &s.name,
                        start_us,
                        ((s.end_time_unix_nano - s.start_time_unix_nano) / 1000) as i64,
                    );
                    js.flags = (s.flags & 1) as i32;
                    let mut tags: Vec<Tag> = s.attributes.iter().map(tag).collect();
                    if let Some(kind) = KINDS.get(s.kind as usize).filter(|k| !k.is_empty()) {
                        tags.push(jaeger_wire::str_tag("span.kind", kind));
                    }
                    if s.status.as_ref().is_some_and(|st| st.code == 2) {
                        tags.push(jaeger_wire::bool_tag("error", true));
                    }
                    if let Some(scope) = &ss.scope {
                        tags.push(jaeger_wire::str_tag("otel.scope.name", &scope.name));
                        tags.push(jaeger_wire::str_tag("otel.scope.version", &scope.version));
                    }
                    js.tags = Some(tags);
                    js.logs = Some(
                        s.events
                            .iter()
                            .map(|e| Log {
                                timestamp: (e.time_unix_nano / 1000) as i64,
                                fields: std::iter::once(jaeger_wire::str_tag("event", &e.name))
                                    .chain(e.attributes.iter().map(tag))
                                    .collect(),
                            })
                            .collect(),
                    );
                    spans.push(js);
                }
            }
            jaeger_wire::emit_batch(&Batch { process, spans }, true)
        })
        .collect()
}

/// The spans of `request` as one Zipkin v2 JSON list.
pub(crate) fn zipkin_json_v2(request: &ExportTraceServiceRequest) -> Vec<u8> {
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let mut out = Vec::new();
    for rs in &request.resource_spans {
        let attrs = rs.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
        let service = attrs
            .iter()
            .find(|kv| kv.key == "service.name")
            .map(|kv| text(&kv.value))
            .unwrap_or_default();
        for ss in &rs.scope_spans {
            for s in &ss.spans {
                let mut tags = serde_json::Map::new();
                for kv in &s.attributes {
                    tags.insert(kv.key.clone(), text(&kv.value).into());
                }
                if let Some(scope) = &ss.scope {
                    tags.insert("otel.scope.name".into(), scope.name.clone().into());
                    tags.insert("otel.scope.version".into(), scope.version.clone().into());
                }
                if s.status.as_ref().is_some_and(|st| st.code == 2) {
                    tags.insert("otel.status_code".into(), "ERROR".into());
                    tags.insert("error".into(), "".into());
                }
                let annotations: Vec<serde_json::Value> = s
                    .events
                    .iter()
                    .map(|e| {
                        let attrs: serde_json::Map<String, serde_json::Value> = e
                            .attributes
                            .iter()
                            .map(|kv| {
                                let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                                    Some(any_value::Value::IntValue(i)) => (*i).into(),
                                    _ => text(&kv.value).into(),
                                };
                                (kv.key.clone(), v)
                            })
                            .collect();
                        serde_json::json!({
                            "timestamp": e.time_unix_nano / 1000,
                            "value": serde_json::json!({ e.name.clone(): attrs }).to_string(),
                        })
                    })
                    .collect();
                let mut span = serde_json::json!({
                    "traceId": hex(&s.trace_id),
                    "id": hex(&s.span_id),
                    "kind": KINDS.get(s.kind as usize).unwrap_or(&"").to_ascii_uppercase(),
                    "name": s.name,
                    "timestamp": s.start_time_unix_nano / 1000,
                    "duration": (s.end_time_unix_nano - s.start_time_unix_nano) / 1000,
                    "localEndpoint": {"serviceName": service},
                    "tags": tags,
                    "annotations": annotations,
                });
                if !s.parent_span_id.is_empty() {
                    span["parentId"] = hex(&s.parent_span_id).into();
                }
                out.push(span);
            }
        }
    }
    serde_json::to_vec(&out).unwrap()
}

/// The receiver path of `format` (`None`: OTLP protobuf), as the endpoint runs it.
pub(crate) fn store_one(
    store: &tracer_collector::store::Store,
    format: Option<tracer_collector::ingest::receiver::Format>,
    payload: &[u8],
) -> usize {
    match format {
        None => {
            tracer_collector::ingest::store_protobuf(store, payload)
                .expect("valid payload")
                .accepted
        }
        Some(format) => {
            format
                .store(store, payload)
                .expect("valid payload")
                .accepted
        }
    }
}
