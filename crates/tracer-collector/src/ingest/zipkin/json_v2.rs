//! Zipkin v2 JSON (`POST /api/v2/spans`, the common case on 9411; openzipkin/zipkin-api
//! `zipkin2-api.yaml`, `ListOfSpans`) read in one pass into [`Spans`], which the store's batch
//! then borrows from.
//!
//! serde_json reads the payload, through seeds ([`serde::de::DeserializeSeed`]) that write
//! every span straight into a few vectors the whole body shares (spans, tags, annotations,
//! event attributes) and one `String` for text that is not in the payload as it stands (strings
//! with escapes, numbers sent as tag values, addresses as text). So a span costs no allocation
//! of its own: no per-span tag or annotation vector, no `String` per escaped annotation, and no
//! second, normalised copy of the span (the other Zipkin formats are normalised to
//! [`super::convert::ZipkinSpan`] first; v2 JSON is mapped from here by the same
//! [`super::convert::push_span`]). Strings without escapes are borrowed from the payload.
//!
//! What is read is what serde's derived structs read (the model these seeds replaced): absent
//! fields take their default, unknown fields are ignored, a repeated span, endpoint or
//! annotation field is an error, tags are in key order with the last of a repeated key kept,
//! and a tag value may be any JSON value (it becomes text). One difference: a span, endpoint or
//! annotation written as a JSON array (serde_json reads a derived struct from an array of its
//! fields in order, which no Zipkin client writes) is refused.

use std::fmt::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::convert::{
    EndpointParts, EventValue, Piece, SpanParts, hex_id, kind_from_zipkin, push_span, read_event,
    sorted_last_wins_by,
};
use crate::ingest::IngestError;
use crate::ingest::foreign::Groups;
use crate::ingest::receiver::decode_error;
use crate::store::batch::{AnyValue, KeyValue, SpanBatch, SpanKind};

/// Name of the format in errors.
const FORMAT: &str = "Zipkin v2 JSON";

/// A text of [`Spans`]: borrowed from the payload (a JSON string without escapes) or a range of
/// [`Spans::own`].
#[derive(Debug, Clone, Copy)]
enum Str<'p> {
    Payload(&'p str),
    Own(usize, usize),
}

const EMPTY: Str<'static> = Str::Payload("");

/// The text `s` names, `own` being the [`Spans::own`] it may be a range of.
fn text_of<'a>(own: &'a str, s: Str<'a>) -> &'a str {
    match s {
        Str::Payload(text) => text,
        Str::Own(start, end) => own.get(start..end).unwrap_or_default(),
    }
}

/// Appends `text` to `own`; its range there.
fn push_own(own: &mut String, text: &str) -> Str<'static> {
    let start = own.len();
    own.push_str(text);
    Str::Own(start, own.len())
}

/// An endpoint as the mapping reads it (see [`EndpointParts`]).
#[derive(Debug, Clone, Copy)]
struct Endpoint<'p> {
    service_name: Option<Str<'p>>,
    address: Option<Str<'p>>,
    port: Option<u16>,
}

#[derive(Debug)]
struct Span<'p> {
    trace_id: [u8; 16],
    id: [u8; 8],
    parent_id: Option<[u8; 8]>,
    kind: SpanKind,
    name: Str<'p>,
    timestamp: Option<u64>,
    duration: Option<u64>,
    local: Option<Endpoint<'p>>,
    remote: Option<Endpoint<'p>>,
    /// Of [`Spans::tags`].
    tags: Range<usize>,
    /// Of [`Spans::annotations`].
    annotations: Range<usize>,
    debug: bool,
    shared: bool,
}

#[derive(Debug)]
struct Annotation<'p> {
    /// Epoch microseconds.
    timestamp: u64,
    /// The event's name: the whole value, or the name of an OpenTelemetry event annotation.
    name: Str<'p>,
    /// Of [`Spans::attributes`].
    attributes: Range<usize>,
}

#[derive(Debug, Clone, Copy)]
enum Value<'p> {
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(Str<'p>),
}

/// A v2 JSON body, decoded: every span's ids parsed, its text borrowed from the payload or
/// kept in [`Spans::own`].
#[derive(Debug, Default)]
pub(crate) struct Spans<'p> {
    spans: Vec<Span<'p>>,
    /// Each span's tags, in key order and each key once.
    tags: Vec<(Str<'p>, Str<'p>)>,
    annotations: Vec<Annotation<'p>>,
    /// The attributes of OpenTelemetry event annotations.
    attributes: Vec<(Str<'p>, Value<'p>)>,
    /// Text that is not in the payload as it stands.
    own: String,
}

/// Decodes a v2 JSON body (`[span, ...]`); the error names the first span with an unusable id
/// (once the whole body has been read as JSON: a JSON error comes first).
pub(crate) fn decode(payload: &[u8]) -> Result<Spans<'_>, IngestError> {
    // Sized from the body (the spans OpenTelemetry's exporters write are ~800 bytes each, a
    // dozen tags), so that most bodies grow no vector; bounded by the body.
    let n = payload.len();
    // The whole body checked as UTF-8 at once, then read as text: serde_json then checks no
    // string on its own (reading bytes, it checks each string it borrows: 13 % of the
    // instructions of this decoder). The body is refused whole either way.
    let payload = std::str::from_utf8(payload).map_err(|e| {
        decode_error(
            FORMAT,
            format_args!("the body is not UTF-8 (at byte {})", e.valid_up_to()),
        )
    })?;
    let mut reader = Reader {
        out: Spans {
            spans: Vec::with_capacity(n / 1024),
            tags: Vec::with_capacity(n / 64),
            annotations: Vec::with_capacity(n / 512),
            attributes: Vec::with_capacity(n / 256),
            own: String::with_capacity(n / 8),
        },
        read: 0,
        error: None,
        event: Vec::new(),
    };
    let mut de = serde_json::Deserializer::from_str(payload);
    List(&mut reader)
        .deserialize(&mut de)
        .and_then(|()| de.end())
        .map_err(|e| decode_error(FORMAT, e))?;
    match reader.error {
        Some(e) => Err(decode_error(FORMAT, e)),
        None => Ok(reader.out),
    }
}

/// Fills `batch` (cleared first) with the spans, borrowing from them: a resource per local
/// service name.
pub(crate) fn fill<'a>(spans: &'a Spans<'_>, batch: &mut SpanBatch<'a>) {
    batch.clear();
    batch.spans.reserve(spans.spans.len());
    let mut groups = Groups::default();
    let own = spans.own.as_str();
    let text = |s: Str<'a>| text_of(own, s);
    let endpoint = |e: &Endpoint<'a>| EndpointParts {
        service_name: e.service_name.map(text),
        address: e.address.map(text),
        port: e.port,
    };
    for s in &spans.spans {
        let parts = SpanParts {
            trace_id: s.trace_id,
            id: s.id,
            parent_id: s.parent_id,
            kind: s.kind,
            name: text(s.name),
            timestamp: s.timestamp,
            duration: s.duration,
            local: s.local.as_ref().map(endpoint),
            remote: s.remote.as_ref().map(endpoint),
            debug: s.debug,
            shared: s.shared,
        };
        let tags = spans
            .tags
            .get(s.tags.clone())
            .unwrap_or_default()
            .iter()
            .map(|&(key, value)| (text(key), text(value)));
        let annotations = spans
            .annotations
            .get(s.annotations.clone())
            .unwrap_or_default()
            .iter()
            .map(|a| {
                let attributes = spans
                    .attributes
                    .get(a.attributes.clone())
                    .unwrap_or_default()
                    .iter()
                    .map(|&(key, value)| KeyValue {
                        key: text(key),
                        value: match value {
                            Value::Bool(b) => AnyValue::Bool(b),
                            Value::Int(i) => AnyValue::Int(i),
                            Value::Double(d) => AnyValue::Double(d),
                            Value::Str(s) => AnyValue::Str(text(s)),
                        },
                    });
                (a.timestamp, text(a.name), attributes)
            });
        push_span(batch, &mut groups, &parts, tags, annotations);
    }
}

/// The decoding state the seeds share.
struct Reader<'p> {
    out: Spans<'p>,
    /// Spans read so far.
    read: usize,
    /// The first span with an unusable id, named.
    error: Option<String>,
    /// An event annotation's attributes as [`read_event`] gives them, reused.
    event: Vec<(Piece, EventValue)>,
}

/// Generates a field identifier of a JSON object, matched as serde's derive matches field
/// names (after unescaping), with `Other` for the unknown ones.
macro_rules! fields {
    ($name:ident { $($variant:ident = $text:literal,)* }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum $name {
            $($variant,)*
            Other,
        }

        impl $name {
            fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                    $name::Other => "",
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a field name")
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$name, E> {
                        Ok(match v {
                            $($text => $name::$variant,)*
                            _ => $name::Other,
                        })
                    }
                }
                d.deserialize_identifier(V)
            }
        }
    };
}

fields!(SpanField {
    TraceId = "traceId",
    ParentId = "parentId",
    Id = "id",
    Kind = "kind",
    Name = "name",
    Timestamp = "timestamp",
    Duration = "duration",
    LocalEndpoint = "localEndpoint",
    RemoteEndpoint = "remoteEndpoint",
    Annotations = "annotations",
    Tags = "tags",
    Debug = "debug",
    Shared = "shared",
});

fields!(EndpointField {
    ServiceName = "serviceName",
    Ipv4 = "ipv4",
    Ipv6 = "ipv6",
    Port = "port",
});

fields!(AnnotationField {
    Timestamp = "timestamp",
    Value = "value",
});

/// Sets `field`'s bit in `seen`; an error when it was set already (a repeated field).
fn first_time<E: de::Error>(seen: &mut u32, field: u32, name: &'static str) -> Result<(), E> {
    let bit = 1 << field;
    if *seen & bit != 0 {
        return Err(E::duplicate_field(name));
    }
    *seen |= bit;
    Ok(())
}

/// The body: a list of spans.
struct List<'r, 'p>(&'r mut Reader<'p>);

impl<'de> DeserializeSeed<'de> for List<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for List<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of Zipkin v2 spans")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(SpanSeed(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

/// One span, pushed onto [`Reader::out`] unless an id is unusable (then counted in
/// [`Reader::error`]).
struct SpanSeed<'r, 'p>(&'r mut Reader<'p>);

impl<'de> DeserializeSeed<'de> for SpanSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for SpanSeed<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Zipkin v2 span (an object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let r = self.0;
        let mut seen = 0u32;
        let (mut trace_id, mut id) = (EMPTY, EMPTY);
        let (mut parent_id, mut kind, mut name) = (None, None, None);
        let (mut timestamp, mut duration) = (None, None);
        let (mut local, mut remote) = (None, None);
        let (mut debug, mut shared) = (None::<bool>, None::<bool>);
        let annotations_start = r.out.annotations.len();
        let tags_start = r.out.tags.len();
        while let Some(field) = map.next_key::<SpanField>()? {
            if field != SpanField::Other {
                first_time(&mut seen, field as u32, field.name())?;
            }
            let own = &mut r.out.own;
            match field {
                SpanField::TraceId => trace_id = map.next_value_seed(TextSeed(own))?,
                SpanField::Id => id = map.next_value_seed(TextSeed(own))?,
                SpanField::ParentId => parent_id = map.next_value_seed(Optional(TextSeed(own)))?,
                SpanField::Kind => kind = map.next_value_seed(Optional(TextSeed(own)))?,
                SpanField::Name => name = map.next_value_seed(Optional(TextSeed(own)))?,
                SpanField::Timestamp => timestamp = map.next_value::<Option<u64>>()?,
                SpanField::Duration => duration = map.next_value::<Option<u64>>()?,
                SpanField::LocalEndpoint => {
                    local = map.next_value_seed(Optional(EndpointSeed(own)))?;
                }
                SpanField::RemoteEndpoint => {
                    remote = map.next_value_seed(Optional(EndpointSeed(own)))?;
                }
                SpanField::Annotations => map.next_value_seed(Annotations(&mut *r))?,
                SpanField::Tags => map.next_value_seed(Tags(&mut r.out))?,
                SpanField::Debug => debug = map.next_value::<Option<bool>>()?,
                SpanField::Shared => shared = map.next_value::<Option<bool>>()?,
                SpanField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let i = r.read;
        r.read += 1;
        let own = r.out.own.as_str();
        let ids = (|| {
            let trace_id = hex_id("traceId", text_of(own, trace_id))?;
            let id = hex_id("id", text_of(own, id))?;
            let parent_id = match parent_id.map(|p| text_of(own, p).trim()) {
                None | Some("") => None,
                Some(p) => Some(hex_id("parentId", p)?),
            };
            Ok::<_, String>((trace_id, id, parent_id))
        })();
        let (trace_id, id, parent_id) = match ids {
            Ok(ids) => ids,
            Err(e) => {
                if r.error.is_none() {
                    r.error = Some(format!("span {i}: {e}"));
                }
                return Ok(());
            }
        };
        let span = Span {
            trace_id,
            id,
            parent_id,
            kind: kind_from_zipkin(kind.map(|k| text_of(own, k))),
            name: name.unwrap_or(EMPTY),
            timestamp: timestamp.filter(|&t| t != 0),
            duration,
            local,
            remote,
            tags: tags_start..r.out.tags.len(),
            annotations: annotations_start..r.out.annotations.len(),
            debug: debug.unwrap_or(false),
            shared: shared.unwrap_or(false),
        };
        r.out.spans.push(span);
        Ok(())
    }
}

/// `null` as `None`, anything else read by the inner seed (as serde reads an `Option`).
struct Optional<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Optional<S> {
    type Value = Option<S::Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for Optional<S> {
    type Value = Option<S::Value>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an optional value")
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.deserialize(d).map(Some)
    }
}

/// A JSON string: borrowed when it has no escapes, else appended to the own text.
struct TextSeed<'s>(&'s mut String);

impl<'de> DeserializeSeed<'de> for TextSeed<'_> {
    type Value = Str<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Str<'de>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for TextSeed<'_> {
    type Value = Str<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Str<'de>, E> {
        Ok(Str::Payload(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Str<'de>, E> {
        Ok(push_own(self.0, v))
    }
}

/// A tag's value as text: a string as it is, `null` empty, any other JSON value its JSON text
/// (Zipkin tags are strings; some clients send numbers or booleans).
struct TagText<'s>(&'s mut String);

impl<'de> DeserializeSeed<'de> for TagText<'_> {
    type Value = Str<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Str<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl TagText<'_> {
    fn display(self, value: impl fmt::Display) -> Str<'static> {
        let start = self.0.len();
        // Writing into a `String` cannot fail.
        let _ = write!(self.0, "{value}");
        Str::Own(start, self.0.len())
    }
}

impl<'de> Visitor<'de> for TagText<'_> {
    type Value = Str<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Str<'de>, E> {
        Ok(Str::Payload(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Str<'de>, E> {
        Ok(push_own(self.0, v))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Str<'de>, E> {
        Ok(Str::Payload(if v { "true" } else { "false" }))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Str<'de>, E> {
        Ok(self.display(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Str<'de>, E> {
        Ok(self.display(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Str<'de>, E> {
        // As `serde_json::Value` prints it (a float keeps its point).
        Ok(match serde_json::Number::from_f64(v) {
            Some(n) => self.display(n),
            None => EMPTY,
        })
    }
    fn visit_unit<E: de::Error>(self) -> Result<Str<'de>, E> {
        Ok(EMPTY)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Str<'de>, A::Error> {
        let value = serde_json::Value::deserialize(SeqAccessDeserializer::new(seq))?;
        Ok(self.display(value))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Str<'de>, A::Error> {
        let value = serde_json::Value::deserialize(MapAccessDeserializer::new(map))?;
        Ok(self.display(value))
    }
}

/// A span's tags, pushed onto [`Spans::tags`] in key order, the last of a repeated key kept.
struct Tags<'s, 'p>(&'s mut Spans<'p>);

impl<'de> DeserializeSeed<'de> for Tags<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Tags<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let out = self.0;
        let start = out.tags.len();
        while let Some(key) = map.next_key_seed(TextSeed(&mut out.own))? {
            let value = map.next_value_seed(TagText(&mut out.own))?;
            out.tags.push((key, value));
        }
        let own = out.own.as_str();
        sorted_last_wins_by(&mut out.tags, start, |a, b| {
            text_of(own, a.0).cmp(text_of(own, b.0))
        });
        Ok(())
    }
}

/// An endpoint: service name (kept when not empty), address (IPv4 first, as text), port (kept
/// when 1 to 65535).
struct EndpointSeed<'s>(&'s mut String);

impl<'de> DeserializeSeed<'de> for EndpointSeed<'_> {
    type Value = Endpoint<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Endpoint<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EndpointSeed<'_> {
    type Value = Endpoint<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Zipkin v2 endpoint (an object)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Endpoint<'de>, A::Error> {
        let own = self.0;
        let mut seen = 0u32;
        let (mut service_name, mut ipv4, mut ipv6, mut port) = (None, None, None, None::<i64>);
        while let Some(field) = map.next_key::<EndpointField>()? {
            if field != EndpointField::Other {
                first_time(&mut seen, field as u32, field.name())?;
            }
            match field {
                EndpointField::ServiceName => {
                    service_name = map.next_value_seed(Optional(TextSeed(own)))?;
                }
                EndpointField::Ipv4 => ipv4 = map.next_value_seed(Optional(TextSeed(own)))?,
                EndpointField::Ipv6 => ipv6 = map.next_value_seed(Optional(TextSeed(own)))?,
                EndpointField::Port => port = map.next_value::<Option<i64>>()?,
                EndpointField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let ip = ipv4
            .and_then(|s| text_of(own, s).trim().parse::<Ipv4Addr>().ok())
            .map(IpAddr::V4)
            .or_else(|| {
                ipv6.and_then(|s| text_of(own, s).trim().parse::<Ipv6Addr>().ok())
                    .map(IpAddr::V6)
            });
        let address = ip.map(|ip| {
            let start = own.len();
            // Writing into a `String` cannot fail.
            let _ = write!(own, "{ip}");
            Str::Own(start, own.len())
        });
        Ok(Endpoint {
            service_name: service_name.filter(|&s| !text_of(own, s).is_empty()),
            address,
            port: port.and_then(|p| u16::try_from(p).ok()).filter(|&p| p != 0),
        })
    }
}

/// A span's annotations, pushed onto [`Spans::annotations`].
struct Annotations<'r, 'p>(&'r mut Reader<'p>);

impl<'de> DeserializeSeed<'de> for Annotations<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Annotations<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of annotations")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(AnnotationSeed(&mut *self.0))?
            .is_some()
        {}
        Ok(())
    }
}

/// One annotation: `timestamp` (0 when absent) and `value` (empty when absent).
struct AnnotationSeed<'r, 'p>(&'r mut Reader<'p>);

impl<'de> DeserializeSeed<'de> for AnnotationSeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for AnnotationSeed<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Zipkin v2 annotation (an object)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let r = self.0;
        let mut seen = 0u32;
        let mut timestamp = 0;
        let mut event = None;
        while let Some(field) = map.next_key::<AnnotationField>()? {
            if field != AnnotationField::Other {
                first_time(&mut seen, field as u32, field.name())?;
            }
            match field {
                AnnotationField::Timestamp => timestamp = map.next_value::<u64>()?,
                AnnotationField::Value => event = Some(map.next_value_seed(EventSeed(&mut *r))?),
                AnnotationField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let at = r.out.attributes.len();
        let (name, attributes) = event.unwrap_or((EMPTY, at..at));
        r.out.annotations.push(Annotation {
            timestamp,
            name,
            attributes,
        });
        Ok(())
    }
}

/// An annotation's value: the event's name and its attributes, pushed onto
/// [`Spans::attributes`] (see [`read_event`]).
struct EventSeed<'r, 'p>(&'r mut Reader<'p>);

impl<'de> DeserializeSeed<'de> for EventSeed<'_, 'de> {
    type Value = (Str<'de>, Range<usize>);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'p> EventSeed<'_, 'p> {
    /// Reads the annotation value `text`, whose pieces become texts of the batch by `at`.
    fn read(self, text: &str, at: impl Fn(usize, usize) -> Str<'p>) -> (Str<'p>, Range<usize>) {
        let r = self.0;
        let name = read_event(text, &mut r.event);
        let out = &mut r.out;
        let mut str_of = |piece: &Piece| match piece {
            Piece::At(start, end) => at(*start as usize, *end as usize),
            Piece::Own(own) => push_own(&mut out.own, own),
        };
        let name = match &name {
            Some(piece) => str_of(piece),
            None => at(0, text.len()),
        };
        let start = out.attributes.len();
        for (key, value) in &r.event {
            let key = str_of(key);
            let value = match value {
                EventValue::Bool(b) => Value::Bool(*b),
                EventValue::Int(i) => Value::Int(*i),
                EventValue::Double(d) => Value::Double(*d),
                EventValue::Str(piece) => Value::Str(str_of(piece)),
            };
            out.attributes.push((key, value));
        }
        (name, start..out.attributes.len())
    }
}

impl<'de> Visitor<'de> for EventSeed<'_, 'de> {
    type Value = (Str<'de>, Range<usize>);
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(self.read(v, |start, end| {
            Str::Payload(v.get(start..end).unwrap_or_default())
        }))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        // The value has escapes (an OpenTelemetry event annotation always has): kept in the
        // own text, its pieces ranges of that copy.
        let base = self.0.out.own.len();
        self.0.out.own.push_str(v);
        Ok(self.read(v, |start, end| Str::Own(base + start, base + end)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::batch::{KIND_CLIENT, KIND_SERVER};

    fn decoded(json: &str) -> Spans<'_> {
        decode(json.as_bytes()).unwrap()
    }

    fn error(json: &str) -> String {
        decode(json.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn escaped_text_reads_back_unescaped_and_plain_text_stays_borrowed() {
        let json = r#"[{"traceId":"a","id":"b","name":"get \"x\"","kind":"CLIENT",
            "localEndpoint":{"serviceName":"sv\u0063","ipv4":" 10.0.0.1 ","port":80},
            "tags":{"k\u0031":"v\n1","plain":"text","n":5,"f":1.5,"b":true,"z":null,"o":{"a":[1]}},
            "annotations":[{"timestamp":7,"value":"ws"},
                {"timestamp":9,"value":"{\"retry\":{\"why\":\"bu\\\"sy\",\"n\":2}}"}]}]"#;
        let spans = decoded(json);
        let mut batch = SpanBatch::new();
        fill(&spans, &mut batch);
        let span = &batch.spans[0];
        assert_eq!(span.name, "get \"x\"");
        assert_eq!(span.kind, KIND_CLIENT);
        assert_eq!(batch.resources[span.resource as usize].service, "svc");
        let attributes: Vec<_> = batch.attributes
            [span.attributes.start as usize..span.attributes.end as usize]
            .iter()
            .map(|a| (a.key, a.value))
            .collect();
        assert_eq!(
            attributes,
            [
                ("b", AnyValue::Str("true")),
                ("f", AnyValue::Str("1.5")),
                ("k1", AnyValue::Str("v\n1")),
                ("n", AnyValue::Str("5")),
                ("o", AnyValue::Str(r#"{"a":[1]}"#)),
                ("plain", AnyValue::Str("text")),
                ("z", AnyValue::Str("")),
                ("network.local.address", AnyValue::Str("10.0.0.1")),
                ("network.local.port", AnyValue::Int(80)),
            ]
        );
        let events = &batch.events[span.events.start as usize..span.events.end as usize];
        assert_eq!(events.len(), 2);
        assert_eq!((events[0].name, events[0].time_ns), ("ws", 7_000));
        assert_eq!(events[1].name, "retry");
        let event_attributes: Vec<_> = batch.attributes
            [events[1].attributes.start as usize..events[1].attributes.end as usize]
            .iter()
            .map(|a| (a.key, a.value))
            .collect();
        assert_eq!(
            event_attributes,
            [("n", AnyValue::Int(2)), ("why", AnyValue::Str("bu\"sy"))]
        );
        // Text without escapes is the payload's own.
        assert!(matches!(
            spans
                .tags
                .iter()
                .find(|t| text_of(&spans.own, t.0) == "plain"),
            Some((Str::Payload(_), Str::Payload(_)))
        ));
    }

    #[test]
    fn repeated_tags_keep_the_last_and_spans_share_the_vectors() {
        let json = r#"[{"traceId":"1","id":"2","tags":{"b":"1","a":"2","b":"3"}},
            {"traceId":"1","id":"3","shared":true,"kind":"server","tags":{"c":"4"}}]"#;
        let spans = decoded(json);
        let mut batch = SpanBatch::new();
        fill(&spans, &mut batch);
        let tags = |i: usize| -> Vec<(&str, &str)> {
            let s = &batch.spans[i];
            batch.attributes[s.attributes.start as usize..s.attributes.end as usize]
                .iter()
                .map(|a| match a.value {
                    AnyValue::Str(v) => (a.key, v),
                    _ => (a.key, "?"),
                })
                .collect()
        };
        assert_eq!(tags(0), [("a", "2"), ("b", "3")]);
        assert_eq!(tags(1), [("c", "4"), ("tracer.zipkin.shared", "?")]);
        assert_eq!(batch.spans[1].kind, KIND_SERVER);
        assert_eq!(batch.spans[1].parent_span_id, 3);
        assert_eq!(spans.tags.len(), 3);
    }

    #[test]
    fn bad_bodies_are_refused_naming_what_is_wrong() {
        // An id error names its span, but only once the body is known to be JSON.
        assert!(
            error(r#"[{"traceId":"1","id":"2"},{"traceId":"xyz","id":"2"}]"#)
                .contains("span 1: traceId \"xyz\" is not 1 to 32 hex digits")
        );
        assert!(!error(r#"[{"traceId":"xyz","id":"2"},{"traceId":"#).contains("span 0"));
        assert!(error(r#"[{"traceId":"1","id":"2","id":"3"}]"#).contains("duplicate field `id`"));
        assert!(
            error(r#"[{"traceId":"1","id":"2","annotations":[{"value":"a","value":"b"}]}]"#)
                .contains("duplicate field `value`")
        );
        assert!(error(r#"[{"traceId":"1","id":"2","timestamp":-1}]"#).contains("invalid"));
        assert!(error(r#"[{"traceId":null,"id":"2"}]"#).contains("invalid type: null"));
        assert!(error("[] x").contains("trailing characters"));
        assert!(
            decode(b"[{\"traceId\":\"1\",\"id\":\"2\",\"name\":\"\xff\"}]")
                .unwrap_err()
                .to_string()
                .contains("not UTF-8 (at byte 33)")
        );
        // Absent and null fields take their defaults; unknown ones are skipped.
        let spans = decoded(
            r#"[{"traceId":"1","id":"2","parentId":null,"name":null,"debug":null,"x":[{}]}]"#,
        );
        assert_eq!(spans.spans.len(), 1);
        assert_eq!(spans.spans[0].parent_id, None);
    }
}
