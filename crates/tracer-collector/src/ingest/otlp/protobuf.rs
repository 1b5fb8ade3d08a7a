//! Protobuf export requests straight to a [`SpanBatch`], without building the prost messages.
//!
//! Decoding with prost allocates a `String` or `Vec` for every id, name, key and value (about 35
//! allocations for a span with 10 attributes and 2 events), only for the store to copy them into
//! its packed form and free them. This reader walks the protobuf wire format of
//! `ExportTraceServiceRequest` (opentelemetry-proto `collector/trace/v1`, `trace/v1`,
//! `common/v1`, `resource/v1`) and fills a batch whose names, keys, string and byte values
//! borrow from the payload: no allocation per field, only the batch's few growing vectors (and
//! one per array or map value, which are rare).
//!
//! It accepts exactly what prost accepts for these messages as far as the store is concerned
//! (fields in any order, repeated scalar fields last-wins, unknown fields skipped, strings valid
//! UTF-8) and reports any malformation as an error; the caller then decodes with prost, which
//! yields the error message for the client (or, should the two ever disagree, the result). One
//! difference no client produces: an array or map value given twice in one `AnyValue` is the
//! last one here, where prost merges the two.

use super::{MAX_VALUE_DEPTH, kind_and_status, link_ids, service_of, too_deep, validate_ids};
use crate::store::batch::{AnyValue, Event, KeyValue, Link, Resource, Scope, Span, SpanBatch};

/// The payload is not a well-formed export request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("malformed OTLP protobuf export request")
    }
}

impl std::error::Error for Malformed {}

type Result<T> = std::result::Result<T, Malformed>;

/// One field of a protobuf message.
#[derive(Clone, Copy)]
enum Field<'a> {
    Varint(u64),
    Fixed64(u64),
    Len(&'a [u8]),
    Fixed32(u32),
}

struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    /// A varint; one byte (field keys, short lengths, small numbers) without the loop.
    #[inline(always)]
    fn varint(&mut self) -> Result<u64> {
        match self.0.split_first() {
            Some((&b, rest)) if b < 0x80 => {
                self.0 = rest;
                Ok(u64::from(b))
            }
            _ => self.long_varint(),
        }
    }

    #[inline(never)]
    fn long_varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.0.split_first().ok_or(Malformed)?;
            self.0 = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Malformed)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.0.len() {
            return Err(Malformed);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    /// The next (field number, value), or `None` at the end.
    #[inline(always)]
    fn next_field(&mut self) -> Result<Option<(u32, Field<'a>)>> {
        if self.0.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let number = u32::try_from(key >> 3).map_err(|_| Malformed)?;
        if number == 0 {
            return Err(Malformed);
        }
        let field = match key & 7 {
            0 => Field::Varint(self.varint()?),
            1 => Field::Fixed64(u64::from_le_bytes(
                self.take(8)?.try_into().map_err(|_| Malformed)?,
            )),
            2 => {
                let n = usize::try_from(self.varint()?).map_err(|_| Malformed)?;
                Field::Len(self.take(n)?)
            }
            5 => Field::Fixed32(u32::from_le_bytes(
                self.take(4)?.try_into().map_err(|_| Malformed)?,
            )),
            _ => return Err(Malformed),
        };
        Ok(Some((number, field)))
    }
}

fn len(f: Field<'_>) -> Result<&[u8]> {
    match f {
        Field::Len(b) => Ok(b),
        _ => Err(Malformed),
    }
}

fn string(f: Field<'_>) -> Result<&str> {
    std::str::from_utf8(len(f)?).map_err(|_| Malformed)
}

fn varint(f: Field<'_>) -> Result<u64> {
    match f {
        Field::Varint(v) => Ok(v),
        _ => Err(Malformed),
    }
}

fn fixed64(f: Field<'_>) -> Result<u64> {
    match f {
        Field::Fixed64(v) => Ok(v),
        _ => Err(Malformed),
    }
}

fn fixed32(f: Field<'_>) -> Result<u32> {
    match f {
        Field::Fixed32(v) => Ok(v),
        _ => Err(Malformed),
    }
}

/// Decodes an `AnyValue` message nesting arrays and maps at most `left` levels deep (their
/// items pushed onto the batch); `None` when it nests deeper.
fn any_value<'a>(
    batch: &mut SpanBatch<'a>,
    msg: &'a [u8],
    left: usize,
) -> Result<Option<AnyValue<'a>>> {
    // `None`: the value read last nests too deep (a later field may still replace it).
    let mut value = Some(AnyValue::Str(""));
    let mut fields = Fields(msg);
    while let Some((n, f)) = fields.next_field()? {
        value = match n {
            1 => Some(AnyValue::Str(string(f)?)),
            2 => Some(AnyValue::Bool(varint(f)? != 0)),
            3 => Some(AnyValue::Int(varint(f)? as i64)),
            4 => Some(AnyValue::Double(f64::from_bits(fixed64(f)?))),
            7 => Some(AnyValue::Bytes(len(f)?)),
            // string_value_strindex (profiles' string table): the index, as prost reads it.
            8 => Some(AnyValue::Int(i64::from(varint(f)? as i32))),
            5 | 6 if left == 0 => {
                len(f)?;
                None
            }
            // ArrayValue { repeated AnyValue values = 1 }.
            5 => {
                let mut items = Vec::new();
                let mut list = Fields(len(f)?);
                let mut deep = false;
                while let Some((m, item)) = list.next_field()? {
                    if m == 1 && !deep {
                        match any_value(batch, len(item)?, left - 1)? {
                            Some(v) => items.push(v),
                            None => deep = true,
                        }
                    }
                }
                (!deep).then(|| batch.push_array(&items))
            }
            // KeyValueList { repeated KeyValue values = 1 }.
            6 => {
                let mut entries = Vec::new();
                let mut list = Fields(len(f)?);
                let mut deep = false;
                while let Some((m, item)) = list.next_field()? {
                    if m == 1 && !deep {
                        match key_value(batch, len(item)?, left - 1)? {
                            (key, Some(value)) => entries.push(KeyValue { key, value }),
                            (_, None) => deep = true,
                        }
                    }
                }
                (!deep).then(|| batch.push_map(&entries))
            }
            _ => continue,
        };
    }
    Ok(value)
}

/// Decodes a `KeyValue` message: its key and its value, `None` when the value nests past `left`
/// levels.
fn key_value<'a>(
    batch: &mut SpanBatch<'a>,
    msg: &'a [u8],
    left: usize,
) -> Result<(&'a str, Option<AnyValue<'a>>)> {
    let mut key = "";
    let mut value = Some(AnyValue::Str(""));
    let mut fields = Fields(msg);
    while let Some((n, f)) = fields.next_field()? {
        match n {
            1 => key = string(f)?,
            2 => value = any_value(batch, len(f)?, left)?,
            _ => {}
        }
    }
    Ok((key, value))
}

/// Pushes the attribute (`KeyValue` message) `kv` onto the batch; a value nested past
/// [`MAX_VALUE_DEPTH`] is stored as an empty string, and the problem kept in `problem` for the
/// span to be rejected.
fn push_attribute<'a>(
    batch: &mut SpanBatch<'a>,
    kv: &'a [u8],
    problem: &mut Option<String>,
) -> Result<()> {
    let (key, value) = key_value(batch, kv, MAX_VALUE_DEPTH)?;
    let value = value.unwrap_or_else(|| {
        problem.get_or_insert_with(|| too_deep(key));
        AnyValue::Str("")
    });
    batch.attributes.push(KeyValue { key, value });
    Ok(())
}

/// Decodes a `Resource` (attributes = 1, dropped_attributes_count = 2) onto the batch.
fn push_resource<'a>(batch: &mut SpanBatch<'a>, msg: Option<&'a [u8]>) -> Result<()> {
    let start = batch.attributes.len();
    let mut dropped = 0;
    let mut ignored = None;
    let mut fields = Fields(msg.unwrap_or(&[]));
    while let Some((n, f)) = fields.next_field()? {
        match n {
            1 => push_attribute(batch, len(f)?, &mut ignored)?,
            2 => dropped = varint(f)? as u32,
            _ => {}
        }
    }
    let attributes = batch.attributes_since(start);
    let service = service_of(batch.attributes_in(&attributes));
    batch.resources.push(Resource {
        service,
        attributes,
        dropped_attributes: dropped,
    });
    Ok(())
}

/// Decodes an `InstrumentationScope` (name = 1, version = 2, attributes = 3,
/// dropped_attributes_count = 4) onto the batch.
fn push_scope<'a>(batch: &mut SpanBatch<'a>, msg: Option<&'a [u8]>) -> Result<()> {
    let start = batch.attributes.len();
    let mut scope = Scope::default();
    let mut ignored = None;
    let mut fields = Fields(msg.unwrap_or(&[]));
    while let Some((n, f)) = fields.next_field()? {
        match n {
            1 => scope.name = string(f)?,
            2 => scope.version = string(f)?,
            3 => push_attribute(batch, len(f)?, &mut ignored)?,
            4 => scope.dropped_attributes = varint(f)? as u32,
            _ => {}
        }
    }
    scope.attributes = batch.attributes_since(start);
    batch.scopes.push(scope);
    Ok(())
}

/// Slices of one span's events and links, reused from span to span.
#[derive(Default)]
struct SpanParts<'a> {
    events: Vec<&'a [u8]>,
    links: Vec<&'a [u8]>,
}

/// Decodes a protobuf `ExportTraceServiceRequest` into a batch borrowing from `payload`.
pub fn decode(payload: &[u8]) -> std::result::Result<SpanBatch<'_>, Malformed> {
    let mut batch = SpanBatch::new();
    decode_into(payload, &mut batch)?;
    Ok(batch)
}

/// [`decode`] into `batch` (cleared first), reusing its vectors.
pub fn decode_into<'a>(
    payload: &'a [u8],
    batch: &mut SpanBatch<'a>,
) -> std::result::Result<(), Malformed> {
    batch.clear();
    let mut parts = SpanParts::default();
    let mut scope_spans: Vec<&[u8]> = Vec::new();
    let mut spans: Vec<&[u8]> = Vec::new();
    let mut request = Fields(payload);
    while let Some((n, f)) = request.next_field()? {
        if n != 1 {
            continue;
        }
        let mut resource: Option<&[u8]> = None;
        scope_spans.clear();
        let mut rs = Fields(len(f)?);
        while let Some((n, f)) = rs.next_field()? {
            match n {
                1 => resource = Some(len(f)?),
                2 => scope_spans.push(len(f)?),
                3 => {
                    string(f)?;
                }
                _ => {}
            }
        }
        push_resource(batch, resource)?;
        let resource = (batch.resources.len() - 1) as u32;
        for &ss in &scope_spans {
            let mut scope: Option<&[u8]> = None;
            spans.clear();
            let mut fields = Fields(ss);
            while let Some((n, f)) = fields.next_field()? {
                match n {
                    1 => scope = Some(len(f)?),
                    2 => spans.push(len(f)?),
                    3 => {
                        string(f)?;
                    }
                    _ => {}
                }
            }
            push_scope(batch, scope)?;
            let scope = (batch.scopes.len() - 1) as u32;
            batch.spans.reserve(spans.len());
            for &span in &spans {
                push_span(batch, &mut parts, span, resource, scope)?;
            }
        }
    }
    Ok(())
}

/// Decodes one `Span` message onto the batch, or counts it rejected.
fn push_span<'a>(
    batch: &mut SpanBatch<'a>,
    parts: &mut SpanParts<'a>,
    msg: &'a [u8],
    resource: u32,
    scope: u32,
) -> Result<()> {
    parts.events.clear();
    parts.links.clear();
    let mark = batch.mark();
    let (attrs_start, events_start, links_start) = (
        batch.attributes.len(),
        batch.events.len(),
        batch.links.len(),
    );
    let mut problem: Option<String> = None;
    let mut trace_id: &[u8] = &[];
    let mut span_id: &[u8] = &[];
    let mut parent: &[u8] = &[];
    let mut span = Span {
        resource,
        scope,
        ..Span::default()
    };
    let (mut kind, mut status_code) = (0i32, 0i32);
    let mut fields = Fields(msg);
    while let Some((n, f)) = fields.next_field()? {
        match n {
            1 => trace_id = len(f)?,
            2 => span_id = len(f)?,
            3 => span.trace_state = string(f)?,
            4 => parent = len(f)?,
            5 => span.name = string(f)?,
            6 => kind = varint(f)? as i32,
            7 => span.start_ns = fixed64(f)?,
            8 => span.end_ns = fixed64(f)?,
            9 => push_attribute(batch, len(f)?, &mut problem)?,
            10 => span.dropped_attributes = varint(f)? as u32,
            11 => parts.events.push(len(f)?),
            12 => span.dropped_events = varint(f)? as u32,
            13 => parts.links.push(len(f)?),
            14 => span.dropped_links = varint(f)? as u32,
            15 => {
                let mut st = Fields(len(f)?);
                while let Some((n, f)) = st.next_field()? {
                    match n {
                        2 => span.status_message = string(f)?,
                        3 => status_code = varint(f)? as i32,
                        _ => {}
                    }
                }
            }
            16 => span.flags = fixed32(f)?,
            _ => {}
        }
    }
    (span.kind, span.status) = kind_and_status(batch, kind, status_code);
    span.attributes = batch.attributes_since(attrs_start);
    for event in &parts.events {
        let mut e = Event::default();
        let start = batch.attributes.len();
        let mut fields = Fields(event);
        while let Some((n, f)) = fields.next_field()? {
            match n {
                1 => e.time_ns = fixed64(f)?,
                2 => e.name = string(f)?,
                3 => push_attribute(batch, len(f)?, &mut problem)?,
                4 => e.dropped_attributes = varint(f)? as u32,
                _ => {}
            }
        }
        e.attributes = batch.attributes_since(start);
        batch.events.push(e);
    }
    span.events = batch.events_since(events_start);
    for link in &parts.links {
        let mut l = Link::default();
        let (mut link_trace, mut link_span): (&[u8], &[u8]) = (&[], &[]);
        let start = batch.attributes.len();
        let mut fields = Fields(link);
        while let Some((n, f)) = fields.next_field()? {
            match n {
                1 => link_trace = len(f)?,
                2 => link_span = len(f)?,
                3 => l.trace_state = string(f)?,
                4 => push_attribute(batch, len(f)?, &mut problem)?,
                5 => l.dropped_attributes = varint(f)? as u32,
                6 => l.flags = fixed32(f)?,
                _ => {}
            }
        }
        (l.trace_id, l.span_id) = link_ids(link_trace, link_span);
        l.attributes = batch.attributes_since(start);
        batch.links.push(l);
    }
    span.links = batch.links_since(links_start);
    match validate_ids(trace_id, span_id, parent) {
        Ok(ids) if problem.is_none() => {
            (span.trace_id, span.span_id, span.parent_span_id) = ids;
            batch.spans.push(span);
        }
        Ok(_) => {
            batch.rewind(mark);
            batch.reject(span.name, problem.as_deref().unwrap_or_default());
        }
        Err(id_problem) => {
            batch.rewind(mark);
            batch.reject(span.name, &id_problem);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{
        AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
    };
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
    use prost::Message;

    use super::decode;
    use crate::ingest::otlp::request;

    fn kv(key: &str, value: Option<any_value::Value>) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value }),
            key_strindex: 0,
        }
    }

    fn request() -> ExportTraceServiceRequest {
        use any_value::Value as V;
        let attrs = vec![
            kv("s", Some(V::StringValue("text".into()))),
            kv("b", Some(V::BoolValue(true))),
            kv("i", Some(V::IntValue(-42))),
            kv("big", Some(V::IntValue(i64::MAX))),
            kv("d", Some(V::DoubleValue(-1.5))),
            kv("bytes", Some(V::BytesValue(vec![0, 255]))),
            kv(
                "array",
                Some(V::ArrayValue(ArrayValue {
                    values: vec![AnyValue {
                        value: Some(V::IntValue(1)),
                    }],
                })),
            ),
            kv(
                "map",
                Some(V::KvlistValue(KeyValueList {
                    values: vec![kv("k", Some(V::StringValue("v".into())))],
                })),
            ),
            kv("empty", None),
        ];
        let span = |id: u64, parent: Vec<u8>| Span {
            trace_id: 7u128.to_be_bytes().to_vec(),
            span_id: id.to_be_bytes().to_vec(),
            parent_span_id: parent,
            trace_state: "a=b".into(),
            flags: 0x301,
            name: format!("span {id}"),
            kind: 4,
            start_time_unix_nano: 1_000_000,
            end_time_unix_nano: 3_000_000,
            attributes: attrs.clone(),
            dropped_attributes_count: 2,
            events: vec![span::Event {
                time_unix_nano: 999_000,
                name: "early".into(),
                attributes: attrs.clone(),
                dropped_attributes_count: 1,
            }],
            dropped_events_count: 3,
            links: vec![span::Link {
                trace_id: vec![1, 2, 3],
                span_id: 9u64.to_be_bytes().to_vec(),
                trace_state: "x=y".into(),
                attributes: attrs.clone(),
                dropped_attributes_count: 4,
                flags: 1,
            }],
            dropped_links_count: 5,
            status: Some(Status {
                message: "broken".into(),
                code: 2,
            }),
        };
        let mut bad = span(3, vec![]);
        bad.trace_id = vec![0; 16];
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", Some(V::StringValue("svc".into())))],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "scope".into(),
                        ..Default::default()
                    }),
                    spans: vec![span(1, vec![]), span(2, 1u64.to_be_bytes().to_vec()), bad],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
    }

    #[test]
    fn wire_reader_decodes_exactly_like_the_prost_path() {
        let request = request();
        let via_prost = request::to_batch(&request);
        let bytes = request.encode_to_vec();
        let via_wire = decode(&bytes).unwrap();
        assert_eq!(via_wire, via_prost);
        assert_eq!(via_wire.spans.len(), 2);
        assert_eq!(via_wire.rejected, 1);
    }

    #[test]
    fn wire_reader_rejects_what_prost_rejects() {
        let bytes = request().encode_to_vec();
        for cut in [1, 10, bytes.len() / 2, bytes.len() - 1] {
            let truncated = &bytes[..cut];
            assert_eq!(
                decode(truncated).is_err(),
                ExportTraceServiceRequest::decode(truncated).is_err(),
                "cut at {cut}"
            );
        }
        assert!(decode(&[0x0a, 0x05, 0x01]).is_err());
    }
}
