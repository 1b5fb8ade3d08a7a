//! The run-time switch: while off no span is made, yet the incoming context is forwarded
//! unchanged, so the services before and after an off hop still share one trace.
#![cfg(feature = "testing")]

use std::collections::HashMap;

use opentelemetry::Context;
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer as _};
use tracer::propagation::PropagatorKind;
use tracer::testing::{SpanCapture, TreeFormat, assert_tree};

#[test]
fn no_spans_while_off_and_spans_again_when_back_on() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("svc");
    tracer.set_enabled(false);
    assert!(
        tracer
            .span("off", SpanKind::Internal, vec![], &Context::new())
            .is_none()
    );
    // Spans made directly through the OpenTelemetry API are dropped too (the sampler is off).
    drop(tracer.sdk().start("direct"));
    assert!(
        capture.is_empty(),
        "nothing recorded while off: {:?}",
        capture.spans()
    );
    tracer.set_enabled(true);
    drop(tracer.span("on", SpanKind::Internal, vec![], &Context::new()));
    assert_tree(&capture.render(&TreeFormat::new()), "svc internal on");
}

#[test]
fn started_disabled_by_env_then_switched_on() {
    let capture = SpanCapture::new();
    let tracer = capture
        .builder("late")
        .env_source(|name| (name == "OTEL_SDK_DISABLED").then(|| "true".to_string()))
        .build()
        .unwrap()
        .into_tracer();
    assert!(!tracer.is_enabled());
    assert!(
        tracer
            .span("x", SpanKind::Internal, vec![], &Context::new())
            .is_none()
    );
    tracer.switch().set(true);
    drop(tracer.span("y", SpanKind::Internal, vec![], &Context::new()));
    assert_eq!(capture.len(), 1);
}

/// Simulates one hop: extract the incoming headers, do the work under that context, inject into
/// the outgoing headers.
fn hop(
    tracer: &tracer::Tracer,
    incoming: &HashMap<String, String>,
    name: &str,
) -> HashMap<String, String> {
    let parent = tracer.extract(incoming);
    let _attached = parent.clone().attach();
    let server = tracer.span(format!("{name} handler"), SpanKind::Server, vec![], &parent);
    let cx = match server {
        Some(span) => parent.with_span(span),
        None => parent,
    };
    // Work done through the raw OpenTelemetry API while off yields a non-recording span; the
    // forwarded context must still win on injection.
    let inner = tracer.sdk().start_with_context("inner", &cx);
    let cx = cx.with_span(inner);
    let mut outgoing = HashMap::new();
    let client = tracer.span(format!("{name} call"), SpanKind::Client, vec![], &cx);
    let call_cx = match client {
        Some(span) => cx.with_span(span),
        None => cx.clone(),
    };
    tracer.inject(&call_cx, &mut outgoing);
    call_cx.span().end();
    cx.span().end();
    outgoing
}

fn run_chain(
    capture: &SpanCapture,
    middle_on: bool,
    formats: &[PropagatorKind],
) -> (HashMap<String, String>, HashMap<String, String>) {
    let builder = |s: &str| capture.builder(s).propagators(formats.iter().copied());
    let front = builder("front").build().unwrap().into_tracer();
    let middle = builder("middle").build().unwrap().into_tracer();
    let back = builder("back").build().unwrap().into_tracer();
    middle.set_enabled(middle_on);
    let root = front
        .span("request", SpanKind::Server, vec![], &Context::new())
        .unwrap();
    let root_cx = Context::new().with_span(root);
    let mut to_middle = HashMap::new();
    let call = front
        .span("front call", SpanKind::Client, vec![], &root_cx)
        .unwrap();
    let call_cx = root_cx.with_span(call);
    front.inject(&call_cx, &mut to_middle);
    let to_back = hop(&middle, &to_middle, "middle");
    drop(hop(&back, &to_back, "back"));
    call_cx.span().end();
    root_cx.span().end();
    (to_middle, to_back)
}

#[test]
fn an_off_hop_forwards_the_trace_unchanged_in_every_format() {
    for formats in [
        vec![PropagatorKind::TraceContext, PropagatorKind::Baggage],
        vec![PropagatorKind::B3],
        vec![PropagatorKind::B3Multi],
        vec![PropagatorKind::Jaeger],
    ] {
        let capture = SpanCapture::new();
        let (to_middle, to_back) = run_chain(&capture, false, &formats);
        assert_eq!(
            to_middle, to_back,
            "{formats:?}: the off hop passes the context on unchanged"
        );
        assert_eq!(capture.trace_ids().len(), 1, "{formats:?}: one trace");
        assert_tree(
            &capture.render(&TreeFormat::new()),
            "
            front server request
              front client front call
                back server back handler
                  back internal inner
                    back client back call
            ",
        );
    }
}

#[test]
fn an_on_hop_adds_its_spans_to_the_same_trace() {
    let capture = SpanCapture::new();
    let (to_middle, to_back) = run_chain(&capture, true, &[PropagatorKind::TraceContext]);
    assert_ne!(
        to_middle, to_back,
        "the middle hop made its own client span"
    );
    assert_eq!(capture.trace_ids().len(), 1);
    assert_tree(
        &capture.render(&TreeFormat::new()),
        "
        front server request
          front client front call
            middle server middle handler
              middle internal inner
                middle client middle call
                  back server back handler
                    back internal inner
                      back client back call
        ",
    );
}

#[test]
fn switching_off_mid_flight_never_records_half_a_hop_as_a_new_trace() {
    let capture = SpanCapture::new();
    let (_, to_back) = run_chain(&capture, false, &[PropagatorKind::TraceContext]);
    // The back service received the front service's client span as its parent.
    let front_call = capture
        .spans()
        .into_iter()
        .find(|s| s.name() == "front call")
        .unwrap();
    // The trace started at the front service, with a random id: sampled and random.
    let expected = format!(
        "00-{}-{}-03",
        front_call.data.span_context.trace_id(),
        front_call.data.span_context.span_id()
    );
    assert_eq!(to_back["traceparent"], expected);
}
