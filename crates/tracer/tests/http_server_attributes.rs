//! The server span's semconv 1.42 attributes, as recorded for a real request.
#![cfg(all(feature = "axum", feature = "reqwest", feature = "testing"))]

mod http_support;

use axum::Router;
use axum::routing::get;
use http_support::{attr, plain_client, serve, span_named, wait_spans};
use tracer::http::server::TraceLayer;
use tracer::testing::{SpanCapture, TreeFormat, assert_tree};

#[tokio::test]
async fn the_server_span_carries_the_http_semantic_conventions() {
    let capture = SpanCapture::new();
    let app = Router::new()
        .route("/users/{id}/orders", get(|| async { "orders" }))
        .layer(TraceLayer::new().with_tracer(capture.tracer("svc")));
    let base = serve(app).await;
    let port = base.rsplit(':').next().unwrap().to_owned();
    plain_client()
        .get(format!("{base}/users/42/orders?page=2&sort=asc"))
        .header("user-agent", "checkout-tests/1.0")
        .send()
        .await
        .unwrap();

    wait_spans(&capture, 1).await;
    assert_tree(
        &capture.render(&TreeFormat::new()),
        "svc server GET /users/{id}/orders",
    );
    let span = span_named(&capture, "GET /users/{id}/orders");
    let expected = [
        ("http.request.method", Some("GET".to_owned())),
        ("url.path", Some("/users/42/orders".to_owned())),
        ("url.query", Some("page=2&sort=asc".to_owned())),
        ("url.scheme", Some("http".to_owned())),
        ("http.route", Some("/users/{id}/orders".to_owned())),
        ("http.response.status_code", Some("200".to_owned())),
        ("server.address", Some("127.0.0.1".to_owned())),
        ("server.port", Some(port)),
        ("client.address", Some("127.0.0.1".to_owned())),
        ("network.protocol.version", Some("1.1".to_owned())),
        ("user_agent.original", Some("checkout-tests/1.0".to_owned())),
        ("error.type", None),
    ];
    for (key, value) in expected {
        assert_eq!(attr(&span, key), value, "{key}");
    }
    assert_eq!(*span.kind(), opentelemetry::trace::SpanKind::Server);
}

#[tokio::test]
async fn forwarded_headers_name_the_original_client_and_scheme() {
    let capture = SpanCapture::new();
    let app = Router::new()
        .route("/", get(|| async { "hi" }))
        .layer(TraceLayer::new().with_tracer(capture.tracer("svc")));
    let base = serve(app).await;
    plain_client()
        .get(format!("{base}/"))
        .header("x-forwarded-for", "203.0.113.9, 10.0.0.1")
        .header("x-forwarded-proto", "https")
        .header("host", "shop.example.com")
        .send()
        .await
        .unwrap();
    wait_spans(&capture, 1).await;
    let span = span_named(&capture, "GET /");
    assert_eq!(
        attr(&span, "client.address").as_deref(),
        Some("203.0.113.9")
    );
    assert_eq!(attr(&span, "url.scheme").as_deref(), Some("https"));
    assert_eq!(
        attr(&span, "server.address").as_deref(),
        Some("shop.example.com")
    );
    assert_eq!(attr(&span, "server.port").as_deref(), Some("443"));
}
