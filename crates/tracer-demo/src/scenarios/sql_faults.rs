//! MySQL/MariaDB faults and query shapes: a slow query on the critical path, broken SQL, a duplicate key, an exhausted pool, the database down, and N+1 against batched queries.

use tracer_collector::query::model::Trace;

use super::{Play, Scenario, db_spans};

/// `mysql-slow-query`.
pub static MYSQL_SLOW_QUERY: Scenario = Scenario {
    name: "mysql-slow-query",
    summary: "the product query sleeps 0.6 s in MySQL",
    shows: "one long DB span that takes most of the trace: the critical path",
    expected: r#"
        client internal mysql-slow-query
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
    "#,
    injected_by: "`src/server3.rs` `Server3::load` (`MysqlFault::Slow`: a query that sleeps)",
    concurrent: false,
    play: Play::Get {
        baggage: &[("fault.mysql", "slow")],
        path: "/products/7",
        want: 200,
    },
    check: Some(slow_query_on_critical_path),
};

/// `mysql-bad-sql`.
pub static MYSQL_BAD_SQL: Scenario = Scenario {
    name: "mysql-bad-sql",
    summary: "server3 sends SQL naming a table that does not exist",
    shows: "a red DB span with MySQL error 1146; the error carried up every hop (INTERNAL, 502, 502)",
    expected: r#"
        client internal mysql-bad-sql
          client client GET !error http.response.status_code=502 error.type=502
            server1 server GET /products/{sku} !error http.response.status_code=502 error.type=502
              server1 client GET !error http.response.status_code=502 error.type=502
                server2 server GET /products/{sku} !error http.response.status_code=502 error.type=502
                  server2 client shop.v1.Shop/GetProduct !error rpc.response.status_code=INTERNAL error.type=INTERNAL
                    server3 server shop.v1.Shop/GetProduct !error rpc.response.status_code=INTERNAL error.type=INTERNAL
                      server3 client GET
                      server3 internal pool.acquire
                      server3 client SELECT demo_product !error db.response.status_code=1146 error.type=1146
    "#,
    injected_by: "`src/server3.rs` `Server3::load` (`MysqlFault::BadSql`: broken SQL)",
    concurrent: false,
    play: Play::Get {
        baggage: &[("fault.mysql", "bad-sql")],
        path: "/products/8",
        want: 502,
    },
    check: None,
};

/// `mysql-duplicate-key`.
pub static MYSQL_DUPLICATE_KEY: Scenario = Scenario {
    name: "mysql-duplicate-key",
    summary: "an order is stored under an id that is taken",
    shows: "a red INSERT with MySQL error 1062; ALREADY_EXISTS and 409 up the chain: red client spans, green server spans (the caller's mistake)",
    expected: r#"
        client internal mysql-duplicate-key
          client client POST !error http.response.status_code=409 error.type=409
            server1 server POST /orders http.response.status_code=409 demo.customer=bob
              server1 client POST !error http.response.status_code=409 error.type=409
                server2 server POST /orders http.response.status_code=409 demo.customer=bob
                  server2 client shop.v1.Shop/PlaceOrder !error rpc.response.status_code=ALREADY_EXISTS error.type=ALREADY_EXISTS
                    server3 server shop.v1.Shop/PlaceOrder rpc.response.status_code=ALREADY_EXISTS demo.customer=bob
                      server3 internal pool.acquire
                      server3 internal pool.acquire
                      server3 client SELECT demo_products
                      server3 client GET http.response.status_code=200
                        server2 server GET /prices/{sku} http.response.status_code=200 demo.customer=bob
                          server2 client GET http.response.status_code=200
                            server1 server GET /customers/{name} http.response.status_code=200 demo.customer=bob
                      server3 client INSERT demo_orders !error db.response.status_code=1062 error.type=1062
    "#,
    injected_by: "no fault: order 1 is seeded (`src/shop_data.rs` `create_schema`), so the insert in `src/server3.rs` `Server3::place_order` collides",
    concurrent: true,
    play: Play::Post {
        baggage: &[("customer", "bob")],
        path: "/orders",
        // Order 1 always exists (seed data).
        body: r#"{"customer": "bob", "skus": [9], "order_id": 1}"#,
        want: 409,
    },
    check: None,
};

/// `mysql-pool-exhausted`.
pub static MYSQL_POOL_EXHAUSTED: Scenario = Scenario {
    name: "mysql-pool-exhausted",
    summary: "four concurrent queries on a one-connection pool, each holding it 50 ms",
    shows: "pool.acquire spans that wait, and queries that run one after the other",
    expected: r#"
        client internal mysql-pool-exhausted
          client client GET http.response.status_code=200
            server1 server GET /products http.response.status_code=200
              server1 client GET http.response.status_code=200
                server2 server GET /products http.response.status_code=200
                  server2 client shop.v1.Shop/ListProducts rpc.response.status_code=OK
                    server3 server shop.v1.Shop/ListProducts rpc.response.status_code=OK
                      server3 internal pool.acquire
                      server3 internal pool.acquire
                      server3 internal pool.acquire
                      server3 internal pool.acquire
                      server3 client SELECT demo_products
                      server3 client SELECT demo_products
                      server3 client SELECT demo_products
                      server3 client SELECT demo_products
    "#,
    injected_by: "`src/shop_data.rs` `Store::pool` (the one-connection pool), queried concurrently by `src/server3.rs` `Server3::list_products`",
    concurrent: true,
    play: Play::Get {
        baggage: &[("fault.pool", "1")],
        path: "/products?skus=10,11,12,13",
        want: 200,
    },
    check: Some(queries_serialised),
};

/// `mysql-down`.
pub static MYSQL_DOWN: Scenario = Scenario {
    name: "mysql-down",
    summary: "MySQL refuses connections (through a refusing proxy) after a cache miss",
    shows: "a red pool.acquire (no connection, so no query span) and the error carried up every hop",
    expected: r#"
        client internal mysql-down
          client client GET !error http.response.status_code=502 error.type=502
            server1 server GET /products/{sku} !error http.response.status_code=502 error.type=502
              server1 client GET !error http.response.status_code=502 error.type=502
                server2 server GET /products/{sku} !error http.response.status_code=502 error.type=502
                  server2 client shop.v1.Shop/GetProduct !error rpc.response.status_code=INTERNAL error.type=INTERNAL
                    server3 server shop.v1.Shop/GetProduct !error rpc.response.status_code=INTERNAL error.type=INTERNAL
                      server3 client GET
                      server3 internal pool.acquire !error error.type=pool_timed_out
    "#,
    injected_by: "`src/faults/proxy.rs` `Fault::Refuse` on the proxy that `src/shop_data.rs` `Store::pool` picks",
    concurrent: false,
    play: Play::Get {
        baggage: &[("fault.mysql", "refuse")],
        path: "/products/14",
        want: 502,
    },
    check: None,
};

/// `n-plus-one`.
pub static N_PLUS_ONE: Scenario = Scenario {
    name: "n-plus-one",
    summary: "four products listed with one query each",
    shows: "a staircase of four SELECT spans",
    expected: r#"
        client internal n-plus-one
          client client GET http.response.status_code=200
            server1 server GET /products http.response.status_code=200
              server1 client GET http.response.status_code=200
                server2 server GET /products http.response.status_code=200
                  server2 client shop.v1.Shop/ListProducts rpc.response.status_code=OK
                    server3 server shop.v1.Shop/ListProducts rpc.response.status_code=OK
                      server3 internal pool.acquire
                      server3 client SELECT demo_products
                      server3 internal pool.acquire
                      server3 client SELECT demo_products
                      server3 internal pool.acquire
                      server3 client SELECT demo_products
                      server3 internal pool.acquire
                      server3 client SELECT demo_products
    "#,
    injected_by: "`src/server3.rs` `Server3::list_products` (`one_by_one`: one query per sku)",
    concurrent: false,
    play: Play::Get {
        baggage: &[("fault.queries", "one-by-one")],
        path: "/products?skus=25,26,27,28",
        want: 200,
    },
    check: None,
};

/// `batched`.
pub static BATCHED: Scenario = Scenario {
    name: "batched",
    summary: "the same four products listed with one query",
    shows: "one SELECT span",
    expected: r#"
        client internal batched
          client client GET http.response.status_code=200
            server1 server GET /products http.response.status_code=200
              server1 client GET http.response.status_code=200
                server2 server GET /products http.response.status_code=200
                  server2 client shop.v1.Shop/ListProducts rpc.response.status_code=OK
                    server3 server shop.v1.Shop/ListProducts rpc.response.status_code=OK
                      server3 internal pool.acquire
                      server3 client SELECT demo_products
    "#,
    injected_by: "no fault: `src/server3.rs` `Server3::list_products` with one query",
    concurrent: false,
    play: Play::Get {
        baggage: &[],
        path: "/products?skus=25,26,27,28",
        want: 200,
    },
    check: None,
};

fn slow_query_on_critical_path(trace: &Trace) -> Result<(), String> {
    let sql = db_spans(trace, "m");
    let Some(query) = sql.iter().max_by_key(|s| s.duration) else {
        return Err("no SQL span".into());
    };
    let slow_us = (crate::shop_data::SLOW_QUERY_SECS * 1e6) as u64;
    if query.duration < slow_us {
        return Err(format!(
            "the slow query took {} µs, less than the {slow_us} µs it sleeps",
            query.duration
        ));
    }
    let root = trace
        .spans
        .iter()
        .max_by_key(|s| s.duration)
        .map_or(0, |s| s.duration);
    if query.duration * 2 < root {
        return Err(format!(
            "the slow query ({} µs) is under half of the trace ({root} µs): not on the critical path",
            query.duration
        ));
    }
    Ok(())
}

fn queries_serialised(trace: &Trace) -> Result<(), String> {
    let sql = db_spans(trace, "m");
    if sql.len() < 2 {
        return Err(format!("expected several queries, found {}", sql.len()));
    }
    for pair in sql.windows(2) {
        if pair[1].start_time < pair[0].start_time + pair[0].duration {
            return Err(format!(
                "queries overlap on a one-connection pool: {} starts before {} ends",
                pair[1].span_id, pair[0].span_id
            ));
        }
    }
    let waited = trace
        .spans
        .iter()
        .filter(|s| s.operation_name == "pool.acquire")
        .filter(|s| s.duration as f64 >= crate::shop_data::SMALL_POOL_HOLD_SECS * 1e6 * 0.8)
        .count();
    if waited + 1 < sql.len() {
        return Err(format!(
            "only {waited} of {} pool.acquire spans waited for the connection",
            sql.len()
        ));
    }
    Ok(())
}
