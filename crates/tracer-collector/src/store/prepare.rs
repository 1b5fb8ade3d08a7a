//! Turning an OTLP export request into stored spans, outside the store lock.
//!
//! Spans with invalid ids are rejected here (OTLP: a trace id is 16 bytes, a span id 8 bytes,
//! neither all zero; a parent span id is empty or 8 bytes) and counted, so the ingest edge can
//! answer with a partial success.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;

use super::catalog::CatalogRefs;
use super::intern::{InternReader, Sym};
use super::span::{RecordFields, SpanFields, SpanRecord, Value, Writer, bloom_bits};
use super::values::{EVENT_NAME_KEY, Found, ValueReader};
use super::{Store, ValueDict};

/// Resolves the attribute keys and values of the span being packed, holding the interner's and
/// the value dictionary's read locks across the span instead of locking twice per attribute.
///
/// Locking: the two read locks are taken in the order queries take them (interner, then
/// dictionary), so no cycle of waits can form. A key or value to add releases both before the
/// interner or dictionary takes its write lock (packing never asks for a write lock while
/// holding a read lock), and [`Packer::release`] releases them after each span, so a writer
/// waits for the span being packed at most.
pub(crate) struct Packer<'s> {
    store: &'s Store,
    held: Option<(InternReader<'s>, ValueReader<'s>)>,
    /// Why the span being packed must be rejected (an attribute value nested too deep).
    pub(crate) problem: Option<String>,
}

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

/// The extra attributes for enum values no OTLP version defines: (key, number).
pub(crate) fn unknown_enums(kind: i32, status: i32) -> impl Iterator<Item = (&'static str, i64)> {
    let kind = (!(0..=5).contains(&kind)).then_some((UNKNOWN_SPAN_KIND, i64::from(kind)));
    let status = (!(0..=2).contains(&status)).then_some((UNKNOWN_STATUS_CODE, i64::from(status)));
    kind.into_iter().chain(status)
}

/// Whether `value` nests arrays and maps at most `left` levels deep.
fn depth_within(value: &any_value::Value, left: usize) -> bool {
    match value {
        any_value::Value::ArrayValue(a) => {
            left > 0
                && a.values
                    .iter()
                    .all(|v| v.value.as_ref().is_none_or(|v| depth_within(v, left - 1)))
        }
        any_value::Value::KvlistValue(kv) => {
            left > 0
                && kv.values.iter().all(|kv| {
                    kv.value
                        .as_ref()
                        .and_then(|v| v.value.as_ref())
                        .is_none_or(|v| depth_within(v, left - 1))
                })
        }
        _ => true,
    }
}

impl<'s> Packer<'s> {
    pub(crate) fn new(store: &'s Store) -> Self {
        Packer {
            store,
            held: None,
            problem: None,
        }
    }

    fn held(&mut self) -> &(InternReader<'s>, ValueReader<'s>) {
        let store = self.store;
        self.held
            .get_or_insert_with(|| (store.interner.reader(), store.values.reader()))
    }

    /// Releases the read locks; call after each span.
    pub(crate) fn release(&mut self) {
        self.held = None;
    }

    /// The symbol of `name` (an attribute key or span name), interning it on first sight.
    pub(crate) fn sym(&mut self, name: &str) -> Sym {
        if let Some(sym) = self.held().0.lookup(name) {
            return sym;
        }
        self.release();
        self.store.interner.intern(name)
    }

    /// Packs (key, integer) pairs the ingest adds, such as [`UNKNOWN_SPAN_KIND`].
    pub(crate) fn extra_pairs(&mut self, w: &mut Writer, pairs: &[(&str, i64)], bloom: &mut u64) {
        for &(key, n) in pairs {
            let key = self.sym(key);
            w.varint(u64::from(key.0));
            *bloom |= bloom_bits(key, Value::Int(n));
            w.typed(Value::Int(n));
        }
    }

    /// Packs one value of `key` (a key symbol or [`EVENT_NAME_KEY`]): a reference into the
    /// value dictionary when the dictionary holds or takes the value, else inline.
    pub(crate) fn value(&mut self, w: &mut Writer, key: u32, value: Value<'_>) {
        let Value::Str(s) = value else {
            w.typed(value);
            return;
        };
        let dict: &ValueDict = &self.store.values;
        let found = dict.find(&self.held().1, key, s);
        let id = match found {
            Found::Id(id) => Some(id),
            Found::Inline => None,
            Found::Add => {
                self.release();
                dict.id(key, s)
            }
        };
        match id {
            Some(id) => w.value_ref(id),
            None => w.typed(value),
        }
    }
}

/// Spans ready to insert, plus what was rejected and why.
#[derive(Debug, Default)]
pub struct PreparedBatch {
    pub(crate) spans: Vec<(u128, SpanRecord)>,
    /// The packed data of the spans, one after the other.
    pub(crate) data: Vec<u8>,
    /// Number of spans rejected for invalid ids.
    pub rejected: u64,
    /// Why the first rejected span was rejected.
    pub first_error: Option<String>,
    /// Catalog leases taken while preparing, settled by [`Store::insert`] (or
    /// [`Store::discard`]).
    pub(crate) refs: CatalogRefs,
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

    /// Adds a span whose packed data is `data[data_start..]`; rejects it (and drops its data)
    /// in the unlikely case the batch's data no longer fits 32-bit offsets.
    pub(crate) fn push(
        &mut self,
        trace_id: u128,
        fields: RecordFields,
        name: &str,
        data_start: usize,
    ) {
        match (u32::try_from(data_start), u32::try_from(self.data.len())) {
            (Ok(start), Ok(end)) => {
                let record = SpanRecord::new(fields, start, end - start);
                self.spans.push((trace_id, record));
            }
            _ => {
                self.data.truncate(data_start);
                self.reject(name, "batch holds over 4 GiB of span data");
            }
        }
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
    /// only the interner's, catalog's and value dictionary's locks, never the store's.
    pub fn prepare(&self, request: &ExportTraceServiceRequest) -> PreparedBatch {
        let mut batch = PreparedBatch::default();
        let total: usize = request
            .resource_spans
            .iter()
            .flat_map(|rs| rs.scope_spans.iter())
            .map(|ss| ss.spans.len())
            .sum();
        batch.spans.reserve_exact(total);
        let mut packer = Packer::new(self);
        for rs in &request.resource_spans {
            let process = self
                .catalog
                .process_id(rs.resource.as_ref(), &self.interner);
            batch.refs.lease_process(process);
            let service = self.catalog.process(process).map_or(Sym(0), |p| p.service);
            for ss in &rs.scope_spans {
                let scope = self.catalog.scope_id(ss.scope.as_ref());
                batch.refs.lease_scope(scope);
                for span in &ss.spans {
                    let ids = validate_ids(&span.trace_id, &span.span_id, &span.parent_span_id);
                    let (trace_id, span_id, parent_span_id) = match ids {
                        Ok(ids) => ids,
                        Err(problem) => {
                            batch.reject(&span.name, &problem);
                            continue;
                        }
                    };
                    let data_start = batch.data.len();
                    let mut w = Writer {
                        buf: std::mem::take(&mut batch.data),
                    };
                    let attr_bloom = pack(&mut packer, &mut w, span);
                    let name = packer.sym(&span.name);
                    packer.release();
                    batch.data = w.buf;
                    if let Some(problem) = packer.problem.take() {
                        batch.data.truncate(data_start);
                        batch.reject(&span.name, &problem);
                        continue;
                    }
                    let fields = RecordFields {
                        span_id,
                        parent_span_id,
                        start_ns: span.start_time_unix_nano,
                        duration_ns: span
                            .end_time_unix_nano
                            .saturating_sub(span.start_time_unix_nano),
                        flags: span.flags,
                        name,
                        service,
                        process,
                        scope,
                        kind: span.kind,
                        status: span.status.as_ref().map_or(0, |s| s.code),
                        attr_bloom,
                    };
                    batch.push(trace_id, fields, &span.name, data_start);
                }
            }
        }
        batch
    }
}

/// Packs attribute pairs (without their count); adds their bloom bits to `bloom` when given.
fn pack_pairs(
    packer: &mut Packer<'_>,
    w: &mut Writer,
    attrs: &[KeyValue],
    mut bloom: Option<&mut u64>,
) {
    for kv in attrs {
        let key = packer.sym(&kv.key);
        w.varint(u64::from(key.0));
        let mut value = kv.value.as_ref().and_then(|v| v.value.as_ref());
        if value.is_some_and(|v| !depth_within(v, MAX_VALUE_DEPTH)) {
            packer.problem.get_or_insert_with(|| too_deep(&kv.key));
            value = None;
        }
        let borrowed = Value::of(value);
        if let Some(bloom) = bloom.as_deref_mut() {
            *bloom |= bloom_bits(key, borrowed);
        }
        match borrowed {
            // Arrays and maps: `Value::of` does not carry their encoding.
            Value::Complex(_) => w.value(value),
            _ => packer.value(w, key.0, borrowed),
        }
    }
}

/// Packs the span's detail into `w`; returns the attribute bloom filter.
fn pack(packer: &mut Packer<'_>, w: &mut Writer, span: &Span) -> u64 {
    let mut bloom = 0u64;
    let fields = SpanFields {
        duration_ns: span
            .end_time_unix_nano
            .saturating_sub(span.start_time_unix_nano),
        flags: span.flags,
        status_message: span.status.as_ref().map_or("", |s| s.message.as_str()),
        trace_state: &span.trace_state,
        dropped_attributes: span.dropped_attributes_count,
        dropped_events: span.dropped_events_count,
        links: span.links.len(),
        dropped_links: span.dropped_links_count,
    };
    w.header(&fields);
    let extra: Vec<(&str, i64)> =
        unknown_enums(span.kind, span.status.as_ref().map_or(0, |s| s.code)).collect();
    w.varint((span.attributes.len() + extra.len()) as u64);
    pack_pairs(packer, w, &span.attributes, Some(&mut bloom));
    packer.extra_pairs(w, &extra, &mut bloom);
    w.varint(span.events.len() as u64);
    for event in &span.events {
        w.signed(event.time_unix_nano.wrapping_sub(span.start_time_unix_nano) as i64);
        packer.value(w, EVENT_NAME_KEY, Value::Str(&event.name));
        w.event_header(event.attributes.len(), event.dropped_attributes_count);
        pack_pairs(packer, w, &event.attributes, Some(&mut bloom));
    }
    w.after_events(&fields);
    for link in &span.links {
        w.link_ids(&link.trace_id, &link.span_id);
        w.str(&link.trace_state);
        w.varint(u64::from(link.flags));
        w.varint(u64::from(link.dropped_attributes_count));
        w.varint(link.attributes.len() as u64);
        pack_pairs(packer, w, &link.attributes, None);
    }
    w.after_links(&fields);
    bloom
}
