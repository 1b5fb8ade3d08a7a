//! B3 propagation (Zipkin), single `b3` header and multi `X-B3-*` headers.
//!
//! - single: `b3: {trace id}-{span id}[-{sampling}[-{parent span id}]]`, sampling `1`, `0` or `d`;
//! - multi: `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-ParentSpanId`, `X-B3-Sampled` (`1`/`0`),
//!   `X-B3-Flags: 1` (debug).
//!
//! Trace ids are 16 or 32 lowercase hex digits; a 64-bit id is left-padded with zeros. The debug
//! flag `d` implies sampled and is carried along in the context so it is written out again on the
//! next hop. A missing sampling field means "deferred" and is read as not sampled (the parent
//! decides nothing). ASCII white space around a value is ignored; anything malformed is ignored.

use opentelemetry::Context;
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};

use super::hex;

/// The single-header name.
pub const B3: &str = "b3";
/// Multi-header trace id.
pub const X_B3_TRACE_ID: &str = "x-b3-traceid";
/// Multi-header span id.
pub const X_B3_SPAN_ID: &str = "x-b3-spanid";
/// Multi-header parent span id.
pub const X_B3_PARENT_SPAN_ID: &str = "x-b3-parentspanid";
/// Multi-header sampling decision.
pub const X_B3_SAMPLED: &str = "x-b3-sampled";
/// Multi-header flags (`1` = debug).
pub const X_B3_FLAGS: &str = "x-b3-flags";

/// Marker kept in the [`Context`] when the incoming B3 context carried the debug flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct B3Debug;

/// Which B3 headers a [`B3Propagator`] writes; extraction always accepts both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum B3Encoding {
    /// The single `b3` header.
    Single,
    /// The `X-B3-*` headers.
    Multi,
}

/// Propagates span context in B3 headers.
#[derive(Debug)]
pub struct B3Propagator {
    encoding: B3Encoding,
    fields: Vec<String>,
}

impl B3Propagator {
    /// A propagator writing the single `b3` header.
    pub fn single() -> Self {
        Self::with_encoding(B3Encoding::Single)
    }

    /// A propagator writing the `X-B3-*` headers.
    pub fn multi() -> Self {
        Self::with_encoding(B3Encoding::Multi)
    }

    /// A propagator writing the given encoding.
    pub fn with_encoding(encoding: B3Encoding) -> Self {
        let fields = match encoding {
            B3Encoding::Single => vec![B3.to_owned()],
            B3Encoding::Multi => [
                X_B3_TRACE_ID,
                X_B3_SPAN_ID,
                X_B3_PARENT_SPAN_ID,
                X_B3_SAMPLED,
                X_B3_FLAGS,
            ]
            .map(str::to_owned)
            .to_vec(),
        };
        Self { encoding, fields }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sampling {
    Deferred,
    Accept,
    Deny,
    Debug,
}

fn parse_trace_id(s: &[u8]) -> Option<TraceId> {
    let id = match s.len() {
        32 => hex::parse_u128(s)?,
        16 => u128::from(hex::parse_u64(s)?),
        _ => return None,
    };
    (id != 0).then(|| TraceId::from(id))
}

fn parse_span_id(s: &[u8]) -> Option<SpanId> {
    let id = hex::parse_u64(s)?;
    (id != 0).then(|| SpanId::from(id))
}

/// `{trace}-{span}[-{sampling}[-{parent}]]`, read at the fields' fixed widths.
fn parse_single(value: &str) -> Option<(TraceId, SpanId, Sampling)> {
    let b = value.trim_ascii().as_bytes();
    // A 128-bit trace id is followed by `-` at 32, a 64-bit one at 16 (where a 128-bit one
    // has a digit, and where a `-` makes a following 128-bit reading invalid anyway).
    let trace_len = match (b.get(32), b.get(16)) {
        (Some(b'-'), _) => 32,
        (_, Some(b'-')) => 16,
        _ => return None,
    };
    let trace = parse_trace_id(&b[..trace_len])?;
    let span = parse_span_id(b.get(trace_len + 1..trace_len + 17)?)?;
    let (sampling, rest) = match &b[trace_len + 17..] {
        [] => return Some((trace, span, Sampling::Deferred)),
        [b'-', sampling, rest @ ..] => (*sampling, rest),
        _ => return None,
    };
    let sampling = match sampling {
        b'1' => Sampling::Accept,
        b'0' => Sampling::Deny,
        b'd' => Sampling::Debug,
        _ => return None,
    };
    match rest {
        [] => {}
        [b'-', parent @ ..] => {
            parse_span_id(parent)?;
        }
        _ => return None,
    }
    Some((trace, span, sampling))
}

fn parse_multi(extractor: &dyn Extractor) -> Option<(TraceId, SpanId, Sampling)> {
    let trace = parse_trace_id(extractor.get(X_B3_TRACE_ID)?.trim_ascii().as_bytes())?;
    let span = parse_span_id(extractor.get(X_B3_SPAN_ID)?.trim_ascii().as_bytes())?;
    if let Some(parent) = extractor.get(X_B3_PARENT_SPAN_ID) {
        parse_span_id(parent.trim_ascii().as_bytes())?;
    }
    let sampling = if extractor.get(X_B3_FLAGS).map(str::trim_ascii) == Some("1") {
        Sampling::Debug
    } else {
        match extractor.get(X_B3_SAMPLED).map(str::trim_ascii) {
            None => Sampling::Deferred,
            Some("1" | "true") => Sampling::Accept,
            Some("0" | "false") => Sampling::Deny,
            Some(_) => return None,
        }
    };
    Some((trace, span, sampling))
}

impl TextMapPropagator for B3Propagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return;
        }
        let debug = cx.get::<B3Debug>().is_some();
        let trace = u128::from_be_bytes(sc.trace_id().to_bytes());
        let span_id = u64::from_be_bytes(sc.span_id().to_bytes());
        match self.encoding {
            B3Encoding::Single => {
                let mut out = String::with_capacity(51);
                hex::push_u128(&mut out, trace);
                out.push('-');
                hex::push_u64(&mut out, span_id);
                out.push_str(match (debug, sc.is_sampled()) {
                    (true, _) => "-d",
                    (false, true) => "-1",
                    (false, false) => "-0",
                });
                injector.set(B3, out);
            }
            B3Encoding::Multi => {
                let mut t = String::with_capacity(32);
                hex::push_u128(&mut t, trace);
                injector.set(X_B3_TRACE_ID, t);
                let mut s = String::with_capacity(16);
                hex::push_u64(&mut s, span_id);
                injector.set(X_B3_SPAN_ID, s);
                if debug {
                    injector.set(X_B3_FLAGS, "1".to_owned());
                } else {
                    let sampled = if sc.is_sampled() { "1" } else { "0" };
                    injector.set(X_B3_SAMPLED, sampled.to_owned());
                }
            }
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let parsed = match extractor.get(B3) {
            Some(single) => parse_single(single),
            None => parse_multi(extractor),
        };
        let Some((trace, span, sampling)) = parsed else {
            return cx.clone();
        };
        let flags = match sampling {
            Sampling::Accept | Sampling::Debug => TraceFlags::SAMPLED,
            Sampling::Deny | Sampling::Deferred => TraceFlags::default(),
        };
        let sc = SpanContext::new(trace, span, flags, true, TraceState::default());
        let cx = cx.with_remote_span_context(sc);
        if sampling == Sampling::Debug {
            cx.with_value(B3Debug)
        } else {
            cx
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `split('-')` reading this module had before it read fixed widths.
    fn reference(value: &str) -> Option<(TraceId, SpanId, Sampling)> {
        let mut parts = value.trim_ascii().split('-');
        let trace = parse_trace_id(parts.next()?.as_bytes())?;
        let span = parse_span_id(parts.next()?.as_bytes())?;
        let sampling = match parts.next() {
            None => Sampling::Deferred,
            Some("1") => Sampling::Accept,
            Some("0") => Sampling::Deny,
            Some("d") => Sampling::Debug,
            Some(_) => return None,
        };
        if let Some(parent) = parts.next() {
            parse_span_id(parent.as_bytes())?;
        }
        if parts.next().is_some() {
            return None;
        }
        Some((trace, span, sampling))
    }

    #[test]
    fn the_single_header_reads_as_the_split_reading_did() {
        let trace = "80f198ee56343ba864fe8b2a57d3eff7";
        let span = "e457b5a2e4d86bd1";
        let mut inputs = Vec::new();
        for full in [
            format!("{trace}-{span}-1-05e3ac9a4f6e3b90"),
            format!("{}-{span}-d-05e3ac9a4f6e3b90", &trace[16..]),
            format!("{trace}-{span}-0"),
            format!("{trace}-{span}"),
        ] {
            for cut in 0..=full.len() {
                inputs.push(full[..cut].to_owned());
                for c in ['-', '0', 'x', ' '] {
                    let mut changed = full.clone().into_bytes();
                    if cut < changed.len() {
                        changed[cut] = c as u8;
                        inputs.push(String::from_utf8(changed).unwrap());
                    }
                    let mut longer = full.clone();
                    longer.insert(cut, c);
                    inputs.push(longer);
                }
            }
        }
        for input in &inputs {
            let (ours, theirs) = (parse_single(input), reference(input));
            assert_eq!(
                ours.map(|(t, s, _)| (t, s)),
                theirs.map(|(t, s, _)| (t, s)),
                "{input:?}"
            );
            assert!(
                ours.map(|(_, _, m)| m) == theirs.map(|(_, _, m)| m),
                "{input:?}"
            );
        }
    }
}
