//! The gRPC layers' hooks, in the shared vocabulary of [`crate::hooks`]: every hook sees a
//! [`CallInfo`]. The defaults: [`SkipHealthChecks`], [`DefaultSpanName`],
//! [`NoExtraAttributes`](crate::hooks::NoExtraAttributes). A closure works for each, e.g.
//! `.filter(|call: &CallInfo<'_>| ...)`.

use std::borrow::Cow;

use http::HeaderMap;

use super::attributes::{RpcMethod, default_span_name};
use super::status::Side;
use crate::hooks::{Filter, SpanNamer};

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

/// The default filter of both gRPC layers: every call but the standard health checks
/// (`grpc.health.v1.Health`), which load balancers send every few seconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct SkipHealthChecks;

/// The service that [`SkipHealthChecks`] leaves untraced.
pub const HEALTH_SERVICE: &str = "grpc.health.v1.Health";

impl Filter<CallInfo<'_>> for SkipHealthChecks {
    fn filter(&self, call: &CallInfo<'_>) -> bool {
        call.method.service != HEALTH_SERVICE
    }
}

/// The default name, `package.Service/Method` (semconv).
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultSpanName;

impl SpanNamer<CallInfo<'_>> for DefaultSpanName {
    fn span_name(&self, call: &CallInfo<'_>) -> Cow<'static, str> {
        default_span_name(&call.method)
    }
}
