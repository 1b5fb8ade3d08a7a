//! The global tracer: a no-op that still forwards context before `init`, the installed tracer
//! after it, and the global run-time switch.
#![cfg(feature = "testing")]

use std::collections::HashMap;

use opentelemetry::Context;
use opentelemetry::trace::SpanKind;
use tracer::testing::SpanCapture;

#[test]
fn global_tracer_lifecycle() {
    // Before init: no spans, but context still flows through.
    let noop = tracer::global();
    assert!(!noop.is_enabled());
    let incoming: HashMap<String, String> = [(
        "traceparent".to_string(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string(),
    )]
    .into();
    let cx = noop.extract(&incoming);
    assert!(noop.span("x", SpanKind::Server, vec![], &cx).is_none());
    let mut out = HashMap::new();
    noop.inject(&cx, &mut out);
    assert_eq!(
        out, incoming,
        "the no-op tracer forwards the context unchanged"
    );

    let capture = SpanCapture::new();
    let guard = capture.builder("global-svc").init().unwrap();
    assert_eq!(tracer::global().service_name(), "global-svc");
    assert!(tracer::is_enabled());
    tracer::set_enabled(false);
    assert!(
        tracer::global()
            .span("off", SpanKind::Internal, vec![], &Context::new())
            .is_none()
    );
    tracer::set_enabled(true);
    drop(tracer::global().span("on", SpanKind::Internal, vec![], &Context::new()));
    assert_eq!(
        capture
            .spans()
            .iter()
            .map(|s| s.name().to_string())
            .collect::<Vec<_>>(),
        ["on"]
    );
    guard.shutdown().unwrap();
    assert!(
        !tracer::global().is_enabled(),
        "after shutdown the global tracer is the no-op again"
    );
}
