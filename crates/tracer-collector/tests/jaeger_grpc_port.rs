//! The Jaeger gRPC port (14250), driven by a tonic client generated from Jaeger's protos
//! (`tracer_collector::ingest::jaeger_grpc::api_v2`): `PostSpans` maps the protobuf model field
//! by field (read back through both query APIs, the same as the thrift path reads), bad calls get
//! `INVALID_ARGUMENT`/`RESOURCE_EXHAUSTED` with a message and leave the port serving, and
//! `SamplingManager` answers what the strategies say.

mod common;

use common::TestCollector;
use prost_types::{Duration, Timestamp};
use serde_json::{Value as Json, json};
use tonic::Code;
use tracer_collector::Collector;
use tracer_collector::ingest::jaeger_grpc::api_v2::{
    self, Batch, KeyValue, Log, PostSpansRequest, Process, SamplingStrategyParameters, Span,
    SpanRef, SpanRefType, ValueType, collector_service_client::CollectorServiceClient,
    sampling_manager_client::SamplingManagerClient,
};
use tracer_collector::ingest::strategies::SamplingStrategies;

/// 2023-11-14T22:13:20Z in Unix seconds.
const BASE_S: i64 = 1_700_000_000;

fn tag(key: &str, v_type: ValueType) -> KeyValue {
    KeyValue {
        key: key.into(),
        v_type: v_type as i32,
        ..Default::default()
    }
}

fn str_tag(key: &str, v: &str) -> KeyValue {
    KeyValue {
        v_str: v.into(),
        ..tag(key, ValueType::String)
    }
}

fn ts(micros: i64, extra_nanos: i32) -> Timestamp {
    Timestamp {
        seconds: BASE_S + micros / 1_000_000,
        nanos: (micros % 1_000_000) as i32 * 1000 + extra_nanos,
    }
}

fn span(trace: &[u8], id: u64, name: &str, start_us: i64, duration_us: i64) -> Span {
    Span {
        trace_id: trace.to_vec(),
        span_id: id.to_be_bytes().to_vec(),
        operation_name: name.into(),
        flags: 1,
        start_time: Some(ts(start_us, 0)),
        duration: Some(Duration {
            seconds: 0,
            nanos: duration_us as i32 * 1000,
        }),
        ..Default::default()
    }
}

fn child_of(trace: &[u8], id: u64) -> SpanRef {
    SpanRef {
        trace_id: trace.to_vec(),
        span_id: id.to_be_bytes().to_vec(),
        ref_type: SpanRefType::ChildOf as i32,
    }
}

/// The batch of `tests/jaeger_thrift_ingest.rs` in the protobuf model: a server root with typed
/// tags (binary too) and logs, a child with `CHILD_OF` and a `FOLLOWS_FROM` into another trace
/// and the debug flag, and an error span with OpenTelemetry's status tags.
fn batch(trace: &[u8]) -> Batch {
    let mut root = span(trace, 0x10, "GET /orders", 0, 1_500);
    root.tags = vec![
        str_tag("span.kind", "server"),
        KeyValue {
            v_int64: 503,
            ..tag("http.response.status_code", ValueType::Int64)
        },
        KeyValue {
            v_float64: 0.25,
            ..tag("ratio", ValueType::Float64)
        },
        KeyValue {
            v_bool: true,
            ..tag("retry", ValueType::Bool)
        },
        KeyValue {
            v_binary: vec![1, 2, 3],
            ..tag("raw", ValueType::Binary)
        },
        KeyValue {
            v_bool: true,
            ..tag("error", ValueType::Bool)
        },
        str_tag("otel.scope.name", "orders-lib"),
        str_tag("otel.scope.version", "1.2"),
    ];
    root.logs = vec![
        Log {
            timestamp: Some(ts(100, 0)),
            fields: vec![
                str_tag("event", "retry"),
                KeyValue {
                    v_int64: 2,
                    ..tag("attempt", ValueType::Int64)
                },
            ],
        },
        Log {
            timestamp: Some(ts(200, 0)),
            fields: vec![str_tag("message", "no event field")],
        },
    ];
    let mut child = span(trace, 0x20, "load", 10, 500);
    child.flags = 3;
    child.references = vec![
        child_of(trace, 0x10),
        SpanRef {
            trace_id: 0x77_u64.to_be_bytes().to_vec(),
            span_id: 5_u64.to_be_bytes().to_vec(),
            ref_type: SpanRefType::FollowsFrom as i32,
        },
    ];
    child.tags = vec![str_tag("span.kind", "producer")];
    let mut failed = span(trace, 0x30, "charge", 20, 300);
    failed.references = vec![child_of(trace, 0x10)];
    failed.tags = vec![
        str_tag("span.kind", "client"),
        str_tag("otel.status_code", "ERROR"),
        str_tag("otel.status_description", "card declined"),
        KeyValue {
            v_bool: true,
            ..tag("error", ValueType::Bool)
        },
    ];
    Batch {
        spans: vec![root, child, failed],
        process: Some(Process {
            service_name: "orders".into(),
            tags: vec![
                str_tag("hostname", "box-1"),
                KeyValue {
                    v_int64: 42,
                    ..tag("pid", ValueType::Int64)
                },
            ],
        }),
    }
}

async fn client(c: &TestCollector) -> CollectorServiceClient<tonic::transport::Channel> {
    CollectorServiceClient::connect(format!("http://{}", c.jaeger_grpc))
        .await
        .expect("the Jaeger gRPC port accepts connections")
}

async fn post(c: &TestCollector, batch: Batch) -> Result<(), tonic::Status> {
    client(c)
        .await
        .post_spans(PostSpansRequest { batch: Some(batch) })
        .await
        .map(|_| ())
}

/// The spans of a v3 answer sorted by span id, with the resource.
async fn v3_spans(c: &TestCollector, trace: &str) -> (Json, Vec<Json>) {
    let (status, body) = c.get(&format!("/api/v3/traces/{trace}")).await;
    assert_eq!(status, 200, "{body}");
    let rs = body["result"]["resourceSpans"].as_array().unwrap();
    let mut spans = Vec::new();
    for ss in rs[0]["scopeSpans"].as_array().unwrap() {
        for span in ss["spans"].as_array().unwrap() {
            let mut span = span.clone();
            span["scope"] = ss["scope"].clone();
            spans.push(span);
        }
    }
    spans.sort_by_key(|s| s["spanId"].as_str().unwrap().to_owned());
    (rs[0]["resource"].clone(), spans)
}

#[tokio::test(flavor = "multi_thread")]
async fn post_spans_maps_the_protobuf_model_field_by_field() {
    let c = TestCollector::start().await;
    let trace: Vec<u8> = (0x11..=0x20).collect();
    let trace_hex = "1112131415161718191a1b1c1d1e1f20";
    let mut b = batch(&trace);
    // Nanoseconds the thrift model cannot carry.
    b.spans[0].start_time.as_mut().unwrap().nanos += 7;
    b.spans[0].duration.as_mut().unwrap().nanos += 5;
    b.spans[0].logs[0].timestamp.as_mut().unwrap().nanos += 3;
    post(&c, b).await.expect("PostSpans succeeds");
    let t = c.wait_trace(trace_hex, 3).await;

    // Jaeger JSON: process, typed tags (binary too), logs, references.
    let process = &t["processes"][t["spans"][0]["processID"].as_str().unwrap()];
    assert_eq!(process["serviceName"], "orders");
    assert_eq!(
        process["tags"],
        json!([
            {"key": "hostname", "type": "string", "value": "box-1"},
            {"key": "pid", "type": "int64", "value": 42},
        ])
    );
    let by_id = |id: &str| {
        t["spans"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["spanID"] == id)
            .unwrap_or_else(|| panic!("no span {id} in {t}"))
            .clone()
    };
    let root = by_id("0000000000000010");
    assert_eq!(root["traceID"], trace_hex);
    assert_eq!(root["operationName"], "GET /orders");
    assert_eq!(root["startTime"], BASE_S * 1_000_000);
    assert_eq!(root["duration"], 1_500);
    let tags = root["tags"].as_array().unwrap();
    for expected in [
        json!({"key": "http.response.status_code", "type": "int64", "value": 503}),
        json!({"key": "ratio", "type": "float64", "value": 0.25}),
        json!({"key": "retry", "type": "bool", "value": true}),
        json!({"key": "raw", "type": "binary", "value": "AQID"}),
        json!({"key": "span.kind", "type": "string", "value": "server"}),
        json!({"key": "error", "type": "bool", "value": true}),
    ] {
        assert!(tags.contains(&expected), "{expected} missing from {tags:?}");
    }
    assert_eq!(root["logs"][0]["timestamp"], BASE_S * 1_000_000 + 100);
    assert!(
        root["logs"][0]["fields"]
            .as_array()
            .unwrap()
            .contains(&json!({"key": "event", "type": "string", "value": "retry"}))
    );
    let child = by_id("0000000000000020");
    assert_eq!(
        child["references"][0],
        json!({"refType": "CHILD_OF", "traceID": trace_hex, "spanID": "0000000000000010"})
    );
    assert_eq!(
        child["references"][1],
        json!({"refType": "FOLLOWS_FROM", "traceID": "0000000000000077", "spanID": "0000000000000005"})
    );
    assert_eq!(
        by_id("0000000000000030")["references"][0]["spanID"],
        "0000000000000010"
    );

    // OTLP (api_v3): kinds, status, scope, events, links, nanoseconds.
    let (resource, spans) = v3_spans(&c, trace_hex).await;
    assert_eq!(
        resource["attributes"],
        json!([
            {"key": "service.name", "value": {"stringValue": "orders"}},
            {"key": "hostname", "value": {"stringValue": "box-1"}},
            {"key": "pid", "value": {"intValue": "42"}},
        ])
    );
    let base_ns = BASE_S as u64 * 1_000_000_000;
    let root = &spans[0];
    assert_eq!(root["kind"], 2);
    assert_eq!(root["flags"], 1);
    assert_eq!(root["scope"]["name"], "orders-lib");
    assert_eq!(root["scope"]["version"], "1.2");
    assert_eq!(root["status"], json!({"code": 2, "message": ""}));
    assert_eq!(root["startTimeUnixNano"], (base_ns + 7).to_string());
    assert_eq!(
        root["endTimeUnixNano"],
        (base_ns + 7 + 1_500_000 + 5).to_string()
    );
    assert_eq!(
        root["attributes"][3],
        json!({"key": "raw", "value": {"bytesValue": "AQID"}})
    );
    assert_eq!(root["events"][0]["name"], "retry");
    assert_eq!(
        root["events"][0]["timeUnixNano"],
        (base_ns + 100_000 + 3).to_string()
    );
    assert_eq!(
        root["events"][0]["attributes"],
        json!([{"key": "attempt", "value": {"intValue": "2"}}])
    );
    assert_eq!(root["events"][1]["name"], "log");
    let child = &spans[1];
    assert_eq!(child["parentSpanId"], "0000000000000010");
    assert_eq!(child["kind"], 4);
    assert_eq!(
        child["links"],
        json!([{
            "traceId": "00000000000000000000000000000077",
            "spanId": "0000000000000005",
            "attributes": [{"key": "opentracing.ref_type", "value": {"stringValue": "follows_from"}}],
            "droppedAttributesCount": 0,
            "flags": 0,
            "traceState": "",
        }])
    );
    assert_eq!(
        child["attributes"],
        json!([{"key": "tracer.jaeger.debug", "value": {"boolValue": true}}])
    );
    let failed = &spans[2];
    assert_eq!(failed["parentSpanId"], "0000000000000010");
    assert_eq!(failed["kind"], 3);
    assert_eq!(
        failed["status"],
        json!({"code": 2, "message": "card declined"})
    );
    assert_eq!(c.ingest_stats().await["jaegerGrpc"]["spans"], 3);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_64_bit_trace_id_and_a_span_s_own_process_are_kept() {
    let c = TestCollector::start().await;
    let trace = 0xabc_u64.to_be_bytes();
    let mut b = batch(&trace);
    b.spans[2].process = Some(Process {
        service_name: "payments".into(),
        tags: vec![],
    });
    post(&c, b).await.expect("PostSpans succeeds");
    let t = c.wait_trace("0000000000000abc", 3).await;
    let services: std::collections::BTreeMap<String, String> = t["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let process = s["processID"].as_str().unwrap();
            (
                s["spanID"].as_str().unwrap().to_owned(),
                t["processes"][process]["serviceName"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(
        services.into_iter().collect::<Vec<_>>(),
        [
            ("0000000000000010".to_owned(), "orders".to_owned()),
            ("0000000000000020".to_owned(), "orders".to_owned()),
            ("0000000000000030".to_owned(), "payments".to_owned()),
        ]
    );
    assert!(
        t["spans"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["traceID"] == "0000000000000abc"),
        "{t}"
    );
    let (status, v3) = c.get("/api/v3/traces/0000000000000abc").await;
    assert_eq!(status, 200, "{v3}");
    assert_eq!(
        v3["result"]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"],
        "00000000000000000000000000000abc"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_calls_are_refused_with_a_message_and_the_port_keeps_serving() {
    let c = Collector::builder().body_limit(64 << 10).build();
    let c = TestCollector::start_with_collector(c).await;
    let mut wrong_id = batch(&[7; 16]);
    wrong_id.spans[1].span_id = vec![1, 2, 3];
    let err = post(&c, wrong_id).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(
        err.message()
            .contains("span 1: a span id of 3 bytes; a span id is 8 bytes"),
        "{err:?}"
    );
    let mut wrong_ref = batch(&[7; 16]);
    wrong_ref.spans[2].references[0].trace_id = vec![1; 9];
    let err = post(&c, wrong_ref).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(
        err.message().contains("reference: a trace id of 9 bytes"),
        "{err:?}"
    );

    // Not a PostSpansRequest: field 1 claims more bytes than the message has.
    let raw = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let mut frame = vec![0u8, 0, 0, 0, 3];
    frame.extend_from_slice(&[0x0a, 0x7f, 0x00]);
    let r = raw
        .post(format!(
            "http://{}{}",
            c.jaeger_grpc,
            tracer_collector::ingest::jaeger_grpc::POST_SPANS_PATH
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(frame)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["grpc-status"], "3", "{:?}", r.headers());
    let message = r.headers()["grpc-message"].to_str().unwrap().to_owned();
    assert!(message.contains("Jaeger%20protobuf"), "{message}");

    // Over the body limit.
    let mut big = batch(&[8; 16]);
    big.spans[0].operation_name = "x".repeat(70 << 10);
    let err = post(&c, big).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert!(err.message().contains("too large"), "{err:?}");

    // HTTP/1 and a non-gRPC content type get an HTTP error saying what to send.
    let url = format!(
        "http://{}{}",
        c.jaeger_grpc,
        tracer_collector::ingest::jaeger_grpc::POST_SPANS_PATH
    );
    let r = reqwest::Client::new()
        .post(&url)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 505);
    assert!(r.text().await.unwrap().contains("14268"));
    let r = raw
        .post(&url)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);

    // A good call is still served, and the refusals were counted.
    post(&c, batch(&[9; 16]))
        .await
        .expect("a good call after bad ones");
    c.wait_trace("09090909090909090909090909090909", 3).await;
    let stats = c.ingest_stats().await;
    assert_eq!(stats["jaegerGrpc"]["spans"], 3, "{stats}");
    assert_eq!(stats["jaegerGrpc"]["rejectedBatches"], 4, "{stats}");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sampling_manager_answers_what_the_strategies_file_says() {
    let strategies = SamplingStrategies::from_json(
        br#"{"default_strategy": {"type": "probabilistic", "param": 0.25},
             "service_strategies": [
               {"service": "rated", "type": "ratelimiting", "param": 7},
               {"service": "ops", "type": "probabilistic", "param": 0.5,
                "default_lower_bound_traces_per_second": 0.1,
                "operation_strategies": [{"operation": "GET /x", "type": "probabilistic", "param": 1}]}]}"#,
    )
    .unwrap();
    let c = TestCollector::start_with(Collector::builder().sampling_strategies(strategies)).await;
    let mut client = SamplingManagerClient::connect(format!("http://{}", c.jaeger_grpc))
        .await
        .unwrap();
    // An undecodable strategy request is INVALID_ARGUMENT, and the next one is answered.
    let raw = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let r = raw
        .post(format!(
            "http://{}{}",
            c.jaeger_grpc,
            tracer_collector::ingest::jaeger_grpc::GET_SAMPLING_STRATEGY_PATH
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(vec![0u8, 0, 0, 0, 2, 0x0a, 0x05])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["grpc-status"], "3", "{:?}", r.headers());
    let message = r.headers()["grpc-message"].to_str().unwrap().to_owned();
    assert!(message.contains("SamplingStrategyParameters"), "{message}");
    let mut ask = async |service: &str| {
        client
            .get_sampling_strategy(SamplingStrategyParameters {
                service_name: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
    };
    let other = ask("anyone").await;
    assert_eq!(
        other.strategy_type,
        api_v2::SamplingStrategyType::Probabilistic as i32
    );
    assert_eq!(other.probabilistic_sampling.unwrap().sampling_rate, 0.25);
    assert_eq!(other.operation_sampling, None);
    let rated = ask("rated").await;
    assert_eq!(
        rated.strategy_type,
        api_v2::SamplingStrategyType::RateLimiting as i32
    );
    assert_eq!(
        rated.rate_limiting_sampling.unwrap().max_traces_per_second,
        7
    );
    assert_eq!(rated.probabilistic_sampling, None);
    let ops = ask("ops").await.operation_sampling.unwrap();
    assert_eq!(ops.default_sampling_probability, 0.5);
    assert_eq!(ops.default_lower_bound_traces_per_second, 0.1);
    assert_eq!(ops.per_operation_strategies.len(), 1);
    assert_eq!(ops.per_operation_strategies[0].operation, "GET /x");
    assert_eq!(
        ops.per_operation_strategies[0]
            .probabilistic_sampling
            .unwrap()
            .sampling_rate,
        1.0
    );
    // The sampling port answers the same, in JSON.
    for path in [
        "/sampling?service=ops",
        "/api/sampling?service=ops",
        "/?service=ops",
    ] {
        let body = reqwest::get(format!("http://{}{path}", c.sampling))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let body: Json = serde_json::from_str(&body).unwrap();
        assert_eq!(
            body,
            json!({
                "strategyType": "PROBABILISTIC",
                "probabilisticSampling": {"samplingRate": 0.5},
                "operationSampling": {
                    "defaultSamplingProbability": 0.5,
                    "defaultLowerBoundTracesPerSecond": 0.1,
                    "perOperationStrategies": [
                        {"operation": "GET /x", "probabilisticSampling": {"samplingRate": 1.0}}
                    ],
                },
            }),
            "{path}"
        );
    }
    let body = reqwest::get(format!("http://{}/sampling?service=rated", c.sampling))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let body: Json = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body,
        json!({"strategyType": "RATE_LIMITING", "rateLimitingSampling": {"maxTracesPerSecond": 7}})
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_port_has_the_per_listener_connection_cap_and_counts_refusals() {
    use tokio::io::AsyncReadExt;
    let config = tracer_collector::config::Config {
        max_connections: std::num::NonZeroUsize::new(2).unwrap(),
        ..Default::default()
    };
    let c = TestCollector::start_with(Collector::builder().config(config)).await;
    let idle = [
        tokio::net::TcpStream::connect(c.jaeger_grpc).await.unwrap(),
        tokio::net::TcpStream::connect(c.jaeger_grpc).await.unwrap(),
    ];
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mut extra = tokio::net::TcpStream::connect(c.jaeger_grpc).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(std::time::Duration::from_secs(2), extra.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0) | Err(_))),
        "a third connection was not closed: {read:?}"
    );
    let (_, stats) = c.get("/api/collector/stats").await;
    let port = &stats["listeners"]["jaeger-grpc"];
    assert!(port["refused"].as_u64() >= Some(1), "{stats}");
    assert_eq!(port["open"].as_u64(), Some(2), "{stats}");
    drop(idle);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    post(&c, batch(&[4; 16]))
        .await
        .expect("served once the idle ones went");
    c.stop().await;
}
