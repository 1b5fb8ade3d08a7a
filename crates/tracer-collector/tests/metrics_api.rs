//! `/api/metrics/*`: RED metrics computed from spans loaded over OTLP/HTTP with known latencies
//! and errors, compared field by field with Jaeger's metrics API shape (the proto3 JSON of
//! jaeger-idl's `MetricFamily`, as in Jaeger UI's own fixtures: `name`, `type: "GAUGE"`,
//! `help`, `metrics[].labels[{name,value}]`, `metrics[].metricPoints[{gaugeValue:
//! {doubleValue}, timestamp}]`), and bad parameters answered with Jaeger's 400 envelope.

mod common;

use common::{TestCollector, request, simple_span};
use opentelemetry_proto::tonic::trace::v1::{Span, Status};
use prost::Message;
use serde_json::json;

/// 2023-11-14T22:13:20Z in Unix milliseconds.
const BASE_MS: u64 = 1_700_000_000_000;
const BASE_NS: u64 = BASE_MS * 1_000_000;
/// Points at BASE, BASE+30 s and BASE+60 s, each over the minute before it.
const RANGE: &str = "endTs=1700000060000&lookback=60000&step=30000&ratePer=60000";

fn failed(mut span: Span) -> Span {
    span.status = Some(Status {
        message: "declined".into(),
        code: 2,
    });
    span
}

/// `checkout`: ten `GET /cart` server spans of 10, 20, ... 100 ms (the 90 and 100 ms ones
/// failed) and five `POST /pay` server spans of 50 ms (one failed), all starting 1 to 15 s after
/// BASE; plus a client span (not a server span: not counted by default) and a `search` span.
async fn load(collector: &TestCollector) {
    let mut spans = Vec::new();
    for i in 0..10u64 {
        let span = simple_span(
            0x100 + u128::from(i),
            1,
            0,
            "GET /cart",
            BASE_NS,
            (i + 1) * 1_000_000,
            (i + 1) * 10_000,
        );
        spans.push(if i >= 8 { failed(span) } else { span });
    }
    for i in 0..5u64 {
        let span = simple_span(
            0x200 + u128::from(i),
            1,
            0,
            "POST /pay",
            BASE_NS,
            (11 + i) * 1_000_000,
            50_000,
        );
        spans.push(if i == 0 { failed(span) } else { span });
    }
    let mut client = simple_span(0x300, 1, 0, "GET /stock", BASE_NS, 2_000_000, 999_000);
    client.kind = 3;
    spans.push(client);
    for export in [
        request("checkout", spans),
        request(
            "search",
            vec![simple_span(
                0x400, 1, 0, "GET /q", BASE_NS, 3_000_000, 7_000,
            )],
        ),
    ] {
        let response = collector
            .post("application/x-protobuf", None, export.encode_to_vec())
            .await;
        assert_eq!(response.status(), 200);
    }
}

fn point(value: f64, ts: &str) -> serde_json::Value {
    json!({"gaugeValue": {"doubleValue": value}, "timestamp": ts})
}

#[tokio::test]
async fn call_rates_per_service_count_server_spans_per_second_over_rate_per() {
    let collector = TestCollector::start().await;
    load(&collector).await;
    let (status, body) = collector
        .get(&format!("/api/metrics/calls?service=checkout&{RANGE}"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({
            "name": "service_call_rate",
            "type": "GAUGE",
            "help": "calls/sec, grouped by service",
            "metrics": [{
                "labels": [{"name": "service_name", "value": "checkout"}],
                "metricPoints": [
                    point(0.0, "2023-11-14T22:13:20Z"),
                    point(0.25, "2023-11-14T22:13:50Z"),
                    point(0.25, "2023-11-14T22:14:20Z"),
                ],
            }],
        })
    );
}

#[tokio::test]
async fn latencies_grouped_by_operation_are_exact_quantiles_in_milliseconds() {
    let collector = TestCollector::start().await;
    load(&collector).await;
    let (status, body) = collector
        .get(&format!(
            "/api/metrics/latencies?service=checkout&groupByOperation=true&quantile=0.75&{RANGE}"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "service_operation_latencies");
    assert_eq!(body["type"], "GAUGE");
    assert_eq!(
        body["help"],
        "0.75th quantile latency, grouped by service & operation"
    );
    let metrics = body["metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), 2, "{body}");
    // Series come sorted by service, then operation; the empty first window has no point.
    assert_eq!(
        metrics[0],
        json!({
            "labels": [
                {"name": "service_name", "value": "checkout"},
                {"name": "operation", "value": "GET /cart"},
            ],
            "metricPoints": [
                point(77.5, "2023-11-14T22:13:50Z"),
                point(77.5, "2023-11-14T22:14:20Z"),
            ],
        })
    );
    assert_eq!(metrics[1]["labels"][1]["value"], "POST /pay");
    assert_eq!(
        metrics[1]["metricPoints"][0]["gaugeValue"]["doubleValue"],
        50.0
    );

    let (_, p50) = collector
        .get(&format!(
            "/api/metrics/latencies?service=checkout&quantile=0.5&{RANGE}"
        ))
        .await;
    assert_eq!(p50["name"], "service_latencies");
    assert_eq!(p50["help"], "0.50th quantile latency, grouped by service");
    // 10..100 ms and five 50 ms spans: the 8th of 15 is 50 ms.
    assert_eq!(
        p50["metrics"][0]["metricPoints"][0],
        point(50.0, "2023-11-14T22:13:50Z")
    );
}

#[tokio::test]
async fn error_rates_are_the_fraction_of_failed_calls() {
    let collector = TestCollector::start().await;
    load(&collector).await;
    let (status, body) = collector
        .get(&format!(
            "/api/metrics/errors?service=checkout&service=search&groupByOperation=1&{RANGE}"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "service_operation_error_rate");
    assert_eq!(
        body["help"],
        "error rate, computed as a fraction of errors/sec over calls/sec, grouped by service & \
         operation"
    );
    let rates: Vec<(String, String, f64)> = body["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["labels"][0]["value"].as_str().unwrap().to_owned(),
                m["labels"][1]["value"].as_str().unwrap().to_owned(),
                m["metricPoints"][0]["gaugeValue"]["doubleValue"]
                    .as_f64()
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rates,
        vec![
            ("checkout".into(), "GET /cart".into(), 0.2),
            ("checkout".into(), "POST /pay".into(), 0.2),
            ("search".into(), "GET /q".into(), 0.0),
        ]
    );
}

#[tokio::test]
async fn span_kind_selects_client_spans_in_either_naming() {
    let collector = TestCollector::start().await;
    load(&collector).await;
    for kind in ["client", "SPAN_KIND_CLIENT"] {
        let (status, body) = collector
            .get(&format!(
                "/api/metrics/latencies?service=checkout&quantile=0.99&spanKind={kind}&{RANGE}"
            ))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["metrics"][0]["metricPoints"][0]["gaugeValue"]["doubleValue"], 999.0,
            "{kind}: {body}"
        );
    }
}

#[tokio::test]
async fn minstep_is_one_millisecond_in_the_envelope() {
    let collector = TestCollector::start().await;
    let (status, body) = collector.get("/api/metrics/minstep").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"data": 1, "total": 0, "limit": 0, "offset": 0, "errors": null})
    );
}

#[tokio::test]
async fn bad_metrics_parameters_get_jaegers_400_envelope() {
    let collector = TestCollector::start().await;
    for (path, needle) in [
        (
            "/api/metrics/calls",
            "please provide at least one service name",
        ),
        ("/api/metrics/latencies?service=a", "'quantile'"),
        (
            "/api/metrics/latencies?service=a&quantile=1.5",
            "outside (0, 1]",
        ),
        (
            "/api/metrics/errors?service=a&spanKind=sideways",
            "unsupported span kind: 'sideways'",
        ),
        ("/api/metrics/calls?service=a&step=soon", "'step'"),
        ("/api/metrics/calls?service=a&step=1", "at most 2000"),
    ] {
        let (status, body) = collector.get(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["data"], json!(null), "{path}");
        assert_eq!(body["errors"][0]["code"], 400, "{path}");
        let msg = body["errors"][0]["msg"].as_str().unwrap();
        assert!(msg.contains(needle), "{path}: {msg:?} lacks {needle:?}");
    }
}

#[tokio::test]
async fn with_metrics_off_every_metrics_path_answers_501_like_jaeger() {
    use tracer_collector::Collector;
    use tracer_collector::config::Config;
    let collector = TestCollector::start_with(Collector::builder().config(Config {
        metrics: false,
        ..Config::default()
    }))
    .await;
    for path in [
        "/api/metrics/latencies?service=a&quantile=0.95",
        "/api/metrics/calls?service=a",
        "/api/metrics/errors?service=a",
        "/api/metrics/minstep",
    ] {
        let (status, body) = collector.get(path).await;
        assert_eq!(status, 501, "{path}");
        assert_eq!(
            body,
            json!({"data": null, "total": 0, "limit": 0, "offset": 0, "errors": [
                {"code": 501, "msg": "metrics querying is currently disabled"}
            ]}),
            "{path}"
        );
    }
}
