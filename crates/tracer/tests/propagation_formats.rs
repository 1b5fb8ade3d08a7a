//! Each propagator against the examples of its specification: W3C Trace Context and Baggage,
//! B3 (single and multi header, 64-bit ids, the debug flag) and Jaeger (including URL-encoded
//! values and `uberctx-` baggage), and the composite chosen by `OTEL_PROPAGATORS`.

use std::collections::HashMap;

use opentelemetry::Context;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use tracer::propagation::{PropagatorKind, Propagators};

fn headers(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn only(kind: PropagatorKind) -> Propagators {
    Propagators::new([kind])
}

fn span_context(cx: &Context) -> SpanContext {
    cx.span().span_context().clone()
}

fn remote(trace: &str, span: &str, sampled: bool) -> Context {
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from_hex(trace).unwrap(),
        SpanId::from_hex(span).unwrap(),
        if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        },
        true,
        TraceState::default(),
    ))
}

fn inject(p: &Propagators, cx: &Context) -> HashMap<String, String> {
    let mut out = HashMap::new();
    p.inject(cx, &mut out);
    out
}

#[test]
fn w3c_traceparent_and_tracestate_from_the_recommendation() {
    let p = only(PropagatorKind::TraceContext);
    let cx = p.extract(&headers(&[
        (
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        ("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
    ]));
    let sc = span_context(&cx);
    assert_eq!(
        sc.trace_id(),
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap()
    );
    assert_eq!(sc.span_id(), SpanId::from_hex("00f067aa0ba902b7").unwrap());
    assert!(sc.is_sampled() && sc.is_remote());
    assert_eq!(sc.trace_state().get("congo"), Some("t61rcWkgMzE"));
    let out = inject(&p, &cx);
    assert_eq!(
        out["traceparent"],
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    );
    assert_eq!(out["tracestate"], "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
}

#[test]
fn w3c_unsampled_flag_and_future_version_with_extra_fields() {
    let p = only(PropagatorKind::TraceContext);
    let cx = p.extract(&headers(&[(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
    )]));
    assert!(span_context(&cx).is_valid() && !span_context(&cx).is_sampled());
    // A higher version is read by its first four fields; unknown flag bits are cleared.
    let cx = p.extract(&headers(&[(
        "traceparent",
        "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-what-the-future-holds",
    )]));
    assert!(span_context(&cx).is_sampled());
    assert_eq!(
        inject(&p, &cx)["traceparent"],
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    );
}

#[test]
fn w3c_baggage_round_trips() {
    let p = Propagators::default();
    let cx = p.extract(&headers(&[
        (
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        (
            "baggage",
            "userId=alice,serverNode=DF%2028,isProduction=false",
        ),
    ]));
    assert_eq!(
        cx.baggage().get("userId").map(|v| v.as_str().to_string()),
        Some("alice".into())
    );
    assert_eq!(
        cx.baggage()
            .get("serverNode")
            .map(|v| v.as_str().to_string()),
        Some("DF 28".into())
    );
    let out = inject(&p, &cx);
    assert!(
        out["baggage"].contains("userId=alice"),
        "{}",
        out["baggage"]
    );
}

#[test]
fn b3_single_header_with_parent_and_sampled() {
    let p = only(PropagatorKind::B3);
    let cx = p.extract(&headers(&[(
        "b3",
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90",
    )]));
    let sc = span_context(&cx);
    assert_eq!(
        sc.trace_id(),
        TraceId::from_hex("80f198ee56343ba864fe8b2a57d3eff7").unwrap()
    );
    assert_eq!(sc.span_id(), SpanId::from_hex("e457b5a2e4d86bd1").unwrap());
    assert!(sc.is_sampled());
    assert_eq!(
        inject(&p, &cx)["b3"],
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"
    );
}

#[test]
fn b3_single_header_64_bit_trace_id_is_left_padded() {
    let p = only(PropagatorKind::B3);
    let cx = p.extract(&headers(&[("b3", "a3ce929d0e0e4736-00f067aa0ba902b7-0")]));
    let sc = span_context(&cx);
    assert_eq!(
        sc.trace_id(),
        TraceId::from_hex("0000000000000000a3ce929d0e0e4736").unwrap()
    );
    assert!(sc.is_valid() && !sc.is_sampled());
    let both = Propagators::new([PropagatorKind::B3, PropagatorKind::TraceContext]);
    assert_eq!(
        inject(&both, &cx)["traceparent"],
        "00-0000000000000000a3ce929d0e0e4736-00f067aa0ba902b7-00"
    );
}

#[test]
fn b3_debug_flag_means_sampled_and_is_passed_on() {
    let single = only(PropagatorKind::B3);
    let cx = single.extract(&headers(&[(
        "b3",
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d",
    )]));
    assert!(span_context(&cx).is_sampled());
    assert_eq!(
        inject(&single, &cx)["b3"],
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d"
    );
    let multi = only(PropagatorKind::B3Multi);
    let out = inject(&multi, &cx);
    assert_eq!(out.get("x-b3-flags").map(String::as_str), Some("1"));
    assert!(
        !out.contains_key("x-b3-sampled"),
        "debug implies sampled: {out:?}"
    );
}

#[test]
fn b3_debug_flag_survives_hops_when_traceparent_comes_first() {
    // Found by the `propagation` fuzz target: the second hop read the span from `traceparent`
    // and dropped B3's debug flag, so the third hop got `-1` instead of `-d`.
    let both = Propagators::new([PropagatorKind::TraceContext, PropagatorKind::B3]);
    let first = both.extract(&headers(&[(
        "b3",
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d",
    )]));
    let second = both.extract(&inject(&both, &first));
    assert_eq!(
        inject(&both, &second)["b3"],
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d"
    );
    // A B3 header naming another span than `traceparent` lends it nothing.
    let other = both.extract(&headers(&[
        (
            "traceparent",
            "00-80f198ee56343ba864fe8b2a57d3eff7-00f067aa0ba902b7-01",
        ),
        ("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d"),
    ]));
    assert_eq!(
        inject(&both, &other)["b3"],
        "80f198ee56343ba864fe8b2a57d3eff7-00f067aa0ba902b7-1"
    );
}

#[test]
fn w3c_trace_state_survives_hops_when_jaeger_comes_first() {
    // Found by the `propagation` fuzz target: the second hop read the span from
    // `uber-trace-id` and dropped the `tracestate` that only W3C carries.
    let both = Propagators::new([PropagatorKind::Jaeger, PropagatorKind::TraceContext]);
    let first = both.extract(&headers(&[
        (
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
        ("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
    ]));
    let second = both.extract(&inject(&both, &first));
    assert_eq!(span_context(&second), span_context(&first));
    assert_eq!(
        inject(&both, &second)["tracestate"],
        "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
    );
}

#[test]
fn b3_multi_headers_extract_and_inject() {
    let p = only(PropagatorKind::B3Multi);
    let cx = p.extract(&headers(&[
        ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
        ("x-b3-spanid", "e457b5a2e4d86bd1"),
        ("x-b3-parentspanid", "05e3ac9a4f6e3b90"),
        ("x-b3-sampled", "1"),
    ]));
    assert!(span_context(&cx).is_sampled());
    let out = inject(&p, &cx);
    assert_eq!(out["x-b3-traceid"], "80f198ee56343ba864fe8b2a57d3eff7");
    assert_eq!(out["x-b3-spanid"], "e457b5a2e4d86bd1");
    assert_eq!(out["x-b3-sampled"], "1");
    let cx = p.extract(&headers(&[
        ("x-b3-traceid", "a3ce929d0e0e4736"),
        ("x-b3-spanid", "00f067aa0ba902b7"),
        ("x-b3-flags", "1"),
    ]));
    assert_eq!(
        span_context(&cx).trace_id(),
        TraceId::from_hex("a3ce929d0e0e4736").unwrap()
    );
    assert!(
        span_context(&cx).is_sampled(),
        "X-B3-Flags: 1 is debug, which is sampled"
    );
}

#[test]
fn jaeger_uber_trace_id_plain_and_url_encoded() {
    let p = only(PropagatorKind::Jaeger);
    for value in [
        "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1",
        "4bf92f3577b34da6a3ce929d0e0e4736%3A00f067aa0ba902b7%3A0%3A1",
        "4bf92f3577b34da6a3ce929d0e0e4736%3a00f067aa0ba902b7%3a0%3a3",
    ] {
        let cx = p.extract(&headers(&[("uber-trace-id", value)]));
        let sc = span_context(&cx);
        assert_eq!(
            sc.trace_id(),
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            "{value}"
        );
        assert_eq!(
            sc.span_id(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            "{value}"
        );
        assert!(sc.is_sampled(), "{value}");
    }
    // Ids without zero padding are valid in Jaeger's format.
    let cx = p.extract(&headers(&[("uber-trace-id", "abc:de:0:0")]));
    assert_eq!(
        span_context(&cx).trace_id(),
        TraceId::from_hex("abc").unwrap()
    );
    assert!(!span_context(&cx).is_sampled());
    let out = inject(
        &p,
        &remote("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", true),
    );
    assert_eq!(
        out["uber-trace-id"],
        "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1"
    );
}

#[test]
fn jaeger_uberctx_headers_carry_baggage_both_ways() {
    let p = only(PropagatorKind::Jaeger);
    let cx = p.extract(&headers(&[
        (
            "uber-trace-id",
            "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1",
        ),
        ("uberctx-customer", "acme%20corp"),
    ]));
    assert_eq!(
        cx.baggage().get("customer").map(|v| v.as_str().to_string()),
        Some("acme corp".into())
    );
    let out = inject(&p, &cx);
    assert_eq!(out["uberctx-customer"], "acme%20corp");
}

#[test]
fn composite_extracts_from_any_configured_format_and_injects_all() {
    let p = Propagators::parse("tracecontext,baggage,b3,b3multi,jaeger").unwrap();
    for incoming in [
        headers(&[(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )]),
        headers(&[("b3", "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1")]),
        headers(&[
            ("x-b3-traceid", "4bf92f3577b34da6a3ce929d0e0e4736"),
            ("x-b3-spanid", "00f067aa0ba902b7"),
            ("x-b3-sampled", "1"),
        ]),
        headers(&[(
            "uber-trace-id",
            "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1",
        )]),
    ] {
        let cx = p.extract(&incoming);
        let out = inject(&p, &cx);
        assert_eq!(
            out["traceparent"], "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "{incoming:?}"
        );
        assert_eq!(
            out["b3"],
            "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"
        );
        assert_eq!(out["x-b3-traceid"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(
            out["uber-trace-id"],
            "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1"
        );
    }
}

#[test]
fn composite_prefers_the_first_configured_format_when_they_disagree() {
    let p = Propagators::parse("b3,tracecontext").unwrap();
    let cx = p.extract(&headers(&[
        (
            "traceparent",
            "00-11111111111111111111111111111111-1111111111111111-01",
        ),
        ("b3", "22222222222222222222222222222222-2222222222222222-1"),
    ]));
    assert_eq!(
        span_context(&cx).trace_id(),
        TraceId::from_hex("22222222222222222222222222222222").unwrap()
    );
}

#[test]
fn none_propagates_nothing_and_unknown_names_are_rejected() {
    let p = Propagators::parse("none").unwrap();
    assert!(p.kinds().is_empty());
    assert!(
        inject(
            &p,
            &remote("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", true)
        )
        .is_empty()
    );
    let err = Propagators::parse("tracecontext,xray").unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown propagator \"xray\", accepted: tracecontext, baggage, b3, b3multi, jaeger, none"
    );
}
