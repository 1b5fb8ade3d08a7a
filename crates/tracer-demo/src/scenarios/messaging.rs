//! Orders through RabbitMQ: server3 publishes `order.placed` once an order is stored, the worker
//! consumes it ([`crate::order_events`], [`crate::worker`]). The broker gone at publish, a slow
//! consumer, a poison message, a batch consumer linking several orders' traces, and a backlog
//! (consumer lag).
//!
//! The exchange and queues are the cluster's own (`orders-{run}`); the trees show `{run}` for the
//! run id ([`Cluster::normalise`](crate::runner::cluster::Cluster::normalise)).

use std::time::Duration;

use futures_util::future::BoxFuture;
use opentelemetry::Context;
use opentelemetry::context::FutureExt as _;
use serde_json::{Value, json};
use tracer_collector::query::model::{Envelope, Span, Trace};

use super::{Play, Played, Scenario, tag};
use crate::runner::collect;
use crate::runner::driver::{Driver, with_baggage};

/// How long the slow consumer sleeps on its first message.
const SLOW_CONSUMER_MS: u64 = 800;
/// The least gap the slow consumer's second message must show between send and process (the
/// second order is placed while the first is being handled, so less than the whole sleep).
const SLOW_CONSUMER_GAP_MS: u64 = 400;
/// How long the worker stops consuming in `consumer-lag`, after the orders are placed.
const LAG_PAUSE: Duration = Duration::from_millis(500);

/// `broker-down-at-publish`.
pub static BROKER_DOWN_AT_PUBLISH: Scenario = Scenario {
    name: "broker-down-at-publish",
    summary: "RabbitMQ is gone when server3 publishes the stored order's event; by the rule of `order_events`, an order stored is an order placed, so the request is still answered 200",
    shows: "server3's producer span red (the connection is gone), every other span green, the answer 200, and no consumer span: the event is lost",
    expected: r#"
        client internal broker-down-at-publish
          client client POST http.response.status_code=200
            server1 server POST /orders http.response.status_code=200 demo.customer=bob
              server1 client POST http.response.status_code=200
                server2 server POST /orders http.response.status_code=200 demo.customer=bob
                  server2 client shop.v1.Shop/PlaceOrder rpc.response.status_code=OK
                    server3 server shop.v1.Shop/PlaceOrder rpc.response.status_code=OK demo.customer=bob
                      server3 internal pool.acquire
                      server3 client SELECT demo_products
                      server3 client GET http.response.status_code=200
                        server2 server GET /prices/{sku} http.response.status_code=200 demo.customer=bob
                          server2 client GET http.response.status_code=200
                            server1 server GET /customers/{name} http.response.status_code=200 demo.customer=bob
                      server3 internal pool.acquire
                      server3 client INSERT demo_orders
                      server3 producer send orders-{run} !error error.type=channel_state
    "#,
    injected_by: "`src/order_events.rs` `Publisher::publish` (the connection through a `FaultProxy` switched to `Fault::Refuse`)",
    concurrent: false,
    play: Play::Post {
        baggage: &[("customer", "bob"), ("fault.broker", "refuse")],
        path: "/orders",
        body: r#"{"customer": "bob", "skus": [40]}"#,
        want: 200,
    },
    check: Some(no_consumer_span),
};

/// `slow-consumer`.
pub static SLOW_CONSUMER: Scenario = Scenario {
    name: "slow-consumer",
    summary: "two orders one after the other; the worker takes 800 ms over the first one's event, so the second's waits in the queue",
    shows: "the first process span long, and the second order's process span starting only once the first one ended, at least 400 ms after its send span (the time in the queue)",
    expected: r#"
        client internal slow-consumer
          client client POST http.response.status_code=200
            server1 server POST /orders http.response.status_code=200 demo.customer=alice
              server1 client POST http.response.status_code=200
                server2 server POST /orders http.response.status_code=200 demo.customer=alice
                  server2 client shop.v1.Shop/PlaceOrder rpc.response.status_code=OK
                    server3 server shop.v1.Shop/PlaceOrder rpc.response.status_code=OK demo.customer=alice
                      server3 internal pool.acquire
                      server3 client SELECT demo_products
                      server3 client GET http.response.status_code=200
                        server2 server GET /prices/{sku} http.response.status_code=200 demo.customer=alice
                          server2 client GET http.response.status_code=200
                            server1 server GET /customers/{name} http.response.status_code=200 demo.customer=alice
                      server3 internal pool.acquire
                      server3 client INSERT demo_orders
                      server3 producer send orders-{run}
                        worker consumer process orders-{run}.loyalty demo.customer=alice tracer.messaging.delivery_count=1 events=[tracer.messaging.settle]
                          worker client GET http.response.status_code=200
                            server1 server GET /customers/{name} http.response.status_code=200 demo.customer=alice
                          worker client HINCRBY
          client client POST http.response.status_code=200
            server1 server POST /orders http.response.status_code=200 demo.customer=bob
              server1 client POST http.response.status_code=200
                server2 server POST /orders http.response.status_code=200 demo.customer=bob
                  server2 client shop.v1.Shop/PlaceOrder rpc.response.status_code=OK
                    server3 server shop.v1.Shop/PlaceOrder rpc.response.status_code=OK demo.customer=bob
                      server3 internal pool.acquire
                      server3 client SELECT demo_products
                      server3 client GET http.response.status_code=200
                        server2 server GET /prices/{sku} http.response.status_code=200 demo.customer=bob
                          server2 client GET http.response.status_code=200
                            server1 server GET /customers/{name} http.response.status_code=200 demo.customer=bob
                      server3 internal pool.acquire
                      server3 client INSERT demo_orders
                      server3 producer send orders-{run}
                        worker consumer process orders-{run}.loyalty demo.customer=bob tracer.messaging.delivery_count=1 events=[tracer.messaging.settle]
                          worker client GET http.response.status_code=200
                            server1 server GET /customers/{name} http.response.status_code=200 demo.customer=bob
                          worker client HINCRBY
    "#,
    injected_by: "`src/worker.rs` `Worker::points` (`Directive::delay` for `Service::Worker`; the loyalty queue is consumed one message at a time)",
    concurrent: false,
    play: Play::Custom {
        how: "`POST /orders` of sku 41 for alice with baggage `fault.slow=worker:800`, then `POST /orders` of sku 42 for bob",
        play: slow_consumer,
    },
    check: Some(slow_consumer_gap),
};

/// `poison-message`.
pub static POISON_MESSAGE: Scenario = Scenario {
    name: "poison-message",
    summary: "server3 publishes an event the worker cannot read; the worker nacks it with requeue, fails on the redelivery too, nacks it without requeue, and RabbitMQ dead-letters it",
    shows: "two red process spans (error.type=invalid_event) with delivery counts 1 and 2, settled nack requeue=true then nack requeue=false, and the dead-letter queue's process span, all children of the one send span",
    expected: r#"
        client internal poison-message
          client client POST http.response.status_code=200
            server1 server POST /orders http.response.status_code=200 demo.customer=alice
              server1 client POST http.response.status_code=200
                server2 server POST /orders http.response.status_code=200 demo.customer=alice
                  server2 client shop.v1.Shop/PlaceOrder rpc.response.status_code=OK
                    server3 server shop.v1.Shop/PlaceOrder rpc.response.status_code=OK demo.customer=alice
                      server3 internal pool.acquire
                      server3 client SELECT demo_products
                      server3 client GET http.response.status_code=200
                        server2 server GET /prices/{sku} http.response.status_code=200 demo.customer=alice
                          server2 client GET http.response.status_code=200
                            server1 server GET /customers/{name} http.response.status_code=200 demo.customer=alice
                      server3 internal pool.acquire
                      server3 client INSERT demo_orders
                      server3 producer send orders-{run}
                        worker consumer process orders-{run}.loyalty !error error.type=invalid_event demo.customer=alice tracer.messaging.delivery_count=1 events=[tracer.messaging.settle]
                        worker consumer process orders-{run}.loyalty !error error.type=invalid_event demo.customer=alice tracer.messaging.delivery_count=2 events=[tracer.messaging.settle]
                        worker consumer process orders-{run}.loyalty.dead tracer.messaging.delivery_count=1 events=[tracer.messaging.settle]
                          worker client INCRBY
    "#,
    injected_by: "`src/order_events.rs` `Publisher::publish` (`truncated_event`: the body cut in half) and `src/worker.rs` `Worker::award_points` (nack, requeued once)",
    concurrent: false,
    play: Play::Post {
        baggage: &[("customer", "alice"), ("fault.event", "truncated")],
        path: "/orders",
        body: r#"{"customer": "alice", "skus": [43]}"#,
        want: 200,
    },
    check: Some(poison_settlements),
};

/// `batch-consumer`.
pub static BATCH_CONSUMER: Scenario = Scenario {
    name: "batch-consumer",
    summary: "three orders of carol, each its own trace; the worker invoices them in one batch",
    shows: "the batch's process span a trace of its own, with messaging.batch.message_count=3 and one link to the send span of each order's trace",
    expected: r#"
        worker consumer process orders-{run}.invoices messaging.batch.message_count=3 events=[tracer.messaging.settle]
          worker client HINCRBY
    "#,
    injected_by: "no fault: carol is invoiced in batches (`src/order_events.rs` `INVOICED_IN_BATCHES`, `src/worker.rs` `Worker::invoices`)",
    concurrent: false,
    play: Play::Custom {
        how: "three `POST /orders` for carol (skus 44, 45, 46), each under a root span of its own; the batch's trace is found in the collector by its operation and its links",
        play: batch_consumer,
    },
    check: Some(three_links),
};

/// `consumer-lag`.
pub static CONSUMER_LAG: Scenario = Scenario {
    name: "consumer-lag",
    summary: "the worker stops consuming; three orders pile up in RabbitMQ (two ready, one held by the worker) until it resumes 500 ms later",
    shows: "three orders, each process span starting at least 500 ms after its send span, in the order sent; the backlog as RabbitMQ counted it is in the notes",
    expected: r#"
        client internal consumer-lag
          client client POST http.response.status_code=200
            server1 server POST /orders http.response.status_code=200 demo.customer=alice
              server1 client POST http.response.status_code=200
                server2 server POST /orders http.response.status_code=200 demo.customer=alice
                  server2 client shop.v1.Shop/PlaceOrder rpc.response.status_code=OK
                    server3 server shop.v1.Shop/PlaceOrder rpc.response.status_code=OK demo.customer=alice
                      server3 internal pool.acquire
                      server3 client SELECT demo_products
                      server3 client GET http.response.status_code=200
                        server2 server GET /prices/{sku} http.response.status_code=200 demo.customer=alice
                          server2 client GET http.response.status_code=200
                            server1 server GET /customers/{name} http.response.status_code=200 demo.customer=alice
                      server3 internal pool.acquire
                      server3 client INSERT demo_orders
                      server3 producer send orders-{run}
                        worker consumer process orders-{run}.loyalty demo.customer=alice tracer.messaging.delivery_count=1 events=[tracer.messaging.settle]
                          worker client GET http.response.status_code=200
                            server1 server GET /customers/{name} http.response.status_code=200 demo.customer=alice
                          worker client HINCRBY
          client client POST http.response.status_code=200
            server1 server POST /orders http.response.status_code=200 demo.customer=alice
              server1 client POST http.response.status_code=200
                server2 server POST /orders http.response.status_code=200 demo.customer=alice
                  server2 client shop.v1.Shop/PlaceOrder rpc.response.status_code=OK
                    server3 server shop.v1.Shop/PlaceOrder rpc.response.status_code=OK demo.customer=alice
                      server3 internal pool.acquire
                      server3 client SELECT demo_products
                      server3 client GET http.response.status_code=200
                        server2 server GET /prices/{sku} http.response.status_code=200 demo.customer=alice
                          server2 client GET http.response.status_code=200
                            server1 server GET /customers/{name} http.response.status_code=200 demo.customer=alice
                      server3 internal pool.acquire
                      server3 client INSERT demo_orders
                      server3 producer send orders-{run}
                        worker consumer process orders-{run}.loyalty demo.customer=alice tracer.messaging.delivery_count=1 events=[tracer.messaging.settle]
                          worker client GET http.response.status_code=200
                            server1 server GET /customers/{name} http.response.status_code=200 demo.customer=alice
                          worker client HINCRBY
          client client POST http.response.status_code=200
            server1 server POST /orders http.response.status_code=200 demo.customer=alice
              server1 client POST http.response.status_code=200
                server2 server POST /orders http.response.status_code=200 demo.customer=alice
                  server2 client shop.v1.Shop/PlaceOrder rpc.response.status_code=OK
                    server3 server shop.v1.Shop/PlaceOrder rpc.response.status_code=OK demo.customer=alice
                      server3 internal pool.acquire
                      server3 client SELECT demo_products
                      server3 client GET http.response.status_code=200
                        server2 server GET /prices/{sku} http.response.status_code=200 demo.customer=alice
                          server2 client GET http.response.status_code=200
                            server1 server GET /customers/{name} http.response.status_code=200 demo.customer=alice
                      server3 internal pool.acquire
                      server3 client INSERT demo_orders
                      server3 producer send orders-{run}
                        worker consumer process orders-{run}.loyalty demo.customer=alice tracer.messaging.delivery_count=1 events=[tracer.messaging.settle]
                          worker client GET http.response.status_code=200
                            server1 server GET /customers/{name} http.response.status_code=200 demo.customer=alice
                          worker client HINCRBY
    "#,
    injected_by: "`src/worker.rs` `switch_consuming` (`PUT /admin/consuming off`, then `on`)",
    concurrent: false,
    play: Play::Custom {
        how: "`PUT /admin/consuming off` on the worker; `POST /orders` of skus 47, 48, 49 for alice; the queue's depth read; 500 ms later `PUT /admin/consuming on`",
        play: consumer_lag,
    },
    check: Some(lagging_consumer),
};

// ---------------------------------------------------------------------------------------------
// Span lookups
// ---------------------------------------------------------------------------------------------

/// The spans of `kind` (`producer`, `consumer`) whose name starts with `prefix`, in start order.
fn spans_of<'t>(trace: &'t Trace, kind: &str, prefix: &str) -> Vec<&'t Span> {
    let mut spans: Vec<&Span> = trace
        .spans
        .iter()
        .filter(|s| {
            tag(s, "span.kind").and_then(Value::as_str) == Some(kind)
                && s.operation_name.starts_with(prefix)
        })
        .collect();
    spans.sort_by_key(|s| s.start_time);
    spans
}

fn parent_id(span: &Span) -> Option<&str> {
    span.references
        .iter()
        .find(|r| r.ref_type == "CHILD_OF")
        .map(|r| r.span_id.as_str())
}

/// A consumer span's settlement as text: `ack`, `nack requeue=true`, ... (`none`).
fn settlement(span: &Span) -> String {
    let field = |fields: &[tracer_collector::query::model::KeyValue], key: &str| {
        fields
            .iter()
            .find(|f| f.key == key)
            .map(|f| match &f.value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
    };
    let Some(log) = span
        .logs
        .iter()
        .find(|l| field(&l.fields, "event").as_deref() == Some("tracer.messaging.settle"))
    else {
        return "none".into();
    };
    let mut text = field(&log.fields, "messaging.operation.name").unwrap_or_default();
    if let Some(requeue) = field(&log.fields, "tracer.messaging.requeue") {
        text.push_str(&format!(" requeue={requeue}"));
    }
    text
}

/// Microseconds from the end of `send` to the start of `process`.
fn queue_wait_us(send: &Span, process: &Span) -> i128 {
    i128::from(process.start_time) - i128::from(send.start_time + send.duration)
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

fn no_consumer_span(trace: &Trace) -> Result<(), String> {
    let consumers = spans_of(trace, "consumer", "");
    if !consumers.is_empty() {
        return Err(format!(
            "the lost event was consumed anyway: {} consumer span(s)",
            consumers.len()
        ));
    }
    Ok(())
}

fn slow_consumer_gap(trace: &Trace) -> Result<(), String> {
    let sends = spans_of(trace, "producer", "send ");
    let processes = spans_of(trace, "consumer", "process ");
    let [first_send, second_send] = sends[..] else {
        return Err(format!("expected two send spans, found {}", sends.len()));
    };
    let [first, second] = processes[..] else {
        return Err(format!(
            "expected two process spans, found {}",
            processes.len()
        ));
    };
    if parent_id(first) != Some(&first_send.span_id)
        || parent_id(second) != Some(&second_send.span_id)
    {
        return Err("each process span must be the child of its order's send span".into());
    }
    if first.duration < SLOW_CONSUMER_MS * 1000 {
        return Err(format!(
            "the slow message took {} µs to process, less than {SLOW_CONSUMER_MS} ms",
            first.duration
        ));
    }
    if second.start_time < first.start_time + first.duration {
        return Err("the second message was processed before the first one was done".into());
    }
    let gap = queue_wait_us(second_send, second);
    if gap < i128::from(SLOW_CONSUMER_GAP_MS * 1000) {
        return Err(format!(
            "the second message waited {gap} µs between send and process, less than {SLOW_CONSUMER_GAP_MS} ms"
        ));
    }
    Ok(())
}

fn poison_settlements(trace: &Trace) -> Result<(), String> {
    let sends = spans_of(trace, "producer", "send ");
    let processes = spans_of(trace, "consumer", "process ");
    let [send] = sends[..] else {
        return Err(format!("expected one send span, found {}", sends.len()));
    };
    let settled: Vec<String> = processes.iter().map(|s| settlement(s)).collect();
    if settled != ["nack requeue=true", "nack requeue=false", "ack"] {
        return Err(format!(
            "expected the settlements nack requeue=true, nack requeue=false, ack (dead letter), got {settled:?}"
        ));
    }
    if processes
        .iter()
        .any(|p| parent_id(p) != Some(&send.span_id))
    {
        return Err(
            "every delivery, the dead letter's too, must be a child of the send span".into(),
        );
    }
    match processes.last() {
        Some(dead) if dead.operation_name.ends_with(".dead") => Ok(()),
        _ => Err("the last process span must be the dead-letter queue's".into()),
    }
}

fn three_links(trace: &Trace) -> Result<(), String> {
    let batches = spans_of(trace, "consumer", "process ");
    let [batch] = batches[..] else {
        return Err(format!(
            "expected one batch process span, found {}",
            batches.len()
        ));
    };
    if parent_id(batch).is_some() {
        return Err("the batch span must be a root: it has no single parent".into());
    }
    let linked: std::collections::BTreeSet<&str> = batch
        .references
        .iter()
        .filter(|r| r.ref_type == "FOLLOWS_FROM")
        .map(|r| r.trace_id.as_str())
        .collect();
    if linked.len() != 3 || linked.contains(batch.trace_id.as_str()) {
        return Err(format!(
            "expected links to three other traces, got {linked:?}"
        ));
    }
    Ok(())
}

fn lagging_consumer(trace: &Trace) -> Result<(), String> {
    let sends = spans_of(trace, "producer", "send ");
    let processes = spans_of(trace, "consumer", "process ");
    if sends.len() != 3 || processes.len() != 3 {
        return Err(format!(
            "expected three send and three process spans, found {} and {}",
            sends.len(),
            processes.len()
        ));
    }
    for (i, (send, process)) in sends.iter().zip(&processes).enumerate() {
        if parent_id(process) != Some(&send.span_id) {
            return Err(format!(
                "order {} was processed out of the order it was sent in",
                i + 1
            ));
        }
        let wait = queue_wait_us(send, process);
        if wait < LAG_PAUSE.as_micros() as i128 {
            return Err(format!(
                "order {} waited {wait} µs in the queue, less than the {LAG_PAUSE:?} the worker stopped for",
                i + 1
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Plays
// ---------------------------------------------------------------------------------------------

fn order(customer: &str, sku: u64) -> Value {
    json!({ "customer": customer, "skus": [sku] })
}

fn slow_consumer<'a>(
    s: &'static Scenario,
    d: &'a Driver<'_>,
) -> BoxFuture<'a, anyhow::Result<Played>> {
    Box::pin(async move {
        let mut answers = Vec::new();
        let slow = format!("worker:{SLOW_CONSUMER_MS}");
        let id = d
            .traced(s.name, &[], || async {
                let cx = with_baggage(
                    &Context::current(),
                    &[("customer", "alice"), ("fault.slow", slow.as_str())],
                );
                answers.push(
                    d.post("/orders", &order("alice", 41))
                        .with_context(cx)
                        .await,
                );
                let cx = with_baggage(&Context::current(), &[("customer", "bob")]);
                answers.push(d.post("/orders", &order("bob", 42)).with_context(cx).await);
                Ok(())
            })
            .await?;
        let mut played = Played::traced(id);
        for a in &answers {
            played.expect("POST /orders", a, 200);
        }
        Ok(played)
    })
}

fn consumer_lag<'a>(
    s: &'static Scenario,
    d: &'a Driver<'_>,
) -> BoxFuture<'a, anyhow::Result<Played>> {
    Box::pin(async move {
        d.set_consuming(false).await?;
        let mut answers = Vec::new();
        let mut backlog = None;
        let traced = d
            .traced(s.name, &[("customer", "alice")], || async {
                for sku in [47, 48, 49] {
                    answers.push(d.post("/orders", &order("alice", sku)).await);
                }
                backlog = Some(ready_when(d, 2).await);
                Ok(())
            })
            .await;
        tokio::time::sleep(LAG_PAUSE).await;
        // Resume whatever happened, or the next scenarios' events would wait too.
        d.set_consuming(true).await?;
        let mut played = Played::traced(traced?);
        for a in &answers {
            played.expect("POST /orders", a, 200);
        }
        match backlog {
            Some(Ok(ready)) => played.notes.push(format!(
                "while the worker stopped, RabbitMQ held {ready} ready message(s) in the loyalty queue, and the worker one more"
            )),
            Some(Err(e)) => played.problems.push(format!("{e:#}")),
            None => {}
        }
        Ok(played)
    })
}

/// Waits (up to 3 s) until the loyalty queue has `want` ready messages; their number, or an
/// error saying what was seen.
async fn ready_when(d: &Driver<'_>, want: u64) -> anyhow::Result<u64> {
    let mut seen = None;
    for _ in 0..60 {
        let queues = d.queues().await?;
        let ready = queues["loyalty"]["ready"].as_u64();
        if ready == Some(want) {
            return Ok(want);
        }
        seen = ready;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!(
        "the loyalty queue was to hold {want} ready messages while the worker stopped, it held {seen:?}"
    )
}

fn batch_consumer<'a>(
    s: &'static Scenario,
    d: &'a Driver<'_>,
) -> BoxFuture<'a, anyhow::Result<Played>> {
    Box::pin(async move {
        let mut problems = Vec::new();
        let mut orders = Vec::new();
        for sku in [44, 45, 46] {
            let mut answer = None;
            let id = d
                .traced(
                    &format!("{} (order)", s.name),
                    &[("customer", "carol")],
                    || async {
                        answer = Some(d.post("/orders", &order("carol", sku)).await);
                        Ok(())
                    },
                )
                .await?;
            if let Some(a) = answer
                && a.status != 200
            {
                problems.push(format!(
                    "POST /orders of sku {sku}: expected HTTP 200, got {} {}",
                    a.status, a.body
                ));
            }
            orders.push(id);
        }
        let provider = d.tracer.provider().clone();
        let _ = tokio::task::spawn_blocking(move || provider.force_flush()).await;
        let queue = format!("{}.invoices", d.cluster.exchange);
        let batch = find_batch(d, &queue, &orders).await?;
        // Each link must name the send span of one order's trace.
        for order_trace in &orders {
            let sends = match collect::fetch(&d.plain, &d.cluster.query_url, order_trace).await? {
                Some(t) => spans_of(&t, "producer", "send ")
                    .iter()
                    .map(|s| s.span_id.clone())
                    .collect::<Vec<_>>(),
                None => Vec::new(),
            };
            let linked = batch
                .references
                .iter()
                .any(|r| r.ref_type == "FOLLOWS_FROM" && sends.contains(&r.span_id));
            if !linked {
                problems.push(format!(
                    "the batch span links no send span of order trace {order_trace} (its send spans: {sends:?})"
                ));
            }
        }
        let mut played = Played::traced(batch.trace_id.clone());
        played.problems = problems;
        played.notes.push(format!(
            "the batch trace links the order traces {}",
            orders.join(", ")
        ));
        Ok(played)
    })
}

/// Searches the collector (up to 10 s) for the batch span of `queue` that links to a span of
/// every trace in `orders`.
async fn find_batch(d: &Driver<'_>, queue: &str, orders: &[String]) -> anyhow::Result<Span> {
    let url = format!("{}/api/traces", d.cluster.query_url);
    let operation = format!("process {queue}");
    let same = |a: &str, b: &str| a.trim_start_matches('0') == b.trim_start_matches('0');
    for _ in 0..100 {
        let found: Envelope<Vec<Trace>> = d
            .plain
            .get(&url)
            .query(&[
                ("service", "worker"),
                ("operation", operation.as_str()),
                ("limit", "20"),
            ])
            .send()
            .await?
            .json()
            .await?;
        for trace in found.data.unwrap_or_default() {
            for span in trace.spans {
                let links_all = orders.iter().all(|o| {
                    span.references
                        .iter()
                        .any(|r| r.ref_type == "FOLLOWS_FROM" && same(&r.trace_id, o))
                });
                if span.operation_name == operation && links_all {
                    return Ok(span);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!(
        "no span `{operation}` of the worker linking the order traces {orders:?} reached the collector within 10 s"
    )
}
