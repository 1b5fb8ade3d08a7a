//! OTLP/HTTP accepts protobuf and OTLP/JSON (hex ids, lowerCamelCase, 64-bit integers as numbers
//! or strings, enums as integers, unknown fields ignored), gzip and chunked bodies, and answers
//! in the request's content type. JSON and protobuf of the same spans query back identically.

mod common;

use common::{TestCollector, kv, request, span_id, trace_id};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::trace::v1::{Span, Status, span};
use prost::Message;

const BASE: u64 = 1_700_000_000_000_000_000;

/// OTLP/JSON written by hand, exercising the spec's encoding rules.
fn json_payload() -> String {
    format!(
        r#"{{
  "resourceSpans": [{{
    "resource": {{"attributes": [{{"key": "service.name", "value": {{"stringValue": "checkout"}}}}]}},
    "scopeSpans": [{{
      "scope": {{"name": "test-scope", "version": "0.1"}},
      "spans": [
        {{
          "traceId": "5b8efff798038103d269b633813fc60c",
          "spanId": "eee19b7ec3c1b174",
          "name": "POST /checkout",
          "kind": 2,
          "startTimeUnixNano": "{start}",
          "endTimeUnixNano": {end},
          "attributes": [
            {{"key": "http.response.status_code", "value": {{"intValue": "200"}}}},
            {{"key": "items", "value": {{"intValue": 3}}}},
            {{"key": "express", "value": {{"boolValue": true}}}},
            {{"key": "total", "value": {{"doubleValue": 12.5}}}}
          ],
          "status": {{"code": 1}},
          "aFieldFromTheFuture": {{"nested": [1, 2, 3]}}
        }},
        {{
          "traceId": "5b8efff798038103d269b633813fc60c",
          "spanId": "eee19b7ec3c1b173",
          "parentSpanId": "eee19b7ec3c1b174",
          "name": "charge card",
          "kind": 3,
          "startTimeUnixNano": {child_start},
          "endTimeUnixNano": "{child_end}",
          "events": [{{"timeUnixNano": "{child_start}", "name": "retry", "attributes": [{{"key": "attempt", "value": {{"intValue": "2"}}}}]}}],
          "links": [{{"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331"}}],
          "status": {{"code": 2, "message": "card declined"}}
        }}
      ]
    }}]
  }}]
}}"#,
        start = BASE,
        end = BASE + 2_000_000,
        child_start = BASE + 100_000,
        child_end = BASE + 1_100_000,
    )
}

/// The same spans as [`json_payload`], built as protobuf messages.
fn protobuf_payload() -> Vec<u8> {
    let trace = 0x5b8efff798038103d269b633813fc60c_u128;
    let root = Span {
        trace_id: trace_id(trace),
        span_id: span_id(0xeee19b7ec3c1b174),
        name: "POST /checkout".into(),
        kind: 2,
        start_time_unix_nano: BASE,
        end_time_unix_nano: BASE + 2_000_000,
        attributes: vec![
            kv("http.response.status_code", any_value::Value::IntValue(200)),
            kv("items", any_value::Value::IntValue(3)),
            kv("express", any_value::Value::BoolValue(true)),
            kv("total", any_value::Value::DoubleValue(12.5)),
        ],
        status: Some(Status {
            message: String::new(),
            code: 1,
        }),
        ..Default::default()
    };
    let child = Span {
        trace_id: trace_id(trace),
        span_id: span_id(0xeee19b7ec3c1b173),
        parent_span_id: span_id(0xeee19b7ec3c1b174),
        name: "charge card".into(),
        kind: 3,
        start_time_unix_nano: BASE + 100_000,
        end_time_unix_nano: BASE + 1_100_000,
        events: vec![span::Event {
            time_unix_nano: BASE + 100_000,
            name: "retry".into(),
            attributes: vec![kv("attempt", any_value::Value::IntValue(2))],
            dropped_attributes_count: 0,
        }],
        links: vec![span::Link {
            trace_id: trace_id(0x0af7651916cd43dd8448eb211c80319c),
            span_id: span_id(0xb7ad6b7169203331),
            ..Default::default()
        }],
        status: Some(Status {
            message: "card declined".into(),
            code: 2,
        }),
        ..Default::default()
    };
    request("checkout", vec![root, child]).encode_to_vec()
}

const TRACE_PATH: &str = "/api/traces/5b8efff798038103d269b633813fc60c";

#[tokio::test]
async fn json_and_protobuf_of_the_same_spans_query_back_identically() {
    let json_collector = TestCollector::start().await;
    let response = json_collector
        .post("application/json", None, json_payload())
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert!(body["partialSuccess"].is_null(), "{body}");

    let proto_collector = TestCollector::start().await;
    let response = proto_collector
        .post("application/x-protobuf", None, protobuf_payload())
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-protobuf");
    let body = ExportTraceServiceResponse::decode(response.bytes().await.unwrap()).unwrap();
    assert_eq!(body.partial_success, None);

    let (status, from_json) = json_collector.get(TRACE_PATH).await;
    assert_eq!(status, 200);
    let (_, from_proto) = proto_collector.get(TRACE_PATH).await;
    assert_eq!(from_json, from_proto);
    let spans = from_json["data"][0]["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[0]["startTime"], BASE / 1000);
    assert_eq!(spans[0]["duration"], 2000);
    assert_eq!(spans[1]["logs"][0]["fields"][1]["value"], 2);
}

#[tokio::test]
async fn gzip_bodies_are_accepted_for_both_encodings() {
    let collector = TestCollector::start().await;
    let response = collector
        .post(
            "application/x-protobuf",
            Some("gzip"),
            common::gzip(&protobuf_payload()),
        )
        .await;
    assert_eq!(response.status(), 200);
    let (status, body) = collector.get(TRACE_PATH).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"][0]["spans"].as_array().unwrap().len(), 2);

    let other = TestCollector::start().await;
    let response = other
        .post(
            "application/json; charset=utf-8",
            Some("gzip"),
            common::gzip(json_payload().as_bytes()),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(other.get(TRACE_PATH).await.0, 200);
}

#[tokio::test]
async fn chunked_bodies_are_accepted() {
    let collector = TestCollector::start().await;
    let payload = protobuf_payload();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        payload.chunks(7).map(|c| Ok(c.to_vec())).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let response = collector.post("application/x-protobuf", None, body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(collector.get(TRACE_PATH).await.0, 200);
}
