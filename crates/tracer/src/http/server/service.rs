//! [`TraceService`]: extracts the caller's context, starts the server span and hands the request
//! to the inner service.

use std::fmt;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use ::http::request::Parts;
use ::http::{HeaderMap, Request, Response, header};
use http_body::Body;
use opentelemetry::baggage::BaggageExt as _;
use opentelemetry::trace::{Span as _, SpanKind, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use tower::Service;

use super::body::ResponseBody;
use super::future::{ResponseFuture, Traced};
use super::hooks::matched_route;
use super::layer::{Shared, TraceLayer};
use crate::http::HeaderExtractor;
use crate::http::attributes::{
    CLIENT_ADDRESS, HTTP_REQUEST_METHOD, HTTP_REQUEST_METHOD_ORIGINAL, HTTP_ROUTE,
    NETWORK_PROTOCOL_VERSION, OTHER, SERVER_ADDRESS, SERVER_PORT, URL_PATH, URL_QUERY, URL_SCHEME,
    USER_AGENT_ORIGINAL, default_port, ip_text, known_method, protocol_version, split_authority,
};
use crate::http::redact::redact_query;
use crate::span::{Fill, LazyName};

/// A service traced by [`TraceLayer`]: one server span per request.
#[derive(Clone)]
pub struct TraceService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> TraceService<S> {
    /// Wraps `inner`, recording with the global tracer and the default hooks; for anything
    /// else build a [`TraceLayer`] and call its `layer`.
    pub fn new(inner: S) -> Self {
        use tower::Layer as _;
        TraceLayer::new().layer(inner)
    }

    pub(crate) fn from_shared(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }

    /// A [`TraceLayer`] with the global tracer, to customise and apply to services.
    pub fn layer() -> TraceLayer {
        TraceLayer::new()
    }

    crate::hooks::inner_accessors!(inner: S, "service");
}

impl<S: fmt::Debug> fmt::Debug for TraceService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceService")
            .field("inner", &self.inner)
            .field("layer", &self.shared)
            .finish()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for TraceService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: fmt::Display,
    ResBody: Body,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let shared = &self.shared;
        let (parts, body) = request.into_parts();
        let parent = shared.tracer.extract(&HeaderExtractor(&parts.headers));
        let (cx, traced) = if shared.tracer.is_enabled() && shared.filter.filter(&parts) {
            start_span(shared, &parts, parent)
        } else {
            (parent, None)
        };
        let request = Request::from_parts(parts, body);
        // Nothing to make current when no span was started and nothing came in: tracing off
        // (or the request filtered out) and no trace headers.
        let attach = traced.is_some() || cx.has_active_span() || !cx.baggage().is_empty();
        // The handler's synchronous part runs inside `call` for some services (axum builds the
        // handler future here): make the span current for it too.
        let future = {
            let _current = attach.then(|| cx.clone().attach());
            self.inner.call(request)
        };
        ResponseFuture::new(future, cx, attach, traced, shared.catch_panic)
    }
}

/// Starts the server span under `parent`; returns the context to run the handler in and, when
/// the span records, what the future needs to finish it.
fn start_span(shared: &Shared, parts: &Parts, parent: Context) -> (Context, Option<Traced>) {
    let route = matched_route(parts);
    // The attributes are built only once the span is known to record (the closure): the
    // configured samplers never look at them, and an unsampled request then costs no attribute
    // work at all.
    let name = LazyName(|| shared.namer.span_name(parts));
    let Some(span) = shared.tracer.span(
        name,
        SpanKind::Server,
        Fill(|attributes: &mut Vec<KeyValue>| request_attributes(shared, parts, route, attributes)),
        &parent,
    ) else {
        return (parent, None);
    };
    if !span.is_recording() {
        // Unsampled: keep the (non-recording) span for its context, skip everything else.
        return (parent.with_span(span), None);
    }
    let traced = Traced {
        head: parts.method == ::http::Method::HEAD,
        response_header: shared.response_header,
    };
    (parent.with_span(span), Some(traced))
}

/// The server span's attributes, from the request head, pushed onto `attributes` (the span
/// record's).
fn request_attributes(
    shared: &Shared,
    parts: &Parts,
    route: Option<&str>,
    attributes: &mut Vec<KeyValue>,
) {
    let method = known_method(&parts.method);
    let scheme = scheme(parts);
    attributes.reserve(14);
    attributes.push(KeyValue::new(HTTP_REQUEST_METHOD, method.unwrap_or(OTHER)));
    if method.is_none() {
        attributes.push(KeyValue::new(
            HTTP_REQUEST_METHOD_ORIGINAL,
            parts.method.as_str().to_owned(),
        ));
    }
    attributes.push(KeyValue::new(URL_PATH, parts.uri.path().to_owned()));
    attributes.push(KeyValue::new(URL_SCHEME, scheme));
    if let Some(route) = route {
        attributes.push(KeyValue::new(HTTP_ROUTE, route.to_owned()));
    }
    let (host, port) = server_address(parts, scheme);
    if let Some(host) = host {
        attributes.push(KeyValue::new(SERVER_ADDRESS, host.to_owned()));
    }
    if let Some(port) = port {
        attributes.push(KeyValue::new(SERVER_PORT, i64::from(port)));
    }
    if let Some(query) = parts.uri.query() {
        attributes.push(KeyValue::new(URL_QUERY, redact_query(query).into_owned()));
    }
    if let Some(version) = protocol_version(parts.version) {
        attributes.push(KeyValue::new(NETWORK_PROTOCOL_VERSION, version));
    }
    if let Some(agent) = header_str(&parts.headers, header::USER_AGENT) {
        attributes.push(KeyValue::new(USER_AGENT_ORIGINAL, agent.to_owned()));
    }
    if let Some(client) = client_address(parts) {
        attributes.push(KeyValue::new(CLIENT_ADDRESS, client));
    }
    if let Some(extra) = &shared.extra {
        extra.extra_attributes(parts, attributes);
    }
}

/// Built at compile time: `HeaderName::from_static` at run time checks every byte, per call.
const X_FORWARDED_PROTO: header::HeaderName = header::HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_FOR: header::HeaderName = header::HeaderName::from_static("x-forwarded-for");

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn scheme(parts: &Parts) -> &'static str {
    match parts.uri.scheme_str() {
        Some("https") => return "https",
        Some("http") => return "http",
        _ => {}
    }
    match header_str(&parts.headers, X_FORWARDED_PROTO) {
        Some(proto) if proto.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    }
}

/// `server.address`/`server.port` from the `Host` header (HTTP/1.1) or the URI authority
/// (HTTP/2 `:authority`); the port defaults to the scheme's.
fn server_address<'a>(parts: &'a Parts, scheme: &str) -> (Option<&'a str>, Option<u16>) {
    let authority = header_str(&parts.headers, header::HOST)
        .or_else(|| parts.uri.authority().map(|a| a.as_str()));
    match authority {
        Some(authority) => {
            let (host, port) = split_authority(authority);
            (Some(host), port.or_else(|| default_port(scheme)))
        }
        None => (None, None),
    }
}

/// `client.address`: the first `X-Forwarded-For` entry, else the peer address the server
/// recorded (axum's `ConnectInfo<SocketAddr>`, or a plain `SocketAddr` request extension).
fn client_address(parts: &Parts) -> Option<String> {
    if let Some(forwarded) = header_str(&parts.headers, X_FORWARDED_FOR) {
        let first = forwarded.split(',').next().unwrap_or("").trim();
        if !first.is_empty() {
            return Some(first.to_owned());
        }
    }
    #[cfg(feature = "axum")]
    if let Some(info) = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
    {
        return Some(ip_text(info.0.ip()));
    }
    parts
        .extensions
        .get::<std::net::SocketAddr>()
        .map(|addr| ip_text(addr.ip()))
}
