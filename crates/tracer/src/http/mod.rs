//! HTTP instrumentation: a tower server layer and a reqwest client middleware.
//!
//! An HTTP hop is two spans: the caller's **client** span (`{METHOD}`) and the callee's
//! **server** span (`{METHOD} {route}`), joined by trace-context headers that the client writes
//! with [`Tracer::inject`](crate::Tracer::inject) and the server reads back with
//! [`Tracer::extract`](crate::Tracer::extract), in every format the tracer is configured with
//! (W3C, B3 single or multi, Jaeger). Both sides follow the stable OpenTelemetry HTTP semantic
//! conventions (semconv 1.42): the attribute names are the constants in [`attributes`].
//!
//! - `server` (feature `tower`, route templates with `axum`): a tower `Layer` for axum 0.8
//!   routers and any hyper/tower service. The span is current while the handler runs and ends
//!   when the response body has been sent.
//! - `client` (feature `reqwest`): a `reqwest-middleware` 0.5 middleware; retries show as
//!   sibling spans counted by `http.request.resend_count`.
//!
//! Secrets never reach a span: URL credentials are dropped and the values of sensitive query
//! parameters are replaced by `REDACTED` ([`redact`]). While a tracer is switched off neither
//! side records anything, yet the incoming context is still attached on the server and injected
//! by the client, so a silent hop never splits a trace.

pub mod attributes;
#[cfg(feature = "reqwest")]
pub mod client;
pub mod redact;
#[cfg(feature = "tower")]
pub mod server;

use ::http::HeaderMap;
use ::http::header::{HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector};

/// Reads propagation headers from an [`http::HeaderMap`].
#[derive(Debug)]
pub struct HeaderExtractor<'a>(pub &'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
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

/// Writes propagation headers into an [`http::HeaderMap`], replacing any
/// value already there; names or values that are not valid header text are skipped.
#[derive(Debug)]
pub struct HeaderInjector<'a>(pub &'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_through_extractor_and_injector() {
        let mut map = HeaderMap::new();
        HeaderInjector(&mut map).set("X-B3-TraceId", "abc".into());
        HeaderInjector(&mut map).set("bad header", "x".into());
        let ex = HeaderExtractor(&map);
        assert_eq!(ex.get("x-b3-traceid"), Some("abc"));
        assert_eq!(ex.keys(), vec!["x-b3-traceid"]);
        assert_eq!(ex.get_all("missing"), None);
    }
}
