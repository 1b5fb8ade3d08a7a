//! Customisation hooks shared by the server and the client layer: which calls to trace, how to
//! name their spans, and extra attributes. Each hook is a small trait with a `Default*` struct
//! and a blanket implementation for closures, so `.filter(|call: &CallInfo<'_>| ...)` works.

use std::borrow::Cow;

use http::HeaderMap;
use opentelemetry::KeyValue;

use super::attributes::{RpcMethod, default_span_name};
use super::status::Side;

/// What the hooks see of a call when it starts.
#[derive(Clone, Copy, Debug)]
pub struct CallInfo<'a> {
    /// The method called.
    pub method: RpcMethod<'a>,
    /// The request headers (gRPC metadata), before tracer adds its own on the client.
    pub headers: &'a HeaderMap,
    /// Whether the span would be the server's or the client's.
    pub side: Side,
}

/// Decides whether a call gets a span. A call that is not traced passes through untouched:
/// no span, no context attached or injected.
pub trait CallFilter: Send + Sync + 'static {
    /// `true` to trace `call`.
    fn should_trace(&self, call: &CallInfo<'_>) -> bool;
}

/// The default filter: every call but the standard health checks (`grpc.health.v1.Health`),
/// which load balancers send every few seconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultFilter;

/// The service that [`DefaultFilter`] leaves untraced.
pub const HEALTH_SERVICE: &str = "grpc.health.v1.Health";

impl CallFilter for DefaultFilter {
    fn should_trace(&self, call: &CallInfo<'_>) -> bool {
        call.method.service != HEALTH_SERVICE
    }
}

impl<F> CallFilter for F
where
    F: Fn(&CallInfo<'_>) -> bool + Send + Sync + 'static,
{
    fn should_trace(&self, call: &CallInfo<'_>) -> bool {
        self(call)
    }
}

/// Names the span of a call.
pub trait SpanNamer: Send + Sync + 'static {
    /// The span name for `call`.
    fn span_name(&self, call: &CallInfo<'_>) -> Cow<'static, str>;
}

/// The default name, `package.Service/Method` (semconv).
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultSpanName;

impl SpanNamer for DefaultSpanName {
    fn span_name(&self, call: &CallInfo<'_>) -> Cow<'static, str> {
        default_span_name(&call.method)
    }
}

impl<F> SpanNamer for F
where
    F: Fn(&CallInfo<'_>) -> Cow<'static, str> + Send + Sync + 'static,
{
    fn span_name(&self, call: &CallInfo<'_>) -> Cow<'static, str> {
        self(call)
    }
}

/// Adds attributes to a span when the call starts (they are then visible to the sampler).
pub trait RequestAttributes: Send + Sync + 'static {
    /// Pushes extra attributes for `call`.
    fn on_request(&self, call: &CallInfo<'_>, attributes: &mut Vec<KeyValue>);
}

/// The default: no extra attributes.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultAttributes;

impl RequestAttributes for DefaultAttributes {
    fn on_request(&self, _call: &CallInfo<'_>, _attributes: &mut Vec<KeyValue>) {}
}

impl<F> RequestAttributes for F
where
    F: Fn(&CallInfo<'_>, &mut Vec<KeyValue>) + Send + Sync + 'static,
{
    fn on_request(&self, call: &CallInfo<'_>, attributes: &mut Vec<KeyValue>) {
        self(call, attributes)
    }
}
