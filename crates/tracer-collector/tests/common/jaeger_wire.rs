//! Jaeger thrift payloads for tests, written with the checked-in generated model (the same
//! files the collector compiles, included by path) and the `thrift` crate's protocol writers.
#![allow(dead_code, unused_imports)] // each test binary uses a different subset of the helpers

use thrift::protocol::{
    TBinaryOutputProtocol, TCompactOutputProtocol, TFieldIdentifier, TMessageIdentifier,
    TMessageType, TOutputProtocol, TSerializable, TStructIdentifier, TType,
};

// Generated code: not ours to document or restyle (see src/ingest/gen/mod.rs).
#[allow(
    missing_docs,
    unreachable_pub,
    dead_code,
    unused,
    rust_2018_idioms,
    non_camel_case_types,
    clippy::all
)]
#[path = "../../src/ingest/gen/agent.rs"]
mod agent;
#[allow(
    missing_docs,
    unreachable_pub,
    dead_code,
    unused,
    rust_2018_idioms,
    non_camel_case_types,
    clippy::all
)]
#[path = "../../src/ingest/gen/jaeger.rs"]
pub(crate) mod jaeger;
#[allow(
    missing_docs,
    unreachable_pub,
    dead_code,
    unused,
    rust_2018_idioms,
    non_camel_case_types,
    clippy::all
)]
#[path = "../../src/ingest/gen/zipkincore.rs"]
pub(crate) mod zipkincore;

pub(crate) use jaeger::{Batch, Log, Process, Span, SpanRef, SpanRefType, Tag, TagType};

/// A bare `Batch` in thrift binary (the body of `POST /api/traces`).
pub(crate) fn batch_binary(batch: &Batch) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut p = TBinaryOutputProtocol::new(&mut out, true);
        batch.write_to_out_protocol(&mut p).unwrap();
        p.flush().unwrap();
    }
    out
}

/// An `Agent.emitBatch` oneway message, as Jaeger clients put in one UDP datagram.
pub(crate) fn emit_batch(batch: &Batch, compact: bool) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut p: Box<dyn TOutputProtocol + '_> = if compact {
            Box::new(TCompactOutputProtocol::new(&mut out))
        } else {
            Box::new(TBinaryOutputProtocol::new(&mut out, true))
        };
        p.write_message_begin(&TMessageIdentifier::new(
            "emitBatch",
            TMessageType::OneWay,
            1,
        ))
        .unwrap();
        p.write_struct_begin(&TStructIdentifier::new("emitBatch_args"))
            .unwrap();
        p.write_field_begin(&TFieldIdentifier::new("batch", TType::Struct, 1))
            .unwrap();
        batch.write_to_out_protocol(&mut *p).unwrap();
        p.write_field_end().unwrap();
        p.write_field_stop().unwrap();
        p.write_struct_end().unwrap();
        p.write_message_end().unwrap();
        p.flush().unwrap();
    }
    out
}

fn tag(key: &str, v_type: TagType) -> Tag {
    Tag {
        key: key.into(),
        v_type,
        v_str: None,
        v_double: None,
        v_bool: None,
        v_long: None,
        v_binary: None,
    }
}

pub(crate) fn str_tag(key: &str, v: &str) -> Tag {
    Tag {
        v_str: Some(v.into()),
        ..tag(key, TagType::STRING)
    }
}
pub(crate) fn long_tag(key: &str, v: i64) -> Tag {
    Tag {
        v_long: Some(v),
        ..tag(key, TagType::LONG)
    }
}
pub(crate) fn double_tag(key: &str, v: f64) -> Tag {
    Tag {
        v_double: Some(v.into()),
        ..tag(key, TagType::DOUBLE)
    }
}
pub(crate) fn bool_tag(key: &str, v: bool) -> Tag {
    Tag {
        v_bool: Some(v),
        ..tag(key, TagType::BOOL)
    }
}
pub(crate) fn binary_tag(key: &str, v: &[u8]) -> Tag {
    Tag {
        v_binary: Some(v.to_vec()),
        ..tag(key, TagType::BINARY)
    }
}

/// A span with the required fields set and nothing else.
pub(crate) fn span(
    trace_high: i64,
    trace_low: i64,
    id: i64,
    parent: i64,
    name: &str,
    start_us: i64,
    dur_us: i64,
) -> Span {
    Span {
        trace_id_low: trace_low,
        trace_id_high: trace_high,
        span_id: id,
        parent_span_id: parent,
        operation_name: name.into(),
        references: None,
        flags: 1,
        start_time: start_us,
        duration: dur_us,
        tags: None,
        logs: None,
        incomplete: None,
    }
}

/// Zipkin v1 thrift spans as a thrift binary `list<Span>` (the body of `POST /api/v1/spans`).
pub(crate) fn zipkin_list_binary(spans: &[zipkincore::Span]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut p = TBinaryOutputProtocol::new(&mut out, true);
        p.write_list_begin(&thrift::protocol::TListIdentifier::new(
            TType::Struct,
            spans.len() as i32,
        ))
        .unwrap();
        for s in spans {
            s.write_to_out_protocol(&mut p).unwrap();
        }
        p.write_list_end().unwrap();
        p.flush().unwrap();
    }
    out
}

/// An `Agent.emitZipkinBatch` oneway message in thrift compact (what 5775 receives).
pub(crate) fn emit_zipkin_batch(spans: &[zipkincore::Span]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut p = TCompactOutputProtocol::new(&mut out);
        p.write_message_begin(&TMessageIdentifier::new(
            "emitZipkinBatch",
            TMessageType::OneWay,
            1,
        ))
        .unwrap();
        p.write_struct_begin(&TStructIdentifier::new("emitZipkinBatch_args"))
            .unwrap();
        p.write_field_begin(&TFieldIdentifier::new("spans", TType::List, 1))
            .unwrap();
        p.write_list_begin(&thrift::protocol::TListIdentifier::new(
            TType::Struct,
            spans.len() as i32,
        ))
        .unwrap();
        for s in spans {
            s.write_to_out_protocol(&mut p).unwrap();
        }
        p.write_list_end().unwrap();
        p.write_field_end().unwrap();
        p.write_field_stop().unwrap();
        p.write_struct_end().unwrap();
        p.write_message_end().unwrap();
        p.flush().unwrap();
    }
    out
}
