//! The query API answers in Jaeger's wire formats, checked field by field against fixtures
//! written from Jaeger's UI model (`internal/uimodel/model.go`), its query handler's envelope
//! and parameter parser, and the api_v3 HTTP gateway.

mod common;

use common::{TestCollector, i, kv, now_ns, request, s, simple_span, span_id, trace_id};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::trace::v1::{Span, Status, span};
use prost::Message;
use serde_json::{Value, json};

const BASE: u64 = 1_700_000_000_000_000_000;
const TRACE: u128 = 0x0af7651916cd43dd8448eb211c80319c;

fn fixture_request() -> ExportTraceServiceRequest {
    let mut root = simple_span(TRACE, 0x00f067aa0ba902b7, 0, "GET /orders", BASE, 0, 3000);
    root.attributes = vec![
        s("http.request.method", "GET"),
        i("http.response.status_code", 200),
    ];
    let mut call = simple_span(
        TRACE,
        2,
        0x00f067aa0ba902b7,
        "POST backend",
        BASE,
        100,
        2000,
    );
    call.kind = 3;
    let backend = Span {
        trace_id: trace_id(TRACE),
        span_id: span_id(3),
        parent_span_id: span_id(2),
        trace_state: "k=v".into(),
        name: "ProcessOrder".into(),
        kind: 2,
        start_time_unix_nano: BASE + 200_000,
        end_time_unix_nano: BASE + 1_700_000,
        attributes: vec![
            i("big", 9_007_199_254_740_993),
            i("neg", -9_007_199_254_740_993),
            i("safe", 9_007_199_254_740_991),
            kv("raw", any_value::Value::BytesValue(vec![1, 2, 3])),
            kv("ratio", any_value::Value::DoubleValue(0.25)),
            kv("flag", any_value::Value::BoolValue(true)),
        ],
        events: vec![span::Event {
            time_unix_nano: BASE + 300_000,
            name: "exception".into(),
            attributes: vec![s("exception.message", "boom")],
            dropped_attributes_count: 0,
        }],
        links: vec![span::Link {
            trace_id: trace_id(0xff),
            span_id: span_id(0xee),
            ..Default::default()
        }],
        status: Some(Status {
            message: "boom".into(),
            code: 2,
        }),
        ..Default::default()
    };
    let mut frontend = request("frontend", vec![root, call]);
    frontend.resource_spans[0]
        .resource
        .as_mut()
        .unwrap()
        .attributes
        .push(s("host.name", "web-1"));
    let backend = request("backend", vec![backend]);
    ExportTraceServiceRequest {
        resource_spans: [frontend.resource_spans, backend.resource_spans].concat(),
    }
}

fn scope_tags() -> Vec<Value> {
    vec![
        json!({"key": "otel.scope.name", "type": "string", "value": "test-scope"}),
        json!({"key": "otel.scope.version", "type": "string", "value": "0.1"}),
    ]
}

/// Jaeger's JSON for the fixture trace, written from `uimodel` and the OTLP->Jaeger translator.
fn expected_trace() -> Value {
    let t = "0af7651916cd43dd8448eb211c80319c";
    let start = BASE / 1000;
    let tags = |extra: Vec<Value>| Value::Array([scope_tags(), extra].concat());
    json!({
        "traceID": t,
        "spans": [
            {
                "traceID": t, "spanID": "00f067aa0ba902b7", "operationName": "GET /orders",
                "references": [], "startTime": start, "duration": 3000,
                "tags": tags(vec![
                    json!({"key": "http.request.method", "type": "string", "value": "GET"}),
                    json!({"key": "http.response.status_code", "type": "int64", "value": 200}),
                    json!({"key": "span.kind", "type": "string", "value": "server"}),
                ]),
                "logs": [], "processID": "p1", "warnings": null
            },
            {
                "traceID": t, "spanID": "0000000000000002", "operationName": "POST backend",
                "references": [{"refType": "CHILD_OF", "traceID": t, "spanID": "00f067aa0ba902b7"}],
                "startTime": start + 100, "duration": 2000,
                "tags": tags(vec![json!({"key": "span.kind", "type": "string", "value": "client"})]),
                "logs": [], "processID": "p1", "warnings": null
            },
            {
                "traceID": t, "spanID": "0000000000000003", "operationName": "ProcessOrder",
                "references": [
                    {"refType": "CHILD_OF", "traceID": t, "spanID": "0000000000000002"},
                    {"refType": "FOLLOWS_FROM", "traceID": "00000000000000ff", "spanID": "00000000000000ee"}
                ],
                "startTime": start + 200, "duration": 1500,
                "tags": tags(vec![
                    json!({"key": "big", "type": "int64", "value": "9007199254740993"}),
                    json!({"key": "neg", "type": "int64", "value": "-9007199254740993"}),
                    json!({"key": "safe", "type": "int64", "value": 9_007_199_254_740_991_i64}),
                    json!({"key": "raw", "type": "binary", "value": "AQID"}),
                    json!({"key": "ratio", "type": "float64", "value": 0.25}),
                    json!({"key": "flag", "type": "bool", "value": true}),
                    json!({"key": "span.kind", "type": "string", "value": "server"}),
                    json!({"key": "otel.status_code", "type": "string", "value": "ERROR"}),
                    json!({"key": "error", "type": "bool", "value": true}),
                    json!({"key": "otel.status_description", "type": "string", "value": "boom"}),
                    json!({"key": "w3c.tracestate", "type": "string", "value": "k=v"}),
                ]),
                "logs": [{"timestamp": start + 300, "fields": [
                    {"key": "event", "type": "string", "value": "exception"},
                    {"key": "exception.message", "type": "string", "value": "boom"}
                ]}],
                "processID": "p2", "warnings": null
            }
        ],
        "processes": {
            "p1": {"serviceName": "frontend", "tags": [{"key": "host.name", "type": "string", "value": "web-1"}]},
            "p2": {"serviceName": "backend", "tags": []}
        },
        "warnings": null
    })
}

async fn fixture_collector() -> TestCollector {
    let collector = TestCollector::start().await;
    let response = collector
        .post(
            "application/x-protobuf",
            None,
            fixture_request().encode_to_vec(),
        )
        .await;
    assert_eq!(response.status(), 200);
    collector
}

#[tokio::test]
async fn trace_by_id_matches_jaegers_ui_model_field_by_field() {
    let collector = fixture_collector().await;
    let (status, body) = collector
        .get("/api/traces/0af7651916cd43dd8448eb211c80319c")
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["total"], 1);
    assert_eq!(body["limit"], 0);
    assert_eq!(body["offset"], 0);
    assert_eq!(body["errors"], Value::Null);
    let got = &body["data"][0];
    let want = expected_trace();
    // Field by field first, for readable failures, then the whole.
    for (g, w) in got["spans"]
        .as_array()
        .unwrap()
        .iter()
        .zip(want["spans"].as_array().unwrap())
    {
        for key in w.as_object().unwrap().keys() {
            assert_eq!(g[key], w[key], "span {} field {key}", w["spanID"]);
        }
        assert_eq!(
            g.as_object().unwrap().len(),
            w.as_object().unwrap().len(),
            "{g}"
        );
    }
    assert_eq!(got["processes"], want["processes"]);
    assert_eq!(*got, want);
}

#[tokio::test]
async fn unknown_trace_is_jaegers_404_envelope() {
    let collector = fixture_collector().await;
    let (status, body) = collector
        .get("/api/traces/00000000000000000000000000000bad")
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({"data": null, "total": 0, "limit": 0, "offset": 0,
               "errors": [{"code": 404, "msg": "trace not found"}]})
    );
    let (status, body) = collector.get("/api/traces/not-hex").await;
    assert_eq!(status, 400);
    assert!(
        body["errors"][0]["msg"]
            .as_str()
            .unwrap()
            .contains("not-hex")
    );
}

#[tokio::test]
async fn services_operations_and_dependencies_have_jaegers_shapes() {
    let collector = fixture_collector().await;
    let (_, body) = collector.get("/api/services").await;
    assert_eq!(
        body,
        json!({"data": ["backend", "frontend"], "total": 2, "limit": 0, "offset": 0, "errors": null})
    );
    let (_, body) = collector.get("/api/services/frontend/operations").await;
    assert_eq!(body["data"], json!(["GET /orders", "POST backend"]));
    assert_eq!(body["total"], 2);
    let (_, body) = collector.get("/api/operations?service=frontend").await;
    assert_eq!(
        body["data"],
        json!([{"name": "GET /orders", "spanKind": "server"}, {"name": "POST backend", "spanKind": "client"}])
    );
    let (_, body) = collector
        .get("/api/operations?service=frontend&spanKind=client")
        .await;
    assert_eq!(
        body["data"],
        json!([{"name": "POST backend", "spanKind": "client"}])
    );
    let (status, body) = collector
        .get("/api/operations?service=frontend&spanKind=sideways")
        .await;
    assert_eq!(status, 400);
    assert!(
        body["errors"][0]["msg"]
            .as_str()
            .unwrap()
            .contains("spanKind")
    );

    let end_ms = BASE / 1_000_000 + 1000;
    let (_, body) = collector
        .get(&format!("/api/dependencies?endTs={end_ms}&lookback=60000"))
        .await;
    assert_eq!(
        body,
        json!({"data": [{"parent": "frontend", "child": "backend", "callCount": 1}],
               "total": 1, "limit": 0, "offset": 0, "errors": null})
    );
    let (_, body) = collector
        .get("/api/dependencies?endTs=1000&lookback=10")
        .await;
    assert_eq!(body["data"], json!([]));
}

#[tokio::test]
async fn search_matches_traces_where_one_span_meets_every_condition() {
    let collector = TestCollector::start().await;
    let now = now_ns();
    // Trace 1: span a has (svc, op "a", k1=v1, 2ms); span b has (svc, op "b", k2=v2, 10us).
    let mut a = simple_span(1, 1, 0, "a", now, 0, 2000);
    a.attributes.push(s("k1", "v1"));
    let mut b = simple_span(1, 2, 1, "b", now, 10, 10);
    b.attributes.push(s("k2", "v2"));
    b.status = Some(Status {
        message: "bad".into(),
        code: 2,
    });
    // Trace 2: one span with both tags, 1.5ms.
    let mut c = simple_span(2, 1, 0, "c", now, 0, 1500);
    c.attributes.extend([s("k1", "v1"), s("k2", "v2")]);
    let mut payload = request("svc", vec![a, b, c]);
    payload.resource_spans[0]
        .resource
        .as_mut()
        .unwrap()
        .attributes
        .push(s("region", "eu"));
    let response = collector
        .post("application/x-protobuf", None, payload.encode_to_vec())
        .await;
    assert_eq!(response.status(), 200);

    let ids = |body: &Value| -> Vec<String> {
        let mut ids: Vec<String> = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["traceID"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    const T1: &str = "0000000000000001";
    const T2: &str = "0000000000000002";
    let search = |q: &str| {
        let path = format!("/api/traces?service=svc&{q}");
        let collector = &collector;
        async move {
            let (status, body) = collector.get(&path).await;
            assert_eq!(status, 200, "{path}: {body}");
            body
        }
    };
    assert_eq!(ids(&search("").await), [T1, T2]);
    // Both tags on one span: only trace 2.
    assert_eq!(ids(&search("tag=k1:v1&tag=k2:v2").await), [T2]);
    assert_eq!(ids(&search(r#"tags={"k1":"v1","k2":"v2"}"#).await), [T2]);
    // Operation and tag must be on the same span.
    assert_eq!(
        ids(&search("operation=b&tag=k1:v1").await),
        Vec::<&str>::new()
    );
    assert_eq!(ids(&search("operation=b&tag=k2:v2").await), [T1]);
    // Durations as Go durations.
    assert_eq!(ids(&search("minDuration=1.6ms").await), [T1]);
    assert_eq!(
        ids(&search("minDuration=1ms&maxDuration=1.5ms").await),
        [T2]
    );
    assert_eq!(ids(&search("maxDuration=100us").await), [T1]);
    // Derived tags (error, span.kind) and process tags are searchable.
    assert_eq!(ids(&search("tag=error:true").await), [T1]);
    assert_eq!(ids(&search("tag=otel.status_description:bad").await), [T1]);
    assert_eq!(
        ids(&search("tag=span.kind:server&tag=region:eu&operation=c").await),
        [T2]
    );
    // Empty parameters count as absent; limit; lookback; explicit window.
    assert_eq!(
        ids(&search("operation=&tags=&minDuration=&limit=&start=").await).len(),
        2
    );
    assert_eq!(search("limit=1").await["data"].as_array().unwrap().len(), 1);
    assert_eq!(ids(&search("lookback=1h").await).len(), 2);
    let us = now / 1000;
    assert_eq!(
        ids(&search(&format!("start={}&end={}", us + 1_000_000, us + 2_000_000)).await).len(),
        0
    );
    assert_eq!(
        ids(&search(&format!("start={}&end={}", us - 1, us + 1)).await).len(),
        2
    );
    // Unknown service: empty result, not an error.
    let (status, body) = collector.get("/api/traces?service=nope").await;
    assert_eq!((status, body["data"].clone()), (200, json!([])));
    // traceID lookups.
    let (_, body) = collector.get("/api/traces?traceID=1&traceID=2").await;
    assert_eq!(body["total"], 2);
}

#[tokio::test]
async fn bad_search_parameters_are_400_naming_parameter_and_value() {
    let collector = TestCollector::start().await;
    for (query, needles) in [
        ("service=svc&minDuration=abc", vec!["minDuration", "abc"]),
        ("service=svc&maxDuration=5", vec!["maxDuration", "5"]),
        ("service=svc&start=yesterday", vec!["start", "yesterday"]),
        ("service=svc&end=1.5", vec!["end", "1.5"]),
        ("service=svc&limit=ten", vec!["limit", "ten"]),
        ("service=svc&lookback=forever", vec!["lookback", "forever"]),
        ("service=svc&tag=novalue", vec!["tag", "novalue"]),
        ("service=svc&tags={oops", vec!["tags", "{oops"]),
        (
            "service=svc&minDuration=2s&maxDuration=1s",
            vec!["maxDuration", "minDuration"],
        ),
        ("", vec!["service"]),
    ] {
        let (status, body) = collector.get(&format!("/api/traces?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(body["data"], Value::Null);
        assert_eq!(body["errors"][0]["code"], 400);
        let msg = body["errors"][0]["msg"].as_str().unwrap();
        for needle in needles {
            assert!(msg.contains(needle), "{query}: {msg:?} lacks {needle:?}");
        }
    }
}

#[tokio::test]
async fn api_v3_serves_otlp_json_in_jaegers_gateway_shapes() {
    let collector = fixture_collector().await;
    let (status, body) = collector.get("/api/v3/services").await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"services": ["backend", "frontend"]}));
    let (_, body) = collector
        .get("/api/v3/operations?service=backend&span_kind=server")
        .await;
    assert_eq!(
        body,
        json!({"operations": [{"name": "ProcessOrder", "spanKind": "server"}]})
    );

    let (status, body) = collector
        .get("/api/v3/traces/0af7651916cd43dd8448eb211c80319c")
        .await;
    assert_eq!(status, 200);
    let resource_spans = body["result"]["resourceSpans"].as_array().unwrap();
    assert_eq!(resource_spans.len(), 2);
    let backend = &resource_spans[1];
    assert_eq!(
        backend["resource"]["attributes"][0],
        json!({"key": "service.name", "value": {"stringValue": "backend"}})
    );
    assert_eq!(backend["scopeSpans"][0]["scope"]["name"], "test-scope");
    let span = &backend["scopeSpans"][0]["spans"][0];
    assert_eq!(span["traceId"], "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(span["spanId"], "0000000000000003");
    assert_eq!(span["parentSpanId"], "0000000000000002");
    assert_eq!(span["kind"], 2);
    assert_eq!(span["startTimeUnixNano"], (BASE + 200_000).to_string());
    assert_eq!(span["endTimeUnixNano"], (BASE + 1_700_000).to_string());
    assert_eq!(span["status"], json!({"message": "boom", "code": 2}));
    assert_eq!(
        span["attributes"][0],
        json!({"key": "big", "value": {"intValue": "9007199254740993"}})
    );
    assert_eq!(span["events"][0]["name"], "exception");
    assert_eq!(
        span["links"][0]["traceId"],
        "000000000000000000000000000000ff"
    );
    assert_eq!(span["traceState"], "k=v");

    let min = "2023-11-14T22:13:19Z";
    let max = "2023-11-14T22:13:21Z";
    let (status, body) = collector
        .get(&format!(
            "/api/v3/traces?query.service_name=backend&query.start_time_min={min}&query.start_time_max={max}&query.duration_min=1ms"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["resourceSpans"].as_array().unwrap().len(), 2);
    let (status, body) = collector
        .get(&format!(
            "/api/v3/traces?query.service_name=backend&query.start_time_min={min}&query.start_time_max={max}&query.attributes[flag]=false"
        ))
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({"error": {"httpCode": 404, "message": "No traces found"}})
    );

    let (status, body) = collector
        .get("/api/v3/traces?query.service_name=backend")
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["message"],
        "query.start_time_min and query.start_time_max are required"
    );
    let (status, body) = collector
        .get(&format!(
            "/api/v3/traces?query.start_time_min=soon&query.start_time_max={max}"
        ))
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("query.start_time_min")
    );
    let (status, _) = collector
        .get("/api/v3/traces/00000000000000000000000000000bad")
        .await;
    assert_eq!(status, 404);
}
