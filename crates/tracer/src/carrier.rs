//! Carriers that let the propagators read and write HTTP headers, shared by the HTTP and gRPC
//! integrations (gRPC metadata travels as HTTP/2 headers).
//!
//! Always pass them to [`Tracer::inject`](crate::Tracer::inject) and
//! [`Tracer::extract`](crate::Tracer::extract), never to the propagators directly, so that the
//! off switch keeps forwarding the incoming context.
//!
//! ```
//! use http::HeaderMap;
//! use opentelemetry::propagation::{Extractor, Injector};
//! use tracer::carrier::{HeaderExtractor, HeaderInjector};
//!
//! let mut headers = HeaderMap::new();
//! HeaderInjector(&mut headers).set("X-B3-TraceId", "80f198ee56343ba864fe8b2a57d3eff7".into());
//! assert_eq!(
//!     HeaderExtractor(&headers).get("x-b3-traceid"),
//!     Some("80f198ee56343ba864fe8b2a57d3eff7")
//! );
//! ```

use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector};

// The fields read on every request, pre-parsed: a lookup by `&str` parses the name each time.
static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
static TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
static BAGGAGE: HeaderName = HeaderName::from_static("baggage");

/// Reads propagation fields from an [`http::HeaderMap`]. Values that are not visible ASCII are
/// invisible to the propagators, which then ignore the field.
#[derive(Clone, Copy, Debug)]
pub struct HeaderExtractor<'a>(pub &'a HeaderMap);

/// The pre-parsed name of `key` when it is one of the fields on every request.
#[inline]
fn known(key: &str) -> Option<&'static HeaderName> {
    match key {
        "traceparent" => Some(&TRACEPARENT),
        "tracestate" => Some(&TRACESTATE),
        "baggage" => Some(&BAGGAGE),
        _ => None,
    }
}

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let value = match known(key) {
            Some(name) => self.0.get(name),
            None => self.0.get(key),
        };
        value.and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let all = match known(key) {
            Some(name) => self.0.get_all(name),
            None => self.0.get_all(key),
        };
        let values: Vec<&str> = all.iter().filter_map(|v| v.to_str().ok()).collect();
        (!values.is_empty()).then_some(values)
    }
}

/// Writes propagation fields into an [`http::HeaderMap`], replacing any value already there.
/// A name or value that is not valid header text (or a binary `-bin` gRPC key) is skipped,
/// never a panic.
#[derive(Debug)]
pub struct HeaderInjector<'a>(pub &'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let name = match known(key) {
            Some(name) => name.clone(),
            // `from_bytes` lower-cases (`X-B3-TraceId`), as HTTP/2 and gRPC metadata keys must be.
            None => match HeaderName::from_bytes(key.as_bytes()) {
                Ok(name) if !name.as_str().ends_with("-bin") => name,
                _ => return,
            },
        };
        if let Ok(value) = HeaderValue::try_from(value) {
            self.0.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_bad_fields_are_skipped() {
        let mut map = HeaderMap::new();
        HeaderInjector(&mut map).set("X-B3-TraceId", "abc".into());
        HeaderInjector(&mut map).set("bad header", "x".into());
        HeaderInjector(&mut map).set("uber-trace-id", "bad\nvalue".into());
        HeaderInjector(&mut map).set("sneaky-bin", "AAAA".into());
        let ex = HeaderExtractor(&map);
        assert_eq!(ex.get("x-b3-traceid"), Some("abc"));
        assert_eq!(ex.keys(), vec!["x-b3-traceid"]);
        assert_eq!(ex.get_all("missing"), None);
    }
}
