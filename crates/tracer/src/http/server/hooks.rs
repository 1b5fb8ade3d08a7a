//! The HTTP server's hooks, in the shared vocabulary of [`crate::hooks`]: every hook sees the
//! request head (`http::request::Parts`); [`matched_route`] gives the route template the router
//! matched. The defaults: [`TraceAll`](crate::hooks::TraceAll), [`DefaultSpanName`],
//! [`NoExtraAttributes`](crate::hooks::NoExtraAttributes).

use std::borrow::Cow;
use std::fmt;

use ::http::request::Parts;

use crate::hooks::SpanNamer;
use crate::http::attributes::known_method;

/// The route template the router matched for `request` (axum's `MatchedPath`, e.g.
/// `/users/{id}`), if any; always `None` without the `axum` feature.
///
/// ```
/// let request = http::Request::get("/users/7").body(()).unwrap().into_parts().0;
/// assert_eq!(tracer::http::server::matched_route(&request), None); // not routed by axum
/// ```
#[cfg(feature = "axum")]
pub fn matched_route(request: &Parts) -> Option<&str> {
    request
        .extensions
        .get::<axum::extract::MatchedPath>()
        .map(axum::extract::MatchedPath::as_str)
}

/// The route template the router matched for `request`, if any; always `None` without the
/// `axum` feature.
#[cfg(not(feature = "axum"))]
pub fn matched_route(_request: &Parts) -> Option<&str> {
    None
}

/// The semconv name: `{METHOD} {route}`, or `{METHOD}` when no route is known; `HTTP` stands for
/// a method outside the well-known set. Never the raw path, whose cardinality is unbounded.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultSpanName;

impl SpanNamer<Parts> for DefaultSpanName {
    fn span_name(&self, request: &Parts) -> Cow<'static, str> {
        let method = known_method(&request.method).unwrap_or("HTTP");
        match matched_route(request) {
            Some(route) => {
                let mut name = String::with_capacity(method.len() + 1 + route.len());
                name.push_str(method);
                name.push(' ');
                name.push_str(route);
                Cow::Owned(name)
            }
            None => Cow::Borrowed(method),
        }
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
