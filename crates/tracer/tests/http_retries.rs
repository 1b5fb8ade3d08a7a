//! Retries show as sibling client spans under the caller's span, the resends carrying
//! `http.request.resend_count`: with reqwest-retry (which passes the same `Extensions` to every
//! attempt) and with a retry loop of one's own sharing a `RequestAttempts`.
#![cfg(all(feature = "axum", feature = "reqwest", feature = "testing"))]

mod http_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use http_support::{format, plain_client, serve, wait_spans};
use opentelemetry::Context;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanKind, TraceContextExt};
use reqwest_middleware::ClientBuilder;
use reqwest_retry::RetryTransientMiddleware;
use reqwest_retry::policies::ExponentialBackoff;
use tracer::http::client::{RequestAttempts, TraceMiddleware};
use tracer::http::server::TraceLayer;
use tracer::testing::{SpanCapture, assert_tree};

/// Fails with 503 `failures` times, then answers 200.
async fn flaky(State(calls): State<(Arc<AtomicU32>, u32)>) -> StatusCode {
    let (calls, failures) = calls;
    if calls.fetch_add(1, Ordering::SeqCst) < failures {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

async fn flaky_server(capture: &SpanCapture, failures: u32) -> String {
    let app = Router::new()
        .route("/flaky", get(flaky))
        .layer(TraceLayer::new().with_tracer(capture.tracer("server")))
        .with_state((Arc::new(AtomicU32::new(0)), failures));
    serve(app).await
}

const EXPECTED: &str = "
    caller internal checkout
      caller client GET !error http.response.status_code=503 error.type=503
        server server GET /flaky !error http.response.status_code=503 error.type=503
      caller client GET !error http.response.status_code=503 error.type=503 http.request.resend_count=1
        server server GET /flaky !error http.response.status_code=503 error.type=503
      caller client GET http.response.status_code=200 http.request.resend_count=2
        server server GET /flaky http.response.status_code=200
    ";

#[tokio::test]
async fn reqwest_retry_attempts_are_siblings_with_a_resend_count() {
    let capture = SpanCapture::new();
    let base = flaky_server(&capture, 2).await;
    let caller = capture.tracer("caller");
    let policy = ExponentialBackoff::builder()
        .retry_bounds(Duration::from_millis(1), Duration::from_millis(5))
        .build_with_max_retries(3);
    let client = ClientBuilder::new(plain_client())
        .with(RetryTransientMiddleware::new_with_policy(policy)) // outer: loops
        .with(TraceMiddleware::new().with_tracer(caller.clone())) // inner: a span per attempt
        .build();

    let root = caller
        .span("checkout", SpanKind::Internal, vec![], &Context::new())
        .unwrap();
    let cx = Context::new().with_span(root);
    let response = client
        .get(format!("{base}/flaky"))
        .send()
        .with_context(cx.clone())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    cx.span().end();

    wait_spans(&capture, 7).await;
    assert_tree(&capture.render(&format()), EXPECTED);
}

#[tokio::test]
async fn a_hand_written_retry_loop_counts_resends_with_request_attempts() {
    let capture = SpanCapture::new();
    let base = flaky_server(&capture, 2).await;
    let caller = capture.tracer("caller");
    let client = ClientBuilder::new(plain_client())
        .with(TraceMiddleware::new().with_tracer(caller.clone()))
        .build();

    let root = caller
        .span("checkout", SpanKind::Internal, vec![], &Context::new())
        .unwrap();
    let cx = Context::new().with_span(root);
    let attempts = RequestAttempts::new();
    let mut last = None;
    for _ in 0..5 {
        let status = client
            .get(format!("{base}/flaky"))
            .with_extension(attempts.clone())
            .send()
            .with_context(cx.clone())
            .await
            .unwrap()
            .status();
        last = Some(status);
        if status.is_success() {
            break;
        }
    }
    assert_eq!(last.map(|s| s.as_u16()), Some(200));
    assert_eq!(attempts.count(), 3);
    cx.span().end();

    wait_spans(&capture, 7).await;
    assert_tree(&capture.render(&format()), EXPECTED);

    // Separate requests without a shared counter are not resends of each other.
    capture.clear();
    client.get(format!("{base}/flaky")).send().await.unwrap();
    client.get(format!("{base}/flaky")).send().await.unwrap();
    wait_spans(&capture, 4).await;
    assert!(
        capture
            .spans()
            .iter()
            .all(|s| s.attr("http.request.resend_count").is_none()),
        "{}",
        capture.render(&format())
    );
}
