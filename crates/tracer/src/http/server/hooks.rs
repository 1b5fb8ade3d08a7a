//! Hooks that customise the server span: which requests are traced, what the span is called and
//! which extra attributes it gets. Each is a small trait implemented by a `Default*`-style struct
//! and by plain closures.

use std::fmt;

use ::http::request::Parts;
use opentelemetry::KeyValue;

use crate::http::attributes::known_method;

/// Decides whether a request gets a span (`true`) or is served untraced (`false`).
///
/// An untraced request still has its incoming context attached while the handler runs, so calls
/// it makes continue the caller's trace.
///
/// ```
/// use tracer::http::server::RequestFilter;
///
/// let skip_health = |request: &http::request::Parts| request.uri.path() != "/health";
/// let request = http::Request::get("/health").body(()).unwrap().into_parts().0;
/// assert!(!skip_health.trace(&request));
/// ```
pub trait RequestFilter: Send + Sync + 'static {
    /// Whether to trace `request`.
    fn trace(&self, request: &Parts) -> bool;
}

/// The default filter: every request is traced.
#[derive(Clone, Copy, Debug, Default)]
pub struct TraceAll;

impl RequestFilter for TraceAll {
    fn trace(&self, _request: &Parts) -> bool {
        true
    }
}

impl<F> RequestFilter for F
where
    F: Fn(&Parts) -> bool + Send + Sync + 'static,
{
    fn trace(&self, request: &Parts) -> bool {
        self(request)
    }
}

/// Names the server span. `route` is the matched route template (e.g. `/users/{id}`) when the
/// router reported one; never use the raw path, whose cardinality is unbounded.
pub trait SpanNamer: Send + Sync + 'static {
    /// The span name for `request`.
    fn span_name(&self, request: &Parts, route: Option<&str>) -> String;
}

/// The semconv name: `{METHOD} {route}`, or `{METHOD}` when no route is known; `HTTP` stands for
/// a method outside the well-known set.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultSpanName;

impl SpanNamer for DefaultSpanName {
    fn span_name(&self, request: &Parts, route: Option<&str>) -> String {
        let method = known_method(&request.method).unwrap_or("HTTP");
        match route {
            Some(route) => {
                let mut name = String::with_capacity(method.len() + 1 + route.len());
                name.push_str(method);
                name.push(' ');
                name.push_str(route);
                name
            }
            None => method.to_owned(),
        }
    }
}

impl<F> SpanNamer for F
where
    F: Fn(&Parts, Option<&str>) -> String + Send + Sync + 'static,
{
    fn span_name(&self, request: &Parts, route: Option<&str>) -> String {
        self(request, route)
    }
}

/// Adds attributes of your own to the server span, from the request. Called only for sampled
/// requests. Never copy secrets (tokens, cookies, bodies) into attributes.
pub trait RequestAttributes: Send + Sync + 'static {
    /// Pushes extra attributes for `request`.
    fn attributes(&self, request: &Parts, attributes: &mut Vec<KeyValue>);
}

/// The default: no extra attributes.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoExtraAttributes;

impl RequestAttributes for NoExtraAttributes {
    fn attributes(&self, _request: &Parts, _attributes: &mut Vec<KeyValue>) {}
}

impl<F> RequestAttributes for F
where
    F: Fn(&Parts, &mut Vec<KeyValue>) + Send + Sync + 'static,
{
    fn attributes(&self, request: &Parts, attributes: &mut Vec<KeyValue>) {
        self(request, attributes)
    }
}

/// A trace header written into the response, so a caller (a browser, a load tester) can find
/// the server's trace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ResponseHeader {
    /// No header (the default).
    #[default]
    None,
    /// W3C Trace Context level 2 `traceresponse: 00-{trace id}-{server span id}-{flags}`.
    TraceResponse,
    /// The same value in a `traceparent` header.
    TraceParent,
}

impl ResponseHeader {
    pub(crate) fn name(self) -> Option<&'static str> {
        match self {
            Self::None => None,
            Self::TraceResponse => Some("traceresponse"),
            Self::TraceParent => Some("traceparent"),
        }
    }
}

pub(crate) struct DebugHook(pub(crate) &'static str);

impl fmt::Debug for DebugHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}
