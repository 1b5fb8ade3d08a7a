//! Zipkin v1 thrift (jaegertracing/jaeger-idl `thrift/zipkincore.thrift`, the same model as
//! openzipkin/zipkin-api `thrift/zipkinCore.thrift`): a thrift binary `list<Span>` in the body of
//! `POST /api/v1/spans`, and the agent's `emitZipkinBatch` message over UDP (port 5775, compact).
//!
//! Each thrift span is read ([`thrift_wire`], bounded by the payload as for Jaeger thrift) into
//! the v1 JSON model ([`super::model::V1Span`]) and goes through the same v1 rules as JSON:
//! typed binary annotations become their JSON value (`BOOL` a bool, `I16`/`I32`/`I64`
//! integers, `DOUBLE` a number, `STRING` text, `BYTES` base64), endpoints their dotted or colon
//! address. Every field of these structs is optional in the IDL; a field of an unexpected type
//! is skipped.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::convert::{ZipkinSpan, from_v1};
use super::model::{JsonEndpoint, V1Annotation, V1BinaryAnnotation, V1Span};
use crate::ingest::IngestError;
use crate::ingest::receiver::decode_error;
use crate::ingest::thrift_wire::{self, Protocol, Reader, Type};

/// `AnnotationType` numbers (`zipkincore.thrift`).
mod annotation_type {
    pub(super) const BOOL: i32 = 0;
    pub(super) const BYTES: i32 = 1;
    pub(super) const I16: i32 = 2;
    pub(super) const I32: i32 = 3;
    pub(super) const I64: i32 = 4;
    pub(super) const DOUBLE: i32 = 5;
    pub(super) const STRING: i32 = 6;
}

fn read_endpoint(r: &mut Reader<'_>) -> thrift_wire::Result<JsonEndpoint> {
    let mut e = JsonEndpoint::default();
    r.fields(|r, f| {
        match (f.id, f.ty) {
            (1, Type::I32) => {
                let ip = r.i32()?;
                e.ipv4 = (ip != 0).then(|| Ipv4Addr::from(ip as u32).to_string());
            }
            (2, Type::I16) => e.port = Some(i64::from(r.i16()? as u16)),
            (3, Type::Binary) => e.service_name = Some(r.string()?.to_owned()),
            (4, Type::Binary) => {
                e.ipv6 = <[u8; 16]>::try_from(r.binary()?)
                    .ok()
                    .map(|b| Ipv6Addr::from(b).to_string());
            }
            _ => r.skip(f)?,
        }
        Ok(())
    })?;
    Ok(e)
}

fn read_annotation(r: &mut Reader<'_>) -> thrift_wire::Result<V1Annotation> {
    let mut a = V1Annotation::default();
    r.fields(|r, f| {
        match (f.id, f.ty) {
            (1, Type::I64) => a.timestamp = u64::try_from(r.i64()?).unwrap_or(0),
            (2, Type::Binary) => a.value = r.string()?.to_owned(),
            (3, Type::Struct) => a.endpoint = Some(read_endpoint(r)?),
            _ => r.skip(f)?,
        }
        Ok(())
    })?;
    Ok(a)
}

fn read_binary_annotation(r: &mut Reader<'_>) -> thrift_wire::Result<V1BinaryAnnotation> {
    let (mut key, mut value, mut ty, mut host) = (String::new(), &[][..], None, None);
    r.fields(|r, f| {
        match (f.id, f.ty) {
            (1, Type::Binary) => key = r.string()?.to_owned(),
            (2, Type::Binary) => value = r.binary()?,
            (3, Type::I32) => ty = Some(r.i32()?),
            (4, Type::Struct) => host = Some(read_endpoint(r)?),
            _ => r.skip(f)?,
        }
        Ok(())
    })?;
    Ok(V1BinaryAnnotation {
        key,
        value: binary_value(ty, value),
        endpoint: host,
    })
}

fn binary_value(ty: Option<i32>, bytes: &[u8]) -> serde_json::Value {
    use serde_json::Value;
    // A big-endian two's-complement integer of exactly `n` bytes, else the bytes as text.
    let int = |n: usize| -> Value {
        if bytes.len() != n {
            return Value::String(String::from_utf8_lossy(bytes).into_owned());
        }
        let mut v: i64 = if bytes[0] & 0x80 != 0 { -1 } else { 0 };
        for &b in bytes {
            v = (v << 8) | i64::from(b);
        }
        Value::from(v)
    };
    match ty.unwrap_or(annotation_type::STRING) {
        annotation_type::BOOL => Value::Bool(bytes.first().is_some_and(|&v| v != 0)),
        annotation_type::I16 => int(2),
        annotation_type::I32 => int(4),
        annotation_type::I64 => int(8),
        annotation_type::DOUBLE => match <[u8; 8]>::try_from(bytes) {
            Ok(be) => serde_json::Number::from_f64(f64::from_be_bytes(be))
                .map_or(Value::Null, Value::Number),
            Err(_) => Value::Null,
        },
        annotation_type::BYTES => Value::String(base64(bytes)),
        _ => Value::String(String::from_utf8_lossy(bytes).into_owned()),
    }
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn hex_id(high: Option<i64>, low: Option<i64>) -> String {
    match high.filter(|&h| h != 0) {
        Some(h) => format!("{:016x}{:016x}", h as u64, low.unwrap_or(0) as u64),
        None => format!("{:016x}", low.unwrap_or(0) as u64),
    }
}

/// Reads a thrift v1 `Span` into the v1 JSON model.
fn read_span(r: &mut Reader<'_>) -> thrift_wire::Result<V1Span> {
    let (mut trace_id, mut trace_id_high, mut id, mut parent_id) = (None, None, None, None);
    let mut span = V1Span::default();
    r.fields(|r, f| {
        match (f.id, f.ty) {
            (1, Type::I64) => trace_id = Some(r.i64()?),
            (3, Type::Binary) => span.name = Some(r.string()?.to_owned()),
            (4, Type::I64) => id = Some(r.i64()?),
            (5, Type::I64) => parent_id = Some(r.i64()?),
            (6, Type::List) => {
                span.annotations.clear();
                r.list(Type::Struct, |r| {
                    span.annotations.push(read_annotation(r)?);
                    Ok(())
                })?;
            }
            (8, Type::List) => {
                span.binary_annotations.clear();
                r.list(Type::Struct, |r| {
                    span.binary_annotations.push(read_binary_annotation(r)?);
                    Ok(())
                })?;
            }
            (9, Type::Bool) => span.debug = Some(r.bool()?),
            (10, Type::I64) => span.timestamp = u64::try_from(r.i64()?).ok(),
            (11, Type::I64) => span.duration = u64::try_from(r.i64()?).ok(),
            (12, Type::I64) => trace_id_high = Some(r.i64()?),
            _ => r.skip(f)?,
        }
        Ok(())
    })?;
    span.trace_id = hex_id(trace_id_high, trace_id);
    span.id = hex_id(None, id);
    span.parent_id = parent_id.filter(|&p| p != 0).map(|p| hex_id(None, Some(p)));
    Ok(span)
}

/// Reads a `list<Span>` (the declared size bounds the loop, never an allocation).
fn read_spans(r: &mut Reader<'_>) -> thrift_wire::Result<Vec<V1Span>> {
    let mut spans = Vec::new();
    r.list(Type::Struct, |r| {
        spans.push(read_span(r)?);
        Ok(())
    })?;
    Ok(spans)
}

/// Decodes and normalises a thrift binary `list<Span>` (the body of `POST /api/v1/spans`).
pub(crate) fn decode_v1_thrift(payload: &[u8]) -> Result<Vec<ZipkinSpan<'static>>, IngestError> {
    const ENCODING: &str = "Zipkin v1 thrift";
    let spans = read_spans(&mut Reader::new(payload, Protocol::Binary))
        .map_err(|e| decode_error(ENCODING, e))?;
    from_v1(spans).map_err(|e| decode_error(ENCODING, e))
}

/// Decodes and normalises an agent `emitZipkinBatch` datagram (thrift compact).
pub(crate) fn decode_emit_zipkin_batch(
    payload: &[u8],
) -> Result<Vec<ZipkinSpan<'static>>, IngestError> {
    const ENCODING: &str = "Zipkin thrift compact";
    let bad = |e: thrift_wire::Malformed| decode_error(ENCODING, e);
    let mut r = Reader::new(payload, Protocol::Compact);
    let name = r.message_begin().map_err(bad)?;
    if name != "emitZipkinBatch" {
        return Err(decode_error(
            ENCODING,
            format!("agent message {name:?} is not supported here (only emitZipkinBatch)"),
        ));
    }
    // `Agent.emitZipkinBatch_args { 1: list<zipkincore.Span> spans }`.
    let mut spans = None;
    r.fields(|r, f| match (f.id, f.ty) {
        (1, Type::List) => {
            spans = Some(read_spans(r)?);
            Ok(())
        }
        _ => r.skip(f),
    })
    .map_err(bad)?;
    let spans = spans.ok_or_else(|| decode_error(ENCODING, "emitZipkinBatch without spans"))?;
    from_v1(spans).map_err(|e| decode_error(ENCODING, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::r#gen::zipkincore;
    use thrift::protocol::{
        TCompactOutputProtocol, TFieldIdentifier, TListIdentifier, TMessageIdentifier,
        TMessageType, TOutputProtocol, TSerializable, TStructIdentifier, TType,
    };

    #[test]
    fn an_emit_zipkin_batch_datagram_decodes() {
        let span = zipkincore::Span {
            trace_id: Some(1),
            name: Some("op".into()),
            id: Some(2),
            parent_id: None,
            annotations: None,
            binary_annotations: None,
            debug: None,
            timestamp: Some(5),
            duration: Some(1),
            trace_id_high: None,
        };
        let mut out = Vec::new();
        {
            let mut p = TCompactOutputProtocol::new(&mut out);
            p.write_message_begin(&TMessageIdentifier::new(
                "emitZipkinBatch",
                TMessageType::OneWay,
                1,
            ))
            .unwrap();
            p.write_struct_begin(&TStructIdentifier::new("args"))
                .unwrap();
            p.write_field_begin(&TFieldIdentifier::new("spans", TType::List, 1))
                .unwrap();
            p.write_list_begin(&TListIdentifier::new(TType::Struct, 1))
                .unwrap();
            span.write_to_out_protocol(&mut p).unwrap();
            p.write_list_end().unwrap();
            p.write_field_end().unwrap();
            p.write_field_stop().unwrap();
            p.write_struct_end().unwrap();
            p.write_message_end().unwrap();
            p.flush().unwrap();
        }
        let spans = decode_emit_zipkin_batch(&out).unwrap();
        assert_eq!(spans[0].name, "op");
    }

    #[test]
    fn typed_binary_annotations_read_as_their_values() {
        let b = |t: zipkincore::AnnotationType, v: &[u8]| binary_value(Some(t.0), v);
        use zipkincore::AnnotationType as T;
        assert_eq!((b(T::BOOL, &[1])), serde_json::json!(true));
        assert_eq!((b(T::I16, &[0xff, 0xfe])), serde_json::json!(-2));
        assert_eq!((b(T::I32, &[0, 0, 1, 0])), serde_json::json!(256));
        assert_eq!((b(T::I64, &7i64.to_be_bytes())), serde_json::json!(7));
        assert_eq!(
            (b(T::DOUBLE, &0.5f64.to_be_bytes())),
            serde_json::json!(0.5)
        );
        assert_eq!((b(T::STRING, b"hi")), serde_json::json!("hi"));
        assert_eq!((b(T::BYTES, &[1, 2, 3, 4])), serde_json::json!("AQIDBA=="));
        assert_eq!((b(T::I32, &[1])), serde_json::json!("\u{1}"));
    }
}
