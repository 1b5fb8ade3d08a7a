//! Carriers that let the configured propagators read and write gRPC metadata.
//!
//! gRPC metadata travels as HTTP/2 headers, so a trace context crosses a gRPC hop in the same
//! headers as over HTTP (`traceparent`, `b3`, `uber-trace-id`, ...). The layers in this module
//! use these carriers themselves; use them directly when you propagate by hand, for example in a
//! tonic interceptor or when a message is re-sent from a queue. Always go through
//! [`Tracer::inject`](crate::Tracer::inject) and [`Tracer::extract`](crate::Tracer::extract),
//! never through the propagators, so that the off switch keeps forwarding the incoming context.
//!
//! ```
//! use opentelemetry::trace::{SpanKind, TraceContextExt};
//! use opentelemetry::Context;
//! use tonic::metadata::MetadataMap;
//! use tracer::grpc::{MetadataExtractor, MetadataInjector};
//!
//! let capture = tracer::testing::SpanCapture::new();
//! let tracer = capture.tracer("caller");
//! let span = tracer.span("call", SpanKind::Client, vec![], &Context::new()).unwrap();
//! let cx = Context::new().with_span(span);
//!
//! let mut metadata = MetadataMap::new();
//! tracer.inject(&cx, &mut MetadataInjector::new(&mut metadata));
//! assert!(metadata.get("traceparent").is_some());
//!
//! let incoming = tracer.extract(&MetadataExtractor::new(&metadata));
//! assert_eq!(
//!     incoming.span().span_context().trace_id(),
//!     cx.span().span_context().trace_id()
//! );
//! ```

use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector};
use tonic::metadata::MetadataMap;

/// Reads propagation fields from a [`MetadataMap`] or an [`http::HeaderMap`].
///
/// Values that are not visible ASCII (and binary `-bin` entries) are invisible to the
/// propagators, which then ignore the field.
#[derive(Clone, Copy, Debug)]
pub struct MetadataExtractor<'a>(&'a HeaderMap);

impl<'a> MetadataExtractor<'a> {
    /// Reads from tonic request or response metadata.
    pub fn new(metadata: &'a MetadataMap) -> Self {
        Self(metadata.as_ref())
    }

    /// Reads from the raw HTTP/2 headers of a gRPC request.
    pub fn from_headers(headers: &'a HeaderMap) -> Self {
        Self(headers)
    }
}

// The fields every request is asked for, pre-parsed: a lookup by `&str` parses the name.
static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
static TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
static BAGGAGE: HeaderName = HeaderName::from_static("baggage");

impl Extractor for MetadataExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let value = match key {
            "traceparent" => self.0.get(&TRACEPARENT),
            "tracestate" => self.0.get(&TRACESTATE),
            "baggage" => self.0.get(&BAGGAGE),
            _ => self.0.get(key),
        };
        value.and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let values: Vec<&str> = self
            .0
            .get_all(key)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!values.is_empty()).then_some(values)
    }
}

/// Writes propagation fields into a [`MetadataMap`] or an [`http::HeaderMap`], replacing any
/// value already there. A key or value that is not valid metadata is skipped, never a panic.
#[derive(Debug)]
pub struct MetadataInjector<'a>(&'a mut HeaderMap);

impl<'a> MetadataInjector<'a> {
    /// Writes into tonic request or response metadata.
    pub fn new(metadata: &'a mut MetadataMap) -> Self {
        Self(metadata.as_mut())
    }

    /// Writes into the raw HTTP/2 headers of a gRPC request.
    pub fn from_headers(headers: &'a mut HeaderMap) -> Self {
        Self(headers)
    }
}

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // Propagator field names are lower-case ASCII already; `from_bytes` lower-cases the
        // rest (`X-B3-TraceId`), as gRPC metadata keys must be.
        let Ok(name) = HeaderName::from_bytes(key.as_bytes()) else {
            return;
        };
        if name.as_str().ends_with("-bin") {
            return;
        }
        if let Ok(value) = HeaderValue::try_from(value) {
            self.0.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_through_metadata() {
        let mut md = MetadataMap::new();
        let mut inj = MetadataInjector::new(&mut md);
        inj.set("X-B3-TraceId", "abc".into());
        inj.set("bad key", "x".into());
        inj.set("uber-trace-id", "bad\nvalue".into());
        inj.set("sneaky-bin", "AAAA".into());
        let ex = MetadataExtractor::new(&md);
        assert_eq!(ex.get("x-b3-traceid"), Some("abc"));
        assert_eq!(ex.keys(), vec!["x-b3-traceid"]);
        assert_eq!(ex.get_all("missing"), None);
    }
}
