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
