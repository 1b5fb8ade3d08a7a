//! The scenario catalogue: what each scenario does, the trace it must produce, and the checks
//! beyond the tree's shape. docs/SCENARIOS.md explains each one with its rendered tree.
//!
//! A scenario *plays* against a running cluster through a [`Driver`]: it usually opens a root
//! span on the `client` service, puts its fault directive in the baggage, and sends one or more
//! requests to server1. The trace is then read back from the collector and rendered with
//! [`TreeFormat`] (attributes [`ATTRIBUTES`], events shown); it must equal
//! [`Scenario::expected`] line for line, and pass [`Scenario::check`].

use std::time::Duration;

use futures_util::future::BoxFuture;
use opentelemetry::Context;
use opentelemetry::context::FutureExt as _;
use serde_json::Value;
use tracer::opentelemetry_sdk::trace::{IdGenerator as _, RandomIdGenerator};
use tracer::testing::TreeFormat;
use tracer_collector::query::model::Trace;

use crate::runner::driver::{Answer, Driver, with_baggage};

/// Attributes shown in the scenario trees.
pub const ATTRIBUTES: &[&str] = &[
    "http.response.status_code",
    "http.request.resend_count",
    "rpc.response.status_code",
    "db.response.status_code",
    "error.type",
    "demo.customer",
];

/// What a play produced.
#[derive(Debug, Default)]
pub struct Played {
    /// The trace to check (32 hex digits).
    pub trace_id: String,
    /// False when the trace must not reach the collector at all.
    pub expect_spans: bool,
    /// Problems seen while playing (wrong answers, counters), each a failure.
    pub problems: Vec<String>,
    /// Facts worth printing (counters, answers).
    pub notes: Vec<String>,
}

impl Played {
    fn traced(trace_id: String) -> Self {
        Played {
            trace_id,
            expect_spans: true,
            ..Played::default()
        }
    }

    /// Records a problem unless `answer` has status `want`.
    fn expect(&mut self, what: &str, answer: &Answer, want: u16) {
        if answer.status != want {
            self.problems.push(format!(
                "{what}: expected HTTP {want}, got {} {}",
                answer.status, answer.body
            ));
        }
    }
}

/// A scenario played by code of its own.
pub type PlayFn = for<'a, 'c> fn(&'a Driver<'c>) -> BoxFuture<'a, anyhow::Result<Played>>;

/// How a scenario is played: most are one request inside the scenario's root span.
#[derive(Clone, Copy)]
pub enum Play {
    /// `GET {server1}{path}` with `baggage`; the answer must have status `want`.
    Get {
        /// Baggage entries (the directive).
        baggage: &'static [(&'static str, &'static str)],
        /// Path and query on server1.
        path: &'static str,
        /// Expected HTTP status.
        want: u16,
    },
    /// `POST {server1}{path}` of the JSON text `body` with `baggage`; the answer must have
    /// status `want`.
    Post {
        /// Baggage entries (the directive).
        baggage: &'static [(&'static str, &'static str)],
        /// Path on server1.
        path: &'static str,
        /// The JSON body.
        body: &'static str,
        /// Expected HTTP status.
        want: u16,
    },
    /// Anything else: several requests, admin calls, hand-made headers.
    Custom(PlayFn),
}
type Check = fn(&Trace) -> Result<(), String>;

/// One scenario of the catalogue.
pub struct Scenario {
    /// Short name, used by `--scenario`.
    pub name: &'static str,
    /// How it is triggered (directive and requests).
    pub how: &'static str,
    /// What happens.
    pub summary: &'static str,
    /// What the trace must show.
    pub shows: &'static str,
    /// The expected tree, in the format of [`Scenario::format`].
    pub expected: &'static str,
    /// Whether siblings are ordered by text (they start concurrently).
    pub concurrent: bool,
    /// How it is played.
    pub play: Play,
    /// Checks beyond the tree (durations, absences).
    pub check: Option<Check>,
}

impl std::fmt::Debug for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scenario")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Scenario {
    /// Plays the scenario against the cluster behind `d`.
    pub fn play_on<'a>(&'static self, d: &'a Driver<'_>) -> BoxFuture<'a, anyhow::Result<Played>> {
        match self.play {
            Play::Get {
                baggage,
                path,
                want,
            } => Box::pin(one_get(d, self.name, baggage, path, want)),
            Play::Post {
                baggage,
                path,
                body,
                want,
            } => Box::pin(async move {
                let body: Value = serde_json::from_str(body)?;
                one_post(d, self.name, baggage, path, body, want).await
            }),
            Play::Custom(play) => play(d),
        }
    }

    /// How this scenario's trees are rendered.
    pub fn format(&self) -> TreeFormat {
        TreeFormat::new()
            .attributes(ATTRIBUTES.iter().copied())
            .events(true)
            .siblings_by_text(self.concurrent)
    }
}

/// Finds a scenario by name.
pub fn find(name: &str) -> Option<&'static Scenario> {
    CATALOGUE.iter().find(|s| s.name == name)
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

fn tag<'t>(span: &'t tracer_collector::query::model::Span, key: &str) -> Option<&'t Value> {
    span.tags.iter().find(|t| t.key == key).map(|t| &t.value)
}

fn service<'t>(trace: &'t Trace, span: &tracer_collector::query::model::Span) -> &'t str {
    trace
        .processes
        .get(&span.process_id)
        .map_or("", |p| p.service_name.as_str())
}

fn db_spans<'t>(trace: &'t Trace, system: &str) -> Vec<&'t tracer_collector::query::model::Span> {
    let mut spans: Vec<_> = trace
        .spans
        .iter()
        .filter(|s| {
            tag(s, "db.system.name")
                .and_then(Value::as_str)
                .is_some_and(|v| v.starts_with(system))
                && tag(s, "span.kind").and_then(Value::as_str) == Some("client")
        })
        .collect();
    spans.sort_by_key(|s| s.start_time);
    spans
}

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

fn slow_query_on_critical_path(trace: &Trace) -> Result<(), String> {
    let sql = db_spans(trace, "m");
    let Some(query) = sql.iter().max_by_key(|s| s.duration) else {
        return Err("no SQL span".into());
    };
    let slow_us = (crate::store::SLOW_QUERY_SECS * 1e6) as u64;
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
        .filter(|s| s.duration as f64 >= crate::store::SMALL_POOL_HOLD_SECS * 1e6 * 0.8)
        .count();
    if waited + 1 < sql.len() {
        return Err(format!(
            "only {waited} of {} pool.acquire spans waited for the connection",
            sql.len()
        ));
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

// ---------------------------------------------------------------------------------------------
// Plays
// ---------------------------------------------------------------------------------------------

/// One traced GET with a directive, expecting `want`.
async fn one_get(
    d: &Driver<'_>,
    name: &str,
    baggage: &[(&str, &str)],
    path: &str,
    want: u16,
) -> anyhow::Result<Played> {
    let mut answer = None;
    let id = d
        .traced(name, baggage, || async {
            answer = Some(d.get(path).await);
            Ok(())
        })
        .await?;
    let mut played = Played::traced(id);
    if let Some(a) = answer {
        played.expect(&format!("GET {path}"), &a, want);
    }
    Ok(played)
}

/// One traced POST of a JSON body with a directive, expecting `want`; the answer is noted.
async fn one_post(
    d: &Driver<'_>,
    name: &str,
    baggage: &[(&str, &str)],
    path: &str,
    body: Value,
    want: u16,
) -> anyhow::Result<Played> {
    let mut answer = None;
    let id = d
        .traced(name, baggage, || async {
            answer = Some(d.post(path, &body).await);
            Ok(())
        })
        .await?;
    let mut played = Played::traced(id);
    if let Some(a) = answer {
        played.expect(&format!("POST {path}"), &a, want);
        played.notes.push(format!("answer: {}", a.body));
    }
    Ok(played)
}

fn cache_miss_then_hit<'a>(d: &'a Driver<'_>) -> BoxFuture<'a, anyhow::Result<Played>> {
    Box::pin(async move {
        let mut answers = Vec::new();
        let id = d
            .traced("cache-miss-then-hit", &[], || async {
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

fn http_panic<'a>(d: &'a Driver<'_>) -> BoxFuture<'a, anyhow::Result<Played>> {
    Box::pin(async move {
        let mut answers = Vec::new();
        let id = d
            .traced("http-handler-panic", &[], || async {
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

fn client_cancels<'a>(d: &'a Driver<'_>) -> BoxFuture<'a, anyhow::Result<Played>> {
    Box::pin(async move {
        let mut answer = None;
        let id = d
            .traced(
                "client-cancels",
                &[("fault.slow", "server3:2000")],
                || async {
                    answer = Some(
                        d.get_with_timeout("/products/24", Duration::from_millis(400))
                            .await,
                    );
                    Ok(())
                },
            )
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

fn one_customer_fails<'a>(d: &'a Driver<'_>) -> BoxFuture<'a, anyhow::Result<Played>> {
    Box::pin(async move {
        let mut answers = Vec::new();
        let id = d
            .traced(
                "one-customer-fails",
                &[("fault.fail-customer", "alice")],
                || async {
                    for customer in ["alice", "bob"] {
                        let cx = with_baggage(&Context::current(), &[("customer", customer)]);
                        answers.push(d.get("/products/29").with_context(cx).await);
                    }
                    Ok(())
                },
            )
            .await?;
        let mut played = Played::traced(id);
        played.expect("GET /products/29 for alice", &answers[0], 502);
        played.expect("GET /products/29 for bob", &answers[1], 200);
        Ok(played)
    })
}

fn tracing_off_server2<'a>(d: &'a Driver<'_>) -> BoxFuture<'a, anyhow::Result<Played>> {
    Box::pin(async move {
        d.set_tracing(&d.cluster.server2, false).await?;
        // The directive must cross the silent hop: server3 reads both entries.
        let baggage = [("customer", "dave"), ("fault.redis", "refuse")];
        let played = one_get(d, "tracing-off-server2", &baggage, "/products/30", 200).await;
        d.set_tracing(&d.cluster.server2, true).await?;
        played
    })
}

fn unsampled<'a>(d: &'a Driver<'_>) -> BoxFuture<'a, anyhow::Result<Played>> {
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

fn collector_down<'a>(d: &'a Driver<'_>) -> BoxFuture<'a, anyhow::Result<Played>> {
    Box::pin(async move {
        let lost =
            |v: &Value| v["failed"].as_u64().unwrap_or(0) + v["dropped"].as_u64().unwrap_or(0);
        let servers = [
            &d.cluster.server1,
            &d.cluster.server2,
            &d.cluster.server3_admin,
        ];
        let mut before = Vec::new();
        for base in servers {
            before.push(lost(&d.stats(base).await?));
        }
        d.cluster.collector_reachable(false).await?;
        let mut down_answer = None;
        let lost_trace = d
            .traced("collector-down (lost)", &[], || async {
                down_answer = Some(d.get("/products/32").await);
                Ok(())
            })
            .await;
        // Wait until every service tried to export and counted its loss.
        let mut after = before.clone();
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            for (i, base) in servers.iter().enumerate() {
                after[i] = lost(&d.stats(base).await?);
            }
            if after.iter().zip(&before).all(|(a, b)| a > b) {
                break;
            }
        }
        d.cluster.collector_reachable(true).await?;
        let mut played = one_get(d, "collector-down", &[], "/products/33", 200).await?;
        if let Some(a) = down_answer {
            played.expect("GET /products/32 while the collector is down", &a, 200);
        }
        for (i, name) in ["server1", "server2", "server3"].iter().enumerate() {
            if after[i] <= before[i] {
                played.problems.push(format!(
                    "{name} counted no lost span while the collector was down"
                ));
            }
            played.notes.push(format!(
                "{name}: {} spans lost and counted while the collector was down",
                after[i] - before[i]
            ));
        }
        if let Ok(id) = lost_trace {
            let collected =
                crate::runner::collect::fetch(&d.plain, &d.cluster.query_url, &id).await?;
            let kept = collected.map_or(0, |t| t.spans.len());
            if kept != 0 {
                played.problems.push(format!(
                    "{kept} span(s) of the request made while the collector was down arrived anyway"
                ));
            }
        }
        Ok(played)
    })
}

// ---------------------------------------------------------------------------------------------
// The catalogue
// ---------------------------------------------------------------------------------------------

/// Every scenario, in the order the runner plays them.
pub static CATALOGUE: &[Scenario] = &[
    Scenario {
        name: "cache-miss-then-hit",
        how: "`GET /products/1` twice, no directive",
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
        concurrent: false,
        play: Play::Custom(cache_miss_then_hit),
        check: None,
    },
    Scenario {
        name: "place-order",
        how: "`POST /orders` for alice, two products; baggage `customer=alice`",
        summary: "an order of two products: server3 prices each by calling server2 back, which calls server1 back",
        shows: "all five edges in one tree: client, server1 -http-> server2 -gRPC-> server3 -> MySQL, server3 -> server2 -> server1",
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
        "#,
        concurrent: true,
        play: Play::Post {
            baggage: &[("customer", "alice")],
            path: "/orders",
            body: r#"{"customer": "alice", "skus": [2, 3]}"#,
            want: 200,
        },
        check: None,
    },
    Scenario {
        name: "redis-refused",
        how: "baggage `fault.redis=refuse`; `GET /products/4`",
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
        concurrent: false,
        play: Play::Get {
            baggage: &[("fault.redis", "refuse")],
            path: "/products/4",
            want: 200,
        },
        check: None,
    },
    Scenario {
        name: "redis-timeout-retries",
        how: "baggage `fault.redis=slow`; `GET /products/5`",
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
        concurrent: false,
        play: Play::Get {
            baggage: &[("fault.redis", "slow")],
            path: "/products/5",
            want: 200,
        },
        check: None,
    },
    Scenario {
        name: "redis-reset",
        how: "baggage `fault.redis=reset`; `GET /products/6`",
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
        concurrent: false,
        play: Play::Get {
            baggage: &[("fault.redis", "reset")],
            path: "/products/6",
            want: 200,
        },
        check: None,
    },
    Scenario {
        name: "mysql-slow-query",
        how: "baggage `fault.mysql=slow`; `GET /products/7`",
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
        concurrent: false,
        play: Play::Get {
            baggage: &[("fault.mysql", "slow")],
            path: "/products/7",
            want: 200,
        },
        check: Some(slow_query_on_critical_path),
    },
    Scenario {
        name: "mysql-bad-sql",
        how: "baggage `fault.mysql=bad-sql`; `GET /products/8`",
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
        concurrent: false,
        play: Play::Get {
            baggage: &[("fault.mysql", "bad-sql")],
            path: "/products/8",
            want: 502,
        },
        check: None,
    },
    Scenario {
        name: "mysql-duplicate-key",
        how: "`POST /orders` with `order_id: 1` (seeded, so taken)",
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
        concurrent: true,
        play: Play::Post {
            baggage: &[("customer", "bob")],
            path: "/orders",
            // Order 1 always exists (seed data).
            body: r#"{"customer": "bob", "skus": [9], "order_id": 1}"#,
            want: 409,
        },
        check: None,
    },
    Scenario {
        name: "mysql-pool-exhausted",
        how: "baggage `fault.pool=1`; `GET /products?skus=10,11,12,13`",
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
        concurrent: true,
        play: Play::Get {
            baggage: &[("fault.pool", "1")],
            path: "/products?skus=10,11,12,13",
            want: 200,
        },
        check: Some(queries_serialised),
    },
    Scenario {
        name: "mysql-down",
        how: "baggage `fault.mysql=refuse`; `GET /products/14`",
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
        concurrent: false,
        play: Play::Get {
            baggage: &[("fault.mysql", "refuse")],
            path: "/products/14",
            want: 502,
        },
        check: None,
    },
    Scenario {
        name: "grpc-deadline-exceeded",
        how: "baggage `fault.deadline=200`, `fault.slow=server3:1000`; `GET /products/15`",
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
        concurrent: false,
        play: Play::Get {
            baggage: &[("fault.deadline", "200"), ("fault.slow", "server3:1000")],
            path: "/products/15",
            want: 502,
        },
        check: Some(no_redis_after_cancel),
    },
    Scenario {
        name: "http-503-retries",
        how: "baggage `fault.unavailable=2`; `GET /products/16`",
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
        concurrent: false,
        play: Play::Get {
            baggage: &[("fault.unavailable", "2")],
            path: "/products/16",
            want: 200,
        },
        check: None,
    },
    Scenario {
        name: "http-handler-panic",
        how: "baggage `fault.panic=server2` on the first of two `GET /products/17`",
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
        concurrent: false,
        play: Play::Custom(http_panic),
        check: None,
    },
    Scenario {
        name: "grpc-handler-panic",
        how: "baggage `fault.panic=server3`; `GET /products/18`",
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
        concurrent: false,
        play: Play::Get {
            baggage: &[("fault.panic", "server3")],
            path: "/products/18",
            want: 502,
        },
        check: None,
    },
    Scenario {
        name: "service-unreachable",
        how: "baggage `fault.unreachable=server3`; `GET /products/19`",
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
        concurrent: false,
        play: Play::Get {
            baggage: &[("fault.unreachable", "server3")],
            path: "/products/19",
            want: 502,
        },
        check: None,
    },
    Scenario {
        name: "call-back-loop",
        how: "baggage `fault.loop-depth=5`; `GET /loop`",
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
        concurrent: false,
        play: Play::Get {
            baggage: &[("fault.loop-depth", "5")],
            path: "/loop?depth=1",
            want: 502,
        },
        check: Some(loop_repeats_services),
    },
    Scenario {
        name: "fan-out-one-failure",
        how: "baggage `fault.fail-sku=22`; `POST /orders` for carol, products 20 to 23",
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
        concurrent: true,
        play: Play::Post {
            baggage: &[("customer", "carol"), ("fault.fail-sku", "22")],
            path: "/orders",
            body: r#"{"customer": "carol", "skus": [20, 21, 22, 23]}"#,
            want: 502,
        },
        check: Some(exactly_one_red_sibling),
    },
    Scenario {
        name: "client-cancels",
        how: "baggage `fault.slow=server3:2000`; `GET /products/24` with a 400 ms client timeout",
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
        concurrent: false,
        play: Play::Custom(client_cancels),
        check: Some(no_redis_after_cancel),
    },
    Scenario {
        name: "not-found",
        how: "`GET /products/999`",
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
        concurrent: false,
        play: Play::Get {
            baggage: &[],
            path: "/products/999",
            want: 404,
        },
        check: None,
    },
    Scenario {
        name: "n-plus-one",
        how: "baggage `fault.queries=one-by-one`; `GET /products?skus=25,26,27,28`",
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
        concurrent: false,
        play: Play::Get {
            baggage: &[("fault.queries", "one-by-one")],
            path: "/products?skus=25,26,27,28",
            want: 200,
        },
        check: None,
    },
    Scenario {
        name: "batched",
        how: "`GET /products?skus=25,26,27,28`",
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
        concurrent: false,
        play: Play::Get {
            baggage: &[],
            path: "/products?skus=25,26,27,28",
            want: 200,
        },
        check: None,
    },
    Scenario {
        name: "one-customer-fails",
        how: "baggage `fault.fail-customer=alice`; `GET /products/29` with `customer=alice`, then with `customer=bob`",
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
        concurrent: false,
        play: Play::Custom(one_customer_fails),
        check: None,
    },
    Scenario {
        name: "tracing-off-server2",
        how: "`PUT /admin/tracing off` on server2; baggage `customer=dave`, `fault.redis=refuse`; `GET /products/30`; tracing back on",
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
        concurrent: false,
        play: Play::Custom(tracing_off_server2),
        check: Some(no_server2_spans),
    },
    Scenario {
        name: "unsampled",
        how: "`GET /products/31` with `traceparent: 00-{id}-{span}-00` and no client span",
        summary: "a request whose traceparent says not sampled (flags 00)",
        shows: "no spans anywhere; the request succeeds and server3 still receives the trace id with flags 00",
        expected: "",
        concurrent: false,
        play: Play::Custom(unsampled),
        check: None,
    },
    Scenario {
        name: "collector-down",
        how: "the proxy between the services and the collector refuses connections during `GET /products/32`, then passes again for `GET /products/33`",
        summary: "the collector is unreachable for one request, then reachable again",
        shows: "the request succeeds, its spans are lost and counted; the next request's trace arrives whole",
        expected: r#"
            client internal collector-down
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
        concurrent: false,
        play: Play::Custom(collector_down),
        check: None,
    },
];
