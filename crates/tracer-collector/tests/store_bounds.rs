//! The store stays within its span and byte budgets under 10x overload, evicting the oldest
//! traces first and counting what it evicted.

mod common;

use common::{TestCollector, now_ns, request, s, simple_span};
use prost::Message;
use tracer_collector::Collector;

const SPANS_PER_TRACE: u64 = 10;

async fn ingest_traces(collector: &TestCollector, first: u64, count: u64) {
    let base = now_ns();
    let mut spans = Vec::new();
    for t in first..first + count {
        for n in 1..=SPANS_PER_TRACE {
            let mut span = simple_span(u128::from(t) + 1, n, 0, "op", base, n, 5);
            span.attributes
                .push(s("customer.id", &format!("c-{t}-{n}")));
            spans.push(span);
        }
    }
    for chunk in spans.chunks(1000) {
        let payload = request("load", chunk.to_vec()).encode_to_vec();
        let response = collector
            .post("application/x-protobuf", None, payload)
            .await;
        assert_eq!(response.status(), 200);
    }
}

#[tokio::test]
async fn ten_times_the_span_budget_evicts_oldest_traces_and_counts_them() {
    let collector = TestCollector::start_with(Collector::builder().max_spans(1000)).await;
    ingest_traces(&collector, 0, 1000).await; // 10,000 spans
    let stats = collector.store.stats();
    assert_eq!(stats.received_spans, 10_000);
    assert_eq!(stats.spans, 1000);
    assert_eq!(stats.traces, 100);
    assert_eq!(stats.evicted_spans, 9000);
    assert_eq!(stats.evicted_traces, 900);
    // Oldest gone, newest kept.
    assert_eq!(collector.get("/api/traces/1").await.0, 404);
    assert_eq!(
        collector.get(&format!("/api/traces/{:x}", 900 + 1)).await.0,
        200
    );
    assert_eq!(
        collector.get(&format!("/api/traces/{:x}", 1000)).await.0,
        200
    );
    // The counters are served over HTTP too.
    let (status, body) = collector.get("/api/collector/stats").await;
    assert_eq!(status, 200);
    assert_eq!(body["evicted_traces"], 900);
    assert_eq!(body["spans"], 1000);
}

#[tokio::test]
async fn the_byte_budget_bounds_memory_by_the_stores_accounting() {
    let max_bytes = 256 << 10;
    let collector = TestCollector::start_with(
        Collector::builder()
            .max_spans(1_000_000)
            .max_bytes(max_bytes),
    )
    .await;
    for round in 0..10 {
        ingest_traces(&collector, round * 300, 300).await;
        let stats = collector.store.stats();
        assert!(stats.bytes <= max_bytes as u64, "{stats:?}");
    }
    let stats = collector.store.stats();
    assert_eq!(stats.received_spans, 30_000);
    assert!(stats.evicted_traces > 0);
    assert_eq!(stats.spans + stats.evicted_spans, 30_000);
    assert_eq!(stats.traces + stats.evicted_traces, 3000);
    // Whatever is kept is the newest.
    assert_eq!(
        collector.get(&format!("/api/traces/{:x}", 3000)).await.0,
        200
    );
    assert_eq!(collector.get("/api/traces/1").await.0, 404);
    // Services and operations of evicted spans disappear with them; kept ones remain.
    let (_, services) = collector.get("/api/services").await;
    assert_eq!(services["data"], serde_json::json!(["load"]));
}

#[tokio::test]
async fn evicting_the_last_span_of_a_service_removes_the_service() {
    let collector = TestCollector::start_with(Collector::builder().max_spans(10)).await;
    let base = now_ns();
    let payload = request(
        "short-lived",
        vec![simple_span(1, 1, 0, "gone", base, 0, 1)],
    );
    collector
        .post("application/x-protobuf", None, payload.encode_to_vec())
        .await;
    ingest_traces(&collector, 10, 1).await;
    let (_, services) = collector.get("/api/services").await;
    assert_eq!(services["data"], serde_json::json!(["load"]));
    let (_, ops) = collector.get("/api/services/short-lived/operations").await;
    assert_eq!(ops["data"], serde_json::json!([]));
}
