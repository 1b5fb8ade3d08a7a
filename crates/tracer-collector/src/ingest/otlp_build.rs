//! Building OTLP requests out of spans that arrive in other formats (Jaeger thrift, Zipkin).
//!
//! Foreign formats put the service identity on every span (Zipkin's `localEndpoint`) or on a
//! batch (Jaeger's `Process`); OTLP groups spans under a resource and an instrumentation scope.
//! [`BatchBuilder`] does that grouping, so each format's converter only has to map one span at a
//! time. The helpers for attribute values and the names both formats share (span kinds by name,
//! `otel.status_code`, `otel.scope.*`) live here too, so the two converters agree on them.

use std::collections::HashMap;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;

/// OTLP `SPAN_KIND_INTERNAL`, the kind of a span whose format names none.
pub(crate) const KIND_INTERNAL: i32 = 1;
/// OTLP `SPAN_KIND_SERVER`.
pub(crate) const KIND_SERVER: i32 = 2;
/// OTLP `SPAN_KIND_CLIENT`.
pub(crate) const KIND_CLIENT: i32 = 3;
/// OTLP `SPAN_KIND_PRODUCER`.
pub(crate) const KIND_PRODUCER: i32 = 4;
/// OTLP `SPAN_KIND_CONSUMER`.
pub(crate) const KIND_CONSUMER: i32 = 5;

/// OTLP `STATUS_CODE_OK`.
pub(crate) const STATUS_OK: i32 = 1;
/// OTLP `STATUS_CODE_ERROR`.
pub(crate) const STATUS_ERROR: i32 = 2;

// The tag names both converters read, from the one vocabulary the query API renders with.
pub(crate) use crate::vocabulary::{
    OTEL_LIBRARY_NAME, OTEL_LIBRARY_VERSION, OTEL_SCOPE_NAME, OTEL_SCOPE_VERSION, OTEL_STATUS_CODE,
    OTEL_STATUS_DESCRIPTION, SPAN_KIND as SPAN_KIND_TAG,
};
use crate::vocabulary::{STATUS_CODE_ERROR, STATUS_CODE_OK};

/// A key-value attribute.
pub(crate) fn kv(key: impl Into<String>, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        key_strindex: 0,
    }
}

/// A string attribute.
pub(crate) fn string_kv(key: impl Into<String>, value: impl Into<String>) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.into()))
}

/// The OTLP span kind a lowercase OpenTracing/Zipkin kind name stands for.
pub(crate) fn kind_from_name(name: &str) -> Option<i32> {
    match name.to_ascii_lowercase().as_str() {
        "internal" => Some(KIND_INTERNAL),
        "server" => Some(KIND_SERVER),
        "client" => Some(KIND_CLIENT),
        "producer" => Some(KIND_PRODUCER),
        "consumer" => Some(KIND_CONSUMER),
        _ => None,
    }
}

/// Status set from the tags foreign formats use: `error` (truthy) and OpenTelemetry's
/// `otel.status_code` / `otel.status_description`, which win when present.
#[derive(Debug, Default)]
pub(crate) struct StatusTags {
    /// `error` was set to a true value; the message it carried, if it was not just "true".
    pub(crate) error: Option<String>,
    /// `otel.status_code`, upper-cased.
    pub(crate) code: Option<String>,
    /// `otel.status_description`.
    pub(crate) description: Option<String>,
}

impl StatusTags {
    /// The OTLP status these tags describe, `None` when they describe none (unset).
    pub(crate) fn status(self) -> Option<Status> {
        let code = match self.code.as_deref() {
            Some(STATUS_CODE_OK) => STATUS_OK,
            Some(STATUS_CODE_ERROR) => STATUS_ERROR,
            _ if self.error.is_some() => STATUS_ERROR,
            _ => return None,
        };
        let message = if code == STATUS_ERROR {
            self.description
                .or(self.error)
                .filter(|m| !m.is_empty())
                .unwrap_or_default()
        } else {
            String::new()
        };
        Some(Status { message, code })
    }
}

/// Whether an `error` tag's text value means "this span failed" (anything but `false`/`0`).
pub(crate) fn error_text_is_true(value: &str) -> bool {
    !matches!(value.trim().to_ascii_lowercase().as_str(), "false" | "0")
}

/// Groups converted spans by resource and scope into one OTLP request, keeping the order in
/// which resources, scopes and spans first appear.
#[derive(Debug, Default)]
pub(crate) struct BatchBuilder {
    resources: Vec<ResourceSpans>,
    /// Encoded resource -> index in `resources`.
    by_resource: HashMap<Vec<u8>, usize>,
    /// (resource index, scope name, scope version) -> index in that resource's `scope_spans`.
    by_scope: HashMap<(usize, String, String), usize>,
}

impl BatchBuilder {
    /// Adds `span` under the resource with `resource` attributes and the scope `scope`
    /// (name, version; empty for none).
    pub(crate) fn push(&mut self, resource: &[KeyValue], scope: (&str, &str), span: Span) {
        let resource_key = Resource {
            attributes: resource.to_vec(),
            ..Default::default()
        }
        .encode_to_vec();
        let ri = match self.by_resource.get(&resource_key) {
            Some(&i) => i,
            None => {
                self.resources.push(ResourceSpans {
                    resource: Some(Resource {
                        attributes: resource.to_vec(),
                        ..Default::default()
                    }),
                    scope_spans: Vec::new(),
                    schema_url: String::new(),
                });
                let i = self.resources.len() - 1;
                self.by_resource.insert(resource_key, i);
                i
            }
        };
        let scope_key = (ri, scope.0.to_owned(), scope.1.to_owned());
        let rs = &mut self.resources[ri];
        let si = *self.by_scope.entry(scope_key).or_insert_with(|| {
            rs.scope_spans.push(ScopeSpans {
                scope: (!scope.0.is_empty() || !scope.1.is_empty()).then(|| InstrumentationScope {
                    name: scope.0.to_owned(),
                    version: scope.1.to_owned(),
                    ..Default::default()
                }),
                spans: Vec::new(),
                schema_url: String::new(),
            });
            rs.scope_spans.len() - 1
        });
        rs.scope_spans[si].spans.push(span);
    }

    /// The request holding every span added.
    pub(crate) fn finish(self) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: self.resources,
        }
    }
}

/// Microseconds since the epoch (as foreign formats send them) to OTLP nanoseconds, clamped at
/// zero for negative values and at `u64::MAX` for absurdly large ones.
pub(crate) fn micros_to_nanos(micros: i64) -> u64 {
    u64::try_from(micros).unwrap_or(0).saturating_mul(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_group_by_resource_then_scope_in_first_seen_order() {
        let mut b = BatchBuilder::default();
        let a = [string_kv("service.name", "a")];
        let z = [string_kv("service.name", "z")];
        b.push(&a, ("s", "1"), Span::default());
        b.push(&z, ("", ""), Span::default());
        b.push(&a, ("s", "1"), Span::default());
        b.push(&a, ("t", ""), Span::default());
        let r = b.finish();
        assert_eq!(r.resource_spans.len(), 2);
        assert_eq!(r.resource_spans[0].scope_spans.len(), 2);
        assert_eq!(r.resource_spans[0].scope_spans[0].spans.len(), 2);
        assert!(r.resource_spans[1].scope_spans[0].scope.is_none());
    }

    #[test]
    fn status_tags_follow_otel_first_then_error() {
        let s = StatusTags {
            error: Some("boom".into()),
            ..Default::default()
        };
        assert_eq!(
            s.status().map(|s| (s.code, s.message)),
            Some((2, "boom".into()))
        );
        let s = StatusTags {
            error: Some("x".into()),
            code: Some("ERROR".into()),
            description: Some("why".into()),
        };
        assert_eq!(s.status().map(|s| s.message), Some("why".into()));
        let s = StatusTags {
            code: Some("OK".into()),
            ..Default::default()
        };
        assert_eq!(s.status().map(|s| s.code), Some(1));
        assert!(StatusTags::default().status().is_none());
        assert!(!error_text_is_true("false") && error_text_is_true("true"));
    }
}
