//! Bad OTLP input gets a 4xx with a message that says what is wrong (or a partial success for
//! spans with invalid ids), and the collector keeps serving the next request.

mod common;

use common::{TestCollector, now_ns, request, simple_span};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use serde_json::Value;

fn good_payload(trace: u128) -> Vec<u8> {
    request("svc", vec![simple_span(trace, 1, 0, "ok", now_ns(), 0, 10)]).encode_to_vec()
}

/// After each bad request, a good one is still stored.
async fn still_serving(collector: &TestCollector, trace: u128) {
    let response = collector
        .post("application/x-protobuf", None, good_payload(trace))
        .await;
    assert_eq!(response.status(), 200);
    let (status, _) = collector.get(&format!("/api/traces/{trace:032x}")).await;
    assert_eq!(status, 200);
}

async fn json_error(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    (
        status,
        body["message"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn truncated_protobuf_is_a_400_naming_protobuf() {
    let collector = TestCollector::start().await;
    let mut payload = good_payload(7);
    payload.truncate(payload.len() - 5);
    let response = collector
        .post("application/x-protobuf", None, payload)
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["content-type"], "application/x-protobuf");
    // The body is a google.rpc.Status: field 2 is the message.
    let body = response.bytes().await.unwrap();
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("invalid protobuf payload"), "{text}");
    still_serving(&collector, 1).await;
}

#[tokio::test]
async fn invalid_json_is_a_400_with_the_parser_message() {
    let collector = TestCollector::start().await;
    let response = collector
        .post(
            "application/json",
            None,
            r#"{"resourceSpans": [{"scopeSpans": 5}]}"#,
        )
        .await;
    let (status, message) = json_error(response).await;
    assert_eq!(status, 400);
    assert!(message.starts_with("invalid JSON payload"), "{message}");
    assert!(message.contains("line 1"), "{message}");
    still_serving(&collector, 2).await;
}

#[tokio::test]
async fn unsupported_content_type_is_a_415_naming_the_type() {
    let collector = TestCollector::start().await;
    let response = collector.post("text/plain", None, "hello").await;
    let (status, message) = json_error(response).await;
    assert_eq!(status, 415);
    assert!(message.contains("text/plain"), "{message}");
    assert!(message.contains("application/x-protobuf"), "{message}");

    let response = collector.post("application/json", Some("br"), "{}").await;
    let (status, message) = json_error(response).await;
    assert_eq!(status, 415);
    assert!(message.contains("\"br\""), "{message}");
    still_serving(&collector, 3).await;
}

#[tokio::test]
async fn spans_with_invalid_ids_are_rejected_as_partial_success() {
    let collector = TestCollector::start().await;
    let now = now_ns();
    let mut short_trace = simple_span(9, 2, 0, "short trace id", now, 0, 5);
    short_trace.trace_id.truncate(4);
    let zero_span = simple_span(9, 0, 0, "zero span id", now, 0, 5);
    let mut zero_trace = simple_span(9, 3, 0, "zero trace id", now, 0, 5);
    zero_trace.trace_id = vec![0; 16];
    let mut long_span = simple_span(9, 4, 0, "long span id", now, 0, 5);
    long_span.span_id.push(1);
    let good = simple_span(9, 1, 0, "good", now, 0, 5);
    let payload = request(
        "svc",
        vec![short_trace, good, zero_span, zero_trace, long_span],
    );
    let response = collector
        .post("application/x-protobuf", None, payload.encode_to_vec())
        .await;
    assert_eq!(response.status(), 200);
    let body = ExportTraceServiceResponse::decode(response.bytes().await.unwrap()).unwrap();
    let partial = body.partial_success.expect("partial success");
    assert_eq!(partial.rejected_spans, 4);
    assert!(
        partial
            .error_message
            .contains("trace_id has 4 bytes, want 16"),
        "{}",
        partial.error_message
    );
    let stats = collector.store.stats();
    assert_eq!(stats.rejected_spans, 4);
    assert_eq!(stats.spans, 1);

    // JSON clients get the same answer in JSON; all-zero ids say so.
    let json = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[
        {"traceId":"00000000000000000000000000000000","spanId":"0000000000000001","name":"z"}]}]}]}"#;
    let response = collector.post("application/json", None, json).await;
    assert_eq!(response.status(), 200);
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["partialSuccess"]["rejectedSpans"], 1);
    let message = body["partialSuccess"]["errorMessage"].as_str().unwrap();
    assert!(message.contains("trace_id is all zeros"), "{message}");
    still_serving(&collector, 4).await;
}

#[tokio::test]
async fn a_100_mib_body_is_a_413() {
    let collector = TestCollector::start().await;
    let body = vec![0u8; 100 << 20];
    let response = collector.post("application/x-protobuf", None, body).await;
    assert_eq!(response.status(), 413);
    let text = String::from_utf8_lossy(&response.bytes().await.unwrap()).into_owned();
    assert!(
        text.contains("exceeds the body limit of 67108864 bytes"),
        "{text}"
    );
    still_serving(&collector, 5).await;
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_a_413() {
    let collector =
        TestCollector::start_with(tracer_collector::Collector::builder().body_limit(1 << 20)).await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..40).map(|_| Ok(vec![0u8; 64 << 10])).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let response = collector.post("application/x-protobuf", None, body).await;
    assert_eq!(response.status(), 413);
    still_serving(&collector, 6).await;
}

#[tokio::test]
async fn a_gzip_bomb_is_a_413_without_inflating_it_all() {
    let collector = TestCollector::start().await;
    let bomb = common::gzip(&vec![0u8; 200 << 20]);
    assert!(bomb.len() < 1 << 20);
    let response = collector.post("application/json", Some("gzip"), bomb).await;
    let (status, message) = json_error(response).await;
    assert_eq!(status, 413);
    assert!(message.contains("body limit"), "{message}");

    let response = collector
        .post("application/json", Some("gzip"), b"not gzip".to_vec())
        .await;
    let (status, message) = json_error(response).await;
    assert_eq!(status, 400);
    assert!(message.starts_with("invalid gzip payload"), "{message}");
    still_serving(&collector, 8).await;
}

#[tokio::test]
async fn over_the_ingest_budget_is_a_429_with_retry_after() {
    let collector = tracer_collector::Collector::builder()
        .ingest_budget(64 << 10)
        .build();
    let ingestor = collector.ingestor();
    let collector = TestCollector::start_with_collector(collector).await;
    // Another export holds the whole budget.
    let held = ingestor.reserve(64 << 10).unwrap();
    let response = collector
        .post("application/x-protobuf", None, good_payload(10))
        .await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    drop(held);
    still_serving(&collector, 11).await;
}
