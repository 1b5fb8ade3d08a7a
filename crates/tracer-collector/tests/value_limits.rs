//! Values past the limits are refused span by span with a message naming the limit, and enum
//! numbers no OTLP version defines are kept as numbers instead of being read as something
//! they are not.

mod common;

use common::{TestCollector, now_ns, request, simple_span};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::trace::v1::Status;
use prost::Message;
use tracer_collector::ingest::otlp::{MAX_VALUE_DEPTH, UNKNOWN_SPAN_KIND, UNKNOWN_STATUS_CODE};

/// A value nesting `depth` arrays (alternating with maps) around an integer.
fn nested(depth: usize) -> AnyValue {
    let mut value = AnyValue {
        value: Some(any_value::Value::IntValue(7)),
    };
    for level in 0..depth {
        value = AnyValue {
            value: Some(if level % 2 == 0 {
                any_value::Value::ArrayValue(ArrayValue {
                    values: vec![value],
                })
            } else {
                any_value::Value::KvlistValue(KeyValueList {
                    values: vec![KeyValue {
                        key: "k".into(),
                        value: Some(value),
                        key_strindex: 0,
                    }],
                })
            }),
        };
    }
    value
}

fn deep_request(
    trace: u128,
    depth: usize,
) -> opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest {
    let mut span = simple_span(trace, 1, 0, "deep", now_ns(), 0, 10);
    span.attributes = vec![KeyValue {
        key: "payload".into(),
        value: Some(nested(depth)),
        key_strindex: 0,
    }];
    let mut ok = simple_span(trace + 1000, 1, 0, "shallow", now_ns(), 0, 10);
    ok.attributes = vec![];
    request("svc", vec![span, ok])
}

#[tokio::test]
async fn a_value_nested_past_the_limit_rejects_its_span_naming_the_limit() {
    let collector = TestCollector::start().await;
    for json in [false, true] {
        let base = if json { 100 } else { 200 };
        let request = deep_request(base, MAX_VALUE_DEPTH + 1);
        let response = if json {
            collector
                .post(
                    "application/json",
                    None,
                    serde_json::to_vec(&request).unwrap(),
                )
                .await
        } else {
            collector
                .post("application/x-protobuf", None, request.encode_to_vec())
                .await
        };
        assert_eq!(response.status(), 200, "json: {json}");
        let body = response.bytes().await.unwrap();
        let partial = if json {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            (
                v["partialSuccess"]["rejectedSpans"].as_i64().unwrap_or(-1),
                v["partialSuccess"]["errorMessage"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            )
        } else {
            let r = ExportTraceServiceResponse::decode(body).unwrap();
            let p = r.partial_success.unwrap();
            (p.rejected_spans, p.error_message)
        };
        assert_eq!(partial.0, 1, "json: {json}: {partial:?}");
        assert!(
            partial.1.contains("32") && partial.1.contains("payload"),
            "{partial:?}"
        );
        assert!(collector.store.trace(base).is_none());
        assert!(
            collector.store.trace(base + 1000).is_some(),
            "the other span is kept"
        );
    }
}

#[tokio::test]
async fn a_value_nested_to_the_limit_is_kept_and_read_back() {
    let collector = TestCollector::start().await;
    let response = collector
        .post(
            "application/x-protobuf",
            None,
            deep_request(300, MAX_VALUE_DEPTH).encode_to_vec(),
        )
        .await;
    assert_eq!(response.status(), 200);
    let (status, json) = collector
        .get("/api/v3/traces/0000000000000000000000000000012c")
        .await;
    assert_eq!(status, 200);
    let value =
        &json["result"]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"][0]["value"];
    assert!(value.get("kvlistValue").is_some(), "not null: {value}");
    let text = value.to_string();
    assert_eq!(
        text.matches("arrayValue").count() + text.matches("kvlistValue").count(),
        MAX_VALUE_DEPTH
    );
}

#[tokio::test]
async fn unknown_kind_and_status_numbers_are_kept_as_attributes_not_read_as_others() {
    let collector = TestCollector::start().await;
    let mut span = simple_span(0x42, 1, 0, "odd", now_ns(), 0, 10);
    span.kind = 9;
    span.status = Some(Status {
        message: String::new(),
        code: 7,
    });
    let response = collector
        .post(
            "application/x-protobuf",
            None,
            request("svc", vec![span.clone()]).encode_to_vec(),
        )
        .await;
    assert_eq!(response.status(), 200);
    let mut json_span = span;
    json_span.trace_id = common::trace_id(0x43);
    let response = collector
        .post(
            "application/json",
            None,
            serde_json::to_vec(&request("svc", vec![json_span])).unwrap(),
        )
        .await;
    assert_eq!(response.status(), 200);
    for id in ["0000000000000042", "0000000000000043"] {
        let (status, json) = collector.get(&format!("/api/traces/{id}")).await;
        assert_eq!(status, 200);
        let tags = json["data"][0]["spans"][0]["tags"].as_array().unwrap();
        let tag = |key: &str| {
            tags.iter()
                .find(|t| t["key"] == key)
                .map(|t| t["value"].clone())
        };
        assert_eq!(
            tag(UNKNOWN_SPAN_KIND),
            Some(serde_json::json!(9)),
            "{tags:?}"
        );
        assert_eq!(
            tag(UNKNOWN_STATUS_CODE),
            Some(serde_json::json!(7)),
            "{tags:?}"
        );
        assert_eq!(tag("span.kind"), None, "not read as consumer: {tags:?}");
        assert_eq!(tag("error"), None, "not read as an error: {tags:?}");
        assert_eq!(tag("otel.status_code"), None, "{tags:?}");
    }
    // Searchable like any attribute.
    let (_, json) = collector
        .get(&format!(
            "/api/traces?service=svc&tag={UNKNOWN_SPAN_KIND}:9"
        ))
        .await;
    assert_eq!(json["data"].as_array().unwrap().len(), 2);
}
