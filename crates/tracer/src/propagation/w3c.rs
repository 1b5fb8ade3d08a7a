//! W3C Trace Context: the `traceparent` and `tracestate` headers.
//!
//! `traceparent: 00-{32 hex trace id}-{16 hex span id}-{2 hex flags}`. The parser follows the
//! recommendation's processing model strictly: exact field widths, lowercase hex, version `ff`
//! rejected, all-zero ids rejected, higher versions accepted by their first four fields.
//! Anything else is ignored, so a new root starts. (The SDK's own propagator accepts short ids
//! such as `00-abc-...`; this one is also several times faster, see docs/BENCHMARKS.md.)

use std::str::FromStr;

use opentelemetry::Context;
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};

use super::hex;

/// The `traceparent` header name.
pub const TRACEPARENT: &str = "traceparent";
/// The `tracestate` header name.
pub const TRACESTATE: &str = "tracestate";

/// Most list members a `tracestate` may carry; a longer one is dropped whole.
const MAX_TRACESTATE_MEMBERS: usize = 32;
/// Longest `tracestate` value accepted; a longer one is dropped whole.
const MAX_TRACESTATE_LEN: usize = 8192;

/// Propagates span context in the W3C `traceparent` / `tracestate` headers.
#[derive(Debug)]
pub struct TraceContextPropagator {
    fields: [String; 2],
}

impl TraceContextPropagator {
    /// Creates the propagator.
    pub fn new() -> Self {
        Self {
            fields: [TRACEPARENT.to_owned(), TRACESTATE.to_owned()],
        }
    }
}

impl Default for TraceContextPropagator {
    fn default() -> Self {
        Self::new()
    }
}

/// Parses a `traceparent` value; `None` when it is not valid.
pub(crate) fn parse_traceparent(value: &str) -> Option<(TraceId, SpanId, TraceFlags)> {
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    let b = value.as_bytes();
    if b.len() < 55 || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return None;
    }
    let version = hex::parse_exact(&value[0..2], 2)?;
    match version {
        0xff => return None,
        0 if b.len() != 55 => return None,
        _ if b.len() > 55 && b[55] != b'-' => return None,
        _ => {}
    }
    let trace = hex::parse_exact(&value[3..35], 32)?;
    let span = hex::parse_exact(&value[36..52], 16)?;
    let flags = hex::parse_exact(&value[53..55], 2)? as u8;
    if trace == 0 || span == 0 {
        return None;
    }
    Some((
        TraceId::from(trace),
        SpanId::from(span as u64),
        TraceFlags::new(flags) & TraceFlags::SAMPLED,
    ))
}

fn parse_tracestate(value: Option<&str>) -> TraceState {
    match value {
        Some(v)
            if v.len() <= MAX_TRACESTATE_LEN
                && v.split(',').filter(|m| !m.trim().is_empty()).count()
                    <= MAX_TRACESTATE_MEMBERS =>
        {
            TraceState::from_str(v).unwrap_or_default()
        }
        _ => TraceState::default(),
    }
}

impl TextMapPropagator for TraceContextPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return;
        }
        let mut out = String::with_capacity(55);
        out.push_str("00-");
        hex::push(&mut out, u128::from_be_bytes(sc.trace_id().to_bytes()), 32);
        out.push('-');
        hex::push(
            &mut out,
            u128::from(u64::from_be_bytes(sc.span_id().to_bytes())),
            16,
        );
        out.push('-');
        hex::push(
            &mut out,
            u128::from((sc.trace_flags() & TraceFlags::SAMPLED).to_u8()),
            2,
        );
        injector.set(TRACEPARENT, out);
        let state = sc.trace_state().header();
        if !state.is_empty() {
            injector.set(TRACESTATE, state);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let Some((trace_id, span_id, flags)) =
            extractor.get(TRACEPARENT).and_then(parse_traceparent)
        else {
            return cx.clone();
        };
        let state = parse_tracestate(extractor.get(TRACESTATE));
        cx.with_remote_span_context(SpanContext::new(trace_id, span_id, flags, true, state))
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}
