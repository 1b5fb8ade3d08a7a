//! The payload of one log record: a [`SpanBatch`] in a compact binary form.
//!
//! `SpanBatch` is our own type, so its encoding is ours too (no format crate would save us
//! more than the ~200 lines below, and none would decode into borrowed `&str` without a
//! schema of its own). The layout follows the batch: eight element counts, then each vector
//! in order, every field in a fixed order, integers as LEB128 varints (ids and times as fixed
//! little-endian words), ranges as (start, length). What the decoder rejected is not stored:
//! a record holds only spans the store accepted.
//!
//! Strings (names, keys, values) are deduplicated within a record: a string of at most
//! [`SHORT_STRING`] bytes is written once and then referred to by its index, so the keys and
//! the repeated values of a 512-span batch take a few bytes each. The tag of a string is one
//! varint `n`: even, a new string of `n / 2` bytes follows; odd, the `(n - 1) / 2`-th short
//! string seen in this record.
//!
//! Decoding borrows every string and byte value from the record (no copy) and never panics:
//! every count is checked against the bytes left (each element takes at least one byte, so a
//! record cannot make the decoder allocate past a small multiple of its own size), every index
//! and range against the vector it points into, every string is UTF-8-checked, and arrays and
//! maps must form trees at most [`MAX_NESTING`] deep (the fuzz target found that a record
//! whose array contains itself sent the store's packing into endless recursion).
//!
//! ```
//! use tracer_collector::persist::record;
//! use tracer_collector::store::SpanBatch;
//! use tracer_collector::store::batch::{Resource, Scope, Span};
//!
//! let mut batch = SpanBatch::new();
//! batch.resources.push(Resource { service: "checkout", ..Resource::default() });
//! batch.scopes.push(Scope::default());
//! batch.spans.push(Span { trace_id: 7, span_id: 1, name: "GET /cart", ..Span::default() });
//! let mut bytes = Vec::new();
//! record::encode(&batch, &mut bytes);
//! assert_eq!(record::decode(&bytes).unwrap(), batch);
//! assert!(record::decode(&bytes[..bytes.len() - 1]).is_err());
//! ```

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::ops::Range;

use crate::store::SpanBatch;
use crate::store::batch::{AnyValue, Event, KeyValue, Link, Resource, Scope, Span};
use crate::store::fxhash::FxHasher;

/// Strings up to this many bytes are deduplicated within a record.
pub const SHORT_STRING: usize = 64;

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The record ends before a field.
    #[error("record ends early, at byte {0}")]
    Truncated(usize),
    /// A field holds a value out of range.
    #[error("invalid {what} at byte {at}")]
    Invalid {
        /// The field.
        what: &'static str,
        /// Where in the record.
        at: usize,
    },
    /// Bytes follow the last field.
    #[error("{0} bytes after the end of the record")]
    Trailing(usize),
}

/// Appends the encoding of `batch`'s spans (and what they refer to) to `out`.
pub fn encode(batch: &SpanBatch<'_>, out: &mut Vec<u8>) {
    let mut w = Encoder {
        out,
        strings: HashMap::default(),
    };
    for n in [
        batch.resources.len(),
        batch.scopes.len(),
        batch.spans.len(),
        batch.events.len(),
        batch.links.len(),
        batch.attributes.len(),
        batch.values.len(),
        batch.entries.len(),
    ] {
        w.varint(n as u64);
    }
    for r in &batch.resources {
        w.str(r.service);
        w.range(&r.attributes);
        w.varint(u64::from(r.dropped_attributes));
    }
    for s in &batch.scopes {
        w.str(s.name);
        w.str(s.version);
        w.range(&s.attributes);
        w.varint(u64::from(s.dropped_attributes));
    }
    for s in &batch.spans {
        w.varint(u64::from(s.resource));
        w.varint(u64::from(s.scope));
        w.out.extend_from_slice(&s.trace_id.to_le_bytes());
        w.out.extend_from_slice(&s.span_id.to_le_bytes());
        w.out.extend_from_slice(&s.parent_span_id.to_le_bytes());
        w.str(s.trace_state);
        w.varint(u64::from(s.flags));
        w.str(s.name);
        w.out.push(s.kind);
        w.out.push(s.status);
        w.out.extend_from_slice(&s.start_ns.to_le_bytes());
        // Exact for any pair of times (an end before the start wraps, and unwraps on decode).
        w.varint(s.end_ns.wrapping_sub(s.start_ns));
        w.str(s.status_message);
        w.range(&s.attributes);
        w.varint(u64::from(s.dropped_attributes));
        w.range(&s.events);
        w.varint(u64::from(s.dropped_events));
        w.range(&s.links);
        w.varint(u64::from(s.dropped_links));
    }
    for e in &batch.events {
        w.out.extend_from_slice(&e.time_ns.to_le_bytes());
        w.str(e.name);
        w.range(&e.attributes);
        w.varint(u64::from(e.dropped_attributes));
    }
    for l in &batch.links {
        w.out.extend_from_slice(&l.trace_id.to_le_bytes());
        w.out.extend_from_slice(&l.span_id.to_le_bytes());
        w.str(l.trace_state);
        w.varint(u64::from(l.flags));
        w.range(&l.attributes);
        w.varint(u64::from(l.dropped_attributes));
    }
    for kv in &batch.attributes {
        w.str(kv.key);
        w.value(&kv.value);
    }
    for v in &batch.values {
        w.value(v);
    }
    for kv in &batch.entries {
        w.str(kv.key);
        w.value(&kv.value);
    }
}

/// Decodes a record written by [`encode`]; the batch borrows from `bytes`.
pub fn decode(bytes: &[u8]) -> Result<SpanBatch<'_>, RecordError> {
    let mut r = Decoder {
        bytes,
        at: 0,
        strings: Vec::new(),
    };
    let mut counts = [0usize; 8];
    for c in &mut counts {
        // Every element takes at least one byte.
        *c = r.count("element count")?;
    }
    let [
        resources,
        scopes,
        spans,
        events,
        links,
        attributes,
        values,
        entries,
    ] = counts;
    let mut batch = SpanBatch::new();
    batch.resources.reserve(resources);
    for _ in 0..resources {
        batch.resources.push(Resource {
            service: r.str()?,
            attributes: r.range(attributes)?,
            dropped_attributes: r.u32()?,
        });
    }
    batch.scopes.reserve(scopes);
    for _ in 0..scopes {
        batch.scopes.push(Scope {
            name: r.str()?,
            version: r.str()?,
            attributes: r.range(attributes)?,
            dropped_attributes: r.u32()?,
        });
    }
    batch.spans.reserve(spans);
    for _ in 0..spans {
        let resource = r.index(resources, "resource index")?;
        let scope = r.index(scopes, "scope index")?;
        let trace_id = u128::from_le_bytes(r.fixed()?);
        let span_id = u64::from_le_bytes(r.fixed()?);
        let parent_span_id = u64::from_le_bytes(r.fixed()?);
        let trace_state = r.str()?;
        let flags = r.u32()?;
        let name = r.str()?;
        let [kind, status] = r.fixed()?;
        let start_ns = u64::from_le_bytes(r.fixed()?);
        let end_ns = start_ns.wrapping_add(r.varint()?);
        batch.spans.push(Span {
            resource,
            scope,
            trace_id,
            span_id,
            parent_span_id,
            trace_state,
            flags,
            name,
            kind,
            start_ns,
            end_ns,
            status,
            status_message: r.str()?,
            attributes: r.range(attributes)?,
            dropped_attributes: r.u32()?,
            events: r.range(events)?,
            dropped_events: r.u32()?,
            links: r.range(links)?,
            dropped_links: r.u32()?,
        });
    }
    batch.events.reserve(events);
    for _ in 0..events {
        batch.events.push(Event {
            time_ns: u64::from_le_bytes(r.fixed()?),
            name: r.str()?,
            attributes: r.range(attributes)?,
            dropped_attributes: r.u32()?,
        });
    }
    batch.links.reserve(links);
    for _ in 0..links {
        batch.links.push(Link {
            trace_id: u128::from_le_bytes(r.fixed()?),
            span_id: u64::from_le_bytes(r.fixed()?),
            trace_state: r.str()?,
            flags: r.u32()?,
            attributes: r.range(attributes)?,
            dropped_attributes: r.u32()?,
        });
    }
    batch.attributes.reserve(attributes);
    for _ in 0..attributes {
        batch.attributes.push(KeyValue {
            key: r.str()?,
            value: r.value(values, entries)?,
        });
    }
    batch.values.reserve(values);
    for _ in 0..values {
        let v = r.value(values, entries)?;
        batch.values.push(v);
    }
    batch.entries.reserve(entries);
    for _ in 0..entries {
        batch.entries.push(KeyValue {
            key: r.str()?,
            value: r.value(values, entries)?,
        });
    }
    match bytes.len() - r.at {
        0 => {}
        n => return Err(RecordError::Trailing(n)),
    }
    check_nesting(&batch)?;
    Ok(batch)
}

/// Deepest array/map nesting a record may hold (the ingest decoders stop at 32).
pub const MAX_NESTING: usize = 64;

/// Checks that arrays and maps form trees no deeper than [`MAX_NESTING`], as every decoder
/// builds them ([`SpanBatch::push_array`] appends fresh items): each item of
/// [`SpanBatch::values`] and [`SpanBatch::entries`] belongs to at most one array or map. A
/// record whose values refer to one another in a cycle, or share items (a DAG whose unfolding
/// grows exponentially with depth), would otherwise send the store's packing into endless
/// recursion or unbounded work.
fn check_nesting(batch: &SpanBatch<'_>) -> Result<(), RecordError> {
    let invalid = |what| RecordError::Invalid { what, at: 0 };
    let mut owned_values = vec![false; batch.values.len()];
    let mut owned_entries = vec![false; batch.entries.len()];
    let mut claim = |value: &AnyValue<'_>| -> Result<(), RecordError> {
        let (owned, start, end) = match *value {
            AnyValue::Array { start, end } => (&mut owned_values, start, end),
            AnyValue::Map { start, end } => (&mut owned_entries, start, end),
            _ => return Ok(()),
        };
        for slot in &mut owned[start as usize..end as usize] {
            if std::mem::replace(slot, true) {
                return Err(invalid("array or map item shared by two values"));
            }
        }
        Ok(())
    };
    let values = batch.values.iter();
    let entries = batch.entries.iter().map(|kv| &kv.value);
    for value in batch
        .attributes
        .iter()
        .map(|kv| &kv.value)
        .chain(values)
        .chain(entries)
    {
        claim(value)?;
    }
    // With every item owned once, what hangs off the attributes is a forest: walk it (an
    // explicit stack, at most one visit per item) to bound its depth.
    let mut stack: Vec<(AnyValue<'_>, usize)> =
        batch.attributes.iter().map(|kv| (kv.value, 1)).collect();
    while let Some((value, depth)) = stack.pop() {
        if matches!(value, AnyValue::Array { .. } | AnyValue::Map { .. }) && depth > MAX_NESTING {
            return Err(invalid("array or map nesting deeper than 64"));
        }
        stack.extend(batch.array_items(&value).iter().map(|v| (*v, depth + 1)));
        stack.extend(
            batch
                .map_entries(&value)
                .iter()
                .map(|kv| (kv.value, depth + 1)),
        );
    }
    Ok(())
}

type FxBuild = BuildHasherDefault<FxHasher>;

struct Encoder<'o, 'a> {
    out: &'o mut Vec<u8>,
    strings: HashMap<&'a str, u32, FxBuild>,
}

impl<'a> Encoder<'_, 'a> {
    fn varint(&mut self, mut n: u64) {
        while n >= 0x80 {
            self.out.push((n as u8) | 0x80);
            n >>= 7;
        }
        self.out.push(n as u8);
    }

    fn range(&mut self, range: &Range<u32>) {
        self.varint(u64::from(range.start));
        self.varint(u64::from(range.end.saturating_sub(range.start)));
    }

    fn str(&mut self, s: &'a str) {
        if s.len() <= SHORT_STRING {
            let next = self.strings.len() as u32;
            match self.strings.entry(s) {
                std::collections::hash_map::Entry::Occupied(e) => {
                    let index = *e.get();
                    self.varint(u64::from(index) * 2 + 1);
                    return;
                }
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(next);
                }
            }
        }
        self.varint(s.len() as u64 * 2);
        self.out.extend_from_slice(s.as_bytes());
    }

    fn value(&mut self, value: &AnyValue<'a>) {
        match *value {
            AnyValue::Str(s) => {
                self.out.push(0);
                self.str(s);
            }
            AnyValue::Bool(b) => self.out.extend_from_slice(&[1, u8::from(b)]),
            AnyValue::Int(i) => {
                self.out.push(2);
                self.varint(((i << 1) ^ (i >> 63)) as u64);
            }
            AnyValue::Double(d) => {
                self.out.push(3);
                self.out.extend_from_slice(&d.to_le_bytes());
            }
            AnyValue::Bytes(b) => {
                self.out.push(4);
                self.varint(b.len() as u64);
                self.out.extend_from_slice(b);
            }
            AnyValue::Array { start, end } => {
                self.out.push(5);
                self.range(&(start..end));
            }
            AnyValue::Map { start, end } => {
                self.out.push(6);
                self.range(&(start..end));
            }
        }
    }
}

struct Decoder<'a> {
    bytes: &'a [u8],
    at: usize,
    strings: Vec<&'a str>,
}

impl<'a> Decoder<'a> {
    fn invalid<T>(&self, what: &'static str) -> Result<T, RecordError> {
        Err(RecordError::Invalid { what, at: self.at })
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or(RecordError::Truncated(self.at))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], RecordError> {
        let bytes = self.take(N)?;
        let mut out = [0; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn varint(&mut self) -> Result<u64, RecordError> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let [b] = self.fixed()?;
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        self.invalid("varint")
    }

    fn u32(&mut self) -> Result<u32, RecordError> {
        let n = self.varint()?;
        u32::try_from(n).or_else(|_| self.invalid("32-bit number"))
    }

    /// A count of elements, each at least one byte long.
    fn count(&mut self, what: &'static str) -> Result<usize, RecordError> {
        let n = self.varint()?;
        if n > (self.bytes.len() - self.at) as u64 {
            return self.invalid(what);
        }
        Ok(n as usize)
    }

    fn index(&mut self, len: usize, what: &'static str) -> Result<u32, RecordError> {
        let i = self.u32()?;
        if i as usize >= len {
            return self.invalid(what);
        }
        Ok(i)
    }

    fn range(&mut self, len: usize) -> Result<Range<u32>, RecordError> {
        let start = self.u32()?;
        let n = self.u32()?;
        match start.checked_add(n) {
            Some(end) if end as usize <= len => Ok(start..end),
            _ => self.invalid("range"),
        }
    }

    fn str(&mut self) -> Result<&'a str, RecordError> {
        let tag = self.varint()?;
        if tag & 1 == 1 {
            return match self.strings.get((tag >> 1) as usize) {
                Some(s) => Ok(s),
                None => self.invalid("string reference"),
            };
        }
        let len = usize::try_from(tag >> 1).unwrap_or(usize::MAX);
        let at = self.at;
        let bytes = self.take(len)?;
        let s = std::str::from_utf8(bytes).map_err(|_| RecordError::Invalid {
            what: "UTF-8 string",
            at,
        })?;
        if s.len() <= SHORT_STRING {
            self.strings.push(s);
        }
        Ok(s)
    }

    fn value(&mut self, values: usize, entries: usize) -> Result<AnyValue<'a>, RecordError> {
        let [tag] = self.fixed()?;
        Ok(match tag {
            0 => AnyValue::Str(self.str()?),
            1 => match self.fixed()? {
                [0] => AnyValue::Bool(false),
                [1] => AnyValue::Bool(true),
                _ => return self.invalid("boolean"),
            },
            2 => {
                let n = self.varint()?;
                AnyValue::Int(((n >> 1) as i64) ^ -((n & 1) as i64))
            }
            3 => AnyValue::Double(f64::from_le_bytes(self.fixed()?)),
            4 => {
                let len = self.count("byte length")?;
                AnyValue::Bytes(self.take(len)?)
            }
            5 => {
                let r = self.range(values)?;
                AnyValue::Array {
                    start: r.start,
                    end: r.end,
                }
            }
            6 => {
                let r = self.range(entries)?;
                AnyValue::Map {
                    start: r.start,
                    end: r.end,
                }
            }
            _ => return self.invalid("value type"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rich() -> SpanBatch<'static> {
        let mut b = SpanBatch::new();
        b.attributes.push(KeyValue {
            key: "host.name",
            value: AnyValue::Str("h1"),
        });
        b.resources.push(Resource {
            service: "svc",
            attributes: 0..1,
            dropped_attributes: 2,
        });
        b.scopes.push(Scope {
            name: "lib",
            version: "1.0",
            attributes: 1..1,
            dropped_attributes: 0,
        });
        let items = [AnyValue::Int(-5), AnyValue::Double(0.25)];
        let array = b.push_array(&items);
        let map = b.push_map(&[KeyValue {
            key: "inner",
            value: AnyValue::Bytes(b"\x00\xff"),
        }]);
        let start = b.attributes.len();
        b.attributes.extend([
            KeyValue {
                key: "arr",
                value: array,
            },
            KeyValue {
                key: "map",
                value: map,
            },
            KeyValue {
                key: "ok",
                value: AnyValue::Bool(true),
            },
            KeyValue {
                key: "host.name",
                value: AnyValue::Str(
                    "a value longer than sixty-four bytes, written inline every time it occurs",
                ),
            },
        ]);
        let attributes = b.attributes_since(start);
        b.events.push(Event {
            time_ns: 5,
            name: "retry",
            attributes: 0..1,
            dropped_attributes: 1,
        });
        b.links.push(Link {
            trace_id: u128::MAX,
            span_id: 9,
            trace_state: "k=v",
            flags: 1,
            attributes: 1..2,
            dropped_attributes: 0,
        });
        b.spans.push(Span {
            resource: 0,
            scope: 0,
            trace_id: 1 << 100,
            span_id: 2,
            parent_span_id: 3,
            trace_state: "k=v",
            flags: 0x301,
            name: "GET /",
            kind: 2,
            start_ns: 10,
            end_ns: 4, // before the start: kept as given
            status: 2,
            status_message: "boom",
            attributes,
            dropped_attributes: 1,
            events: 0..1,
            dropped_events: 2,
            links: 0..1,
            dropped_links: 3,
        });
        b
    }

    #[test]
    fn every_field_survives_a_round_trip() {
        let batch = rich();
        let mut bytes = Vec::new();
        encode(&batch, &mut bytes);
        assert_eq!(decode(&bytes).unwrap(), batch);
    }

    #[test]
    fn every_cut_and_every_flipped_byte_is_an_error_or_a_batch_never_a_panic() {
        let mut bytes = Vec::new();
        encode(&rich(), &mut bytes);
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut flipped = bytes.clone();
                flipped[i] ^= 1 << bit;
                let _ = decode(&flipped);
            }
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer), Err(RecordError::Trailing(1)));
    }

    #[test]
    fn arrays_that_contain_themselves_or_share_items_are_refused() {
        // An array among the values whose range includes itself, reached from an attribute.
        let mut b = rich();
        b.values.push(AnyValue::Array { start: 2, end: 3 });
        b.attributes.push(KeyValue {
            key: "cycle",
            value: AnyValue::Array { start: 2, end: 3 },
        });
        let mut bytes = Vec::new();
        encode(&b, &mut bytes);
        assert!(
            matches!(decode(&bytes), Err(RecordError::Invalid { what, .. }) if what.contains("shared")),
            "{:?}",
            decode(&bytes)
        );
        // A chain deeper than the limit.
        let mut b = rich();
        let mut inner = b.push_array(&[AnyValue::Int(1)]);
        for _ in 0..MAX_NESTING {
            inner = b.push_array(&[inner]);
        }
        b.attributes.push(KeyValue {
            key: "deep",
            value: inner,
        });
        let mut bytes = Vec::new();
        encode(&b, &mut bytes);
        assert!(
            matches!(decode(&bytes), Err(RecordError::Invalid { what, .. }) if what.contains("deeper")),
            "{:?}",
            decode(&bytes)
        );
    }

    #[test]
    fn repeated_short_strings_are_written_once() {
        let mut b = SpanBatch::new();
        b.resources.push(Resource {
            service: "svc",
            ..Resource::default()
        });
        b.scopes.push(Scope::default());
        for i in 0..100 {
            b.spans.push(Span {
                trace_id: 1,
                span_id: i + 1,
                name: "GET /orders/{id}",
                ..Span::default()
            });
        }
        let mut bytes = Vec::new();
        encode(&b, &mut bytes);
        let name = b"GET /orders/{id}";
        let copies = bytes.windows(name.len()).filter(|w| w == name).count();
        assert_eq!(copies, 1);
        assert_eq!(decode(&bytes).unwrap(), b);
    }
}
