//! HTTP client spans for reqwest, as a `reqwest-middleware` 0.5 middleware.
//!
//! [`TraceMiddleware`] starts a **client span** named `{METHOD}` for each request sent, under
//! whatever context is current (the server span of the request being served, a `tracing` span,
//! ...), writes that context into the outgoing headers with
//! [`Tracer::inject`](crate::Tracer::inject) (every configured format), and ends the span when
//! the response headers arrive or the request fails.
//!
//! Attributes (semconv 1.42): `http.request.method`, `url.full` (credentials removed, sensitive
//! query values `REDACTED`), `server.address`, `server.port`, `http.response.status_code`,
//! `http.request.resend_count` on resends, and `error.type`: the status code for responses
//! `>= 400` (which are errors on the client side), else the kind of transport failure: `timeout`,
//! `connect`, `request`, `body`, `decode`, `redirect`, `builder`, or `cancelled` when the caller
//! dropped the request before it completed.
//!
//! # Retries
//! Each attempt is its own span, siblings under the same parent; resends carry
//! `http.request.resend_count` (1 for the first resend). Attempts are counted per logical request
//! with a [`RequestAttempts`] counter in the request's `Extensions`: the middleware adds one on the
//! first attempt, and a retry middleware (such as `reqwest-retry`'s, which passes the same
//! `Extensions` to every attempt) placed **before** this one finds it again:
//!
//! ```text
//! ClientBuilder::new(reqwest::Client::new())
//!     .with(RetryTransientMiddleware::new_with_policy(policy)) // outer: loops
//!     .with(TraceMiddleware::new())                            // inner: one span per attempt
//!     .build()
//! ```
//!
//! A retry loop of your own builds a new request each time: give every attempt a clone of one
//! [`RequestAttempts`] with `with_extension`.
//!
//! While the tracer is switched off no span is made, but the current context is still injected
//! (the context the server received, when the server side is off too), so the trace continues.
//!
//! ```
//! use reqwest_middleware::ClientBuilder;
//! use tracer::http::client::TraceMiddleware;
//!
//! let client = ClientBuilder::new(reqwest::Client::new())
//!     .with(TraceMiddleware::new()) // the global tracer; `.with_tracer(t)` for another
//!     .build();
//! # drop(client);
//! ```
//!
//! Counting the attempts of your own retry loop:
//!
//! ```no_run
//! # async fn demo(client: reqwest_middleware::ClientWithMiddleware) {
//! use tracer::http::client::RequestAttempts;
//!
//! let attempts = RequestAttempts::new();
//! for _ in 0..3 {
//!     let sent = client
//!         .get("http://127.0.0.1:8080/flaky")
//!         .with_extension(attempts.clone())
//!         .send()
//!         .await;
//!     if matches!(&sent, Ok(r) if r.status().is_success()) {
//!         break;
//!     }
//! }
//! # }
//! ```

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use ::http::Extensions;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use reqwest::{Request, Response, Url};
use reqwest_middleware::{Middleware, Next};

use crate::Tracer;
use crate::http::HeaderInjector;
use crate::http::attributes::{
    CANCELLED, ERROR_TYPE, HTTP_REQUEST_METHOD, HTTP_REQUEST_METHOD_ORIGINAL,
    HTTP_REQUEST_RESEND_COUNT, HTTP_RESPONSE_STATUS_CODE, OTHER, SERVER_ADDRESS, SERVER_PORT,
    URL_FULL, known_method, status_text,
};
use crate::http::redact::redact_query;
use crate::span::Fill;

/// Counts the attempts of one logical request, across the middleware calls that send it.
///
/// Clones share the count. [`TraceMiddleware`] inserts one into the request's `Extensions` when
/// there is none; add your own (`RequestBuilder::with_extension`) to count the attempts of a
/// retry loop that builds a new request each time.
#[derive(Clone, Debug, Default)]
pub struct RequestAttempts(Arc<AtomicU32>);

impl RequestAttempts {
    /// A counter at zero attempts.
    pub fn new() -> Self {
        Self::default()
    }

    /// Attempts sent so far.
    pub fn count(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }

    /// Records one more attempt; returns how many were sent before it (the resend count).
    fn next(&self) -> u32 {
        self.0.fetch_add(1, Ordering::Relaxed)
    }
}

/// The reqwest-middleware middleware that traces outgoing requests (see the
/// [module docs](self)).
#[derive(Clone, Debug)]
#[must_use]
pub struct TraceMiddleware {
    tracer: Tracer,
}

impl TraceMiddleware {
    /// Records with [`crate::global`]; built before `init()`, it records with the tracer
    /// `init()` installs, from then on.
    pub fn new() -> Self {
        Self {
            tracer: crate::global(),
        }
    }

    /// Records with `tracer` instead of the global tracer.
    pub fn with_tracer(mut self, tracer: Tracer) -> Self {
        self.tracer = tracer;
        self
    }

    /// The tracer this middleware records with.
    pub fn tracer(&self) -> &Tracer {
        &self.tracer
    }

    async fn trace(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let attempts = match extensions.get::<RequestAttempts>() {
            Some(attempts) => attempts.clone(),
            None => {
                let attempts = RequestAttempts::new();
                extensions.insert(attempts.clone());
                attempts
            }
        };
        let resend_count = attempts.next();
        let parent = Context::current();
        if !self.tracer.is_enabled() {
            self.tracer
                .inject(&parent, &mut HeaderInjector(request.headers_mut()));
            return next.run(request, extensions).await;
        }
        let name = span_name(request.method());
        let attributes = Fill(|into: &mut Vec<KeyValue>| attributes(&request, resend_count, into));
        let cx = match self
            .tracer
            .span(name, SpanKind::Client, attributes, &parent)
        {
            Some(span) => parent.with_span(span),
            None => parent,
        };
        self.tracer
            .inject(&cx, &mut HeaderInjector(request.headers_mut()));
        let mut open = OpenSpan(Some(cx.clone()));
        let result = next.run(request, extensions).with_context(cx).await;
        open.finish(&result);
        result
    }
}

impl Default for TraceMiddleware {
    fn default() -> Self {
        Self::new()
    }
}

// Written out rather than with `#[async_trait]` (what the trait's own macro expands to) to
// avoid a dependency on the `async-trait` crate for one impl.
impl Middleware for TraceMiddleware {
    fn handle<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        req: Request,
        extensions: &'life1 mut Extensions,
        next: Next<'life2>,
    ) -> Pin<Box<dyn Future<Output = reqwest_middleware::Result<Response>> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(self.trace(req, extensions, next))
    }
}

/// The client span until it ends; dropped unfinished (the caller gave up on the request, e.g. an
/// outer timeout), it ends the span as cancelled.
struct OpenSpan(Option<Context>);

impl OpenSpan {
    fn finish(&mut self, result: &reqwest_middleware::Result<Response>) {
        let Some(cx) = self.0.take() else { return };
        let span = cx.span();
        match result {
            Ok(response) => {
                let code = response.status().as_u16();
                span.set_attribute(KeyValue::new(HTTP_RESPONSE_STATUS_CODE, i64::from(code)));
                if code >= 400 {
                    span.set_attribute(KeyValue::new(ERROR_TYPE, status_text(code)));
                    span.set_status(Status::error(""));
                }
            }
            Err(error) => {
                span.set_attribute(KeyValue::new(ERROR_TYPE, error_type(error)));
                span.set_status(Status::error(error.to_string()));
            }
        }
        span.end();
    }
}

impl Drop for OpenSpan {
    fn drop(&mut self) {
        if let Some(cx) = self.0.take() {
            let span = cx.span();
            span.set_attribute(KeyValue::new(ERROR_TYPE, CANCELLED));
            span.set_status(Status::error("the request was dropped before it completed"));
            span.end();
        }
    }
}

impl fmt::Debug for OpenSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpenSpan")
    }
}

fn span_name(method: &::http::Method) -> &'static str {
    known_method(method).unwrap_or("HTTP")
}

/// The client span's attributes, pushed onto `out` (the span record's).
fn attributes(request: &Request, resend_count: u32, out: &mut Vec<KeyValue>) {
    let url = request.url();
    out.reserve(7);
    match known_method(request.method()) {
        Some(method) => out.push(KeyValue::new(HTTP_REQUEST_METHOD, method)),
        None => {
            out.push(KeyValue::new(HTTP_REQUEST_METHOD, OTHER));
            out.push(KeyValue::new(
                HTTP_REQUEST_METHOD_ORIGINAL,
                request.method().as_str().to_owned(),
            ));
        }
    }
    out.push(KeyValue::new(URL_FULL, full_url(url)));
    if let Some(host) = url.host_str() {
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        out.push(KeyValue::new(SERVER_ADDRESS, host.to_owned()));
    }
    if let Some(port) = url.port_or_known_default() {
        out.push(KeyValue::new(SERVER_PORT, i64::from(port)));
    }
    if resend_count > 0 {
        out.push(KeyValue::new(
            HTTP_REQUEST_RESEND_COUNT,
            i64::from(resend_count),
        ));
    }
}

/// `url` without `user:password@` and fragment, sensitive query values redacted.
pub fn full_url(url: &Url) -> String {
    let mut out = String::with_capacity(url.as_str().len());
    out.push_str(url.scheme());
    out.push_str("://");
    if let Some(host) = url.host_str() {
        out.push_str(host);
    }
    if let Some(port) = url.port() {
        out.push(':');
        out.push_str(&port.to_string());
    }
    out.push_str(url.path());
    if let Some(query) = url.query() {
        out.push('?');
        out.push_str(&redact_query(query));
    }
    out
}

/// `error.type` for a failed request.
fn error_type(error: &reqwest_middleware::Error) -> Cow<'static, str> {
    let reqwest_middleware::Error::Reqwest(error) = error else {
        return "middleware".into();
    };
    if error.is_timeout() {
        "timeout".into()
    } else if error.is_connect() {
        "connect".into()
    } else if let Some(status) = error.status() {
        status_text(status.as_u16())
    } else if error.is_redirect() {
        "redirect".into()
    } else if error.is_body() {
        "body".into()
    } else if error.is_decode() {
        "decode".into()
    } else if error.is_builder() {
        "builder".into()
    } else if error.is_request() {
        "request".into()
    } else {
        OTHER.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_url_drops_credentials_and_fragment_and_redacts_secrets() {
        let url = Url::parse("https://bob:hunter2@api.example.com:8443/v1/x?id=3&token=abc#frag")
            .unwrap();
        assert_eq!(
            full_url(&url),
            "https://api.example.com:8443/v1/x?id=3&token=REDACTED"
        );
        let url = Url::parse("http://[::1]/").unwrap();
        assert_eq!(full_url(&url), "http://[::1]/");
    }

    #[test]
    fn attempts_count_across_clones() {
        let attempts = RequestAttempts::new();
        assert_eq!(attempts.clone().next(), 0);
        assert_eq!(attempts.next(), 1);
        assert_eq!(attempts.count(), 2);
    }
}
