//! Two services in one process, each with its own tracer and service name: a request to the
//! front service makes it call the back service; the whole exchange is one trace.
#![cfg(all(feature = "axum", feature = "reqwest", feature = "testing"))]

mod http_support;

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use http_support::{format, serve, traced_client, wait_spans};
use reqwest_middleware::ClientWithMiddleware;
use tracer::http::server::TraceLayer;
use tracer::testing::{SpanCapture, assert_tree};

#[derive(Clone)]
struct Front {
    client: ClientWithMiddleware,
    back: String,
}

async fn checkout(State(front): State<Front>) -> String {
    // The call is made after the handler has been suspended once: the span stays current
    // across polls, not just on the first one.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let stock = front
        .client
        .get(format!("{}/stock/sku-{}", front.back, 17))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    format!("checked out ({stock})")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_to_client_to_server_is_one_trace() {
    let capture = SpanCapture::new();
    let front_tracer = capture.tracer("front");
    let back_tracer = capture.tracer("back");

    let back = Router::new()
        .route(
            "/stock/{sku}",
            get(|Path(sku): Path<String>| async move { format!("{sku}: 3 left") }),
        )
        .layer(TraceLayer::new().with_tracer(back_tracer));
    let back_url = serve(back).await;

    let front = Router::new()
        .route("/checkout", get(checkout))
        .layer(TraceLayer::new().with_tracer(front_tracer.clone()))
        .with_state(Front {
            client: traced_client(&front_tracer),
            back: back_url,
        });
    let front_url = serve(front).await;

    let user = traced_client(&capture.tracer("user"));
    let body = user
        .get(format!("{front_url}/checkout"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "checked out (sku-17: 3 left)");

    wait_spans(&capture, 4).await;
    assert_eq!(
        capture.trace_ids().len(),
        1,
        "one trace across both services"
    );
    assert_tree(
        &capture.render(&format().attributes(["http.route"])),
        "
        user client GET http.response.status_code=200
          front server GET /checkout http.response.status_code=200 http.route=/checkout
            front client GET http.response.status_code=200
              back server GET /stock/{sku} http.response.status_code=200 http.route=/stock/{sku}
        ",
    );
    // The spans are recorded by the tracer of the service that made them.
    let services: Vec<String> = capture.spans().iter().map(|s| s.service.clone()).collect();
    for service in ["user", "front", "back"] {
        assert!(
            services.iter().any(|s| s == service),
            "{service} recorded spans: {services:?}"
        );
    }
}
