//! Scenarios without a fault: the cache path (miss, then hit), an order through every edge (the broker's too), and a product that does not exist.

use futures_util::future::BoxFuture;
use serde_json::Value;

use super::{Play, Played, Scenario};
use crate::runner::driver::Driver;

/// `cache-miss-then-hit`.
pub static CACHE_MISS_THEN_HIT: Scenario = Scenario {
    name: "cache-miss-then-hit",
    summary: "the same product twice: the first read misses Redis and loads from MySQL, the second hits",
    shows: "one trace with both requests through server1, server2 and server3; MySQL and the cache write on the miss only",
    expected: r#"
        client internal cache-miss-then-hit
          client client GET http.response.status_code=200
            server1 server GET /products/{sku} http.response.status_code=200
              server1 client GET http.response.status_code=200
                server2 server GET /products/{sku} http.response.status_code=200
                  server2 client shop.v1.Shop/GetProduct rpc.response.status_code=OK
                    server3 server shop.v1.Shop/GetProduct rpc.response.status_code=OK
                      server3 client GET
                      server3 internal pool.acquire
                      server3 client SELECT demo_products
                      server3 client SETEX
          client client GET http.response.status_code=200
            server1 server GET /products/{sku} http.response.status_code=200
              server1 client GET http.response.status_code=200
                server2 server GET /products/{sku} http.response.status_code=200
                  server2 client shop.v1.Shop/GetProduct rpc.response.status_code=OK
                    server3 server shop.v1.Shop/GetProduct rpc.response.status_code=OK
                      server3 client GET
    "#,
    injected_by: "no fault: the cache is empty for a product never asked for before (`src/server3.rs` `Server3::product`)",
    concurrent: false,
    play: Play::Custom {
        how: "`GET /products/1` twice, no directive",
        play: cache_miss_then_hit,
    },
    check: None,
};

/// `place-order`.
pub static PLACE_ORDER: Scenario = Scenario {
    name: "place-order",
    summary: "an order of two products: server3 prices each by calling server2 back, which calls server1 back, stores the order and publishes `order.placed` to RabbitMQ; the worker consumes it, calls server1 back and updates Redis",
    shows: "every edge in one tree: client, server1 -http-> server2 -gRPC-> server3 -> MySQL, server3 -> server2 -> server1, and across the broker server3's producer span -> the worker's consumer span -> server1 and Redis",
    expected: r#"
        client internal place-order
          client client POST http.response.status_code=200
            server1 server POST /orders http.response.status_code=200 demo.customer=alice
              server1 client POST http.response.status_code=200
                server2 server POST /orders http.response.status_code=200 demo.customer=alice
                  server2 client shop.v1.Shop/PlaceOrder rpc.response.status_code=OK
                    server3 server shop.v1.Shop/PlaceOrder rpc.response.status_code=OK demo.customer=alice
                      server3 internal pool.acquire
                      server3 internal pool.acquire
                      server3 client SELECT demo_products
                      server3 client GET http.response.status_code=200
                        server2 server GET /prices/{sku} http.response.status_code=200 demo.customer=alice
                          server2 client GET http.response.status_code=200
                            server1 server GET /customers/{name} http.response.status_code=200 demo.customer=alice
                      server3 client GET http.response.status_code=200
                        server2 server GET /prices/{sku} http.response.status_code=200 demo.customer=alice
                          server2 client GET http.response.status_code=200
                            server1 server GET /customers/{name} http.response.status_code=200 demo.customer=alice
                      server3 client INSERT demo_orders
                      server3 producer send orders-{run}
                        worker consumer process orders-{run}.loyalty demo.customer=alice tracer.messaging.delivery_count=1 events=[tracer.messaging.settle]
                          worker client GET http.response.status_code=200
                            server1 server GET /customers/{name} http.response.status_code=200 demo.customer=alice
                          worker client HINCRBY
    "#,
    injected_by: "no fault (`src/server3.rs` `Server3::place_order`)",
    concurrent: true,
    play: Play::Post {
        baggage: &[("customer", "alice")],
        path: "/orders",
        body: r#"{"customer": "alice", "skus": [2, 3]}"#,
        want: 200,
    },
    check: None,
};

/// `not-found`.
pub static NOT_FOUND: Scenario = Scenario {
    name: "not-found",
    summary: "a product that does not exist",
    shows: "NOT_FOUND and 404 up the chain: client spans red, server spans green (a user error)",
    expected: r#"
        client internal not-found
          client client GET !error http.response.status_code=404 error.type=404
            server1 server GET /products/{sku} http.response.status_code=404
              server1 client GET !error http.response.status_code=404 error.type=404
                server2 server GET /products/{sku} http.response.status_code=404
                  server2 client shop.v1.Shop/GetProduct !error rpc.response.status_code=NOT_FOUND error.type=NOT_FOUND
                    server3 server shop.v1.Shop/GetProduct rpc.response.status_code=NOT_FOUND
                      server3 client GET
                      server3 internal pool.acquire
                      server3 client SELECT demo_products
    "#,
    injected_by: "no fault: sku 999 is not seeded (`src/shop_data.rs` `create_schema`)",
    concurrent: false,
    play: Play::Get {
        baggage: &[],
        path: "/products/999",
        want: 404,
    },
    check: None,
};

fn cache_miss_then_hit<'a>(
    s: &'static Scenario,
    d: &'a Driver<'_>,
) -> BoxFuture<'a, anyhow::Result<Played>> {
    Box::pin(async move {
        let mut answers = Vec::new();
        let id = d
            .traced(s.name, &[], || async {
                answers.push(d.get("/products/1").await);
                answers.push(d.get("/products/1").await);
                Ok(())
            })
            .await?;
        let mut played = Played::traced(id);
        for (a, cached) in answers.iter().zip([false, true]) {
            played.expect("GET /products/1", a, 200);
            if a.body["cached"] != Value::Bool(cached) {
                played
                    .problems
                    .push(format!("expected cached={cached}, got {}", a.body));
            }
        }
        Ok(played)
    })
}
