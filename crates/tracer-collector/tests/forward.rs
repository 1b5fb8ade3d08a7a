//! Forwarding to an upstream, tested as two tiers on one machine: an edge collector forwarding
//! to a central tracer-collector standing in for the cluster (both real collectors on free
//! ports), and to small upstreams that answer 429 or 400 the way OTLP receivers do.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use common::{TestCollector, now_ns, peers_python, request, simple_span};
use prost::Message;
use serde_json::Value as Json;
use tokio::net::TcpListener;
use tracer_collector::Collector;
use tracer_collector::forward::{Protocol, Upstream};

/// An upstream for `url` that sends each export at once (no batching delay).
fn upstream(url: &str, protocol: Protocol) -> Upstream {
    let mut u = Upstream::new(url, protocol).expect("a valid upstream URL");
    u.batch_delay = Duration::from_millis(1);
    u
}

/// An edge collector forwarding to `upstreams`.
async fn edge(upstreams: Vec<Upstream>) -> TestCollector {
    TestCollector::start_with(Collector::builder().forward(upstreams)).await
}

/// One trace of `spans` spans of `service`, as OTLP protobuf.
fn trace_request(trace: u128, spans: u64, service: &str) -> Vec<u8> {
    let base = now_ns() - 1_000_000_000;
    let spans = (1..=spans)
        .map(|i| simple_span(trace, i, if i == 1 { 0 } else { 1 }, "op", base, i, 10))
        .collect();
    request(service, spans).encode_to_vec()
}

async fn post_protobuf(edge: &TestCollector, body: Vec<u8>) {
    let response = edge.post("application/x-protobuf", None, body).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

/// The edge's forward counters (`forward[0]` of `/api/collector/stats`).
async fn forward_stats(edge: &TestCollector) -> Json {
    let (status, body) = edge.get("/api/collector/stats").await;
    assert_eq!(status, 200, "{body}");
    body["forward"][0].clone()
}

/// Waits until `done` holds for the edge's forward counters, or fails after `limit`.
async fn wait_stats(edge: &TestCollector, limit: Duration, done: impl Fn(&Json) -> bool) -> Json {
    let deadline = Instant::now() + limit;
    loop {
        let stats = forward_stats(edge).await;
        if done(&stats) {
            return stats;
        }
        assert!(
            Instant::now() < deadline,
            "forward counters never settled: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_trace_reaches_the_central_collector_over_grpc_and_http() {
    let central = TestCollector::start().await;
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let url = match protocol {
            Protocol::Grpc => format!("http://{}", central.grpc),
            Protocol::HttpProtobuf => format!("http://{}", central.http),
        };
        let edge = edge(vec![upstream(&url, protocol)]).await;
        let first = if protocol == Protocol::Grpc {
            0x100
        } else {
            0x200
        };
        for n in 0..20u128 {
            post_protobuf(&edge, trace_request(first + n, 3, "edge-service")).await;
        }
        // An OTLP/JSON export is forwarded too (re-encoded as protobuf).
        let json = serde_json::json!({"resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-service"}}]},
            "scopeSpans": [{"spans": [{
                "traceId": format!("{:032x}", first + 99), "spanId": "00000000000000aa", "name": "from-json",
                "startTimeUnixNano": (now_ns() - 1_000_000).to_string(), "endTimeUnixNano": now_ns().to_string(),
            }]}],
        }]});
        let response = edge.post("application/json", None, json.to_string()).await;
        assert_eq!(response.status(), 200);

        for n in 0..20u128 {
            let trace = central.wait_trace(&format!("{:032x}", first + n), 3).await;
            assert_eq!(trace["spans"].as_array().unwrap().len(), 3, "{protocol:?}");
        }
        let from_json = central.wait_trace(&format!("{:032x}", first + 99), 1).await;
        assert_eq!(from_json["spans"][0]["operationName"], "from-json");
        let stats = wait_stats(&edge, Duration::from_secs(10), |s| s["sent_spans"] == 61).await;
        assert_eq!(stats["dropped_buffer_full"], 0, "{stats}");
        assert_eq!(stats["dropped_rejected"], 0, "{stats}");
        assert_eq!(stats["buffered_spans"], 0, "{stats}");
        assert!(stats["last_success_unix_ms"].as_u64().is_some(), "{stats}");
        edge.stop().await;
    }
    central.stop().await;
}

/// What a scripted upstream saw: the time of each request.
#[derive(Default, Clone)]
struct Seen(Arc<Mutex<Vec<Instant>>>);

/// A scripted answer: status, headers, body.
type Answer = (StatusCode, Vec<(&'static str, &'static str)>, &'static str);

/// An OTLP/HTTP upstream answering the n-th request (from 0) with `answer(n)`.
async fn scripted_upstream(answer: fn(usize) -> Answer) -> (String, Seen) {
    let seen = Seen::default();
    let log = seen.clone();
    let app = Router::new().route(
        "/v1/traces",
        post(move || {
            let log = log.clone();
            async move {
                let n = {
                    let mut times = log.0.lock().unwrap();
                    times.push(Instant::now());
                    times.len() - 1
                };
                let (status, headers, body) = answer(n);
                let mut response = (status, body).into_response();
                for (k, v) in headers {
                    response.headers_mut().insert(k, v.parse().unwrap());
                }
                response
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_retried_after_the_delay_its_retry_after_asks_for() {
    let (url, seen) = scripted_upstream(|n| match n {
        0 => (
            StatusCode::TOO_MANY_REQUESTS,
            vec![("retry-after", "2")],
            "slow down",
        ),
        _ => (StatusCode::OK, vec![], ""),
    })
    .await;
    let edge = edge(vec![upstream(&url, Protocol::HttpProtobuf)]).await;
    post_protobuf(&edge, trace_request(0x300, 4, "edge-service")).await;
    let stats = wait_stats(&edge, Duration::from_secs(10), |s| s["sent_spans"] == 4).await;
    assert_eq!(stats["retries"], 1, "{stats}");
    let times = seen.0.lock().unwrap().clone();
    assert_eq!(times.len(), 2, "one refusal, one retry");
    let waited = times[1] - times[0];
    assert!(
        waited >= Duration::from_millis(1900),
        "the retry came {waited:?} after the 429, before its Retry-After of 2 s"
    );
    assert!(
        stats["last_error"].as_str().unwrap_or("").contains("429"),
        "{stats}"
    );
    edge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_400_is_dropped_with_the_upstreams_message_and_never_retried() {
    let (url, seen) = scripted_upstream(|_| {
        (
            StatusCode::BAD_REQUEST,
            vec![],
            "span 7 has an invalid trace id",
        )
    })
    .await;
    let edge = edge(vec![upstream(&url, Protocol::HttpProtobuf)]).await;
    post_protobuf(&edge, trace_request(0x400, 5, "edge-service")).await;
    let stats = wait_stats(&edge, Duration::from_secs(10), |s| {
        s["dropped_rejected"] == 5
    })
    .await;
    // Give a wrongly scheduled retry the time to happen before counting requests.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(seen.0.lock().unwrap().len(), 1, "a 400 must not be retried");
    let stats_after = forward_stats(&edge).await;
    assert_eq!(stats_after["retries"], 0, "{stats_after}");
    assert_eq!(stats_after["sent_spans"], 0, "{stats_after}");
    assert!(
        stats["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("span 7 has an invalid trace id"),
        "{stats}"
    );
    // Ingest itself was not disturbed: the edge stored the trace.
    edge.wait_trace(&format!("{:032x}", 0x400), 5).await;
    edge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buffer_smaller_than_the_outage_drops_the_oldest_and_counts_exactly() {
    // The central collector's OTLP/HTTP port, reserved and then closed: the upstream is down.
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let central_addr = reserved.local_addr().unwrap();
    drop(reserved);
    let mut up = upstream(&format!("http://{central_addr}"), Protocol::HttpProtobuf);
    let one = trace_request(0x500, 10, "edge-service").len();
    up.buffer_bytes = one * 4 + one / 2; // four exports fit, the fifth pushes the oldest out
    up.batch_bytes = one; // one export per batch
    let edge = edge(vec![up]).await;

    let exports = 30u128;
    for n in 0..exports {
        post_protobuf(&edge, trace_request(0x500 + n, 10, "edge-service")).await;
    }
    // The sender holds one batch for retrying; the buffer holds the newest four.
    let stats = wait_stats(&edge, Duration::from_secs(10), |s| {
        s["buffered_spans"] == 40 && s["dropped_buffer_full"].as_u64().unwrap_or(0) > 0
    })
    .await;
    assert!(stats["retries"].as_u64().unwrap_or(0) >= 1, "{stats}");
    assert!(
        stats["buffered_bytes"].as_u64().unwrap() as usize <= one * 4 + one / 2,
        "{stats}"
    );

    // The central collector comes up on that port: what was kept is delivered.
    let listener = TcpListener::bind(central_addr).await.unwrap();
    let central = Collector::builder().build();
    let store = central.store();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(central.run(
        tracer_collector::Listeners {
            otlp_http: Some(listener),
            ..Default::default()
        },
        async move {
            let _ = stopped.await;
        },
    ));
    let stats = wait_stats(&edge, Duration::from_secs(30), |s| {
        s["buffered_spans"] == 0
            && s["sent_spans"].as_u64().unwrap_or(0)
                + s["dropped_buffer_full"].as_u64().unwrap_or(0)
                == exports as u64 * 10
    })
    .await;
    let sent = stats["sent_spans"].as_u64().unwrap();
    let dropped = stats["dropped_buffer_full"].as_u64().unwrap();
    assert_eq!(sent, 50, "the held batch and the newest four: {stats}");
    assert_eq!(dropped, 250, "{stats}");
    // Exactly what was counted as sent arrived, and it is the newest data (plus the first
    // export, held by the sender since the outage began).
    assert_eq!(store.stats().spans, sent, "spans at the central collector");
    for n in exports - 4..exports {
        assert!(store.trace(0x500 + n).is_some(), "newest trace {n} missing");
    }
    assert!(
        store.trace(0x500 + 10).is_none(),
        "an old trace was not dropped"
    );
    let _ = stop.send(());
    task.await.unwrap().unwrap();
    edge.stop().await;
}

#[test]
fn upstream_urls_and_protocols_are_checked() {
    assert_eq!(
        Upstream::new("http://h:4318", Protocol::HttpProtobuf)
            .unwrap()
            .url,
        "http://h:4318/v1/traces"
    );
    assert_eq!(
        Upstream::new("https://h:4318/custom/traces", Protocol::HttpProtobuf)
            .unwrap()
            .url,
        "https://h:4318/custom/traces"
    );
    let err = Upstream::new("ftp://h", Protocol::Grpc).unwrap_err();
    assert!(
        err.contains("\"ftp://h\"") && err.contains("http://"),
        "{err}"
    );
    let err = "thrift".parse::<Protocol>().unwrap_err();
    assert!(err.contains("grpc or http/protobuf"), "{err}");
    let err = tracer_collector::forward::parse_header("no-equals").unwrap_err();
    assert!(err.contains("KEY=VALUE"), "{err}");
}

/// The bodies an OTLP/HTTP upstream received, kept whole.
#[derive(Default, Clone)]
struct Bodies(Arc<Mutex<Vec<bytes::Bytes>>>);

async fn capturing_upstream() -> (String, Bodies) {
    let bodies = Bodies::default();
    let keep = bodies.clone();
    let app = Router::new().route(
        "/v1/traces",
        post(move |body: bytes::Bytes| {
            let keep = keep.clone();
            async move {
                keep.0.lock().unwrap().push(body);
                StatusCode::OK
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, bodies)
}

/// What goes upstream is plain OTLP that a decoder no one here wrote reads span for span: the
/// OpenTelemetry Python protobuf classes parse each body, batched exports (concatenated) and
/// exports converted from another format (Zipkin JSON) included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_sent_upstream_decode_with_the_opentelemetry_python_protos() {
    let (url, bodies) = capturing_upstream().await;
    let mut up = upstream(&url, Protocol::HttpProtobuf);
    up.batch_delay = Duration::from_millis(400); // let several exports gather into one body
    let edge = edge(vec![up]).await;
    for n in 0..5u128 {
        post_protobuf(&edge, trace_request(0x600 + n, 2, &format!("svc-{n}"))).await;
    }
    let zipkin = serde_json::json!([{
        "traceId": format!("{:032x}", 0x6ff), "id": "00000000000000ab", "name": "from-zipkin",
        "timestamp": now_ns() / 1000 - 1000, "duration": 500,
        "localEndpoint": {"serviceName": "zipkin-svc"},
    }]);
    let response = edge
        .post_to(
            edge.zipkin,
            "/api/v2/spans",
            Some("application/json"),
            None,
            zipkin.to_string(),
        )
        .await;
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    wait_stats(&edge, Duration::from_secs(10), |s| s["sent_spans"] == 11).await;

    let bodies = bodies.0.lock().unwrap().clone();
    assert!(
        bodies.len() < 6,
        "exports were batched: {} bodies for 6 exports",
        bodies.len()
    );
    let dir = std::env::temp_dir().join(format!("tracer-forward-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let files: Vec<_> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let path = dir.join(format!("body-{i}.pb"));
            std::fs::write(&path, body).unwrap();
            path
        })
        .collect();
    let output = std::process::Command::new(peers_python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/peers/decode_otlp.py"
        ))
        .args(&files)
        .output()
        .expect("the Python peer runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        output.status.success(),
        "the Python OTLP decoder refused a body: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (mut services, mut traces, mut spans) = (Vec::new(), Vec::new(), 0);
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let decoded: Json = serde_json::from_str(line).unwrap();
        services.extend(decoded["services"].as_array().unwrap().iter().cloned());
        traces.extend(decoded["traces"].as_array().unwrap().iter().cloned());
        spans += decoded["spans"].as_u64().unwrap();
    }
    services.sort_by_key(|v| v.to_string());
    traces.sort_by_key(|v| v.to_string());
    assert_eq!(spans, 11);
    assert_eq!(
        services,
        ["svc-0", "svc-1", "svc-2", "svc-3", "svc-4", "zipkin-svc"]
            .map(Json::from)
            .to_vec()
    );
    let mut want: Vec<Json> = (0..5u128)
        .map(|n| Json::from(format!("{:032x}", 0x600 + n)))
        .chain([Json::from(format!("{:032x}", 0x6ff))])
        .collect();
    want.sort_by_key(|v| v.to_string());
    assert_eq!(traces, want);
    edge.stop().await;
}
