//! Jaeger's thrift model (jaegertracing/jaeger-idl `thrift/jaeger.thrift`, agent messages from
//! `thrift/agent.thrift`) as the payload's own slices, read with [`thrift_wire`].
//!
//! A [`Batch`] keeps every tag, log and reference of its spans in one vector each, the spans
//! holding ranges of them, so decoding allocates a few growing vectors per batch instead of a
//! `String` per key and value. Strings and binary values borrow from the payload. The struct
//! walkers check what the thrift crate's generated readers check: required fields present,
//! strings UTF-8; a field of an unexpected type is skipped (the generated code would read it
//! as the expected type and fail or misread).
//!
//! The tags that the mapping reads as text (status, scope, a log's `event`) are turned into
//! text as they are read (see [`Value::Text`]), as the thrift-crate path did after decoding.

use std::ops::Range;

use crate::ingest::thrift_wire::{Field, Reader, Result, Type, require, text};
use crate::vocabulary;

/// `TagType` numbers (`jaeger.thrift`).
const DOUBLE: i32 = 1;
const BOOL: i32 = 2;
const LONG: i32 = 3;
const BINARY: i32 = 4;

/// A tag's value, as its `vType` says (an unknown type reads as its `vStr`, as Jaeger's own
/// collector does; a value field that is absent reads as zero, false or empty).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value<'a> {
    Str(&'a str),
    Double(f64),
    Bool(bool),
    Long(i64),
    Binary(&'a [u8]),
    /// A number read as text (a tag the mapping reads as text): index in [`Batch::texts`].
    Text(u32),
}

/// A `Tag`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Tag<'a> {
    pub(crate) key: &'a str,
    pub(crate) value: Value<'a>,
}

/// A `SpanRef`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SpanRef {
    /// `refType` is `CHILD_OF` (0); anything else is `FOLLOWS_FROM`.
    pub(crate) child_of: bool,
    pub(crate) trace_id_low: i64,
    pub(crate) trace_id_high: i64,
    pub(crate) span_id: i64,
}

/// A `Log`: its time and its fields (a range of [`Batch::tags`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Log {
    pub(crate) timestamp: i64,
    pub(crate) fields: Range<u32>,
}

/// A `Span`; its lists are ranges of the [`Batch`]'s vectors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Span<'a> {
    pub(crate) trace_id_low: i64,
    pub(crate) trace_id_high: i64,
    pub(crate) span_id: i64,
    pub(crate) parent_span_id: i64,
    pub(crate) operation_name: &'a str,
    pub(crate) references: Range<u32>,
    pub(crate) flags: i32,
    pub(crate) start_time: i64,
    pub(crate) duration: i64,
    pub(crate) tags: Range<u32>,
    pub(crate) logs: Range<u32>,
}

/// A `Process`: service name and tags (a range of [`Batch::tags`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Process<'a> {
    pub(crate) service_name: &'a str,
    pub(crate) tags: Range<u32>,
}

/// A `Batch`: the process, the spans, and the lists they hold ranges of.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Batch<'a> {
    pub(crate) process: Process<'a>,
    pub(crate) spans: Vec<Span<'a>>,
    pub(crate) tags: Vec<Tag<'a>>,
    pub(crate) logs: Vec<Log>,
    pub(crate) references: Vec<SpanRef>,
    /// Numbers read as text ([`Value::Text`]); rare (a numeric `error` or scope tag).
    pub(crate) texts: Vec<String>,
    keys: Keys<'a>,
}

/// Tag keys read so far, by a hash of their bytes: the spans of a batch repeat the same keys,
/// and comparing a key's bytes with the one read before is cheaper than checking them as
/// UTF-8 again. A key found here is the earlier, equal, string of the same payload.
#[derive(Debug, Clone, PartialEq)]
struct Keys<'a>([&'a str; 64]);

impl Default for Keys<'_> {
    fn default() -> Self {
        Keys([""; 64])
    }
}

impl<'a> Keys<'a> {
    #[inline]
    fn get(&mut self, bytes: &'a [u8]) -> Result<&'a str> {
        let n = bytes.len();
        let Some(&last) = bytes.last() else {
            return Ok("");
        };
        let slot = (n.wrapping_mul(7) ^ usize::from(last) ^ (usize::from(bytes[n / 2]) << 2)) & 63;
        let cached = self.0[slot];
        if cached.as_bytes() == bytes {
            return Ok(cached);
        }
        let key = text(bytes)?;
        self.0[slot] = key;
        Ok(key)
    }
}

fn bit(id: i16) -> u32 {
    1u32.checked_shl(id as u32).unwrap_or(0)
}

fn len(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn since(start: usize, end: usize) -> Range<u32> {
    len(start)..len(end)
}

impl<'a> Batch<'a> {
    /// Reads a `Batch` struct.
    pub(crate) fn read(r: &mut Reader<'a>) -> Result<Batch<'a>> {
        let mut batch = Batch::default();
        // Sized from the bytes left, never from a count the payload declares: as many tags as
        // a dense payload holds (a tag takes 25 bytes or more), so that the vectors are not
        // copied as they grow. Pages reserved and never written cost no memory.
        let left = r.remaining();
        batch.tags.reserve(left / 24);
        batch.logs.reserve(left / 256);
        batch.spans.reserve(left / 256);
        let mut seen = 0;
        r.fields(|r, f| {
            match (f.id, f.ty) {
                (1, Type::Struct) => batch.process = batch.read_process(r)?,
                (2, Type::List) => {
                    // A second `spans` field replaces the first, as in the generated code.
                    batch.spans.clear();
                    r.list(Type::Struct, |r| {
                        let span = batch.read_span(r)?;
                        batch.spans.push(span);
                        Ok(())
                    })?;
                }
                _ => return r.skip(f),
            }
            seen |= bit(f.id);
            Ok(())
        })?;
        require(
            seen,
            0b110,
            &[(0b10, "Batch.process"), (0b100, "Batch.spans")],
        )?;
        Ok(batch)
    }

    /// Reads an agent `emitBatch` message (`Agent.emitBatch_args { 1: Batch batch }`).
    pub(crate) fn read_emit_batch(r: &mut Reader<'a>) -> std::result::Result<Batch<'a>, String> {
        let name = r.message_begin().map_err(|e| e.to_string())?;
        if name != "emitBatch" {
            return Err(format!(
                "agent message {name:?} is not supported (only emitBatch)"
            ));
        }
        let mut batch = None;
        r.fields(|r, f| match (f.id, f.ty) {
            (1, Type::Struct) => {
                batch = Some(Batch::read(r)?);
                Ok(())
            }
            _ => r.skip(f),
        })
        .map_err(|e| e.to_string())?;
        batch.ok_or_else(|| "emitBatch without a batch".to_owned())
    }

    fn read_process(&mut self, r: &mut Reader<'a>) -> Result<Process<'a>> {
        let mut process = Process::default();
        let mut seen = 0;
        r.fields(|r, f| {
            match (f.id, f.ty) {
                (1, Type::Binary) => process.service_name = r.string()?,
                (2, Type::List) => process.tags = self.read_tags(r)?,
                _ => return r.skip(f),
            }
            seen |= bit(f.id);
            Ok(())
        })?;
        require(seen, 0b10, &[(0b10, "Process.serviceName")])?;
        Ok(process)
    }

    /// Reads a `list<Tag>` onto [`Batch::tags`]; its range.
    fn read_tags(&mut self, r: &mut Reader<'a>) -> Result<Range<u32>> {
        let start = self.tags.len();
        r.list(Type::Struct, |r| {
            let tag = read_tag(r, &mut self.keys)?;
            self.tags.push(tag);
            Ok(())
        })?;
        Ok(since(start, self.tags.len()))
    }

    fn read_span(&mut self, r: &mut Reader<'a>) -> Result<Span<'a>> {
        let mut s = Span::default();
        let mut seen = 0;
        r.fields(|r, f| {
            match (f.id, f.ty) {
                (1, Type::I64) => s.trace_id_low = r.i64()?,
                (2, Type::I64) => s.trace_id_high = r.i64()?,
                (3, Type::I64) => s.span_id = r.i64()?,
                (4, Type::I64) => s.parent_span_id = r.i64()?,
                // Spans repeat their operations as they repeat tag keys.
                (5, Type::Binary) => s.operation_name = self.keys.get(r.binary()?)?,
                (6, Type::List) => {
                    let start = self.references.len();
                    r.list(Type::Struct, |r| {
                        let reference = read_ref(r)?;
                        self.references.push(reference);
                        Ok(())
                    })?;
                    s.references = since(start, self.references.len());
                }
                (7, Type::I32) => s.flags = r.i32()?,
                (8, Type::I64) => s.start_time = r.i64()?,
                (9, Type::I64) => s.duration = r.i64()?,
                (10, Type::List) => s.tags = self.read_tags(r)?,
                (11, Type::List) => {
                    let start = self.logs.len();
                    r.list(Type::Struct, |r| {
                        let log = self.read_log(r)?;
                        self.logs.push(log);
                        Ok(())
                    })?;
                    s.logs = since(start, self.logs.len());
                }
                _ => return r.skip(f),
            }
            seen |= bit(f.id);
            Ok(())
        })?;
        require(
            seen,
            0b11_1011_1110,
            &[
                (1 << 1, "Span.traceIdLow"),
                (1 << 2, "Span.traceIdHigh"),
                (1 << 3, "Span.spanId"),
                (1 << 4, "Span.parentSpanId"),
                (1 << 5, "Span.operationName"),
                (1 << 7, "Span.flags"),
                (1 << 8, "Span.startTime"),
                (1 << 9, "Span.duration"),
            ],
        )?;
        for i in s.tags.clone() {
            if super::read_as_text(self.tags[i as usize].key) {
                self.as_text(i as usize);
            }
        }
        Ok(s)
    }

    fn read_log(&mut self, r: &mut Reader<'a>) -> Result<Log> {
        let mut log = Log::default();
        let mut seen = 0;
        r.fields(|r, f| {
            match (f.id, f.ty) {
                (1, Type::I64) => log.timestamp = r.i64()?,
                (2, Type::List) => log.fields = self.read_tags(r)?,
                _ => return r.skip(f),
            }
            seen |= bit(f.id);
            Ok(())
        })?;
        require(
            seen,
            0b110,
            &[(0b10, "Log.timestamp"), (0b100, "Log.fields")],
        )?;
        let event = log
            .fields
            .clone()
            .find(|&i| self.tags[i as usize].key == vocabulary::EVENT);
        if let Some(i) = event {
            self.as_text(i as usize);
        }
        Ok(log)
    }

    /// Turns tag `i`, read as text by the mapping, into text: a bool its name, a number its
    /// decimal text, binary the empty string.
    fn as_text(&mut self, i: usize) {
        let tag = &mut self.tags[i];
        tag.value = match tag.value {
            Value::Str(_) | Value::Text(_) => return,
            Value::Bool(b) => Value::Str(if b { "true" } else { "false" }),
            Value::Binary(_) => Value::Str(""),
            Value::Double(d) => {
                self.texts.push(d.to_string());
                Value::Text(len(self.texts.len() - 1))
            }
            Value::Long(l) => {
                self.texts.push(l.to_string());
                Value::Text(len(self.texts.len() - 1))
            }
        };
    }
}

fn read_tag<'a>(r: &mut Reader<'a>, keys: &mut Keys<'a>) -> Result<Tag<'a>> {
    let (mut key, mut v_type, mut v_str) = ("", 0, "");
    let (mut double, mut boolean, mut long, mut binary) = (0.0, false, 0, &[][..]);
    let mut seen = 0;
    r.fields(|r: &mut Reader<'a>, f: Field| {
        match (f.id, f.ty) {
            (1, Type::Binary) => key = keys.get(r.binary()?)?,
            (2, Type::I32) => v_type = r.i32()?,
            (3, Type::Binary) => v_str = r.string()?,
            (4, Type::Double) => double = r.double()?,
            (5, Type::Bool) => boolean = r.bool()?,
            (6, Type::I64) => long = r.i64()?,
            (7, Type::Binary) => binary = r.binary()?,
            _ => return r.skip(f),
        }
        seen |= bit(f.id);
        Ok(())
    })?;
    require(seen, 0b110, &[(0b10, "Tag.key"), (0b100, "Tag.vType")])?;
    let value = match v_type {
        DOUBLE => Value::Double(double),
        BOOL => Value::Bool(boolean),
        LONG => Value::Long(long),
        BINARY => Value::Binary(binary),
        _ => Value::Str(v_str),
    };
    Ok(Tag { key, value })
}

fn read_ref(r: &mut Reader<'_>) -> Result<SpanRef> {
    let mut reference = SpanRef::default();
    let mut seen = 0;
    r.fields(|r, f| {
        match (f.id, f.ty) {
            (1, Type::I32) => reference.child_of = r.i32()? == 0,
            (2, Type::I64) => reference.trace_id_low = r.i64()?,
            (3, Type::I64) => reference.trace_id_high = r.i64()?,
            (4, Type::I64) => reference.span_id = r.i64()?,
            _ => return r.skip(f),
        }
        seen |= bit(f.id);
        Ok(())
    })?;
    require(
        seen,
        0b1_1110,
        &[
            (1 << 1, "SpanRef.refType"),
            (1 << 2, "SpanRef.traceIdLow"),
            (1 << 3, "SpanRef.traceIdHigh"),
            (1 << 4, "SpanRef.spanId"),
        ],
    )?;
    Ok(reference)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_cache_returns_each_key_as_read_even_when_slots_collide() {
        let mut keys = Keys::default();
        // Same length, same middle and last byte: the same slot.
        let (a, b) = (b"ax.z".as_slice(), b"bx.z".as_slice());
        assert_eq!(keys.get(a).unwrap(), "ax.z");
        assert_eq!(keys.get(b).unwrap(), "bx.z");
        assert_eq!(keys.get(a).unwrap(), "ax.z");
        assert_eq!(keys.get(b"").unwrap(), "");
        assert!(keys.get(&[0xff, 0xfe]).is_err());
    }
}
