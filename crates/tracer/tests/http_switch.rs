//! The off switch: a service switched off makes no spans, but its server layer still extracts
//! the incoming context and attaches it while the handler runs, and its client middleware still
//! injects it, so the services before and after it share one trace.
#![cfg(all(feature = "axum", feature = "reqwest", feature = "testing"))]

mod http_support;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use http_support::{format, serve, span_named, traced_client, wait_spans};
use reqwest_middleware::ClientWithMiddleware;
use tracer::http::server::TraceLayer;
use tracer::propagation::PropagatorKind;
use tracer::testing::{SpanCapture, assert_tree};

#[derive(Clone)]
struct Hop {
    client: ClientWithMiddleware,
    next: String,
}

async fn forward(State(hop): State<Hop>) -> String {
    hop.client
        .get(&hop.next)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// front -> middle -> back, each with its own tracer; `middle_on` flips the middle's switch.
async fn chain(capture: &SpanCapture, formats: &[PropagatorKind], middle_on: bool) -> String {
    let tracer = |name: &str| {
        capture
            .builder(name)
            .propagators(formats.iter().copied())
            .build()
            .unwrap()
            .into_tracer()
    };
    let (front, middle, back) = (tracer("front"), tracer("middle"), tracer("back"));
    middle.set_enabled(middle_on);

    let back_url = serve(
        Router::new()
            .route("/stock", get(|| async { "in stock" }))
            .layer(TraceLayer::new().with_tracer(back)),
    )
    .await;
    let middle_url = serve(
        Router::new()
            .route("/inventory", get(forward))
            .layer(TraceLayer::new().with_tracer(middle.clone()))
            .with_state(Hop {
                client: traced_client(&middle),
                next: format!("{back_url}/stock"),
            }),
    )
    .await;
    let front_url = serve(
        Router::new()
            .route("/order", get(forward))
            .layer(TraceLayer::new().with_tracer(front.clone()))
            .with_state(Hop {
                client: traced_client(&front),
                next: format!("{middle_url}/inventory"),
            }),
    )
    .await;
    reqwest::Client::new()
        .get(format!("{front_url}/order"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switched_off_service_still_forwards_the_trace_in_every_format() {
    for formats in [
        vec![PropagatorKind::TraceContext],
        vec![PropagatorKind::B3],
        vec![PropagatorKind::B3Multi],
        vec![PropagatorKind::Jaeger],
    ] {
        let capture = SpanCapture::new();
        assert_eq!(chain(&capture, &formats, false).await, "in stock");
        wait_spans(&capture, 3).await;
        assert_eq!(capture.trace_ids().len(), 1, "{formats:?}: one trace");
        // No middle spans; the back server's parent is the front's client span.
        assert_tree(
            &capture.render(&format()),
            "
            front server GET /order http.response.status_code=200
              front client GET http.response.status_code=200
                back server GET /stock http.response.status_code=200
            ",
        );
        let front_call = span_named(&capture, "GET");
        let back = span_named(&capture, "GET /stock");
        assert_eq!(
            back.data.parent_span_id,
            front_call.data.span_context.span_id(),
            "{formats:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switched_on_the_middle_service_adds_its_spans_to_the_same_trace() {
    let capture = SpanCapture::new();
    chain(&capture, &[PropagatorKind::TraceContext], true).await;
    wait_spans(&capture, 5).await;
    assert_tree(
        &capture.render(&format()),
        "
        front server GET /order http.response.status_code=200
          front client GET http.response.status_code=200
            middle server GET /inventory http.response.status_code=200
              middle client GET http.response.status_code=200
                back server GET /stock http.response.status_code=200
        ",
    );
}
