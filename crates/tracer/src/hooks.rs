//! The hook vocabulary shared by every server and client integration that has hooks (the HTTP
//! server layer and both gRPC layers): a [`Filter`] decides which requests get a span, a
//! [`SpanNamer`] names the span, and [`ExtraAttributes`] adds attributes of your own.
//!
//! Each trait is generic over what the integration shows of a request: `http::request::Parts`
//! for HTTP, [`CallInfo`](crate::grpc::CallInfo) for gRPC. Each has a default struct and a
//! blanket implementation for closures, so a layer takes either:
//!
//! ```
//! use tracer::hooks::{ExtraAttributes, Filter, SpanNamer, TraceAll};
//!
//! struct Path(&'static str);
//! let skip_health = |request: &Path| request.0 != "/health";
//! let name = |request: &Path| format!("GET {}", request.0);
//! let tenant = |_: &Path, out: &mut Vec<opentelemetry::KeyValue>| {
//!     out.push(opentelemetry::KeyValue::new("app.tenant", "acme"));
//! };
//!
//! assert!(!skip_health.filter(&Path("/health")));
//! assert!(Filter::<Path>::filter(&TraceAll, &Path("/health")));
//! assert_eq!(name.span_name(&Path("/users")), "GET /users");
//! let mut out = Vec::new();
//! tenant.extra_attributes(&Path("/"), &mut out);
//! assert_eq!(out.len(), 1);
//! ```
//!
//! # When each hook runs, and what sampling sees
//! For each request, in this order, on every integration:
//!
//! 1. the [`Filter`], only while the tracer is on. A request it rejects is served as if tracing
//!    were off: no span, but the incoming context still travels (a server keeps it current
//!    while the handler runs, a client injects the current context), so a skipped hop never
//!    splits a trace;
//! 2. the [`SpanNamer`], then the **sampling decision**: the sampler sees the span name, kind
//!    and parent only, never attributes (none of the configured samplers reads them);
//! 3. only when the span is sampled (it records): the built-in attributes, then
//!    [`ExtraAttributes`]. An unsampled request costs no attribute work at all, and a hook is
//!    never called for a span nobody will see.

use std::borrow::Cow;

use opentelemetry::KeyValue;

/// Decides whether a request gets a span (`true`) or is served untraced (`false`); an
/// untraced request still forwards its context (see the [module docs](self)).
pub trait Filter<R: ?Sized>: Send + Sync + 'static {
    /// Whether to trace `request`.
    fn filter(&self, request: &R) -> bool;
}

/// Names the span of a request. Keep the cardinality bounded: a route template or a method
/// name, never a raw path with ids in it.
pub trait SpanNamer<R: ?Sized>: Send + Sync + 'static {
    /// The span name for `request`.
    fn span_name(&self, request: &R) -> Cow<'static, str>;
}

/// Adds attributes of your own to a sampled span, after the built-in ones. Never copy secrets
/// (tokens, cookies, bodies) into attributes.
pub trait ExtraAttributes<R: ?Sized>: Send + Sync + 'static {
    /// Pushes extra attributes for `request` onto `attributes`.
    fn extra_attributes(&self, request: &R, attributes: &mut Vec<KeyValue>);
}

/// The filter that traces every request (the HTTP server's default).
#[derive(Clone, Copy, Debug, Default)]
pub struct TraceAll;

impl<R: ?Sized> Filter<R> for TraceAll {
    fn filter(&self, _request: &R) -> bool {
        true
    }
}

/// The default of every integration: no extra attributes.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoExtraAttributes;

impl<R: ?Sized> ExtraAttributes<R> for NoExtraAttributes {
    fn extra_attributes(&self, _request: &R, _attributes: &mut Vec<KeyValue>) {}
}

impl<R, F> Filter<R> for F
where
    R: ?Sized,
    F: Fn(&R) -> bool + Send + Sync + 'static,
{
    fn filter(&self, request: &R) -> bool {
        self(request)
    }
}

/// Closures may return a `String`, a `&'static str` or a `Cow`.
impl<R, F, N> SpanNamer<R> for F
where
    R: ?Sized,
    F: Fn(&R) -> N + Send + Sync + 'static,
    N: Into<Cow<'static, str>>,
{
    fn span_name(&self, request: &R) -> Cow<'static, str> {
        self(request).into()
    }
}

impl<R, F> ExtraAttributes<R> for F
where
    R: ?Sized,
    F: Fn(&R, &mut Vec<KeyValue>) + Send + Sync + 'static,
{
    fn extra_attributes(&self, request: &R, attributes: &mut Vec<KeyValue>) {
        self(request, attributes)
    }
}

/// Writes `get_ref`, `get_mut` and `into_inner` for a wrapper whose wrapped value is the field
/// `$field` of type `$inner`; `$what` names it in the docs ("service", "connection").
#[allow(unused_macros)] // used by the integrations, each behind its own feature
macro_rules! inner_accessors {
    ($field:ident: $inner:ty, $what:literal) => {
        #[doc = concat!("The wrapped ", $what, ".")]
        pub fn get_ref(&self) -> &$inner {
            &self.$field
        }

        #[doc = concat!(
                    "The wrapped ", $what, ", mutably: what goes through it directly is not traced."
                )]
        pub fn get_mut(&mut self) -> &mut $inner {
            &mut self.$field
        }

        #[doc = concat!("Unwraps the ", $what, ".")]
        pub fn into_inner(self) -> $inner {
            self.$field
        }
    };
}
#[allow(unused_imports)] // see the macro
pub(crate) use inner_accessors;

/// The constructor and tracer methods of a client wrapper `{ inner, tracer: Arc<Tracer> }`:
/// `new` (the global tracer), the consuming `with_tracer`, `tracer`, and the accessors of
/// [`inner_accessors`]. Used by the messaging wrappers, which are all shaped alike.
#[allow(unused_macros)] // only with the messaging features
macro_rules! traced_wrapper {
    ($inner:ty, $what:literal) => {
        #[doc = concat!("Wraps the ", $what, ", recording into [`crate::global`].")]
        pub fn new(inner: $inner) -> Self {
            Self {
                inner,
                tracer: std::sync::Arc::new(crate::global()),
            }
        }

        /// Records into `tracer` instead of the global tracer.
        #[must_use]
        pub fn with_tracer(mut self, tracer: crate::Tracer) -> Self {
            self.tracer = std::sync::Arc::new(tracer);
            self
        }

        /// The tracer spans are recorded into.
        pub fn tracer(&self) -> &crate::Tracer {
            &self.tracer
        }

        crate::hooks::inner_accessors!(inner: $inner, $what);
    };
}
#[allow(unused_imports)] // see the macro
pub(crate) use traced_wrapper;
