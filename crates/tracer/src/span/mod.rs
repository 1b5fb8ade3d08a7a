//! tracer's own spans: the span an integration starts on every request, made without the
//! OpenTelemetry SDK's builder → span → data chain.
//!
//! [`Tracer::span`](crate::Tracer::span) and [`Tracer::start_span`](crate::Tracer::start_span)
//! return a [`Span`], which implements [`opentelemetry::trace::Span`], so instrumented code
//! sets attributes, adds events and links, sets the status and ends it through the
//! OpenTelemetry API, and puts it into a [`Context`](opentelemetry::Context) with
//! `cx.with_span(span)` as before. What happens underneath:
//!
//! - **Start**: one random span id (and a trace id for a new root) from a per-thread wyrand
//!   generator (`src/span/ids.rs`), the sampling decision from [`crate::Sampler`] with the
//!   SDK's exact rules (`src/span/sampling.rs`), one clock read. A sampled span writes its
//!   record once: ids, parent, name, kind, start time and the caller's attributes, into a
//!   record the export thread gave back after sending an earlier span (`src/span/pool.rs`; a
//!   new one when the pool is empty), whose attribute vector keeps its memory, so attributes
//!   given as an array or written by a [`Fill`] closure cost no allocation. An unsampled span
//!   allocates nothing: it is a span context with its own span id, so
//!   the next hop's parent id is this hop's (Trace Context Level 2), and flags and
//!   `tracestate` come from the parent as the SDK sets them, except W3C Level 2's `random`
//!   flag, which a root gets and an unsampled child keeps (the SDK's do not).
//! - **While it lives**: attributes, events and links up to the SDK's default span limits
//!   (128 each, 128 attributes per event or link), the rest counted as dropped; the status
//!   ranks Ok > Error > Unset.
//! - **End** (explicit or on drop): one clock read, then the record goes to the end hooks
//!   (the `testing` capture, synchronously) and, as one pointer, into the tracer's bounded
//!   export queue, a lock-free ring: no wake-up of the export thread per span (it is signalled
//!   once per full batch); a full queue drops and counts the span. The export thread encodes
//!   records as OTLP protobuf directly for OTLP over gRPC and HTTP/protobuf, and turns them
//!   into the SDK's `SpanData` for the other exporters (OTLP HTTP/JSON, console, a
//!   `span_exporter` given in code); then it returns the records to the pool.
//!
//! [`Tracer`](crate::Tracer) implements the OpenTelemetry `Tracer` trait with these spans, and
//! [`tracing_layer`](crate::tracing_layer) records `tracing` spans through it. Spans made with
//! the SDK tracer ([`Tracer::sdk`](crate::Tracer::sdk), the global tracer provider) still go
//! through the SDK, into the same queue and end hooks. A tracer built with a user
//! [`span_processor`](crate::TracerBuilder::span_processor) stays wholly on the SDK path, so
//! that processor's `on_start(&mut sdk::Span)` keeps being called: our records have no SDK
//! span to give it.
//!
//! ```
//! use opentelemetry::trace::{Span as _, SpanKind, TraceContextExt as _};
//! use opentelemetry::{Context, KeyValue};
//!
//! let guard = tracer::builder()
//!     .without_env()
//!     .service_name("checkout")
//!     .exporter(tracer::ExporterKind::None)
//!     .build()
//!     .unwrap();
//! let tracer = guard.tracer();
//! let attributes = vec![KeyValue::new("http.route", "/cart")];
//! let root = tracer
//!     .span("GET /cart", SpanKind::Server, attributes, &Context::new())
//!     .unwrap();
//! let cx = Context::new().with_span(root);
//! let child = tracer.span("SELECT carts", SpanKind::Client, vec![], &cx).unwrap();
//! assert_eq!(child.span_context().trace_id(), cx.span().span_context().trace_id());
//! drop(child); // ends it
//! cx.span().end();
//! ```
//!
//! With a sampler that drops the trace, the span is not recording but still has an id:
//!
//! ```
//! use opentelemetry::Context;
//! use opentelemetry::trace::{Span as _, SpanKind};
//!
//! let guard = tracer::builder()
//!     .without_env()
//!     .sampler(tracer::Sampler::AlwaysOff)
//!     .exporter(tracer::ExporterKind::None)
//!     .build()
//!     .unwrap();
//! let span = guard.tracer().span("GET /", SpanKind::Server, vec![], &Context::new()).unwrap();
//! assert!(!span.is_recording());
//! assert!(span.span_context().is_valid());
//! ```
//!
//! # Cost, and why this replaces SDK code
//!
//! The project replaces a well-kept crate's work only for a measured gain; here the figures
//! (instructions on the instrumented thread under callgrind, `benches/callgrind.rs`, SDK in the
//! same binary, the export threads keeping up; two attributes given as an array `[KeyValue; 2]`
//! in every case, which both APIs take) are:
//!
//! | span | own span | SDK with its batch processor | own / SDK |
//! |---|---|---|---|
//! | sampled root | 669 | 1,548 | 0.43x |
//! | unsampled root | 327 | 1,060 | 0.31x |
//! | unsampled root, attributes only when recording (both) | 209 | 540 | 0.39x |
//! | sampled child | 635 | 1,479 | 0.43x |
//! | unsampled child | 291 | 989 | 0.29x |
//!
//! That is 2.3–3.4x fewer instructions; by time (criterion, idle machine, three attributes)
//! a sampled span takes 192 ns against the SDK's 496 ns (0.39x), an unsampled root 33 ns against
//! 173 ns (0.19x). The 3x the project asks before replacing SDK code is met for unsampled spans
//! and approached for sampled ones; what a sampled span still costs is two clock reads, the
//! ids, the record's fields, the pool's pop and the queue's push. The SDK's behaviour
//! (sampling, limits, flags, `tracestate`, `SpanData` contents) is pinned by unit tests against
//! the SDK itself. Details, the variants tried and the commands: `docs/BENCHMARKS.md`, "One span
//! at an instrumentation point" and "Session 11".

mod ids;
mod live;
pub(crate) mod pipeline;
pub(crate) mod pool;
pub(crate) mod record;
pub(crate) mod sampling;

pub use live::Span;

use std::borrow::Cow;

use opentelemetry::KeyValue;

/// A span's starting attributes, as [`Tracer::span`](crate::Tracer::span) takes them: a
/// `Vec<KeyValue>`, an array `[KeyValue; N]`, or a closure that returns either, which is called
/// only when the span is recorded (the configured samplers never look at attributes). With a
/// closure, an unsampled span builds no attribute at all. A sampled span's attributes are moved
/// into its record, which usually comes from the span pool with room for them
/// ([`crate::span`]): an array (of keys and values that are `&'static str` or numbers) then
/// costs no allocation at all.
///
/// ```
/// use opentelemetry::trace::{Span as _, SpanKind};
/// use opentelemetry::{Context, KeyValue};
///
/// let guard = tracer::builder()
///     .without_env()
///     .sampler(tracer::Sampler::AlwaysOff)
///     .exporter(tracer::ExporterKind::None)
///     .build()
///     .unwrap();
/// let path = String::from("/orders/7");
/// let span = guard.tracer().span(
///     "GET /orders/{id}",
///     SpanKind::Server,
///     || [KeyValue::new("url.path", path.clone())], // not called: unsampled
///     &Context::new(),
/// );
/// assert!(!span.unwrap().is_recording());
/// ```
pub trait Attributes {
    /// The attributes, built now.
    fn into_attributes(self) -> Vec<KeyValue>;

    /// Appends the attributes, built now, to `into` (a span record's vector, which may hold
    /// memory from an earlier span).
    #[inline]
    fn write_into(self, into: &mut Vec<KeyValue>)
    where
        Self: Sized,
    {
        let mut attributes = self.into_attributes();
        if into.capacity() >= attributes.len() || attributes.capacity() == 0 {
            into.append(&mut attributes);
        } else {
            // No room: the caller's vector becomes the record's, rather than a copy.
            std::mem::swap(into, &mut attributes);
            into.append(&mut attributes);
        }
    }
}

impl Attributes for Vec<KeyValue> {
    #[inline]
    fn into_attributes(self) -> Vec<KeyValue> {
        self
    }
}

impl<const N: usize> Attributes for [KeyValue; N] {
    #[inline]
    fn into_attributes(self) -> Vec<KeyValue> {
        Vec::from(self)
    }

    #[inline]
    fn write_into(self, into: &mut Vec<KeyValue>) {
        into.extend(self);
    }
}

impl<F, A> Attributes for F
where
    F: FnOnce() -> A,
    A: Attributes,
{
    #[inline]
    fn into_attributes(self) -> Vec<KeyValue> {
        self().into_attributes()
    }

    #[inline]
    fn write_into(self, into: &mut Vec<KeyValue>) {
        self().write_into(into);
    }
}

/// A span's name, as [`Tracer::span`](crate::Tracer::span) takes it: anything that converts
/// into a `Cow<'static, str>` (a `&'static str`, a `String`, a `Cow`), or a [`LazyName`],
/// which builds it only when the span is recorded.
pub trait SpanName {
    /// The name, built now.
    fn into_name(self) -> Cow<'static, str>;
}

impl<T: Into<Cow<'static, str>>> SpanName for T {
    #[inline]
    fn into_name(self) -> Cow<'static, str> {
        self.into()
    }
}

/// A span name made by a closure that is called only when the span is recorded: an unsampled
/// span then formats no name (a name such as `GET /orders/{id}` is a new string per request).
///
/// ```
/// use opentelemetry::Context;
/// use opentelemetry::trace::SpanKind;
/// use tracer::span::LazyName;
///
/// let guard = tracer::builder()
///     .without_env()
///     .sampler(tracer::Sampler::AlwaysOff)
///     .exporter(tracer::ExporterKind::None)
///     .build()
///     .unwrap();
/// let route = "/orders/{id}";
/// let name = LazyName(|| format!("GET {route}").into()); // not called: unsampled
/// let span = guard.tracer().span(name, SpanKind::Server, vec![], &Context::new());
/// assert!(span.is_some());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct LazyName<F>(pub F);

impl<F: FnOnce() -> Cow<'static, str>> SpanName for LazyName<F> {
    #[inline]
    fn into_name(self) -> Cow<'static, str> {
        (self.0)()
    }
}

/// Attributes written by a closure straight into the span's record (an [`Attributes`]), called
/// only when the span records: for a number of attributes known only at run time, without a
/// vector of the caller's own. The closure pushes onto the vector it is given, which is empty
/// and usually has room from an earlier span ([`crate::span`]).
///
/// ```
/// use opentelemetry::trace::{Span as _, SpanKind};
/// use opentelemetry::{Context, KeyValue};
/// use tracer::span::Fill;
///
/// let guard = tracer::builder()
///     .without_env()
///     .exporter(tracer::ExporterKind::None)
///     .build()
///     .unwrap();
/// let query = Some("page=2");
/// let span = guard.tracer().span(
///     "GET /orders",
///     SpanKind::Server,
///     Fill(|attributes: &mut Vec<KeyValue>| {
///         attributes.push(KeyValue::new("url.path", "/orders"));
///         if let Some(query) = query {
///             attributes.push(KeyValue::new("url.query", query.to_owned()));
///         }
///     }),
///     &Context::new(),
/// );
/// assert!(span.unwrap().is_recording());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Fill<F>(pub F);

impl<F: FnOnce(&mut Vec<KeyValue>)> Attributes for Fill<F> {
    #[inline]
    fn into_attributes(self) -> Vec<KeyValue> {
        let mut attributes = Vec::new();
        (self.0)(&mut attributes);
        attributes
    }

    #[inline]
    fn write_into(self, into: &mut Vec<KeyValue>) {
        (self.0)(into);
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests;
