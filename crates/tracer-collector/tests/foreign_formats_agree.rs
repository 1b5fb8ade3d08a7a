//! One span sent as OTLP, as Jaeger thrift and as Zipkin JSON reads back the same through
//! `/api/v3/traces/{id}`, for everything the three formats can all carry.

mod common;
#[path = "common/jaeger_wire.rs"]
mod jaeger_wire;

use common::{TestCollector, request, s};
use jaeger_wire::{Batch, Log, Process, batch_binary, bool_tag, str_tag};
use opentelemetry_proto::tonic::trace::v1::{Span, Status, span};
use prost::Message;
use serde_json::{Value as Json, json};

const BASE_US: u64 = 1_700_000_000_000_000;

fn otlp(trace: u128) -> Vec<u8> {
    let span = Span {
        trace_id: trace.to_be_bytes().to_vec(),
        span_id: 0x42u64.to_be_bytes().to_vec(),
        parent_span_id: 0x41u64.to_be_bytes().to_vec(),
        flags: 1,
        name: "charge".into(),
        kind: 3,
        start_time_unix_nano: BASE_US * 1000,
        end_time_unix_nano: (BASE_US + 2500) * 1000,
        attributes: vec![s("payment.method", "card")],
        events: vec![span::Event {
            time_unix_nano: (BASE_US + 100) * 1000,
            name: "retry".into(),
            ..Default::default()
        }],
        status: Some(Status {
            message: "card declined".into(),
            code: 2,
        }),
        ..Default::default()
    };
    request("checkout", vec![span]).encode_to_vec()
}

fn jaeger(trace: u128) -> Vec<u8> {
    let mut span = jaeger_wire::span(
        (trace >> 64) as i64,
        trace as i64,
        0x42,
        0x41,
        "charge",
        BASE_US as i64,
        2500,
    );
    span.tags = Some(vec![
        str_tag("payment.method", "card"),
        str_tag("span.kind", "client"),
        str_tag("otel.status_code", "ERROR"),
        str_tag("otel.status_description", "card declined"),
        bool_tag("error", true),
        str_tag("otel.scope.name", "test-scope"),
        str_tag("otel.scope.version", "0.1"),
    ]);
    span.logs = Some(vec![Log {
        timestamp: BASE_US as i64 + 100,
        fields: vec![str_tag("event", "retry")],
    }]);
    batch_binary(&Batch {
        process: Process {
            service_name: "checkout".into(),
            tags: None,
        },
        spans: vec![span],
    })
}

fn zipkin(trace: u128) -> String {
    json!([{
        "traceId": format!("{trace:032x}"), "id": "0000000000000042", "parentId": "0000000000000041",
        "kind": "CLIENT", "name": "charge", "timestamp": BASE_US, "duration": 2500,
        "localEndpoint": {"serviceName": "checkout"},
        "tags": {"payment.method": "card", "otel.status_code": "ERROR", "error": "card declined",
                 "otel.scope.name": "test-scope", "otel.scope.version": "0.1"},
        "annotations": [{"timestamp": BASE_US + 100, "value": "retry"}]
    }])
    .to_string()
}

async fn read(c: &TestCollector, trace: u128) -> Json {
    c.wait_trace(&format!("{trace:032x}"), 1).await;
    let (status, mut body) = c.get(&format!("/api/v3/traces/{trace:032x}")).await;
    assert_eq!(status, 200, "{body}");
    let span = &mut body["result"]["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    assert_eq!(span["traceId"], format!("{trace:032x}"));
    span.as_object_mut().unwrap().remove("traceId");
    body
}

#[tokio::test]
async fn the_same_span_as_otlp_jaeger_thrift_and_zipkin_json_reads_back_equal() {
    let c = TestCollector::start().await;
    let (t_otlp, t_jaeger, t_zipkin) = (
        0xa1_u128 << 64 | 1,
        0xa2_u128 << 64 | 2,
        0xa3_u128 << 64 | 3,
    );
    let r = c.post("application/x-protobuf", None, otlp(t_otlp)).await;
    assert_eq!(r.status(), 200);
    let r = c
        .post_to(
            c.jaeger_http,
            "/api/traces",
            Some("application/x-thrift"),
            None,
            jaeger(t_jaeger),
        )
        .await;
    assert_eq!(r.status(), 202);
    let r = c
        .post_to(
            c.zipkin,
            "/api/v2/spans",
            Some("application/json"),
            None,
            zipkin(t_zipkin),
        )
        .await;
    assert_eq!(r.status(), 202);
    let from_otlp = read(&c, t_otlp).await;
    assert_eq!(
        from_otlp["result"]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["status"],
        json!({"code": 2, "message": "card declined"})
    );
    assert_eq!(
        read(&c, t_jaeger).await,
        from_otlp,
        "Jaeger thrift differs from OTLP"
    );
    assert_eq!(
        read(&c, t_zipkin).await,
        from_otlp,
        "Zipkin JSON differs from OTLP"
    );
    c.stop().await;
}
