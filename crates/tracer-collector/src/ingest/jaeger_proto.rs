//! Jaeger's protobuf model (jaegertracing/jaeger-idl `proto/api_v2/model.proto`), the body of
//! `jaeger.api_v2.CollectorService/PostSpans` on the gRPC port 14250 (see
//! [`super::jaeger_grpc`]), decoded and mapped to the store's [`SpanBatch`].
//!
//! The protobuf model carries what the thrift model carries, in other clothes, so each span is
//! lowered to the thrift model (the generated one, owned, then viewed as the borrowed one the thrift
//! receivers decode to) and mapped by the one Jaeger mapping in [`super::jaeger_thrift`]
//! (ids, parent and references, flags, typed tags, logs, `span.kind`/`error`/`otel.status_code`,
//! process -> resource): the two receivers cannot disagree. What differs is handled here:
//!
//! | protobuf | lowered to |
//! |---|---|
//! | `trace_id` bytes: 16 (high then low), 8 (a 64-bit id), empty (all zero, which the store rejects as invalid) | `traceIdHigh`, `traceIdLow`; any other length refuses the request |
//! | `span_id` bytes: 8, or empty (zero) | `spanId` (any other length refuses the request) |
//! | `references` (`CHILD_OF` = 0, `FOLLOWS_FROM` = 1) | `references`; the parent is the first same-trace `CHILD_OF` (protobuf has no `parentSpanId`) |
//! | `ValueType` `STRING, BOOL, INT64, FLOAT64, BINARY` (0..4; an unknown value reads as the string) | thrift `TagType` (numbered differently) |
//! | `start_time` (`Timestamp`), `duration` (`Duration`), log `timestamp` | start, end and event times, to the nanosecond (the thrift model has microseconds) |
//! | `span.process`, else the batch's `process` (the span's wins, as in Jaeger) | the resource of that span |
//! | `process_id`, `warnings` | not kept (OTLP, the store's model, has no place for them) |
//! | no process on the span nor the batch | a resource without attributes (service `OTLPResourceNoServiceName`, as OTLP's rule for a resource without `service.name`) |
//!
//! Decoding is prost's: lengths are checked against the remaining payload before anything is
//! allocated, and nesting is bounded (prost's recursion limit), so memory stays proportional to
//! the payload, which the receiver bounds by the body limit.

use prost::Message;

use super::IngestError;
use super::foreign::Groups;
use super::r#gen::jaeger;
use super::r#gen::jaeger_api_v2 as api_v2;
use super::jaeger_thrift::{self, Lists, Nanos, normalize, push_process, push_span, view_tag};
use super::receiver::decode_error;
use crate::store::batch::{Resource, SpanBatch};
use crate::vocabulary::NO_SERVICE_NAME;

const ENCODING: &str = "Jaeger protobuf";

/// A `PostSpansRequest` lowered to the thrift model, ready to map: the distinct processes, and
/// each span with the process it belongs to and its times to the nanosecond.
#[derive(Debug, Default)]
pub(crate) struct Lowered {
    processes: Vec<jaeger::Process>,
    spans: Vec<LoweredSpan>,
}

#[derive(Debug)]
struct LoweredSpan {
    /// Index into `processes`; `None` when neither the span nor the batch has a process.
    process: Option<usize>,
    span: jaeger::Span,
    times: Times,
}

/// Decodes a `PostSpansRequest` and lowers its batch (the gRPC receiver's decoding).
pub(crate) fn decode_post_spans(payload: &[u8]) -> Result<Lowered, IngestError> {
    let request =
        api_v2::PostSpansRequest::decode(payload).map_err(|e| decode_error(ENCODING, e))?;
    lower(request.batch.unwrap_or_default())
}

/// Lowers a protobuf batch: a process per distinct process, the span's own winning over the
/// batch's.
pub(crate) fn lower(batch: api_v2::Batch) -> Result<Lowered, IngestError> {
    let mut lowered = Lowered::default();
    let batch_process = batch.process.map(|p| lowered.process(lower_process(p)));
    for (i, mut span) in batch.spans.into_iter().enumerate() {
        let own = span
            .process
            .take()
            .map(|p| lowered.process(lower_process(p)));
        let times = Times::of(&span);
        let mut lowered_span =
            lower_span(span).map_err(|e| decode_error(ENCODING, format!("span {i}: {e}")))?;
        normalize(&mut lowered_span);
        lowered.spans.push(LoweredSpan {
            process: own.or(batch_process),
            span: lowered_span,
            times,
        });
    }
    Ok(lowered)
}

impl Lowered {
    /// The index of `process`, added unless an equal one is there already.
    fn process(&mut self, process: jaeger::Process) -> usize {
        match self.processes.iter().position(|p| *p == process) {
            Some(i) => i,
            None => {
                self.processes.push(process);
                self.processes.len() - 1
            }
        }
    }

    /// Fills `batch` (cleared first) with these spans, borrowing from them.
    pub(crate) fn fill<'a>(&'a self, batch: &mut SpanBatch<'a>) {
        batch.clear();
        batch.spans.reserve(self.spans.len());
        // The thrift mapping reads a borrowed thrift batch: one is made of the lowered spans.
        let mut view = jaeger_thrift::Batch::default();
        let tags = |view: &mut jaeger_thrift::Batch<'a>, tags: &'a [jaeger::Tag]| {
            let start = view.tags.len() as u32;
            view.tags.extend(tags.iter().map(view_tag));
            start..view.tags.len() as u32
        };
        let processes: Vec<jaeger_thrift::Process<'a>> = self
            .processes
            .iter()
            .map(|p| jaeger_thrift::Process {
                service_name: &p.service_name,
                tags: tags(&mut view, p.tags.as_deref().unwrap_or_default()),
            })
            .collect();
        for s in &self.spans {
            let span = &s.span;
            let references = view.references.len() as u32;
            view.references
                .extend(
                    span.references
                        .iter()
                        .flatten()
                        .map(|r| jaeger_thrift::SpanRef {
                            child_of: r.ref_type == jaeger::SpanRefType::CHILD_OF,
                            trace_id_low: r.trace_id_low,
                            trace_id_high: r.trace_id_high,
                            span_id: r.span_id,
                        }),
                );
            let references = references..view.references.len() as u32;
            let span_tags = tags(&mut view, span.tags.as_deref().unwrap_or_default());
            let logs = view.logs.len() as u32;
            for log in span.logs.iter().flatten() {
                let fields = tags(&mut view, &log.fields);
                view.logs.push(jaeger_thrift::Log {
                    timestamp: log.timestamp,
                    fields,
                });
            }
            let logs = logs..view.logs.len() as u32;
            view.spans.push(jaeger_thrift::Span {
                trace_id_low: span.trace_id_low,
                trace_id_high: span.trace_id_high,
                span_id: span.span_id,
                parent_span_id: span.parent_span_id,
                operation_name: &span.operation_name,
                references,
                flags: span.flags,
                start_time: span.start_time,
                duration: span.duration,
                tags: span_tags,
                logs,
            });
        }
        let lists = Lists {
            batch: &view,
            texts: &[],
        };
        for process in &processes {
            push_process(batch, lists, process);
        }
        let mut no_process = None;
        let mut groups = Groups::default();
        for (s, span) in self.spans.iter().zip(&view.spans) {
            let resource = match s.process {
                Some(i) => i as u32,
                None => *no_process.get_or_insert_with(|| {
                    batch.resources.push(Resource {
                        service: NO_SERVICE_NAME,
                        ..Resource::default()
                    });
                    (batch.resources.len() - 1) as u32
                }),
            };
            let nanos = Nanos {
                start: s.times.start,
                end: s.times.start.saturating_add(s.times.duration),
                logs: &s.times.logs,
            };
            push_span(batch, &mut groups, lists, span, resource, Some(&nanos));
        }
    }
}

fn lower_process(process: api_v2::Process) -> jaeger::Process {
    jaeger::Process {
        service_name: process.service_name,
        tags: Some(process.tags.into_iter().map(lower_tag).collect()),
    }
}

fn lower_tag(kv: api_v2::KeyValue) -> jaeger::Tag {
    use api_v2::ValueType;
    let mut tag = jaeger::Tag {
        key: kv.key,
        v_type: jaeger::TagType::STRING,
        v_str: None,
        v_double: None,
        v_bool: None,
        v_long: None,
        v_binary: None,
    };
    match ValueType::try_from(kv.v_type) {
        Ok(ValueType::Bool) => {
            tag.v_type = jaeger::TagType::BOOL;
            tag.v_bool = Some(kv.v_bool);
        }
        Ok(ValueType::Int64) => {
            tag.v_type = jaeger::TagType::LONG;
            tag.v_long = Some(kv.v_int64);
        }
        Ok(ValueType::Float64) => {
            tag.v_type = jaeger::TagType::DOUBLE;
            tag.v_double = Some(kv.v_float64.into());
        }
        Ok(ValueType::Binary) => {
            tag.v_type = jaeger::TagType::BINARY;
            tag.v_binary = Some(kv.v_binary);
        }
        Ok(ValueType::String) | Err(_) => tag.v_str = Some(kv.v_str),
    }
    tag
}

/// A trace id as (high, low).
fn trace_id(bytes: &[u8]) -> Result<(i64, i64), String> {
    match bytes.len() {
        0 => Ok((0, 0)),
        8 => Ok((0, be_i64(bytes))),
        16 => Ok((be_i64(&bytes[..8]), be_i64(&bytes[8..]))),
        n => Err(format!(
            "a trace id of {n} bytes; a trace id is 16 bytes (8 for a 64-bit id)"
        )),
    }
}

fn span_id(bytes: &[u8]) -> Result<i64, String> {
    match bytes.len() {
        0 => Ok(0),
        8 => Ok(be_i64(bytes)),
        n => Err(format!("a span id of {n} bytes; a span id is 8 bytes")),
    }
}

fn be_i64(bytes: &[u8]) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(bytes);
    i64::from_be_bytes(b)
}

fn lower_span(span: api_v2::Span) -> Result<jaeger::Span, String> {
    let (trace_id_high, trace_id_low) = trace_id(&span.trace_id)?;
    let references = span
        .references
        .into_iter()
        .map(|r| {
            let (high, low) = trace_id(&r.trace_id).map_err(|e| format!("reference: {e}"))?;
            Ok(jaeger::SpanRef {
                ref_type: jaeger::SpanRefType(match api_v2::SpanRefType::try_from(r.ref_type) {
                    Ok(api_v2::SpanRefType::ChildOf) => jaeger::SpanRefType::CHILD_OF.0,
                    _ => jaeger::SpanRefType::FOLLOWS_FROM.0,
                }),
                trace_id_low: low,
                trace_id_high: high,
                span_id: span_id(&r.span_id).map_err(|e| format!("reference: {e}"))?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(jaeger::Span {
        trace_id_low,
        trace_id_high,
        span_id: span_id(&span.span_id)?,
        parent_span_id: 0,
        operation_name: span.operation_name,
        references: Some(references),
        flags: span.flags as i32,
        // Times are kept to the nanosecond beside the span (`Times`, passed as `Nanos`).
        start_time: 0,
        duration: 0,
        tags: Some(span.tags.into_iter().map(lower_tag).collect()),
        logs: Some(
            span.logs
                .into_iter()
                .map(|log| jaeger::Log {
                    timestamp: 0,
                    fields: log.fields.into_iter().map(lower_tag).collect(),
                })
                .collect(),
        ),
        incomplete: None,
    })
}

/// A span's times in nanoseconds since the epoch, kept aside while the span is lowered to the
/// microsecond thrift model.
#[derive(Debug)]
struct Times {
    start: u64,
    duration: u64,
    logs: Vec<u64>,
}

impl Times {
    fn of(span: &api_v2::Span) -> Self {
        Times {
            start: span
                .start_time
                .as_ref()
                .map_or(0, |t| nanos(t.seconds, t.nanos)),
            duration: span
                .duration
                .as_ref()
                .map_or(0, |d| nanos(d.seconds, d.nanos)),
            logs: span
                .logs
                .iter()
                .map(|l| {
                    l.timestamp
                        .as_ref()
                        .map_or(0, |t| nanos(t.seconds, t.nanos))
                })
                .collect(),
        }
    }
}

/// Seconds and nanoseconds (a protobuf `Timestamp` or `Duration`) as nanoseconds; negative or
/// out-of-range parts count as zero, past `u64` saturates.
fn nanos(seconds: i64, nanos: i32) -> u64 {
    let seconds = u64::try_from(seconds).unwrap_or(0);
    let nanos = u64::try_from(nanos).unwrap_or(0).min(999_999_999);
    seconds.saturating_mul(1_000_000_000).saturating_add(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_other_lengths_refuse_the_request_naming_the_span() {
        let batch = api_v2::Batch {
            spans: vec![
                api_v2::Span::default(),
                api_v2::Span {
                    trace_id: vec![1; 12],
                    ..Default::default()
                },
            ],
            process: None,
        };
        let err = lower(batch).unwrap_err().to_string();
        assert!(err.contains("span 1: a trace id of 12 bytes"), "{err}");
    }

    #[test]
    fn time_parts_out_of_range_count_as_zero() {
        assert_eq!(nanos(-1, 5), 5);
        assert_eq!(nanos(1, -5), 1_000_000_000);
        assert_eq!(nanos(i64::MAX, i32::MAX), u64::MAX);
    }
}
