//! Zipkin wire models: v2 protobuf (openzipkin/zipkin-api `zipkin.proto`, package
//! `zipkin.proto3`) and v1 JSON (openzipkin/zipkin-api `zipkin-api.yaml`, with `annotations` and
//! `binaryAnnotations`). v2 JSON (`zipkin2-api.yaml`) has no model here: [`super::json_v2`]
//! reads it straight into its batch.
//!
//! These types only mirror what arrives; [`super::convert`] turns each into the one normalised
//! span the mapping to OTLP works on. Field types are lenient where clients differ: binary
//! annotation values may be any JSON scalar (they become text), unknown fields are ignored, and
//! absent fields take their default.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

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
