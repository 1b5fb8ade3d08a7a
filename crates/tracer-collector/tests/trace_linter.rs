//! The trace linter on generated traces: each rule fires on its pattern, with the expected
//! sentence, and stays quiet on the look-alikes (batched queries, fan-out, one retry, a
//! fallback); the findings endpoint serves it for stored traces and refuses bad ids.

mod common;

use common::{TestCollector, i, now_ns, request, s, simple_span};
use opentelemetry_proto::tonic::trace::v1::Status;
use prost::Message;
use tracer_collector::insight::api::TraceFindings;
use tracer_collector::insight::lint::{Finding, Rule, Severity, lint};
use tracer_collector::insight::view::{TraceView, ViewSpan};
use tracer_collector::query::model::Envelope;

const MS: u64 = 1_000_000;

fn server(id: u64, parent: u64, service: &str, name: &str, start_ms: u64, dur_ms: u64) -> ViewSpan {
    ViewSpan::new(id, parent, service, name)
        .kind(2)
        .timing(start_ms * MS, dur_ms * MS)
}

fn query(id: u64, parent: u64, text: &str, start_ms: u64, dur_ms: u64) -> ViewSpan {
    let op = text.split_whitespace().next().unwrap_or("").to_owned();
    ViewSpan::new(id, parent, "shop", &format!("{op} items"))
        .client()
        .timing(start_ms * MS, dur_ms * MS)
        .attribute("db.system.name", "mysql")
        .attribute("db.operation.name", op)
        .attribute("db.query.text", text)
}

fn http_call(
    id: u64,
    parent: u64,
    method: &str,
    url: &str,
    start_ms: u64,
    dur_ms: u64,
) -> ViewSpan {
    ViewSpan::new(id, parent, "web", method)
        .client()
        .timing(start_ms * MS, dur_ms * MS)
        .attribute("http.request.method", method)
        .attribute("url.full", url)
        .attribute("http.response.status_code", 200)
}

fn findings(spans: Vec<ViewSpan>) -> Vec<Finding> {
    lint(&TraceView::new(0xabc, spans))
}

fn rules(found: &[Finding]) -> Vec<Rule> {
    found.iter().map(|f| f.rule).collect()
}

/// The findings other than the dominant span, which a small trace always has (of a parent and
/// one child, one has half the time or more); its own test is below.
fn without_dominant(found: Vec<Finding>) -> Vec<Finding> {
    found
        .into_iter()
        .filter(|f| f.rule != Rule::DominantSpan)
        .collect()
}

#[test]
fn one_query_per_item_is_reported_as_n_plus_one_with_its_shape() {
    let mut spans = vec![server(1, 0, "shop", "GET /orders", 0, 60)];
    for k in 0..4u64 {
        spans.push(query(
            10 + k,
            1,
            &format!("SELECT * FROM items WHERE order_id = {}", 100 + k),
            1 + 12 * k,
            10,
        ));
    }
    let found = findings(spans);
    assert_eq!(rules(&found), [Rule::NPlusOne]);
    let f = &found[0];
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(
        f.spans,
        [
            "000000000000000a",
            "000000000000000b",
            "000000000000000c",
            "000000000000000d"
        ]
    );
    assert_eq!(
        f.message,
        "N+1 queries: 4 × shop SELECT items under shop GET /orders: the same statement \
         `select * from items where order_id = ?` ran 4 times one after another, 40.0 ms in all; \
         fetch the rows in one query (WHERE … IN (…) or a join) instead of one query per item."
    );
    assert_eq!(f.impact_ns, 30 * MS);
}

#[test]
fn one_batched_query_and_two_alike_are_not_n_plus_one() {
    let batched = without_dominant(findings(vec![
        server(1, 0, "shop", "GET /orders", 0, 12),
        query(
            2,
            1,
            "SELECT * FROM items WHERE order_id IN (100, 101, 102, 103)",
            1,
            10,
        ),
    ]));
    assert!(batched.is_empty(), "{batched:#?}");
    let two = without_dominant(findings(vec![
        server(1, 0, "shop", "GET /orders", 0, 10),
        query(2, 1, "SELECT * FROM items WHERE order_id = 1", 1, 3),
        query(3, 1, "SELECT * FROM items WHERE order_id = 2", 5, 3),
    ]));
    assert!(!rules(&two).contains(&Rule::NPlusOne), "{two:#?}");
    // Different statements under one parent are not one shape.
    let different = without_dominant(findings(vec![
        server(1, 0, "shop", "GET /orders", 0, 13),
        query(2, 1, "SELECT * FROM items WHERE order_id = 1", 1, 3),
        query(3, 1, "SELECT * FROM customers WHERE id = 2", 5, 3),
        query(4, 1, "SELECT * FROM prices WHERE sku = 3", 9, 3),
    ]));
    assert!(
        !rules(&different).contains(&Rule::NPlusOne),
        "{different:#?}"
    );
}

#[test]
fn independent_calls_one_after_another_are_reported_as_sequential() {
    let found = findings(vec![
        server(1, 0, "web", "GET /home", 0, 70),
        http_call(2, 1, "GET", "http://users/me", 1, 20),
        http_call(3, 1, "GET", "http://cart/mine", 21, 20),
        http_call(4, 1, "GET", "http://offers/today", 42, 20),
    ]);
    assert_eq!(rules(&found), [Rule::SequentialCalls]);
    assert_eq!(
        found[0].message,
        "Sequential calls: 3 calls under web GET /home (web GET, web GET, web GET): they ran one \
         after another with gaps of at most 1.0 ms, 60.0 ms in all where the longest took 20.0 \
         ms; if none needs another's answer, send them concurrently (fan out and join) to save \
         about 40.0 ms."
    );
    assert_eq!(found[0].spans.len(), 3);
}

#[test]
fn fan_out_retries_writes_repeats_and_long_gaps_are_not_sequential() {
    // Fan-out: the calls overlap.
    let fan_out = without_dominant(findings(vec![
        server(1, 0, "web", "GET /home", 0, 30),
        http_call(2, 1, "GET", "http://users/me", 1, 20),
        http_call(3, 1, "GET", "http://cart/mine", 2, 20),
        http_call(4, 1, "GET", "http://offers/today", 3, 20),
    ]));
    assert!(fan_out.is_empty(), "{fan_out:#?}");
    // A parent that fans out somewhere keeps the order of its other calls.
    let partly = without_dominant(findings(vec![
        server(1, 0, "web", "GET /home", 0, 80),
        http_call(2, 1, "GET", "http://users/me", 1, 20),
        http_call(3, 1, "GET", "http://cart/mine", 21, 20),
        http_call(4, 1, "GET", "http://offers/a", 42, 20),
        http_call(5, 1, "GET", "http://offers/b", 43, 20),
    ]));
    assert!(partly.is_empty(), "{partly:#?}");
    // A write after a read: taken to depend on it.
    let write = without_dominant(findings(vec![
        server(1, 0, "web", "POST /order", 0, 50),
        http_call(2, 1, "GET", "http://cart/mine", 1, 20),
        http_call(3, 1, "POST", "http://orders/new", 21, 20),
    ]));
    assert!(write.is_empty(), "{write:#?}");
    // The same request twice.
    let repeat = without_dominant(findings(vec![
        server(1, 0, "web", "GET /home", 0, 50),
        http_call(2, 1, "GET", "http://cart/mine", 1, 20),
        http_call(3, 1, "GET", "http://cart/mine", 21, 20),
    ]));
    assert!(repeat.is_empty(), "{repeat:#?}");
    // A long gap: work on the first answer before the second call.
    let gap = without_dominant(findings(vec![
        server(1, 0, "web", "GET /home", 0, 80),
        http_call(2, 1, "GET", "http://users/me", 1, 20),
        http_call(3, 1, "GET", "http://cart/mine", 41, 20),
    ]));
    assert!(gap.is_empty(), "{gap:#?}");
    // A database read after a cache read: the miss is why the database is read.
    let cache_aside = without_dominant(findings(vec![
        server(1, 0, "shop", "GET /product", 0, 40),
        ViewSpan::new(2, 1, "shop", "GET")
            .client()
            .timing(MS, 10 * MS)
            .attribute("db.system.name", "redis"),
        query(3, 1, "SELECT * FROM items WHERE sku = 4", 12, 20),
    ]));
    assert!(cache_aside.is_empty(), "{cache_aside:#?}");
}

fn attempt(id: u64, parent: u64, n: u64, start_ms: u64, status: u16) -> ViewSpan {
    let mut span = http_call(id, parent, "GET", "http://inventory/stock", start_ms, 10);
    span.attributes
        .retain(|(k, _)| k != "http.response.status_code");
    let mut span = span
        .attribute("http.response.status_code", status)
        .attribute("server.address", "inventory")
        .attribute("server.port", 8080);
    if n > 0 {
        span = span.attribute("http.request.resend_count", n);
    }
    if status >= 400 {
        span = span.attribute("error.type", status).failed();
    }
    span
}

#[test]
fn three_attempts_of_one_call_are_a_retry_storm_and_the_recovery_is_handled() {
    let found = findings(vec![
        server(1, 0, "web", "GET /stock", 0, 40),
        attempt(2, 1, 0, 1, 503),
        attempt(3, 1, 1, 12, 503),
        attempt(4, 1, 2, 23, 200),
    ]);
    assert_eq!(rules(&found), [Rule::RetryStorm, Rule::ErrorHandled]);
    assert_eq!(
        found[0].message,
        "Retry storm: web sent GET 3 times under web GET /stock: 2 of 3 attempts failed \
         (error.type=503), http.request.resend_count up to 2, the last attempt succeeded, 32.0 \
         ms spent from first to last; fix why inventory:8080 fails, and cap the attempts with \
         backoff and jitter so that a failing inventory:8080 is not called 3 times per request."
    );
    assert_eq!(
        found[1].message,
        "Error handled: 2 × web GET under web GET /stock: it failed (error.type=503) and web \
         GET /stock retried it: it went on with web GET and ended without error; nothing is \
         lost, but the failed attempts cost 20.0 ms: if this is frequent, make web GET \
         reliable or let it fail faster."
    );
    // One retry is not a storm.
    let once = without_dominant(findings(vec![
        server(1, 0, "web", "GET /stock", 0, 40),
        attempt(2, 1, 0, 1, 503),
        attempt(3, 1, 1, 12, 200),
    ]));
    assert_eq!(rules(&once), [Rule::ErrorHandled]);
}

#[test]
fn a_failure_under_a_parent_that_ended_well_is_swallowed_unless_something_took_over() {
    let swallowed = without_dominant(findings(vec![
        server(1, 0, "shop", "GET /product", 0, 10),
        query(2, 1, "SELECT * FROM items WHERE sku = 4", 1, 5),
        ViewSpan::new(3, 1, "shop", "SETEX")
            .client()
            .timing(7 * MS, 2 * MS)
            .attribute("db.system.name", "redis")
            .attribute("error.type", "io")
            .failed(),
    ]));
    assert_eq!(rules(&swallowed), [Rule::ErrorSwallowed]);
    assert_eq!(
        swallowed[0].message,
        "Error swallowed: shop SETEX under shop GET /product: it failed (error.type=io) but shop \
         GET /product ended without error and with no retry or fallback after it; record the \
         failure on shop GET /product (an error status or error.type) or handle it explicitly, \
         so that its caller learns that part of the work failed."
    );
    assert_eq!(swallowed[0].spans, ["0000000000000003"]);

    let fallback = without_dominant(findings(vec![
        server(1, 0, "shop", "GET /product", 0, 10),
        ViewSpan::new(2, 1, "shop", "GET")
            .client()
            .timing(MS, 2 * MS)
            .attribute("db.system.name", "redis")
            .attribute("error.type", "io")
            .failed(),
        query(3, 1, "SELECT * FROM items WHERE sku = 4", 4, 5),
    ]));
    assert_eq!(rules(&fallback), [Rule::ErrorHandled]);
    assert!(
        fallback[0]
            .message
            .contains("and shop GET /product fell back: it went on with shop SELECT items"),
        "{}",
        fallback[0].message
    );
}

#[test]
fn a_failure_carried_to_the_top_is_propagated_and_names_its_origin() {
    let found = findings(vec![
        server(1, 0, "web", "GET /product", 0, 20)
            .attribute("http.response.status_code", 502)
            .failed(),
        ViewSpan::new(2, 1, "web", "GetProduct")
            .client()
            .timing(MS, 15 * MS)
            .attribute("rpc.response.status_code", "INTERNAL")
            .failed(),
        server(3, 2, "shop", "GetProduct", 2, 12)
            .attribute("rpc.response.status_code", "INTERNAL")
            .failed(),
        query(4, 3, "SELECT * FROM itemz WHERE sku = 4", 3, 5)
            .attribute("db.response.status_code", "1146")
            .attribute("error.type", "1146")
            .failed(),
    ]);
    assert_eq!(rules(&found), [Rule::ErrorPropagated]);
    assert_eq!(
        found[0].message,
        "Error propagated: shop SELECT items: the failure (error.type=1146) went up 3 spans to \
         web GET /product (http.response.status_code=502); start from shop SELECT items: it is \
         where the failure began, the spans above only carried it."
    );
    assert_eq!(found[0].spans, ["0000000000000004", "0000000000000001"]);
}

#[test]
fn a_span_taking_most_of_the_trace_is_the_dominant_span() {
    let found = findings(vec![
        server(1, 0, "shop", "GET /product", 0, 100),
        query(2, 1, "SELECT * FROM items WHERE sku = SLEEP(1)", 5, 90),
    ]);
    assert_eq!(rules(&found), [Rule::DominantSpan]);
    assert_eq!(
        found[0].message,
        "Dominant span: shop SELECT items: 90.0 ms of its own time is 90% of the trace's 100 ms \
         on the critical path; make this mysql call faster (an index, fewer rows, no lock wait) \
         or take it off the request's path."
    );
    let even = findings(vec![
        server(1, 0, "shop", "GET /product", 0, 100),
        query(2, 1, "SELECT * FROM items WHERE sku = 1", 5, 40),
        query(3, 1, "SELECT * FROM prices WHERE sku = 1", 50, 40),
    ]);
    assert!(!rules(&even).contains(&Rule::DominantSpan), "{even:#?}");
}

#[test]
fn odd_traces_are_linted_without_panic_in_bounded_time() {
    // Cycles, duplicates, zero and overflowing durations, parents missing.
    let odd = vec![
        ViewSpan::new(1, 2, "a", "x").timing(u64::MAX - 5, u64::MAX),
        ViewSpan::new(2, 1, "a", "y").failed(),
        ViewSpan::new(2, 1, "a", "dup"),
        ViewSpan::new(3, 99, "a", "orphan").client().failed(),
        ViewSpan::new(4, 4, "a", "self").attribute("http.request.resend_count", "many"),
    ];
    let _ = findings(odd);
    // A wide trace: 50 000 same-shape queries under one parent, and a deep chain.
    let mut wide = vec![server(1, 0, "shop", "GET /all", 0, 100_000)];
    for k in 0..50_000u64 {
        wide.push(query(
            10 + k,
            1,
            &format!("SELECT * FROM items WHERE id = {k}"),
            k,
            1,
        ));
    }
    let started = std::time::Instant::now();
    let found = findings(wide);
    assert_eq!(rules(&found)[0], Rule::NPlusOne);
    assert!(found[0].spans.len() <= tracer_collector::insight::lint::MAX_FINDING_SPANS);
    let deep: Vec<ViewSpan> = (1..=20_000u64)
        .map(|k| server(k, k - 1, "s", "hop", k, 40_000 - 2 * k).failed())
        .collect();
    let found = findings(deep);
    assert_eq!(rules(&found), [Rule::ErrorPropagated]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
}

const TRACE: u128 = 0x5eed_0000_0000_0000_0000_0000_0000_0001;

#[tokio::test]
async fn the_findings_endpoint_lints_a_stored_trace() {
    let collector = TestCollector::start().await;
    let base = now_ns();
    let root = simple_span(TRACE, 1, 0, "GetProduct", base, 0, 12_000);
    let mut cache = simple_span(TRACE, 2, 1, "GET", base, 1_000, 2_000);
    cache.kind = 3;
    cache.attributes = vec![s("db.system.name", "redis"), s("error.type", "io")];
    cache.status = Some(Status {
        message: "connection refused".into(),
        code: 2,
    });
    let mut db = simple_span(TRACE, 3, 1, "SELECT demo_products", base, 4_000, 5_000);
    db.kind = 3;
    db.attributes = vec![
        s("db.system.name", "mysql"),
        s(
            "db.query.text",
            "SELECT name FROM demo_products WHERE sku = ?",
        ),
        i("db.response.returned_rows", 1),
    ];
    let payload = request("server3", vec![root, cache, db]);
    let response = collector
        .post("application/x-protobuf", None, payload.encode_to_vec())
        .await;
    assert_eq!(response.status(), 200);
    collector.wait_trace(&format!("{TRACE:032x}"), 3).await;

    let (status, body) = collector
        .get(&format!("/api/traces/{TRACE:032x}/findings"))
        .await;
    assert_eq!(status, 200, "{body}");
    let answer: Envelope<TraceFindings> = serde_json::from_value(body.clone()).unwrap();
    let data = answer.data.unwrap();
    assert_eq!(data.trace_id, format!("{TRACE:032x}"));
    assert_eq!(data.span_count, 3);
    assert_eq!(answer.total, 1);
    assert_eq!(rules(&data.findings), [Rule::ErrorHandled]);
    assert_eq!(
        data.findings[0].message,
        "Error handled: server3 GET under server3 GetProduct: it failed (error.type=io) and \
         server3 GetProduct fell back: it went on with server3 SELECT demo_products and ended \
         without error; nothing is lost, but the failed attempts cost 2.0 ms: if this is \
         frequent, make server3 GET reliable or let it fail faster."
    );
    assert_eq!(body["data"]["findings"][0]["rule"], "error-handled");
    assert_eq!(body["data"]["findings"][0]["severity"], "info");
    assert_eq!(
        body["data"]["findings"][0]["spans"],
        serde_json::json!(["0000000000000002", "0000000000000003"])
    );
    // The Jaeger trace endpoint is unchanged beside it.
    let (status, trace) = collector.get(&format!("/api/traces/{TRACE:032x}")).await;
    assert_eq!(status, 200);
    assert_eq!(trace["data"][0]["spans"].as_array().unwrap().len(), 3);

    let (status, body) = collector.get("/api/traces/not-hex/findings").await;
    assert_eq!(status, 400);
    assert!(
        body["errors"][0]["msg"]
            .as_str()
            .unwrap()
            .contains("\"not-hex\": expected 1 to 32 hex digits"),
        "{body}"
    );
    let (status, body) = collector.get("/api/traces/ffff/findings").await;
    assert_eq!(status, 404);
    assert_eq!(
        body["errors"][0]["msg"],
        "trace 000000000000ffff is not in the store"
    );
    collector.stop().await;
}

/// A trace over the linter's size is an answer (the trace page asks for every trace it shows),
/// not an error: no findings, and `skipped` names the size and the limit.
#[tokio::test]
async fn a_trace_over_the_linters_size_is_answered_as_not_linted() {
    const BIG: u128 = 0x5eed_0000_0000_0000_0000_0000_0000_0002;
    let collector = TestCollector::start().await;
    let base = now_ns();
    let spans = tracer_collector::insight::MAX_TRACE_SPANS as u64 + 1;
    for chunk in (1..=spans).collect::<Vec<_>>().chunks(10_000) {
        let batch = chunk
            .iter()
            .map(|&n| simple_span(BIG, n, u64::from(n > 1), "work", base, n, 10))
            .collect();
        let response = collector
            .post(
                "application/x-protobuf",
                None,
                request("big", batch).encode_to_vec(),
            )
            .await;
        assert_eq!(response.status(), 200);
    }
    collector
        .wait_trace(&format!("{BIG:032x}"), spans as usize)
        .await;
    let (status, body) = collector
        .get(&format!("/api/traces/{BIG:032x}/findings"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["findings"], serde_json::json!([]));
    assert_eq!(body["data"]["spanCount"], spans);
    assert_eq!(
        body["data"]["skipped"],
        format!(
            "trace {BIG:032x} has {spans} spans; the insight tools read at most {}",
            tracer_collector::insight::MAX_TRACE_SPANS
        )
    );
    collector.stop().await;
}
