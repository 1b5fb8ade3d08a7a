//! An unsampled trace records nothing anywhere, yet its trace id and its "not sampled" decision
//! travel to every downstream service, each hop sending its own parent id.
#![cfg(feature = "testing")]

use std::collections::HashMap;

use opentelemetry::Context;
use opentelemetry::trace::{SpanKind, TraceContextExt};
use tracer::Sampler;
use tracer::testing::SpanCapture;

fn hop(tracer: &tracer::Tracer, incoming: &HashMap<String, String>) -> HashMap<String, String> {
    let parent = tracer.extract(incoming);
    let cx = match tracer.span("handle", SpanKind::Server, vec![], &parent) {
        Some(span) => parent.with_span(span),
        None => parent,
    };
    let mut outgoing = HashMap::new();
    tracer.inject(&cx, &mut outgoing);
    cx.span().end();
    outgoing
}

#[test]
fn an_unsampled_root_decision_reaches_every_hop_and_no_span_is_recorded() {
    let capture = SpanCapture::new();
    let root = capture
        .builder("root")
        .sampler(Sampler::AlwaysOff)
        .build()
        .unwrap()
        .into_tracer();
    let middle = capture.tracer("middle");
    let back = capture.tracer("back");

    let root_cx = match root.span("request", SpanKind::Server, vec![], &Context::new()) {
        Some(span) => Context::new().with_span(span),
        None => panic!("an unsampled root still gets a (non-recording) span to carry its trace id"),
    };
    let mut to_middle = HashMap::new();
    root.inject(&root_cx, &mut to_middle);
    let traceparent = to_middle["traceparent"].clone();
    assert!(traceparent.ends_with("-02"), "not sampled: {traceparent}");
    let to_back = hop(&middle, &to_middle);
    let from_back = hop(&back, &to_back);
    // Trace Context Level 2: every hop sends its own parent id, sampled or not; the trace id
    // and the decision (not sampled, random id) travel unchanged.
    let fields = |tp: &str| tp.split('-').map(str::to_owned).collect::<Vec<_>>();
    let (first, second, third) = (
        fields(&traceparent),
        fields(&to_back["traceparent"]),
        fields(&from_back["traceparent"]),
    );
    assert_eq!(first[3], "02", "not sampled, random: {traceparent}");
    for hop in [&second, &third] {
        assert_eq!(hop[1], first[1], "same trace id");
        assert_eq!(hop[3], "02", "decision and random flag kept: {hop:?}");
    }
    assert_ne!(
        second[2], first[2],
        "the middle hop sends its own parent id"
    );
    assert_ne!(third[2], second[2], "the back hop sends its own parent id");
    assert!(
        capture.is_empty(),
        "no spans anywhere: {:?}",
        capture.spans()
    );
}

#[test]
fn a_sampled_parent_still_gets_spans_with_a_parent_based_sampler() {
    let capture = SpanCapture::new();
    let svc = capture.tracer("svc");
    let incoming: HashMap<String, String> = [(
        "traceparent".to_string(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string(),
    )]
    .into();
    let out = hop(&svc, &incoming);
    assert_ne!(out["traceparent"], incoming["traceparent"]);
    assert!(out["traceparent"].starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
    assert_eq!(capture.len(), 1);
}

#[test]
fn a_non_parent_based_sampler_decides_for_itself() {
    let capture = SpanCapture::new();
    let svc = capture
        .builder("svc")
        .sampler(Sampler::AlwaysOn)
        .build()
        .unwrap()
        .into_tracer();
    let incoming: HashMap<String, String> = [(
        "traceparent".to_string(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00".to_string(),
    )]
    .into();
    hop(&svc, &incoming);
    assert_eq!(
        capture.len(),
        1,
        "always_on records even under an unsampled parent"
    );
}
