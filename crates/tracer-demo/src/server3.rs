//! server3: the gRPC service `shop.v1.Shop` in front of Redis (the product cache) and MySQL (the
//! catalogue and the orders). Pricing an order calls server2 back over HTTP, one call per item,
//! concurrently; the call-back loop calls server2's `/loop`. Each order stored is published as an
//! `order.placed` event to RabbitMQ ([`order_events`](crate::order_events); a failed publish
//! fails neither the order nor the request, as that module's rule says), which the
//! [`worker`](crate::worker) consumes.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use redis::AsyncCommands;
use reqwest_middleware::ClientWithMiddleware;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;
use tokio::net::TcpListener;
use tonic::{Request, Response, Status};
use tracer::Tracer;
use tracer::grpc::GrpcServerLayer;

use crate::call_back_loop;
use crate::faults::directive::{Directive, MysqlFault, Service};
use crate::http_forwarding;
use crate::order_events::{OrderPlaced, Publisher};
use crate::proto::{
    GetProductRequest, ListProductsRequest, LoopReply, LoopRequest, OrderReceipt,
    PlaceOrderRequest, Product, ProductList, Shop, ShopServer,
};
use crate::shop_data::{CACHE_TTL_SECS, SLOW_QUERY_SECS, SMALL_POOL_HOLD_SECS, Store};

/// How many times server3 tries a Redis read that timed out.
pub const CACHE_ATTEMPTS: u32 = 3;

/// server3's settings.
#[derive(Clone, Debug)]
pub struct Options {
    /// Base URL of server2 (for call-backs).
    pub server2: String,
    /// The call-back loop's depth limit.
    pub max_loop_depth: u32,
    /// Timeout of each request to server2.
    pub timeout: Duration,
}

/// The `shop.v1.Shop` implementation.
#[derive(Debug)]
pub struct Server3 {
    options: Options,
    store: Store,
    http: ClientWithMiddleware,
    events: Option<Publisher>,
}

#[derive(Serialize, Deserialize)]
struct Cached {
    name: String,
    price_cents: i64,
}

impl Server3 {
    /// server3 over an open store.
    pub fn new(options: Options, store: Store, tracer: &Tracer) -> Self {
        Server3 {
            http: http_forwarding::traced_client(tracer, options.timeout),
            options,
            store,
            events: None,
        }
    }

    /// Publishes an `order.placed` event with `events` for each order stored (none without).
    #[must_use]
    pub fn with_events(mut self, events: Publisher) -> Self {
        self.events = Some(events);
        self
    }

    /// Publishes the event of a stored order; a failure is the producer span's and a warning,
    /// never the request's (see [`order_events`](crate::order_events)).
    async fn publish_order_placed(&self, d: &Directive, event: OrderPlaced) {
        let Some(events) = &self.events else { return };
        if let Err(e) = events.publish(d, &event).await {
            tracing::warn!(order_id = event.order_id, error = %e, "order.placed not published");
        }
    }

    async fn enter(&self) -> Result<Directive, Status> {
        let directive = Directive::current();
        http_forwarding::record_customer(&directive);
        directive.enter(Service::Server3).await;
        if directive.customer_fails() {
            return Err(Status::internal(format!(
                "customer {} is blocked, as the fault directive asks",
                directive.customer.as_deref().unwrap_or_default()
            )));
        }
        Ok(directive)
    }

    /// A product from the cache, else from the store (then cached). A cache that fails is
    /// skipped: the store answers and nothing is written back.
    async fn product(&self, d: &Directive, sku: u64) -> Result<Product, Status> {
        let mut cache = self.store.cache(d.redis);
        let key = self.store.product_key(sku);
        let mut cache_works = true;
        for attempt in 1..=CACHE_ATTEMPTS {
            match cache.get::<_, Option<String>>(&key).await {
                Ok(Some(text)) => {
                    if let Ok(c) = serde_json::from_str::<Cached>(&text) {
                        return Ok(Product {
                            sku,
                            name: c.name,
                            price_cents: c.price_cents,
                            cached: true,
                            traceparent: String::new(),
                        });
                    }
                    break;
                }
                Ok(None) => break,
                Err(e) if e.is_timeout() && attempt < CACHE_ATTEMPTS => continue,
                Err(_) => {
                    cache_works = false;
                    break;
                }
            }
        }
        let (name, price_cents) = self.load(d, sku).await?;
        if cache_works {
            let text = serde_json::to_string(&Cached {
                name: name.clone(),
                price_cents,
            })
            .unwrap_or_default();
            let _: Result<(), _> = cache.set_ex(&key, text, CACHE_TTL_SECS).await;
        }
        Ok(Product {
            sku,
            name,
            price_cents,
            cached: false,
            traceparent: String::new(),
        })
    }

    /// One product from MySQL, as the directive's MySQL fault makes it.
    async fn load(&self, d: &Directive, sku: u64) -> Result<(String, i64), Status> {
        let pool = self.store.pool(d.mysql, d.small_pool);
        let row = match d.mysql {
            MysqlFault::Slow => {
                sqlx::query("SELECT name, price_cents, SLEEP(?) FROM demo_products WHERE sku = ?")
                    .bind(SLOW_QUERY_SECS)
                    .bind(sku)
                    .fetch_optional(pool)
                    .await
            }
            MysqlFault::BadSql => {
                // The table name is misspelt on purpose.
                sqlx::query("SELECT name, price_cents FROM demo_product WHERE sku = ?")
                    .bind(sku)
                    .fetch_optional(pool)
                    .await
            }
            _ if d.small_pool => {
                sqlx::query("SELECT name, price_cents, SLEEP(?) FROM demo_products WHERE sku = ?")
                    .bind(SMALL_POOL_HOLD_SECS)
                    .bind(sku)
                    .fetch_optional(pool)
                    .await
            }
            _ => {
                sqlx::query("SELECT name, price_cents FROM demo_products WHERE sku = ?")
                    .bind(sku)
                    .fetch_optional(pool)
                    .await
            }
        };
        match row {
            Ok(Some(row)) => Ok((row.get("name"), row.get("price_cents"))),
            Ok(None) => Err(Status::not_found(format!("no product with sku {sku}"))),
            Err(e) => Err(store_failure(&e)),
        }
    }

    /// The base prices of `skus`, in one query.
    async fn base_prices(
        &self,
        d: &Directive,
        skus: &[u64],
    ) -> Result<Vec<(u64, String, i64)>, Status> {
        let pool = self.store.pool(d.mysql, false);
        let marks = vec!["?"; skus.len()].join(", ");
        let sql = format!(
            "SELECT sku, name, price_cents FROM demo_products WHERE sku IN ({marks}) ORDER BY sku"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for sku in skus {
            query = query.bind(*sku);
        }
        let rows = query.fetch_all(pool).await.map_err(|e| store_failure(&e))?;
        Ok(rows
            .iter()
            .map(|r| (r.get("sku"), r.get("name"), r.get("price_cents")))
            .collect())
    }

    /// Asks server2 for the customer's price of one product.
    async fn price(&self, customer: &str, sku: u64, base: i64) -> Result<i64, Status> {
        let base = base.to_string();
        let path = format!("/prices/{sku}");
        let query = [("customer", customer), ("base", base.as_str())];
        let body = self.call_server2(&path, &query).await.map_err(|s| {
            Status::unavailable(format!("pricing sku {sku} failed: {}", s.message()))
        })?;
        body["price_cents"]
            .as_i64()
            .ok_or_else(|| Status::internal(format!("server2 sent no price for sku {sku}")))
    }

    /// `GET {server2}{path}?{query}`: the JSON answer, or UNAVAILABLE saying why there is none.
    async fn call_server2(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, Status> {
        let url = format!("{}{path}", self.options.server2);
        let sent = self.http.get(&url).query(query).send().await.map_err(|e| {
            Status::unavailable(format!(
                "server2 unreachable: {}",
                http_forwarding::error_chain(&e)
            ))
        })?;
        let status = sent.status();
        let body: Value = sent.json().await.unwrap_or_default();
        if !status.is_success() {
            return Err(Status::unavailable(format!(
                "server2 answered {}: {}",
                status.as_u16(),
                body["error"].as_str().unwrap_or("no reason given")
            )));
        }
        Ok(body)
    }
}

fn store_failure(e: &sqlx::Error) -> Status {
    if let sqlx::Error::Database(db) = e
        && db.is_unique_violation()
    {
        return Status::already_exists(format!("the store refused a duplicate: {}", db.message()));
    }
    Status::internal(format!(
        "the store failed: {}",
        http_forwarding::error_chain(e)
    ))
}

#[tonic::async_trait]
impl Shop for Server3 {
    async fn get_product(
        &self,
        request: Request<GetProductRequest>,
    ) -> Result<Response<Product>, Status> {
        let d = self.enter().await?;
        let traceparent = request
            .metadata()
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let mut product = self.product(&d, request.get_ref().sku).await?;
        product.traceparent = traceparent;
        Ok(Response::new(product))
    }

    async fn list_products(
        &self,
        request: Request<ListProductsRequest>,
    ) -> Result<Response<ProductList>, Status> {
        let d = self.enter().await?;
        let skus = &request.get_ref().skus;
        let products = if d.small_pool {
            // Concurrent queries, one connection: each waits for the one before.
            let loads = skus.iter().map(|&sku| self.load(&d, sku));
            let loaded = join_all(loads).await;
            skus.iter()
                .zip(loaded)
                .map(|(&sku, r)| r.map(|(name, price_cents)| plain(sku, name, price_cents)))
                .collect::<Result<Vec<_>, _>>()?
        } else if request.get_ref().one_by_one {
            let mut out = Vec::new();
            for &sku in skus {
                let (name, price_cents) = self.load(&d, sku).await?;
                out.push(plain(sku, name, price_cents));
            }
            out
        } else {
            self.base_prices(&d, skus)
                .await?
                .into_iter()
                .map(|(sku, name, price)| plain(sku, name, price))
                .collect()
        };
        Ok(Response::new(ProductList { products }))
    }

    async fn place_order(
        &self,
        request: Request<PlaceOrderRequest>,
    ) -> Result<Response<OrderReceipt>, Status> {
        let d = self.enter().await?;
        let order = request.into_inner();
        if order.skus.is_empty() {
            return Err(Status::invalid_argument("an order needs at least one sku"));
        }
        let products = self.base_prices(&d, &order.skus).await?;
        if products.len() != order.skus.len() {
            return Err(Status::not_found("an ordered product does not exist"));
        }
        let prices = join_all(
            products
                .iter()
                .map(|(sku, _, base)| self.price(&order.customer, *sku, *base)),
        )
        .await;
        let total: i64 = prices.into_iter().sum::<Result<i64, Status>>()?;
        let id = (order.order_id != 0).then_some(order.order_id);
        let done =
            sqlx::query("INSERT INTO demo_orders (id, customer, total_cents) VALUES (?, ?, ?)")
                .bind(id)
                .bind(&order.customer)
                .bind(total)
                .execute(self.store.pool(d.mysql, false))
                .await
                .map_err(|e| store_failure(&e))?;
        let order_id = done.last_insert_id();
        let event = OrderPlaced {
            order_id,
            customer: order.customer.clone(),
            total_cents: total,
        };
        self.publish_order_placed(&d, event).await;
        Ok(Response::new(OrderReceipt {
            order_id,
            total_cents: total,
        }))
    }

    async fn r#loop(&self, request: Request<LoopRequest>) -> Result<Response<LoopReply>, Status> {
        let d = self.enter().await?;
        let depth = request.get_ref().depth.max(1);
        let limit = call_back_loop::limit(&d, self.options.max_loop_depth);
        if depth >= limit {
            return Err(Status::resource_exhausted(call_back_loop::stop_message(
                depth, limit,
            )));
        }
        let next = (depth + 1).to_string();
        let body = self
            .call_server2("/loop", &[("depth", next.as_str()), ("from", "server3")])
            .await?;
        Ok(Response::new(LoopReply {
            depth: body["depth"].as_u64().unwrap_or(0) as u32,
        }))
    }
}

fn plain(sku: u64, name: String, price_cents: i64) -> Product {
    Product {
        sku,
        name,
        price_cents,
        cached: false,
        traceparent: String::new(),
    }
}

/// Serves server3's gRPC API on `listener` and, when `admin` is given, the untraced admin
/// routes of every demo service ([`http_forwarding::admin_router`]: `GET /admin/stats`, `PUT
/// /admin/tracing`) over HTTP on `admin`, until the process ends.
pub async fn serve(
    listener: TcpListener,
    admin: Option<TcpListener>,
    server: Server3,
    tracer: Tracer,
) -> anyhow::Result<()> {
    let admin_routes = http_forwarding::admin_router(tracer.clone());
    let grpc = tonic::transport::Server::builder()
        .layer(GrpcServerLayer::new().with_tracer(tracer))
        .add_service(ShopServer::from_arc(Arc::new(server)))
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    match admin {
        None => grpc.await?,
        Some(admin) => {
            tokio::try_join!(async { grpc.await.map_err(anyhow::Error::from) }, async {
                axum::serve(admin, admin_routes)
                    .await
                    .map_err(anyhow::Error::from)
            })?;
        }
    }
    Ok(())
}
