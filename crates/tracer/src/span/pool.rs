//! [`RecordPool`]: span records handed back by the export thread once their batch is sent, for
//! the next sampled spans to be written into.
//!
//! Without it every sampled span allocates its record on the thread that starts it and frees it
//! on the export thread. glibc's allocator keeps freed blocks in the freeing thread's cache, so
//! the request threads never find a block of their own to reuse: under callgrind, each record's
//! `malloc` took the allocator's slow path, ~125 instructions of the sampled span's ~985
//! (`benches/callgrind.rs`, `span/sampled-root`), and the attribute vector's the same. A
//! record taken from the pool is a lock-free pop of one pointer, and its attribute vector comes
//! with capacity from an earlier span, so the caller's attributes are moved into it and the
//! caller's vector is freed where it was allocated (the allocator's fast path).
//!
//! The pool is bounded (one export batch of records, see [`RecordPool::new`]); records beyond
//! it, and records whose vectors grew large, are freed as before. A returned record keeps no
//! span data: its attributes, events and links are dropped (their vectors kept when small), its
//! name and trace state reset.

use std::borrow::Cow;
use std::time::SystemTime;

use crossbeam_queue::ArrayQueue;
use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status};

use super::record::SpanRecord;

/// Attribute, event and link vectors larger than this are not kept with a returned record, so
/// a pooled record holds at most 240 + 32 × 56 bytes of attributes (plus as much again for
/// events and links, which few spans have): ~1 MB for the default batch of 512 records, ~8 MB
/// for the largest pool.
pub(crate) const KEPT_CAPACITY: usize = 32;

/// The most records a pool keeps, whatever the batch size.
const MAX_RECORDS: usize = 4096;

/// A bounded, lock-free stack of empty span records (see the module docs).
#[derive(Debug)]
pub(crate) struct RecordPool(ArrayQueue<Box<SpanRecord>>);

impl RecordPool {
    /// A pool of up to `capacity` records (at least 1, at most 4096).
    pub(crate) fn new(capacity: usize) -> Self {
        Self(ArrayQueue::new(capacity.clamp(1, MAX_RECORDS)))
    }

    /// An empty record: a returned one when there is one, else a new one.
    #[inline]
    pub(crate) fn take(&self) -> Box<SpanRecord> {
        self.0
            .pop()
            .unwrap_or_else(|| Box::new(SpanRecord::empty()))
    }

    /// Gives `record` back, emptied; dropped when the pool is full.
    pub(crate) fn give(&self, mut record: Box<SpanRecord>) {
        record.clear();
        let _ = self.0.push(record);
    }

    /// Records waiting to be reused.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

impl SpanRecord {
    /// A record with no span in it, as [`RecordPool`] keeps them.
    pub(crate) fn empty() -> Self {
        Self {
            context: SpanContext::empty_context(),
            parent_span_id: SpanId::INVALID,
            parent_is_remote: false,
            kind: SpanKind::Internal,
            name: Cow::Borrowed(""),
            start: SystemTime::UNIX_EPOCH,
            end: SystemTime::UNIX_EPOCH,
            attributes: Vec::new(),
            dropped_attributes: 0,
            events: Vec::new(),
            dropped_events: 0,
            links: Vec::new(),
            dropped_links: 0,
            status: Status::Unset,
        }
    }

    /// Drops the span's data, keeping the vectors' memory while it is small.
    fn clear(&mut self) {
        fn empty<T>(items: &mut Vec<T>) {
            if items.capacity() > KEPT_CAPACITY {
                *items = Vec::new();
            } else {
                items.clear();
            }
        }
        empty(&mut self.attributes);
        empty(&mut self.events);
        empty(&mut self.links);
        self.context = SpanContext::empty_context();
        self.name = Cow::Borrowed("");
        self.dropped_attributes = 0;
        self.dropped_events = 0;
        self.dropped_links = 0;
        self.status = Status::Unset;
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::KeyValue;
    use opentelemetry::trace::{Event, TraceFlags, TraceId, TraceState};

    use super::*;

    fn used() -> Box<SpanRecord> {
        let mut record = Box::new(SpanRecord::empty());
        record.context = SpanContext::new(
            TraceId::from(7),
            SpanId::from(8),
            TraceFlags::SAMPLED,
            false,
            TraceState::from_key_value([("k", "v")]).unwrap(),
        );
        record.name = Cow::Owned("GET /orders".into());
        record.attributes = (0..4).map(|i| KeyValue::new("k", i)).collect();
        record.dropped_attributes = 3;
        record.events.push(Event::with_name("e"));
        record.status = Status::error("boom");
        record
    }

    /// A record comes back with nothing of its span but the attribute vector's capacity.
    #[test]
    fn a_returned_record_holds_no_span_data_but_keeps_small_vectors() {
        let pool = RecordPool::new(4);
        let record = used();
        let capacity = record.attributes.capacity();
        pool.give(record);
        let again = pool.take();
        let mut expected = SpanRecord::empty();
        expected.attributes = Vec::with_capacity(capacity);
        assert_eq!(*again, expected);
        assert_eq!(again.attributes.capacity(), capacity);
    }

    /// Without an exporter, a span's record comes back as the span ends.
    #[test]
    fn without_an_exporter_records_come_back_as_spans_end() {
        let guard = crate::builder()
            .without_env()
            .exporter(crate::ExporterKind::None)
            .build()
            .unwrap();
        let tracer = guard.tracer();
        let parent = opentelemetry::Context::new();
        let first = tracer.span("a", SpanKind::Internal, vec![], &parent);
        let second = tracer.span("b", SpanKind::Internal, vec![], &parent);
        assert_eq!(tracer.pooled_records(), 0);
        drop((first, second));
        assert_eq!(tracer.pooled_records(), 2);
        let third = tracer.span("c", SpanKind::Internal, [KeyValue::new("k", 1)], &parent);
        assert_eq!(tracer.pooled_records(), 1);
        drop(third);
    }

    /// A span written into a reused record carries nothing of the span before it: not its
    /// attributes, events, links, status, dropped counts, parent or name.
    #[cfg(feature = "testing")]
    #[test]
    fn a_span_in_a_reused_record_carries_nothing_of_the_one_before() {
        use opentelemetry::trace::{Span as _, TraceContextExt as _};

        let capture = crate::testing::SpanCapture::new();
        let tracer = capture.tracer("pool");
        let remote = opentelemetry::Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(5),
            SpanId::from(6),
            TraceFlags::SAMPLED,
            true,
            TraceState::from_key_value([("k", "v")]).unwrap(),
        ));
        let attributes: Vec<KeyValue> = (0..200).map(|i| KeyValue::new("n", i)).collect();
        let mut first = tracer
            .span("first", SpanKind::Server, attributes, &remote)
            .unwrap();
        first.add_event("e", vec![]);
        first.add_link(remote.span().span_context().clone(), vec![]);
        first.set_status(Status::error("boom"));
        drop(first);
        assert_eq!(tracer.pooled_records(), 1);
        let root = opentelemetry::Context::new();
        drop(tracer.span("second", SpanKind::Internal, vec![], &root));
        let spans = capture.spans();
        let (first, second) = (&spans[0].data, &spans[1].data);
        assert_eq!(first.dropped_attributes_count, 72);
        assert_eq!(second.name, "second");
        assert_eq!(second.span_kind, SpanKind::Internal);
        assert!(second.attributes.is_empty());
        assert_eq!(second.dropped_attributes_count, 0);
        assert!(second.events.is_empty() && second.events.dropped_count == 0);
        assert!(second.links.is_empty() && second.links.dropped_count == 0);
        assert_eq!(second.status, Status::Unset);
        assert_eq!(second.parent_span_id, SpanId::INVALID);
        assert!(!second.parent_span_is_remote);
        assert_eq!(second.span_context.trace_state().header(), "");
        assert_ne!(
            second.span_context.trace_id(),
            first.span_context.trace_id()
        );
    }

    /// The pool never holds more than its capacity, nor a large vector.
    #[test]
    fn the_pool_is_bounded_in_records_and_in_vector_size() {
        let pool = RecordPool::new(2);
        for _ in 0..5 {
            pool.give(used());
        }
        assert_eq!(pool.len(), 2);
        let mut big = used();
        big.attributes = (0..100).map(|i| KeyValue::new("k", i)).collect();
        let pool = RecordPool::new(1);
        pool.give(big);
        assert_eq!(pool.take().attributes.capacity(), 0);
        assert_eq!(RecordPool::new(0).0.capacity(), 1);
        assert_eq!(RecordPool::new(1 << 20).0.capacity(), MAX_RECORDS);
    }
}
