//! Every query is bounded: result counts have a default and a maximum (over it: a 400 naming the
//! parameter and the maximum), hostile parameter bytes get a 400 instead of a dropped
//! connection, and big traces are written to the response in chunks.

mod common;

use common::{TestCollector, now_ns, request, simple_span};
use prost::Message;

/// Stores `traces` one-span traces of service `svc`, all within the last minute.
async fn fill(collector: &TestCollector, traces: u128) {
    let base = now_ns() - 30_000_000_000;
    let spans = (1..=traces)
        .map(|t| simple_span(t, 1, 0, "op", base + t as u64 * 1000, 0, 10))
        .collect();
    tracer_collector::ingest::store_protobuf(
        &collector.store,
        &request("svc", spans).encode_to_vec(),
    )
    .unwrap();
}

fn error_text(json: &serde_json::Value) -> String {
    json.to_string()
}

#[tokio::test]
async fn v1_search_limit_zero_or_over_the_maximum_is_a_400_naming_the_bound() {
    let collector = TestCollector::start().await;
    fill(&collector, 3).await;
    for limit in ["0", "1501", "100000000"] {
        let (status, json) = collector
            .get(&format!("/api/traces?service=svc&limit={limit}"))
            .await;
        assert_eq!(status, 400, "limit={limit}: {json}");
        let text = error_text(&json);
        assert!(
            text.contains("'limit'") && text.contains("1500") && text.contains(limit),
            "limit={limit}: {text}"
        );
    }
    let (status, json) = collector.get("/api/traces?service=svc&limit=2").await;
    assert_eq!(status, 200);
    assert_eq!(json["data"].as_array().unwrap().len(), 2);
    assert_eq!(json["total"], 2);
}

#[tokio::test]
async fn v1_search_without_limit_returns_the_default_100() {
    let collector = TestCollector::start().await;
    fill(&collector, 150).await;
    let (status, json) = collector.get("/api/traces?service=svc").await;
    assert_eq!(status, 200);
    assert_eq!(json["data"].as_array().unwrap().len(), 100);
    assert_eq!(json["total"], 100);
    assert!(json["errors"].is_null());
}

#[tokio::test]
async fn v1_trace_id_lists_are_bounded() {
    let collector = TestCollector::start().await;
    let ids: Vec<String> = (1..=1501).map(|i| format!("traceID={i:x}")).collect();
    let (status, json) = collector
        .get(&format!("/api/traces?{}", ids.join("&")))
        .await;
    assert_eq!(status, 400, "{json}");
    assert!(error_text(&json).contains("1500"), "{json}");
}

#[tokio::test]
async fn v3_search_depth_defaults_to_100_and_is_bounded() {
    let collector = TestCollector::start().await;
    fill(&collector, 150).await;
    let window =
        "query.start_time_min=2000-01-01T00:00:00Z&query.start_time_max=2100-01-01T00:00:00Z";
    let (status, json) = collector
        .get(&format!(
            "/api/v3/trace-summaries?{window}&query.service_name=svc"
        ))
        .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["summaries"].as_array().unwrap().len(), 100);
    for (name, value) in [
        ("query.search_depth", "0"),
        ("query.search_depth", "1501"),
        ("query.searchDepth", "99999999999"),
        ("query.num_traces", "-1"),
    ] {
        for path in ["/api/v3/traces", "/api/v3/trace-summaries"] {
            let (status, json) = collector
                .get(&format!("{path}?{window}&{name}={value}"))
                .await;
            assert_eq!(status, 400, "{path} {name}={value}: {json}");
            let text = error_text(&json);
            assert!(
                text.contains(name) && text.contains("1500"),
                "{path}: {text}"
            );
        }
    }
    let (status, json) = collector
        .get(&format!("/api/v3/traces?{window}&query.search_depth=7"))
        .await;
    assert_eq!(status, 200, "{json}");
    let spans: usize = json["result"]["resourceSpans"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|rs| rs["scopeSpans"].as_array().unwrap())
        .map(|ss| ss["spans"].as_array().unwrap().len())
        .sum();
    assert_eq!(spans, 7);
}

#[tokio::test]
async fn a_multi_byte_character_in_a_v3_time_is_a_400_not_a_dropped_connection() {
    let collector = TestCollector::start().await;
    fill(&collector, 1).await;
    for path in ["/api/v3/traces", "/api/v3/trace-summaries"] {
        for (min, max) in [
            ("2024-01-01T00:00:00%C3%BC:000", "2024-01-01T00:00:01Z"),
            ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00%C3%BC:000"),
            (
                "2024-01-01T00:00:00.%E2%82%AC%E2%82%AC",
                "2024-01-01T00:00:01Z",
            ),
            ("2024%C3%BC01-01T00:00:00Z", "2024-01-01T00:00:01Z"),
        ] {
            let (status, json) = collector
                .get(&format!(
                    "{path}?query.start_time_min={min}&query.start_time_max={max}"
                ))
                .await;
            assert_eq!(status, 400, "{path} {min} {max}: {json}");
            assert!(error_text(&json).contains("RFC 3339"), "{path}: {json}");
        }
    }
}

/// A trace of `n` spans under one root, all of service `big`.
fn big_trace(trace: u128, n: u64) -> Vec<u8> {
    let base = now_ns() - 10_000_000_000;
    let spans = (1..=n)
        .map(|i| {
            let parent = if i == 1 { 0 } else { 1 };
            let mut span = simple_span(trace, i, parent, "step", base, i, 5);
            span.attributes = vec![common::i("step.index", i as i64)];
            span
        })
        .collect();
    request("big", spans).encode_to_vec()
}

#[tokio::test]
async fn a_big_trace_is_streamed_in_chunks_and_arrives_whole() {
    let collector = TestCollector::start().await;
    let n = 20_000u64;
    tracer_collector::ingest::store_protobuf(&collector.store, &big_trace(0xb16, n)).unwrap();
    let client = reqwest::Client::new();
    for path in [
        "/api/traces/0000000000000b16",
        "/api/v3/traces/00000000000000000000000000000b16",
    ] {
        let mut response = client.get(collector.query_url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        // Streamed: no length known up front, the body comes in several pieces.
        assert!(
            response.headers().get("content-length").is_none(),
            "{path}: {:?}",
            response.headers()
        );
        let mut body = Vec::new();
        let mut pieces = 0;
        while let Some(chunk) = response.chunk().await.unwrap() {
            pieces += 1;
            body.extend_from_slice(&chunk);
        }
        assert!(pieces > 1, "{path}: one piece of {} bytes", body.len());
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let spans = if path.starts_with("/api/v3") {
            json["result"]["resourceSpans"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|rs| rs["scopeSpans"].as_array().unwrap())
                .map(|ss| ss["spans"].as_array().unwrap().len())
                .sum::<usize>()
        } else {
            assert_eq!(json["total"], 1);
            assert_eq!(json["data"][0]["processes"]["p1"]["serviceName"], "big");
            json["data"][0]["spans"].as_array().unwrap().len()
        };
        assert_eq!(spans as u64, n, "{path}");
    }
}
