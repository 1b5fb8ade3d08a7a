//! Jaeger query API wire model.
//!
//! Mirrors Jaeger's UI JSON model (`jaeger/internal/uimodel/model.go`, produced by
//! `uimodel/converter/v1/json/from_domain.go`) and the envelope of the query service's HTTP
//! handler (`cmd/query/app/http_handler.go`, `structuredResponse`). Field names, `omitempty`
//! behaviour and `null` for absent slices follow the Go structs, so the Jaeger UI and tools
//! written against Jaeger read these responses unchanged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The response envelope: `{data, total, limit, offset, errors}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// The payload; `null` on error.
    pub data: Option<T>,
    /// Number of items in `data` (0 when not a list).
    pub total: usize,
    /// Always 0.
    pub limit: usize,
    /// Always 0.
    pub offset: usize,
    /// `null` on success.
    pub errors: Option<Vec<EnvelopeError>>,
}

/// One error of the envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvelopeError {
    /// HTTP status code.
    pub code: u16,
    /// Message.
    pub msg: String,
    /// Trace id the error is about (`traceID`, omitted when empty).
    #[serde(rename = "traceID", default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

/// A trace: spans plus the processes they reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// Trace id in hex (16 digits when the high half is zero, else 32), as Jaeger prints it.
    #[serde(rename = "traceID")]
    pub trace_id: String,
    /// Spans, in stored order.
    pub spans: Vec<Span>,
    /// Processes keyed `p1`, `p2`, ... in order of first use.
    pub processes: BTreeMap<String, Process>,
    /// Always `null` here.
    pub warnings: Option<Vec<String>>,
}

/// A span.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Span {
    /// Trace id, hex.
    #[serde(rename = "traceID")]
    pub trace_id: String,
    /// Span id, 16 hex digits.
    #[serde(rename = "spanID")]
    pub span_id: String,
    /// Trace flags; omitted when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub flags: u32,
    /// Operation name.
    #[serde(rename = "operationName")]
    pub operation_name: String,
    /// Parent (CHILD_OF, first) and links (FOLLOWS_FROM).
    pub references: Vec<Reference>,
    /// Start, microseconds since the Unix epoch.
    #[serde(rename = "startTime")]
    pub start_time: u64,
    /// Duration in microseconds.
    pub duration: u64,
    /// Typed tags.
    pub tags: Vec<KeyValue>,
    /// Logs (span events).
    pub logs: Vec<Log>,
    /// Key into the trace's `processes`.
    #[serde(rename = "processID")]
    pub process_id: String,
    /// Always `null` here.
    pub warnings: Option<Vec<String>>,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

/// A reference from one span to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    /// `CHILD_OF` or `FOLLOWS_FROM`.
    #[serde(rename = "refType")]
    pub ref_type: String,
    /// Trace id, hex.
    #[serde(rename = "traceID")]
    pub trace_id: String,
    /// Span id, hex.
    #[serde(rename = "spanID")]
    pub span_id: String,
}

/// The process (service) that emitted spans.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Process {
    /// Service name.
    #[serde(rename = "serviceName")]
    pub service_name: String,
    /// Resource attributes other than `service.name`.
    pub tags: Vec<KeyValue>,
}

/// A log entry (span event).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Log {
    /// Microseconds since the Unix epoch.
    pub timestamp: u64,
    /// `event` (the event name) then the event attributes.
    pub fields: Vec<KeyValue>,
}

/// A typed tag. `value` is a JSON string, bool or number; an int64 outside ±(2^53-1) is a string,
/// and binary is base64, as Jaeger serializes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyValue {
    /// Key.
    pub key: String,
    /// `string`, `bool`, `int64`, `float64` or `binary`.
    #[serde(rename = "type")]
    pub value_type: String,
    /// Value.
    pub value: serde_json::Value,
}

/// A service dependency edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependencyLink {
    /// Calling service.
    pub parent: String,
    /// Called service.
    pub child: String,
    /// Number of calls.
    #[serde(rename = "callCount")]
    pub call_count: u64,
}

/// An operation with its span kind (`/api/operations`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// Operation name.
    pub name: String,
    /// `server`, `client`, `producer`, `consumer`, `internal` or empty.
    #[serde(rename = "spanKind")]
    pub span_kind: String,
}

/// One trace of `/api/v3/trace-summaries`: what a search result row shows, without the spans.
///
/// Mirrors Jaeger's api_v3 `TraceSummary` message (jaegertracing/jaeger
/// `docs/adr/010-trace-summary-api.md`; served by
/// `cmd/jaeger/internal/extension/jaegerquery/internal/apiv3/http_gateway.go`) in proto3 JSON:
/// lowerCamelCase names and 64-bit integers as decimal strings. Jaeger's marshaller omits
/// zero-valued fields; these are always written, which proto3 JSON readers accept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceSummary {
    /// Trace id, 32 hex digits (as OTLP JSON writes it).
    pub trace_id: String,
    /// Service of the root span (a span without parent; the earliest when there are several;
    /// empty when there is none).
    pub root_service_name: String,
    /// Name of that root span.
    pub root_operation_name: String,
    /// Start of the earliest span, Unix nanoseconds as a decimal string (proto `fixed64`).
    pub min_start_time_unix_nano: String,
    /// End of the latest-ending span, Unix nanoseconds as a decimal string.
    pub max_end_time_unix_nano: String,
    /// Number of spans.
    pub span_count: u32,
    /// Spans with status ERROR.
    pub error_span_count: u32,
    /// Spans whose parent is not in the trace.
    pub orphan_span_count: u32,
    /// One entry per service, sorted by name.
    pub services: Vec<ServiceSummary>,
}

/// Spans of one service in a [`TraceSummary`] (Jaeger api_v3 `ServiceSummary`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSummary {
    /// Service name.
    pub name: String,
    /// Spans of the service.
    pub span_count: u32,
    /// Spans of the service with status ERROR.
    pub error_span_count: u32,
}

/// The body of `/api/v3/trace-summaries` (Jaeger api_v3 `FindTraceSummariesResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceSummaries {
    /// Summaries in the order of the search (newest trace first).
    pub summaries: Vec<TraceSummary>,
}
