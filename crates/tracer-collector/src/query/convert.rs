//! Stored traces to wire formats: Jaeger's UI model and OTLP.
//!
//! The Jaeger conversion follows the OpenTelemetry Collector's OTLP-to-Jaeger translation
//! (`pkg/translator/jaeger/traces_to_jaegerproto.go`), which is what Jaeger serves for OTLP
//! spans: tags are `otel.scope.name`, `otel.scope.version`, the attributes, then `span.kind`,
//! `otel.status_code` (`OK`/`ERROR`), `error=true`, `otel.status_description` and
//! `w3c.tracestate`; the parent is the first (`CHILD_OF`) reference and links follow as
//! `FOLLOWS_FROM` (or `CHILD_OF` when the link says `opentracing.ref_type=child_of`); an event
//! becomes a log whose first field is `event` = its name.

use std::collections::HashMap;

use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue as OtlpKeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span as OtlpSpan, Status, TracesData, span,
};

use super::model;
use crate::store::batch::STATUS_ERROR;
use crate::store::{
    Decoded, InternReader, LinkDetail, ProcessId, Resolver, ScopeId, SpanRef, Store, StoredTrace,
    Sym, Value,
};
use crate::vocabulary::{
    self, ERROR, EVENT, OPENTRACING_REF_TYPE, OTEL_SCOPE_NAME, OTEL_SCOPE_VERSION,
    OTEL_STATUS_CODE, OTEL_STATUS_DESCRIPTION, SERVICE_NAME, SPAN_KIND, W3C_TRACESTATE,
};

const JS_MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// Trace id as Jaeger prints it: 16 hex digits when the high 64 bits are zero, else 32.
pub fn trace_id_hex(id: u128) -> String {
    if id >> 64 == 0 {
        format!("{:016x}", id as u64)
    } else {
        format!("{id:032x}")
    }
}

/// Span id as 16 hex digits.
pub fn span_id_hex(id: u64) -> String {
    format!("{id:016x}")
}

/// Parses a trace id of 1 to 32 hex digits (shorter ids are left-padded, as Jaeger does).
pub fn parse_trace_id(s: &str) -> Option<u128> {
    if s.is_empty() || s.len() > 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(s, 16).ok()
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Plain JSON of a stored value, the way the Collector's `AsString` renders arrays and maps.
fn any_to_json(value: &Decoded<'_>) -> serde_json::Value {
    match value {
        Decoded::Scalar(Value::Str(s)) => (*s).into(),
        Decoded::Scalar(Value::Bool(b)) => (*b).into(),
        Decoded::Scalar(Value::Int(i)) => (*i).into(),
        Decoded::Scalar(Value::Double(d)) => (*d).into(),
        Decoded::Scalar(Value::Bytes(b)) => base64(b).into(),
        // Not produced by decoding; nothing to show.
        Decoded::Scalar(Value::Complex(_)) => serde_json::Value::Null,
        Decoded::Array(a) => a.iter().map(any_to_json).collect(),
        Decoded::Map(kv) => kv
            .iter()
            .map(|(k, v)| ((*k).to_owned(), any_to_json(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

/// The OTLP form of a stored value.
fn otlp_value(value: &Decoded<'_>) -> AnyValue {
    let value = match value {
        Decoded::Scalar(Value::Str(s)) => any_value::Value::StringValue((*s).to_owned()),
        Decoded::Scalar(Value::Bool(b)) => any_value::Value::BoolValue(*b),
        Decoded::Scalar(Value::Int(i)) => any_value::Value::IntValue(*i),
        Decoded::Scalar(Value::Double(d)) => any_value::Value::DoubleValue(*d),
        Decoded::Scalar(Value::Bytes(b)) => any_value::Value::BytesValue(b.to_vec()),
        Decoded::Scalar(Value::Complex(_)) => any_value::Value::StringValue(String::new()),
        Decoded::Array(a) => any_value::Value::ArrayValue(ArrayValue {
            values: a.iter().map(otlp_value).collect(),
        }),
        Decoded::Map(kv) => any_value::Value::KvlistValue(KeyValueList {
            values: kv
                .iter()
                .map(|(k, v)| OtlpKeyValue {
                    key: (*k).to_owned(),
                    value: Some(otlp_value(v)),
                    key_strindex: 0,
                })
                .collect(),
        }),
    };
    AnyValue { value: Some(value) }
}

fn tag(key: &str, value: Value<'_>) -> model::KeyValue {
    let (value_type, value) = match value {
        Value::Str(s) => ("string", s.into()),
        Value::Bool(b) => ("bool", b.into()),
        Value::Int(i) if !(-JS_MAX_SAFE_INTEGER..=JS_MAX_SAFE_INTEGER).contains(&i) => {
            ("int64", i.to_string().into())
        }
        Value::Int(i) => ("int64", i.into()),
        Value::Double(d) => ("float64", d.into()),
        Value::Bytes(b) => ("binary", base64(b).into()),
        Value::Complex(_) => ("string", any_to_json(&value.decoded()).to_string().into()),
    };
    model::KeyValue {
        key: key.to_owned(),
        value_type: value_type.to_owned(),
        value,
    }
}

fn str_tag(key: &str, value: &str) -> model::KeyValue {
    tag(key, Value::Str(value))
}

fn link_ref_type(link: &LinkDetail<'_>, names: &dyn Fn(Sym) -> String) -> &'static str {
    let child_of = link
        .attributes
        .iter()
        .any(|(k, v)| names(*k) == OPENTRACING_REF_TYPE && *v == Value::Str("child_of"));
    if child_of { "CHILD_OF" } else { "FOLLOWS_FROM" }
}

/// Converts the spans of one stored trace to Jaeger's UI model one at a time, collecting the
/// processes they reference. [`to_jaeger`] applies it to a whole trace; streamed responses apply
/// it chunk by chunk, taking the name and value readers only for the span being converted so a
/// slow reader of the response never holds the store's locks.
pub(crate) struct JaegerSpans<'s> {
    store: &'s Store,
    trace_id: u128,
    trace_hex: String,
    process_keys: HashMap<ProcessId, String>,
    processes: std::collections::BTreeMap<String, model::Process>,
}

impl<'s> JaegerSpans<'s> {
    pub(crate) fn new(store: &'s Store, trace_id: u128) -> Self {
        JaegerSpans {
            store,
            trace_id,
            trace_hex: trace_id_hex(trace_id),
            process_keys: HashMap::new(),
            processes: std::collections::BTreeMap::new(),
        }
    }

    /// The trace id as Jaeger prints it.
    pub(crate) fn trace_hex(&self) -> &str {
        &self.trace_hex
    }

    /// Converts a run of spans of the trace.
    pub(crate) fn convert<'a>(
        &mut self,
        records: impl Iterator<Item = SpanRef<'a>>,
    ) -> Vec<model::Span> {
        let store = self.store;
        let names = store.interner.reader();
        let values = store.values.reader();
        let values = values.resolver();
        records
            .map(|record| self.span(&names, values, record))
            .collect()
    }

    /// The processes referenced so far, keyed `p1`, `p2`, ... in order of first use.
    pub(crate) fn into_processes(self) -> std::collections::BTreeMap<String, model::Process> {
        self.processes
    }

    /// Assigns the process keys of `records` ahead of converting them (without decoding their
    /// packed data), so [`JaegerSpans::processes`] can be written before the spans.
    pub(crate) fn register_processes<'a>(&mut self, records: impl Iterator<Item = SpanRef<'a>>) {
        let names = self.store.interner.reader();
        for record in records {
            self.process_key(&names, &record);
        }
    }

    /// The processes referenced so far (see [`JaegerSpans::into_processes`]).
    pub(crate) fn processes(&self) -> &std::collections::BTreeMap<String, model::Process> {
        &self.processes
    }

    /// The key of the record's process (`p1`, `p2`, ... in order of first use), registering it.
    fn process_key(&mut self, names: &InternReader<'_>, record: &SpanRef<'_>) -> String {
        let store = self.store;
        let next = self.process_keys.len() + 1;
        let processes = &mut self.processes;
        self.process_keys
            .entry(record.process)
            .or_insert_with(|| {
                let key = format!("p{next}");
                // A process freed since the trace was copied out of the store: its service
                // is still on the span.
                let process = store.catalog.process(record.process);
                processes.insert(
                    key.clone(),
                    model::Process {
                        service_name: names
                            .get(process.as_ref().map_or(record.service, |p| p.service))
                            .to_owned(),
                        tags: process.map_or_else(Vec::new, |p| {
                            p.attributes()
                                .filter(|(k, _)| names.get(*k) != SERVICE_NAME)
                                .map(|(k, v)| tag(names.get(k), v))
                                .collect()
                        }),
                    },
                );
                key
            })
            .clone()
    }

    fn span(
        &mut self,
        names: &InternReader<'_>,
        values: Resolver<'_>,
        record: SpanRef<'_>,
    ) -> model::Span {
        let store = self.store;
        let name_of = |s: Sym| names.get(s).to_owned();
        let process_id = self.process_key(names, &record);
        let detail = record.detail(values);
        let scope = store.catalog.scope(record.scope).unwrap_or_default();
        let mut tags = Vec::with_capacity(detail.attributes.len() + 6);
        if !scope.name.is_empty() {
            tags.push(str_tag(OTEL_SCOPE_NAME, &scope.name));
        }
        if !scope.version.is_empty() {
            tags.push(str_tag(OTEL_SCOPE_VERSION, &scope.version));
        }
        for (k, v) in &detail.attributes {
            tags.push(tag(names.get(*k), *v));
        }
        if record.kind != 0 {
            tags.push(str_tag(SPAN_KIND, vocabulary::kind_name(record.kind)));
        }
        if let Some(code) = vocabulary::status_code_name(record.status) {
            tags.push(str_tag(OTEL_STATUS_CODE, code));
        }
        if record.status == STATUS_ERROR {
            tags.push(tag(ERROR, Value::Bool(true)));
        }
        if !detail.status_message.is_empty() {
            tags.push(str_tag(OTEL_STATUS_DESCRIPTION, detail.status_message));
        }
        if !detail.trace_state.is_empty() {
            tags.push(str_tag(W3C_TRACESTATE, detail.trace_state));
        }
        let mut references = Vec::with_capacity(detail.links.len() + 1);
        if record.parent_span_id != 0 {
            references.push(model::Reference {
                ref_type: "CHILD_OF".to_owned(),
                trace_id: self.trace_hex.clone(),
                span_id: span_id_hex(record.parent_span_id),
            });
        }
        for link in &detail.links {
            let ref_type = link_ref_type(link, &name_of);
            if record.parent_span_id != 0
                && link.trace_id == self.trace_id
                && link.span_id == record.parent_span_id
            {
                references[0].ref_type = ref_type.to_owned();
                continue;
            }
            references.push(model::Reference {
                ref_type: ref_type.to_owned(),
                trace_id: trace_id_hex(link.trace_id),
                span_id: span_id_hex(link.span_id),
            });
        }
        let logs = detail
            .events
            .iter()
            .map(|event| {
                let mut fields = Vec::with_capacity(event.attributes.len() + 1);
                let has_event_attr = event.attributes.iter().any(|(k, _)| names.get(*k) == EVENT);
                if !event.name.is_empty() && !has_event_attr {
                    fields.push(str_tag(EVENT, event.name));
                }
                for (k, v) in &event.attributes {
                    fields.push(tag(names.get(*k), *v));
                }
                model::Log {
                    timestamp: event.time_ns / 1000,
                    fields,
                }
            })
            .collect();
        model::Span {
            trace_id: self.trace_hex.clone(),
            span_id: span_id_hex(record.span_id),
            flags: u32::from(record.trace_flags()),
            operation_name: names.get(record.name).to_owned(),
            references,
            start_time: record.start_ns / 1000,
            duration: record.duration_ns() / 1000,
            tags,
            logs,
            process_id,
            warnings: None,
        }
    }
}

/// Converts a stored trace to Jaeger's UI model.
pub fn to_jaeger(store: &Store, trace: &StoredTrace) -> model::Trace {
    let mut converter = JaegerSpans::new(store, trace.trace_id);
    let spans = converter.convert(trace.spans());
    model::Trace {
        trace_id: converter.trace_hex().to_owned(),
        spans,
        processes: converter.into_processes(),
        warnings: None,
    }
}

fn attrs_to_otlp(names: &dyn Fn(Sym) -> String, attrs: &[(Sym, Value<'_>)]) -> Vec<OtlpKeyValue> {
    attrs
        .iter()
        .map(|(k, v)| OtlpKeyValue {
            key: names(*k),
            value: Some(otlp_value(&v.decoded())),
            key_strindex: 0,
        })
        .collect()
}

/// Attributes read from the packed form, as OTLP key-values.
fn packed_to_otlp<'a>(
    names: &dyn Fn(Sym) -> String,
    attrs: impl Iterator<Item = (Sym, Value<'a>)>,
) -> Vec<OtlpKeyValue> {
    attrs
        .map(|(k, v)| OtlpKeyValue {
            key: names(k),
            value: Some(otlp_value(&v.decoded())),
            key_strindex: 0,
        })
        .collect()
}

/// Converts stored traces to OTLP `TracesData`, one `ResourceSpans` per resource and one
/// `ScopeSpans` per scope, in order of first appearance.
pub fn to_otlp(store: &Store, traces: &[StoredTrace]) -> TracesData {
    to_otlp_spans(
        store,
        traces
            .iter()
            .flat_map(|trace| trace.spans().map(move |span| (trace.trace_id, span))),
    )
}

/// Converts spans, each with its trace id, to OTLP `TracesData` as [`to_otlp`] does; streamed
/// responses call it on one chunk of spans at a time.
pub(crate) fn to_otlp_spans<'a>(
    store: &Store,
    spans: impl Iterator<Item = (u128, SpanRef<'a>)>,
) -> TracesData {
    let names = store.interner.reader();
    let name_of = |s: Sym| names.get(s).to_owned();
    let values = store.values.reader();
    let values = values.resolver();
    let mut resource_index: HashMap<ProcessId, usize> = HashMap::new();
    let mut scope_index: HashMap<(ProcessId, ScopeId), usize> = HashMap::new();
    let mut out = TracesData::default();
    for (trace_id, record) in spans {
        {
            let ri = *resource_index.entry(record.process).or_insert_with(|| {
                let resource = match store.catalog.process(record.process) {
                    Some(process) => Resource {
                        attributes: packed_to_otlp(&name_of, process.attributes()),
                        dropped_attributes_count: process.dropped_attributes,
                        ..Default::default()
                    },
                    None => Resource {
                        attributes: vec![OtlpKeyValue {
                            key: SERVICE_NAME.to_owned(),
                            value: Some(otlp_value(&Decoded::Scalar(Value::Str(
                                names.get(record.service),
                            )))),
                            key_strindex: 0,
                        }],
                        ..Default::default()
                    },
                };
                out.resource_spans.push(ResourceSpans {
                    resource: Some(resource),
                    scope_spans: Vec::new(),
                    schema_url: String::new(),
                });
                out.resource_spans.len() - 1
            });
            let rs = &mut out.resource_spans[ri];
            let si = *scope_index
                .entry((record.process, record.scope))
                .or_insert_with(|| {
                    rs.scope_spans.push(ScopeSpans {
                        scope: Some(
                            store
                                .catalog
                                .scope(record.scope)
                                .map(|s| InstrumentationScope {
                                    name: s.name.clone(),
                                    version: s.version.clone(),
                                    attributes: packed_to_otlp(&name_of, s.attributes()),
                                    dropped_attributes_count: s.dropped_attributes,
                                })
                                .unwrap_or_default(),
                        ),
                        spans: Vec::new(),
                        schema_url: String::new(),
                    });
                    rs.scope_spans.len() - 1
                });
            let detail = record.detail(values);
            rs.scope_spans[si].spans.push(OtlpSpan {
                trace_id: trace_id.to_be_bytes().to_vec(),
                span_id: record.span_id.to_be_bytes().to_vec(),
                trace_state: detail.trace_state.to_owned(),
                parent_span_id: if record.parent_span_id == 0 {
                    Vec::new()
                } else {
                    record.parent_span_id.to_be_bytes().to_vec()
                },
                flags: record.flags(),
                name: names.get(record.name).to_owned(),
                kind: i32::from(record.kind),
                start_time_unix_nano: record.start_ns,
                end_time_unix_nano: record.start_ns + record.duration_ns(),
                attributes: attrs_to_otlp(&name_of, &detail.attributes),
                dropped_attributes_count: detail.dropped_attributes,
                events: detail
                    .events
                    .iter()
                    .map(|e| span::Event {
                        time_unix_nano: e.time_ns,
                        name: e.name.to_owned(),
                        attributes: attrs_to_otlp(&name_of, &e.attributes),
                        dropped_attributes_count: e.dropped_attributes,
                    })
                    .collect(),
                dropped_events_count: detail.dropped_events,
                links: detail
                    .links
                    .iter()
                    .map(|l| span::Link {
                        trace_id: l.trace_id.to_be_bytes().to_vec(),
                        span_id: l.span_id.to_be_bytes().to_vec(),
                        trace_state: l.trace_state.to_owned(),
                        attributes: attrs_to_otlp(&name_of, &l.attributes),
                        dropped_attributes_count: l.dropped_attributes,
                        flags: l.flags,
                    })
                    .collect(),
                dropped_links_count: detail.dropped_links,
                status: (record.status != 0 || !detail.status_message.is_empty()).then(|| Status {
                    message: detail.status_message.to_owned(),
                    code: i32::from(record.status),
                }),
            });
        }
    }
    out
}

/// Summarizes stored traces for `/api/v3/trace-summaries` ([`model::TraceSummary`]): root
/// span, time range, span, error and orphan counts and a per-service breakdown.
pub fn to_summaries(store: &Store, traces: &[StoredTrace]) -> Vec<model::TraceSummary> {
    let names = store.interner.reader();
    traces
        .iter()
        .map(|trace| {
            let ids: std::collections::HashSet<u64> =
                trace.spans.iter().map(|s| s.span_id).collect();
            let mut min_start = u64::MAX;
            let mut max_end = 0u64;
            let mut root: Option<SpanRef<'_>> = None;
            let mut errors = 0u32;
            let mut orphans = 0u32;
            let mut services: std::collections::BTreeMap<&str, (u32, u32)> =
                std::collections::BTreeMap::new();
            for span in trace.spans() {
                min_start = min_start.min(span.start_ns);
                max_end = max_end.max(span.start_ns.saturating_add(span.duration_ns()));
                let failed = span.status == STATUS_ERROR;
                errors += u32::from(failed);
                let entry = services.entry(names.get(span.service)).or_default();
                entry.0 += 1;
                entry.1 += u32::from(failed);
                if span.parent_span_id == 0 {
                    if root.is_none_or(|r| span.start_ns < r.start_ns) {
                        root = Some(span);
                    }
                } else if !ids.contains(&span.parent_span_id) {
                    orphans += 1;
                }
            }
            if trace.spans.is_empty() {
                min_start = 0;
            }
            model::TraceSummary {
                trace_id: format!("{:032x}", trace.trace_id),
                root_service_name: root
                    .map_or_else(String::new, |r| names.get(r.service).to_owned()),
                root_operation_name: root
                    .map_or_else(String::new, |r| names.get(r.name).to_owned()),
                min_start_time_unix_nano: min_start.to_string(),
                max_end_time_unix_nano: max_end.to_string(),
                span_count: u32::try_from(trace.spans.len()).unwrap_or(u32::MAX),
                error_span_count: errors,
                orphan_span_count: orphans,
                services: services
                    .into_iter()
                    .map(|(name, (spans, errors))| model::ServiceSummary {
                        name: name.to_owned(),
                        span_count: spans,
                        error_span_count: errors,
                    })
                    .collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message;

    use super::*;
    use crate::ingest::{store_protobuf, store_request};
    use crate::store::StoreLimits;

    fn kv(key: &str, value: any_value::Value) -> OtlpKeyValue {
        OtlpKeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            key_strindex: 0,
        }
    }

    /// A span using every optional part of the packed format.
    fn rich_span() -> OtlpSpan {
        use any_value::Value as V;
        let start = 1_700_000_000_000_000_000;
        OtlpSpan {
            trace_id: 7u128.to_be_bytes().to_vec(),
            span_id: 1u64.to_be_bytes().to_vec(),
            trace_state: "a=b".into(),
            parent_span_id: 2u64.to_be_bytes().to_vec(),
            // Reserved bits above the 16 kept in the record.
            flags: 0x5_0301,
            name: "long job".into(),
            kind: 3,
            start_time_unix_nano: start,
            // Longer than the record's 32-bit duration holds.
            end_time_unix_nano: start + 90_000_000_000,
            attributes: vec![
                kv("http.route", V::StringValue("/jobs/{id}".into())),
                kv("job.log", V::StringValue("x".repeat(1000))),
                kv("empty", V::StringValue(String::new())),
                kv("ok", V::BoolValue(true)),
                kv("n", V::IntValue(-3)),
                kv("ratio", V::DoubleValue(0.25)),
                kv("raw", V::BytesValue(vec![0, 255])),
                kv(
                    "list",
                    V::ArrayValue(ArrayValue {
                        values: vec![AnyValue {
                            value: Some(V::IntValue(1)),
                        }],
                    }),
                ),
            ],
            dropped_attributes_count: 2,
            events: vec![
                span::Event {
                    time_unix_nano: start - 5,
                    name: "exception".into(),
                    attributes: vec![kv("exception.type", V::StringValue("IOError".into()))],
                    dropped_attributes_count: 1,
                },
                span::Event {
                    time_unix_nano: start + 80_000_000_000,
                    name: "x".into(),
                    attributes: vec![],
                    dropped_attributes_count: 0,
                },
            ],
            dropped_events_count: 3,
            links: vec![span::Link {
                trace_id: 9u128.to_be_bytes().to_vec(),
                span_id: 9u64.to_be_bytes().to_vec(),
                trace_state: "x=y".into(),
                attributes: vec![kv(
                    "opentracing.ref_type",
                    V::StringValue("child_of".into()),
                )],
                dropped_attributes_count: 4,
                flags: 1,
            }],
            dropped_links_count: 5,
            status: Some(Status {
                message: "boom".into(),
                code: 2,
            }),
        }
    }

    #[test]
    fn every_packed_field_comes_back_from_both_ingest_paths() {
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![kv(
                        "service.name",
                        any_value::Value::StringValue("svc".into()),
                    )],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "scope".into(),
                        ..Default::default()
                    }),
                    spans: vec![rich_span()],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        };
        for wire in [false, true] {
            let store = Store::new(StoreLimits::default());
            // Twice, so the second span references the values the first one interned.
            for _ in 0..2 {
                if wire {
                    store_protobuf(&store, &request.encode_to_vec()).unwrap();
                } else {
                    store_request(&store, &request);
                }
            }
            let trace = store.trace(7).unwrap();
            assert_eq!(trace.span_count(), 2);
            let jaeger = to_jaeger(&store, &trace);
            assert_eq!(jaeger.spans[0].duration, 90_000_000);
            assert_eq!(jaeger.spans[0].flags, 1);
            let long = store.search(&crate::store::TraceQuery {
                duration_min_ns: Some(89_000_000_000),
                tags: vec![vocabulary::tag_condition("http.route", "/jobs/{id}")],
                ..Default::default()
            });
            assert_eq!(long.len(), 1);
            let otlp = to_otlp(&store, &[trace]);
            let spans = &otlp.resource_spans[0].scope_spans[0].spans;
            assert_eq!(spans[0], rich_span(), "wire path: {wire}");
            assert_eq!(spans[1], rich_span(), "wire path: {wire}");
        }
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), want);
        }
    }

    #[test]
    fn trace_ids_print_like_jaeger() {
        assert_eq!(trace_id_hex(0xab), "00000000000000ab");
        assert_eq!(trace_id_hex(1 << 64), "00000000000000010000000000000000");
        assert_eq!(parse_trace_id("ab"), Some(0xab));
        assert_eq!(parse_trace_id("xyz"), None);
    }
}
