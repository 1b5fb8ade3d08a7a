//! The status table: 2xx and 4xx server spans are not errors, 5xx are (with `error.type` = the
//! code); a handler panic records an `exception` event, the client gets a 500 and the server
//! keeps serving. On the client side every status >= 400 is an error.
#![cfg(all(feature = "axum", feature = "reqwest", feature = "testing"))]

mod http_support;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use http_support::{attr, format, plain_client, serve, span_named, traced_client, wait_spans};
use tracer::http::server::TraceLayer;
use tracer::testing::{SpanCapture, assert_tree};

async fn panics() -> &'static str {
    panic!("the basket exploded");
}

fn app(layer: TraceLayer) -> Router {
    Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route(
            "/missing",
            get(|| async { (StatusCode::NOT_FOUND, "no such order") }),
        )
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "db down") }),
        )
        .route(
            "/unavailable",
            get(|| async { StatusCode::SERVICE_UNAVAILABLE }),
        )
        .route("/panic", get(panics))
        .layer(layer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_codes_and_panics_map_to_span_status() {
    let capture = SpanCapture::new();
    let base = serve(app(TraceLayer::new().with_tracer(capture.tracer("server")))).await;
    let client = traced_client(&capture.tracer("caller"));
    let mut statuses = Vec::new();
    for path in ["/ok", "/missing", "/fail", "/unavailable", "/panic", "/ok"] {
        let response = client.get(format!("{base}{path}")).send().await.unwrap();
        statuses.push(response.status().as_u16());
        response.bytes().await.unwrap();
        // Sequential traces keep the render order stable.
        wait_spans(&capture, statuses.len() * 2).await;
    }
    assert_eq!(
        statuses,
        [200, 404, 500, 503, 500, 200],
        "the server kept serving after the panic"
    );
    assert_tree(
        &capture.render(&format()),
        "
        caller client GET http.response.status_code=200
          server server GET /ok http.response.status_code=200

        caller client GET !error http.response.status_code=404 error.type=404
          server server GET /missing http.response.status_code=404

        caller client GET !error http.response.status_code=500 error.type=500
          server server GET /fail !error http.response.status_code=500 error.type=500

        caller client GET !error http.response.status_code=503 error.type=503
          server server GET /unavailable !error http.response.status_code=503 error.type=503

        caller client GET !error http.response.status_code=500 error.type=500
          server server GET /panic !error http.response.status_code=500 error.type=panic events=[exception]

        caller client GET http.response.status_code=200
          server server GET /ok http.response.status_code=200
        ",
    );
    let panicked = span_named(&capture, "GET /panic");
    let event = panicked.data.events.iter().next().expect("exception event");
    let message = event
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == "exception.message")
        .map(|kv| kv.value.to_string());
    assert_eq!(message.as_deref(), Some("the basket exploded"));
}

#[tokio::test]
async fn with_tower_http_catch_panic_outside_the_span_still_records_the_panic() {
    let capture = SpanCapture::new();
    let app = Router::new()
        .route("/panic", get(panics))
        .route("/ok", get(|| async { "ok" }))
        .layer(
            TraceLayer::new()
                .with_tracer(capture.tracer("server"))
                .catch_panic(false),
        )
        .layer(tower_http::catch_panic::CatchPanicLayer::new());
    let base = serve(app).await;
    let client = plain_client();
    let status = client
        .get(format!("{base}/panic"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 500, "CatchPanicLayer answers");
    wait_spans(&capture, 1).await;
    assert_eq!(
        client
            .get(format!("{base}/ok"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    wait_spans(&capture, 2).await;
    assert_tree(
        &capture.render(&format()),
        "
        server server GET /panic !error error.type=panic events=[exception]

        server server GET /ok http.response.status_code=200
        ",
    );
    let panicked = span_named(&capture, "GET /panic");
    assert_eq!(
        attr(&panicked, "http.response.status_code"),
        None,
        "the answer came from outside"
    );
}
