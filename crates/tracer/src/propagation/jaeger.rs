//! Jaeger propagation: `uber-trace-id` and `uberctx-{key}` baggage headers.
//!
//! `uber-trace-id: {trace id}:{span id}:{parent span id}:{flags}` where ids are 1..32 (trace) and
//! 1..16 (span) lowercase hex digits without mandatory zero padding, the parent is deprecated
//! (written as `0`) and flags bit 1 is "sampled", bit 2 "debug". The value may arrive
//! URL-encoded (`%3A` for `:`). Baggage travels as one `uberctx-{key}: {url-encoded value}`
//! header per entry and joins the context's baggage. Malformed values are ignored.

use std::borrow::Cow;

use opentelemetry::baggage::{Baggage, BaggageExt};
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use super::hex;

/// The trace context header.
pub const UBER_TRACE_ID: &str = "uber-trace-id";
/// Prefix of baggage headers.
pub const UBERCTX_PREFIX: &str = "uberctx-";

/// Most `uberctx-*` entries read from one request.
const MAX_BAGGAGE_ENTRIES: usize = 64;
/// Longest `uberctx-*` value read.
const MAX_BAGGAGE_VALUE: usize = 4096;

/// Propagates span context and baggage in Jaeger's headers.
#[derive(Debug)]
pub struct JaegerPropagator {
    fields: [String; 1],
}

impl JaegerPropagator {
    /// Creates the propagator.
    pub fn new() -> Self {
        Self {
            fields: [UBER_TRACE_ID.to_owned()],
        }
    }
}

impl Default for JaegerPropagator {
    fn default() -> Self {
        Self::new()
    }
}

fn parse(value: &str) -> Option<SpanContext> {
    let decoded: Cow<'_, str> = if value.contains('%') {
        percent_decode_str(value).decode_utf8().ok()?
    } else {
        Cow::Borrowed(value)
    };
    let mut parts = decoded.trim().split(':');
    let trace = hex::parse_lower(parts.next()?, 32)?;
    let span = hex::parse_lower(parts.next()?, 16)? as u64;
    let _parent = hex::parse_lower(parts.next()?, 16)?;
    let flags = hex::parse_lower(parts.next()?, 2)? as u8;
    if parts.next().is_some() || trace == 0 || span == 0 {
        return None;
    }
    let flags = if flags & 0b11 != 0 {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    Some(SpanContext::new(
        TraceId::from(trace),
        SpanId::from(span),
        flags,
        true,
        TraceState::default(),
    ))
}

impl TextMapPropagator for JaegerPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if sc.is_valid() {
            let mut out = String::with_capacity(53);
            hex::push_u128(&mut out, u128::from_be_bytes(sc.trace_id().to_bytes()));
            out.push(':');
            hex::push_u64(&mut out, u64::from_be_bytes(sc.span_id().to_bytes()));
            out.push_str(if sc.is_sampled() { ":0:1" } else { ":0:0" });
            injector.set(UBER_TRACE_ID, out);
        }
        for (key, (value, _)) in cx.baggage() {
            let encoded = utf8_percent_encode(value.as_str(), NON_ALPHANUMERIC).to_string();
            injector.set(&format!("{UBERCTX_PREFIX}{}", key.as_str()), encoded);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let mut cx = match extractor.get(UBER_TRACE_ID).and_then(parse) {
            Some(sc) => cx.with_remote_span_context(sc),
            None => cx.clone(),
        };
        let mut entries: Vec<KeyValue> = Vec::new();
        for key in extractor.keys() {
            let Some(name) = strip_prefix_ignore_case(key, UBERCTX_PREFIX) else {
                continue;
            };
            if name.is_empty() || entries.len() >= MAX_BAGGAGE_ENTRIES {
                continue;
            }
            let Some(raw) = extractor.get(key) else {
                continue;
            };
            if raw.len() > MAX_BAGGAGE_VALUE {
                continue;
            }
            if let Ok(value) = percent_decode_str(raw).decode_utf8() {
                entries.push(KeyValue::new(name.to_ascii_lowercase(), value.into_owned()));
            }
        }
        if !entries.is_empty() {
            let mut merged: Baggage = cx
                .baggage()
                .iter()
                .map(|(k, (v, m))| (k.clone(), (v.clone(), m.clone())))
                .collect();
            for kv in entries {
                merged.insert(kv.key, kv.value.as_str().into_owned());
            }
            cx = cx.with_baggage(merged);
        }
        cx
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

fn strip_prefix_ignore_case<'a>(key: &'a str, prefix: &str) -> Option<&'a str> {
    (key.len() >= prefix.len()
        && key.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes()))
    .then(|| &key[prefix.len()..])
}
