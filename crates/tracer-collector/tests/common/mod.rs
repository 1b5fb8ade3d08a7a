//! Shared test helpers: a collector on 127.0.0.1:0, HTTP helpers and OTLP payload builders.
#![allow(dead_code)] // each test binary uses a different subset of the helpers

pub(crate) mod process;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use serde_json::Value as Json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tracer_collector::store::Store;
use tracer_collector::{Collector, CollectorBuilder, Listeners};

/// A running collector; stops when dropped.
pub(crate) struct TestCollector {
    pub(crate) grpc: SocketAddr,
    pub(crate) http: SocketAddr,
    pub(crate) query: SocketAddr,
    /// Zipkin HTTP (9411 in production).
    pub(crate) zipkin: SocketAddr,
    /// Jaeger thrift over HTTP (14268).
    pub(crate) jaeger_http: SocketAddr,
    /// Jaeger agent compact UDP (6831).
    pub(crate) jaeger_compact: SocketAddr,
    /// Jaeger agent binary UDP (6832).
    pub(crate) jaeger_binary: SocketAddr,
    /// Zipkin thrift compact UDP (5775).
    pub(crate) zipkin_compact: SocketAddr,
    /// Jaeger sampling strategies (5778).
    pub(crate) sampling: SocketAddr,
    /// Jaeger gRPC (14250).
    pub(crate) jaeger_grpc: SocketAddr,
    pub(crate) store: Arc<Store>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestCollector {
    pub(crate) async fn start() -> Self {
        Self::start_with(Collector::builder()).await
    }

    pub(crate) async fn start_with(builder: CollectorBuilder) -> Self {
        Self::start_with_collector(builder.build()).await
    }

    pub(crate) async fn start_with_collector(collector: Collector) -> Self {
        let store = collector.store();
        let grpc = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let query = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (grpc_addr, http_addr, query_addr) = (
            grpc.local_addr().unwrap(),
            http.local_addr().unwrap(),
            query.local_addr().unwrap(),
        );
        let zipkin = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let jaeger_http = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let compact = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let binary = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let zipkin_compact = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let zipkin_compact_addr = zipkin_compact.local_addr().unwrap();
        let sampling = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sampling_addr = sampling.local_addr().unwrap();
        let jaeger_grpc = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let jaeger_grpc_addr = jaeger_grpc.local_addr().unwrap();
        let (zipkin_addr, jaeger_http_addr, compact_addr, binary_addr) = (
            zipkin.local_addr().unwrap(),
            jaeger_http.local_addr().unwrap(),
            compact.local_addr().unwrap(),
            binary.local_addr().unwrap(),
        );
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(collector.run(
            Listeners {
                otlp_grpc: Some(grpc),
                otlp_http: Some(http),
                query: Some(query),
                zipkin: Some(zipkin),
                jaeger_http: Some(jaeger_http),
                jaeger_udp_compact: Some(compact),
                jaeger_udp_binary: Some(binary),
                zipkin_udp_compact: Some(zipkin_compact),
                sampling: Some(sampling),
                jaeger_grpc: Some(jaeger_grpc),
            },
            async {
                let _ = stopped.await;
            },
        ));
        TestCollector {
            grpc: grpc_addr,
            http: http_addr,
            query: query_addr,
            zipkin: zipkin_addr,
            jaeger_http: jaeger_http_addr,
            jaeger_compact: compact_addr,
            jaeger_binary: binary_addr,
            zipkin_compact: zipkin_compact_addr,
            sampling: sampling_addr,
            jaeger_grpc: jaeger_grpc_addr,
            store,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub(crate) fn traces_url(&self) -> String {
        format!("http://{}/v1/traces", self.http)
    }

    pub(crate) fn query_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.query)
    }

    /// GET on the query port; returns status and parsed JSON body.
    pub(crate) async fn get(&self, path: &str) -> (u16, Json) {
        let response = reqwest::get(self.query_url(path)).await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("GET {path}: body is not JSON ({e}): {text}"));
        (status, json)
    }

    /// POSTs an OTLP/HTTP body.
    pub(crate) async fn post(
        &self,
        content_type: &str,
        encoding: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let mut request = reqwest::Client::new()
            .post(self.traces_url())
            .header("content-type", content_type);
        if let Some(encoding) = encoding {
            request = request.header("content-encoding", encoding);
        }
        request.body(body).send().await.unwrap()
    }

    /// POSTs `body` to `path` on `addr` with the given content type and encoding.
    pub(crate) async fn post_to(
        &self,
        addr: SocketAddr,
        path: &str,
        content_type: Option<&str>,
        encoding: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let mut request = reqwest::Client::new().post(format!("http://{addr}{path}"));
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        if let Some(encoding) = encoding {
            request = request.header("content-encoding", encoding);
        }
        request.body(body).send().await.unwrap()
    }

    /// Waits (up to 10 s) until the query API has trace `id` with at least `spans` spans, and
    /// returns that trace in Jaeger JSON (`data[0]`).
    pub(crate) async fn wait_trace(&self, id: &str, spans: usize) -> Json {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let (status, body) = self.get(&format!("/api/traces/{id}")).await;
            if status == 200 && body["data"][0]["spans"].as_array().map_or(0, Vec::len) >= spans {
                return body["data"][0].clone();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "trace {id} with {spans} spans did not arrive; last answer {status}: {body}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// The receivers' counters (`GET /api/collector/ingest-stats`).
    pub(crate) async fn ingest_stats(&self) -> Json {
        let (status, body) = self.get("/api/collector/ingest-stats").await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Stops the collector and waits for it.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

impl Drop for TestCollector {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub(crate) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

pub(crate) fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        key_strindex: 0,
    }
}

pub(crate) fn s(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.to_owned()))
}

pub(crate) fn i(key: &str, value: i64) -> KeyValue {
    kv(key, any_value::Value::IntValue(value))
}

pub(crate) fn trace_id(n: u128) -> Vec<u8> {
    n.to_be_bytes().to_vec()
}

pub(crate) fn span_id(n: u64) -> Vec<u8> {
    n.to_be_bytes().to_vec()
}

/// A simple span with the given ids (parent 0 = root), start offset and duration in microseconds.
pub(crate) fn simple_span(
    trace: u128,
    id: u64,
    parent: u64,
    name: &str,
    base_ns: u64,
    offset_us: u64,
    dur_us: u64,
) -> Span {
    Span {
        trace_id: trace_id(trace),
        span_id: span_id(id),
        parent_span_id: if parent == 0 { vec![] } else { span_id(parent) },
        name: name.to_owned(),
        kind: 2,
        start_time_unix_nano: base_ns + offset_us * 1000,
        end_time_unix_nano: base_ns + (offset_us + dur_us) * 1000,
        ..Default::default()
    }
}

/// One request with one resource (service) and one scope.
pub(crate) fn request(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![s("service.name", service)],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "test-scope".into(),
                    version: "0.1".into(),
                    ..Default::default()
                }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// A span with every field set: attributes of each type, events, a link, status, trace state.
pub(crate) fn rich_span(trace: u128, id: u64, parent: u64, base_ns: u64) -> Span {
    Span {
        trace_id: trace_id(trace),
        span_id: span_id(id),
        parent_span_id: if parent == 0 { vec![] } else { span_id(parent) },
        trace_state: "vendor=abc".into(),
        flags: 1,
        name: "GET /orders/{id}".into(),
        kind: 3,
        start_time_unix_nano: base_ns,
        end_time_unix_nano: base_ns + 1_500_000,
        attributes: vec![
            s("http.request.method", "GET"),
            i("http.response.status_code", 503),
            kv("big.int", any_value::Value::IntValue(9_007_199_254_740_993)),
            kv("ratio", any_value::Value::DoubleValue(0.25)),
            kv("retry", any_value::Value::BoolValue(true)),
            kv("raw", any_value::Value::BytesValue(vec![1, 2, 3])),
        ],
        events: vec![span::Event {
            time_unix_nano: base_ns + 500_000,
            name: "exception".into(),
            attributes: vec![s("exception.message", "upstream unavailable")],
            dropped_attributes_count: 0,
        }],
        links: vec![span::Link {
            trace_id: trace_id(0xfeed),
            span_id: span_id(0xbeef),
            ..Default::default()
        }],
        status: Some(Status {
            message: "upstream unavailable".into(),
            code: 2,
        }),
        ..Default::default()
    }
}

/// Gzip-compresses bytes.
pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// Where scripts/test installs the peer clients: `${TRACER_PEERS_DIR:-$HOME/.cache/tracer-peers}`.
pub(crate) fn peers_dir() -> std::path::PathBuf {
    match std::env::var_os("TRACER_PEERS_DIR") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::path::PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
            .join(".cache/tracer-peers"),
    }
}

/// The peers venv's Python; fails saying how to install it when it is not there.
pub(crate) fn peers_python() -> std::path::PathBuf {
    let python = peers_dir().join("venv/bin/python");
    assert!(
        python.exists(),
        "no Python peer venv at {}: run scripts/test, or `python3 -m venv $P/venv && $P/venv/bin/pip \
         install -r crates/tracer-collector/tests/peers/requirements.txt` with \
         P=${{TRACER_PEERS_DIR:-$HOME/.cache/tracer-peers}}",
        python.display()
    );
    python
}
