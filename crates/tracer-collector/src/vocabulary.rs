//! The names Jaeger and OpenTelemetry give span fields when they travel as tags: one place for
//! the query API (which renders spans as Jaeger tags and parses tag searches) and for the
//! receivers (which read those tags back from Jaeger and Zipkin spans), so the two agree.
//!
//! The store knows none of these: it keeps kinds and status codes as numbers
//! ([`crate::store::batch`]) and is asked about span fields through
//! [`FieldCondition`]s, which [`tag_condition`] derives from a Jaeger tag search.
//!
//! The Jaeger names follow the OpenTelemetry Collector's OTLP to Jaeger translation
//! (`pkg/translator/jaeger`), which is what Jaeger serves for OTLP spans.

use crate::store::batch::{KIND_UNSPECIFIED, STATUS_ERROR, STATUS_OK, SpanKind, StatusCode};
use crate::store::{FieldCondition, TagCondition};

/// Resource attribute naming the service (OpenTelemetry semantic conventions).
pub const SERVICE_NAME: &str = opentelemetry_semantic_conventions::attribute::SERVICE_NAME;

/// Service name used when a resource has no `service.name`, as the OTLP to Jaeger translation
/// does.
pub const NO_SERVICE_NAME: &str = "OTLPResourceNoServiceName";

/// Tag naming the span kind in OpenTracing-style formats (`client`, `server`, ...).
pub const SPAN_KIND: &str = "span.kind";
/// Tag saying a span failed (`true`; Zipkin puts the message in it).
pub const ERROR: &str = "error";
/// Tag OpenTelemetry exporters use for the status code ([`STATUS_CODE_OK`],
/// [`STATUS_CODE_ERROR`]).
pub const OTEL_STATUS_CODE: &str = "otel.status_code";
/// Tag OpenTelemetry exporters use for the status message.
pub const OTEL_STATUS_DESCRIPTION: &str = "otel.status_description";
/// Tag OpenTelemetry exporters use for the instrumentation scope's name.
pub const OTEL_SCOPE_NAME: &str = "otel.scope.name";
/// Tag OpenTelemetry exporters use for the instrumentation scope's version.
pub const OTEL_SCOPE_VERSION: &str = "otel.scope.version";
/// Older name of [`OTEL_SCOPE_NAME`] (OpenTelemetry SDKs before the rename).
pub const OTEL_LIBRARY_NAME: &str = "otel.library.name";
/// Older name of [`OTEL_SCOPE_VERSION`].
pub const OTEL_LIBRARY_VERSION: &str = "otel.library.version";
/// Tag holding the W3C `tracestate`.
pub const W3C_TRACESTATE: &str = "w3c.tracestate";
/// Log field holding an event's name.
pub const EVENT: &str = "event";
/// Link attribute saying which OpenTracing reference a link stands for (`child_of`, ...).
pub const OPENTRACING_REF_TYPE: &str =
    opentelemetry_semantic_conventions::attribute::OPENTRACING_REF_TYPE;

/// [`OTEL_STATUS_CODE`] value of status OK.
pub const STATUS_CODE_OK: &str = "OK";
/// [`OTEL_STATUS_CODE`] value of status ERROR.
pub const STATUS_CODE_ERROR: &str = "ERROR";

/// Span kind names as Jaeger's `span.kind` tag and operation lists spell them, indexed by the
/// store's kind number (the OTLP enum value).
pub const KIND_NAMES: [&str; 6] = ["", "internal", "server", "client", "producer", "consumer"];

/// The Jaeger name of a span kind (empty for unspecified and unknown kinds).
pub fn kind_name(kind: SpanKind) -> &'static str {
    KIND_NAMES.get(usize::from(kind)).copied().unwrap_or("")
}

/// Parses a Jaeger span kind name (`server`, ...) or an OTLP one (`SPAN_KIND_SERVER`), in any
/// case.
pub fn parse_span_kind(s: &str) -> Option<SpanKind> {
    let lower = s.to_ascii_lowercase();
    let name = lower.strip_prefix("span_kind_").unwrap_or(&lower);
    if name == "unspecified" {
        return Some(KIND_UNSPECIFIED);
    }
    KIND_NAMES
        .iter()
        .position(|k| !k.is_empty() && *k == name)
        .map(|i| i as SpanKind)
}

/// The [`OTEL_STATUS_CODE`] value of a status code, `None` for unset.
pub fn status_code_name(status: StatusCode) -> Option<&'static str> {
    match status {
        STATUS_OK => Some(STATUS_CODE_OK),
        STATUS_ERROR => Some(STATUS_CODE_ERROR),
        _ => None,
    }
}

/// The store condition of a Jaeger tag search `key=value`: the attribute `key`, or the span
/// field Jaeger renders as that tag (`span.kind`, `error=true`, `otel.status_code`,
/// `otel.status_description`, `w3c.tracestate`, `otel.scope.name`, `otel.scope.version`,
/// `event`).
pub fn tag_condition(key: &str, value: &str) -> TagCondition {
    let field = match key {
        SPAN_KIND => KIND_NAMES
            .iter()
            .position(|k| !k.is_empty() && *k == value)
            .map(|k| FieldCondition::Kind(k as SpanKind)),
        ERROR => (value == "true").then_some(FieldCondition::Status(STATUS_ERROR)),
        OTEL_STATUS_CODE => match value {
            STATUS_CODE_OK => Some(FieldCondition::Status(STATUS_OK)),
            STATUS_CODE_ERROR => Some(FieldCondition::Status(STATUS_ERROR)),
            _ => None,
        },
        OTEL_STATUS_DESCRIPTION => Some(FieldCondition::StatusMessage(value.to_owned())),
        W3C_TRACESTATE => Some(FieldCondition::TraceState(value.to_owned())),
        OTEL_SCOPE_NAME => Some(FieldCondition::ScopeName(value.to_owned())),
        OTEL_SCOPE_VERSION => Some(FieldCondition::ScopeVersion(value.to_owned())),
        EVENT => Some(FieldCondition::EventName(value.to_owned())),
        _ => None,
    };
    TagCondition {
        field,
        ..TagCondition::attribute(key, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_parse_back_to_their_number() {
        for (kind, name) in KIND_NAMES.iter().enumerate().skip(1) {
            assert_eq!(parse_span_kind(name), Some(kind as SpanKind));
            assert_eq!(kind_name(kind as SpanKind), *name);
            let otlp = format!("SPAN_KIND_{}", name.to_ascii_uppercase());
            assert_eq!(parse_span_kind(&otlp), Some(kind as SpanKind));
        }
        assert_eq!(
            parse_span_kind("SPAN_KIND_UNSPECIFIED"),
            Some(KIND_UNSPECIFIED)
        );
        assert_eq!(parse_span_kind("sideways"), None);
        assert_eq!(kind_name(9), "");
    }

    #[test]
    fn jaeger_tags_that_name_span_fields_become_field_conditions() {
        assert_eq!(
            tag_condition(SPAN_KIND, "client").field,
            Some(FieldCondition::Kind(3))
        );
        assert_eq!(tag_condition(SPAN_KIND, "sideways").field, None);
        assert_eq!(
            tag_condition(ERROR, "true").field,
            Some(FieldCondition::Status(STATUS_ERROR))
        );
        assert_eq!(tag_condition(ERROR, "timeout").field, None);
        assert_eq!(
            tag_condition(OTEL_STATUS_CODE, "OK").field,
            Some(FieldCondition::Status(STATUS_OK))
        );
        assert_eq!(
            tag_condition("http.route", "/a"),
            TagCondition::attribute("http.route", "/a")
        );
    }
}
