//! Zipkin spans (v2 protobuf, v1 JSON and thrift) normalised into one span model, then mapped
//! into the store's [`SpanBatch`], which borrows from the normalised spans. See the
//! [module docs](super) for the mapping table.
//!
//! The mapping itself ([`push_span`]) reads a span through [`SpanParts`], so v2 JSON (the
//! common case, 9411), which [`super::json_v2`] reads straight into batch-wide vectors, is
//! mapped by the same code without being normalised first.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use opentelemetry_semantic_conventions::attribute::{
    NETWORK_LOCAL_ADDRESS, NETWORK_LOCAL_PORT, NETWORK_PEER_ADDRESS, NETWORK_PEER_PORT,
    SERVER_ADDRESS, SERVER_PORT, SERVICE_PEER_NAME,
};
use prost::Message;

use super::model::{JsonEndpoint, ProtoEndpoint, ProtoListOfSpans, ProtoSpan, Text, V1Span};
use super::{DEBUG_ATTRIBUTE, SHARED_ATTRIBUTE, UNKNOWN_SERVICE};
use crate::ingest::IngestError;
use crate::ingest::foreign::{self, Groups, StatusTags};
use crate::ingest::receiver::decode_error;
use crate::store::batch::{
    AnyValue, Event, KIND_CLIENT, KIND_CONSUMER, KIND_INTERNAL, KIND_PRODUCER, KIND_SERVER,
    KeyValue, Span, SpanBatch, SpanKind,
};
use crate::vocabulary::{
    OTEL_LIBRARY_NAME, OTEL_LIBRARY_VERSION, OTEL_SCOPE_NAME, OTEL_SCOPE_VERSION, OTEL_STATUS_CODE,
    OTEL_STATUS_DESCRIPTION,
};

/// A Zipkin endpoint, parsed.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Endpoint<'a> {
    pub(crate) service_name: Option<Cow<'a, str>>,
    pub(crate) ipv4: Option<Ipv4Addr>,
    pub(crate) ipv6: Option<Ipv6Addr>,
    pub(crate) port: Option<u16>,
    /// The address as text (IPv4 first), for the batch to borrow.
    pub(crate) address: Option<String>,
}

impl Endpoint<'_> {
    /// Fills [`Endpoint::address`] from the parsed addresses.
    fn with_address(mut self) -> Self {
        self.address = self
            .ipv4
            .map(IpAddr::V4)
            .or_else(|| self.ipv6.map(IpAddr::V6))
            .map(|ip| ip.to_string());
        self
    }
}

/// A text of an annotation's event: a range of the annotation's value (text without escapes,
/// borrowed from it), or its own (text with escapes, or made).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Piece {
    At(u32, u32),
    Own(String),
}

/// A value of an annotation's attribute (OpenTelemetry's event annotations, see
/// [`Annotation::new`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum EventValue {
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(Piece),
}

/// An annotation, as the event it becomes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Annotation<'a> {
    /// Epoch microseconds.
    pub(crate) timestamp: u64,
    /// The value as sent.
    value: Cow<'a, str>,
    /// The event's name: the whole value, or a piece of it (an OpenTelemetry event).
    name: Option<Piece>,
    pub(crate) attributes: Vec<(Piece, EventValue)>,
}

/// The Zipkin v2 span model, ids parsed, that every wire format is normalised to; its text
/// borrowed from the payload where the format allows (v2 JSON).
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct ZipkinSpan<'a> {
    pub(crate) trace_id: [u8; 16],
    pub(crate) id: [u8; 8],
    pub(crate) parent_id: Option<[u8; 8]>,
    /// Span kind (INTERNAL when Zipkin names none).
    pub(crate) kind: SpanKind,
    pub(crate) name: Cow<'a, str>,
    /// Epoch microseconds.
    pub(crate) timestamp: Option<u64>,
    /// Microseconds.
    pub(crate) duration: Option<u64>,
    pub(crate) local: Option<Endpoint<'a>>,
    pub(crate) remote: Option<Endpoint<'a>>,
    pub(crate) annotations: Vec<Annotation<'a>>,
    /// In key order, each key once.
    pub(crate) tags: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    pub(crate) debug: bool,
    pub(crate) shared: bool,
}

pub(crate) fn hex_id<const N: usize>(field: &str, text: &str) -> Result<[u8; N], String> {
    let text = text.trim();
    let digits = text.as_bytes();
    let bad = || format!("{field} {text:?} is not 1 to {} hex digits", N * 2);
    if digits.is_empty() || digits.len() > N * 2 {
        return Err(bad());
    }
    // Left-padded: a 64-bit trace id becomes the low half of the 128-bit one. Two 64-bit
    // halves, as u128 arithmetic costs twice the instructions.
    let (mut high, mut low) = (0u64, 0u64);
    let mut invalid = 0u8;
    for &d in digits {
        let nibble = HEX[usize::from(d)];
        invalid |= nibble;
        high = (high << 4) | (low >> 60);
        low = (low << 4) | u64::from(nibble & 0x0f);
    }
    if invalid & 0x80 != 0 {
        return Err(bad());
    }
    let mut wide = [0u8; 16];
    wide[..8].copy_from_slice(&high.to_be_bytes());
    wide[8..].copy_from_slice(&low.to_be_bytes());
    let mut out = [0u8; N];
    out.copy_from_slice(&wide[16 - N..]);
    Ok(out)
}

/// Each byte's value as a hex digit, 0x80 when it is none.
const HEX: [u8; 256] = {
    let mut table = [0x80u8; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

fn bytes_id<const N: usize>(field: &str, bytes: &[u8]) -> Result<[u8; N], String> {
    if bytes.is_empty() || bytes.len() > N {
        return Err(format!("{field} has {} bytes, want 1 to {N}", bytes.len()));
    }
    let mut out = [0u8; N];
    out[N - bytes.len()..].copy_from_slice(bytes);
    Ok(out)
}

pub(crate) fn kind_from_zipkin(kind: Option<&str>) -> SpanKind {
    const KINDS: [(&str, SpanKind); 4] = [
        ("CLIENT", KIND_CLIENT),
        ("SERVER", KIND_SERVER),
        ("PRODUCER", KIND_PRODUCER),
        ("CONSUMER", KIND_CONSUMER),
    ];
    kind.and_then(|k| KINDS.iter().find(|(name, _)| name.eq_ignore_ascii_case(k)))
        .map_or(KIND_INTERNAL, |&(_, kind)| kind)
}

fn json_endpoint(e: &JsonEndpoint) -> Endpoint<'static> {
    Endpoint {
        service_name: e
            .service_name
            .clone()
            .filter(|s| !s.is_empty())
            .map(Cow::Owned),
        ipv4: e.ipv4.as_deref().and_then(|s| s.trim().parse().ok()),
        ipv6: e.ipv6.as_deref().and_then(|s| s.trim().parse().ok()),
        port: e
            .port
            .and_then(|p| u16::try_from(p).ok())
            .filter(|&p| p != 0),
        address: None,
    }
    .with_address()
}

fn proto_endpoint(e: &ProtoEndpoint) -> Endpoint<'static> {
    Endpoint {
        service_name: Some(e.service_name.clone())
            .filter(|s| !s.is_empty())
            .map(Cow::Owned),
        ipv4: <[u8; 4]>::try_from(e.ipv4.as_slice())
            .ok()
            .map(Ipv4Addr::from),
        ipv6: <[u8; 16]>::try_from(e.ipv6.as_slice())
            .ok()
            .map(Ipv6Addr::from),
        port: u16::try_from(e.port).ok().filter(|&p| p != 0),
        address: None,
    }
    .with_address()
}

/// A JSON tag value as text (Zipkin tags are strings; some clients send numbers or booleans).
fn json_text(value: serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Normalises v2 protobuf spans.
pub(crate) fn from_proto(spans: Vec<ProtoSpan>) -> Result<Vec<ZipkinSpan<'static>>, String> {
    spans
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let at = |e: String| format!("span {i}: {e}");
            Ok(ZipkinSpan {
                trace_id: bytes_id("trace_id", &s.trace_id).map_err(at)?,
                id: bytes_id("id", &s.id).map_err(at)?,
                parent_id: if s.parent_id.is_empty() {
                    None
                } else {
                    Some(bytes_id("parent_id", &s.parent_id).map_err(at)?)
                },
                kind: match s.kind {
                    1 => KIND_CLIENT,
                    2 => KIND_SERVER,
                    3 => KIND_PRODUCER,
                    4 => KIND_CONSUMER,
                    _ => KIND_INTERNAL,
                },
                name: Cow::Owned(s.name),
                timestamp: Some(s.timestamp).filter(|&t| t != 0),
                duration: Some(s.duration).filter(|&d| d != 0),
                local: s.local_endpoint.as_ref().map(proto_endpoint),
                remote: s.remote_endpoint.as_ref().map(proto_endpoint),
                annotations: s
                    .annotations
                    .into_iter()
                    .map(|a| Annotation::new(a.timestamp, Cow::Owned(a.value)))
                    .collect(),
                tags: s
                    .tags
                    .into_iter()
                    .map(|(k, v)| (Cow::Owned(k), Cow::Owned(v)))
                    .collect(),
                debug: s.debug,
                shared: s.shared,
            })
        })
        .collect()
}

/// Normalises v1 JSON spans the way Zipkin's own `V1SpanConverter` does, in outline: the core
/// annotations (`cs`/`cr`, `sr`/`ss`, `ms`, `mr`) give the kind, timestamp, duration and local
/// endpoint; a v1 span holding both a client and a server side becomes a client span and a
/// shared server span; `ca`/`sa`/`ma` binary annotations give the remote endpoint; other
/// annotations stay annotations and other binary annotations become tags.
pub(crate) fn from_v1(spans: Vec<V1Span>) -> Result<Vec<ZipkinSpan<'static>>, String> {
    let mut out = Vec::with_capacity(spans.len());
    for (i, s) in spans.into_iter().enumerate() {
        let at = |e: String| format!("span {i}: {e}");
        let trace_id = hex_id("traceId", &s.trace_id).map_err(at)?;
        let id = hex_id("id", &s.id).map_err(at)?;
        let parent_id = match s.parent_id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(p) => Some(hex_id("parentId", p).map_err(at)?),
        };
        let core = |value: &str| {
            s.annotations
                .iter()
                .find(|a| a.value == value)
                .map(|a| (a.timestamp, a.endpoint.as_ref().map(json_endpoint)))
        };
        let (cs, cr, sr, ss, ms, mr) = (
            core("cs"),
            core("cr"),
            core("sr"),
            core("ss"),
            core("ms"),
            core("mr"),
        );
        let mut tags = Vec::new();
        let (mut ca, mut sa, mut ma, mut lc) = (None, None, None, None);
        for b in &s.binary_annotations {
            let endpoint = b.endpoint.as_ref().map(json_endpoint);
            match b.key.as_str() {
                "ca" => ca = endpoint,
                "sa" => sa = endpoint,
                "ma" => ma = endpoint,
                key => {
                    if key == "lc" {
                        lc = endpoint;
                    }
                    tags.push((
                        Cow::Owned(key.to_owned()),
                        Cow::Owned(json_text(b.value.clone())),
                    ));
                }
            }
        }
        let any_endpoint = s
            .annotations
            .iter()
            .filter_map(|a| a.endpoint.as_ref())
            .chain(
                s.binary_annotations
                    .iter()
                    .filter_map(|b| b.endpoint.as_ref()),
            )
            .next()
            .map(json_endpoint);
        let annotations: Vec<Annotation<'static>> = s
            .annotations
            .iter()
            .filter(|a| !matches!(a.value.as_str(), "cs" | "cr" | "sr" | "ss" | "ms" | "mr"))
            .map(|a| Annotation::new(a.timestamp, Cow::Owned(a.value.clone())))
            .collect();
        let base = ZipkinSpan {
            trace_id,
            id,
            parent_id,
            kind: KIND_INTERNAL,
            name: Cow::Owned(s.name.clone().unwrap_or_default()),
            timestamp: s.timestamp.filter(|&t| t != 0),
            duration: s.duration,
            local: None,
            remote: None,
            annotations,
            tags,
            debug: s.debug.unwrap_or(false),
            shared: false,
        };
        let side = |kind,
                    start: Option<(u64, Option<Endpoint<'static>>)>,
                    end: Option<(u64, Option<Endpoint<'static>>)>,
                    remote| {
            let mut span = base.clone();
            span.kind = kind;
            let start_ts = start.as_ref().map(|s| s.0);
            if span.timestamp.is_none() {
                span.timestamp = start_ts.filter(|&t| t != 0);
            }
            if span.duration.is_none()
                && let (Some(a), Some(b)) = (start_ts, end.as_ref().map(|e| e.0))
            {
                span.duration = Some(b.saturating_sub(a));
            }
            span.local = start
                .and_then(|s| s.1)
                .or_else(|| end.and_then(|e| e.1))
                .or_else(|| lc.clone())
                .or_else(|| any_endpoint.clone());
            span.remote = remote;
            span
        };
        let client = cs.is_some() || cr.is_some();
        let server = sr.is_some() || ss.is_some();
        if client && server {
            // One v1 span for both sides of an RPC: the client keeps the span's own timing, the
            // server side is timed by sr..ss and shared (see the module docs).
            out.push(side(
                KIND_CLIENT,
                cs,
                cr,
                sa.clone().or_else(|| sr.as_ref().and_then(|s| s.1.clone())),
            ));
            let mut server_span = base.clone();
            server_span.kind = KIND_SERVER;
            server_span.shared = true;
            server_span.timestamp = sr.as_ref().map(|s| s.0).filter(|&t| t != 0);
            server_span.duration = match (&sr, &ss) {
                (Some(a), Some(b)) => Some(b.0.saturating_sub(a.0)),
                _ => None,
            };
            server_span.local = sr
                .and_then(|s| s.1)
                .or_else(|| ss.and_then(|s| s.1))
                .or_else(|| any_endpoint.clone());
            server_span.remote = ca;
            out.push(server_span);
        } else if client {
            out.push(side(KIND_CLIENT, cs, cr, sa));
        } else if server {
            out.push(side(KIND_SERVER, sr, ss, ca));
        } else if ms.is_some() {
            out.push(side(KIND_PRODUCER, ms, None, ma));
        } else if mr.is_some() {
            out.push(side(KIND_CONSUMER, mr, None, ma));
        } else {
            out.push(side(KIND_INTERNAL, None, None, None));
        }
    }
    Ok(out)
}

/// Decodes and normalises a v2 protobuf body (`ListOfSpans`).
pub(crate) fn decode_proto(payload: &[u8]) -> Result<Vec<ZipkinSpan<'static>>, IngestError> {
    let list =
        ProtoListOfSpans::decode(payload).map_err(|e| decode_error("Zipkin v2 protobuf", e))?;
    from_proto(list.spans).map_err(|e| decode_error("Zipkin v2 protobuf", e))
}

/// Decodes and normalises a v1 JSON body.
pub(crate) fn decode_json_v1(payload: &[u8]) -> Result<Vec<ZipkinSpan<'static>>, IngestError> {
    let spans: Vec<V1Span> =
        serde_json::from_slice(payload).map_err(|e| decode_error("Zipkin v1 JSON", e))?;
    from_v1(spans).map_err(|e| decode_error("Zipkin v1 JSON", e))
}

/// The span id a shared span is stored under: derived from its trace and span ids, so every
/// copy of the same shared span gets the same one, never zero and never the id it shares.
pub(crate) fn shared_span_id(trace_id: &[u8; 16], id: &[u8; 8]) -> [u8; 8] {
    // FNV-1a over the ids and a domain tag, then one splitmix64 round to spread the bits.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in trace_id.iter().chain(id).chain(b"zipkin-shared") {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    let original = u64::from_be_bytes(*id);
    if h == 0 || h == original {
        h = original.wrapping_add(1).max(1);
    }
    h.to_be_bytes()
}

impl<'a> Annotation<'a> {
    /// An annotation value as OpenTelemetry's Zipkin exporters write events:
    /// `{"<event name>": {<attributes>}}`; anything else is an event named by the value.
    /// Attributes are in key order, the last of a repeated key kept.
    pub(crate) fn new(timestamp: u64, value: Cow<'a, str>) -> Self {
        let mut attributes = Vec::new();
        let name = read_event(&value, &mut attributes);
        Annotation {
            timestamp,
            value,
            name,
            attributes,
        }
    }

    /// The event's name.
    pub(crate) fn name(&self) -> &str {
        match &self.name {
            Some(piece) => self.text(piece),
            None => &self.value,
        }
    }

    /// The text of a piece of this annotation.
    pub(crate) fn text<'s>(&'s self, piece: &'s Piece) -> &'s str {
        piece_text(&self.value, piece)
    }
}

/// `part` as a piece of `whole`: its range when it lies in `whole` (borrowed from it), else
/// owned.
fn piece(whole: &str, part: Cow<'_, str>) -> Piece {
    match part {
        Cow::Borrowed(p) => {
            let start = (p.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize);
            match start.checked_add(p.len()) {
                Some(end) if whole.get(start..end).is_some() => Piece::At(start as u32, end as u32),
                _ => Piece::Own(p.to_owned()),
            }
        }
        Cow::Owned(p) => Piece::Own(p),
    }
}

/// An OpenTelemetry event annotation read through `serde_json::Value`.
fn from_value(text: &str) -> Option<(Piece, Vec<(Piece, EventValue)>)> {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str(text) else {
        return None;
    };
    if map.len() != 1 {
        return None;
    }
    let Some((name, serde_json::Value::Object(attrs))) = map.into_iter().next() else {
        return None;
    };
    let attributes = attrs
        .into_iter()
        .map(|(k, v)| (Piece::Own(k), event_value(v)))
        .collect();
    Some((Piece::Own(name), attributes))
}

fn event_value(v: serde_json::Value) -> EventValue {
    match v {
        serde_json::Value::Bool(b) => EventValue::Bool(b),
        serde_json::Value::Number(n) if n.is_i64() => {
            EventValue::Int(n.as_i64().unwrap_or_default())
        }
        serde_json::Value::Number(n) => EventValue::Double(n.as_f64().unwrap_or_default()),
        serde_json::Value::String(s) => EventValue::Str(Piece::Own(s)),
        other => EventValue::Str(Piece::Own(other.to_string())),
    }
}

/// Reads an annotation value written as OpenTelemetry's Zipkin exporters write events,
/// `{"<event name>": {<attributes>}}`, into `attributes` (cleared first; in key order, the last
/// of a repeated key kept), its pieces ranges of `text` where they have no escapes; the event's
/// name, or `None` when `text` is no such event (the event is then named by the whole value).
pub(crate) fn read_event(text: &str, attributes: &mut Vec<(Piece, EventValue)>) -> Option<Piece> {
    attributes.clear();
    if !text.starts_with('{') {
        return None;
    }
    // The usual shape read straight into the event, its names and text borrowed from the
    // value; anything else through `serde_json::Value`, whose reading defines the result.
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_str(text);
    let strict = OneEvent { text, attributes }
        .deserialize(&mut de)
        .and_then(|name| de.end().map(|()| name));
    let name = match strict {
        Ok(name) => name,
        Err(_) => {
            attributes.clear();
            let (name, read) = from_value(text)?;
            attributes.extend(read);
            name
        }
    };
    sorted_last_wins_by(attributes, 0, |(a, _), (b, _)| {
        piece_text(text, a).cmp(piece_text(text, b))
    });
    Some(name)
}

/// The text of `piece`, a piece of `whole`.
fn piece_text<'s>(whole: &'s str, piece: &'s Piece) -> &'s str {
    match piece {
        Piece::At(start, end) => whole
            .get(*start as usize..*end as usize)
            .unwrap_or_default(),
        Piece::Own(text) => text,
    }
}

/// Sorts `items[start..]` by `order` (of their keys), keeping only the last item of a
/// repeated key (what reading a JSON object into a `BTreeMap` gives).
pub(crate) fn sorted_last_wins_by<T>(
    items: &mut Vec<T>,
    start: usize,
    order: impl Fn(&T, &T) -> std::cmp::Ordering,
) {
    use std::cmp::Ordering::{Equal, Less};
    let tail = items.get_mut(start..).unwrap_or_default();
    if tail.windows(2).all(|w| order(&w[0], &w[1]) == Less) {
        return;
    }
    // Stable: equal keys stay in arrival order, so the last of each run is the one to keep.
    tail.sort_by(&order);
    let mut kept = start;
    for read in start..items.len() {
        if kept > start && order(&items[kept - 1], &items[read]) == Equal {
            items.swap(kept - 1, read);
        } else {
            items.swap(kept, read);
            kept += 1;
        }
    }
    items.truncate(kept);
}

/// `{"<name>": {<attributes>}}` with exactly one key, read without a `serde_json::Value` into
/// `attributes` (unsorted), borrowing what has no escapes; anything else fails (and is read
/// by `from_value`).
struct OneEvent<'t, 'v> {
    text: &'t str,
    attributes: &'v mut Vec<(Piece, EventValue)>,
}

impl<'de: 't, 't> serde::de::DeserializeSeed<'de> for OneEvent<'t, '_> {
    type Value = Piece;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Piece, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de: 't, 't> serde::de::Visitor<'de> for OneEvent<'t, '_> {
    type Value = Piece;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object of one event")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Piece, A::Error> {
        use serde::de::{Error, IgnoredAny};
        let Text(name) = map
            .next_key()?
            .ok_or_else(|| A::Error::custom("no event"))?;
        map.next_value_seed(EventAttributes {
            text: self.text,
            attributes: &mut *self.attributes,
        })?;
        if map.next_key::<IgnoredAny>()?.is_some() {
            return Err(A::Error::custom("more than one key"));
        }
        Ok(piece(self.text, name))
    }
}

/// The attributes object of [`OneEvent`].
struct EventAttributes<'t, 'v> {
    text: &'t str,
    attributes: &'v mut Vec<(Piece, EventValue)>,
}

impl<'de: 't, 't> serde::de::DeserializeSeed<'de> for EventAttributes<'t, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de: 't, 't> serde::de::Visitor<'de> for EventAttributes<'t, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object of attributes")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some((Text(key), value)) = map.next_entry::<Text<'de>, Attribute<'de>>()? {
            self.attributes
                .push((piece(self.text, key), value.into_event(self.text)));
        }
        Ok(())
    }
}

/// An event attribute's value, as `from_value` reads it from a `serde_json::Value`; a string
/// borrowed when it has no escapes.
enum Attribute<'t> {
    Value(EventValue),
    Str(Cow<'t, str>),
}

impl Attribute<'_> {
    fn into_event(self, whole: &str) -> EventValue {
        match self {
            Attribute::Value(v) => v,
            Attribute::Str(s) => EventValue::Str(piece(whole, s)),
        }
    }
}

impl<'de: 't, 't> serde::Deserialize<'de> for Attribute<'t> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::Deserialize;
        use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
        use serde::de::{Error, MapAccess, SeqAccess, Visitor};
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Attribute<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E: Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Attribute::Value(EventValue::Bool(v)))
            }
            fn visit_i64<E: Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Attribute::Value(EventValue::Int(v)))
            }
            fn visit_u64<E: Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Attribute::Value(match i64::try_from(v) {
                    Ok(i) => EventValue::Int(i),
                    Err(_) => EventValue::Double(v as f64),
                }))
            }
            fn visit_f64<E: Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Attribute::Value(EventValue::Double(v)))
            }
            fn visit_borrowed_str<E: Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Attribute::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Attribute::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Attribute::Str(Cow::Owned(v)))
            }
            fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
                Ok(Attribute::Value(event_value(serde_json::Value::Null)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                let v = serde_json::Value::deserialize(SeqAccessDeserializer::new(seq))?;
                Ok(Attribute::Value(event_value(v)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let v = serde_json::Value::deserialize(MapAccessDeserializer::new(map))?;
                Ok(Attribute::Value(event_value(v)))
            }
        }
        d.deserialize_any(V)
    }
}

/// Fills `batch` (cleared first) with normalised spans, borrowing from them: a resource per
/// local service name.
pub(crate) fn fill<'a>(spans: &'a [ZipkinSpan<'_>], batch: &mut SpanBatch<'a>) {
    batch.clear();
    batch.spans.reserve(spans.len());
    let mut groups = Groups::default();
    for s in spans {
        let endpoint = |e: &'a Endpoint<'_>| EndpointParts {
            service_name: e.service_name.as_deref(),
            address: e.address.as_deref(),
            port: e.port,
        };
        let parts = SpanParts {
            trace_id: s.trace_id,
            id: s.id,
            parent_id: s.parent_id,
            kind: s.kind,
            name: &s.name,
            timestamp: s.timestamp,
            duration: s.duration,
            local: s.local.as_ref().map(endpoint),
            remote: s.remote.as_ref().map(endpoint),
            debug: s.debug,
            shared: s.shared,
        };
        let tags = s.tags.iter().map(|(k, v)| (&**k, &**v));
        let annotations = s.annotations.iter().map(|a| {
            let attributes = a.attributes.iter().map(|(key, value)| KeyValue {
                key: a.text(key),
                value: match value {
                    EventValue::Bool(b) => AnyValue::Bool(*b),
                    EventValue::Int(i) => AnyValue::Int(*i),
                    EventValue::Double(d) => AnyValue::Double(*d),
                    EventValue::Str(s) => AnyValue::Str(a.text(s)),
                },
            });
            (a.timestamp, a.name(), attributes)
        });
        push_span(batch, &mut groups, &parts, tags, annotations);
    }
}

/// A Zipkin endpoint as the mapping reads it (service name non-empty, address as text, port
/// non-zero).
#[derive(Debug, Clone, Copy)]
pub(crate) struct EndpointParts<'a> {
    pub(crate) service_name: Option<&'a str>,
    pub(crate) address: Option<&'a str>,
    pub(crate) port: Option<u16>,
}

/// A Zipkin span's fields as the mapping reads them, whichever model holds them (the
/// normalised [`ZipkinSpan`] or v2 JSON's batch, `super::json_v2`); tags and annotations are
/// passed to [`push_span`] beside it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SpanParts<'a> {
    pub(crate) trace_id: [u8; 16],
    pub(crate) id: [u8; 8],
    pub(crate) parent_id: Option<[u8; 8]>,
    pub(crate) kind: SpanKind,
    pub(crate) name: &'a str,
    /// Epoch microseconds (none when absent or zero).
    pub(crate) timestamp: Option<u64>,
    /// Microseconds.
    pub(crate) duration: Option<u64>,
    pub(crate) local: Option<EndpointParts<'a>>,
    pub(crate) remote: Option<EndpointParts<'a>>,
    pub(crate) debug: bool,
    pub(crate) shared: bool,
}

/// Pushes `key` unless the attributes since `start` (the span's) hold it already.
fn add<'a>(batch: &mut SpanBatch<'a>, start: usize, key: &'a str, value: AnyValue<'a>) {
    if !batch.attributes[start..].iter().any(|a| a.key == key) {
        batch.attributes.push(KeyValue { key, value });
    }
}

/// Maps one span into `batch` (the mapping of the [module docs](super)): its resource by local
/// service name, `tags` in key order, each key once, and `annotations` as (epoch µs, event
/// name, attributes).
pub(crate) fn push_span<'a, T, A, I>(
    batch: &mut SpanBatch<'a>,
    groups: &mut Groups<'a>,
    s: &SpanParts<'a>,
    tags: T,
    annotations: A,
) where
    T: Iterator<Item = (&'a str, &'a str)>,
    A: Iterator<Item = (u64, &'a str, I)>,
    I: Iterator<Item = KeyValue<'a>>,
{
    let service = s
        .local
        .and_then(|l| l.service_name)
        .unwrap_or(UNKNOWN_SERVICE);
    let resource = groups.service(batch, service);
    let mark = batch.mark();
    let mut status = StatusTags::default();
    let (mut scope_name, mut scope_version) = ("", "");
    let start = batch.attributes.len();
    for (key, value) in tags {
        match key {
            crate::vocabulary::ERROR => status.error_text(value),
            OTEL_STATUS_CODE => status.code = Some(value),
            OTEL_STATUS_DESCRIPTION => status.description = Some(value),
            OTEL_SCOPE_NAME | OTEL_LIBRARY_NAME => scope_name = value,
            OTEL_SCOPE_VERSION | OTEL_LIBRARY_VERSION => scope_version = value,
            _ => batch.attributes.push(KeyValue {
                key,
                value: AnyValue::Str(value),
            }),
        }
    }
    // Endpoint attributes only where no tag already says it (OpenTelemetry's Zipkin exporters
    // send both the attribute and the endpoint made from it).
    if let Some(local) = s.local {
        if let Some(ip) = local.address {
            add(batch, start, NETWORK_LOCAL_ADDRESS, AnyValue::Str(ip));
        }
        if let Some(port) = local.port {
            add(
                batch,
                start,
                NETWORK_LOCAL_PORT,
                AnyValue::Int(i64::from(port)),
            );
        }
    }
    if let Some(remote) = s.remote {
        let server = matches!(s.kind, KIND_CLIENT | KIND_PRODUCER);
        if let Some(name) = remote.service_name {
            add(batch, start, SERVICE_PEER_NAME, AnyValue::Str(name));
        }
        if let Some(ip) = remote.address {
            add(batch, start, NETWORK_PEER_ADDRESS, AnyValue::Str(ip));
            if server {
                add(batch, start, SERVER_ADDRESS, AnyValue::Str(ip));
            }
        }
        if let Some(port) = remote.port {
            add(
                batch,
                start,
                NETWORK_PEER_PORT,
                AnyValue::Int(i64::from(port)),
            );
            if server {
                add(batch, start, SERVER_PORT, AnyValue::Int(i64::from(port)));
            }
        }
    }
    if s.debug {
        add(batch, start, DEBUG_ATTRIBUTE, AnyValue::Bool(true));
    }
    let (span_id, parent) = if s.shared {
        add(batch, start, SHARED_ATTRIBUTE, AnyValue::Bool(true));
        (shared_span_id(&s.trace_id, &s.id), Some(s.id))
    } else {
        (s.id, s.parent_id)
    };
    let attributes = batch.attributes_since(start);

    let events_start = batch.events.len();
    let mut first_us: Option<u64> = None;
    for (timestamp, name, event_attributes) in annotations {
        first_us = Some(first_us.map_or(timestamp, |t| t.min(timestamp)));
        let start = batch.attributes.len();
        batch.attributes.extend(event_attributes);
        let attributes = batch.attributes_since(start);
        batch.events.push(Event {
            time_ns: timestamp.saturating_mul(1000),
            name,
            attributes,
            dropped_attributes: 0,
        });
    }
    let events = batch.events_since(events_start);

    let start_us = s.timestamp.or(first_us).unwrap_or(0);
    let start_ns = start_us.saturating_mul(1000);
    let (status, status_message) = status.status();
    let scope = groups.scope(batch, scope_name, scope_version);
    let span = Span {
        resource,
        scope,
        trace_id: u128::from_be_bytes(s.trace_id),
        span_id: u64::from_be_bytes(span_id),
        parent_span_id: parent.map_or(0, u64::from_be_bytes),
        // Zipkin reports only sampled spans.
        flags: 1,
        name: s.name,
        kind: s.kind,
        start_ns,
        end_ns: start_ns.saturating_add(s.duration.unwrap_or(0).saturating_mul(1000)),
        status,
        status_message,
        attributes,
        events,
        ..Span::default()
    };
    foreign::push_span(batch, mark, span);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_ids_are_left_padded() {
        let t: [u8; 16] = hex_id("traceId", "abc").unwrap();
        assert_eq!(u128::from_be_bytes(t), 0xabc);
        assert!(hex_id::<8>("id", "").is_err());
        assert!(hex_id::<8>("id", "12345678901234567").is_err());
        assert!(hex_id::<8>("id", "xyz").is_err());
    }

    #[test]
    fn shared_span_ids_are_stable_and_distinct() {
        let (t, id) = ([7u8; 16], [1u8; 8]);
        let a = shared_span_id(&t, &id);
        assert_eq!(a, shared_span_id(&t, &id));
        assert_ne!(a, id);
        assert_ne!(a, [0; 8]);
    }

    #[test]
    fn otel_event_annotations_keep_name_and_attributes() {
        let e = Annotation::new(5, r#"{"retry": {"attempt": 2, "why": "busy"}}"#.into());
        assert_eq!(e.name(), "retry");
        let attrs: Vec<_> = e.attributes.iter().map(|(k, _)| e.text(k)).collect();
        assert_eq!(attrs, ["attempt", "why"]);
        assert!(matches!(e.attributes[0].1, EventValue::Int(2)));
        assert!(matches!(&e.attributes[1].1, EventValue::Str(s) if e.text(s) == "busy"));
        assert_eq!(e.timestamp, 5);
        assert_eq!(Annotation::new(1, "ws".into()).name(), "ws");
        // Repeated keys: the last one, as a JSON object reads; an escaped name owned.
        let e = Annotation::new(1, r#"{"a\u0062": {"k": 1, "k": "two"}}"#.into());
        assert_eq!(e.name(), "ab");
        assert!(matches!(&e.attributes[..], [(_, EventValue::Str(s))] if e.text(s) == "two"));
        // Two events in one value: the value is the name.
        let two = r#"{"a": {}, "b": {}}"#;
        assert_eq!(Annotation::new(1, two.into()).name(), two);
    }
}
