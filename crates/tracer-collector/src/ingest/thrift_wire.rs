//! A reader of the thrift binary and compact protocols (Apache Thrift's `TBinaryProtocol` and
//! `TCompactProtocol` specifications) that borrows every string and binary value from the
//! payload, for the Jaeger and Zipkin thrift walkers ([`super::jaeger_thrift`],
//! `zipkin::thrift`).
//!
//! The `thrift` crate's generated code decodes into owned structs: a `String` per tag key and
//! value, freed again once the batch is stored; allocation and freeing were 29 % of the
//! instructions of the Jaeger compact path, decoding and dropping the model 81 %. This reader
//! hands out `&'a str` and `&'a [u8]` slices of the payload instead, and the walkers decide
//! what to keep, so no allocation is made per field. The gain, measured against the thrift
//! crate's path in the same run, is in [`super::jaeger_thrift`]'s module docs and
//! `docs/bench/collector.md`.
//!
//! Bounds, as strict as the thrift crate's readers configured with the payload's length:
//! - a string, binary or container length is checked against the bytes left before anything
//!   is read (a container of `n` elements needs at least `n` bytes, `2n` for a map), and nothing
//!   is ever allocated from a declared length or count;
//! - structs and containers nest at most [`MAX_DEPTH`] deep, in values read and in values
//!   skipped alike;
//! - a varint longer than its type allows, an unknown type code or invalid UTF-8 in a string is
//!   an error, never a panic.
//!
//! ```text
//! binary:  field = type:u8 id:i16be value      stop = 0x00
//!          string = len:i32be bytes            list = elem:u8 size:i32be elems
//! compact: field = (delta:4 type:4) [id:zigzag varint if delta = 0] value   stop = 0x00
//!          string = len:varint bytes           list = (size:4 elem:4) [size:varint if 15]
//!          integers zigzag varints, doubles 8 bytes little-endian, bools in the field header
//! ```

use std::fmt;

/// Structs and containers nest at most this deep (the thrift crate's default; Jaeger's model
/// nests four deep).
pub(crate) const MAX_DEPTH: usize = 64;

/// The two thrift encodings Jaeger and Zipkin clients use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// `TBinaryProtocol` (HTTP 14268, agent 6832, Zipkin `/api/v1/spans`).
    Binary,
    /// `TCompactProtocol` (agent 6831 and 5775).
    Compact,
}

impl Protocol {
    /// The name decode errors give the encoding.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Protocol::Binary => "thrift binary",
            Protocol::Compact => "thrift compact",
        }
    }
}

/// Why a payload could not be read. Small and `Copy`, so that the reader's results stay in
/// registers; the text is made only when the error is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Malformed {
    /// The payload ends inside a value.
    Truncated,
    /// A length or count announces more than the bytes left (the count, the bytes left).
    Beyond(u32, u32),
    /// A length or count that is negative or past `i32::MAX`.
    BadLength,
    /// A varint longer than its type allows.
    Varint,
    /// An integer (or a compact field id) out of its type's range.
    Range,
    /// A type code neither protocol defines.
    UnknownType(u8),
    /// Values nest deeper than [`MAX_DEPTH`].
    TooDeep,
    /// A string that is not UTF-8.
    NotUtf8,
    /// A message header of another protocol version.
    Version(u32),
    /// A required field is absent (its IDL name).
    Missing(&'static &'static str),
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::Truncated => f.write_str("the payload ends early"),
            Malformed::Beyond(n, left) => {
                write!(
                    f,
                    "{n} bytes or elements announced, {left} bytes left in the payload"
                )
            }
            Malformed::BadLength => f.write_str("a negative or oversized length"),
            Malformed::Varint => f.write_str("a varint runs past its type's width"),
            Malformed::Range => f.write_str("an integer out of its type's range"),
            Malformed::UnknownType(t) => write!(f, "unknown thrift type {t}"),
            Malformed::TooDeep => write!(f, "values nest deeper than {MAX_DEPTH}"),
            Malformed::NotUtf8 => f.write_str("a string is not UTF-8"),
            Malformed::Version(v) => write!(f, "unsupported thrift message version {v:#x}"),
            Malformed::Missing(name) => write!(f, "missing required field {name}"),
        }
    }
}

impl std::error::Error for Malformed {}

/// A result of this reader.
pub(crate) type Result<T> = std::result::Result<T, Malformed>;

#[cold]
#[inline(never)]
fn fail<T>(why: Malformed) -> Result<T> {
    Err(why)
}

fn clamp(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The type of a field or container element, whichever protocol carried it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Type {
    Bool,
    Byte,
    Double,
    I16,
    I32,
    I64,
    /// A string or binary value.
    Binary,
    Struct,
    Map,
    Set,
    List,
    Uuid,
}

impl Type {
    fn binary(code: u8) -> Result<Type> {
        Ok(match code {
            2 => Type::Bool,
            3 => Type::Byte,
            4 => Type::Double,
            6 => Type::I16,
            8 => Type::I32,
            10 => Type::I64,
            11 => Type::Binary,
            12 => Type::Struct,
            13 => Type::Map,
            14 => Type::Set,
            15 => Type::List,
            16 => Type::Uuid,
            other => return fail(Malformed::UnknownType(other)),
        })
    }

    fn compact(code: u8) -> Result<Type> {
        Ok(match code {
            1 | 2 => Type::Bool,
            3 => Type::Byte,
            4 => Type::I16,
            5 => Type::I32,
            6 => Type::I64,
            7 => Type::Double,
            8 => Type::Binary,
            9 => Type::List,
            10 => Type::Set,
            11 => Type::Map,
            12 => Type::Struct,
            13 => Type::Uuid,
            other => return fail(Malformed::UnknownType(other)),
        })
    }
}

/// A field header: the field's id and type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field {
    pub(crate) id: i16,
    pub(crate) ty: Type,
}

/// A reader over one payload.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    protocol: Protocol,
    depth: usize,
    /// A compact bool field's value, carried in its header.
    pending_bool: Option<bool>,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `payload`.
    pub(crate) fn new(payload: &'a [u8], protocol: Protocol) -> Self {
        Reader {
            buf: payload,
            protocol,
            depth: 0,
            pending_bool: None,
        }
    }

    /// The bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    #[inline(always)]
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.buf.len() {
            return fail(Malformed::Beyond(clamp(n), clamp(self.buf.len())));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        match self.buf.split_first_chunk::<N>() {
            Some((&head, rest)) => {
                self.buf = rest;
                Ok(head)
            }
            None => fail(Malformed::Truncated),
        }
    }

    #[inline(always)]
    fn u8(&mut self) -> Result<u8> {
        match self.buf.split_first() {
            Some((&b, rest)) => {
                self.buf = rest;
                Ok(b)
            }
            None => fail(Malformed::Truncated),
        }
    }

    /// An unsigned varint of at most `max_bytes` bytes.
    #[inline(always)]
    fn varint(&mut self, max_bytes: u32) -> Result<u64> {
        // Most varints here (lengths, small integers) are one byte.
        if let Some((&b, rest)) = self.buf.split_first()
            && b < 0x80
        {
            self.buf = rest;
            return Ok(u64::from(b));
        }
        self.varint_long(max_bytes)
    }

    fn varint_long(&mut self, max_bytes: u32) -> Result<u64> {
        let mut v = 0u64;
        for i in 0..max_bytes {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        fail(Malformed::Varint)
    }

    #[inline(always)]
    fn zigzag(&mut self, max_bytes: u32) -> Result<i64> {
        let v = self.varint(max_bytes)?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    /// A length or count, within `i32` as both protocols bound it.
    #[inline(always)]
    fn size(&mut self) -> Result<usize> {
        let n = match self.protocol {
            Protocol::Binary => i64::from(i32::from_be_bytes(self.array()?)),
            Protocol::Compact => self.varint(5)? as i64,
        };
        if !(0..=i64::from(i32::MAX)).contains(&n) {
            return fail(Malformed::BadLength);
        }
        Ok(n as usize)
    }

    #[inline]
    fn enter(&mut self) -> Result<()> {
        if self.depth >= MAX_DEPTH {
            return fail(Malformed::TooDeep);
        }
        self.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Reads a message header (`TMessage`): its name. The type and sequence id are read and
    /// not kept (the agent's messages are oneway).
    pub(crate) fn message_begin(&mut self) -> Result<&'a str> {
        match self.protocol {
            Protocol::Binary => {
                let first = i32::from_be_bytes(self.array()?);
                let name = if first < 0 {
                    // Strict: version 1 and the type in the low byte, then the name.
                    if (first as u32) & 0xffff_0000 != 0x8001_0000 {
                        return fail(Malformed::Version(first as u32));
                    }
                    self.string()?
                } else {
                    // Old style: the name's length first, then the name and the type byte.
                    let name = self.take(first as usize)?;
                    self.u8()?;
                    str_of(name)?
                };
                self.take(4)?; // sequence id
                Ok(name)
            }
            Protocol::Compact => {
                let id = self.u8()?;
                if id != 0x82 {
                    return fail(Malformed::Version(u32::from(id)));
                }
                let version_and_type = self.u8()?;
                if version_and_type & 0x1f != 1 {
                    return fail(Malformed::Version(u32::from(version_and_type & 0x1f)));
                }
                self.varint(5)?; // sequence id
                self.string()
            }
        }
    }

    /// Reads the fields of a struct, calling `each` with every field header; `each` reads the
    /// value (or [`Reader::skip`]s it) and may read nothing else.
    pub(crate) fn fields(
        &mut self,
        mut each: impl FnMut(&mut Self, Field) -> Result<()>,
    ) -> Result<()> {
        self.enter()?;
        let mut last_id: i16 = 0;
        loop {
            let header = self.u8()?;
            if header == 0 {
                break;
            }
            let field = match self.protocol {
                Protocol::Binary => Field {
                    ty: Type::binary(header)?,
                    id: i16::from_be_bytes(self.array()?),
                },
                Protocol::Compact => {
                    let code = header & 0x0f;
                    let ty = Type::compact(code)?;
                    let delta = header >> 4;
                    let id = if delta == 0 {
                        i16::try_from(self.zigzag(3)?).or_else(|_| fail(Malformed::Range))?
                    } else {
                        last_id.wrapping_add(i16::from(delta))
                    };
                    last_id = id;
                    if ty == Type::Bool {
                        self.pending_bool = Some(code == 1);
                    }
                    Field { id, ty }
                }
            };
            each(self, field)?;
            self.pending_bool = None;
        }
        self.leave();
        Ok(())
    }

    /// Reads a list or set of elements of type `want`, calling `each` for every element (which
    /// reads it); a container of another element type is skipped whole and `each` not called.
    pub(crate) fn list(
        &mut self,
        want: Type,
        mut each: impl FnMut(&mut Self) -> Result<()>,
    ) -> Result<()> {
        let (ty, n) = self.list_begin()?;
        self.enter()?;
        for _ in 0..n {
            if ty == want {
                each(self)?;
            } else {
                self.skip_value(ty)?;
            }
        }
        self.leave();
        Ok(())
    }

    fn list_begin(&mut self) -> Result<(Type, usize)> {
        let (ty, n) = match self.protocol {
            Protocol::Binary => {
                let ty = Type::binary(self.u8()?)?;
                (ty, self.size()?)
            }
            Protocol::Compact => {
                let header = self.u8()?;
                let ty = Type::compact(header & 0x0f)?;
                let n = match header >> 4 {
                    15 => self.size()?,
                    n => usize::from(n),
                };
                (ty, n)
            }
        };
        // Every element takes at least one byte.
        if n > self.buf.len() {
            return fail(Malformed::Beyond(clamp(n), clamp(self.buf.len())));
        }
        Ok((ty, n))
    }

    /// A `bool` value.
    #[inline]
    pub(crate) fn bool(&mut self) -> Result<bool> {
        if let Some(v) = self.pending_bool.take() {
            return Ok(v);
        }
        Ok(match self.protocol {
            Protocol::Binary => self.u8()? != 0,
            // A bool in a container: 1 true, 2 (or 0, as some writers send) false.
            Protocol::Compact => self.u8()? == 1,
        })
    }

    /// An `i16` value.
    #[inline]
    pub(crate) fn i16(&mut self) -> Result<i16> {
        match self.protocol {
            Protocol::Binary => Ok(i16::from_be_bytes(self.array()?)),
            Protocol::Compact => i16::try_from(self.zigzag(3)?).or_else(|_| fail(Malformed::Range)),
        }
    }

    /// An `i32` value.
    #[inline]
    pub(crate) fn i32(&mut self) -> Result<i32> {
        match self.protocol {
            Protocol::Binary => Ok(i32::from_be_bytes(self.array()?)),
            Protocol::Compact => i32::try_from(self.zigzag(5)?).or_else(|_| fail(Malformed::Range)),
        }
    }

    /// An `i64` value.
    #[inline]
    pub(crate) fn i64(&mut self) -> Result<i64> {
        match self.protocol {
            Protocol::Binary => Ok(i64::from_be_bytes(self.array()?)),
            Protocol::Compact => self.zigzag(10),
        }
    }

    /// A `double` value.
    #[inline]
    pub(crate) fn double(&mut self) -> Result<f64> {
        match self.protocol {
            Protocol::Binary => Ok(f64::from_be_bytes(self.array()?)),
            Protocol::Compact => Ok(f64::from_le_bytes(self.array()?)),
        }
    }

    /// A `binary` value, borrowed from the payload.
    #[inline(always)]
    pub(crate) fn binary(&mut self) -> Result<&'a [u8]> {
        let n = self.size()?;
        self.take(n)
    }

    /// A `string` value (UTF-8, as the thrift crate requires), borrowed from the payload.
    #[inline(always)]
    pub(crate) fn string(&mut self) -> Result<&'a str> {
        let bytes = self.binary()?;
        str_of(bytes)
    }

    /// Skips a field's value of type `ty` (nested values too, within the same bounds).
    pub(crate) fn skip(&mut self, field: Field) -> Result<()> {
        self.skip_value(field.ty)
    }

    fn skip_value(&mut self, ty: Type) -> Result<()> {
        match ty {
            Type::Bool => {
                self.bool()?;
            }
            Type::Byte => {
                self.u8()?;
            }
            Type::I16 => {
                self.i16()?;
            }
            Type::I32 => {
                self.i32()?;
            }
            Type::I64 => {
                self.i64()?;
            }
            Type::Double => {
                self.take(8)?;
            }
            Type::Uuid => {
                self.take(16)?;
            }
            Type::Binary => {
                self.binary()?;
            }
            Type::Struct => self.fields(|r, f| r.skip(f))?,
            Type::List | Type::Set => {
                let (elem, n) = self.list_begin()?;
                self.enter()?;
                for _ in 0..n {
                    self.skip_value(elem)?;
                }
                self.leave();
            }
            Type::Map => {
                let (key, value, n) = match self.protocol {
                    Protocol::Binary => {
                        let key = Type::binary(self.u8()?)?;
                        let value = Type::binary(self.u8()?)?;
                        (key, value, self.size()?)
                    }
                    Protocol::Compact => {
                        let n = self.size()?;
                        if n == 0 {
                            return Ok(());
                        }
                        let types = self.u8()?;
                        (Type::compact(types >> 4)?, Type::compact(types & 0x0f)?, n)
                    }
                };
                if n > self.buf.len() / 2 {
                    return fail(Malformed::Beyond(clamp(n), clamp(self.buf.len())));
                }
                self.enter()?;
                for _ in 0..n {
                    self.skip_value(key)?;
                    self.skip_value(value)?;
                }
                self.leave();
            }
        }
        Ok(())
    }
}

/// `bytes` as a string, if they are UTF-8 (as [`Reader::string`] reads them).
#[inline]
pub(crate) fn text(bytes: &[u8]) -> Result<&str> {
    str_of(bytes)
}

#[inline]
fn str_of(bytes: &[u8]) -> Result<&str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(_) => fail(Malformed::NotUtf8),
    }
}

/// Fails with "missing required field" unless every bit of `want` is set in `seen` (bit `i`
/// for field id `i`), as the thrift crate's generated readers do.
#[inline]
pub(crate) fn require(seen: u32, want: u32, names: &'static [(u32, &'static str)]) -> Result<()> {
    if seen & want == want {
        return Ok(());
    }
    let missing = names
        .iter()
        .find(|(bit, _)| seen & bit == 0 && want & bit != 0)
        .map_or(&"?", |(_, name)| name);
    fail(Malformed::Missing(missing))
}

#[cfg(test)]
mod tests {
    use super::*;
    use thrift::protocol::{
        TBinaryOutputProtocol, TCompactOutputProtocol, TFieldIdentifier, TListIdentifier,
        TMapIdentifier, TMessageIdentifier, TMessageType, TOutputProtocol, TStructIdentifier,
        TType,
    };

    /// A message with a struct holding one field of every type, written by the thrift crate.
    fn written(compact: bool) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut p: Box<dyn TOutputProtocol> = if compact {
                Box::new(TCompactOutputProtocol::new(&mut out))
            } else {
                Box::new(TBinaryOutputProtocol::new(&mut out, true))
            };
            p.write_message_begin(&TMessageIdentifier::new("emit", TMessageType::OneWay, 7))
                .unwrap();
            p.write_struct_begin(&TStructIdentifier::new("s")).unwrap();
            let field = |p: &mut Box<dyn TOutputProtocol>, ty, id| {
                p.write_field_begin(&TFieldIdentifier::new("f", ty, id))
                    .unwrap()
            };
            field(&mut p, TType::Bool, 1);
            p.write_bool(true).unwrap();
            field(&mut p, TType::Bool, 2);
            p.write_bool(false).unwrap();
            field(&mut p, TType::I08, 3);
            p.write_i8(-3).unwrap();
            field(&mut p, TType::I16, 4);
            p.write_i16(-300).unwrap();
            field(&mut p, TType::I32, 40); // a jump: the long form of the id in compact
            p.write_i32(i32::MIN).unwrap();
            field(&mut p, TType::I64, 41);
            p.write_i64(i64::MIN + 1).unwrap();
            field(&mut p, TType::Double, 42);
            p.write_double(-0.125).unwrap();
            field(&mut p, TType::String, 43);
            p.write_string("héllo").unwrap();
            field(&mut p, TType::List, 44);
            p.write_list_begin(&TListIdentifier::new(TType::I64, 20))
                .unwrap();
            for i in 0..20 {
                p.write_i64(i).unwrap();
            }
            p.write_list_end().unwrap();
            field(&mut p, TType::Map, 45);
            p.write_map_begin(&TMapIdentifier::new(TType::String, TType::Bool, 1))
                .unwrap();
            p.write_string("k").unwrap();
            p.write_bool(true).unwrap();
            p.write_map_end().unwrap();
            field(&mut p, TType::Struct, 46);
            p.write_struct_begin(&TStructIdentifier::new("inner"))
                .unwrap();
            field(&mut p, TType::List, 1);
            p.write_list_begin(&TListIdentifier::new(TType::Bool, 2))
                .unwrap();
            p.write_bool(true).unwrap();
            p.write_bool(false).unwrap();
            p.write_list_end().unwrap();
            p.write_field_stop().unwrap();
            p.write_struct_end().unwrap();
            p.write_field_stop().unwrap();
            p.write_struct_end().unwrap();
            p.write_message_end().unwrap();
            p.flush().unwrap();
        }
        out
    }

    fn read(payload: &[u8], protocol: Protocol) -> Result<String> {
        let mut r = Reader::new(payload, protocol);
        let mut seen = format!("{}:", r.message_begin()?);
        r.fields(|r, f| {
            let value = match f.id {
                1 | 2 => r.bool()?.to_string(),
                3 => (r.u8()? as i8).to_string(),
                4 => r.i16()?.to_string(),
                40 => r.i32()?.to_string(),
                41 => r.i64()?.to_string(),
                42 => r.double()?.to_string(),
                43 => r.string()?.to_owned(),
                44 => {
                    let mut sum = 0;
                    r.list(Type::I64, |r| {
                        sum += r.i64()?;
                        Ok(())
                    })?;
                    sum.to_string()
                }
                46 => {
                    let mut bools = String::new();
                    r.fields(|r, f| {
                        r.list(Type::Bool, |r| {
                            bools.push_str(if r.bool()? { "t" } else { "f" });
                            Ok(())
                        })
                        .map(|()| assert_eq!(f.id, 1))
                    })?;
                    bools
                }
                _ => {
                    r.skip(f)?;
                    "skipped".into()
                }
            };
            seen.push_str(&format!(" {}={value}", f.id));
            Ok(())
        })?;
        assert!(r.buf.is_empty(), "{} bytes left", r.buf.len());
        Ok(seen)
    }

    #[test]
    fn both_protocols_read_what_the_thrift_crate_writes() {
        let want = "emit: 1=true 2=false 3=-3 4=-300 40=-2147483648 41=-9223372036854775807 \
                    42=-0.125 43=héllo 44=190 45=skipped 46=tf";
        for (compact, protocol) in [(true, Protocol::Compact), (false, Protocol::Binary)] {
            let payload = written(compact);
            assert_eq!(read(&payload, protocol).unwrap(), want, "{protocol:?}");
            for cut in 0..payload.len() {
                assert!(
                    read(&payload[..cut], protocol).is_err(),
                    "{protocol:?} {cut}"
                );
            }
        }
    }

    #[test]
    fn lengths_and_counts_beyond_the_payload_fail_before_reading() {
        // A string claiming 2^31 - 1 bytes, a list claiming 2^31 - 1 elements.
        let mut r = Reader::new(&[0x7f, 0xff, 0xff, 0xff, b'x'], Protocol::Binary);
        let err = r.string().unwrap_err();
        assert_eq!(err, Malformed::Beyond(2_147_483_647, 1));
        let mut r = Reader::new(&[0x0c, 0x7f, 0xff, 0xff, 0xff, 0], Protocol::Binary);
        assert!(r.list(Type::Struct, |_| Ok(())).is_err());
        let mut r = Reader::new(&[0xfc, 0xff, 0xff, 0xff, 0xff, 0x07, 0], Protocol::Compact);
        assert!(r.list(Type::Struct, |_| Ok(())).is_err());
        // A negative binary length.
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xfe], Protocol::Binary);
        assert!(r.binary().is_err());
        // A varint that never ends.
        let mut r = Reader::new(&[0xff; 12], Protocol::Compact);
        assert!(r.i64().is_err());
    }

    #[test]
    fn nesting_past_the_cap_fails_in_values_read_and_skipped() {
        // Compact: a struct whose field 1 is a struct, 100 deep.
        let mut deep = vec![0x1c; 100];
        deep.extend(std::iter::repeat_n(0, 101));
        let mut r = Reader::new(&deep, Protocol::Compact);
        let err = r.fields(|r, f| r.skip(f)).unwrap_err();
        assert_eq!(err.to_string(), "values nest deeper than 64");
        // Lists of lists, 100 deep.
        let lists = [0x19; 101];
        let mut r = Reader::new(&lists, Protocol::Compact);
        assert!(r.skip_value(Type::List).is_err());
        // 63 structs inside the outer one are fine.
        let mut ok = vec![0x1c; 63];
        ok.extend(std::iter::repeat_n(0, 64));
        let mut r = Reader::new(&ok, Protocol::Compact);
        r.fields(|r, f| r.skip(f)).unwrap();
        assert!(r.buf.is_empty());
    }

    #[test]
    fn unknown_types_and_bad_text_are_errors() {
        let mut r = Reader::new(&[0x1e, 0], Protocol::Compact);
        assert!(r.fields(|r, f| r.skip(f)).is_err());
        let mut r = Reader::new(&[0x02, 0xff, 0xfe], Protocol::Compact);
        assert_eq!(r.string().unwrap_err(), Malformed::NotUtf8);
        assert!(require(0b110, 0b110, &[]).is_ok());
        let err = require(0b010, 0b110, &[(0b010, "a"), (0b100, "b")]).unwrap_err();
        assert_eq!(err.to_string(), "missing required field b");
    }
}
