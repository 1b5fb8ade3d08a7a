//! server1: the HTTP entry point. It forwards the shop's requests to server2, owns the customers
//! (server2 calls it back for a customer's discount) and starts the call-back loop.
//!
//! | route | does |
//! |---|---|
//! | `GET /products/{sku}` | server2 `GET /products/{sku}` |
//! | `GET /products?skus=1,2,3` | server2 `GET /products?skus=...` |
//! | `POST /orders` | server2 `POST /orders` |
//! | `GET /loop?depth=n` | server2 `GET /loop?depth=n+1&from=server1`, unless the loop stops here |
//! | `GET /customers/{name}` | the customer's discount (the call-back from server2) |

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use reqwest_middleware::ClientWithMiddleware;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tracer::Tracer;
use tracer::http::server::TraceLayer;

use crate::call_back_loop::{self, LoopParams};
use crate::faults::directive::{Directive, Service};
use crate::http_forwarding::{self, forward};

/// server1's settings.
#[derive(Clone, Debug)]
pub struct Options {
    /// Base URL of server2, e.g. `http://127.0.0.1:8082`.
    pub server2: String,
    /// The call-back loop's depth limit (a directive can only lower it).
    pub max_loop_depth: u32,
    /// Timeout of each request to server2.
    pub timeout: Duration,
}

struct Server1 {
    options: Options,
    client: ClientWithMiddleware,
}

/// The customers server1 knows, with their discount in percent.
const CUSTOMERS: &[(&str, u32)] = &[("alice", 10), ("bob", 0), ("carol", 25)];

/// server1's router: traced routes plus the untraced admin routes.
pub fn router(options: Options, tracer: Tracer) -> Router {
    let state = Arc::new(Server1 {
        client: http_forwarding::traced_client(&tracer, options.timeout),
        options,
    });
    Router::new()
        .route("/products/{sku}", get(product))
        .route("/products", get(products))
        .route("/orders", post(order))
        .route("/loop", get(call_loop))
        .route("/customers/{name}", get(customer))
        .with_state(state)
        .layer(TraceLayer::new().with_tracer(tracer.clone()))
        .merge(http_forwarding::admin_router(tracer))
}

/// Serves server1 on `listener` until the process ends.
pub async fn serve(listener: TcpListener, options: Options, tracer: Tracer) -> std::io::Result<()> {
    let app = router(options, tracer);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

async fn enter() -> Directive {
    let directive = Directive::current();
    http_forwarding::record_customer(&directive);
    directive.enter(Service::Server1).await;
    directive
}

async fn product(State(s): State<Arc<Server1>>, Path(sku): Path<u64>) -> Response {
    enter().await;
    let url = format!("{}/products/{sku}", s.options.server2);
    forward(&s.client, "server2", |c| c.get(&url)).await
}

#[derive(Deserialize)]
struct Skus {
    skus: String,
}

async fn products(State(s): State<Arc<Server1>>, Query(q): Query<Skus>) -> Response {
    enter().await;
    let url = format!("{}/products", s.options.server2);
    forward(&s.client, "server2", |c| {
        c.get(&url).query(&[("skus", q.skus.as_str())])
    })
    .await
}

async fn order(State(s): State<Arc<Server1>>, Json(body): Json<Value>) -> Response {
    enter().await;
    let url = format!("{}/orders", s.options.server2);
    forward(&s.client, "server2", |c| c.post(&url).json(&body)).await
}

async fn call_loop(State(s): State<Arc<Server1>>, Query(p): Query<LoopParams>) -> Response {
    let directive = enter().await;
    let depth = p.depth.max(1);
    if let Err(stop) = call_back_loop::check(&directive, depth, s.options.max_loop_depth) {
        return stop;
    }
    let url = format!("{}/loop", s.options.server2);
    let next = (depth + 1).to_string();
    forward(&s.client, "server2", |c| {
        c.get(&url)
            .query(&[("depth", next.as_str()), ("from", "server1")])
    })
    .await
}

async fn customer(Path(name): Path<String>) -> Response {
    enter().await;
    match CUSTOMERS.iter().find(|(n, _)| *n == name) {
        Some((name, discount)) => {
            Json(json!({ "name": name, "discount_percent": discount })).into_response()
        }
        None => {
            http_forwarding::error(StatusCode::NOT_FOUND, format!("no customer named {name:?}"))
        }
    }
}
