//! Attribute names (OpenTelemetry RPC semantic conventions 1.42, gRPC flavour; defined once in
//! [`crate::semconv`]) and the choice of stable or legacy names.
//!
//! Since semconv 1.38 the RPC conventions changed: `rpc.system` became `rpc.system.name`,
//! `rpc.service` folded into a fully-qualified `rpc.method` (`package.Service/Method`), and the
//! integer `rpc.grpc.status_code` became the string `rpc.response.status_code` (`OK`,
//! `DEADLINE_EXCEEDED`, ...). tracer emits the stable names; [`Semconv`] opts into the old ones
//! too for backends that still read them.

use std::borrow::Cow;

use opentelemetry::KeyValue;
use tonic::Code;

use super::status::code_name;

pub use crate::semconv::{
    ERROR_TYPE, EXCEPTION_EVENT, EXCEPTION_MESSAGE, EXCEPTION_TYPE, LEGACY_RPC_GRPC_STATUS_CODE,
    LEGACY_RPC_SERVICE, LEGACY_RPC_SYSTEM, RPC_METHOD, RPC_RESPONSE_STATUS_CODE, RPC_SYSTEM_NAME,
    SERVER_ADDRESS, SERVER_PORT, TRACER_RPC_MESSAGE_EVENT, TRACER_RPC_MESSAGE_ID,
    TRACER_RPC_MESSAGE_SIZE, TRACER_RPC_MESSAGE_TYPE, TRACER_RPC_MESSAGES_RECEIVED,
    TRACER_RPC_MESSAGES_SENT, TRACER_RPC_REQUEST_TIMEOUT_MS,
};

/// Which attribute names to emit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Semconv {
    /// Stable names only: `rpc.system.name`, `rpc.method` (fully qualified),
    /// `rpc.response.status_code`. The default.
    #[default]
    Stable,
    /// Stable names plus the legacy `rpc.system`, `rpc.service` and integer
    /// `rpc.grpc.status_code` (like `OTEL_SEMCONV_STABILITY_OPT_IN=rpc/dup`). `rpc.method` is
    /// one key with one value, so it keeps the stable, fully-qualified form; legacy readers find
    /// the service in `rpc.service`.
    Duplicate,
    /// Legacy names only (`rpc.system`, `rpc.service`, short `rpc.method`,
    /// `rpc.grpc.status_code`), plus `rpc.response.status_code` and `error.type`.
    Legacy,
}

impl Semconv {
    fn stable(self) -> bool {
        self != Self::Legacy
    }

    fn legacy(self) -> bool {
        self != Self::Stable
    }
}

/// The method of a call, split from its request path `/package.Service/Method`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RpcMethod<'a> {
    /// The request path as received, e.g. `/test.v1.Echo/Unary`.
    pub path: &'a str,
    /// `package.Service`, empty when the path has no service part.
    pub service: &'a str,
    /// `Method`, empty when the path has no method part.
    pub method: &'a str,
}

impl<'a> RpcMethod<'a> {
    /// Splits a request path. A path that is not `/service/method` keeps its text in `service`
    /// with an empty `method`.
    pub fn from_path(path: &'a str) -> Self {
        let trimmed = path.strip_prefix('/').unwrap_or(path);
        match trimmed.rsplit_once('/') {
            Some((service, method)) => Self {
                path,
                service,
                method,
            },
            None => Self {
                path,
                service: trimmed,
                method: "",
            },
        }
    }

    /// `package.Service/Method`: the span name and the stable `rpc.method`.
    pub fn full_name(&self) -> &'a str {
        self.path.strip_prefix('/').unwrap_or(self.path)
    }
}

/// The attributes known when a call starts, pushed onto `attrs` (the span record's).
pub(crate) fn start_attributes(
    semconv: Semconv,
    method: &RpcMethod<'_>,
    address: Option<(&str, Option<u16>)>,
    timeout_ms: Option<i64>,
    attrs: &mut Vec<KeyValue>,
) {
    attrs.reserve(8);
    if semconv.stable() {
        attrs.push(KeyValue::new(RPC_SYSTEM_NAME, "grpc"));
        attrs.push(KeyValue::new(RPC_METHOD, method.full_name().to_owned()));
    }
    if semconv.legacy() {
        attrs.push(KeyValue::new(LEGACY_RPC_SYSTEM, "grpc"));
        attrs.push(KeyValue::new(LEGACY_RPC_SERVICE, method.service.to_owned()));
        if !semconv.stable() {
            attrs.push(KeyValue::new(RPC_METHOD, method.method.to_owned()));
        }
    }
    if let Some((host, port)) = address {
        attrs.push(KeyValue::new(SERVER_ADDRESS, host.to_owned()));
        if let Some(port) = port {
            attrs.push(KeyValue::new(SERVER_PORT, i64::from(port)));
        }
    }
    if let Some(ms) = timeout_ms {
        attrs.push(KeyValue::new(TRACER_RPC_REQUEST_TIMEOUT_MS, ms));
    }
}

/// The attributes that record the outcome `code`, and whether it is an error.
pub(crate) fn end_attributes(semconv: Semconv, code: Code, error: bool) -> Vec<KeyValue> {
    let name = code_name(code);
    let mut attrs = Vec::with_capacity(3);
    attrs.push(KeyValue::new(RPC_RESPONSE_STATUS_CODE, name));
    if semconv.legacy() {
        attrs.push(KeyValue::new(LEGACY_RPC_GRPC_STATUS_CODE, code as i64));
    }
    if error {
        attrs.push(KeyValue::new(ERROR_TYPE, name));
    }
    attrs
}

/// The host and port of a request URI's authority, IPv6 brackets removed.
pub(crate) fn uri_address(uri: &http::Uri) -> Option<(&str, Option<u16>)> {
    let host = uri.host()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    Some((host, uri.port_u16()))
}

/// The span name for a call: `package.Service/Method`.
pub(crate) fn default_span_name(method: &RpcMethod<'_>) -> Cow<'static, str> {
    Cow::Owned(method.full_name().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_service_and_method() {
        let m = RpcMethod::from_path("/test.v1.Echo/Unary");
        assert_eq!((m.service, m.method), ("test.v1.Echo", "Unary"));
        assert_eq!(m.full_name(), "test.v1.Echo/Unary");
        let odd = RpcMethod::from_path("/nothing");
        assert_eq!((odd.service, odd.method), ("nothing", ""));
    }

    #[test]
    fn legacy_names_are_opt_in() {
        let m = RpcMethod::from_path("/a.B/C");
        let keys = |s| {
            let mut attributes = Vec::new();
            start_attributes(s, &m, None, None, &mut attributes);
            attributes
                .into_iter()
                .map(|kv| format!("{}={}", kv.key, kv.value))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            keys(Semconv::Stable),
            ["rpc.system.name=grpc", "rpc.method=a.B/C"]
        );
        assert_eq!(
            keys(Semconv::Duplicate),
            [
                "rpc.system.name=grpc",
                "rpc.method=a.B/C",
                "rpc.system=grpc",
                "rpc.service=a.B"
            ]
        );
        assert_eq!(
            keys(Semconv::Legacy),
            ["rpc.system=grpc", "rpc.service=a.B", "rpc.method=C"]
        );
    }

    #[test]
    fn ipv6_hosts_lose_their_brackets() {
        let uri: http::Uri = "http://[::1]:50051/a.B/C".parse().unwrap();
        assert_eq!(uri_address(&uri), Some(("::1", Some(50051))));
    }
}
