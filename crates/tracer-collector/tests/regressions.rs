//! `/api/regressions`: two windows of traces (or two lists of trace ids) compared per operation
//! path, with slowdowns injected into some operations: the slowed ones are reported biggest
//! p95 increase first with their distributions and a representative pair of traces, the
//! unchanged ones only counted; bad parameters are refused by name.

mod common;

use common::{TestCollector, now_ns, request, simple_span};
use prost::Message;
use serde_json::Value;
use tracer_collector::insight::api::Regressions;
use tracer_collector::query::model::Envelope;

const MINUTE_NS: u64 = 60_000_000_000;

/// One checkout: `shop GET /cart` calling `shop SELECT carts` (db_ms), `pricing GET /price`
/// (price_ms) and `shop SETEX cart` (2 ms), one after another.
async fn checkout(collector: &TestCollector, trace: u128, base: u64, db_ms: u64, price_ms: u64) {
    let mut at = 1_000u64;
    let mut spans = Vec::new();
    let mut price = Vec::new();
    for (id, name, ms) in [
        (2, "SELECT carts", db_ms),
        (3, "GET /price", price_ms),
        (4, "SETEX cart", 2),
    ] {
        let mut span = simple_span(trace, id, 1, name, base, at, ms * 1000);
        span.kind = if id == 3 { 2 } else { 3 };
        if id == 3 {
            price.push(span);
        } else {
            spans.push(span);
        }
        at += ms * 1000 + 100;
    }
    spans.push(simple_span(trace, 1, 0, "GET /cart", base, 0, at + 500));
    for payload in [request("shop", spans), request("pricing", price)] {
        let response = collector
            .post("application/x-protobuf", None, payload.encode_to_vec())
            .await;
        assert_eq!(response.status(), 200);
    }
}

async fn regressions(collector: &TestCollector, query: &str) -> (u16, Value) {
    collector.get(&format!("/api/regressions?{query}")).await
}

#[tokio::test]
async fn slowed_operations_are_ranked_first_and_unchanged_ones_are_not_reported() {
    let collector = TestCollector::start().await;
    let now = now_ns();
    // Ten traces 45 minutes ago and ten in the last 10 minutes; in the later ones the query
    // takes 30 ms more and the price call 8 ms more; the cache write stays at 2 ms. The jitter
    // (i % 3 ms) is the same on both sides.
    for i in 0..10u64 {
        let jitter = i % 3;
        checkout(
            &collector,
            0xb000 + u128::from(i),
            now - 45 * MINUTE_NS + i * 1_000_000_000,
            10 + jitter,
            12 + jitter,
        )
        .await;
        checkout(
            &collector,
            0xa000 + u128::from(i),
            now - 10 * MINUTE_NS + i * 1_000_000_000,
            40 + jitter,
            20 + jitter,
        )
        .await;
    }
    collector.wait_trace(&format!("{:032x}", 0xa009), 4).await;

    let (status, body) = regressions(&collector, "service=shop&window=30m").await;
    assert_eq!(status, 200, "{body}");
    let answer: Envelope<Regressions> = serde_json::from_value(body.clone()).unwrap();
    let data = answer.data.unwrap();
    assert_eq!(data.before.traces, 10);
    assert_eq!(data.after.traces, 10);
    let c = &data.comparison;
    let slower: Vec<&str> = c.slower.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(
        slower,
        [
            "shop GET /cart",
            "shop GET /cart / shop SELECT carts",
            "shop GET /cart / pricing GET /price",
        ],
        "{body:#}"
    );
    assert_eq!(c.unchanged, 1, "the cache write: {body:#}");
    assert!(c.faster.is_empty());
    assert!(c.only_before.is_empty() && c.only_after.is_empty());
    let query = &c.slower[1];
    assert_eq!(query.before.count, 10);
    assert_eq!(query.before.p50_ms, 11.0);
    assert_eq!(query.after.p50_ms, 41.0);
    assert_eq!(query.before.p95_ms, 12.0);
    assert_eq!(query.p50_delta_ms, 30.0);
    assert!(query.p_value.unwrap() < 0.001, "{:?}", query.p_value);
    // The drill-down pair: a typical trace of each side, its span at that side's median.
    assert!(
        query.example_before.trace_id.starts_with("000000000000b0"),
        "{query:?}"
    );
    assert!(
        query.example_after.trace_id.starts_with("000000000000a0"),
        "{query:?}"
    );
    assert_eq!(query.example_before.duration_ms, 11.0);
    assert_eq!(query.example_after.duration_ms, 41.0);
    assert_eq!(query.example_after.span_id, "0000000000000002");
    assert_eq!(
        body["data"]["comparison"]["slower"][1]["exampleAfter"]["traceID"],
        query.example_after.trace_id
    );
    assert!(
        c.rule
            .starts_with("slower: p50 or p95 up by at least 20% and 1 ms"),
        "{}",
        c.rule
    );

    // The same sets as lists of trace ids.
    let ids = |base: u128| {
        (0..10u128)
            .map(|i| format!("{:x}", base + i))
            .collect::<Vec<_>>()
            .join(",")
    };
    let (status, body) = regressions(
        &collector,
        &format!("before={}&after={}", ids(0xb000), ids(0xa000)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let by_ids: Envelope<Regressions> = serde_json::from_value(body).unwrap();
    let by_ids = by_ids.data.unwrap().comparison;
    assert_eq!(by_ids.slower, c.slower);
    assert_eq!(by_ids.unchanged, 1);

    // The other way round everything got faster, and nothing slower.
    let (_, body) = regressions(
        &collector,
        &format!("before={}&after={}", ids(0xa000), ids(0xb000)),
    )
    .await;
    let reversed: Envelope<Regressions> = serde_json::from_value(body).unwrap();
    let reversed = reversed.data.unwrap().comparison;
    assert!(reversed.slower.is_empty());
    assert_eq!(reversed.faster.len(), 3);

    // A higher threshold leaves the price call (+8 ms, +62%) out.
    let (_, body) = regressions(&collector, "service=shop&window=30m&minRatio=2").await;
    let strict: Envelope<Regressions> = serde_json::from_value(body).unwrap();
    let strict: Vec<String> = strict
        .data
        .unwrap()
        .comparison
        .slower
        .into_iter()
        .map(|s| s.path)
        .collect();
    assert_eq!(
        strict,
        ["shop GET /cart", "shop GET /cart / shop SELECT carts"]
    );
    collector.stop().await;
}

#[tokio::test]
async fn identical_windows_report_nothing_and_bad_parameters_are_named() {
    let collector = TestCollector::start().await;
    let now = now_ns();
    for i in 0..8u64 {
        let jitter = (i * 7) % 5;
        checkout(
            &collector,
            0xc000 + u128::from(i),
            now - 45 * MINUTE_NS + i * 1_000_000_000,
            10 + jitter,
            12,
        )
        .await;
        checkout(
            &collector,
            0xd000 + u128::from(i),
            now - 10 * MINUTE_NS + i * 1_000_000_000,
            10 + (4 - jitter),
            12,
        )
        .await;
    }
    collector.wait_trace(&format!("{:032x}", 0xd007), 4).await;
    let (status, body) = regressions(&collector, "window=30m").await;
    assert_eq!(status, 200, "{body}");
    let c = &body["data"]["comparison"];
    assert_eq!(c["slower"], serde_json::json!([]), "{body:#}");
    assert_eq!(c["faster"], serde_json::json!([]), "{body:#}");
    assert_eq!(c["unchanged"], 4);

    for (query, message) in [
        (
            "window=soon",
            "parameter window: \"soon\" is not a positive duration such as 30m or 1h",
        ),
        (
            "before=abc",
            "parameters before and after: give trace ids for both sets",
        ),
        (
            "before=xyz&after=1",
            "parameter before: \"xyz\" is not a trace id (1 to 32 hex digits)",
        ),
        (
            "beforeStart=1",
            "parameters beforeStart, beforeEnd, afterStart, afterEnd: give all four",
        ),
        (
            "end=yesterday",
            "parameter end: \"yesterday\" is not a time in Unix microseconds",
        ),
        (
            "minRatio=0.5",
            "parameter minRatio: \"0.5\" is not a number >= 1",
        ),
    ] {
        let (status, body) = regressions(&collector, query).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["errors"][0]["msg"], message, "{query}");
    }
    collector.stop().await;
}
