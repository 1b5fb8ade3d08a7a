//! A `#[tracing::instrument]` span inside a handler is a child of the server span, and a client
//! call made inside it is the tracing span's child.
#![cfg(all(
    feature = "axum",
    feature = "reqwest",
    feature = "tracing",
    feature = "testing"
))]

mod http_support;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use http_support::{serve, traced_client, wait_spans};
use reqwest_middleware::ClientWithMiddleware;
use tracer::http::server::TraceLayer;
use tracer::testing::{SpanCapture, TreeFormat, assert_tree};
use tracing::Instrument as _;
use tracing_subscriber::layer::SubscriberExt as _;

#[derive(Clone)]
struct App {
    client: ClientWithMiddleware,
    prices: String,
}

#[tracing::instrument(skip(app))]
async fn load_cart(app: &App, user: u32) -> String {
    let prices = app
        .client
        .get(&app.prices)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    format!("cart of {user}: {prices}")
}

async fn cart(State(app): State<App>) -> String {
    let cart = load_cart(&app, 7).await;
    async { tokio::task::yield_now().await }
        .instrument(tracing::info_span!("render"))
        .await;
    cart
}

// A current-thread runtime: the scoped (thread-local) subscriber then sees every task, the
// server's connection tasks included.
#[tokio::test(flavor = "current_thread")]
async fn tracing_spans_in_a_handler_are_children_of_the_server_span() {
    let capture = SpanCapture::new();
    let shop = capture.tracer("shop");
    let subscriber = tracing_subscriber::registry().with(tracer::tracing_layer(&shop));
    let _default = tracing::subscriber::set_default(subscriber);

    let prices = serve(
        Router::new()
            .route("/prices", get(|| async { "3 EUR" }))
            .layer(TraceLayer::new().with_tracer(capture.tracer("pricing"))),
    )
    .await;
    let base = serve(
        Router::new()
            .route("/cart", get(cart))
            .layer(TraceLayer::new().with_tracer(shop.clone()))
            .with_state(App {
                client: traced_client(&shop),
                prices: format!("{prices}/prices"),
            }),
    )
    .await;
    let body = reqwest::Client::new()
        .get(format!("{base}/cart"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "cart of 7: 3 EUR");

    wait_spans(&capture, 5).await;
    assert_tree(
        // No events: hyper's own `tracing` logs land on the spans as events.
        &capture.render(&TreeFormat::new().attributes(["http.response.status_code"])),
        "
        shop server GET /cart http.response.status_code=200
          shop internal load_cart
            shop client GET http.response.status_code=200
              pricing server GET /prices http.response.status_code=200
          shop internal render
        ",
    );
}
