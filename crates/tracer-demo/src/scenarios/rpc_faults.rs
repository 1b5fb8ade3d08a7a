//! Faults between services, over HTTP and gRPC: deadlines, 503 retries, handler panics, an unreachable service and a client that gives up.

use std::time::Duration;

use futures_util::future::BoxFuture;
use opentelemetry::Context;
use opentelemetry::context::FutureExt as _;
use tracer_collector::query::model::Trace;

use super::{Play, Played, Scenario, db_spans};
use crate::runner::driver::{Driver, with_baggage};

/// `grpc-deadline-exceeded`.
pub static GRPC_DEADLINE_EXCEEDED: Scenario = Scenario {
    name: "grpc-deadline-exceeded",
    summary: "server2 gives server3 200 ms; server3 needs 1 s",
    shows: "DEADLINE_EXCEEDED on server2's client span, server3's span ended at the deadline, no Redis or MySQL work after it",
    expected: r#"
        client internal grpc-deadline-exceeded
          client client GET !error http.response.status_code=502 error.type=502
            server1 server GET /products/{sku} !error http.response.status_code=502 error.type=502
              server1 client GET !error http.response.status_code=504 error.type=504
                server2 server GET /products/{sku} !error http.response.status_code=504 error.type=504
                  server2 client shop.v1.Shop/GetProduct !error rpc.response.status_code=DEADLINE_EXCEEDED error.type=DEADLINE_EXCEEDED
                    server3 server shop.v1.Shop/GetProduct !error rpc.response.status_code=DEADLINE_EXCEEDED error.type=DEADLINE_EXCEEDED
    "#,
    injected_by: "`src/server2.rs` `Server2::shop` (the call's deadline) and `src/faults/directive.rs` `Directive::enter` (server3 sleeps)",
    concurrent: false,
    play: Play::Get {
        baggage: &[("fault.deadline", "200"), ("fault.slow", "server3:1000")],
        path: "/products/15",
        want: 502,
    },
    check: Some(no_redis_after_cancel),
};

/// `http-503-retries`.
pub static HTTP_503_RETRIES: Scenario = Scenario {
    name: "http-503-retries",
    summary: "server2 answers 503 twice; server1 retries",
    shows: "three sibling client spans under server1, resend counts 1 and 2 on the retries, the last one green",
    expected: r#"
        client internal http-503-retries
          client client GET http.response.status_code=200
            server1 server GET /products/{sku} http.response.status_code=200
              server1 client GET !error http.response.status_code=503 error.type=503
                server2 server GET /products/{sku} !error http.response.status_code=503 error.type=503
              server1 client GET !error http.response.status_code=503 http.request.resend_count=1 error.type=503
                server2 server GET /products/{sku} !error http.response.status_code=503 error.type=503
              server1 client GET http.response.status_code=200 http.request.resend_count=2
                server2 server GET /products/{sku} http.response.status_code=200
                  server2 client shop.v1.Shop/GetProduct rpc.response.status_code=OK
                    server3 server shop.v1.Shop/GetProduct rpc.response.status_code=OK
                      server3 client GET
                      server3 internal pool.acquire
                      server3 client SELECT demo_products
                      server3 client SETEX
    "#,
    injected_by: "`src/server2.rs` `Server2::enter` (503 for the first attempts)",
    concurrent: false,
    play: Play::Get {
        baggage: &[("fault.unavailable", "2")],
        path: "/products/16",
        want: 200,
    },
    check: None,
};

/// `http-503-gives-up`.
pub static HTTP_503_GIVES_UP: Scenario = Scenario {
    name: "http-503-gives-up",
    summary: "server2 answers every attempt with 503: server1 gives up after three and answers 502",
    shows: "three attempts of server1's request, each answered 503, the retries counted; server1's span red with 502",
    expected: r#"
        client internal http-503-gives-up
          client client GET !error http.response.status_code=502 error.type=502
            server1 server GET /products/{sku} !error http.response.status_code=502 error.type=502
              server1 client GET !error http.response.status_code=503 error.type=503
                server2 server GET /products/{sku} !error http.response.status_code=503 error.type=503
              server1 client GET !error http.response.status_code=503 http.request.resend_count=1 error.type=503
                server2 server GET /products/{sku} !error http.response.status_code=503 error.type=503
              server1 client GET !error http.response.status_code=503 http.request.resend_count=2 error.type=503
                server2 server GET /products/{sku} !error http.response.status_code=503 error.type=503
    "#,
    injected_by: "`src/server2.rs` `Server2::enter` (503 for the first attempts)",
    concurrent: false,
    play: Play::Get {
        baggage: &[("fault.unavailable", "3")],
        path: "/products/34",
        want: 502,
    },
    check: None,
};

/// `http-handler-panic`.
pub static HTTP_HANDLER_PANIC: Scenario = Scenario {
    name: "http-handler-panic",
    summary: "server2's HTTP handler panics; the next request is served normally",
    shows: "server2's span red with an exception event and status 500; the following request green",
    expected: r#"
        client internal http-handler-panic
          client client GET !error http.response.status_code=502 error.type=502
            server1 server GET /products/{sku} !error http.response.status_code=502 error.type=502
              server1 client GET !error http.response.status_code=500 error.type=500
                server2 server GET /products/{sku} !error http.response.status_code=500 error.type=panic events=[exception]
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
    injected_by: "`src/faults/directive.rs` `Directive::enter` (the panic)",
    concurrent: false,
    play: Play::Custom {
        how: "baggage `fault.panic=server2` on the first of two `GET /products/17`",
        play: http_panic,
    },
    check: None,
};

/// `grpc-handler-panic`.
pub static GRPC_HANDLER_PANIC: Scenario = Scenario {
    name: "grpc-handler-panic",
    summary: "server3's gRPC handler panics",
    shows: "INTERNAL on both sides of the gRPC hop, an exception event on the server span",
    expected: r#"
        client internal grpc-handler-panic
          client client GET !error http.response.status_code=502 error.type=502
            server1 server GET /products/{sku} !error http.response.status_code=502 error.type=502
              server1 client GET !error http.response.status_code=502 error.type=502
                server2 server GET /products/{sku} !error http.response.status_code=502 error.type=502
                  server2 client shop.v1.Shop/GetProduct !error rpc.response.status_code=INTERNAL error.type=INTERNAL
                    server3 server shop.v1.Shop/GetProduct !error rpc.response.status_code=INTERNAL error.type=INTERNAL events=[exception]
    "#,
    injected_by: "`src/faults/directive.rs` `Directive::enter` (the panic)",
    concurrent: false,
    play: Play::Get {
        baggage: &[("fault.panic", "server3")],
        path: "/products/18",
        want: 502,
    },
    check: None,
};

/// `service-unreachable`.
pub static SERVICE_UNREACHABLE: Scenario = Scenario {
    name: "service-unreachable",
    summary: "server2 calls an address where nothing listens",
    shows: "server2's client span red with UNAVAILABLE and no server span under it",
    expected: r#"
        client internal service-unreachable
          client client GET !error http.response.status_code=502 error.type=502
            server1 server GET /products/{sku} !error http.response.status_code=502 error.type=502
              server1 client GET !error http.response.status_code=502 error.type=502
                server2 server GET /products/{sku} !error http.response.status_code=502 error.type=502
                  server2 client shop.v1.Shop/GetProduct !error rpc.response.status_code=UNAVAILABLE error.type=UNAVAILABLE
    "#,
    injected_by: "`src/server2.rs` `Server2::shop` (a client of an address where nothing listens)",
    concurrent: false,
    play: Play::Get {
        baggage: &[("fault.unreachable", "server3")],
        path: "/products/19",
        want: 502,
    },
    check: None,
};

/// `client-cancels`.
pub static CLIENT_CANCELS: Scenario = Scenario {
    name: "client-cancels",
    summary: "the client gives up after 400 ms while server3 is still busy",
    shows: "the client's span red (timeout), server spans cancelled down the chain, no work in server3 after the cancel",
    expected: r#"
        client internal client-cancels
          client client GET !error error.type=timeout
            server1 server GET /products/{sku} !error error.type=cancelled
              server1 client GET !error error.type=cancelled
                server2 server GET /products/{sku} !error error.type=cancelled
                  server2 client shop.v1.Shop/GetProduct !error rpc.response.status_code=CANCELLED error.type=CANCELLED
                    server3 server shop.v1.Shop/GetProduct !error rpc.response.status_code=CANCELLED error.type=CANCELLED
    "#,
    injected_by: "`src/faults/directive.rs` `Directive::enter` (server3 sleeps) and the client's 400 ms timeout (`src/runner/driver.rs` `Driver::get_with_timeout`)",
    concurrent: false,
    play: Play::Custom {
        how: "baggage `fault.slow=server3:2000`; `GET /products/24` with a 400 ms client timeout",
        play: client_cancels,
    },
    check: Some(no_redis_after_cancel),
};

fn no_redis_after_cancel(trace: &Trace) -> Result<(), String> {
    let redis = db_spans(trace, "redis");
    if redis.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "server3 worked after the call was cancelled: {} Redis span(s)",
            redis.len()
        ))
    }
}

fn http_panic<'a>(
    s: &'static Scenario,
    d: &'a Driver<'_>,
) -> BoxFuture<'a, anyhow::Result<Played>> {
    Box::pin(async move {
        let mut answers = Vec::new();
        let id = d
            .traced(s.name, &[], || async {
                let cx = with_baggage(&Context::current(), &[("fault.panic", "server2")]);
                answers.push(d.get("/products/17").with_context(cx).await);
                // The same server answers the next request.
                answers.push(d.get("/products/17").await);
                Ok(())
            })
            .await?;
        let mut played = Played::traced(id);
        played.expect("GET /products/17 (panics in server2)", &answers[0], 502);
        played.expect("GET /products/17 (after the panic)", &answers[1], 200);
        Ok(played)
    })
}

fn client_cancels<'a>(
    s: &'static Scenario,
    d: &'a Driver<'_>,
) -> BoxFuture<'a, anyhow::Result<Played>> {
    Box::pin(async move {
        let mut answer = None;
        let id = d
            .traced(s.name, &[("fault.slow", "server3:2000")], || async {
                answer = Some(
                    d.get_with_timeout("/products/24", Duration::from_millis(400))
                        .await,
                );
                Ok(())
            })
            .await?;
        let mut played = Played::traced(id);
        if let Some(a) = answer
            && a.status != 0
        {
            played
                .problems
                .push(format!("the client was to give up, yet got {}", a.status));
        }
        // server3 sleeps 2 s before it would touch Redis: wait that long, so that work done
        // after the cancel would have shown up.
        tokio::time::sleep(Duration::from_millis(2200)).await;
        Ok(played)
    })
}
