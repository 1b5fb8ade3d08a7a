//! A layer or middleware built before `init()` (the obvious order in a `main` that builds its
//! router first) records with the tracer `init()` installs, instead of a no-op tracer taken at
//! construction.
#![cfg(all(feature = "axum", feature = "reqwest", feature = "testing"))]

mod http_support;

use axum::Router;
use axum::routing::get;
use http_support::{plain_client, serve, wait_spans};
use reqwest_middleware::ClientBuilder;
use tracer::http::client::TraceMiddleware;
use tracer::http::server::TraceLayer;
use tracer::testing::SpanCapture;

#[tokio::test]
async fn a_layer_and_a_client_built_before_init_record_after_it() {
    // Built first: nothing is installed yet.
    let router = Router::new()
        .route("/hello", get(|| async { "hi" }))
        .layer(TraceLayer::new());
    let client = ClientBuilder::new(plain_client())
        .with(TraceMiddleware::new())
        .build();
    let base = serve(router).await;

    // Before init: served and called, no spans anywhere.
    let capture = SpanCapture::new();
    client.get(format!("{base}/hello")).send().await.unwrap();
    assert!(capture.is_empty());

    // After init: both record with the installed tracer.
    let _guard = capture.builder("svc").init().unwrap();
    let response = client.get(format!("{base}/hello")).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "hi");
    let spans = wait_spans(&capture, 2).await;
    let mut names: Vec<&str> = spans.iter().map(|s| s.name()).collect();
    names.sort();
    assert_eq!(names, ["GET", "GET /hello"]);
    let client_span = spans.iter().find(|s| s.name() == "GET").unwrap();
    let server_span = spans.iter().find(|s| s.name() == "GET /hello").unwrap();
    assert_eq!(
        server_span.data.parent_span_id,
        client_span.data.span_context.span_id(),
        "one trace across the two"
    );
}
