//! Redis faults, all real network faults from the proxy in front of Redis: refused, slow (timeouts and retries) and reset connections; server3 falls back to MySQL each time.

use super::{Play, Scenario};

/// `redis-refused`.
pub static REDIS_REFUSED: Scenario = Scenario {
    name: "redis-refused",
    summary: "Redis goes away (the proxy resets the connection and refuses new ones); server3 falls back to MySQL",
    shows: "a red Redis span, then the MySQL query; every parent green because the error was handled",
    expected: r#"
        client internal redis-refused
          client client GET http.response.status_code=200
            server1 server GET /products/{sku} http.response.status_code=200
              server1 client GET http.response.status_code=200
                server2 server GET /products/{sku} http.response.status_code=200
                  server2 client shop.v1.Shop/GetProduct rpc.response.status_code=OK
                    server3 server shop.v1.Shop/GetProduct rpc.response.status_code=OK
                      server3 client GET !error error.type=io
                      server3 internal pool.acquire
                      server3 client SELECT demo_products
    "#,
    injected_by: "`src/faults/proxy.rs` `Fault::Refuse` on the proxy that `src/shop_data.rs` `Store::cache` picks",
    concurrent: false,
    play: Play::Get {
        baggage: &[("fault.redis", "refuse")],
        path: "/products/4",
        want: 200,
    },
    check: None,
};

/// `redis-timeout-retries`.
pub static REDIS_TIMEOUT_RETRIES: Scenario = Scenario {
    name: "redis-timeout-retries",
    summary: "Redis answers too slowly (300 ms latency, 100 ms timeout); server3 tries three times, then uses MySQL",
    shows: "three red Redis siblings under one parent, then the MySQL fallback; parents green",
    expected: r#"
        client internal redis-timeout-retries
          client client GET http.response.status_code=200
            server1 server GET /products/{sku} http.response.status_code=200
              server1 client GET http.response.status_code=200
                server2 server GET /products/{sku} http.response.status_code=200
                  server2 client shop.v1.Shop/GetProduct rpc.response.status_code=OK
                    server3 server shop.v1.Shop/GetProduct rpc.response.status_code=OK
                      server3 client GET !error error.type=timeout
                      server3 client GET !error error.type=timeout
                      server3 client GET !error error.type=timeout
                      server3 internal pool.acquire
                      server3 client SELECT demo_products
    "#,
    injected_by: "`src/faults/proxy.rs` `Fault::Latency` on the proxy that `src/shop_data.rs` `Store::cache` picks",
    concurrent: false,
    play: Play::Get {
        baggage: &[("fault.redis", "slow")],
        path: "/products/5",
        want: 200,
    },
    check: None,
};

/// `redis-reset`.
pub static REDIS_RESET: Scenario = Scenario {
    name: "redis-reset",
    summary: "the connection to Redis is reset after the command reached Redis, before its reply",
    shows: "a red Redis span (the reply was cut off), then the MySQL fallback; parents green",
    expected: r#"
        client internal redis-reset
          client client GET http.response.status_code=200
            server1 server GET /products/{sku} http.response.status_code=200
              server1 client GET http.response.status_code=200
                server2 server GET /products/{sku} http.response.status_code=200
                  server2 client shop.v1.Shop/GetProduct rpc.response.status_code=OK
                    server3 server shop.v1.Shop/GetProduct rpc.response.status_code=OK
                      server3 client GET !error error.type=io
                      server3 internal pool.acquire
                      server3 client SELECT demo_products
    "#,
    injected_by: "`src/faults/proxy.rs` `Fault::ResetAfter` on the proxy that `src/shop_data.rs` `Store::cache` picks",
    concurrent: false,
    play: Play::Get {
        baggage: &[("fault.redis", "reset")],
        path: "/products/6",
        want: 200,
    },
    check: None,
};
