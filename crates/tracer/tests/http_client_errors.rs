//! Client spans of failed requests: a refused connection (no server span), an error status
//! (red client span, green server span for a 4xx) and the URL of a request without a server.
#![cfg(all(feature = "axum", feature = "reqwest", feature = "testing"))]

mod http_support;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::delete;
use http_support::{attr, format, serve, span_named, traced_client, wait_spans};
use tracer::http::server::TraceLayer;
use tracer::testing::{SpanCapture, assert_tree};

#[tokio::test]
async fn a_refused_connection_is_a_connect_error_with_no_server_span() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener); // nothing listens there any more

    let capture = SpanCapture::new();
    let client = traced_client(&capture.tracer("caller"));
    let error = client
        .get(format!("http://127.0.0.1:{port}/orders"))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_connect(), "{error}");

    wait_spans(&capture, 1).await;
    assert_tree(
        &capture.render(&format()),
        "caller client GET !error error.type=connect",
    );
    let span = span_named(&capture, "GET");
    assert_eq!(attr(&span, "server.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(attr(&span, "server.port"), Some(port.to_string()));
    assert_eq!(
        attr(&span, "url.full"),
        Some(format!("http://127.0.0.1:{port}/orders"))
    );
    assert_eq!(attr(&span, "http.request.method").as_deref(), Some("GET"));
    assert_eq!(attr(&span, "http.response.status_code"), None);
}

#[tokio::test]
async fn a_404_is_a_client_error_but_not_a_server_error() {
    let capture = SpanCapture::new();
    let app = Router::new()
        .route("/orders/{id}", delete(|| async { StatusCode::NOT_FOUND }))
        .layer(TraceLayer::new().with_tracer(capture.tracer("server")));
    let base = serve(app).await;
    let client = traced_client(&capture.tracer("caller"));
    let response = client
        .delete(format!("{base}/orders/9"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    wait_spans(&capture, 2).await;
    assert_tree(
        &capture.render(&format()),
        "
        caller client DELETE !error http.response.status_code=404 error.type=404
          server server DELETE /orders/{id} http.response.status_code=404
        ",
    );
}

#[tokio::test]
async fn an_unknown_method_is_recorded_as_other() {
    let capture = SpanCapture::new();
    let app = Router::new()
        .fallback(|| async { "purged" })
        .layer(TraceLayer::new().with_tracer(capture.tracer("server")));
    let base = serve(app).await;
    let client = traced_client(&capture.tracer("caller"));
    let purge = reqwest::Method::from_bytes(b"PURGE").unwrap();
    client
        .request(purge, format!("{base}/cache"))
        .send()
        .await
        .unwrap();

    wait_spans(&capture, 2).await;
    assert_tree(
        &capture.render(&format().attributes(["http.request.method", "http.request.method_original"])),
        "
        caller client HTTP http.response.status_code=200 http.request.method=_OTHER http.request.method_original=PURGE
          server server HTTP http.response.status_code=200 http.request.method=_OTHER http.request.method_original=PURGE
        ",
    );
}
