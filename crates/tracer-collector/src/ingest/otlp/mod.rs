//! OTLP trace export requests to the store's [`SpanBatch`].
//!
//! Two decoders, one set of rules, and the way back:
//! - [`protobuf`] reads the protobuf wire format of `ExportTraceServiceRequest` straight into a
//!   batch that borrows from the payload (the 4317/4318 fast path);
//! - [`request`] maps a decoded prost `ExportTraceServiceRequest` (from OTLP/JSON, from the
//!   protobuf fallback, from trace file imports);
//! - [`encode`] turns any batch back into an export request, for forwarding what arrived in
//!   another format.
//!
//! The OTLP rules both apply, so both produce the same batch for the same request:
//! - ids: a trace id is 16 bytes, a span id 8 bytes, neither all zero; a parent span id is empty
//!   or 8 bytes; a span breaking this is rejected (counted, the first reason kept) and the rest
//!   of the request is stored (partial success);
//! - attribute values nest arrays and maps at most [`MAX_VALUE_DEPTH`] levels; a span with a
//!   deeper value is rejected; in a resource or scope (no span to reject) the value is stored as
//!   an empty string;
//! - span kinds and status codes no OTLP version defines are stored as unspecified / unset,
//!   the number kept in the attribute [`UNKNOWN_SPAN_KIND`] / [`UNKNOWN_STATUS_CODE`];
//! - a resource without a string `service.name` belongs to [`NO_SERVICE_NAME`];
//! - a link's ids are left-padded (or cut) to 16 and 8 bytes.
//!
//! [`NO_SERVICE_NAME`]: crate::vocabulary::NO_SERVICE_NAME

pub mod encode;
pub mod protobuf;
pub mod request;

use crate::store::batch::{AnyValue, KeyValue, SpanBatch, SpanKind, StatusCode};
use crate::vocabulary::{NO_SERVICE_NAME, SERVICE_NAME};

/// Deepest nesting of arrays and maps accepted in an attribute value; a span with a deeper
/// value is rejected (partial success naming this limit).
pub const MAX_VALUE_DEPTH: usize = 32;

/// Attribute holding a span kind number no OTLP version defines (the span is stored as
/// unspecified).
pub const UNKNOWN_SPAN_KIND: &str = "tracer.unknown_span_kind";

/// Attribute holding a status code number no OTLP version defines (the status is stored as
/// unset).
pub const UNKNOWN_STATUS_CODE: &str = "tracer.unknown_status_code";

/// The message of a span rejected for a value nested past [`MAX_VALUE_DEPTH`].
pub(crate) fn too_deep(key: &str) -> String {
    format!(
        "attribute {key:?} nests arrays and maps deeper than {MAX_VALUE_DEPTH} levels (the limit)"
    )
}

/// The span kind and status code as stored, pushing an [`UNKNOWN_SPAN_KIND`] or
/// [`UNKNOWN_STATUS_CODE`] attribute for numbers no OTLP version defines.
pub(crate) fn kind_and_status(
    batch: &mut SpanBatch<'_>,
    kind: i32,
    status: i32,
) -> (SpanKind, StatusCode) {
    let kind = match u8::try_from(kind) {
        Ok(k) if k <= 5 => k,
        _ => {
            batch.attributes.push(KeyValue {
                key: UNKNOWN_SPAN_KIND,
                value: AnyValue::Int(i64::from(kind)),
            });
            0
        }
    };
    let status = match u8::try_from(status) {
        Ok(s) if s <= 2 => s,
        _ => {
            batch.attributes.push(KeyValue {
                key: UNKNOWN_STATUS_CODE,
                value: AnyValue::Int(i64::from(status)),
            });
            0
        }
    };
    (kind, status)
}

/// The service of a resource with these attributes.
pub(crate) fn service_of<'a>(attributes: &[KeyValue<'a>]) -> &'a str {
    attributes
        .iter()
        .find(|kv| kv.key == SERVICE_NAME)
        .and_then(|kv| match kv.value {
            AnyValue::Str(s) => Some(s),
            _ => None,
        })
        .unwrap_or(NO_SERVICE_NAME)
}

fn id_problem(what: &str, id: &[u8], want: usize) -> Option<String> {
    if id.len() != want {
        Some(format!("{what} has {} bytes, want {want}", id.len()))
    } else if id.iter().all(|&b| b == 0) {
        Some(format!("{what} is all zeros"))
    } else {
        None
    }
}

/// Checks a span's ids and returns them as (trace id, span id, parent span id or 0).
pub(crate) fn validate_ids(
    trace_id: &[u8],
    span_id: &[u8],
    parent_span_id: &[u8],
) -> Result<(u128, u64, u64), String> {
    if let Some(p) = id_problem("trace_id", trace_id, 16) {
        return Err(p);
    }
    if let Some(p) = id_problem("span_id", span_id, 8) {
        return Err(p);
    }
    let parent = match <[u8; 8]>::try_from(parent_span_id) {
        Ok(bytes) => u64::from_be_bytes(bytes),
        Err(_) if parent_span_id.is_empty() => 0,
        Err(_) => {
            return Err(format!(
                "parent_span_id has {} bytes, want 0 or 8",
                parent_span_id.len()
            ));
        }
    };
    let trace = u128::from_be_bytes(trace_id.try_into().map_err(|_| "trace_id".to_owned())?);
    let span = u64::from_be_bytes(span_id.try_into().map_err(|_| "span_id".to_owned())?);
    Ok((trace, span, parent))
}

/// A link's (trace id, span id): left-padded, or cut to their first 16 and 8 bytes.
pub(crate) fn link_ids(trace_id: &[u8], span_id: &[u8]) -> (u128, u64) {
    let mut trace = [0u8; 16];
    let n = trace_id.len().min(16);
    trace[16 - n..].copy_from_slice(&trace_id[..n]);
    let mut span = [0u8; 8];
    let n = span_id.len().min(8);
    span[8 - n..].copy_from_slice(&span_id[..n]);
    (u128::from_be_bytes(trace), u64::from_be_bytes(span))
}
