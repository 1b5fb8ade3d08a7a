//! Turning an OTLP export request into stored spans, outside the store lock.
//!
//! Spans with invalid ids are rejected here (OTLP: a trace id is 16 bytes, a span id 8 bytes,
//! neither all zero; a parent span id is empty or 8 bytes) and counted, so the ingest edge can
//! answer with a partial success.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::Span;

use super::Store;
use super::span::{SpanRecord, Value, Writer, bloom_bits};

/// Spans ready to insert, plus what was rejected and why.
#[derive(Debug, Default)]
pub struct PreparedBatch {
    pub(crate) spans: Vec<(u128, SpanRecord)>,
    /// Number of spans rejected for invalid ids.
    pub rejected: u64,
    /// Why the first rejected span was rejected.
    pub first_error: Option<String>,
}

impl PreparedBatch {
    /// Counts a rejected span, keeping the first reason.
    pub(crate) fn reject(&mut self, name: &str, problem: &str) {
        self.rejected += 1;
        if self.first_error.is_none() {
            self.first_error = Some(format!("span {name:?}: {problem}"));
        }
    }

    /// Number of spans accepted for storage.
    pub fn accepted(&self) -> usize {
        self.spans.len()
    }
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
    let parent = match parent_span_id.len() {
        0 => 0,
        8 => u64::from_be_bytes(parent_span_id.try_into().expect("8 bytes")),
        n => return Err(format!("parent_span_id has {n} bytes, want 0 or 8")),
    };
    let trace = u128::from_be_bytes(trace_id.try_into().expect("16 bytes"));
    let span = u64::from_be_bytes(span_id.try_into().expect("8 bytes"));
    Ok((trace, span, parent))
}

impl Store {
    /// Validates and packs the spans of `request`. Cheap to call from a blocking thread; takes
    /// only the interner's and catalog's locks, never the store's.
    pub fn prepare(&self, request: &ExportTraceServiceRequest) -> PreparedBatch {
        let mut batch = PreparedBatch::default();
        let total: usize = request
            .resource_spans
            .iter()
            .flat_map(|rs| rs.scope_spans.iter())
            .map(|ss| ss.spans.len())
            .sum();
        batch.spans.reserve_exact(total);
        let mut w = Writer::default();
        for rs in &request.resource_spans {
            let process = self
                .catalog
                .process_id(rs.resource.as_ref(), &self.interner);
            let service = self.catalog.process(process).service;
            for ss in &rs.scope_spans {
                let scope = self.catalog.scope_id(ss.scope.as_ref());
                for span in &ss.spans {
                    let ids = validate_ids(&span.trace_id, &span.span_id, &span.parent_span_id);
                    let (trace_id, span_id, parent_span_id) = match ids {
                        Ok(ids) => ids,
                        Err(problem) => {
                            batch.reject(&span.name, &problem);
                            continue;
                        }
                    };
                    w.buf.clear();
                    let attr_bloom = self.pack(&mut w, span);
                    let status = span.status.as_ref().map_or(0, |s| s.code.clamp(0, 2) as u8);
                    let record = SpanRecord {
                        span_id,
                        parent_span_id,
                        start_ns: span.start_time_unix_nano,
                        duration_ns: span
                            .end_time_unix_nano
                            .saturating_sub(span.start_time_unix_nano),
                        name: self.interner.intern(&span.name),
                        service,
                        process,
                        scope,
                        flags: span.flags,
                        kind: span.kind.clamp(0, 5) as u8,
                        status,
                        attr_bloom,
                        data: w.buf.as_slice().into(),
                    };
                    batch.spans.push((trace_id, record));
                }
            }
        }
        batch
    }

    /// Packs attributes; adds their bloom bits to `bloom` when given.
    fn pack_attrs(&self, w: &mut Writer, attrs: &[KeyValue], mut bloom: Option<&mut u64>) {
        w.varint(attrs.len() as u64);
        for kv in attrs {
            let key = self.interner.intern(&kv.key);
            w.varint(u64::from(key.0));
            let value = kv.value.as_ref().and_then(|v| v.value.as_ref());
            if let Some(bloom) = bloom.as_deref_mut() {
                *bloom |= bloom_bits(key, Value::of(value));
            }
            w.value(value);
        }
    }

    /// Packs the span's detail into `w`; returns the attribute bloom filter.
    fn pack(&self, w: &mut Writer, span: &Span) -> u64 {
        let mut bloom = 0u64;
        w.str(span.status.as_ref().map_or("", |s| s.message.as_str()));
        w.str(&span.trace_state);
        w.varint(u64::from(span.dropped_attributes_count));
        self.pack_attrs(w, &span.attributes, Some(&mut bloom));
        w.varint(span.events.len() as u64);
        for event in &span.events {
            w.signed(event.time_unix_nano.wrapping_sub(span.start_time_unix_nano) as i64);
            w.str(&event.name);
            w.varint(u64::from(event.dropped_attributes_count));
            self.pack_attrs(w, &event.attributes, Some(&mut bloom));
        }
        w.varint(u64::from(span.dropped_events_count));
        w.varint(span.links.len() as u64);
        for link in &span.links {
            w.link_ids(&link.trace_id, &link.span_id);
            w.str(&link.trace_state);
            w.varint(u64::from(link.flags));
            w.varint(u64::from(link.dropped_attributes_count));
            self.pack_attrs(w, &link.attributes, None);
        }
        w.varint(u64::from(span.dropped_links_count));
        bloom
    }
}
