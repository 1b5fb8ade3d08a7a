//! W3C Trace Context Level 2: the `traceparent` and `tracestate` headers.
//!
//! `traceparent: 00-{32 hex trace id}-{16 hex span id}-{2 hex flags}`. The parser follows the
//! recommendation's processing model strictly: exact field widths, lowercase hex, version `ff`
//! rejected, all-zero ids rejected, higher versions accepted by their first four fields, and a
//! header sent more than once (repeated field lines are one comma-joined value, RFC 9110) is
//! invalid. Anything invalid is ignored, so a new root starts, and its `tracestate` is dropped.
//! (The SDK's own propagator accepts short ids such as `00-abc-...`; this one is also several
//! times faster, see docs/BENCHMARKS.md.)
//!
//! Flags: `sampled` (bit 0) and Level 2's `random` (bit 1, the trace id's right 7 bytes are
//! random) are read and passed on; other bits are ignored and sent as zero. A trace started by
//! this service gets `random` (its trace ids come from a random generator); a trace received
//! keeps what the caller said, and a trace received in another format (B3, Jaeger), which cannot
//! say, does not get it.
//!
//! `tracestate` is parsed here from the Level 2 grammar, not by the SDK's `TraceState`
//! (which accepts an empty value and rejects keys Level 2 allows, such as `foo@@bar`): all
//! field lines joined, list members separated by commas with optional spaces or tabs around
//! them, empty members skipped; a key is a lowercase letter or digit followed by up to 255 of
//! `a-z 0-9 _ - * / @`; a value is 1 to 256 printable ASCII characters other than `,` and `=`,
//! not ending in a space; at most 32 members and no key twice. A `tracestate` breaking any of
//! these is discarded whole. What was received is passed on as received (normalised: members
//! trimmed, joined by `,`), even when the SDK's `TraceState` cannot hold it; spans record it when
//! it can. (The grammar is checked once, and the SDK's `TraceState` is built from the members it
//! found, not parsed a second time from text.)

use std::sync::Arc;

use opentelemetry::Context;
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};

use super::{field_lines, hex};

/// The `traceparent` header name.
pub const TRACEPARENT: &str = "traceparent";
/// The `tracestate` header name.
pub const TRACESTATE: &str = "tracestate";

/// Most list members a `tracestate` may carry; a longer one is discarded whole.
pub const MAX_TRACESTATE_MEMBERS: usize = 32;
/// Longest `tracestate` key.
pub const MAX_TRACESTATE_KEY: usize = 256;
/// Longest `tracestate` value.
pub const MAX_TRACESTATE_VALUE: usize = 256;
/// Longest combined `tracestate` read: 32 members of the longest key and value, their `=`
/// and commas, with room for optional white space; more is not read.
const MAX_TRACESTATE_INPUT: usize = 32 << 10;

/// The `random` trace flag of Trace Context Level 2.
pub const RANDOM: TraceFlags = TraceFlags::new(0x02);

/// The flag bits this implementation knows: `sampled` and `random`.
const KNOWN_FLAGS: u8 = 0x03;

/// A `tracestate` received for a trace that the SDK's `TraceState` cannot hold (keys only Level 2
/// allows, such as `foo@@bar`), kept in the context so that outgoing calls of the same trace pass
/// it on as received.
///
/// Only that rare case stores a value: each `Context::with_value` copies the context's entry map
/// and allocates three times (~800 instructions of an extract that otherwise costs ~1,500). The
/// `random` flag needs none: it travels in the span context's trace flags (bit 1), which the
/// caller's flags give a remote parent, tracer's own spans inherit from their parent (sampled or
/// not) and set on the roots they start, and which B3 and Jaeger contexts never have.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    trace_id: TraceId,
    tracestate: Arc<str>,
}

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

/// Parses a `traceparent` value; `None` when it is not valid. The flags keep `sampled` and
/// `random`.
pub(crate) fn parse_traceparent(value: &str) -> Option<(TraceId, SpanId, TraceFlags)> {
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    let b = value.as_bytes();
    if b.len() < 55 || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return None;
    }
    let version = hex::parse_u8(&b[0..2])?;
    match version {
        0xff => return None,
        0 if b.len() != 55 => return None,
        _ if b.len() > 55 && b[55] != b'-' => return None,
        _ => {}
    }
    let trace = hex::parse_u128(&b[3..35])?;
    let span = hex::parse_u64(&b[36..52])?;
    let flags = hex::parse_u8(&b[53..55])?;
    if trace == 0 || span == 0 {
        return None;
    }
    Some((
        TraceId::from(trace),
        SpanId::from(span),
        TraceFlags::new(flags & KNOWN_FLAGS),
    ))
}

fn valid_key(key: &str) -> bool {
    let b = key.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_TRACESTATE_KEY
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b[1..].iter().all(|&c| {
            c.is_ascii_lowercase()
                || c.is_ascii_digit()
                || matches!(c, b'_' | b'-' | b'*' | b'/' | b'@')
        })
}

fn valid_value(value: &str) -> bool {
    let b = value.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_TRACESTATE_VALUE
        && b[b.len() - 1] != b' '
        && b.iter()
            .all(|&c| (0x20..=0x7e).contains(&c) && c != b',' && c != b'=')
}

/// Parses a `tracestate` value (all its field lines joined by commas) by the Level 2 grammar;
/// returns it normalised (members trimmed, empty ones dropped, joined by `,`), `None` for an
/// empty list, or `Err` with the reason when it must be discarded.
///
/// ```
/// use tracer::propagation::w3c::parse_tracestate;
/// assert_eq!(parse_tracestate("a=1 ,, foo@@bar=x\t"), Ok(Some("a=1,foo@@bar=x".into())));
/// assert!(parse_tracestate("a=").is_err());
/// assert!(parse_tracestate("a=1,a=2").is_err());
/// ```
pub fn parse_tracestate(value: &str) -> Result<Option<String>, String> {
    let members = tracestate_members(value)?;
    Ok((!members.is_empty()).then(|| normalised(&members)))
}

/// The list members of a `tracestate` value as `(key, value)`, trimmed, empty ones skipped;
/// `Err` with the reason when the Level 2 grammar discards it.
fn tracestate_members(value: &str) -> Result<Vec<(&str, &str)>, String> {
    if value.len() > MAX_TRACESTATE_INPUT {
        return Err(format!("longer than {MAX_TRACESTATE_INPUT} bytes"));
    }
    let mut members: Vec<(&str, &str)> = Vec::new();
    for member in value.split(',') {
        let member = member.trim_matches(|c| c == ' ' || c == '\t');
        if member.is_empty() {
            continue;
        }
        let Some((key, v)) = member.split_once('=') else {
            return Err(format!("member {member:?} has no '='"));
        };
        if !valid_key(key) {
            return Err(format!("invalid key {key:?}"));
        }
        if !valid_value(v) {
            return Err(format!("invalid value {v:?} of key {key:?}"));
        }
        if members.iter().any(|&(k, _)| k == key) {
            return Err(format!("key {key:?} appears twice"));
        }
        if members.len() == MAX_TRACESTATE_MEMBERS {
            return Err(format!("more than {MAX_TRACESTATE_MEMBERS} members"));
        }
        members.push((key, v));
    }
    Ok(members)
}

/// Members joined as they are sent: `key=value`, separated by `,`.
fn normalised(members: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (key, value)) in members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(key);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// The `tracestate` of these field lines: the SDK's `TraceState` when it can hold every
/// member (its key rule is narrower than Level 2's), else the normalised text to pass on as
/// received. Both empty when there is none or the Level 2 grammar discards it.
fn read_tracestate(lines: &[&str]) -> (TraceState, Option<String>) {
    let joined;
    let value = match lines {
        [] => return (TraceState::NONE, None),
        [one] => *one,
        many => {
            joined = many.join(",");
            joined.as_str()
        }
    };
    match tracestate_members(value) {
        Ok(members) if !members.is_empty() => {
            match TraceState::from_key_value(members.iter().copied()) {
                Ok(state) => (state, None),
                Err(_) => (TraceState::NONE, Some(normalised(&members))),
            }
        }
        _ => (TraceState::NONE, None),
    }
}

impl TextMapPropagator for TraceContextPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return;
        }
        // `sampled` and `random` as the span has them: a caller's `random` inherited, a root
        // started here marked, a trace from B3 or Jaeger (which cannot say) not.
        let flags = sc.trace_flags().to_u8() & KNOWN_FLAGS;
        let mut out = String::with_capacity(55);
        out.push_str("00-");
        hex::push_u128(&mut out, u128::from_be_bytes(sc.trace_id().to_bytes()));
        out.push('-');
        hex::push_u64(&mut out, u64::from_be_bytes(sc.span_id().to_bytes()));
        out.push('-');
        hex::push_u8(&mut out, flags);
        injector.set(TRACEPARENT, out);
        let state = sc.trace_state().header();
        if !state.is_empty() {
            injector.set(TRACESTATE, state);
        } else if let Some(received) = cx
            .get::<Received>()
            .filter(|r| r.trace_id == sc.trace_id() && !r.tracestate.is_empty())
        {
            injector.set(TRACESTATE, received.tracestate.to_string());
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let lines = field_lines(extractor, TRACEPARENT);
        // A traceparent sent twice is one comma-joined value, which no valid one is.
        let [line] = lines.as_slice() else {
            return cx.clone();
        };
        let Some((trace_id, span_id, flags)) = parse_traceparent(line) else {
            return cx.clone();
        };
        let (state, raw) = read_tracestate(&field_lines(extractor, TRACESTATE));
        let cx =
            cx.with_remote_span_context(SpanContext::new(trace_id, span_id, flags, true, state));
        // A value already there for this trace is replaced (by an empty one when this caller
        // sent none the SDK cannot hold), so it cannot speak for this caller.
        let stale = || cx.get::<Received>().is_some_and(|r| r.trace_id == trace_id);
        match raw {
            Some(raw) => cx.with_value(Received {
                trace_id,
                tracestate: Arc::from(raw),
            }),
            None if stale() => cx.with_value(Received {
                trace_id,
                tracestate: Arc::from(""),
            }),
            None => cx,
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}
