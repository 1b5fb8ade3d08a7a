//! Call-backs: the server1 -> server2 -> server3 -> server2 -> server1 loop stopped at its depth limit, and server3 fanning out to server2 with one failure.

use serde_json::Value;
use tracer_collector::query::model::Trace;

use super::{Play, Scenario, service, tag};

/// `call-back-loop`.
pub static CALL_BACK_LOOP: Scenario = Scenario {
    name: "call-back-loop",
    summary: "a request that loops server1 -> server2 -> server3 -> server2 -> server1 ..., limited to depth 5",
    shows: "the same services repeated down one branch, stopped at depth 5 by a red 508 span",
    expected: r#"
        client internal call-back-loop
          client client GET !error http.response.status_code=502 error.type=502
            server1 server GET /loop !error http.response.status_code=502 error.type=502
              server1 client GET !error http.response.status_code=502 error.type=502
                server2 server GET /loop !error http.response.status_code=502 error.type=502
                  server2 client shop.v1.Shop/Loop !error rpc.response.status_code=UNAVAILABLE error.type=UNAVAILABLE
                    server3 server shop.v1.Shop/Loop !error rpc.response.status_code=UNAVAILABLE error.type=UNAVAILABLE
                      server3 client GET !error http.response.status_code=502 error.type=502
                        server2 server GET /loop !error http.response.status_code=502 error.type=502
                          server2 client GET !error http.response.status_code=508 error.type=508
                            server1 server GET /loop !error http.response.status_code=508 error.type=508
    "#,
    injected_by: "`src/call_back_loop.rs` `check` (the depth limit)",
    concurrent: false,
    play: Play::Get {
        baggage: &[("fault.loop-depth", "5")],
        path: "/loop?depth=1",
        want: 502,
    },
    check: Some(loop_repeats_services),
};

/// `fan-out-one-failure`.
pub static FAN_OUT_ONE_FAILURE: Scenario = Scenario {
    name: "fan-out-one-failure",
    summary: "an order of four products priced concurrently; pricing one of them fails",
    shows: "four sibling price calls from server3, exactly one red",
    expected: r#"
        client internal fan-out-one-failure
          client client POST !error http.response.status_code=502 error.type=502
            server1 server POST /orders !error http.response.status_code=502 error.type=502 demo.customer=carol
              server1 client POST !error http.response.status_code=502 error.type=502
                server2 server POST /orders !error http.response.status_code=502 error.type=502 demo.customer=carol
                  server2 client shop.v1.Shop/PlaceOrder !error rpc.response.status_code=UNAVAILABLE error.type=UNAVAILABLE
                    server3 server shop.v1.Shop/PlaceOrder !error rpc.response.status_code=UNAVAILABLE error.type=UNAVAILABLE demo.customer=carol
                      server3 internal pool.acquire
                      server3 client SELECT demo_products
                      server3 client GET !error http.response.status_code=500 error.type=500
                        server2 server GET /prices/{sku} !error http.response.status_code=500 error.type=500 demo.customer=carol
                      server3 client GET http.response.status_code=200
                        server2 server GET /prices/{sku} http.response.status_code=200 demo.customer=carol
                          server2 client GET http.response.status_code=200
                            server1 server GET /customers/{name} http.response.status_code=200 demo.customer=carol
                      server3 client GET http.response.status_code=200
                        server2 server GET /prices/{sku} http.response.status_code=200 demo.customer=carol
                          server2 client GET http.response.status_code=200
                            server1 server GET /customers/{name} http.response.status_code=200 demo.customer=carol
                      server3 client GET http.response.status_code=200
                        server2 server GET /prices/{sku} http.response.status_code=200 demo.customer=carol
                          server2 client GET http.response.status_code=200
                            server1 server GET /customers/{name} http.response.status_code=200 demo.customer=carol
    "#,
    injected_by: "`src/server2.rs` `price` (`fail_sku`: a 500 for one product)",
    concurrent: true,
    play: Play::Post {
        baggage: &[("customer", "carol"), ("fault.fail-sku", "22")],
        path: "/orders",
        body: r#"{"customer": "carol", "skus": [20, 21, 22, 23]}"#,
        want: 502,
    },
    check: Some(exactly_one_red_sibling),
};

fn loop_repeats_services(trace: &Trace) -> Result<(), String> {
    let servers: Vec<&str> = {
        let mut spans: Vec<_> = trace
            .spans
            .iter()
            .filter(|s| tag(s, "span.kind").and_then(Value::as_str) == Some("server"))
            .collect();
        spans.sort_by_key(|s| s.start_time);
        spans.iter().map(|s| service(trace, s)).collect()
    };
    let want = ["server1", "server2", "server3", "server2", "server1"];
    if servers != want {
        return Err(format!(
            "server spans in order {servers:?}, expected {want:?}"
        ));
    }
    let stop = trace.spans.iter().any(|s| {
        tag(s, "otel.status_description")
            .and_then(Value::as_str)
            .is_some_and(|d| d.contains("call-back loop stopped at depth 5"))
            || tag(s, "error.type").and_then(Value::as_str) == Some("508")
    });
    if !stop {
        return Err("no span says the loop stopped at depth 5".into());
    }
    Ok(())
}

fn exactly_one_red_sibling(trace: &Trace) -> Result<(), String> {
    let fan_out: Vec<_> = trace
        .spans
        .iter()
        .filter(|s| {
            service(trace, s) == "server3"
                && tag(s, "span.kind").and_then(Value::as_str) == Some("client")
        })
        .filter(|s| tag(s, "http.request.method").is_some())
        .collect();
    let red = fan_out
        .iter()
        .filter(|s| tag(s, "error") == Some(&Value::Bool(true)))
        .count();
    let parents: std::collections::HashSet<_> = fan_out
        .iter()
        .filter_map(|s| s.references.first().map(|r| r.span_id.clone()))
        .collect();
    if fan_out.len() < 3 || red != 1 || parents.len() != 1 {
        return Err(format!(
            "expected >= 3 sibling price calls under one parent with exactly one red; found {} under {} parent(s), {red} red",
            fan_out.len(),
            parents.len()
        ));
    }
    Ok(())
}
