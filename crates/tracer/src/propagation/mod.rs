//! Context propagation: how a trace id crosses process boundaries.
//!
//! A propagator writes the current span context (and baggage) into outgoing headers and reads it
//! back on the other side. Services written in different stacks speak different header formats,
//! so tracer ships the common ones and lets `OTEL_PROPAGATORS` pick the set:
//!
//! | name | headers | module |
//! |---|---|---|
//! | `tracecontext` | `traceparent`, `tracestate` | [`w3c`] |
//! | `baggage` | `baggage` | [`baggage`] |
//! | `b3` | `b3` | [`b3`] |
//! | `b3multi` | `X-B3-*` | [`b3`] |
//! | `jaeger` | `uber-trace-id`, `uberctx-*` | [`jaeger`] |
//! | `none` | nothing | |
//!
//! [`Propagators`] combines the chosen set: injection writes every configured format, extraction
//! takes the span context from the first format (in configured order) that carries a valid one and
//! merges baggage from all of them. Malformed headers are ignored, never a panic.
//!
//! ```
//! use std::collections::HashMap;
//! use tracer::propagation::Propagators;
//!
//! let propagators = Propagators::parse("tracecontext,b3").unwrap();
//! let mut headers = HashMap::new();
//! headers.insert("b3".to_string(), "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1".to_string());
//! let cx = propagators.extract(&headers);
//! let mut out = HashMap::new();
//! propagators.inject(&cx, &mut out);
//! assert_eq!(out["traceparent"], "00-80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-01");
//! ```

pub mod b3;
pub mod baggage;
mod hex;
pub mod jaeger;
pub mod w3c;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use baggage::BaggagePropagator;
use opentelemetry::Context;
use opentelemetry::baggage::{Baggage, BaggageExt};
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags, TraceState};

use b3::B3Debug;
pub use b3::{B3Encoding, B3Propagator};
pub use jaeger::JaegerPropagator;
pub use w3c::TraceContextPropagator;

/// One entry of `OTEL_PROPAGATORS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PropagatorKind {
    /// W3C `traceparent`/`tracestate`.
    TraceContext,
    /// W3C `baggage`.
    Baggage,
    /// B3 single header.
    B3,
    /// B3 multi header.
    B3Multi,
    /// Jaeger `uber-trace-id`.
    Jaeger,
}

impl PropagatorKind {
    /// The accepted names, as listed in error messages.
    pub const ACCEPTED: &'static str = "tracecontext, baggage, b3, b3multi, jaeger, none";

    /// The name used in `OTEL_PROPAGATORS`.
    pub fn name(self) -> &'static str {
        match self {
            Self::TraceContext => "tracecontext",
            Self::Baggage => "baggage",
            Self::B3 => "b3",
            Self::B3Multi => "b3multi",
            Self::Jaeger => "jaeger",
        }
    }

    fn carries_span_context(self) -> bool {
        self != Self::Baggage
    }

    fn build(self) -> Box<dyn TextMapPropagator + Send + Sync> {
        match self {
            Self::TraceContext => Box::new(TraceContextPropagator::new()),
            Self::Baggage => Box::new(BaggagePropagator::new()),
            Self::B3 => Box::new(B3Propagator::single()),
            Self::B3Multi => Box::new(B3Propagator::multi()),
            Self::Jaeger => Box::new(JaegerPropagator::new()),
        }
    }
}

impl FromStr for PropagatorKind {
    type Err = UnknownPropagator;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "tracecontext" => Ok(Self::TraceContext),
            "baggage" => Ok(Self::Baggage),
            "b3" => Ok(Self::B3),
            "b3multi" => Ok(Self::B3Multi),
            "jaeger" => Ok(Self::Jaeger),
            _ => Err(UnknownPropagator(s.trim().to_owned())),
        }
    }
}

/// A propagator name that is not one of [`PropagatorKind::ACCEPTED`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown propagator {0:?}, accepted: {accepted}", accepted = PropagatorKind::ACCEPTED)]
pub struct UnknownPropagator(pub String);

/// The configured set of propagators, used by every integration; cheap to clone.
#[derive(Clone)]
pub struct Propagators {
    inner: Arc<Inner>,
}

struct Inner {
    kinds: Vec<PropagatorKind>,
    propagators: Vec<Box<dyn TextMapPropagator + Send + Sync>>,
    fields: Vec<String>,
}

impl Propagators {
    /// Builds the set from kinds, in order; duplicates are kept once. An empty list is `none`.
    pub fn new(kinds: impl IntoIterator<Item = PropagatorKind>) -> Self {
        let mut unique: Vec<PropagatorKind> = Vec::new();
        for kind in kinds {
            if !unique.contains(&kind) {
                unique.push(kind);
            }
        }
        let propagators: Vec<_> = unique.iter().map(|k| k.build()).collect();
        let fields = propagators
            .iter()
            .flat_map(|p| p.fields().map(str::to_owned))
            .collect();
        Self {
            inner: Arc::new(Inner {
                kinds: unique,
                propagators,
                fields,
            }),
        }
    }

    /// Parses an `OTEL_PROPAGATORS` value: a comma list of names; `none` alone disables
    /// propagation; blank entries are skipped.
    pub fn parse(list: &str) -> Result<Self, UnknownPropagator> {
        let mut kinds = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name.eq_ignore_ascii_case("none") {
                continue;
            }
            kinds.push(name.parse()?);
        }
        Ok(Self::new(kinds))
    }

    /// No propagation at all.
    pub fn none() -> Self {
        Self::new([])
    }

    /// The kinds in this set, in order.
    pub fn kinds(&self) -> &[PropagatorKind] {
        &self.inner.kinds
    }

    /// Reads a context from `extractor`, starting from an empty context.
    pub fn extract(&self, extractor: &dyn Extractor) -> Context {
        self.extract_with_context(&Context::new(), extractor)
    }

    /// Writes `cx` into `injector` in every configured format.
    pub fn inject(&self, cx: &Context, injector: &mut dyn Injector) {
        self.inject_context(cx, injector);
    }
}

impl Default for Propagators {
    /// `tracecontext,baggage`, the OpenTelemetry default.
    fn default() -> Self {
        Self::new([PropagatorKind::TraceContext, PropagatorKind::Baggage])
    }
}

impl fmt::Debug for Propagators {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Propagators")
            .field(&self.inner.kinds)
            .finish()
    }
}

impl TextMapPropagator for Propagators {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        for p in &self.inner.propagators {
            p.inject_context(cx, injector);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let mut out = cx.clone();
        let mut found = false;
        for (&kind, p) in self.inner.kinds.iter().zip(&self.inner.propagators) {
            if kind.carries_span_context() && found {
                // The span context is taken; keep only what else this format carries (baggage).
                let extra = p.extract_with_context(&Context::new(), extractor);
                if !extra.baggage().is_empty() {
                    out = merge_baggage(&out, extra.baggage());
                }
                out = borrow_extras(out, &extra);
                continue;
            }
            if kind.carries_span_context() {
                let before = out.span().span_context().clone();
                out = p.extract_with_context(&out, extractor);
                found = *out.span().span_context() != before;
            } else {
                out = p.extract_with_context(&out, extractor);
            }
        }
        out
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.inner.fields)
    }
}

/// The values of header `name`, every field line (an extractor without `get_all` gives one).
/// Asks `get` first: most requests carry no such header, and a look-up is cheaper than
/// `get_all`'s collected list (in the HTTP bench, two absent headers cost 380 instructions
/// less a request this way).
pub(crate) fn field_lines<'a>(extractor: &'a dyn Extractor, name: &str) -> Vec<&'a str> {
    let Some(first) = extractor.get(name) else {
        return Vec::new();
    };
    extractor.get_all(name).unwrap_or_else(|| vec![first])
}

/// Only B3 carries its debug flag and only W3C its trace state and `random` flag: when a later
/// format names the same span as the one taken, keep what it adds, so the next hop gets it again.
fn borrow_extras(out: Context, later: &Context) -> Context {
    let (taken, other) = (
        out.span().span_context().clone(),
        later.span().span_context().clone(),
    );
    if taken.trace_id() != other.trace_id() || taken.span_id() != other.span_id() {
        return out;
    }
    let mut out = out;
    let state = if *taken.trace_state() == TraceState::NONE {
        other.trace_state()
    } else {
        taken.trace_state()
    };
    let flags = taken.trace_flags().to_u8() | (other.trace_flags().to_u8() & w3c::RANDOM.to_u8());
    if state != taken.trace_state() || flags != taken.trace_flags().to_u8() {
        out = out.with_remote_span_context(SpanContext::new(
            taken.trace_id(),
            taken.span_id(),
            TraceFlags::new(flags),
            taken.is_remote(),
            state.clone(),
        ));
    }
    if let Some(received) = later.get::<w3c::Received>()
        && out.get::<w3c::Received>().is_none()
    {
        // A `tracestate` with keys only Level 2 allows, as received.
        out = out.with_value(received.clone());
    }
    if later.get::<B3Debug>().is_some() && out.get::<B3Debug>().is_none() {
        out = out.with_value(B3Debug);
    }
    out
}

fn merge_baggage(cx: &Context, extra: &Baggage) -> Context {
    let mut merged: Baggage = cx
        .baggage()
        .iter()
        .map(|(k, (v, m))| (k.clone(), (v.clone(), m.clone())))
        .collect();
    for (k, (v, m)) in extra {
        if merged.get(k.as_str()).is_none() {
            merged.insert_with_metadata(k.clone(), v.clone(), m.clone());
        }
    }
    cx.with_baggage(merged)
}
