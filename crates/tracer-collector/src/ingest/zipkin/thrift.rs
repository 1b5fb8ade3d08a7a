//! Zipkin v1 thrift (jaegertracing/jaeger-idl `thrift/zipkincore.thrift`, the same model as
//! openzipkin/zipkin-api `thrift/zipkinCore.thrift`): a thrift binary `list<Span>` in the body of
//! `POST /api/v1/spans`, and the agent's `emitZipkinBatch` message over UDP (port 5775, compact).
//!
//! Each thrift span is rewritten into the v1 JSON model ([`super::model::V1Span`]) and goes through
//! the same v1 rules as JSON: typed binary annotations become their JSON value (`BOOL` a bool,
//! `I16`/`I32`/`I64` integers, `DOUBLE` a number, `STRING` text, `BYTES` base64), endpoints their
//! dotted or colon address. Readers are bounded by the payload as for Jaeger thrift.

use std::net::{Ipv4Addr, Ipv6Addr};

use thrift::protocol::{TInputProtocol, TSerializable, TType};

use super::convert::{ZipkinSpan, from_v1};
use super::model::{JsonEndpoint, V1Annotation, V1BinaryAnnotation, V1Span};
use crate::ingest::IngestError;
use crate::ingest::r#gen::zipkincore;
use crate::ingest::jaeger_thrift::{Protocol, reader};
use crate::ingest::receiver::decode_error;

fn endpoint(e: &zipkincore::Endpoint) -> JsonEndpoint {
    JsonEndpoint {
        service_name: e.service_name.clone(),
        ipv4: e
            .ipv4
            .filter(|&ip| ip != 0)
            .map(|ip| Ipv4Addr::from(ip as u32).to_string()),
        ipv6: e
            .ipv6
            .as_deref()
            .and_then(|b| <[u8; 16]>::try_from(b).ok())
            .map(|b| Ipv6Addr::from(b).to_string()),
        port: e.port.map(|p| i64::from(p as u16)),
    }
}

fn binary_value(b: &zipkincore::BinaryAnnotation) -> serde_json::Value {
    use serde_json::Value;
    let bytes = b.value.as_deref().unwrap_or_default();
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
    match b
        .annotation_type
        .unwrap_or(zipkincore::AnnotationType::STRING)
    {
        zipkincore::AnnotationType::BOOL => Value::Bool(bytes.first().is_some_and(|&v| v != 0)),
        zipkincore::AnnotationType::I16 => int(2),
        zipkincore::AnnotationType::I32 => int(4),
        zipkincore::AnnotationType::I64 => int(8),
        zipkincore::AnnotationType::DOUBLE => match <[u8; 8]>::try_from(bytes) {
            Ok(be) => serde_json::Number::from_f64(f64::from_be_bytes(be))
                .map_or(Value::Null, Value::Number),
            Err(_) => Value::Null,
        },
        zipkincore::AnnotationType::BYTES => Value::String(base64(bytes)),
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

/// A thrift v1 span in the v1 JSON model.
fn to_v1(s: &zipkincore::Span) -> V1Span {
    V1Span {
        trace_id: hex_id(s.trace_id_high, s.trace_id),
        name: s.name.clone(),
        id: hex_id(None, s.id),
        parent_id: s
            .parent_id
            .filter(|&p| p != 0)
            .map(|p| hex_id(None, Some(p))),
        timestamp: s.timestamp.and_then(|t| u64::try_from(t).ok()),
        duration: s.duration.and_then(|d| u64::try_from(d).ok()),
        debug: s.debug,
        annotations: s
            .annotations
            .iter()
            .flatten()
            .map(|a| V1Annotation {
                timestamp: a.timestamp.and_then(|t| u64::try_from(t).ok()).unwrap_or(0),
                value: a.value.clone().unwrap_or_default(),
                endpoint: a.host.as_ref().map(endpoint),
            })
            .collect(),
        binary_annotations: s
            .binary_annotations
            .iter()
            .flatten()
            .map(|b| V1BinaryAnnotation {
                key: b.key.clone().unwrap_or_default(),
                value: binary_value(b),
                endpoint: b.host.as_ref().map(endpoint),
            })
            .collect(),
    }
}

fn read_spans(input: &mut dyn TInputProtocol) -> thrift::Result<Vec<zipkincore::Span>> {
    let list = input.read_list_begin()?;
    // The declared size bounds the loop but never an allocation.
    let mut spans = Vec::new();
    for _ in 0..list.size {
        spans.push(zipkincore::Span::read_from_in_protocol(input)?);
    }
    input.read_list_end()?;
    Ok(spans)
}

fn normalise(
    spans: &[zipkincore::Span],
    encoding: &'static str,
) -> Result<Vec<ZipkinSpan>, IngestError> {
    let v1: Vec<V1Span> = spans.iter().map(to_v1).collect();
    from_v1(v1).map_err(|e| decode_error(encoding, e))
}

/// Decodes and normalises a thrift binary `list<Span>` (the body of `POST /api/v1/spans`).
pub(crate) fn decode_v1_thrift(payload: &[u8]) -> Result<Vec<ZipkinSpan>, IngestError> {
    const ENCODING: &str = "Zipkin v1 thrift";
    let mut input = reader(payload, Protocol::Binary);
    let spans = read_spans(&mut *input).map_err(|e| decode_error(ENCODING, e))?;
    normalise(&spans, ENCODING)
}

/// Decodes and normalises an agent `emitZipkinBatch` datagram (thrift compact).
pub(crate) fn decode_emit_zipkin_batch(payload: &[u8]) -> Result<Vec<ZipkinSpan>, IngestError> {
    const ENCODING: &str = "Zipkin thrift compact";
    let mut input = reader(payload, Protocol::Compact);
    let input = &mut *input;
    let bad = |e: thrift::Error| decode_error(ENCODING, e);
    let message = input.read_message_begin().map_err(bad)?;
    if message.name != "emitZipkinBatch" {
        return Err(decode_error(
            ENCODING,
            format!(
                "agent message {:?} is not supported here (only emitZipkinBatch)",
                message.name
            ),
        ));
    }
    // `Agent.emitZipkinBatch_args { 1: list<zipkincore.Span> spans }`.
    input.read_struct_begin().map_err(bad)?;
    let mut spans = None;
    loop {
        let field = input.read_field_begin().map_err(bad)?;
        if field.field_type == TType::Stop {
            break;
        }
        if field.id == Some(1) && field.field_type == TType::List {
            spans = Some(read_spans(input).map_err(bad)?);
        } else {
            input.skip(field.field_type).map_err(bad)?;
        }
        input.read_field_end().map_err(bad)?;
    }
    input.read_struct_end().map_err(bad)?;
    input.read_message_end().map_err(bad)?;
    let spans = spans.ok_or_else(|| decode_error(ENCODING, "emitZipkinBatch without spans"))?;
    normalise(&spans, ENCODING)
}

#[cfg(test)]
mod tests {
    use super::*;
    use thrift::protocol::{
        TCompactOutputProtocol, TFieldIdentifier, TListIdentifier, TMessageIdentifier,
        TMessageType, TOutputProtocol, TStructIdentifier,
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
        let b = |t, v: &[u8]| zipkincore::BinaryAnnotation {
            key: Some("k".into()),
            value: Some(v.to_vec()),
            annotation_type: Some(t),
            host: None,
        };
        use zipkincore::AnnotationType as T;
        assert_eq!(binary_value(&b(T::BOOL, &[1])), serde_json::json!(true));
        assert_eq!(
            binary_value(&b(T::I16, &[0xff, 0xfe])),
            serde_json::json!(-2)
        );
        assert_eq!(
            binary_value(&b(T::I32, &[0, 0, 1, 0])),
            serde_json::json!(256)
        );
        assert_eq!(
            binary_value(&b(T::I64, &7i64.to_be_bytes())),
            serde_json::json!(7)
        );
        assert_eq!(
            binary_value(&b(T::DOUBLE, &0.5f64.to_be_bytes())),
            serde_json::json!(0.5)
        );
        assert_eq!(binary_value(&b(T::STRING, b"hi")), serde_json::json!("hi"));
        assert_eq!(
            binary_value(&b(T::BYTES, &[1, 2, 3, 4])),
            serde_json::json!("AQIDBA==")
        );
        assert_eq!(binary_value(&b(T::I32, &[1])), serde_json::json!("\u{1}"));
    }
}
