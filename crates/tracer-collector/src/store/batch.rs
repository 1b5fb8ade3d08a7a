//! The store's input: spans in its own terms, whatever format they arrived in.
//!
//! Every receiver decodes its format in `crate::ingest` and hands the store one [`SpanBatch`]:
//! resources, scopes and spans with plain ids, names, times, kind, status and attributes,
//! events and links as neutral values. The store validates nothing format-specific and knows no
//! wire format or tag vocabulary; it packs what the batch says ([`Store::prepare`]).
//!
//! Layout: the batch is flat. Spans, events, links and attributes each live in one vector, and
//! a span names its attributes, events and links as index ranges into them, so a decoder reuses
//! a handful of vectors per batch instead of allocating per span or per field; strings and
//! bytes borrow from the decoded request (`'a`), so reading protobuf straight off the wire adds
//! no copy. The batch is plain data (no store state, no handles), a natural unit to write to a
//! log before storing it.
//!
//! [`Store::prepare`]: super::Store::prepare

use std::ops::Range;

/// A span kind, numbered as the store keeps it (the OTLP numbering).
pub type SpanKind = u8;

/// Kind not given.
pub const KIND_UNSPECIFIED: SpanKind = 0;
/// An operation internal to a service.
pub const KIND_INTERNAL: SpanKind = 1;
/// The server side of a call.
pub const KIND_SERVER: SpanKind = 2;
/// The client side of a call.
pub const KIND_CLIENT: SpanKind = 3;
/// The sender of a message.
pub const KIND_PRODUCER: SpanKind = 4;
/// The receiver of a message.
pub const KIND_CONSUMER: SpanKind = 5;

/// A status code, numbered as the store keeps it (the OTLP numbering).
pub type StatusCode = u8;

/// No status set.
pub const STATUS_UNSET: StatusCode = 0;
/// Success, set explicitly.
pub const STATUS_OK: StatusCode = 1;
/// Failure.
pub const STATUS_ERROR: StatusCode = 2;

/// An attribute value. Plain data (`Copy`, no drop): an array's items and a map's entries live
/// in the batch ([`SpanBatch::values`], [`SpanBatch::entries`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AnyValue<'a> {
    /// Text (also what an empty value is stored as: `Str("")`).
    Str(&'a str),
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// A floating-point number.
    Double(f64),
    /// Raw bytes.
    Bytes(&'a [u8]),
    /// An ordered list of values: `SpanBatch::values[start..end]`.
    Array {
        /// First item.
        start: u32,
        /// One past the last item.
        end: u32,
    },
    /// An ordered list of (key, value) pairs: `SpanBatch::entries[start..end]`.
    Map {
        /// First entry.
        start: u32,
        /// One past the last entry.
        end: u32,
    },
}

/// One attribute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeyValue<'a> {
    /// The attribute's name.
    pub key: &'a str,
    /// Its value.
    pub value: AnyValue<'a>,
}

/// The entity that produced spans ("process" in Jaeger's words).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resource<'a> {
    /// The service the spans belong to, indexed for search.
    pub service: &'a str,
    /// All attributes, as received: indexes into [`SpanBatch::attributes`].
    pub attributes: Range<u32>,
    /// Attributes the sender dropped.
    pub dropped_attributes: u32,
}

/// The library that recorded spans.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope<'a> {
    /// Library name; empty when not given.
    pub name: &'a str,
    /// Library version; empty when not given.
    pub version: &'a str,
    /// Indexes into [`SpanBatch::attributes`].
    pub attributes: Range<u32>,
    /// Attributes the sender dropped.
    pub dropped_attributes: u32,
}

/// One span.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Span<'a> {
    /// Index into [`SpanBatch::resources`].
    pub resource: u32,
    /// Index into [`SpanBatch::scopes`].
    pub scope: u32,
    /// Trace id; never zero (the decoder rejects spans without one).
    pub trace_id: u128,
    /// Span id; never zero.
    pub span_id: u64,
    /// Parent span id; zero for a root span.
    pub parent_span_id: u64,
    /// W3C `tracestate`; empty when not given.
    pub trace_state: &'a str,
    /// Trace flags (W3C flags in the low 8 bits, OTLP's remote-parent bits above).
    pub flags: u32,
    /// Operation name.
    pub name: &'a str,
    /// Span kind; values past [`KIND_CONSUMER`] are stored as [`KIND_UNSPECIFIED`].
    pub kind: SpanKind,
    /// Start, in Unix nanoseconds.
    pub start_ns: u64,
    /// End, in Unix nanoseconds (an end before the start is read as a zero duration).
    pub end_ns: u64,
    /// Status code; values past [`STATUS_ERROR`] are stored as [`STATUS_UNSET`].
    pub status: StatusCode,
    /// Status message; empty when not given.
    pub status_message: &'a str,
    /// Indexes into [`SpanBatch::attributes`].
    pub attributes: Range<u32>,
    /// Attributes the sender dropped.
    pub dropped_attributes: u32,
    /// Indexes into [`SpanBatch::events`].
    pub events: Range<u32>,
    /// Events the sender dropped.
    pub dropped_events: u32,
    /// Indexes into [`SpanBatch::links`].
    pub links: Range<u32>,
    /// Links the sender dropped.
    pub dropped_links: u32,
}

/// A timed event of a span (a log, in Jaeger's words).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Event<'a> {
    /// When, in Unix nanoseconds.
    pub time_ns: u64,
    /// Event name; empty when not given.
    pub name: &'a str,
    /// Indexes into [`SpanBatch::attributes`].
    pub attributes: Range<u32>,
    /// Attributes the sender dropped.
    pub dropped_attributes: u32,
}

/// A reference from a span to another span, of this or another trace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Link<'a> {
    /// Trace id of the span linked to.
    pub trace_id: u128,
    /// Span id of the span linked to.
    pub span_id: u64,
    /// W3C `tracestate` of the link; empty when not given.
    pub trace_state: &'a str,
    /// Trace flags of the link.
    pub flags: u32,
    /// Indexes into [`SpanBatch::attributes`].
    pub attributes: Range<u32>,
    /// Attributes the sender dropped.
    pub dropped_attributes: u32,
}

/// Spans to store, with their resources and scopes, plus the spans the decoder rejected.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpanBatch<'a> {
    /// Resources the spans refer to.
    pub resources: Vec<Resource<'a>>,
    /// Scopes the spans refer to.
    pub scopes: Vec<Scope<'a>>,
    /// The spans.
    pub spans: Vec<Span<'a>>,
    /// Events of all spans.
    pub events: Vec<Event<'a>>,
    /// Links of all spans.
    pub links: Vec<Link<'a>>,
    /// Attributes of all resources, scopes, spans, events and links.
    pub attributes: Vec<KeyValue<'a>>,
    /// Items of the array values ([`AnyValue::Array`]).
    pub values: Vec<AnyValue<'a>>,
    /// Entries of the map values ([`AnyValue::Map`]).
    pub entries: Vec<KeyValue<'a>>,
    /// Spans the decoder rejected (bad ids, values past a limit), counted in the store's stats.
    pub rejected: u64,
    /// Why the first rejected span was rejected.
    pub first_error: Option<String>,
}

impl<'a> SpanBatch<'a> {
    /// An empty batch.
    pub fn new() -> Self {
        SpanBatch::default()
    }

    /// Empties the batch, keeping its vectors' capacity.
    pub fn clear(&mut self) {
        self.resources.clear();
        self.scopes.clear();
        self.spans.clear();
        self.events.clear();
        self.links.clear();
        self.attributes.clear();
        self.values.clear();
        self.entries.clear();
        self.rejected = 0;
        self.first_error = None;
    }

    /// The batch's vectors, emptied, for a batch of any lifetime: decoding request after request
    /// into the same vectors saves allocating (and the kernel zeroing) them anew each time
    /// ([`SpanBatch::capacity_bytes`] says what they hold).
    pub fn recycle<'b>(self) -> SpanBatch<'b> {
        SpanBatch {
            resources: emptied(self.resources),
            scopes: emptied(self.scopes),
            spans: emptied(self.spans),
            events: emptied(self.events),
            links: emptied(self.links),
            attributes: emptied(self.attributes),
            values: emptied(self.values),
            entries: emptied(self.entries),
            rejected: 0,
            first_error: None,
        }
    }

    /// Bytes the batch's vectors have allocated.
    pub fn capacity_bytes(&self) -> usize {
        fn bytes<T>(v: &Vec<T>) -> usize {
            v.capacity() * std::mem::size_of::<T>()
        }
        bytes(&self.resources)
            + bytes(&self.scopes)
            + bytes(&self.spans)
            + bytes(&self.events)
            + bytes(&self.links)
            + bytes(&self.attributes)
            + bytes(&self.values)
            + bytes(&self.entries)
    }

    /// Counts a span the decoder rejected, keeping the first reason; the message names the
    /// span (`span "name": problem`).
    pub fn reject(&mut self, name: &str, problem: &str) {
        self.rejected += 1;
        if self.first_error.is_none() {
            self.first_error = Some(format!("span {name:?}: {problem}"));
        }
    }

    /// The range of attributes pushed since there were `start` of them.
    pub fn attributes_since(&self, start: usize) -> Range<u32> {
        index(start)..index(self.attributes.len())
    }

    /// The range of events pushed since there were `start` of them.
    pub fn events_since(&self, start: usize) -> Range<u32> {
        index(start)..index(self.events.len())
    }

    /// The range of links pushed since there were `start` of them.
    pub fn links_since(&self, start: usize) -> Range<u32> {
        index(start)..index(self.links.len())
    }

    /// The attributes in `range` (empty when the range is out of bounds).
    pub fn attributes_in(&self, range: &Range<u32>) -> &[KeyValue<'a>] {
        slice(&self.attributes, range)
    }

    /// The events in `range`.
    pub fn events_in(&self, range: &Range<u32>) -> &[Event<'a>] {
        slice(&self.events, range)
    }

    /// The links in `range`.
    pub fn links_in(&self, range: &Range<u32>) -> &[Link<'a>] {
        slice(&self.links, range)
    }

    /// An array value of `items`, which are appended to [`SpanBatch::values`].
    pub fn push_array(&mut self, items: &[AnyValue<'a>]) -> AnyValue<'a> {
        let start = index(self.values.len());
        self.values.extend_from_slice(items);
        AnyValue::Array {
            start,
            end: index(self.values.len()),
        }
    }

    /// A map value of `entries`, which are appended to [`SpanBatch::entries`].
    pub fn push_map(&mut self, entries: &[KeyValue<'a>]) -> AnyValue<'a> {
        let start = index(self.entries.len());
        self.entries.extend_from_slice(entries);
        AnyValue::Map {
            start,
            end: index(self.entries.len()),
        }
    }

    /// The items of an array value (empty for any other value).
    pub fn array_items(&self, value: &AnyValue<'a>) -> &[AnyValue<'a>] {
        match *value {
            AnyValue::Array { start, end } => slice(&self.values, &(start..end)),
            _ => &[],
        }
    }

    /// The entries of a map value (empty for any other value).
    pub fn map_entries(&self, value: &AnyValue<'a>) -> &[KeyValue<'a>] {
        match *value {
            AnyValue::Map { start, end } => slice(&self.entries, &(start..end)),
            _ => &[],
        }
    }

    /// The lengths of the vectors a span adds to, to go back to with [`SpanBatch::rewind`].
    pub fn mark(&self) -> Mark {
        Mark {
            attributes: self.attributes.len(),
            events: self.events.len(),
            links: self.links.len(),
            values: self.values.len(),
            entries: self.entries.len(),
        }
    }

    /// Forgets everything pushed since `mark` was taken (a span being built that must be
    /// rejected).
    pub fn rewind(&mut self, mark: Mark) {
        self.attributes.truncate(mark.attributes);
        self.events.truncate(mark.events);
        self.links.truncate(mark.links);
        self.values.truncate(mark.values);
        self.entries.truncate(mark.entries);
    }
}

/// `v` emptied, as a vector of `B` (a type of the same layout: the same struct with another
/// lifetime), keeping its allocation. Safe code: collecting an emptied vector's iterator into
/// a vector of a same-sized type reuses the allocation (the standard library's in-place
/// collection); were it ever to stop doing so, this only allocates again.
fn emptied<A, B>(mut v: Vec<A>) -> Vec<B> {
    v.clear();
    v.into_iter()
        .map(|_| unreachable!("the vector is empty"))
        .collect()
}

/// Where a batch's vectors ended at one point ([`SpanBatch::mark`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    attributes: usize,
    events: usize,
    links: usize,
    values: usize,
    entries: usize,
}

/// A vector index as stored in ranges. Batches are bounded by the body limit, far below 4 G
/// entries; a larger index saturates, which makes the range empty rather than wrong.
fn index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

fn slice<'v, T>(items: &'v [T], range: &Range<u32>) -> &'v [T] {
    items
        .get(range.start as usize..range.end as usize)
        .unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recycled_batch_is_empty_and_keeps_its_vectors() {
        let text = String::from("value");
        let mut batch = SpanBatch::new();
        batch.attributes.extend((0..100).map(|_| KeyValue {
            key: "k",
            value: AnyValue::Str(&text),
        }));
        batch.spans.push(Span::default());
        batch.reject("op", "bad");
        let (bytes, attributes) = (batch.capacity_bytes(), batch.attributes.as_ptr() as usize);
        let recycled: SpanBatch<'static> = batch.recycle();
        assert_eq!(recycled, SpanBatch::new());
        assert_eq!(recycled.capacity_bytes(), bytes);
        assert_eq!(recycled.attributes.as_ptr() as usize, attributes);
    }
}
