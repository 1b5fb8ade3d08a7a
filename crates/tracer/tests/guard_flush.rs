//! The guard exports every finished span on drop and on `shutdown()`, over OTLP gRPC and HTTP,
//! from a multi-thread runtime, a current_thread runtime and plain `main`, within its timeout.

mod support;

use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use opentelemetry::Context;
use opentelemetry::trace::{Span as _, SpanKind};
use tracer::{ExporterKind, Protocol, Sampler};

const SPANS: usize = 300;

fn builder(service: &str, protocol: Protocol, endpoint: String) -> tracer::TracerBuilder {
    tracer::builder()
        .without_env()
        .service_name(service)
        .sampler(Sampler::AlwaysOn)
        .exporter(ExporterKind::Otlp)
        .otlp_protocol(protocol)
        .otlp_endpoint(endpoint)
        // Long delay: nothing is exported before the guard goes, so the guard must do it.
        .schedule_delay(Duration::from_secs(3600))
        .max_queue_size(NonZeroUsize::new(4096).unwrap())
        .shutdown_timeout(Duration::from_secs(10))
}

fn make_spans(tracer: &tracer::Tracer, count: usize) {
    for i in 0..count {
        let mut span = tracer
            .span(
                format!("span-{i}"),
                SpanKind::Internal,
                vec![],
                &Context::new(),
            )
            .expect("tracing is on");
        span.end();
    }
}

fn endpoint(protocol: Protocol, receiver: &support::Receiver) -> String {
    match protocol {
        Protocol::Grpc => format!("http://{}", receiver.addr),
        _ => format!("http://{}/v1/traces", receiver.addr),
    }
}

fn receiver(protocol: Protocol) -> support::Receiver {
    match protocol {
        Protocol::Grpc => support::grpc_receiver(),
        _ => support::http_receiver(),
    }
}

fn assert_all_arrived(receiver: &support::Receiver, service: &str) {
    // Everything must already be there: the guard returned only after the export finished.
    let names = receiver.received.names();
    assert_eq!(names.len(), SPANS, "spans received by the OTLP receiver");
    for i in 0..SPANS {
        assert!(names.contains(&format!("span-{i}")), "span-{i} missing");
    }
    assert!(
        receiver
            .received
            .entries()
            .iter()
            .all(|(s, _)| s.contains(service)),
        "every span carries service.name {service}"
    );
}

async fn flush_on_drop_inside_runtime(protocol: Protocol, service: &str) {
    let receiver = receiver(protocol);
    let guard = builder(service, protocol, endpoint(protocol, &receiver))
        .build()
        .unwrap();
    make_spans(guard.tracer(), SPANS);
    let stats_before = guard.stats();
    assert_eq!(
        stats_before.exported, 0,
        "nothing exported before the guard drops"
    );
    drop(guard);
    assert_all_arrived(&receiver, service);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_spans_all_arrive_when_guard_drops_on_multi_thread_runtime() {
    flush_on_drop_inside_runtime(Protocol::Grpc, "mt-grpc").await;
}

#[tokio::test(flavor = "current_thread")]
async fn grpc_spans_all_arrive_when_guard_drops_on_current_thread_runtime() {
    flush_on_drop_inside_runtime(Protocol::Grpc, "ct-grpc").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_protobuf_spans_all_arrive_when_guard_drops_on_multi_thread_runtime() {
    flush_on_drop_inside_runtime(Protocol::HttpProtobuf, "mt-http").await;
}

#[tokio::test(flavor = "current_thread")]
async fn http_json_spans_all_arrive_when_guard_drops_on_current_thread_runtime() {
    flush_on_drop_inside_runtime(Protocol::HttpJson, "ct-json").await;
}

#[test]
fn explicit_shutdown_outside_any_runtime_exports_everything_and_reports_counts() {
    let receiver = support::grpc_receiver();
    let guard = builder("plain", Protocol::Grpc, endpoint(Protocol::Grpc, &receiver))
        .build()
        .unwrap();
    let tracer = guard.tracer().clone();
    make_spans(&tracer, SPANS);
    guard.shutdown().expect("shutdown succeeds");
    assert_all_arrived(&receiver, "plain");
    let stats = tracer.stats();
    assert_eq!(
        (stats.exported, stats.dropped, stats.failed),
        (SPANS as u64, 0, 0)
    );
}

#[test]
fn flush_exports_without_shutting_down() {
    let receiver = support::http_receiver();
    let guard = builder(
        "flush",
        Protocol::HttpProtobuf,
        endpoint(Protocol::HttpProtobuf, &receiver),
    )
    .build()
    .unwrap();
    make_spans(guard.tracer(), 10);
    guard.flush().unwrap();
    assert_eq!(receiver.received.names().len(), 10);
    make_spans(guard.tracer(), 5);
    drop(guard);
    assert_eq!(receiver.received.names().len(), 15);
}

#[test]
fn full_queue_drops_and_counts_without_blocking() {
    // A receiver that is not there: exports fail; the queue holds 8 spans.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let guard = builder("full", Protocol::Grpc, endpoint)
        .max_queue_size(NonZeroUsize::new(8).unwrap())
        .max_export_batch_size(NonZeroUsize::new(8).unwrap())
        .otlp_timeout(Duration::from_millis(200))
        .shutdown_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let started = Instant::now();
    make_spans(guard.tracer(), 1000);
    let making = started.elapsed();
    let stats = guard.stats();
    assert!(
        stats.dropped >= 1000 - 16,
        "dropped {} of 1000 with a queue of 8",
        stats.dropped
    );
    assert!(
        making < Duration::from_secs(2),
        "span creation never waits for the exporter"
    );
    let tracer = guard.tracer().clone();
    let shutdown_started = Instant::now();
    let _ = guard.shutdown();
    assert!(
        shutdown_started.elapsed() < Duration::from_secs(5),
        "shutdown is bounded"
    );
    let stats = tracer.stats();
    assert_eq!(
        stats.dropped + stats.failed + stats.exported,
        1000,
        "every span is accounted for: {stats:?}"
    );
    assert!(
        stats.failed > 0,
        "exports to a dead endpoint count as failed: {stats:?}"
    );
}

#[test]
fn shutdown_against_a_blackholed_collector_returns_within_the_timeout() {
    // Accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let guard = builder(
        "blackhole",
        Protocol::HttpProtobuf,
        format!("http://{addr}/v1/traces"),
    )
    .shutdown_timeout(Duration::from_millis(800))
    .build()
    .unwrap();
    make_spans(guard.tracer(), 10);
    let started = Instant::now();
    let result = guard.shutdown();
    let took = started.elapsed();
    assert!(
        result.is_err(),
        "a collector that never answers is reported"
    );
    assert!(
        took < Duration::from_secs(3),
        "shutdown took {took:?}, bounded by its timeout"
    );
}
