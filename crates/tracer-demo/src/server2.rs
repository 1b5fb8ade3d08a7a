//! server2: the HTTP middle tier. It turns the shop's HTTP requests into gRPC calls to server3,
//! prices products for server3 (calling server1 back for the customer's discount), and relays the
//! call-back loop in both directions.
//!
//! | route | does |
//! |---|---|
//! | `GET /products/{sku}` | server3 `GetProduct` |
//! | `GET /products?skus=1,2,3` | server3 `ListProducts` |
//! | `POST /orders` | server3 `PlaceOrder` |
//! | `GET /prices/{sku}?customer=&base=` | server1 `GET /customers/{customer}`, then the discounted price |
//! | `GET /loop?depth=n&from=server1` | server3 `Loop` at depth n+1 |
//! | `GET /loop?depth=n&from=server3` | server1 `GET /loop?depth=n+1` |

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use opentelemetry::trace::{TraceContextExt, TraceId};
use reqwest_middleware::ClientWithMiddleware;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tonic::transport::{Channel, Endpoint};
use tower::Layer as _;
use tracer::Tracer;
use tracer::grpc::{GrpcClientLayer, GrpcClientService};
use tracer::http::server::TraceLayer;

use crate::call_back_loop::{self, LoopParams};
use crate::faults::directive::{Directive, Service};
use crate::http_forwarding::{self, forward};
use crate::proto::{
    GetProductRequest, ListProductsRequest, LoopRequest, PlaceOrderRequest, ShopClient,
};

/// server2's settings.
#[derive(Clone, Debug)]
pub struct Options {
    /// Base URL of server1 (for call-backs).
    pub server1: String,
    /// gRPC URL of server3, e.g. `http://127.0.0.1:8083`.
    pub server3: String,
    /// gRPC URL where nothing listens, used when a directive asks for an unreachable server3.
    pub server3_unreachable: String,
    /// The call-back loop's depth limit.
    pub max_loop_depth: u32,
    /// Timeout of each request to server1 and server3.
    pub timeout: Duration,
}

type Shop = ShopClient<GrpcClientService<Channel>>;

struct Server2 {
    options: Options,
    http: ClientWithMiddleware,
    shop: Shop,
    unreachable: Shop,
    /// Attempts seen per trace, for `fault.unavailable` (bounded: the last 256 traces).
    attempts: Mutex<VecDeque<(TraceId, u32)>>,
}

fn shop_client(url: &str, tracer: &Tracer) -> Result<Shop, tonic::transport::Error> {
    let channel = Endpoint::from_shared(url.to_owned())?
        .connect_timeout(Duration::from_secs(1))
        .connect_lazy();
    Ok(ShopClient::new(
        GrpcClientLayer::new()
            .with_tracer(tracer.clone())
            .layer(channel),
    ))
}

/// server2's router: traced routes plus the untraced admin routes.
pub fn router(options: Options, tracer: Tracer) -> Result<Router, tonic::transport::Error> {
    let state = Arc::new(Server2 {
        http: http_forwarding::traced_client(&tracer, options.timeout),
        shop: shop_client(&options.server3, &tracer)?,
        unreachable: shop_client(&options.server3_unreachable, &tracer)?,
        options,
        attempts: Mutex::new(VecDeque::new()),
    });
    Ok(Router::new()
        .route("/products/{sku}", get(product))
        .route("/products", get(products))
        .route("/orders", post(order))
        .route("/prices/{sku}", get(price))
        .route("/loop", get(call_loop))
        .with_state(state)
        .layer(TraceLayer::new().with_tracer(tracer.clone()))
        .merge(http_forwarding::admin_router(tracer)))
}

/// Serves server2 on `listener` until the process ends.
pub async fn serve(listener: TcpListener, options: Options, tracer: Tracer) -> anyhow::Result<()> {
    let app = router(options, tracer)?;
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}

impl Server2 {
    /// Applies the directive's faults for server2; `Err` is the reply to send instead.
    #[allow(clippy::result_large_err)]
    async fn enter(&self) -> Result<Directive, Response> {
        let directive = Directive::current();
        http_forwarding::record_customer(&directive);
        directive.enter(Service::Server2).await;
        if directive.unavailable > 0 && self.attempt() <= directive.unavailable {
            return Err(http_forwarding::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "server2 is unavailable, as the fault directive asks",
            ));
        }
        Ok(directive)
    }

    /// Counts this attempt of the current trace's request; returns its number (1 = first).
    fn attempt(&self) -> u32 {
        let trace = opentelemetry::Context::current()
            .span()
            .span_context()
            .trace_id();
        let mut seen = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, n)) = seen.iter_mut().find(|(t, _)| *t == trace) {
            *n += 1;
            return *n;
        }
        if seen.len() == 256 {
            seen.pop_front();
        }
        seen.push_back((trace, 1));
        1
    }

    /// The client for server3 and the request, with the directive's deadline.
    fn shop<T>(&self, directive: &Directive, message: T) -> (Shop, tonic::Request<T>) {
        let mut request = tonic::Request::new(message);
        if let Some(deadline) = directive.deadline {
            request.set_timeout(deadline);
        }
        let client = if directive.unreachable {
            self.unreachable.clone()
        } else {
            self.shop.clone()
        };
        (client, request)
    }
}

/// The HTTP answer for a failed gRPC call to server3.
fn grpc_failure(status: &tonic::Status) -> Response {
    use tonic::Code;
    let code = match status.code() {
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists => StatusCode::CONFLICT,
        Code::InvalidArgument => StatusCode::BAD_REQUEST,
        // tonic reports its own client-side deadline as CANCELLED "Timeout expired".
        Code::DeadlineExceeded | Code::Cancelled => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::BAD_GATEWAY,
    };
    http_forwarding::error(
        code,
        format!("server3 answered {:?}: {}", status.code(), status.message()),
    )
}

fn product_json(p: &crate::proto::Product) -> Value {
    json!({
        "sku": p.sku,
        "name": p.name,
        "price_cents": p.price_cents,
        "cached": p.cached,
        "traceparent_at_server3": p.traceparent,
    })
}

async fn product(State(s): State<Arc<Server2>>, Path(sku): Path<u64>) -> Response {
    let directive = match s.enter().await {
        Ok(d) => d,
        Err(reply) => return reply,
    };
    let (mut shop, request) = s.shop(&directive, GetProductRequest { sku });
    match shop.get_product(request).await {
        Ok(reply) => Json(product_json(reply.get_ref())).into_response(),
        Err(status) => grpc_failure(&status),
    }
}

#[derive(Deserialize)]
struct Skus {
    skus: String,
}

#[allow(clippy::result_large_err)]
fn parse_skus(text: &str) -> Result<Vec<u64>, Response> {
    text.split(',')
        .map(|s| s.trim().parse::<u64>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| {
            http_forwarding::error(
                StatusCode::BAD_REQUEST,
                format!("skus must be comma-separated numbers, not {text:?}"),
            )
        })
}

async fn products(State(s): State<Arc<Server2>>, Query(q): Query<Skus>) -> Response {
    let directive = match s.enter().await {
        Ok(d) => d,
        Err(reply) => return reply,
    };
    let skus = match parse_skus(&q.skus) {
        Ok(skus) => skus,
        Err(reply) => return reply,
    };
    let message = ListProductsRequest {
        skus,
        one_by_one: directive.one_by_one,
    };
    let (mut shop, request) = s.shop(&directive, message);
    match shop.list_products(request).await {
        Ok(reply) => {
            let list: Vec<Value> = reply.get_ref().products.iter().map(product_json).collect();
            Json(json!({ "products": list })).into_response()
        }
        Err(status) => grpc_failure(&status),
    }
}

#[derive(Deserialize)]
struct OrderBody {
    customer: String,
    skus: Vec<u64>,
    #[serde(default)]
    order_id: u64,
}

async fn order(State(s): State<Arc<Server2>>, Json(body): Json<OrderBody>) -> Response {
    let directive = match s.enter().await {
        Ok(d) => d,
        Err(reply) => return reply,
    };
    let message = PlaceOrderRequest {
        customer: body.customer,
        skus: body.skus,
        order_id: body.order_id,
    };
    let (mut shop, request) = s.shop(&directive, message);
    match shop.place_order(request).await {
        Ok(reply) => Json(json!({
            "order_id": reply.get_ref().order_id,
            "total_cents": reply.get_ref().total_cents,
        }))
        .into_response(),
        Err(status) => grpc_failure(&status),
    }
}

#[derive(Deserialize)]
struct PriceQuery {
    customer: String,
    base: i64,
}

async fn price(
    State(s): State<Arc<Server2>>,
    Path(sku): Path<u64>,
    Query(q): Query<PriceQuery>,
) -> Response {
    let directive = match s.enter().await {
        Ok(d) => d,
        Err(reply) => return reply,
    };
    if directive.fail_sku == Some(sku) {
        return http_forwarding::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("no price for sku {sku}, as the fault directive asks"),
        );
    }
    let url = format!("{}/customers/{}", s.options.server1, q.customer);
    let reply = forward(&s.http, "server1", |c| c.get(&url)).await;
    if !reply.status().is_success() {
        return reply;
    }
    let body = axum::body::to_bytes(reply.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let customer: Value = serde_json::from_slice(&body).unwrap_or_default();
    let discount = customer["discount_percent"].as_i64().unwrap_or(0);
    Json(json!({ "sku": sku, "price_cents": q.base * (100 - discount) / 100 })).into_response()
}

async fn call_loop(State(s): State<Arc<Server2>>, Query(p): Query<LoopParams>) -> Response {
    let directive = match s.enter().await {
        Ok(d) => d,
        Err(reply) => return reply,
    };
    let depth = p.depth.max(1);
    if let Err(stop) = call_back_loop::check(&directive, depth, s.options.max_loop_depth) {
        return stop;
    }
    if p.from.as_deref() == Some("server3") {
        let url = format!("{}/loop", s.options.server1);
        let next = (depth + 1).to_string();
        return forward(&s.http, "server1", |c| {
            c.get(&url).query(&[("depth", next.as_str())])
        })
        .await;
    }
    let (mut shop, request) = s.shop(&directive, LoopRequest { depth: depth + 1 });
    match shop.r#loop(request).await {
        Ok(reply) => Json(json!({ "depth": reply.get_ref().depth })).into_response(),
        Err(status) if status.code() == tonic::Code::ResourceExhausted => http_forwarding::error(
            StatusCode::BAD_GATEWAY,
            format!("server3 answered {:?}: {}", status.code(), status.message()),
        ),
        Err(status) => grpc_failure(&status),
    }
}
