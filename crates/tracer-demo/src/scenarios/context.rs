//! What travels with the context: baggage naming the failing customer, a hop with tracing switched off, and an unsampled request.

use futures_util::future::BoxFuture;
use opentelemetry::Context;
use opentelemetry::context::FutureExt as _;
use serde_json::Value;
use tracer::opentelemetry_sdk::trace::{IdGenerator as _, RandomIdGenerator};
use tracer_collector::query::model::Trace;

use super::{Play, Played, Scenario, one_get, service};
use crate::runner::driver::{Answer, Driver, with_baggage};

/// `one-customer-fails`.
pub static ONE_CUSTOMER_FAILS: Scenario = Scenario {
    name: "one-customer-fails",
    summary: "the same request for alice and for bob; the directive fails alice's only",
    shows: "errors only in the branch whose demo.customer is alice",
    expected: r#"
        client internal one-customer-fails
          client client GET !error http.response.status_code=502 error.type=502
            server1 server GET /products/{sku} !error http.response.status_code=502 error.type=502 demo.customer=alice
              server1 client GET !error http.response.status_code=502 error.type=502
                server2 server GET /products/{sku} !error http.response.status_code=502 error.type=502 demo.customer=alice
                  server2 client shop.v1.Shop/GetProduct !error rpc.response.status_code=INTERNAL error.type=INTERNAL
                    server3 server shop.v1.Shop/GetProduct !error rpc.response.status_code=INTERNAL error.type=INTERNAL demo.customer=alice
          client client GET http.response.status_code=200
            server1 server GET /products/{sku} http.response.status_code=200 demo.customer=bob
              server1 client GET http.response.status_code=200
                server2 server GET /products/{sku} http.response.status_code=200 demo.customer=bob
                  server2 client shop.v1.Shop/GetProduct rpc.response.status_code=OK
                    server3 server shop.v1.Shop/GetProduct rpc.response.status_code=OK demo.customer=bob
                      server3 client GET
                      server3 internal pool.acquire
                      server3 client SELECT demo_products
                      server3 client SETEX
    "#,
    injected_by: "`src/server3.rs` `Server3::enter` (`Directive::customer_fails`)",
    concurrent: false,
    play: Play::Custom {
        how: "baggage `fault.fail-customer=alice`; `GET /products/29` with `customer=alice`, then with `customer=bob`",
        play: one_customer_fails,
    },
    check: None,
};

/// `tracing-off-server2`.
pub static TRACING_OFF_SERVER2: Scenario = Scenario {
    name: "tracing-off-server2",
    summary: "server2's tracing is switched off at run time, then back on",
    shows: "no server2 spans, yet ONE trace: server3's span is the child of server1's client span, and server3 still got the baggage (demo.customer=dave, the refused Redis)",
    expected: r#"
        client internal tracing-off-server2
          client client GET http.response.status_code=200
            server1 server GET /products/{sku} http.response.status_code=200 demo.customer=dave
              server1 client GET http.response.status_code=200
                server3 server shop.v1.Shop/GetProduct rpc.response.status_code=OK demo.customer=dave
                  server3 client GET !error error.type=io
                  server3 internal pool.acquire
                  server3 client SELECT demo_products
    "#,
    injected_by: "the switch (`PUT /admin/tracing`, `src/http_forwarding.rs` `admin_router`) and `src/faults/proxy.rs` `Fault::Refuse` for Redis",
    concurrent: false,
    play: Play::Custom {
        how: "`PUT /admin/tracing off` on server2; baggage `customer=dave`, `fault.redis=refuse`; `GET /products/30`; tracing back on",
        play: tracing_off_server2,
    },
    check: Some(no_server2_spans),
};

/// `unsampled`.
pub static UNSAMPLED: Scenario = Scenario {
    name: "unsampled",
    summary: "a request whose traceparent says not sampled (flags 00)",
    shows: "no spans anywhere; the request succeeds and server3 still receives the trace id with flags 00",
    expected: "",
    injected_by: "no fault: the runner sends a `traceparent` with flags `00`",
    concurrent: false,
    play: Play::Custom {
        how: "`GET /products/31` with `traceparent: 00-{id}-{span}-00` and no client span",
        play: unsampled,
    },
    check: None,
};

fn one_customer_fails<'a>(
    s: &'static Scenario,
    d: &'a Driver<'_>,
) -> BoxFuture<'a, anyhow::Result<Played>> {
    Box::pin(async move {
        let mut answers = Vec::new();
        let id = d
            .traced(s.name, &[("fault.fail-customer", "alice")], || async {
                for customer in ["alice", "bob"] {
                    let cx = with_baggage(&Context::current(), &[("customer", customer)]);
                    answers.push(d.get("/products/29").with_context(cx).await);
                }
                Ok(())
            })
            .await?;
        let mut played = Played::traced(id);
        played.expect("GET /products/29 for alice", &answers[0], 502);
        played.expect("GET /products/29 for bob", &answers[1], 200);
        Ok(played)
    })
}

fn tracing_off_server2<'a>(
    s: &'static Scenario,
    d: &'a Driver<'_>,
) -> BoxFuture<'a, anyhow::Result<Played>> {
    Box::pin(async move {
        d.set_tracing(&d.cluster.server2, false).await?;
        // The directive must cross the silent hop: server3 reads both entries.
        let baggage = [("customer", "dave"), ("fault.redis", "refuse")];
        let played = one_get(d, s.name, &baggage, "/products/30", 200).await;
        d.set_tracing(&d.cluster.server2, true).await?;
        played
    })
}

fn no_server2_spans(trace: &Trace) -> Result<(), String> {
    let server2 = trace
        .spans
        .iter()
        .filter(|s| service(trace, s) == "server2")
        .count();
    let services: std::collections::HashSet<_> =
        trace.spans.iter().map(|s| service(trace, s)).collect();
    if server2 != 0 || !services.contains("server1") || !services.contains("server3") {
        return Err(format!(
            "expected spans of server1 and server3 and none of server2, found services {services:?}"
        ));
    }
    Ok(())
}

fn unsampled<'a>(_: &'static Scenario, d: &'a Driver<'_>) -> BoxFuture<'a, anyhow::Result<Played>> {
    Box::pin(async move {
        // Fresh ids from the SDK's generator, written by hand with flags 00 (not sampled).
        let ids = RandomIdGenerator::default();
        let trace_id = ids.new_trace_id().to_string();
        let traceparent = format!("00-{trace_id}-{}-00", ids.new_span_id());
        let url = format!("{}/products/31", d.cluster.server1);
        let r = d
            .plain
            .get(&url)
            .header("traceparent", &traceparent)
            .send()
            .await?;
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        let mut played = Played {
            trace_id: trace_id.clone(),
            expect_spans: false,
            ..Played::default()
        };
        played.expect(
            "GET /products/31 (unsampled)",
            &Answer {
                status,
                body: body.clone(),
            },
            200,
        );
        let seen = body["traceparent_at_server3"].as_str().unwrap_or_default();
        if !(seen.starts_with(&format!("00-{trace_id}-")) && seen.ends_with("-00")) {
            played.problems.push(format!(
                "server3 was to receive trace {trace_id} unsampled (flags 00), got traceparent {seen:?}"
            ));
        } else {
            played
                .notes
                .push(format!("server3 received traceparent {seen}"));
        }
        Ok(played)
    })
}
