//! The stored form of a span.
//!
//! A [`SpanRecord`] keeps the fields every query touches (ids, times, interned service and
//! operation, kind, status) as plain fields, and packs everything else (status message, trace
//! state, attributes, events, links) into one compact byte string: varints, interned attribute
//! keys, values inline. One allocation per span instead of one per attribute keeps the per-span
//! overhead small; queries decode the blob lazily, and attribute search compares interned keys
//! before looking at values.

use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use prost::Message;

use super::intern::Sym;

/// Index into the store's process (resource) table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ProcessId(pub(crate) u32);

/// Index into the store's instrumentation scope table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ScopeId(pub(crate) u32);

/// Span kind, numbered as in OTLP.
pub(crate) const KIND_UNSPECIFIED: u8 = 0;
/// Status code ERROR as in OTLP.
pub(crate) const STATUS_ERROR: u8 = 2;
/// Status code OK as in OTLP.
pub(crate) const STATUS_OK: u8 = 1;

/// One stored span. The trace id lives on the trace that owns the span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SpanRecord {
    pub(crate) span_id: u64,
    /// Zero when the span is a root.
    pub(crate) parent_span_id: u64,
    pub(crate) start_ns: u64,
    pub(crate) duration_ns: u64,
    pub(crate) name: Sym,
    pub(crate) service: Sym,
    pub(crate) process: ProcessId,
    pub(crate) scope: ScopeId,
    pub(crate) flags: u32,
    pub(crate) kind: u8,
    pub(crate) status: u8,
    /// Bloom filter over the (key, value) pairs of the span's and its events' attributes, so a
    /// tag search skips most spans without decoding them.
    pub(crate) attr_bloom: u64,
    pub(crate) data: Box<[u8]>,
}

impl SpanRecord {
    /// Decodes the packed part of the span.
    pub(crate) fn detail(&self) -> SpanDetail<'_> {
        SpanDetail::decode(&self.data, self.start_ns)
    }

    /// Iterates over the span attributes without decoding events and links.
    pub(crate) fn attributes(&self) -> AttrIter<'_> {
        let mut r = Reader(&self.data);
        r.str();
        r.str();
        r.varint();
        AttrIter::new(r)
    }

    /// Calls `f(event name, attributes)` for each event, without allocating, until `f` returns
    /// true; returns whether it did.
    pub(crate) fn any_event(&self, mut f: impl FnMut(&str, AttrIter<'_>) -> bool) -> bool {
        let mut attrs = self.attributes();
        for _ in attrs.by_ref() {}
        let mut r = attrs.reader;
        let n_events = r.varint();
        for _ in 0..n_events {
            r.varint();
            let name = r.str();
            r.varint();
            let mut event_attrs = AttrIter::new(r.clone());
            if f(name, AttrIter::new(r.clone())) {
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
    /// An array or key-value list, kept as the protobuf encoding of its `AnyValue`.
    Complex(&'a [u8]),
}

impl<'a> Value<'a> {
    /// Borrows an OTLP value (arrays and maps become an empty `Complex`; they are not
    /// searchable).
    pub(crate) fn of(value: Option<&'a any_value::Value>) -> Self {
        match value {
            None => Value::Str(""),
            Some(any_value::Value::StringValue(s)) => Value::Str(s),
            Some(any_value::Value::BoolValue(b)) => Value::Bool(*b),
            Some(any_value::Value::IntValue(i)) => Value::Int(*i),
            Some(any_value::Value::DoubleValue(d)) => Value::Double(*d),
            Some(any_value::Value::BytesValue(b)) => Value::Bytes(b),
            Some(_) => Value::Complex(&[]),
        }
    }

    /// Converts back to the OTLP value.
    pub(crate) fn to_any(self) -> AnyValue {
        let value = match self {
            Value::Str(s) => any_value::Value::StringValue(s.to_owned()),
            Value::Bool(b) => any_value::Value::BoolValue(b),
            Value::Int(i) => any_value::Value::IntValue(i),
            Value::Double(d) => any_value::Value::DoubleValue(d),
            Value::Bytes(b) => any_value::Value::BytesValue(b.to_vec()),
            Value::Complex(raw) => return AnyValue::decode(raw).unwrap_or_default(),
        };
        AnyValue { value: Some(value) }
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
    fn decode(data: &'a [u8], start_ns: u64) -> Self {
        let mut r = Reader(data);
        let status_message = r.str();
        let trace_state = r.str();
        let dropped_attributes = r.varint() as u32;
        let attributes = r.attrs();
        let n_events = r.varint() as usize;
        let mut events = Vec::with_capacity(n_events);
        for _ in 0..n_events {
            let offset = unzigzag(r.varint());
            let name = r.str();
            let dropped_attributes = r.varint() as u32;
            let attributes = r.attrs();
            events.push(EventDetail {
                time_ns: start_ns.wrapping_add_signed(offset),
                name,
                dropped_attributes,
                attributes,
            });
        }
        let dropped_events = r.varint() as u32;
        let n_links = r.varint() as usize;
        let mut links = Vec::with_capacity(n_links);
        for _ in 0..n_links {
            let trace_id = u128::from_be_bytes(r.fixed::<16>());
            let span_id = u64::from_be_bytes(r.fixed::<8>());
            let trace_state = r.str();
            let flags = r.varint() as u32;
            let dropped_attributes = r.varint() as u32;
            let attributes = r.attrs();
            links.push(LinkDetail {
                trace_id,
                span_id,
                trace_state,
                flags,
                dropped_attributes,
                attributes,
            });
        }
        let dropped_links = r.varint() as u32;
        SpanDetail {
            status_message,
            trace_state,
            dropped_attributes,
            attributes,
            events,
            dropped_events,
            links,
            dropped_links,
        }
    }
}

/// Writes the packed part of a span. Calls must follow the layout order:
/// header, attributes, events, links.
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

    /// Writes a link's trace and span ids, left-padded (or cut) to 16 and 8 bytes.
    pub(crate) fn link_ids(&mut self, trace_id: &[u8], span_id: &[u8]) {
        let mut trace = [0u8; 16];
        let n = trace_id.len().min(16);
        trace[16 - n..].copy_from_slice(&trace_id[..n]);
        let mut span = [0u8; 8];
        let n = span_id.len().min(8);
        span[8 - n..].copy_from_slice(&span_id[..n]);
        self.buf.extend_from_slice(&trace);
        self.buf.extend_from_slice(&span);
    }

    /// Writes a borrowed value; `Complex` holds the protobuf encoding of an `AnyValue`.
    pub(crate) fn typed(&mut self, v: Value<'_>) {
        match v {
            Value::Str(s) => {
                self.buf.push(0);
                self.str(s);
            }
            Value::Bool(b) => self.buf.push(if b { 2 } else { 1 }),
            Value::Int(i) => {
                self.buf.push(3);
                self.signed(i);
            }
            Value::Double(d) => {
                self.buf.push(4);
                self.buf.extend_from_slice(&d.to_le_bytes());
            }
            Value::Bytes(b) => {
                self.buf.push(5);
                self.bytes(b);
            }
            Value::Complex(raw) => {
                self.buf.push(6);
                self.bytes(raw);
            }
        }
    }

    /// Writes one attribute value; `None` (an empty `AnyValue`) is stored as an empty string.
    pub(crate) fn value(&mut self, v: Option<&any_value::Value>) {
        match v {
            None => {
                self.buf.push(0);
                self.str("");
            }
            Some(any_value::Value::StringValue(s)) => {
                self.buf.push(0);
                self.str(s);
            }
            Some(any_value::Value::BoolValue(b)) => self.buf.push(if *b { 2 } else { 1 }),
            Some(any_value::Value::IntValue(i)) => {
                self.buf.push(3);
                self.signed(*i);
            }
            Some(any_value::Value::DoubleValue(d)) => {
                self.buf.push(4);
                self.buf.extend_from_slice(&d.to_le_bytes());
            }
            Some(any_value::Value::BytesValue(b)) => {
                self.buf.push(5);
                self.bytes(b);
            }
            Some(other) => {
                self.buf.push(6);
                let any = AnyValue {
                    value: Some(other.clone()),
                };
                self.bytes(&any.encode_to_vec());
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
    /// Iterates over an attribute list packed on its own (count, then pairs).
    pub(crate) fn attr_iter(data: &'a [u8]) -> AttrIter<'a> {
        AttrIter::new(Reader(data))
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

    fn value(&mut self) -> Value<'a> {
        let tag = self.take(1).first().copied().unwrap_or(0);
        match tag {
            1 => Value::Bool(false),
            2 => Value::Bool(true),
            3 => Value::Int(unzigzag(self.varint())),
            4 => Value::Double(f64::from_le_bytes(self.fixed::<8>())),
            5 => Value::Bytes(self.bytes()),
            6 => Value::Complex(self.bytes()),
            _ => Value::Str(self.str()),
        }
    }

    fn attrs(&mut self) -> Vec<(Sym, Value<'a>)> {
        AttrIter::new(self.clone()).collect_into(self)
    }
}

/// Iterator over a packed attribute list.
pub(crate) struct AttrIter<'a> {
    reader: Reader<'a>,
    remaining: usize,
}

impl<'a> AttrIter<'a> {
    fn new(mut reader: Reader<'a>) -> Self {
        let remaining = reader.varint() as usize;
        AttrIter { reader, remaining }
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
        let value = self.reader.value();
        Some((key, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_round_trips() {
        for v in [0i64, 1, -1, i64::MAX, i64::MIN, 1 << 53] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
    }
}
