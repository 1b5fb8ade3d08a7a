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
use opentelemetry::propagation::{Extractor, Injector};
use tonic::metadata::MetadataMap;

use crate::carrier::{HeaderExtractor, HeaderInjector};

/// Reads propagation fields from a [`MetadataMap`] or an [`http::HeaderMap`] (see
/// [`HeaderExtractor`], which does the reading).
#[derive(Clone, Copy, Debug)]
pub struct MetadataExtractor<'a>(HeaderExtractor<'a>);

impl<'a> MetadataExtractor<'a> {
    /// Reads from tonic request or response metadata.
    pub fn new(metadata: &'a MetadataMap) -> Self {
        Self(HeaderExtractor(metadata.as_ref()))
    }

    /// Reads from the raw HTTP/2 headers of a gRPC request.
    pub fn from_headers(headers: &'a HeaderMap) -> Self {
        Self(HeaderExtractor(headers))
    }
}

impl Extractor for MetadataExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        self.0.get_all(key)
    }
}

/// Writes propagation fields into a [`MetadataMap`] or an [`http::HeaderMap`] (see
/// [`HeaderInjector`]: invalid and binary `-bin` keys are skipped, never a panic).
#[derive(Debug)]
pub struct MetadataInjector<'a>(HeaderInjector<'a>);

impl<'a> MetadataInjector<'a> {
    /// Writes into tonic request or response metadata.
    pub fn new(metadata: &'a mut MetadataMap) -> Self {
        Self(HeaderInjector(metadata.as_mut()))
    }

    /// Writes into the raw HTTP/2 headers of a gRPC request.
    pub fn from_headers(headers: &'a mut HeaderMap) -> Self {
        Self(HeaderInjector(headers))
    }
}

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.set(key, value);
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
        inj.set("sneaky-bin", "AAAA".into());
        let ex = MetadataExtractor::new(&md);
        assert_eq!(ex.get("x-b3-traceid"), Some("abc"));
        assert_eq!(ex.keys(), vec!["x-b3-traceid"]);
    }
}
