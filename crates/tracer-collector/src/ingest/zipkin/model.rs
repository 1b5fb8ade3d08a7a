//! Zipkin wire models: v2 JSON (openzipkin/zipkin-api `zipkin2-api.yaml`, `ListOfSpans`),
//! v2 protobuf (openzipkin/zipkin-api `zipkin.proto`, package `zipkin.proto3`) and v1 JSON
//! (openzipkin/zipkin-api `zipkin-api.yaml`, with `annotations` and `binaryAnnotations`).
//!
//! These types only mirror what arrives; [`super::convert`] turns each into the one normalised
//! span the mapping to OTLP works on. Field types are lenient where clients differ: tag and
//! binary annotation values may be any JSON scalar (they become text), unknown fields are
//! ignored, and absent fields take their default.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

/// A v2 JSON span (`Span` in `zipkin2-api.yaml`), its text borrowed from the payload where it
/// has no escapes ([`Text`]).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct JsonSpan<'a> {
    #[serde(borrow)]
    pub(crate) trace_id: Text<'a>,
    #[serde(borrow)]
    pub(crate) parent_id: Option<Text<'a>>,
    #[serde(borrow)]
    pub(crate) id: Text<'a>,
    #[serde(borrow)]
    pub(crate) kind: Option<Text<'a>>,
    #[serde(borrow)]
    pub(crate) name: Option<Text<'a>>,
    pub(crate) timestamp: Option<u64>,
    pub(crate) duration: Option<u64>,
    #[serde(borrow)]
    pub(crate) local_endpoint: Option<V2Endpoint<'a>>,
    #[serde(borrow)]
    pub(crate) remote_endpoint: Option<V2Endpoint<'a>>,
    #[serde(borrow)]
    pub(crate) annotations: Vec<JsonAnnotation<'a>>,
    /// In key order, the last of a repeated key kept (as a JSON object reads).
    #[serde(borrow, deserialize_with = "tags")]
    pub(crate) tags: Tags<'a>,
    pub(crate) debug: Option<bool>,
    pub(crate) shared: Option<bool>,
}

/// Tags as (key, value) text pairs.
pub(crate) type Tags<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

/// A v2 JSON endpoint (`Endpoint`), borrowed.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct V2Endpoint<'a> {
    #[serde(borrow)]
    pub(crate) service_name: Option<Text<'a>>,
    #[serde(borrow)]
    pub(crate) ipv4: Option<Text<'a>>,
    #[serde(borrow)]
    pub(crate) ipv6: Option<Text<'a>>,
    pub(crate) port: Option<i64>,
}

/// A v2 JSON annotation.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct JsonAnnotation<'a> {
    pub(crate) timestamp: u64,
    #[serde(borrow)]
    pub(crate) value: Text<'a>,
}

/// A JSON string, borrowed from the payload unless it holds escapes. (`Cow<str>` borrows only
/// as a field of its own, not inside an `Option`; this one borrows wherever it is.)
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Text<'a>(pub(crate) Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A tag's value as text: a string as it is, `null` empty, any other JSON value its JSON text
/// (Zipkin tags are strings; some clients send numbers or booleans).
struct TagText<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for TagText<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TagText<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(TagText(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(TagText(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(TagText(Cow::Owned(v)))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(TagText(Cow::Borrowed(if v { "true" } else { "false" })))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(TagText(Cow::Owned(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(TagText(Cow::Owned(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                // As `serde_json::Value` prints it (a float keeps its point).
                Ok(TagText(Cow::Owned(
                    serde_json::Number::from_f64(v).map_or_else(String::new, |n| n.to_string()),
                )))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(TagText(Cow::Borrowed("")))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                let value = serde_json::Value::deserialize(SeqAccessDeserializer::new(seq))?;
                Ok(TagText(Cow::Owned(value.to_string())))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let value = serde_json::Value::deserialize(MapAccessDeserializer::new(map))?;
                Ok(TagText(Cow::Owned(value.to_string())))
            }
        }
        d.deserialize_any(V)
    }
}

/// Reads a tags object into a vector, in key order with the last of a repeated key kept (what
/// a `BTreeMap` gave), without a `serde_json::Value` per tag.
fn tags<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Tags<'a>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Tags<'de>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut tags = Vec::new();
            while let Some((Text(key), TagText(value))) =
                map.next_entry::<Text<'de>, TagText<'de>>()?
            {
                if tags.is_empty() {
                    // Spans carry a dozen tags or so: one allocation instead of four growing.
                    tags.reserve(16);
                }
                tags.push((key, value));
            }
            sorted_last_wins(&mut tags);
            Ok(tags)
        }
    }
    d.deserialize_map(V)
}

/// Sorts `(key, value)` pairs by key, keeping only the last pair of a repeated key.
pub(crate) fn sorted_last_wins<K: Ord, T>(pairs: &mut Vec<(K, T)>) {
    if pairs.windows(2).all(|w| w[0].0 < w[1].0) {
        return;
    }
    // Stable: equal keys stay in arrival order, so the last of each run is the one to keep.
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut kept: Vec<(K, T)> = Vec::with_capacity(pairs.len());
    for pair in pairs.drain(..) {
        match kept.last_mut() {
            Some(last) if last.0 == pair.0 => *last = pair,
            _ => kept.push(pair),
        }
    }
    *pairs = kept;
}

/// A v1 JSON endpoint (`Endpoint`; v1 thrift endpoints are read into it too).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct JsonEndpoint {
    pub(crate) service_name: Option<String>,
    pub(crate) ipv4: Option<String>,
    pub(crate) ipv6: Option<String>,
    pub(crate) port: Option<i64>,
}

/// A v1 JSON span.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct V1Span {
    pub(crate) trace_id: String,
    pub(crate) name: Option<String>,
    pub(crate) id: String,
    pub(crate) parent_id: Option<String>,
    pub(crate) timestamp: Option<u64>,
    pub(crate) duration: Option<u64>,
    pub(crate) debug: Option<bool>,
    pub(crate) annotations: Vec<V1Annotation>,
    pub(crate) binary_annotations: Vec<V1BinaryAnnotation>,
}

/// A v1 JSON annotation (a timed event, possibly a core one such as `cs` or `sr`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct V1Annotation {
    pub(crate) timestamp: u64,
    pub(crate) value: String,
    pub(crate) endpoint: Option<JsonEndpoint>,
}

/// A v1 JSON binary annotation (a tag, or the `ca`/`sa`/`ma` address of the other side).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct V1BinaryAnnotation {
    pub(crate) key: String,
    pub(crate) value: serde_json::Value,
    pub(crate) endpoint: Option<JsonEndpoint>,
}

/// `zipkin.proto3.ListOfSpans`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ProtoListOfSpans {
    #[prost(message, repeated, tag = "1")]
    pub(crate) spans: Vec<ProtoSpan>,
}

/// `zipkin.proto3.Span`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ProtoSpan {
    #[prost(bytes = "vec", tag = "1")]
    pub(crate) trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub(crate) parent_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub(crate) id: Vec<u8>,
    /// `Kind`: 0 unspecified, 1 CLIENT, 2 SERVER, 3 PRODUCER, 4 CONSUMER.
    #[prost(int32, tag = "4")]
    pub(crate) kind: i32,
    #[prost(string, tag = "5")]
    pub(crate) name: String,
    #[prost(fixed64, tag = "6")]
    pub(crate) timestamp: u64,
    #[prost(uint64, tag = "7")]
    pub(crate) duration: u64,
    #[prost(message, optional, tag = "8")]
    pub(crate) local_endpoint: Option<ProtoEndpoint>,
    #[prost(message, optional, tag = "9")]
    pub(crate) remote_endpoint: Option<ProtoEndpoint>,
    #[prost(message, repeated, tag = "10")]
    pub(crate) annotations: Vec<ProtoAnnotation>,
    #[prost(btree_map = "string, string", tag = "11")]
    pub(crate) tags: BTreeMap<String, String>,
    #[prost(bool, tag = "12")]
    pub(crate) debug: bool,
    #[prost(bool, tag = "13")]
    pub(crate) shared: bool,
}

/// `zipkin.proto3.Endpoint`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ProtoEndpoint {
    #[prost(string, tag = "1")]
    pub(crate) service_name: String,
    #[prost(bytes = "vec", tag = "2")]
    pub(crate) ipv4: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub(crate) ipv6: Vec<u8>,
    #[prost(int32, tag = "4")]
    pub(crate) port: i32,
}

/// `zipkin.proto3.Annotation`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ProtoAnnotation {
    #[prost(fixed64, tag = "1")]
    pub(crate) timestamp: u64,
    #[prost(string, tag = "2")]
    pub(crate) value: String,
}
