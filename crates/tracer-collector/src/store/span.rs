//! The stored form of a span.
//!
//! A [`SpanRecord`] (64 bytes) keeps the fields every query touches (ids, times, interned service
//! and operation, kind, status, an attribute bloom filter) as plain fields, and packs everything
//! else (status message, trace state, attributes, events, links) into a compact byte string kept
//! in its trace's data buffer, next to the other spans of the trace: varints, interned attribute
//! keys, string values either inline or as a reference into the store's value dictionary
//! (`values.rs`). One buffer per trace instead of one allocation per attribute, or even per span,
//! keeps the per-span overhead small; queries decode the packed data lazily, and attribute
//! search compares interned keys before looking at values.
//!
//! Packed layout of one span (varints unless said otherwise):
//! - a header byte of [`Header`] bits telling which optional fields follow;
//! - the duration when it does not fit the record's `u32`, the flags above the record's 16 bits,
//!   the status message, the trace state, the dropped attribute count (each only if flagged);
//! - the attributes: count, then (key symbol, value) pairs;
//! - the events: count, then per event the time offset from the span start (zigzag), the name
//!   (a value), `attribute count << 1 | has dropped count`, the dropped count if any, the pairs;
//! - the dropped event count, the links (count, then ids, trace state, flags, dropped count,
//!   attributes), the dropped link count (each only if flagged).
//!
//! A value starts with a tag byte: 0 inline string, 1 false, 2 true, 3 integer (zigzag),
//! 4 double (8 bytes), 5 bytes, 6 array or map, 7 dictionary reference with id `248 + varint`,
//! 8 to 255 dictionary reference with id `tag - 8`. An array or map is a length-prefixed byte
//! string: 0 (array) or 1 (map), the item count, then per item (a map's key as a string, then)
//! the value as above, inline.

use super::batch::{AnyValue, KIND_CONSUMER, STATUS_ERROR, SpanBatch};
use super::intern::Sym;
use super::values::Resolver;

/// Index into the store's process (resource) table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ProcessId(pub(crate) u32);

/// Index into the store's instrumentation scope table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ScopeId(pub(crate) u32);

/// Deepest nesting of arrays and maps the reader follows; the ingest limit is lower
/// (`MAX_VALUE_DEPTH` in `crate::ingest::otlp`), so this only guards against a bug.
const MAX_READ_DEPTH: usize = 64;

/// Record duration meaning "the duration is in the packed data".
const LONG_DURATION: u32 = u32::MAX;

/// Value tags of the packed format.
const TAG_STR: u8 = 0;
const TAG_FALSE: u8 = 1;
const TAG_TRUE: u8 = 2;
const TAG_INT: u8 = 3;
const TAG_DOUBLE: u8 = 4;
const TAG_BYTES: u8 = 5;
const TAG_COMPLEX: u8 = 6;
const TAG_REF: u8 = 7;
/// First tag that carries a dictionary id itself.
const TAG_REF_INLINE: u8 = 8;
/// Number of ids a tag byte carries itself.
const INLINE_REFS: u32 = 256 - TAG_REF_INLINE as u32;

/// Bits of the header byte of a span's packed data.
struct Header;

impl Header {
    const LONG_DURATION: u8 = 1;
    const HIGH_FLAGS: u8 = 1 << 1;
    const STATUS_MESSAGE: u8 = 1 << 2;
    const TRACE_STATE: u8 = 1 << 3;
    const DROPPED_ATTRIBUTES: u8 = 1 << 4;
    const DROPPED_EVENTS: u8 = 1 << 5;
    const LINKS: u8 = 1 << 6;
    const DROPPED_LINKS: u8 = 1 << 7;
}

/// The fields of a span that go into the header part of its packed data, plus what decides the
/// header bits of the tail (dropped counts, links).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SpanFields<'a> {
    pub(crate) duration_ns: u64,
    pub(crate) flags: u32,
    pub(crate) status_message: &'a str,
    pub(crate) trace_state: &'a str,
    pub(crate) dropped_attributes: u32,
    pub(crate) dropped_events: u32,
    pub(crate) links: usize,
    pub(crate) dropped_links: u32,
}

impl SpanFields<'_> {
    fn header(&self) -> u8 {
        let mut bits = 0;
        let mut set = |bit: u8, on: bool| {
            if on {
                bits |= bit;
            }
        };
        set(
            Header::LONG_DURATION,
            self.duration_ns >= u64::from(LONG_DURATION),
        );
        set(Header::HIGH_FLAGS, self.flags >> 16 != 0);
        set(Header::STATUS_MESSAGE, !self.status_message.is_empty());
        set(Header::TRACE_STATE, !self.trace_state.is_empty());
        set(Header::DROPPED_ATTRIBUTES, self.dropped_attributes != 0);
        set(Header::DROPPED_EVENTS, self.dropped_events != 0);
        set(Header::LINKS, self.links != 0);
        set(Header::DROPPED_LINKS, self.dropped_links != 0);
        bits
    }
}

/// One stored span. The trace id lives on the trace that owns the span, the packed data in the
/// trace's data buffer (or, before insertion, the batch's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SpanRecord {
    pub(crate) span_id: u64,
    /// Zero when the span is a root.
    pub(crate) parent_span_id: u64,
    pub(crate) start_ns: u64,
    /// Bloom filter over the (key, value) pairs of the span's and its events' attributes, so a
    /// tag search skips most spans without decoding them.
    pub(crate) attr_bloom: u64,
    /// Offset of the packed data in the owner's data buffer.
    pub(crate) data_start: u32,
    /// Length of the packed data.
    pub(crate) data_len: u32,
    pub(crate) name: Sym,
    pub(crate) service: Sym,
    pub(crate) process: ProcessId,
    pub(crate) scope: ScopeId,
    /// Duration in nanoseconds, or [`LONG_DURATION`] when the duration (over 4.29 s) is in the
    /// packed data.
    duration: u32,
    /// The low 16 bits of the OTLP flags (W3C trace flags and the remote-parent bits); higher
    /// bits, reserved today, are in the packed data.
    flags_low: u16,
    pub(crate) kind: u8,
    pub(crate) status: u8,
}

/// The store's memory per span depends on this size; keep it at 64 bytes.
const _: () = assert!(std::mem::size_of::<SpanRecord>() == 64);

/// The fields of a [`SpanRecord`] that come straight from the span.
pub(crate) struct RecordFields {
    pub(crate) span_id: u64,
    pub(crate) parent_span_id: u64,
    pub(crate) start_ns: u64,
    pub(crate) duration_ns: u64,
    pub(crate) flags: u32,
    pub(crate) name: Sym,
    pub(crate) service: Sym,
    pub(crate) process: ProcessId,
    pub(crate) scope: ScopeId,
    pub(crate) kind: u8,
    pub(crate) status: u8,
    pub(crate) attr_bloom: u64,
}

impl SpanRecord {
    /// A record whose packed data is `data_start..data_start + data_len` of its owner's buffer.
    pub(crate) fn new(f: RecordFields, data_start: u32, data_len: u32) -> Self {
        SpanRecord {
            span_id: f.span_id,
            parent_span_id: f.parent_span_id,
            start_ns: f.start_ns,
            attr_bloom: f.attr_bloom,
            data_start,
            data_len,
            name: f.name,
            service: f.service,
            process: f.process,
            scope: f.scope,
            // `LONG_DURATION` itself (u32::MAX) also means "in the packed data".
            duration: u32::try_from(f.duration_ns).unwrap_or(LONG_DURATION),
            flags_low: f.flags as u16,
            // Values past the known ones are stored as unspecified / unset (an ingest keeps
            // the number in an attribute, see `UNKNOWN_SPAN_KIND` in `crate::ingest::otlp`).
            kind: if f.kind <= KIND_CONSUMER { f.kind } else { 0 },
            status: if f.status <= STATUS_ERROR {
                f.status
            } else {
                0
            },
        }
    }

    /// The low 8 bits of the flags (the W3C trace flags), which need no packed data.
    pub(crate) fn trace_flags(&self) -> u8 {
        self.flags_low as u8
    }

    /// The span's packed data within its owner's buffer.
    pub(crate) fn packed<'a>(&self, buffer: &'a [u8]) -> &'a [u8] {
        let start = self.data_start as usize;
        buffer
            .get(start..start + self.data_len as usize)
            .unwrap_or(&[])
    }

    /// The duration, reading the packed data only for spans over 4.29 s.
    pub(crate) fn duration_ns(&self, buffer: &[u8]) -> u64 {
        if self.duration != LONG_DURATION {
            return u64::from(self.duration);
        }
        let mut r = Reader(self.packed(buffer));
        let header = r.byte();
        if header & Header::LONG_DURATION != 0 {
            r.varint()
        } else {
            u64::from(LONG_DURATION)
        }
    }
}

/// A span record together with its trace's data buffer.
#[derive(Clone, Copy)]
pub(crate) struct SpanRef<'a> {
    pub(crate) record: &'a SpanRecord,
    buffer: &'a [u8],
}

impl std::ops::Deref for SpanRef<'_> {
    type Target = SpanRecord;

    fn deref(&self) -> &SpanRecord {
        self.record
    }
}

/// The spans of a trace (or batch) with their packed data.
pub(crate) fn span_refs<'a>(
    spans: &'a [SpanRecord],
    buffer: &'a [u8],
) -> impl DoubleEndedIterator<Item = SpanRef<'a>> + ExactSizeIterator + 'a {
    spans.iter().map(move |record| SpanRef::new(record, buffer))
}

/// The optional fields in front of the attributes.
struct Prefix<'a> {
    header: u8,
    high_flags: u32,
    status_message: &'a str,
    trace_state: &'a str,
    dropped_attributes: u32,
}

impl<'a> SpanRef<'a> {
    /// A record together with the data buffer its packed data is in.
    pub(crate) fn new(record: &'a SpanRecord, buffer: &'a [u8]) -> Self {
        SpanRef { record, buffer }
    }

    fn reader(&self) -> Reader<'a> {
        Reader(self.record.packed(self.buffer))
    }

    /// The duration in nanoseconds.
    pub(crate) fn duration_ns(&self) -> u64 {
        self.record.duration_ns(self.buffer)
    }

    /// The full OTLP flags.
    pub(crate) fn flags(&self) -> u32 {
        let low = u32::from(self.record.flags_low);
        let mut r = self.reader();
        low | (r.prefix().high_flags << 16)
    }

    /// Decodes the packed part of the span.
    pub(crate) fn detail(&self, values: Resolver<'a>) -> SpanDetail<'a> {
        SpanDetail::decode(self.reader(), self.record.start_ns, values)
    }

    /// Calls `f` with every name symbol the packed part refers to: the keys of the span's,
    /// its events' and its links' attributes (a sweep of the names table marks them).
    pub(crate) fn for_each_key(&self, mut f: impl FnMut(Sym)) {
        let detail = self.detail(Resolver::NONE);
        let events = detail.events.iter().flat_map(|e| &e.attributes);
        let links = detail.links.iter().flat_map(|l| &l.attributes);
        for &(key, _) in detail.attributes.iter().chain(events).chain(links) {
            f(key);
        }
    }

    /// Iterates over the span attributes without decoding events and links.
    pub(crate) fn attributes(&self, values: Resolver<'a>) -> AttrIter<'a> {
        let mut r = self.reader();
        r.prefix();
        AttrIter::new(r, values)
    }

    /// Calls `f(event name, attributes)` for each event, without allocating, until `f` returns
    /// true; returns whether it did.
    pub(crate) fn any_event(
        &self,
        values: Resolver<'a>,
        mut f: impl FnMut(&str, AttrIter<'a>) -> bool,
    ) -> bool {
        let mut attrs = self.attributes(values);
        for _ in attrs.by_ref() {}
        let mut r = attrs.reader;
        let n_events = r.varint();
        for _ in 0..n_events {
            r.varint();
            let name = r.text(values);
            let mut event_attrs = AttrIter::for_event(&mut r, values);
            if f(name, event_attrs.clone()) {
                return true;
            }
            for _ in event_attrs.by_ref() {}
            r = event_attrs.reader;
        }
        false
    }
}

/// Bloom filter bits for one attribute (key, value) pair; values hash by type and content, so
/// the search side hashes each reading of its text (string, integer, float, bool).
pub(crate) fn bloom_bits(key: Sym, value: Value<'_>) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = u64::from(key.0).wrapping_mul(K) ^ 0x5bd1_e995;
    let mut mix = |x: u64| h = (h ^ x).wrapping_mul(K).rotate_left(23);
    match value {
        Value::Str(s) => {
            mix(1);
            for chunk in s.as_bytes().chunks(8) {
                let mut buf = [0u8; 8];
                buf[..chunk.len()].copy_from_slice(chunk);
                mix(u64::from_le_bytes(buf));
            }
            mix(s.len() as u64);
        }
        Value::Bool(b) => mix(2 + u64::from(b)),
        Value::Int(i) => {
            mix(4);
            mix(i as u64);
        }
        Value::Double(d) => {
            mix(5);
            mix(d.to_bits());
        }
        Value::Bytes(_) | Value::Complex(_) => return 0,
    }
    let h = h ^ (h >> 29);
    (1u64 << (h & 63)) | (1u64 << ((h >> 6) & 63))
}

/// An attribute value borrowed from a span's packed data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value<'a> {
    Str(&'a str),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(&'a [u8]),
    /// An array or key-value list in the packed form (see the module docs); decode it with
    /// `Value::decoded`.
    Complex(&'a [u8]),
}

impl<'a> Value<'a> {
    /// Borrows a batch value; arrays and maps are `None` (they are packed by
    /// [`Writer::any`], and not searchable).
    pub(crate) fn scalar(value: &AnyValue<'a>) -> Option<Self> {
        Some(match *value {
            AnyValue::Str(s) => Value::Str(s),
            AnyValue::Bool(b) => Value::Bool(b),
            AnyValue::Int(i) => Value::Int(i),
            AnyValue::Double(d) => Value::Double(d),
            AnyValue::Bytes(b) => Value::Bytes(b),
            AnyValue::Array { .. } | AnyValue::Map { .. } => return None,
        })
    }

    /// The value with arrays and maps decoded.
    pub(crate) fn decoded(self) -> Decoded<'a> {
        self.decoded_within(MAX_READ_DEPTH)
    }

    fn decoded_within(self, depth: usize) -> Decoded<'a> {
        match self {
            Value::Complex(_) if depth == 0 => Decoded::Scalar(Value::Str("")),
            Value::Complex(raw) => {
                let mut r = Reader(raw);
                let is_map = r.byte() == 1;
                let n = r.varint() as usize;
                // Each item takes at least one byte: a bad count cannot reserve much.
                let n = n.min(r.0.len());
                if is_map {
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        let key = r.str();
                        let value = r.value(Resolver::NONE).decoded_within(depth - 1);
                        items.push((key, value));
                    }
                    Decoded::Map(items)
                } else {
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(r.value(Resolver::NONE).decoded_within(depth - 1));
                    }
                    Decoded::Array(items)
                }
            }
            scalar => Decoded::Scalar(scalar),
        }
    }

    /// The value as Jaeger renders it in a tag search (`AsString`).
    pub(crate) fn matches_text(self, text: &str) -> bool {
        match self {
            Value::Str(s) => s == text,
            Value::Bool(b) => text == if b { "true" } else { "false" },
            Value::Int(i) => text.parse::<i64>() == Ok(i),
            Value::Double(d) => text.parse::<f64>() == Ok(d),
            Value::Bytes(_) | Value::Complex(_) => false,
        }
    }
}

/// A stored value with its arrays and maps decoded, for rendering.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Decoded<'a> {
    /// Anything but an array or map.
    Scalar(Value<'a>),
    Array(Vec<Decoded<'a>>),
    Map(Vec<(&'a str, Decoded<'a>)>),
}

/// Decoded event.
#[derive(Debug, Clone)]
pub(crate) struct EventDetail<'a> {
    pub(crate) time_ns: u64,
    pub(crate) name: &'a str,
    pub(crate) dropped_attributes: u32,
    pub(crate) attributes: Vec<(Sym, Value<'a>)>,
}

/// Decoded link.
#[derive(Debug, Clone)]
pub(crate) struct LinkDetail<'a> {
    pub(crate) trace_id: u128,
    pub(crate) span_id: u64,
    pub(crate) trace_state: &'a str,
    pub(crate) flags: u32,
    pub(crate) dropped_attributes: u32,
    pub(crate) attributes: Vec<(Sym, Value<'a>)>,
}

/// Decoded packed part of a span.
#[derive(Debug, Clone)]
pub(crate) struct SpanDetail<'a> {
    pub(crate) status_message: &'a str,
    pub(crate) trace_state: &'a str,
    pub(crate) dropped_attributes: u32,
    pub(crate) attributes: Vec<(Sym, Value<'a>)>,
    pub(crate) events: Vec<EventDetail<'a>>,
    pub(crate) dropped_events: u32,
    pub(crate) links: Vec<LinkDetail<'a>>,
    pub(crate) dropped_links: u32,
}

impl<'a> SpanDetail<'a> {
    fn decode(mut r: Reader<'a>, start_ns: u64, values: Resolver<'a>) -> Self {
        let prefix = r.prefix();
        let attributes = r.attrs(values);
        let n_events = r.varint() as usize;
        let mut events = Vec::with_capacity(n_events);
        for _ in 0..n_events {
            let offset = unzigzag(r.varint());
            let name = r.text(values);
            let attrs = AttrIter::for_event(&mut r, values);
            let dropped_attributes = attrs.dropped;
            let attributes = attrs.collect_into(&mut r);
            events.push(EventDetail {
                time_ns: start_ns.wrapping_add_signed(offset),
                name,
                dropped_attributes,
                attributes,
            });
        }
        let flagged = |r: &mut Reader<'_>, bit: u8| {
            if prefix.header & bit != 0 {
                r.varint()
            } else {
                0
            }
        };
        let dropped_events = flagged(&mut r, Header::DROPPED_EVENTS) as u32;
        let n_links = flagged(&mut r, Header::LINKS) as usize;
        let mut links = Vec::with_capacity(n_links);
        for _ in 0..n_links {
            let trace_id = u128::from_be_bytes(r.fixed::<16>());
            let span_id = u64::from_be_bytes(r.fixed::<8>());
            let trace_state = r.str();
            let flags = r.varint() as u32;
            let dropped_attributes = r.varint() as u32;
            let attributes = r.attrs(values);
            links.push(LinkDetail {
                trace_id,
                span_id,
                trace_state,
                flags,
                dropped_attributes,
                attributes,
            });
        }
        let dropped_links = flagged(&mut r, Header::DROPPED_LINKS) as u32;
        SpanDetail {
            status_message: prefix.status_message,
            trace_state: prefix.trace_state,
            dropped_attributes: prefix.dropped_attributes,
            attributes,
            events,
            dropped_events,
            links,
            dropped_links,
        }
    }
}

/// Writes the packed part of a span. Calls must follow the layout order: [`Writer::header`],
/// the attribute count and pairs, the event count and events ([`Writer::event_header`] and
/// pairs), [`Writer::after_events`], the links, [`Writer::after_links`].
#[derive(Default)]
pub(crate) struct Writer {
    pub(crate) buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    pub(crate) fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.varint(b.len() as u64);
        self.buf.extend_from_slice(b);
    }

    pub(crate) fn signed(&mut self, v: i64) {
        self.varint(zigzag(v));
    }

    /// Writes the header byte and the optional fields in front of the attributes.
    pub(crate) fn header(&mut self, f: &SpanFields<'_>) {
        let header = f.header();
        self.buf.push(header);
        if header & Header::LONG_DURATION != 0 {
            self.varint(f.duration_ns);
        }
        if header & Header::HIGH_FLAGS != 0 {
            self.varint(u64::from(f.flags >> 16));
        }
        if header & Header::STATUS_MESSAGE != 0 {
            self.str(f.status_message);
        }
        if header & Header::TRACE_STATE != 0 {
            self.str(f.trace_state);
        }
        if header & Header::DROPPED_ATTRIBUTES != 0 {
            self.varint(u64::from(f.dropped_attributes));
        }
    }

    /// Writes what follows an event's name: its attribute count and dropped attribute count.
    pub(crate) fn event_header(&mut self, attributes: usize, dropped: u32) {
        self.varint(((attributes as u64) << 1) | u64::from(dropped != 0));
        if dropped != 0 {
            self.varint(u64::from(dropped));
        }
    }

    /// Writes what follows the events: the dropped event count and the link count, if flagged.
    pub(crate) fn after_events(&mut self, f: &SpanFields<'_>) {
        if f.dropped_events != 0 {
            self.varint(u64::from(f.dropped_events));
        }
        if f.links != 0 {
            self.varint(f.links as u64);
        }
    }

    /// Writes what follows the links: the dropped link count, if flagged.
    pub(crate) fn after_links(&mut self, f: &SpanFields<'_>) {
        if f.dropped_links != 0 {
            self.varint(u64::from(f.dropped_links));
        }
    }

    /// Writes a reference to value `id` of the store's value dictionary.
    pub(crate) fn value_ref(&mut self, id: u32) {
        if id < INLINE_REFS {
            self.buf.push(TAG_REF_INLINE + id as u8);
        } else {
            self.buf.push(TAG_REF);
            self.varint(u64::from(id - INLINE_REFS));
        }
    }

    /// Writes a borrowed value inline; `Complex` holds a packed array or map.
    pub(crate) fn typed(&mut self, v: Value<'_>) {
        match v {
            Value::Str(s) => {
                self.buf.push(TAG_STR);
                self.str(s);
            }
            Value::Bool(b) => self.buf.push(if b { TAG_TRUE } else { TAG_FALSE }),
            Value::Int(i) => {
                self.buf.push(TAG_INT);
                self.signed(i);
            }
            Value::Double(d) => {
                self.buf.push(TAG_DOUBLE);
                self.buf.extend_from_slice(&d.to_le_bytes());
            }
            Value::Bytes(b) => {
                self.buf.push(TAG_BYTES);
                self.bytes(b);
            }
            Value::Complex(raw) => {
                self.buf.push(TAG_COMPLEX);
                self.bytes(raw);
            }
        }
    }

    /// Writes one value of `batch` inline, arrays and maps in their packed form.
    pub(crate) fn any(&mut self, batch: &SpanBatch<'_>, v: &AnyValue<'_>) {
        match v {
            AnyValue::Array { .. } => {
                let items = batch.array_items(v);
                let mut inner = Writer::default();
                inner.buf.push(0);
                inner.varint(items.len() as u64);
                for item in items {
                    inner.any(batch, item);
                }
                self.typed(Value::Complex(&inner.buf));
            }
            AnyValue::Map { .. } => {
                let entries = batch.map_entries(v);
                let mut inner = Writer::default();
                inner.buf.push(1);
                inner.varint(entries.len() as u64);
                for kv in entries {
                    inner.str(kv.key);
                    inner.any(batch, &kv.value);
                }
                self.typed(Value::Complex(&inner.buf));
            }
            scalar => {
                if let Some(value) = Value::scalar(scalar) {
                    self.typed(value);
                }
            }
        }
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Reads packed span data written by [`Writer`]. The data is always produced by this crate, so a
/// short read is a bug; it yields empty values rather than panicking.
#[derive(Clone)]
pub(crate) struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// Iterates over an attribute list packed on its own (count, then pairs) with inline values
    /// only.
    pub(crate) fn attr_iter(data: &'a [u8]) -> AttrIter<'a> {
        AttrIter::new(Reader(data), Resolver::NONE)
    }

    fn byte(&mut self) -> u8 {
        self.take(1).first().copied().unwrap_or(0)
    }

    fn varint(&mut self) -> u64 {
        let mut v = 0u64;
        let mut shift = 0;
        while let Some((&b, rest)) = self.0.split_first() {
            self.0 = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        v
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }

    fn bytes(&mut self) -> &'a [u8] {
        let n = self.varint() as usize;
        self.take(n)
    }

    fn str(&mut self) -> &'a str {
        std::str::from_utf8(self.bytes()).unwrap_or("")
    }

    fn fixed<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let src = self.take(N);
        out[..src.len()].copy_from_slice(src);
        out
    }

    fn prefix(&mut self) -> Prefix<'a> {
        let header = self.byte();
        let flagged = |bit: u8| header & bit != 0;
        if flagged(Header::LONG_DURATION) {
            self.varint();
        }
        let high_flags = if flagged(Header::HIGH_FLAGS) {
            self.varint() as u32
        } else {
            0
        };
        let status_message = if flagged(Header::STATUS_MESSAGE) {
            self.str()
        } else {
            ""
        };
        let trace_state = if flagged(Header::TRACE_STATE) {
            self.str()
        } else {
            ""
        };
        let dropped_attributes = if flagged(Header::DROPPED_ATTRIBUTES) {
            self.varint() as u32
        } else {
            0
        };
        Prefix {
            header,
            high_flags,
            status_message,
            trace_state,
            dropped_attributes,
        }
    }

    fn value(&mut self, values: Resolver<'a>) -> Value<'a> {
        match self.byte() {
            TAG_FALSE => Value::Bool(false),
            TAG_TRUE => Value::Bool(true),
            TAG_INT => Value::Int(unzigzag(self.varint())),
            TAG_DOUBLE => Value::Double(f64::from_le_bytes(self.fixed::<8>())),
            TAG_BYTES => Value::Bytes(self.bytes()),
            TAG_COMPLEX => Value::Complex(self.bytes()),
            TAG_REF => {
                let id = u32::try_from(self.varint()).unwrap_or(u32::MAX);
                Value::Str(values.get(id.saturating_add(INLINE_REFS)))
            }
            TAG_STR => Value::Str(self.str()),
            tag => Value::Str(values.get(u32::from(tag - TAG_REF_INLINE))),
        }
    }

    /// A string written as a value (event names).
    fn text(&mut self, values: Resolver<'a>) -> &'a str {
        match self.value(values) {
            Value::Str(s) => s,
            _ => "",
        }
    }

    fn attrs(&mut self, values: Resolver<'a>) -> Vec<(Sym, Value<'a>)> {
        AttrIter::new(self.clone(), values).collect_into(self)
    }
}

/// Iterator over a packed attribute list.
#[derive(Clone)]
pub(crate) struct AttrIter<'a> {
    reader: Reader<'a>,
    remaining: usize,
    /// The dropped attribute count, for event attribute lists.
    dropped: u32,
    values: Resolver<'a>,
}

impl<'a> AttrIter<'a> {
    fn new(mut reader: Reader<'a>, values: Resolver<'a>) -> Self {
        let remaining = reader.varint() as usize;
        AttrIter {
            reader,
            remaining,
            dropped: 0,
            values,
        }
    }

    /// The attributes of an event, after its name; `r` is left behind the counts.
    fn for_event(r: &mut Reader<'a>, values: Resolver<'a>) -> Self {
        let counts = r.varint();
        let dropped = if counts & 1 != 0 {
            r.varint() as u32
        } else {
            0
        };
        AttrIter {
            reader: r.clone(),
            remaining: (counts >> 1) as usize,
            dropped,
            values,
        }
    }

    fn collect_into(mut self, out: &mut Reader<'a>) -> Vec<(Sym, Value<'a>)> {
        let mut v = Vec::with_capacity(self.remaining);
        for kv in self.by_ref() {
            v.push(kv);
        }
        *out = self.reader;
        v
    }
}

impl<'a> Iterator for AttrIter<'a> {
    type Item = (Sym, Value<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let key = Sym(self.reader.varint() as u32);
        let value = self.reader.value(self.values);
        Some((key, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_and_maps_round_trip_through_the_packed_form() {
        use super::super::batch::KeyValue;
        let mut batch = SpanBatch::new();
        let inner = batch.push_array(&[AnyValue::Bool(true)]);
        let list = batch.push_array(&[AnyValue::Int(-3), AnyValue::Str("x"), inner]);
        let value = batch.push_map(&[
            KeyValue {
                key: "list",
                value: list,
            },
            KeyValue {
                key: "raw",
                value: AnyValue::Bytes(&[0, 255]),
            },
            KeyValue {
                key: "d",
                value: AnyValue::Double(1.5),
            },
        ]);
        let mut w = Writer::default();
        w.any(&batch, &value);
        let mut r = Reader(&w.buf);
        let scalar = |v| Decoded::Scalar(v);
        assert_eq!(
            r.value(Resolver::NONE).decoded(),
            Decoded::Map(vec![
                (
                    "list",
                    Decoded::Array(vec![
                        scalar(Value::Int(-3)),
                        scalar(Value::Str("x")),
                        Decoded::Array(vec![scalar(Value::Bool(true))]),
                    ])
                ),
                ("raw", scalar(Value::Bytes(&[0, 255]))),
                ("d", scalar(Value::Double(1.5))),
            ])
        );
        assert!(r.0.is_empty());
    }

    #[test]
    fn zigzag_round_trips() {
        for v in [0i64, 1, -1, i64::MAX, i64::MIN, 1 << 53] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }
}
