//! Fuzz harness: every propagation format tracer reads from incoming headers (W3C `traceparent`
//! + `tracestate`, W3C `baggage`, B3 single and multi, Jaeger `uber-trace-id` + `uberctx-*`).
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/propagation.rs` and the corpus replay test
//! `crates/tracer/tests/fuzz_corpus.rs` (included there with `#[path]`), so both run one code.
//!
//! Input: the first byte picks the propagator set, the rest is header lines `name: value`
//! separated by `\n` (a repeated name is a repeated header line). A one-letter name `a`..`k`
//! stands for one of the propagation header names, so the fuzzer reaches every format quickly.
//! The headers are read twice: through [`HeaderExtractor`] over an [`http::HeaderMap`] (what
//! the HTTP and gRPC integrations use; values are visible ASCII) and through a
//! `HashMap<String, String>` (any UTF-8, last line wins). Each extracted context is injected
//! and extracted again: that round trip must keep the span context (ids, sampled flag, trace
//! state) and the B3 debug flag. Baggage is only required not to panic: the SDK's W3C baggage
//! propagator percent-decodes keys it does not encode, so a key such as `%2A` read from
//! `uberctx-%2A` comes back as `*` (not tracer's code, and not a crash).

use std::collections::HashMap;

use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TraceContextExt;
use tracer::carrier::{HeaderExtractor, HeaderInjector};
use tracer::propagation::b3::B3Debug;
use tracer::propagation::{PropagatorKind, Propagators};

/// Header names the one-letter shorthands stand for.
const NAMES: [&str; 11] = [
    "traceparent",
    "tracestate",
    "baggage",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
    "uber-trace-id",
    "uberctx-k",
];

fn propagators(selector: u8) -> Propagators {
    use PropagatorKind::*;
    match selector % 7 {
        0 => Propagators::new([TraceContext]),
        1 => Propagators::new([Baggage]),
        2 => Propagators::new([B3]),
        3 => Propagators::new([B3Multi]),
        4 => Propagators::new([Jaeger]),
        5 => Propagators::new([TraceContext, Baggage, B3, B3Multi, Jaeger]),
        _ => Propagators::new([Jaeger, B3Multi, B3, Baggage, TraceContext]),
    }
}

fn header_name(raw: &str) -> String {
    let name = raw.trim();
    match name.as_bytes() {
        [c @ b'a'..=b'k'] => NAMES[usize::from(c - b'a')].to_owned(),
        _ => name.to_ascii_lowercase(),
    }
}

/// Runs one input (see the module docs).
pub(crate) fn run(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let propagators = propagators(selector);
    let text = String::from_utf8_lossy(rest);
    let lines: Vec<(String, &str)> = text
        .split('\n')
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (header_name(name), value.trim_start_matches(' ')))
        .collect();

    let mut headers = HeaderMap::new();
    for (name, value) in &lines {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        }
    }
    let cx = propagators.extract(&HeaderExtractor(&headers));
    let mut out = HeaderMap::new();
    propagators.inject(&cx, &mut HeaderInjector(&mut out));
    let again = propagators.extract(&HeaderExtractor(&out));
    assert_stable(&cx, &again, &propagators);

    let map: HashMap<String, String> = lines
        .iter()
        .map(|(name, value)| (name.clone(), (*value).to_owned()))
        .collect();
    let cx = propagators.extract(&map);
    let mut out: HashMap<String, String> = HashMap::new();
    propagators.inject(&cx, &mut out);
    let again = propagators.extract(&out);
    assert_stable(&cx, &again, &propagators);

    // The generic carrier interfaces must not panic either.
    let _ = HeaderExtractor(&headers).keys();
    for name in NAMES {
        let _ = HeaderExtractor(&headers).get_all(name);
    }
    let mut sink = HeaderMap::new();
    for (name, value) in &lines {
        HeaderInjector(&mut sink).set(name, (*value).to_owned());
    }
}

fn assert_stable(first: &Context, again: &Context, propagators: &Propagators) {
    let (a, b) = (first.span(), again.span());
    assert_eq!(
        a.span_context(),
        b.span_context(),
        "{propagators:?}: span context changed in an inject/extract round trip"
    );
    assert_eq!(
        first.get::<B3Debug>().is_some(),
        again.get::<B3Debug>().is_some(),
        "{propagators:?}: B3 debug flag changed in an inject/extract round trip"
    );
}
