//! Jaeger UI JSON to OTLP, for importing traces downloaded from Jaeger (or from this
//! collector's `/api/traces`).
//!
//! The input model mirrors Jaeger's UI JSON (`internal/uimodel/model.go`), leniently: every
//! list may be absent, unknown fields are ignored. The mapping is the inverse of the OTLP to
//! Jaeger translation [`crate::query::convert`] follows (the OpenTelemetry Collector's
//! `pkg/translator/jaeger`), so a trace exported as Jaeger JSON and imported again reads back
//! the same:
//!
//! - a process becomes a resource (`serviceName` as `service.name`, its tags as attributes);
//! - tags `otel.scope.name`/`otel.scope.version` become the scope, `span.kind` the kind,
//!   `otel.status_code` (`OK`/`ERROR`) and `otel.status_description` the status (a lone
//!   `error=true` means ERROR), `w3c.tracestate` the trace state; other tags are attributes,
//!   typed by their `type` (`string`, `bool`, `int64`, `float64`, `binary` as base64);
//! - the first `CHILD_OF` reference within the trace is the parent; other references are
//!   links, `CHILD_OF` ones tagged `opentracing.ref_type=child_of`;
//! - a log becomes an event named by its `event` field, the other fields its attributes;
//! - times are microseconds (Jaeger) to nanoseconds (OTLP).

use std::collections::BTreeMap;

use base64::Engine;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span as OtlpSpan, Status, span,
};
use serde::Deserialize;

/// A Jaeger trace as the UI JSON has it.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Trace {
    #[serde(rename = "traceID", default)]
    pub(crate) trace_id: String,
    #[serde(default)]
    pub(crate) spans: Vec<Span>,
    #[serde(default)]
    pub(crate) processes: BTreeMap<String, Process>,
}

/// A Jaeger span.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Span {
    #[serde(rename = "traceID", default)]
    trace_id: String,
    #[serde(rename = "spanID", default)]
    span_id: String,
    #[serde(default)]
    flags: u32,
    #[serde(rename = "operationName", default)]
    operation_name: String,
    #[serde(default)]
    references: Vec<Reference>,
    #[serde(rename = "startTime", default)]
    start_time: u64,
    #[serde(default)]
    duration: u64,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    logs: Vec<Log>,
    #[serde(rename = "processID", default)]
    process_id: String,
    /// Older Jaeger JSON embeds the process in each span.
    #[serde(default)]
    process: Option<Process>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Reference {
    #[serde(rename = "refType", default)]
    ref_type: String,
    #[serde(rename = "traceID", default)]
    trace_id: String,
    #[serde(rename = "spanID", default)]
    span_id: String,
}

/// A Jaeger process.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Process {
    #[serde(rename = "serviceName", default)]
    service_name: String,
    #[serde(default)]
    tags: Vec<Tag>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Log {
    #[serde(default)]
    timestamp: u64,
    #[serde(default)]
    fields: Vec<Tag>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Tag {
    #[serde(default)]
    key: String,
    #[serde(rename = "type", default)]
    value_type: String,
    #[serde(default)]
    value: serde_json::Value,
}

/// A field that cannot be converted: its JSON path and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub(crate) path: String,
    pub(crate) detail: String,
}

fn bad(path: String, detail: impl Into<String>) -> FieldError {
    FieldError {
        path,
        detail: detail.into(),
    }
}

fn join(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_owned()
    } else {
        format!("{prefix}.{field}")
    }
}

fn short(value: &str) -> String {
    let mut s: String = value.chars().take(48).collect();
    if s.len() < value.len() {
        s.push('…');
    }
    s
}

fn hex_id(value: &str, digits: usize, path: String) -> Result<Vec<u8>, FieldError> {
    if value.is_empty() || value.len() > digits || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad(
            path,
            format!(
                "invalid id {:?}: expected 1 to {digits} hex digits",
                short(value)
            ),
        ));
    }
    let n = u128::from_str_radix(value, 16).map_err(|e| bad(path, e.to_string()))?;
    let bytes = n.to_be_bytes();
    Ok(bytes[16 - digits / 2..].to_vec())
}

fn value_of(tag: &Tag, path: &str) -> Result<AnyValue, FieldError> {
    use any_value::Value as V;
    use serde_json::Value as J;
    let base = path;
    let path = || format!("{base}.value");
    let wrong = |want: &str| {
        let mut got = tag.value.to_string();
        got.truncate(48);
        bad(
            path(),
            format!("a {:?} tag needs {want}, got {got}", tag.value_type),
        )
    };
    let value = match (tag.value_type.to_ascii_lowercase().as_str(), &tag.value) {
        ("string" | "", J::String(s)) => V::StringValue(s.clone()),
        ("string" | "", J::Null) => V::StringValue(String::new()),
        ("string" | "", other @ (J::Number(_) | J::Bool(_))) => V::StringValue(other.to_string()),
        ("string" | "", _) => return Err(wrong("a string")),
        ("bool", J::Bool(b)) => V::BoolValue(*b),
        ("bool", J::String(s)) if s == "true" || s == "false" => V::BoolValue(s == "true"),
        ("bool", _) => return Err(wrong("true or false")),
        ("int64", J::Number(n)) if n.is_i64() => V::IntValue(n.as_i64().unwrap_or_default()),
        ("int64", J::String(s)) => {
            V::IntValue(s.parse::<i64>().map_err(|_| wrong("a 64-bit integer"))?)
        }
        ("int64", _) => return Err(wrong("a 64-bit integer")),
        ("float64", J::Number(n)) => V::DoubleValue(n.as_f64().unwrap_or_default()),
        // serde_json (and so `/api/traces`) writes NaN and infinities as null.
        ("float64", J::Null) => V::DoubleValue(f64::NAN),
        ("float64", J::String(s)) => {
            V::DoubleValue(s.parse::<f64>().map_err(|_| wrong("a number"))?)
        }
        ("float64", _) => return Err(wrong("a number")),
        ("binary", J::String(s)) => V::BytesValue(
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|_| wrong("base64 text"))?,
        ),
        ("binary", _) => return Err(wrong("base64 text")),
        (other, _) => {
            return Err(bad(
                format!("{base}.type"),
                format!(
                    "unknown tag type {:?}; accepted: string, bool, int64, float64, binary",
                    short(other)
                ),
            ));
        }
    };
    Ok(AnyValue { value: Some(value) })
}

fn attribute(tag: &Tag, path: &str) -> Result<KeyValue, FieldError> {
    Ok(KeyValue {
        key: tag.key.clone(),
        value: Some(value_of(tag, path)?),
        key_strindex: 0,
    })
}

fn text(tag: &Tag) -> Option<&str> {
    tag.value.as_str()
}

fn kind_of(name: &str) -> Option<i32> {
    Some(match name {
        "internal" => 1,
        "server" => 2,
        "client" => 3,
        "producer" => 4,
        "consumer" => 5,
        _ => return None,
    })
}

/// Where a process's spans go: its resource's index in the request, and the index of each
/// (scope name, scope version) within that resource.
type Placed = (usize, BTreeMap<(String, String), usize>);

/// Appends the spans of `trace` to `request`, one resource per process and one scope per
/// instrumentation scope. `prefix` is the trace's JSON path, for error messages.
pub(crate) fn append(
    request: &mut ExportTraceServiceRequest,
    trace: &Trace,
    prefix: &str,
) -> Result<(), FieldError> {
    let mut resources: BTreeMap<String, Placed> = BTreeMap::new();
    for (i, span) in trace.spans.iter().enumerate() {
        let path = join(prefix, &format!("spans[{i}]"));
        let (process_key, process) = match (&span.process, trace.processes.get(&span.process_id)) {
            (_, Some(p)) => (span.process_id.clone(), p.clone()),
            (Some(p), None) => (format!("inline:{i}"), p.clone()),
            (None, None) => {
                return Err(bad(
                    format!("{path}.processID"),
                    format!(
                        "process {:?} is not in the trace's processes",
                        short(&span.process_id)
                    ),
                ));
            }
        };
        let (scope, otlp) = convert_span(span, trace, &path)?;
        let entry = match resources.get_mut(&process_key) {
            Some(entry) => entry,
            None => {
                let ppath = join(prefix, &format!("processes.{process_key}"));
                let mut attributes = vec![KeyValue {
                    key: "service.name".to_owned(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(process.service_name.clone())),
                    }),
                    key_strindex: 0,
                }];
                for (t, tag) in process.tags.iter().enumerate() {
                    attributes.push(attribute(tag, &format!("{ppath}.tags[{t}]"))?);
                }
                request.resource_spans.push(ResourceSpans {
                    resource: Some(Resource {
                        attributes,
                        ..Default::default()
                    }),
                    scope_spans: Vec::new(),
                    schema_url: String::new(),
                });
                resources
                    .entry(process_key)
                    .or_insert((request.resource_spans.len() - 1, BTreeMap::new()))
            }
        };
        let resource = &mut request.resource_spans[entry.0];
        let si = *entry.1.entry(scope.clone()).or_insert_with(|| {
            resource.scope_spans.push(ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: scope.0,
                    version: scope.1,
                    ..Default::default()
                }),
                spans: Vec::new(),
                schema_url: String::new(),
            });
            resource.scope_spans.len() - 1
        });
        resource.scope_spans[si].spans.push(otlp);
    }
    Ok(())
}

fn convert_span(
    span: &Span,
    trace: &Trace,
    path: &str,
) -> Result<((String, String), OtlpSpan), FieldError> {
    let trace_hex = if span.trace_id.is_empty() {
        &trace.trace_id
    } else {
        &span.trace_id
    };
    let trace_id = hex_id(trace_hex, 32, format!("{path}.traceID"))?;
    let span_id = hex_id(&span.span_id, 16, format!("{path}.spanID"))?;
    let mut out = OtlpSpan {
        trace_id: trace_id.clone(),
        span_id,
        flags: span.flags,
        name: span.operation_name.clone(),
        start_time_unix_nano: span.start_time.saturating_mul(1000),
        end_time_unix_nano: span
            .start_time
            .saturating_add(span.duration)
            .saturating_mul(1000),
        ..Default::default()
    };
    let mut scope = (String::new(), String::new());
    let mut status: Option<Status> = None;
    let mut status_message = String::new();
    let mut error_tag = false;
    for (t, tag) in span.tags.iter().enumerate() {
        let tpath = format!("{path}.tags[{t}]");
        match (tag.key.as_str(), text(tag)) {
            ("otel.scope.name", Some(v)) => scope.0 = v.to_owned(),
            ("otel.scope.version", Some(v)) => scope.1 = v.to_owned(),
            ("span.kind", Some(v)) if kind_of(v).is_some() => {
                out.kind = kind_of(v).unwrap_or_default();
            }
            ("otel.status_code", Some("OK")) => {
                status = Some(Status {
                    code: 1,
                    ..Default::default()
                })
            }
            ("otel.status_code", Some("ERROR")) => {
                status = Some(Status {
                    code: 2,
                    ..Default::default()
                });
            }
            ("otel.status_description", Some(v)) => status_message = v.to_owned(),
            ("w3c.tracestate", Some(v)) => out.trace_state = v.to_owned(),
            ("error", _)
                if matches!(
                    value_of(tag, &tpath)?.value,
                    Some(any_value::Value::BoolValue(true))
                ) =>
            {
                error_tag = true;
            }
            _ => out.attributes.push(attribute(tag, &tpath)?),
        }
    }
    let mut status = match status {
        Some(s) => s,
        None if error_tag => Status {
            code: 2,
            ..Default::default()
        },
        None => Status::default(),
    };
    status.message = status_message;
    out.status = (status != Status::default()).then_some(status);
    let mut parent_found = false;
    for (r, reference) in span.references.iter().enumerate() {
        let rpath = format!("{path}.references[{r}]");
        let ref_trace = if reference.trace_id.is_empty() {
            trace_hex
        } else {
            &reference.trace_id
        };
        let link_trace = hex_id(ref_trace, 32, format!("{rpath}.traceID"))?;
        let link_span = hex_id(&reference.span_id, 16, format!("{rpath}.spanID"))?;
        let child_of = match reference.ref_type.as_str() {
            "CHILD_OF" | "" => true,
            "FOLLOWS_FROM" => false,
            other => {
                return Err(bad(
                    format!("{rpath}.refType"),
                    format!(
                        "unknown reference type {:?}; accepted: CHILD_OF, FOLLOWS_FROM",
                        short(other)
                    ),
                ));
            }
        };
        if child_of && !parent_found && link_trace == trace_id {
            out.parent_span_id = link_span;
            parent_found = true;
            continue;
        }
        out.links.push(span::Link {
            trace_id: link_trace,
            span_id: link_span,
            attributes: if child_of {
                vec![KeyValue {
                    key: "opentracing.ref_type".to_owned(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("child_of".to_owned())),
                    }),
                    key_strindex: 0,
                }]
            } else {
                Vec::new()
            },
            ..Default::default()
        });
    }
    for (l, log) in span.logs.iter().enumerate() {
        let mut event = span::Event {
            time_unix_nano: log.timestamp.saturating_mul(1000),
            ..Default::default()
        };
        for (f, field) in log.fields.iter().enumerate() {
            match (field.key.as_str(), text(field)) {
                ("event", Some(name)) if event.name.is_empty() => event.name = name.to_owned(),
                _ => event
                    .attributes
                    .push(attribute(field, &format!("{path}.logs[{l}].fields[{f}]"))?),
            }
        }
        out.events.push(event);
    }
    Ok((scope, out))
}
