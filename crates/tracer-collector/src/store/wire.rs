//! Protobuf export requests straight to stored spans, without building the prost messages.
//!
//! Decoding with prost allocates a `String` or `Vec` for every id, name, key and value (about 35
//! allocations for a span with 10 attributes and 2 events), only for [`Store::prepare`] to copy
//! them into the packed form and free them. This reader walks the protobuf wire format of
//! `ExportTraceServiceRequest` (opentelemetry-proto `collector/trace/v1`, `trace/v1`,
//! `common/v1`) and packs each span directly from the borrowed bytes. Resources and scopes,
//! once per batch, still go through prost.
//!
//! It accepts exactly what prost accepts for these messages as far as the store is concerned
//! (fields in any order, repeated scalar fields last-wins, unknown fields skipped, strings valid
//! UTF-8) and reports any malformation as an error; the caller then decodes with prost, which
//! yields the error message for the client (or, should the two ever disagree, the result).

use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use super::prepare::{
    MAX_VALUE_DEPTH, Packer, PreparedBatch, too_deep, unknown_enums, validate_ids,
};
use super::span::{RecordFields, SpanFields, Value, Writer, bloom_bits};
use super::values::EVENT_NAME_KEY;
use super::{Store, Sym};

/// The payload is not a well-formed export request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

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
    fn varint(&mut self) -> Result<u64> {
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

/// Decodes an `AnyValue` message.
fn any_value(msg: &[u8]) -> Result<Value<'_>> {
    let mut value = Value::Str("");
    let mut fields = Fields(msg);
    while let Some((n, f)) = fields.next_field()? {
        value = match n {
            1 => Value::Str(string(f)?),
            2 => Value::Bool(varint(f)? != 0),
            3 => Value::Int(varint(f)? as i64),
            4 => Value::Double(f64::from_bits(fixed64(f)?)),
            7 => Value::Bytes(len(f)?),
            5 | 6 => {
                len(f)?;
                Value::Complex(msg)
            }
            8 => {
                varint(f)?;
                Value::Complex(msg)
            }
            _ => continue,
        };
    }
    Ok(value)
}

/// Whether the encoded `AnyValue` `any` nests arrays and maps at most `left` levels deep;
/// malformed nested messages are an error, as prost would find.
fn wire_depth_within(any: &[u8], left: usize) -> Result<bool> {
    let mut fields = Fields(any);
    while let Some((n, f)) = fields.next_field()? {
        if n != 5 && n != 6 {
            continue;
        }
        if left == 0 {
            return Ok(false);
        }
        // ArrayValue { repeated AnyValue values = 1 } or KeyValueList { repeated KeyValue
        // values = 1 }, KeyValue { string key = 1; AnyValue value = 2 }.
        let mut items = Fields(len(f)?);
        while let Some((m, item)) = items.next_field()? {
            if m != 1 {
                continue;
            }
            let item = len(item)?;
            if n == 5 {
                if !wire_depth_within(item, left - 1)? {
                    return Ok(false);
                }
            } else {
                let mut kv = Fields(item);
                while let Some((k, v)) = kv.next_field()? {
                    if k == 2 && !wire_depth_within(len(v)?, left - 1)? {
                        return Ok(false);
                    }
                }
            }
        }
    }
    Ok(true)
}

/// Slices of one span's repeated and nested fields, reused from span to span.
#[derive(Default)]
struct SpanParts<'a> {
    attributes: Vec<&'a [u8]>,
    events: Vec<&'a [u8]>,
    links: Vec<&'a [u8]>,
}

/// Packs attribute pairs (`KeyValue` messages, without their count); adds their bloom bits
/// when given.
fn pack_wire_pairs(
    packer: &mut Packer<'_>,
    w: &mut Writer,
    attrs: &[&[u8]],
    mut bloom: Option<&mut u64>,
) -> Result<()> {
    for kv in attrs {
        let mut key = "";
        let mut value = Value::Str("");
        let mut fields = Fields(kv);
        while let Some((n, f)) = fields.next_field()? {
            match n {
                1 => key = string(f)?,
                2 => value = any_value(len(f)?)?,
                _ => {}
            }
        }
        if let Value::Complex(any) = value
            && !wire_depth_within(any, MAX_VALUE_DEPTH)?
        {
            packer.problem.get_or_insert_with(|| too_deep(key));
            value = Value::Str("");
        }
        let key = packer.sym(key);
        w.varint(u64::from(key.0));
        if let Some(bloom) = bloom.as_deref_mut() {
            *bloom |= bloom_bits(key, value);
        }
        packer.value(w, key.0, value);
    }
    Ok(())
}

impl Store {
    /// Like [`Store::prepare`] on the decoded request, straight from protobuf bytes.
    pub fn prepare_protobuf(
        &self,
        payload: &[u8],
    ) -> std::result::Result<PreparedBatch, Malformed> {
        let mut batch = PreparedBatch::default();
        match self.prepare_protobuf_into(payload, &mut batch) {
            Ok(()) => Ok(batch),
            Err(e) => {
                self.discard(batch);
                Err(e)
            }
        }
    }

    fn prepare_protobuf_into(&self, payload: &[u8], batch: &mut PreparedBatch) -> Result<()> {
        let mut w = Writer::default();
        let mut packer = Packer::new(self);
        let mut attr_buf: Vec<&[u8]> = Vec::new();
        let mut parts = SpanParts::default();
        let mut request = Fields(payload);
        while let Some((n, f)) = request.next_field()? {
            if n != 1 {
                continue;
            }
            let mut resource: Option<&[u8]> = None;
            let mut scope_spans: Vec<&[u8]> = Vec::new();
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
            let resource = match resource {
                Some(bytes) => Some(Resource::decode(bytes).map_err(|_| Malformed)?),
                None => None,
            };
            let process = self.catalog.process_id(resource.as_ref(), &self.interner);
            batch.refs.lease_process(process);
            let service = self.catalog.process(process).map_or(Sym(0), |p| p.service);
            for ss in scope_spans {
                let mut scope: Option<&[u8]> = None;
                let mut spans: Vec<&[u8]> = Vec::new();
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
                let scope = match scope {
                    Some(bytes) => {
                        Some(InstrumentationScope::decode(bytes).map_err(|_| Malformed)?)
                    }
                    None => None,
                };
                let scope = self.catalog.scope_id(scope.as_ref());
                batch.refs.lease_scope(scope);
                batch.spans.reserve(spans.len());
                for span in spans {
                    parts.attributes.clear();
                    parts.events.clear();
                    parts.links.clear();
                    let mut trace_id: &[u8] = &[];
                    let mut span_id: &[u8] = &[];
                    let mut parent: &[u8] = &[];
                    let mut trace_state = "";
                    let mut name = "";
                    let mut kind = 0i32;
                    let (mut start, mut end) = (0u64, 0u64);
                    let (mut dropped_attrs, mut dropped_events, mut dropped_links) = (0, 0, 0);
                    let mut status_message = "";
                    let mut status_code = 0i32;
                    let mut flags = 0u32;
                    let mut fields = Fields(span);
                    while let Some((n, f)) = fields.next_field()? {
                        match n {
                            1 => trace_id = len(f)?,
                            2 => span_id = len(f)?,
                            3 => trace_state = string(f)?,
                            4 => parent = len(f)?,
                            5 => name = string(f)?,
                            6 => kind = varint(f)? as i32,
                            7 => start = fixed64(f)?,
                            8 => end = fixed64(f)?,
                            9 => parts.attributes.push(len(f)?),
                            10 => dropped_attrs = varint(f)? as u32,
                            11 => parts.events.push(len(f)?),
                            12 => dropped_events = varint(f)? as u32,
                            13 => parts.links.push(len(f)?),
                            14 => dropped_links = varint(f)? as u32,
                            15 => {
                                let mut st = Fields(len(f)?);
                                while let Some((n, f)) = st.next_field()? {
                                    match n {
                                        2 => status_message = string(f)?,
                                        3 => status_code = varint(f)? as i32,
                                        _ => {}
                                    }
                                }
                            }
                            16 => flags = fixed32(f)?,
                            _ => {}
                        }
                    }
                    let (trace, span_id, parent_span_id) =
                        match validate_ids(trace_id, span_id, parent) {
                            Ok(ids) => ids,
                            Err(problem) => {
                                batch.reject(name, &problem);
                                continue;
                            }
                        };
                    let data_start = batch.data.len();
                    w.buf = std::mem::take(&mut batch.data);
                    let mut bloom = 0u64;
                    let span_fields = SpanFields {
                        duration_ns: end.saturating_sub(start),
                        flags,
                        status_message,
                        trace_state,
                        dropped_attributes: dropped_attrs,
                        dropped_events,
                        links: parts.links.len(),
                        dropped_links,
                    };
                    w.header(&span_fields);
                    let extra: Vec<(&str, i64)> = unknown_enums(kind, status_code).collect();
                    w.varint((parts.attributes.len() + extra.len()) as u64);
                    pack_wire_pairs(&mut packer, &mut w, &parts.attributes, Some(&mut bloom))?;
                    packer.extra_pairs(&mut w, &extra, &mut bloom);
                    w.varint(parts.events.len() as u64);
                    for event in &parts.events {
                        let mut time = 0u64;
                        let mut event_name = "";
                        let mut dropped = 0u32;
                        attr_buf.clear();
                        let mut fields = Fields(event);
                        while let Some((n, f)) = fields.next_field()? {
                            match n {
                                1 => time = fixed64(f)?,
                                2 => event_name = string(f)?,
                                3 => attr_buf.push(len(f)?),
                                4 => dropped = varint(f)? as u32,
                                _ => {}
                            }
                        }
                        w.signed(time.wrapping_sub(start) as i64);
                        packer.value(&mut w, EVENT_NAME_KEY, Value::Str(event_name));
                        w.event_header(attr_buf.len(), dropped);
                        pack_wire_pairs(&mut packer, &mut w, &attr_buf, Some(&mut bloom))?;
                    }
                    w.after_events(&span_fields);
                    for link in &parts.links {
                        let mut link_trace: &[u8] = &[];
                        let mut link_span: &[u8] = &[];
                        let mut link_state = "";
                        let mut dropped = 0u32;
                        let mut link_flags = 0u32;
                        attr_buf.clear();
                        let mut fields = Fields(link);
                        while let Some((n, f)) = fields.next_field()? {
                            match n {
                                1 => link_trace = len(f)?,
                                2 => link_span = len(f)?,
                                3 => link_state = string(f)?,
                                4 => attr_buf.push(len(f)?),
                                5 => dropped = varint(f)? as u32,
                                6 => link_flags = fixed32(f)?,
                                _ => {}
                            }
                        }
                        w.link_ids(link_trace, link_span);
                        w.str(link_state);
                        w.varint(u64::from(link_flags));
                        w.varint(u64::from(dropped));
                        w.varint(attr_buf.len() as u64);
                        pack_wire_pairs(&mut packer, &mut w, &attr_buf, None)?;
                    }
                    w.after_links(&span_fields);
                    let name_sym = packer.sym(name);
                    packer.release();
                    batch.data = std::mem::take(&mut w.buf);
                    if let Some(problem) = packer.problem.take() {
                        batch.data.truncate(data_start);
                        batch.reject(name, &problem);
                        continue;
                    }
                    let record = RecordFields {
                        span_id,
                        parent_span_id,
                        start_ns: start,
                        duration_ns: end.saturating_sub(start),
                        flags,
                        name: name_sym,
                        service,
                        process,
                        scope,
                        kind,
                        status: status_code,
                        attr_bloom: bloom,
                    };
                    batch.push(trace, record, name, data_start);
                }
            }
        }
        Ok(())
    }
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

    use crate::store::{Store, StoreLimits};

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
    fn wire_reader_packs_exactly_like_the_prost_path() {
        let store = Store::new(StoreLimits::default());
        let request = request();
        let via_prost = store.prepare(&request);
        let via_wire = store.prepare_protobuf(&request.encode_to_vec()).unwrap();
        assert_eq!(via_wire.spans, via_prost.spans);
        assert_eq!(via_wire.data, via_prost.data);
        assert_eq!(via_wire.rejected, 1);
        assert_eq!(via_wire.first_error, via_prost.first_error);
    }

    #[test]
    fn wire_reader_rejects_what_prost_rejects() {
        let store = Store::new(StoreLimits::default());
        let bytes = request().encode_to_vec();
        for cut in [1, 10, bytes.len() / 2, bytes.len() - 1] {
            let truncated = &bytes[..cut];
            assert_eq!(
                store.prepare_protobuf(truncated).is_err(),
                ExportTraceServiceRequest::decode(truncated).is_err(),
                "cut at {cut}"
            );
        }
        assert!(store.prepare_protobuf(&[0x0a, 0x05, 0x01]).is_err());
    }
}
