//! Jaeger thrift batches (HTTP 14268 binary, agent UDP compact 6831 and binary 6832) map field by
//! field to OTLP and read back through both query APIs, the same on all three transports.

mod common;
#[path = "common/jaeger_wire.rs"]
mod jaeger_wire;

use common::TestCollector;
use jaeger_wire::*;
use serde_json::{Value as Json, json};

/// 2023-11-14T22:13:20Z in Unix microseconds.
const BASE_US: i64 = 1_700_000_000_000_000;

/// A batch of three spans in trace `high:low`: a server root with typed tags and logs, a child
/// referencing its parent by `CHILD_OF` (no `parentSpanId`) plus a `FOLLOWS_FROM` link and the
/// debug flag, and an error span with OpenTelemetry's status tags.
fn batch(high: i64, low: i64) -> Batch {
    let mut root = span(high, low, 0x10, 0, "GET /orders", BASE_US, 1_500);
    root.tags = Some(vec![
        str_tag("span.kind", "server"),
        long_tag("http.response.status_code", 503),
        double_tag("ratio", 0.25),
        bool_tag("retry", true),
        binary_tag("raw", &[1, 2, 3]),
        bool_tag("error", true),
        str_tag("otel.scope.name", "orders-lib"),
        str_tag("otel.scope.version", "1.2"),
    ]);
    root.logs = Some(vec![
        Log {
            timestamp: BASE_US + 100,
            fields: vec![str_tag("event", "retry"), long_tag("attempt", 2)],
        },
        Log {
            timestamp: BASE_US + 200,
            fields: vec![str_tag("message", "no event field")],
        },
    ]);
    let mut child = span(high, low, 0x20, 0, "load", BASE_US + 10, 500);
    child.flags = 3;
    child.references = Some(vec![
        SpanRef {
            ref_type: SpanRefType::CHILD_OF,
            trace_id_low: low,
            trace_id_high: high,
            span_id: 0x10,
        },
        SpanRef {
            ref_type: SpanRefType::FOLLOWS_FROM,
            trace_id_low: 0x77,
            trace_id_high: 0,
            span_id: 0x5,
        },
    ]);
    child.tags = Some(vec![str_tag("span.kind", "producer")]);
    let mut failed = span(high, low, 0x30, 0x10, "charge", BASE_US + 20, 300);
    failed.tags = Some(vec![
        str_tag("span.kind", "client"),
        str_tag("otel.status_code", "ERROR"),
        str_tag("otel.status_description", "card declined"),
        bool_tag("error", true),
    ]);
    Batch {
        process: Process {
            service_name: "orders".into(),
            tags: Some(vec![str_tag("hostname", "box-1"), long_tag("pid", 42)]),
        },
        spans: vec![root, child, failed],
    }
}

fn hex(high: i64, low: i64) -> String {
    format!("{:016x}{:016x}", high as u64, low as u64)
}

/// The spans of a v3 answer keyed by span id, trace ids removed (they differ per transport).
async fn v3_spans(c: &TestCollector, trace: &str) -> (Json, Vec<Json>) {
    let (status, body) = c.get(&format!("/api/v3/traces/{trace}")).await;
    assert_eq!(status, 200, "{body}");
    let rs = body["result"]["resourceSpans"].as_array().unwrap();
    assert_eq!(rs.len(), 1, "one process, one resource: {body}");
    let mut spans = Vec::new();
    for ss in rs[0]["scopeSpans"].as_array().unwrap() {
        for span in ss["spans"].as_array().unwrap() {
            let mut span = span.clone();
            span.as_object_mut().unwrap().remove("traceId");
            for link in span["links"].as_array_mut().into_iter().flatten() {
                link.as_object_mut().unwrap().remove("traceId");
            }
            span["scope"] = ss["scope"].clone();
            spans.push(span);
        }
    }
    spans.sort_by_key(|s| s["spanId"].as_str().unwrap().to_owned());
    (rs[0]["resource"].clone(), spans)
}

#[tokio::test]
async fn a_thrift_batch_maps_field_by_field_on_every_transport() {
    let c = TestCollector::start().await;

    // HTTP, 128-bit trace id.
    let (high, low) = (
        0x1122_3344_5566_7788_u64 as i64,
        0x99aa_bbcc_ddee_ff00_u64 as i64,
    );
    let response = c
        .post_to(
            c.jaeger_http,
            "/api/traces",
            Some("application/x-thrift"),
            None,
            batch_binary(&batch(high, low)),
        )
        .await;
    assert_eq!(response.status(), 202);
    let trace = c.wait_trace(&hex(high, low), 3).await;

    // Jaeger JSON: process, typed tags, logs, references.
    let process = &trace["processes"][trace["spans"][0]["processID"].as_str().unwrap()];
    assert_eq!(process["serviceName"], "orders");
    assert!(
        process["tags"]
            .as_array()
            .unwrap()
            .contains(&json!({"key": "hostname", "type": "string", "value": "box-1"}))
    );
    let by_id = |id: &str| {
        trace["spans"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["spanID"] == id)
            .unwrap_or_else(|| panic!("no span {id} in {trace}"))
            .clone()
    };
    let root = by_id("0000000000000010");
    assert_eq!(root["traceID"], hex(high, low));
    assert_eq!(root["operationName"], "GET /orders");
    assert_eq!(root["startTime"], BASE_US);
    assert_eq!(root["duration"], 1_500);
    let tags = root["tags"].as_array().unwrap();
    for expected in [
        json!({"key": "http.response.status_code", "type": "int64", "value": 503}),
        json!({"key": "ratio", "type": "float64", "value": 0.25}),
        json!({"key": "retry", "type": "bool", "value": true}),
        json!({"key": "raw", "type": "binary", "value": "AQID"}),
        json!({"key": "span.kind", "type": "string", "value": "server"}),
        json!({"key": "error", "type": "bool", "value": true}),
        json!({"key": "otel.scope.name", "type": "string", "value": "orders-lib"}),
    ] {
        assert!(tags.contains(&expected), "{expected} missing from {tags:?}");
    }
    assert_eq!(root["logs"][0]["timestamp"], BASE_US + 100);
    assert!(
        root["logs"][0]["fields"]
            .as_array()
            .unwrap()
            .contains(&json!({"key": "event", "type": "string", "value": "retry"}))
    );
    let child = by_id("0000000000000020");
    assert_eq!(
        child["references"][0],
        json!({"refType": "CHILD_OF", "traceID": hex(high, low), "spanID": "0000000000000010"})
    );
    assert_eq!(
        child["references"][1],
        json!({"refType": "FOLLOWS_FROM", "traceID": "0000000000000077", "spanID": "0000000000000005"})
    );

    // OTLP (api_v3): kinds, status, events, links, scope, resource; mapped tags are gone.
    let (resource, spans) = v3_spans(&c, &hex(high, low)).await;
    assert_eq!(
        resource["attributes"],
        json!([
            {"key": "service.name", "value": {"stringValue": "orders"}},
            {"key": "hostname", "value": {"stringValue": "box-1"}},
            {"key": "pid", "value": {"intValue": "42"}},
        ])
    );
    let root = &spans[0];
    assert_eq!(root["kind"], 2);
    assert_eq!(root["flags"], 1);
    assert_eq!(root["scope"]["name"], "orders-lib");
    assert_eq!(root["scope"]["version"], "1.2");
    assert_eq!(root["status"], json!({"code": 2, "message": ""}));
    assert_eq!(
        root["startTimeUnixNano"],
        (BASE_US as u64 * 1000).to_string()
    );
    assert_eq!(
        root["endTimeUnixNano"],
        ((BASE_US as u64 + 1_500) * 1000).to_string()
    );
    let keys: Vec<&str> = root["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["http.response.status_code", "ratio", "retry", "raw"]);
    assert_eq!(
        root["attributes"][3]["value"],
        json!({"bytesValue": "AQID"})
    );
    assert_eq!(root["events"][0]["name"], "retry");
    assert_eq!(
        root["events"][0]["attributes"],
        json!([{"key": "attempt", "value": {"intValue": "2"}}])
    );
    assert_eq!(root["events"][1]["name"], "log");
    let child = &spans[1];
    assert_eq!(child["parentSpanId"], "0000000000000010");
    assert_eq!(child["kind"], 4);
    assert_eq!(child["links"].as_array().unwrap().len(), 1);
    assert_eq!(child["links"][0]["spanId"], "0000000000000005");
    assert_eq!(
        child["links"][0]["attributes"],
        json!([{"key": "opentracing.ref_type", "value": {"stringValue": "follows_from"}}])
    );
    assert_eq!(
        child["attributes"],
        json!([{"key": "tracer.jaeger.debug", "value": {"boolValue": true}}])
    );
    let failed = &spans[2];
    assert_eq!(failed["kind"], 3);
    assert_eq!(
        failed["status"],
        json!({"code": 2, "message": "card declined"})
    );
    assert!(
        failed
            .get("attributes")
            .is_none_or(|a| a.as_array().unwrap().is_empty()),
        "{failed}"
    );

    // The same batch over both agent UDP ports (64-bit trace ids) reads back the same.
    for (port, compact, low) in [
        (c.jaeger_compact, true, 0x6831_i64),
        (c.jaeger_binary, false, 0x6832),
    ] {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut b = batch(0, low);
        for s in &mut b.spans {
            for r in s.references.iter_mut().flatten() {
                if r.ref_type == SpanRefType::CHILD_OF {
                    r.trace_id_low = low;
                    r.trace_id_high = 0;
                }
            }
        }
        socket
            .send_to(&emit_batch(&b, compact), port)
            .await
            .unwrap();
        c.wait_trace(&hex(0, low), 3).await;
        let (other_resource, other_spans) = v3_spans(&c, &hex(0, low)).await;
        assert_eq!(other_resource, resource);
        assert_eq!(other_spans, spans, "compact={compact}");
    }

    let stats = c.ingest_stats().await;
    assert_eq!(stats["jaegerThriftHttp"]["spans"], 3);
    assert_eq!(stats["jaegerAgentCompact"]["spans"], 3);
    assert_eq!(stats["jaegerAgentBinary"]["spans"], 3);
    assert_eq!(stats["jaegerAgentBinary"]["droppedDatagrams"], 0);
    c.stop().await;
}

#[tokio::test]
async fn the_http_endpoint_takes_every_content_type_jaeger_clients_use_and_gzip() {
    let c = TestCollector::start().await;
    let cases = [
        (
            Some("application/vnd.apache.thrift.binary"),
            "/api/traces",
            1_i64,
        ),
        (
            Some("application/octet-stream"),
            "/api/traces?format=jaeger.thrift",
            2,
        ),
        (None, "/api/traces?format=jaeger.thrift", 3),
    ];
    for (content_type, path, low) in cases {
        let body = batch_binary(&batch(0, low));
        let r = c
            .post_to(c.jaeger_http, path, content_type, None, body)
            .await;
        assert_eq!(r.status(), 202, "{content_type:?} {path}");
        c.wait_trace(&hex(0, low), 3).await;
    }
    let body = common::gzip(&batch_binary(&batch(0, 4)));
    let r = c
        .post_to(
            c.jaeger_http,
            "/api/traces",
            Some("application/x-thrift"),
            Some("gzip"),
            body,
        )
        .await;
    assert_eq!(r.status(), 202);
    c.wait_trace(&hex(0, 4), 3).await;
    c.stop().await;
}
