//! The bounded in-memory span store.
//!
//! Spans are grouped by trace. Spans of one trace may arrive in any order and in any number of
//! batches: a span whose trace is already stored joins it, whenever it arrives. The store is
//! bounded twice, by a span count and by a byte budget; when either is exceeded the traces that
//! arrived first are evicted whole, and the evictions are counted ([`StoreStats`]).
//!
//! Input: one format-neutral [`SpanBatch`] per request, whatever the format (each receiver's
//! decoder in `crate::ingest` produces it). The store knows no wire format and no tag
//! vocabulary: [`Store::prepare`] packs a batch outside the store lock, [`Store::insert`] stores
//! it; searches take span-field conditions ([`FieldCondition`]), which the query API derives
//! from Jaeger's tag names (`crate::vocabulary`).
//!
//! Indexes:
//! - trace id -> trace (hash map), for trace-by-id;
//! - trace start time -> (trace id, bit set of the trace's services), ordered, so searches walk
//!   the newest traces first, skip traces without the wanted service without looking them up,
//!   and stop at the limit or at the start of their time window;
//! - (service, operation, span kind) -> span count, for the service and operation lists, kept
//!   exact across evictions;
//! - per span, a 64-bit bloom filter of its attribute and event-attribute (key, value) pairs,
//!   so a tag search decodes only the spans that may match; span-level conditions (operation,
//!   kind, duration, error, status) are plain field comparisons on the candidate spans.
//!
//! Memory: a span costs a 64-byte record plus its packed attributes and events (keys interned;
//! string values that repeat across spans as references into a bounded value dictionary, the
//! others inline), plus its trace's share of the map and index entries; see
//! `docs/bench/collector.md` for measured figures. What spans share counts towards the byte
//! budget too: the value dictionary (capped at an eighth of the budget, never shrinking; past the
//! cap new values are stored inline), the table of names (capped at an eighth too, past it a new
//! name is stored as a placeholder; names no stored span uses are freed by a sweep, see
//! `intern.rs`), and the resources and scopes, which are freed with the last span that uses
//! them.
//!
//! Reading: a search walks the time index in slices ([`SCAN_SLICE_TRACES`] traces or
//! [`SCAN_SLICE_TIME`]), taking the read lock once per slice, so an insert waits at most one
//! slice; a trace is copied out under the lock and converted after it is released.
//!
//! ```
//! use tracer_collector::store::batch::{Resource, Scope, Span};
//! use tracer_collector::store::{SpanBatch, Store, StoreLimits};
//!
//! let store = Store::new(StoreLimits::default());
//! let mut batch = SpanBatch::new();
//! batch.resources.push(Resource { service: "checkout", ..Resource::default() });
//! batch.scopes.push(Scope::default());
//! batch.spans.push(Span {
//!     trace_id: 7,
//!     span_id: 1,
//!     name: "GET /cart",
//!     start_ns: 1_000,
//!     end_ns: 2_000,
//!     ..Span::default()
//! });
//! store.insert(store.prepare(&batch));
//! assert_eq!(store.stats().spans, 1);
//! assert_eq!(store.services(), ["checkout"]);
//! ```

pub mod batch;
mod catalog;
pub(crate) mod fxhash;
mod intern;
mod prepare;
mod span;
mod values;

use std::collections::{BTreeMap, VecDeque};
use std::num::NonZeroUsize;
use std::sync::RwLock;

use serde::Serialize;

pub use batch::SpanBatch;
pub use prepare::PreparedBatch;

use batch::{SpanKind, StatusCode};
pub(crate) use catalog::{Catalog, CatalogRefs};
use fxhash::FxHashMap;
pub(crate) use intern::{InternReader, Interner, NameLease, Sym};
/// For tests that build span records by hand (`query::tree_stream`).
#[cfg(test)]
pub(crate) use span::RecordFields;
pub(crate) use span::{
    Decoded, LinkDetail, ProcessId, ScopeId, SpanRecord, SpanRef, Value, span_refs,
};
pub(crate) use values::Resolver;
pub(crate) use values::ValueDict;

/// Traces examined per hold of the store's read lock by a search (see [`Store::search_ids`]).
pub const SCAN_SLICE_TRACES: usize = 512;

/// Longest hold of the store's read lock by one slice of a search.
pub const SCAN_SLICE_TIME: std::time::Duration = std::time::Duration::from_millis(2);

/// Limits that bound the store's memory.
#[derive(Debug, Clone, Copy)]
pub struct StoreLimits {
    /// Maximum number of spans kept.
    pub max_spans: NonZeroUsize,
    /// Maximum bytes kept, by the store's own accounting of spans and traces.
    pub max_bytes: NonZeroUsize,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            max_spans: NonZeroUsize::new(1_000_000).expect("non-zero"),
            max_bytes: NonZeroUsize::new(512 << 20).expect("non-zero"),
        }
    }
}

/// Counters and gauges of the store, as served by `GET /api/collector/stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    /// Spans currently stored.
    pub spans: u64,
    /// Traces currently stored.
    pub traces: u64,
    /// Bytes currently accounted to stored spans and traces, including what they share: the
    /// value dictionary, the names, the resources and scopes.
    pub bytes: u64,
    /// Span limit.
    pub max_spans: u64,
    /// Byte limit.
    pub max_bytes: u64,
    /// Spans accepted since start.
    pub received_spans: u64,
    /// Spans rejected (by their decoder: invalid ids, values past a limit) since start.
    pub rejected_spans: u64,
    /// Traces evicted since start.
    pub evicted_traces: u64,
    /// Spans evicted since start.
    pub evicted_spans: u64,
    /// Bytes of interned strings (service, operation, attribute key names).
    pub interned_bytes: u64,
    /// Bytes of the resource and scope tables (part of `bytes`).
    pub catalog_bytes: u64,
    /// Distinct resources held (each freed with the last span that uses it).
    pub resources: u64,
    /// Distinct instrumentation scopes held.
    pub scopes: u64,
    /// Bytes of the dictionary of repeated attribute values (part of `bytes`).
    pub value_dict_bytes: u64,
    /// Number of values in the dictionary of repeated attribute values.
    pub value_dict_entries: u64,
    /// Service, operation or attribute key names stored as a placeholder because the table of
    /// names was full (a client putting ids into names); zero in a healthy deployment.
    pub dropped_names: u64,
    /// Names freed since start because no stored span, resource or scope used them any more.
    pub freed_names: u64,
}

/// Trace search conditions. A trace matches when one of its spans meets every condition.
#[derive(Debug, Clone, Default)]
pub struct TraceQuery {
    /// Service name of the span.
    pub service: Option<String>,
    /// Operation (span name).
    pub operation: Option<String>,
    /// Span kind.
    pub span_kind: Option<SpanKind>,
    /// Tag conditions the span must meet, every one of them.
    pub tags: Vec<TagCondition>,
    /// Earliest span start, in Unix nanoseconds.
    pub start_min_ns: Option<u64>,
    /// Latest span start, in Unix nanoseconds.
    pub start_max_ns: Option<u64>,
    /// Minimum span duration, in nanoseconds.
    pub duration_min_ns: Option<u64>,
    /// Maximum span duration, in nanoseconds.
    pub duration_max_ns: Option<u64>,
    /// Maximum number of traces returned; 0 means no limit.
    pub limit: usize,
}

/// One tag condition of a search: the span carries attribute `key` (of the span, one of its
/// events or its resource) whose value reads as `value` (values compare as text: `200`,
/// `true`, `0.5`), or, when `field` is set, the span's field meets it. Which tag names stand
/// for span fields is the query API's business (`crate::vocabulary::tag_condition`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagCondition {
    /// Attribute key.
    pub key: String,
    /// Attribute value, as text.
    pub value: String,
    /// A span field that meets the condition as well as the attribute would.
    pub field: Option<FieldCondition>,
}

impl TagCondition {
    /// A condition on an attribute only.
    pub fn attribute(key: impl Into<String>, value: impl Into<String>) -> Self {
        TagCondition {
            key: key.into(),
            value: value.into(),
            field: None,
        }
    }
}

/// A condition on a span field, an alternative to an attribute in a [`TagCondition`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldCondition {
    /// The span has this kind (not unspecified).
    Kind(SpanKind),
    /// The span has this status code.
    Status(StatusCode),
    /// The status message is this text.
    StatusMessage(String),
    /// The trace state is this text.
    TraceState(String),
    /// The span's scope has this name.
    ScopeName(String),
    /// The span's scope has this version.
    ScopeVersion(String),
    /// One of the span's events has this name.
    EventName(String),
}

/// A copy of a stored trace, taken out of the store for rendering.
#[derive(Debug, Clone)]
pub struct StoredTrace {
    /// The trace id.
    pub trace_id: u128,
    pub(crate) spans: Box<[SpanRecord]>,
    /// The packed data of the spans.
    pub(crate) data: Box<[u8]>,
    /// Keeps the names the spans refer to from being given to other strings while the copy
    /// lives.
    _names: NameLease,
}

impl StoredTrace {
    /// Number of spans.
    pub fn span_count(&self) -> usize {
        self.spans.len()
    }

    /// The spans with their packed data.
    pub(crate) fn spans(&self) -> impl DoubleEndedIterator<Item = SpanRef<'_>> + '_ {
        span_refs(&self.spans, &self.data)
    }

    /// The span records, in store order (the order [`StoredTrace::spans`] yields them).
    pub(crate) fn records(&self) -> &[SpanRecord] {
        &self.spans
    }

    /// The spans at `indices` (into [`StoredTrace::records`]), in that order; an index past
    /// the end is skipped.
    pub(crate) fn spans_at<'a>(
        &'a self,
        indices: &'a [u32],
    ) -> impl Iterator<Item = SpanRef<'a>> + 'a {
        indices.iter().filter_map(move |&i| {
            self.spans
                .get(i as usize)
                .map(|record| SpanRef::new(record, &self.data))
        })
    }

    /// The spans in runs of at most `n`.
    pub(crate) fn span_chunks(
        &self,
        n: usize,
    ) -> impl Iterator<Item = impl Iterator<Item = SpanRef<'_>> + '_> + '_ {
        self.spans
            .chunks(n.max(1))
            .map(|chunk| span_refs(chunk, &self.data))
    }
}

/// A service-to-service call edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DependencyEdge {
    /// Calling service.
    pub parent: String,
    /// Called service.
    pub child: String,
    /// Number of parent/child span pairs.
    pub call_count: u64,
}

fn service_bit(service: Sym) -> u64 {
    1 << (service.0 % 64)
}

/// A stored trace: its span records and, in one buffer, their packed data. Both are boxed
/// slices (16 bytes each, no spare capacity) and grow by reallocation when late spans arrive,
/// which is rare next to reads.
struct TraceEntry {
    spans: Box<[SpanRecord]>,
    data: Box<[u8]>,
    services: u64,
    start_ns: u64,
    end_ns: u64,
}

impl TraceEntry {
    /// Accounted bytes.
    fn footprint(&self) -> usize {
        TRACE_OVERHEAD + std::mem::size_of_val::<[SpanRecord]>(&self.spans) + self.data.len()
    }

    fn stored(&self, trace_id: u128, names: NameLease) -> StoredTrace {
        StoredTrace {
            trace_id,
            spans: self.spans.clone(),
            data: self.data.clone(),
            _names: names,
        }
    }
}

/// Accounted bytes per trace: its hash map slot (at 7/8 load), its eviction queue entry and its
/// time index entry (B-tree nodes about two-thirds full).
const TRACE_OVERHEAD: usize = std::mem::size_of::<(u128, TraceEntry)>() * 8 / 7
    + 1
    + std::mem::size_of::<u128>()
    + std::mem::size_of::<((u64, u128), u64)>() * 3 / 2;

#[derive(Default)]
struct Inner {
    traces: FxHashMap<u128, TraceEntry>,
    /// Trace ids in arrival order of their first span; the front is evicted first.
    arrival: VecDeque<u128>,
    /// Ids popped from the front of `arrival` since start, so a position in it can be named
    /// across evictions (`popped + index`).
    popped: u64,
    /// (trace start, trace id) -> bit set of the trace's services (bit = symbol % 64), so a
    /// search by service skips most other traces without looking them up.
    by_start: BTreeMap<(u64, u128), u64>,
    operations: FxHashMap<(Sym, Sym, u8), u64>,
    services: FxHashMap<Sym, u64>,
    span_count: usize,
    bytes: usize,
    /// Longest trace (end - start) seen, bounding how far back a time-window search must look.
    max_trace_span_ns: u64,
    received_spans: u64,
    rejected_spans: u64,
    evicted_traces: u64,
    evicted_spans: u64,
}

/// The span store. Share it behind an `Arc`; every method takes `&self`.
pub struct Store {
    limits: StoreLimits,
    inner: RwLock<Inner>,
    pub(crate) interner: Interner,
    pub(crate) catalog: Catalog,
    /// Attribute string values that repeat across spans.
    pub(crate) values: ValueDict,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("limits", &self.limits)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Store {
    /// Creates an empty store.
    pub fn new(limits: StoreLimits) -> Self {
        Store {
            limits,
            inner: RwLock::new(Inner::default()),
            interner: Interner::with_limits(
                intern::MAX_STRINGS,
                intern::MAX_BYTES.min(limits.max_bytes.get() / 8),
            ),
            catalog: Catalog::default(),
            values: ValueDict::for_store(limits.max_bytes.get()),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Current counters.
    pub fn stats(&self) -> StoreStats {
        let (resources, scopes) = self.catalog.len();
        let inner = self.read();
        StoreStats {
            spans: inner.span_count as u64,
            traces: inner.traces.len() as u64,
            bytes: (inner.bytes + self.shared_bytes()) as u64,
            max_spans: self.limits.max_spans.get() as u64,
            max_bytes: self.limits.max_bytes.get() as u64,
            received_spans: inner.received_spans,
            rejected_spans: inner.rejected_spans,
            evicted_traces: inner.evicted_traces,
            evicted_spans: inner.evicted_spans,
            interned_bytes: self.interner.bytes() as u64,
            catalog_bytes: self.catalog.bytes() as u64,
            resources: resources as u64,
            scopes: scopes as u64,
            value_dict_bytes: self.values.bytes() as u64,
            value_dict_entries: self.values.len() as u64,
            dropped_names: self.interner.overflowed(),
            freed_names: self.interner.swept(),
        }
    }

    /// Bytes of what spans share: the value dictionary, the names, the resources and scopes.
    fn shared_bytes(&self) -> usize {
        self.values.bytes() + self.interner.bytes() + self.catalog.bytes()
    }

    /// Gives back what preparing `batch` took (its catalog leases) without storing it.
    pub fn discard(&self, batch: PreparedBatch) {
        self.catalog.settle(&batch.refs);
    }

    /// Stores a prepared batch, then evicts the oldest traces while over a limit.
    pub fn insert(&self, mut batch: PreparedBatch) {
        // Group the spans of each trace so each trace grows once, to its exact size.
        batch.spans.sort_by_key(|(trace_id, _)| *trace_id);
        let mut guard = self.write();
        let inner = &mut *guard;
        inner.rejected_spans += batch.rejected;
        inner.received_spans += batch.spans.len() as u64;
        let mut next = 0;
        while let Some(&(trace_id, _)) = batch.spans.get(next) {
            let run = &batch.spans[next..];
            let run = &run[..run.partition_point(|(t, _)| *t == trace_id)];
            next += run.len();
            let mut is_new = false;
            let entry = inner.traces.entry(trace_id).or_insert_with(|| {
                is_new = true;
                inner.arrival.push_back(trace_id);
                TraceEntry {
                    spans: Box::default(),
                    data: Box::default(),
                    services: 0,
                    start_ns: u64::MAX,
                    end_ns: 0,
                }
            });
            let old_start = entry.start_ns;
            let old_services = entry.services;
            let old_bytes = if is_new { 0 } else { entry.footprint() };
            let mut records = std::mem::take(&mut entry.spans).into_vec();
            let mut data = std::mem::take(&mut entry.data).into_vec();
            records.reserve_exact(run.len());
            data.reserve_exact(run.iter().map(|(_, s)| s.data_len as usize).sum());
            for (_, span) in run {
                let packed = span.packed(&batch.data);
                if data.len() + packed.len() > u32::MAX as usize {
                    // Over 4 GiB of packed data in one trace, only possible with a byte budget
                    // that large: the span is dropped.
                    inner.received_spans -= 1;
                    inner.rejected_spans += 1;
                    continue;
                }
                let duration_ns = span.duration_ns(&batch.data);
                let mut span = *span;
                span.data_start = data.len() as u32;
                data.extend_from_slice(packed);
                entry.start_ns = entry.start_ns.min(span.start_ns);
                entry.end_ns = entry.end_ns.max(span.start_ns.saturating_add(duration_ns));
                *inner
                    .operations
                    .entry((span.service, span.name, span.kind))
                    .or_insert(0) += 1;
                *inner.services.entry(span.service).or_insert(0) += 1;
                inner.span_count += 1;
                entry.services |= service_bit(span.service);
                batch.refs.count(span.process, span.scope, 1);
                records.push(span);
            }
            entry.spans = records.into_boxed_slice();
            entry.data = data.into_boxed_slice();
            inner.bytes = inner.bytes + entry.footprint() - old_bytes;
            inner.max_trace_span_ns = inner
                .max_trace_span_ns
                .max(entry.end_ns.saturating_sub(entry.start_ns));
            if old_start != entry.start_ns {
                if old_start != u64::MAX {
                    inner.by_start.remove(&(old_start, trace_id));
                }
                inner
                    .by_start
                    .insert((entry.start_ns, trace_id), entry.services);
            } else if old_services != entry.services {
                inner
                    .by_start
                    .insert((entry.start_ns, trace_id), entry.services);
            }
        }
        self.catalog.settle(&batch.refs);
        // The value dictionary never shrinks and the names shrink only by a sweep (below), each
        // capped at an eighth of the byte budget; resources and scopes shrink as their last
        // spans are evicted.
        let max_bytes = self.limits.max_bytes.get();
        let fixed = self.values.bytes() + self.interner.bytes();
        let mut catalog_bytes = self.catalog.bytes();
        while inner.span_count > self.limits.max_spans.get()
            || inner.bytes + fixed + catalog_bytes > max_bytes
        {
            let Some(trace_id) = inner.arrival.pop_front() else {
                break;
            };
            inner.popped += 1;
            let Some(entry) = inner.traces.remove(&trace_id) else {
                continue;
            };
            inner.by_start.remove(&(entry.start_ns, trace_id));
            inner.bytes -= entry.footprint();
            inner.span_count -= entry.spans.len();
            inner.evicted_traces += 1;
            inner.evicted_spans += entry.spans.len() as u64;
            let mut refs = CatalogRefs::default();
            for span in &entry.spans {
                refs.count(span.process, span.scope, -1);
                let key = (span.service, span.name, span.kind);
                if let Some(n) = inner.operations.get_mut(&key) {
                    *n -= 1;
                    if *n == 0 {
                        inner.operations.remove(&key);
                    }
                }
                if let Some(n) = inner.services.get_mut(&span.service) {
                    *n -= 1;
                    if *n == 0 {
                        inner.services.remove(&span.service);
                    }
                }
            }
            catalog_bytes -= self.catalog.settle(&refs).min(catalog_bytes);
        }
        drop(guard);
        // The batch's lease on its names goes before a sweep looks for leases.
        drop(batch);
        if self.interner.sweep_due() {
            self.sweep_names();
        }
    }

    /// Frees the names no stored span and no resource or scope uses any more, when the sweep
    /// the interner started may mark (see `intern.rs`). Walks the traces in arrival order in
    /// slices of [`SCAN_SLICE_TRACES`], taking the read lock once per slice: a trace that
    /// arrives during the walk was prepared in the sweep's new epoch, and its names are kept
    /// by their marks.
    fn sweep_names(&self) {
        let Some(epoch) = self.interner.sweep_ready() else {
            return;
        };
        let n = self.interner.len();
        let mut live = vec![0u64; n.div_ceil(64)];
        let mut mark = |sym: Sym| {
            if let Some(word) = live.get_mut(sym.0 as usize / 64) {
                *word |= 1 << (sym.0 % 64);
            }
        };
        self.catalog.for_each_sym(&mut mark);
        let mut position = 0u64;
        loop {
            let inner = self.read();
            let start = position.saturating_sub(inner.popped) as usize;
            let ids = inner.arrival.range(start.min(inner.arrival.len())..);
            let mut seen = 0;
            for trace_id in ids.take(SCAN_SLICE_TRACES) {
                seen += 1;
                let Some(entry) = inner.traces.get(trace_id) else {
                    continue;
                };
                for span in span_refs(&entry.spans, &entry.data) {
                    mark(span.service);
                    mark(span.name);
                    span.for_each_key(&mut mark);
                }
            }
            position = inner.popped + (start + seen) as u64;
            if seen < SCAN_SLICE_TRACES {
                break;
            }
            drop(inner);
            std::thread::yield_now();
        }
        self.interner.finish_sweep(&live, epoch);
    }

    /// Service names with at least one stored span, sorted.
    pub fn services(&self) -> Vec<String> {
        let _names = self.interner.reader_lease();
        let syms: Vec<Sym> = self.read().services.keys().copied().collect();
        let names = self.interner.reader();
        let mut out: Vec<String> = syms.iter().map(|&s| names.get(s).to_owned()).collect();
        out.sort();
        out
    }

    /// Operations (name, span kind) of `service`, or of every service, sorted, optionally
    /// restricted to one span kind.
    pub fn operations(&self, service: Option<&str>, kind: Option<u8>) -> Vec<(String, u8)> {
        let _names = self.interner.reader_lease();
        let service = match service {
            Some(name) => match self.interner.lookup(name) {
                Some(sym) => Some(sym),
                None => return Vec::new(),
            },
            None => None,
        };
        let keys: Vec<(Sym, u8)> = self
            .read()
            .operations
            .keys()
            .filter(|(svc, _, k)| service.is_none_or(|s| s == *svc) && kind.is_none_or(|w| w == *k))
            .map(|&(_, op, k)| (op, k))
            .collect();
        let names = self.interner.reader();
        let mut out: Vec<(String, u8)> = keys
            .into_iter()
            .map(|(op, k)| (names.get(op).to_owned(), k))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Number of spans of the trace with this id, without copying it.
    pub fn trace_span_count(&self, trace_id: u128) -> Option<usize> {
        self.read().traces.get(&trace_id).map(|t| t.spans.len())
    }

    /// The trace with this id.
    pub fn trace(&self, trace_id: u128) -> Option<StoredTrace> {
        let names = self.interner.reader_lease();
        let inner = self.read();
        inner
            .traces
            .get(&trace_id)
            .map(|t| t.stored(trace_id, names))
    }

    /// Traces matching `query`, newest first (at most `query.limit` when it is not 0).
    pub fn search(&self, query: &TraceQuery) -> Vec<StoredTrace> {
        self.search_ids(query, None)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|id| self.trace(id))
            .collect()
    }

    /// Ids of the traces matching `query`, newest first (at most `query.limit` when it is not
    /// 0), or `None` when `deadline` passed before the search was done.
    ///
    /// The time index is walked in slices ([`SCAN_SLICE_TRACES`] traces or
    /// [`SCAN_SLICE_TIME`], whichever comes first), taking the store's read lock once per slice,
    /// so a search over a full store never keeps ingest waiting for more than one slice.
    pub fn search_ids(
        &self,
        query: &TraceQuery,
        deadline: Option<std::time::Instant>,
    ) -> Option<Vec<u128>> {
        let _names = self.interner.reader_lease();
        let Some(compiled) = self.compile(query) else {
            return Some(Vec::new());
        };
        let start_max = query.start_max_ns.unwrap_or(u64::MAX);
        let start_min = query.start_min_ns.unwrap_or(0);
        let service_bit = compiled.service.map_or(0, service_bit);
        let mut out = Vec::new();
        let mut cursor = (start_max, u128::MAX);
        loop {
            let inner = self.read();
            let oldest_start = start_min.saturating_sub(inner.max_trace_span_ns);
            let values = self.values.reader();
            let values = values.resolver();
            let slice_start = std::time::Instant::now();
            let mut next = None;
            for (scanned, (&(trace_start, trace_id), &services)) in
                inner.by_start.range(..=cursor).rev().enumerate()
            {
                if scanned >= SCAN_SLICE_TRACES
                    || (scanned % 16 == 15 && slice_start.elapsed() >= SCAN_SLICE_TIME)
                {
                    next = Some((trace_start, trace_id));
                    break;
                }
                if trace_start < oldest_start {
                    break;
                }
                if services & service_bit != service_bit {
                    continue;
                }
                let Some(entry) = inner.traces.get(&trace_id) else {
                    continue;
                };
                if entry.end_ns < start_min {
                    continue;
                }
                if span_refs(&entry.spans, &entry.data)
                    .any(|s| self.span_matches(s, &compiled, values))
                {
                    out.push(trace_id);
                    if query.limit != 0 && out.len() >= query.limit {
                        return Some(out);
                    }
                }
            }
            drop(inner);
            match next {
                Some(resume) => cursor = resume,
                None => return Some(out),
            }
            if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                return None;
            }
            std::thread::yield_now();
        }
    }

    /// Service call edges from spans whose parent belongs to another service, over traces that
    /// started in `[start_ns, end_ns]`; sorted by parent, then child.
    pub fn dependencies(&self, start_ns: u64, end_ns: u64) -> Vec<DependencyEdge> {
        let _names = self.interner.reader_lease();
        let mut counts: FxHashMap<(Sym, Sym), u64> = FxHashMap::default();
        let mut parents: FxHashMap<u64, Sym> = FxHashMap::default();
        let mut cursor = (start_ns, 0u128);
        // In slices, as a search walks the index, so ingest never waits for the whole walk.
        loop {
            let inner = self.read();
            let slice_start = std::time::Instant::now();
            let mut next = None;
            for (scanned, &(trace_start, trace_id)) in inner
                .by_start
                .range(cursor..=(end_ns, u128::MAX))
                .map(|(k, _)| k)
                .enumerate()
            {
                if scanned >= SCAN_SLICE_TRACES
                    || (scanned % 16 == 15 && slice_start.elapsed() >= SCAN_SLICE_TIME)
                {
                    next = Some((trace_start, trace_id));
                    break;
                }
                let Some(entry) = inner.traces.get(&trace_id) else {
                    continue;
                };
                parents.clear();
                parents.extend(entry.spans.iter().map(|s| (s.span_id, s.service)));
                for span in &entry.spans {
                    if let Some(&parent) = parents.get(&span.parent_span_id)
                        && span.parent_span_id != 0
                        && parent != span.service
                    {
                        *counts.entry((parent, span.service)).or_insert(0) += 1;
                    }
                }
            }
            drop(inner);
            match next {
                Some(resume) => cursor = resume,
                None => break,
            }
            std::thread::yield_now();
        }
        let names = self.interner.reader();
        let mut out: Vec<DependencyEdge> = counts
            .into_iter()
            .map(|((p, c), n)| DependencyEdge {
                parent: names.get(p).to_owned(),
                child: names.get(c).to_owned(),
                call_count: n,
            })
            .collect();
        out.sort_by(|a, b| (&a.parent, &a.child).cmp(&(&b.parent, &b.child)));
        out
    }

    fn compile(&self, query: &TraceQuery) -> Option<Compiled> {
        let sym = |name: &Option<String>| -> Option<Option<Sym>> {
            match name {
                None => Some(None),
                Some(n) => self.interner.lookup(n).map(Some),
            }
        };
        Some(Compiled {
            service: sym(&query.service)?,
            operation: sym(&query.operation)?,
            kind: query.span_kind,
            start_min: query.start_min_ns.unwrap_or(0),
            start_max: query.start_max_ns.unwrap_or(u64::MAX),
            duration_min: query.duration_min_ns.unwrap_or(0),
            duration_max: query.duration_max_ns.unwrap_or(u64::MAX),
            tags: query
                .tags
                .iter()
                .map(|tag| CompiledTag::new(self, tag))
                .collect(),
        })
    }

    fn span_matches(&self, span: SpanRef<'_>, q: &Compiled, values: Resolver<'_>) -> bool {
        if q.service.is_some_and(|s| s != span.service)
            || q.operation.is_some_and(|o| o != span.name)
            || q.kind.is_some_and(|k| k != span.kind)
            || span.start_ns < q.start_min
            || span.start_ns > q.start_max
        {
            return false;
        }
        if q.duration_min != 0 || q.duration_max != u64::MAX {
            let duration = span.duration_ns();
            if duration < q.duration_min || duration > q.duration_max {
                return false;
            }
        }
        q.tags.iter().all(|tag| self.tag_matches(span, tag, values))
    }

    fn tag_matches(&self, span: SpanRef<'_>, tag: &CompiledTag, values: Resolver<'_>) -> bool {
        let value = tag.value.as_str();
        let derived = match &tag.field {
            None => false,
            Some(FieldCondition::Kind(kind)) => *kind != 0 && span.kind == *kind,
            Some(FieldCondition::Status(status)) => span.status == *status,
            Some(FieldCondition::StatusMessage(text)) => span.detail(values).status_message == text,
            Some(FieldCondition::TraceState(text)) => span.detail(values).trace_state == text,
            Some(FieldCondition::ScopeName(text)) => self
                .catalog
                .scope(span.scope)
                .is_some_and(|s| s.name == *text),
            Some(FieldCondition::ScopeVersion(text)) => self
                .catalog
                .scope(span.scope)
                .is_some_and(|s| s.version == *text),
            Some(FieldCondition::EventName(text)) => span.any_event(values, |name, _| name == text),
        };
        if derived {
            return true;
        }
        let Some(sym) = tag.sym else {
            return false;
        };
        // Resource attributes (Jaeger's process tags).
        if tag.process_matches.contains(&span.process.0) {
            return true;
        }
        // Span and event attributes, behind the bloom filter.
        if !tag.may_be_in(span.attr_bloom) {
            return false;
        }
        let matches = |(k, v): (Sym, Value<'_>)| k == sym && v.matches_text(value);
        span.attributes(values).any(matches)
            || span.any_event(values, |_, mut attrs| attrs.any(matches))
    }
}

struct CompiledTag {
    sym: Option<Sym>,
    value: String,
    field: Option<FieldCondition>,
    /// Bloom bits of each reading of `value` (string, integer, float, bool).
    blooms: Vec<u64>,
    /// Ids of the processes whose resource attributes match.
    process_matches: fxhash::FxHashSet<u32>,
}

impl CompiledTag {
    fn new(store: &Store, tag: &TagCondition) -> Self {
        let sym = store.interner.lookup(&tag.key);
        let value = tag.value.as_str();
        let mut blooms = Vec::new();
        let mut process_matches = fxhash::FxHashSet::default();
        if let Some(sym) = sym {
            blooms.push(span::bloom_bits(sym, Value::Str(value)));
            if let Ok(i) = value.parse::<i64>() {
                blooms.push(span::bloom_bits(sym, Value::Int(i)));
            }
            if let Ok(d) = value.parse::<f64>() {
                blooms.push(span::bloom_bits(sym, Value::Double(d)));
            }
            if let Ok(b) = value.parse::<bool>() {
                blooms.push(span::bloom_bits(sym, Value::Bool(b)));
            }
            process_matches = store.catalog.processes_where(|p| {
                p.attributes()
                    .any(|(k, v)| k == sym && v.matches_text(value))
            });
        }
        CompiledTag {
            sym,
            value: value.to_owned(),
            field: tag.field.clone(),
            blooms,
            process_matches,
        }
    }

    fn may_be_in(&self, bloom: u64) -> bool {
        // Every bit of one reading must be set (clippy's `contains` rewrite would test the
        // masked filter for equality with an element, which is a different question).
        for &bits in &self.blooms {
            if bloom & bits == bits {
                return true;
            }
        }
        false
    }
}

struct Compiled {
    service: Option<Sym>,
    operation: Option<Sym>,
    kind: Option<SpanKind>,
    start_min: u64,
    start_max: u64,
    duration_min: u64,
    duration_max: u64,
    tags: Vec<CompiledTag>,
}

#[cfg(test)]
mod tests {
    use super::batch::{AnyValue, Event, KeyValue, Resource, Scope, Span};
    use super::*;

    /// A test span: (trace id, attributes, events as (name, time, attributes)).
    type TestSpan<'a> = (
        u128,
        Vec<KeyValue<'a>>,
        Vec<(&'a str, u64, Vec<KeyValue<'a>>)>,
    );

    /// A batch of one resource (service `svc`, attributes `resource`), one scope, one span per entry
    /// named `name`, each with span id 1, from 1 µs to 2 µs.
    fn batch_of<'a>(
        name: &'a str,
        resource: Vec<KeyValue<'a>>,
        spans: Vec<TestSpan<'a>>,
    ) -> SpanBatch<'a> {
        let mut batch = SpanBatch::new();
        batch.attributes.extend(resource);
        batch.resources.push(Resource {
            service: "svc",
            attributes: batch.attributes_since(0),
            dropped_attributes: 0,
        });
        batch.scopes.push(Scope::default());
        for (trace_id, attributes, events) in spans {
            let attrs_start = batch.attributes.len();
            batch.attributes.extend(attributes);
            let attributes = batch.attributes_since(attrs_start);
            let events_start = batch.events.len();
            for (event_name, time_ns, attributes) in events {
                let start = batch.attributes.len();
                batch.attributes.extend(attributes);
                let attributes = batch.attributes_since(start);
                batch.events.push(Event {
                    time_ns,
                    name: event_name,
                    attributes,
                    dropped_attributes: 0,
                });
            }
            let events = batch.events_since(events_start);
            batch.spans.push(Span {
                trace_id,
                span_id: 1,
                name,
                start_ns: 1_000,
                end_ns: 2_000,
                attributes,
                events,
                ..Span::default()
            });
        }
        batch
    }

    fn kv<'a>(key: &'a str, value: AnyValue<'a>) -> KeyValue<'a> {
        KeyValue { key, value }
    }

    fn string<'a>(key: &'a str, value: &'a str) -> KeyValue<'a> {
        KeyValue {
            key,
            value: AnyValue::Str(value),
        }
    }

    fn store_with_one_span() -> Store {
        let store = Store::new(StoreLimits::default());
        let batch = batch_of(
            "op",
            vec![string("host.name", "h1")],
            vec![(
                1,
                vec![
                    kv("code", AnyValue::Int(200)),
                    kv("ratio", AnyValue::Double(0.5)),
                    kv("cached", AnyValue::Bool(false)),
                    string("path", "/a"),
                ],
                vec![("retry", 0, vec![kv("attempt", AnyValue::Int(3))])],
            )],
        );
        store.insert(store.prepare(&batch));
        store
    }

    /// Traces matching the attribute condition `key=value`; key `@event` asks for an event
    /// name instead.
    fn hits(store: &Store, key: &str, value: &str) -> usize {
        let field = match key {
            "@event" => Some(FieldCondition::EventName(value.into())),
            _ => None,
        };
        store
            .search(&TraceQuery {
                tags: vec![TagCondition {
                    field,
                    ..TagCondition::attribute(key, value)
                }],
                ..Default::default()
            })
            .len()
    }

    /// Spans of traces `first..first + traces` (one each), with the attributes `attrs(trace)`
    /// and one event, stored in `store`.
    fn store_spans(
        store: &Store,
        first: u128,
        traces: u128,
        attrs: impl Fn(u128) -> Vec<(String, String)>,
    ) {
        let attrs: Vec<(u128, Vec<(String, String)>)> =
            (first..first + traces).map(|t| (t, attrs(t))).collect();
        let spans = attrs
            .iter()
            .map(|(t, attrs)| {
                (
                    *t,
                    attrs.iter().map(|(k, v)| string(k, v)).collect(),
                    vec![("db.query", 1_500, Vec::new())],
                )
            })
            .collect();
        let batch = batch_of("GET /orders/{id}", Vec::new(), spans);
        store.insert(store.prepare(&batch));
    }

    fn pair(key: &str, value: &str) -> (String, String) {
        (key.to_owned(), value.to_owned())
    }

    fn contains(haystack: &[u8], needle: &str) -> bool {
        haystack
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    }

    #[test]
    fn repeated_values_are_stored_once_and_still_found() {
        let store = Store::new(StoreLimits::default());
        store_spans(&store, 1, 1000, |_| {
            vec![
                pair("http.request.method", "GET"),
                pair("http.route", "/orders/{id}"),
                pair("server.address", "orders.internal"),
            ]
        });
        let stats = store.stats();
        // Three attribute values and one event name, whatever the number of spans.
        assert_eq!(stats.value_dict_entries, 4);
        assert!(stats.value_dict_bytes > 0);
        assert!(
            stats.bytes > stats.value_dict_bytes,
            "the dictionary is part of the bytes"
        );
        // A span holds one-byte references instead of the values' text: header, attribute
        // count, 3 x (key, reference), event count, event (2-byte time offset, name, counts).
        let trace = store.trace(1).unwrap();
        assert_eq!(trace.data.len(), 13);
        assert!(!contains(&trace.data, "orders.internal"));
        // Search and decoding resolve the references.
        assert_eq!(hits(&store, "http.route", "/orders/{id}"), 1000);
        assert_eq!(hits(&store, "server.address", "orders.internal"), 1000);
        assert_eq!(hits(&store, "@event", "db.query"), 1000);
        assert_eq!(hits(&store, "http.route", "/orders/{other}"), 0);
        let values = store.values.reader();
        let detail = trace.spans().next().unwrap().detail(values.resolver());
        let names = store.interner.reader();
        let attrs: Vec<(&str, Value<'_>)> = detail
            .attributes
            .iter()
            .map(|&(k, v)| (names.get(k), v))
            .collect();
        assert_eq!(
            attrs,
            [
                ("http.request.method", Value::Str("GET")),
                ("http.route", Value::Str("/orders/{id}")),
                ("server.address", Value::Str("orders.internal")),
            ]
        );
        assert_eq!(detail.events[0].name, "db.query");
    }

    #[test]
    fn a_high_cardinality_key_stops_being_interned() {
        let store = Store::new(StoreLimits::default());
        let per_key = u128::from(values::DEFAULT_PER_KEY);
        store_spans(&store, 1, 3 * per_key, |t| {
            vec![
                pair("url.path", &format!("/orders/{t}")),
                pair("http.request.method", "GET"),
            ]
        });
        let stats = store.stats();
        // `url.path` added its first `per_key` values, then no more; "GET" and the event name
        // are the other two entries.
        assert_eq!(stats.value_dict_entries, values::DEFAULT_PER_KEY as u64 + 2);
        let early = store.trace(1).unwrap();
        let late = store.trace(3 * per_key).unwrap();
        assert!(!contains(&early.data, "/orders/1"));
        assert!(contains(&late.data, &format!("/orders/{}", 3 * per_key)));
        // Ids past the 248 a tag byte holds take a varint.
        let last_interned = format!("/orders/{per_key}");
        assert!(!contains(
            &store.trace(per_key).unwrap().data,
            &last_interned
        ));
        // Interned or inline, values are found the same way.
        assert_eq!(hits(&store, "url.path", "/orders/1"), 1);
        assert_eq!(hits(&store, "url.path", &last_interned), 1);
        assert_eq!(
            hits(&store, "url.path", &format!("/orders/{}", 3 * per_key)),
            1
        );
        assert_eq!(
            hits(&store, "http.request.method", "GET"),
            3 * per_key as usize
        );
    }

    #[test]
    fn the_value_dictionary_stays_within_its_caps() {
        // Entry cap: 100 keys x 1000 distinct values each (under the per-key cap).
        let store = Store::new(StoreLimits::default());
        for key in 0..100 {
            store_spans(&store, key * 1000 + 1, 1000, |t| {
                vec![pair(&format!("k{key}"), &format!("v{t}"))]
            });
        }
        let stats = store.stats();
        assert_eq!(stats.value_dict_entries, values::DEFAULT_MAX_ENTRIES as u64);
        assert!(stats.value_dict_bytes <= values::DEFAULT_MAX_BYTES as u64);
        // Byte cap: an eighth of a small store budget, and the store stays within its budget.
        let max_bytes = 1 << 20;
        let store = Store::new(StoreLimits {
            max_spans: NonZeroUsize::new(1_000_000).expect("non-zero"),
            max_bytes: NonZeroUsize::new(max_bytes).expect("non-zero"),
        });
        for key in 0..100 {
            store_spans(&store, key * 1000 + 1, 1000, |t| {
                vec![pair(&format!("k{key}"), &format!("value-{t}"))]
            });
            let stats = store.stats();
            assert!(stats.value_dict_bytes <= max_bytes as u64 / 8, "{stats:?}");
            assert!(stats.bytes <= max_bytes as u64, "{stats:?}");
        }
        let stats = store.stats();
        assert!(stats.value_dict_entries > 1000, "{stats:?}");
        assert!(stats.evicted_spans > 0, "{stats:?}");
        // Spans stored after the dictionary filled keep their values inline.
        assert_eq!(hits(&store, "k99", "value-100000"), 1);
    }

    #[test]
    fn tag_search_compares_typed_values_as_text() {
        let store = store_with_one_span();
        for (key, value) in [
            ("code", "200"),
            ("ratio", "0.5"),
            ("cached", "false"),
            ("path", "/a"),
            ("attempt", "3"),
            ("@event", "retry"),
            ("host.name", "h1"),
        ] {
            assert_eq!(hits(&store, key, value), 1, "{key}={value}");
        }
        for (key, value) in [
            ("code", "201"),
            ("ratio", "0.25"),
            ("cached", "true"),
            ("path", "/b"),
            ("attempt", "4"),
            ("@event", "other"),
            ("host.name", "h2"),
            ("unknown.key", "x"),
        ] {
            assert_eq!(hits(&store, key, value), 0, "{key}={value}");
        }
    }
}
