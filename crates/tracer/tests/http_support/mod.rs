//! Shared helpers for the HTTP tests: real axum servers on 127.0.0.1:0 and real reqwest clients.
#![allow(dead_code, unreachable_pub)] // each test binary uses a different part of this module

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use tokio::net::TcpListener;
use tracer::http::client::TraceMiddleware;
use tracer::testing::{CapturedSpan, SpanCapture, TreeFormat};

/// Serves `router` on 127.0.0.1:0 on the current runtime, with the peer address available to the
/// layer (`ConnectInfo`); returns the base URL, e.g. `http://127.0.0.1:40123`.
pub async fn serve(router: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("server runs");
    });
    format!("http://{addr}")
}

/// A reqwest client traced with `tracer`.
pub fn traced_client(tracer: &tracer::Tracer) -> ClientWithMiddleware {
    ClientBuilder::new(plain_client())
        .with(TraceMiddleware::new().with_tracer(tracer.clone()))
        .build()
}

/// An untraced reqwest client (no pooling surprises between tests: one client per test).
pub fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("reqwest client")
}

/// The tree format most tests use.
pub fn format() -> TreeFormat {
    TreeFormat::new()
        .attributes([
            "http.response.status_code",
            "error.type",
            "http.request.resend_count",
        ])
        .events(true)
}

/// Waits until `count` spans are captured (server spans end after the body is sent, so a client
/// can see its response first) and fails with what was captured if they never come.
pub async fn wait_spans(capture: &SpanCapture, count: usize) -> Vec<CapturedSpan> {
    let spans = capture.wait_for(count, Duration::from_secs(5)).await;
    assert!(
        spans.len() >= count,
        "expected {count} spans, got {}:\n{}",
        spans.len(),
        capture.render(&format())
    );
    // Let any span that should NOT be there show up before the caller asserts the tree.
    tokio::time::sleep(Duration::from_millis(50)).await;
    capture.spans()
}

/// The only span named `name`.
pub fn span_named(capture: &SpanCapture, name: &str) -> CapturedSpan {
    let matching: Vec<CapturedSpan> = capture
        .spans()
        .into_iter()
        .filter(|s| s.name() == name)
        .collect();
    assert_eq!(
        matching.len(),
        1,
        "one span named {name:?}:\n{}",
        capture.render(&format())
    );
    matching.into_iter().next().unwrap()
}

/// An attribute as text, for targeted assertions.
pub fn attr(span: &CapturedSpan, key: &str) -> Option<String> {
    span.attr(key).map(|v| v.to_string())
}
