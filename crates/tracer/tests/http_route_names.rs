//! Server spans are named `{METHOD} {route}` after axum's route template, never the raw path;
//! unmatched requests (the fallback) are named `{METHOD}`.
#![cfg(all(feature = "axum", feature = "reqwest", feature = "testing"))]

mod http_support;

use axum::Router;
use axum::routing::{get, post};
use http_support::{attr, plain_client, serve, span_named, wait_spans};
use tower::Layer as _;
use tracer::http::server::TraceLayer;
use tracer::testing::{SpanCapture, TreeFormat, assert_tree};

#[tokio::test]
async fn spans_are_named_after_the_matched_route_template() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("shop");
    let api = Router::new().route("/items/{item}", get(|| async { "item" }));
    let app = Router::new()
        .route("/users/{id}", get(|| async { "user" }))
        .route("/orders", post(|| async { "created" }))
        .nest("/api", api)
        .layer(TraceLayer::new().with_tracer(tracer));
    let base = serve(app).await;
    let client = plain_client();
    for (method, path) in [
        ("GET", "/users/42"),
        ("GET", "/users/43"),
        ("POST", "/orders"),
        ("GET", "/api/items/9"),
        ("GET", "/no/such/page"),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        client
            .request(method, format!("{base}{path}"))
            .send()
            .await
            .unwrap();
    }
    wait_spans(&capture, 5).await;
    // One trace per request (the client is untraced), in request order.
    assert_tree(
        &capture.render(&TreeFormat::new().attributes(["http.route", "url.path"])),
        "
        shop server GET /users/{id} http.route=/users/{id} url.path=/users/42

        shop server GET /users/{id} http.route=/users/{id} url.path=/users/43

        shop server POST /orders http.route=/orders url.path=/orders

        shop server GET /api/items/{item} http.route=/api/items/{item} url.path=/api/items/9

        shop server GET url.path=/no/such/page
        ",
    );
    let fallback = span_named(&capture, "GET");
    assert_eq!(
        attr(&fallback, "http.response.status_code").as_deref(),
        Some("404")
    );
    assert!(!fallback.is_error(), "a 404 is not a server error");
    assert_eq!(
        attr(&fallback, "http.route"),
        None,
        "no route for the fallback"
    );
}

#[tokio::test]
async fn route_layer_traces_matched_routes_only() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("shop");
    let app = Router::new()
        .route("/users/{id}", get(|| async { "user" }))
        .route_layer(TraceLayer::new().with_tracer(tracer));
    let base = serve(app).await;
    let client = plain_client();
    client.get(format!("{base}/missing")).send().await.unwrap();
    client.get(format!("{base}/users/1")).send().await.unwrap();
    wait_spans(&capture, 1).await;
    assert_tree(
        &capture.render(&TreeFormat::new()),
        "shop server GET /users/{id}",
    );
}

#[tokio::test]
async fn a_plain_tower_service_gets_method_only_names() {
    use tower::ServiceExt as _;

    let capture = SpanCapture::new();
    let service = tower::service_fn(|_request: http::Request<axum::body::Body>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(axum::body::Body::from("hi")))
    });
    let traced = TraceLayer::new()
        .with_tracer(capture.tracer("plain"))
        .layer(service);
    let request = http::Request::get("/users/7")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = traced.oneshot(request).await.unwrap();
    let body = axum::body::to_bytes(axum::body::Body::new(response.into_body()), 1024)
        .await
        .unwrap();
    assert_eq!(&body[..], b"hi");
    assert_tree(
        &capture.render(&TreeFormat::new().attributes(["url.path", "http.response.status_code"])),
        "plain server GET url.path=/users/7 http.response.status_code=200",
    );
}
