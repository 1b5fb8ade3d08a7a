//! Spans of one trace may arrive in any order, in several batches and from several services;
//! children that arrive before their parent, and spans that arrive late, join their trace.

mod common;

use common::{TestCollector, now_ns, request, simple_span};
use prost::Message;

#[tokio::test]
async fn out_of_order_and_late_spans_join_their_trace() {
    let collector = TestCollector::start().await;
    let base = now_ns();
    let trace = 0x4bf92f3577b34da6a3ce929d0e0e4736_u128;
    let post = |service: &'static str, spans| {
        let payload = request(service, spans).encode_to_vec();
        let collector = &collector;
        async move {
            let response = collector
                .post("application/x-protobuf", None, payload)
                .await;
            assert_eq!(response.status(), 200);
        }
    };
    // The grandchild first (backend), over gRPC-like separate batches, then the root and child.
    post(
        "backend",
        vec![simple_span(trace, 3, 2, "query", base, 300, 100)],
    )
    .await;
    // Unrelated traffic in between.
    post("other", vec![simple_span(77, 1, 0, "noise", base, 0, 10)]).await;
    post(
        "frontend",
        vec![
            simple_span(trace, 2, 1, "call backend", base, 100, 500),
            simple_span(trace, 1, 0, "GET /", base, 0, 1000),
        ],
    )
    .await;
    // A late span from a retry, long after.
    post(
        "backend",
        vec![simple_span(trace, 4, 2, "query retry", base, 700, 50)],
    )
    .await;

    let (status, body) = collector.get(&format!("/api/traces/{trace:032x}")).await;
    assert_eq!(status, 200);
    let t = &body["data"][0];
    let spans = t["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 4);
    let by_name = |name: &str| spans.iter().find(|s| s["operationName"] == name).unwrap();
    assert_eq!(
        by_name("query")["references"][0]["spanID"],
        "0000000000000002"
    );
    assert_eq!(
        by_name("query retry")["references"][0]["spanID"],
        "0000000000000002"
    );
    assert_eq!(
        by_name("call backend")["references"][0]["spanID"],
        "0000000000000001"
    );
    assert_eq!(by_name("GET /")["references"], serde_json::json!([]));
    assert_eq!(t["processes"].as_object().unwrap().len(), 2);

    // Search sees the trace through the late span's service and operation.
    let (status, body) = collector
        .get("/api/traces?service=backend&operation=query%20retry")
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["total"], 1);
    assert_eq!(body["data"][0]["spans"].as_array().unwrap().len(), 4);

    // And the dependency graph has the edge across batches.
    let (_, deps) = collector.get("/api/dependencies").await;
    assert_eq!(
        deps["data"],
        serde_json::json!([{"parent": "frontend", "child": "backend", "callCount": 2}])
    );
    assert_eq!(collector.store.stats().traces, 2);
}
