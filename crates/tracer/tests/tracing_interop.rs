//! `tracing` interop: a `#[tracing::instrument]` span made while an instrumented request is
//! current becomes its child, and a `tracing` span around an instrumented client call becomes
//! that call's parent.
#![cfg(all(feature = "tracing", feature = "testing"))]

use opentelemetry::Context;
use opentelemetry::trace::{SpanKind, TraceContextExt};
use tracer::testing::{SpanCapture, TreeFormat, assert_tree};
use tracing_subscriber::layer::SubscriberExt;

#[tracing::instrument]
fn load_cart(user: u32) -> u32 {
    user * 2
}

/// What an instrumented client does: a client span under whatever context is current.
fn instrumented_call(tracer: &tracer::Tracer) {
    let span = tracer.span("GET", SpanKind::Client, vec![], &Context::current());
    drop(span);
}

#[test]
fn tracing_spans_join_the_request_tree_both_ways() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("shop");
    let subscriber = tracing_subscriber::registry().with(tracer::tracing_layer(&tracer));
    tracing::subscriber::with_default(subscriber, || {
        let server = tracer
            .span("GET /cart", SpanKind::Server, vec![], &Context::new())
            .unwrap();
        let cx = Context::new().with_span(server);
        {
            let _request = cx.clone().attach();
            assert_eq!(load_cart(7), 14);
            let outer = tracing::info_span!("fetch_prices");
            let _entered = outer.enter();
            instrumented_call(&tracer);
        }
        cx.span().end();
    });
    assert_eq!(capture.trace_ids().len(), 1, "{:#?}", capture.spans());
    assert_tree(
        &capture.render(&TreeFormat::new()),
        "
        shop server GET /cart
          shop internal load_cart
          shop internal fetch_prices
            shop client GET
        ",
    );
}

#[test]
fn tracing_spans_are_not_recorded_while_switched_off() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("quiet");
    tracer.set_enabled(false);
    let subscriber = tracing_subscriber::registry().with(tracer::tracing_layer(&tracer));
    tracing::subscriber::with_default(subscriber, || {
        load_cart(1);
    });
    assert!(capture.is_empty(), "{:?}", capture.spans());
}

/// `tracing` spans are tracer's own spans (the pipeline the integrations use), not the SDK
/// tracer's: a root says W3C Level 2 `random` (the SDK's roots do not), and its instrumentation
/// scope is tracer's.
#[test]
fn tracing_spans_are_made_by_tracers_own_pipeline() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("shop");
    let subscriber = tracing_subscriber::registry().with(tracer::tracing_layer(&tracer));
    tracing::subscriber::with_default(subscriber, || {
        load_cart(3);
    });
    let spans = capture.spans();
    assert_eq!(spans.len(), 1, "{spans:#?}");
    let data = &spans[0].data;
    assert_eq!(data.name, "load_cart");
    assert_eq!(
        data.span_context.trace_flags().to_u8(),
        0x03,
        "sampled and random"
    );
    assert_eq!(data.instrumentation_scope.name(), "tracer");
}

/// While switched off, a `tracing` span opened inside a request carries the request's span
/// context, so an instrumented call inside it stays in the caller's trace.
#[test]
fn a_tracing_span_while_switched_off_carries_its_parents_context() {
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;

    let capture = SpanCapture::new();
    let tracer = capture.tracer("quiet");
    tracer.set_enabled(false);
    let incoming = SpanContext::new(
        TraceId::from(0x4bf92f3577b34da6a3ce929d0e0e4736),
        SpanId::from(0x00f067aa0ba902b7),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    let subscriber = tracing_subscriber::registry().with(tracer::tracing_layer(&tracer));
    let seen = tracing::subscriber::with_default(subscriber, || {
        let _request = Context::new()
            .with_remote_span_context(incoming.clone())
            .attach();
        let span = tracing::info_span!("fetch_prices");
        span.context().span().span_context().clone()
    });
    assert_eq!(seen, incoming);
    assert!(capture.is_empty(), "{:?}", capture.spans());
}
