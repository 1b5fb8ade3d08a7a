//! Turning a [`SpanBatch`] into stored spans, outside the store lock.
//!
//! Packing interns names, looks string values up in the value dictionary and resolves the
//! batch's resources and scopes to catalog entries; what the decoder rejected is carried over,
//! so the ingest edge can answer with a partial success.

use super::batch::{KeyValue, Span, SpanBatch};
use super::catalog::CatalogRefs;
use super::intern::{InternReader, NameLease, Sym};
use super::span::{RecordFields, SpanFields, SpanRecord, Value, Writer, bloom_bits};
use super::values::{EVENT_NAME_KEY, Found, ValueReader};
use super::{ProcessId, ScopeId, Store, ValueDict};

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
}

impl<'s> Packer<'s> {
    pub(crate) fn new(store: &'s Store) -> Self {
        Packer { store, held: None }
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
        if let Some(sym) = self.held().0.stored(name) {
            return sym;
        }
        self.release();
        self.store.interner.intern(name)
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
    /// Number of spans rejected (by the decoder, or for holding over 4 GiB of data).
    pub rejected: u64,
    /// Why the first rejected span was rejected.
    pub first_error: Option<String>,
    /// Catalog leases taken while preparing, settled by [`Store::insert`] (or
    /// [`Store::discard`]).
    pub(crate) refs: CatalogRefs,
    /// Keeps the names the spans refer to from being freed before they are stored.
    pub(crate) _names: Option<NameLease>,
}

impl PreparedBatch {
    /// Counts a rejected span, keeping the first reason.
    fn reject(&mut self, name: &str, problem: &str) {
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
    fn push(&mut self, trace_id: u128, fields: RecordFields, name: &str, data_start: usize) {
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

impl Store {
    /// Packs the spans of `batch`. Cheap to call from a blocking thread; takes only the
    /// interner's, catalog's and value dictionary's locks, never the store's.
    pub fn prepare(&self, batch: &SpanBatch<'_>) -> PreparedBatch {
        let mut prepared = PreparedBatch {
            _names: Some(self.interner.writer_lease()),
            rejected: batch.rejected,
            first_error: batch.first_error.clone(),
            ..PreparedBatch::default()
        };
        prepared.spans.reserve_exact(batch.spans.len());
        let processes: Vec<(ProcessId, Sym)> = batch
            .resources
            .iter()
            .map(|resource| {
                let process = self.catalog.process_id(resource, batch, &self.interner);
                prepared.refs.lease_process(process);
                let service = self.catalog.process(process).map_or(Sym(0), |p| p.service);
                (process, service)
            })
            .collect();
        let scopes: Vec<ScopeId> = batch
            .scopes
            .iter()
            .map(|scope| {
                let scope = self.catalog.scope_id(scope, batch, &self.interner);
                prepared.refs.lease_scope(scope);
                scope
            })
            .collect();
        let mut packer = Packer::new(self);
        let mut w = Writer::default();
        for span in &batch.spans {
            let (Some(&(process, service)), Some(&scope)) = (
                processes.get(span.resource as usize),
                scopes.get(span.scope as usize),
            ) else {
                prepared.reject(span.name, "names a resource or scope the batch lacks");
                continue;
            };
            let data_start = prepared.data.len();
            w.buf = std::mem::take(&mut prepared.data);
            let attr_bloom = pack(&mut packer, &mut w, batch, span);
            let name = packer.sym(span.name);
            packer.release();
            prepared.data = std::mem::take(&mut w.buf);
            let fields = RecordFields {
                span_id: span.span_id,
                parent_span_id: span.parent_span_id,
                start_ns: span.start_ns,
                duration_ns: span.end_ns.saturating_sub(span.start_ns),
                flags: span.flags,
                name,
                service,
                process,
                scope,
                kind: span.kind,
                status: span.status,
                attr_bloom,
            };
            prepared.push(span.trace_id, fields, span.name, data_start);
        }
        prepared
    }
}

/// Packs attribute pairs (without their count); adds their bloom bits to `bloom` when given.
fn pack_pairs(
    packer: &mut Packer<'_>,
    w: &mut Writer,
    batch: &SpanBatch<'_>,
    attrs: &[KeyValue<'_>],
    mut bloom: Option<&mut u64>,
) {
    for kv in attrs {
        let key = packer.sym(kv.key);
        w.varint(u64::from(key.0));
        match Value::scalar(&kv.value) {
            Some(value) => {
                if let Some(bloom) = bloom.as_deref_mut() {
                    *bloom |= bloom_bits(key, value);
                }
                packer.value(w, key.0, value);
            }
            // Arrays and maps: inline, not searchable.
            None => w.any(batch, &kv.value),
        }
    }
}

/// Packs the span's detail into `w`; returns the attribute bloom filter.
fn pack(packer: &mut Packer<'_>, w: &mut Writer, batch: &SpanBatch<'_>, span: &Span<'_>) -> u64 {
    let mut bloom = 0u64;
    let links = batch.links_in(&span.links);
    let fields = SpanFields {
        duration_ns: span.end_ns.saturating_sub(span.start_ns),
        flags: span.flags,
        status_message: span.status_message,
        trace_state: span.trace_state,
        dropped_attributes: span.dropped_attributes,
        dropped_events: span.dropped_events,
        links: links.len(),
        dropped_links: span.dropped_links,
    };
    w.header(&fields);
    let attributes = batch.attributes_in(&span.attributes);
    w.varint(attributes.len() as u64);
    pack_pairs(packer, w, batch, attributes, Some(&mut bloom));
    let events = batch.events_in(&span.events);
    w.varint(events.len() as u64);
    for event in events {
        w.signed(event.time_ns.wrapping_sub(span.start_ns) as i64);
        packer.value(w, EVENT_NAME_KEY, Value::Str(event.name));
        let attributes = batch.attributes_in(&event.attributes);
        w.event_header(attributes.len(), event.dropped_attributes);
        pack_pairs(packer, w, batch, attributes, Some(&mut bloom));
    }
    w.after_events(&fields);
    for link in links {
        w.buf.extend_from_slice(&link.trace_id.to_be_bytes());
        w.buf.extend_from_slice(&link.span_id.to_be_bytes());
        w.str(link.trace_state);
        w.varint(u64::from(link.flags));
        w.varint(u64::from(link.dropped_attributes));
        let attributes = batch.attributes_in(&link.attributes);
        w.varint(attributes.len() as u64);
        pack_pairs(packer, w, batch, attributes, None);
    }
    w.after_links(&fields);
    bloom
}
