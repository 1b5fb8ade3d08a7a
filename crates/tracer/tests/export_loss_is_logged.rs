//! Loss is never silent: a failed export or a full queue writes a rate-limited warning at the
//! default level naming the number of spans, the reason and the endpoint, the warnings add up
//! to the loss counters, and a shutdown that cannot export everything says how many spans it
//! could not export (as an error from `shutdown()`, as a warning when the guard is dropped).
//!
//! The warnings are written by the export thread, so the capture is the global subscriber of
//! this test binary; each test exports to its own port and reads only the lines naming it.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry::trace::{Span as _, SpanKind};
use tracer::{ExporterKind, Protocol, Sampler, ShutdownError};

/// Everything the global subscriber wrote.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The lines logged so far that contain `needle`.
fn lines_with(needle: &str) -> Vec<String> {
    let logs = logs();
    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    text.lines()
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// Installs (once) a plain-text subscriber at the default level, WARN, writing to a buffer.
fn logs() -> &'static Logs {
    static LOGS: OnceLock<Logs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Logs::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .init();
        logs
    })
}

/// A port where nothing listens (connections are refused), reserved while the socket lives so
/// that no other test gets it.
fn closed_port() -> (SocketAddr, tokio::net::TcpSocket) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    (socket.local_addr().unwrap(), socket)
}

fn endpoint(protocol: Protocol, addr: SocketAddr) -> String {
    match protocol {
        Protocol::Grpc => format!("http://{addr}"),
        _ => format!("http://{addr}/v1/traces"),
    }
}

fn builder(protocol: Protocol, endpoint: &str) -> tracer::TracerBuilder {
    logs();
    tracer::builder()
        .without_env()
        .service_name("loss")
        .sampler(Sampler::AlwaysOn)
        .exporter(ExporterKind::Otlp)
        .otlp_protocol(protocol)
        .otlp_endpoint(endpoint)
        .otlp_timeout(Duration::from_secs(2))
        .schedule_delay(Duration::from_secs(3600))
        .max_queue_size(NonZeroUsize::new(4096).unwrap())
        .shutdown_timeout(Duration::from_secs(5))
}

fn make_spans(tracer: &tracer::Tracer, count: usize) {
    for i in 0..count {
        tracer
            .span(format!("s{i}"), SpanKind::Internal, vec![], &Context::new())
            .expect("tracing is on")
            .end();
    }
}

/// The value of `key=` in a log line (up to the next space).
fn field(line: &str, key: &str) -> Option<String> {
    let start = line.find(&format!(" {key}="))? + key.len() + 2;
    let rest = &line[start..];
    Some(rest.split(' ').next().unwrap_or_default().to_owned())
}

fn spans_of(lines: &[String]) -> u64 {
    lines
        .iter()
        .map(|l| {
            field(l, "spans")
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum()
}

#[test]
fn a_failed_export_warns_with_the_count_the_reason_and_the_endpoint() {
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let (addr, _reserved) = closed_port();
        let url = endpoint(protocol, addr);
        let guard = builder(protocol, &url).build().unwrap();
        make_spans(guard.tracer(), 10);
        let flushed = guard.flush();
        assert_eq!(
            flushed.as_ref().map_err(ShutdownError::unflushed),
            Err(10),
            "{protocol:?}: the flush says how many spans it could not export: {flushed:?}"
        );
        let lines = lines_with(&format!("endpoint={url} ("));
        assert_eq!(lines.len(), 1, "{protocol:?}: one warning: {lines:#?}");
        let line = &lines[0];
        assert!(line.contains(" WARN "), "{line}");
        assert!(line.contains("spans lost: their export failed"), "{line}");
        assert_eq!(field(line, "spans").as_deref(), Some("10"), "{line}");
        assert!(line.contains(r#"reason="export failed""#), "{line}");
        assert_eq!(field(line, "service").as_deref(), Some("loss"), "{line}");
        assert!(field(line, "error").is_some(), "the cause is named: {line}");
        assert_eq!(guard.stats().failed, 10);
        let _ = guard.shutdown();
    }
}

#[test]
fn many_failed_exports_make_one_warning_per_window_summing_them() {
    let (addr, _reserved) = closed_port();
    let url = endpoint(Protocol::HttpProtobuf, addr);
    let guard = builder(Protocol::HttpProtobuf, &url)
        .loss_warning_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    for _ in 0..6 {
        make_spans(guard.tracer(), 5);
        assert!(guard.flush().is_err());
    }
    let lines = lines_with(&format!("endpoint={url} ("));
    assert_eq!(
        lines.len(),
        1,
        "6 failed exports within one window: one warning, at the first: {lines:#?}"
    );
    assert_eq!(field(&lines[0], "spans").as_deref(), Some("5"));
    let stats = guard.stats();
    assert_eq!(stats.failed, 30);
    let _ = guard.shutdown();
    let lines = lines_with(&format!("endpoint={url} ("));
    let lost: Vec<String> = lines
        .into_iter()
        .filter(|l| l.contains("spans lost"))
        .collect();
    assert_eq!(
        lost.len(),
        2,
        "shutting down writes what the window held: {lost:#?}"
    );
    assert_eq!(spans_of(&lost), 30, "the warnings add up to the counter");
}

#[test]
fn spans_dropped_on_a_full_queue_are_warned_about_and_add_up_to_the_counter() {
    let (addr, _reserved) = closed_port();
    let url = endpoint(Protocol::HttpProtobuf, addr);
    let guard = builder(Protocol::HttpProtobuf, &url)
        .max_queue_size(NonZeroUsize::new(16).unwrap())
        .max_export_batch_size(NonZeroUsize::new(16).unwrap())
        .build()
        .unwrap();
    make_spans(guard.tracer(), 5000);
    let tracer = guard.tracer().clone();
    let result = guard.shutdown();
    let stats = tracer.stats();
    assert!(stats.dropped > 0, "a 16-span queue overflowed: {stats:?}");
    assert_eq!(
        stats.exported + stats.failed + stats.dropped,
        5000,
        "every span is accounted for: {stats:?}"
    );
    let full: Vec<String> = lines_with(&format!("endpoint={url} ("))
        .into_iter()
        .filter(|l| l.contains(r#"reason="queue full""#))
        .collect();
    assert!(!full.is_empty(), "a queue-full warning was written");
    assert!(full[0].contains("spans dropped"), "{}", full[0]);
    assert_eq!(spans_of(&full), stats.dropped, "{full:#?}");
    assert!(result.is_err(), "the collector never answered");
}

#[test]
fn shutdown_against_an_unreachable_endpoint_reports_the_unflushed_count() {
    let (addr, _reserved) = closed_port();
    let url = endpoint(Protocol::Grpc, addr);
    let guard = builder(Protocol::Grpc, &url).build().unwrap();
    make_spans(guard.tracer(), 25);
    match guard.shutdown() {
        Err(ShutdownError::Unflushed {
            spans,
            endpoint,
            reason,
        }) => {
            assert_eq!(spans, 25);
            assert!(endpoint.contains(&url), "{endpoint}");
            assert!(!reason.is_empty());
        }
        other => panic!("expected Unflushed, got {other:?}"),
    }
}

#[test]
fn shutdown_against_a_collector_that_never_answers_reports_the_unflushed_count() {
    // Accepts connections and never answers: the shutdown timeout runs out.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = endpoint(Protocol::HttpProtobuf, listener.local_addr().unwrap());
    let guard = builder(Protocol::HttpProtobuf, &url)
        .otlp_timeout(Duration::from_secs(30))
        .shutdown_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    make_spans(guard.tracer(), 7);
    let result = guard.shutdown();
    assert_eq!(
        result.as_ref().map_err(ShutdownError::unflushed),
        Err(7),
        "{result:?}"
    );
    let message = result.unwrap_err().to_string();
    assert!(message.contains("7 span(s)"), "{message}");
    drop(listener);
}

/// Batches left in an export round whose time the first batch used up are not sent, and the
/// warning says that, not "no answer within 0ns" (what it read while they were handed to the
/// exporter with no time left).
#[test]
fn batches_left_after_a_rounds_time_is_spent_are_reported_as_not_sent() {
    // Accepts connections and never answers: the first batch of the round takes all its time.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = endpoint(Protocol::HttpProtobuf, listener.local_addr().unwrap());
    let guard = builder(Protocol::HttpProtobuf, &url)
        .otlp_timeout(Duration::from_secs(30))
        .max_export_batch_size(NonZeroUsize::new(2).unwrap())
        .export_timeout(Duration::from_millis(300))
        .loss_warning_interval(Duration::from_millis(100))
        .shutdown_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    make_spans(guard.tracer(), 7);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let not_sent = "not sent: the earlier batches of this export round used up its time";
    while lines_with(&url).iter().all(|l| !l.contains(not_sent)) {
        assert!(
            std::time::Instant::now() < deadline,
            "no warning says the batches were not sent: {:#?}",
            lines_with(&url)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let lines = lines_with(&url);
    assert!(lines.iter().all(|l| !l.contains("0ns")), "{lines:#?}");
    drop(guard);
    drop(listener);
}

#[test]
fn dropping_the_guard_warns_how_many_spans_were_not_exported() {
    let (addr, _reserved) = closed_port();
    let url = endpoint(Protocol::HttpProtobuf, addr);
    let guard = builder(Protocol::HttpProtobuf, &url).build().unwrap();
    make_spans(guard.tracer(), 12);
    drop(guard);
    let lines: Vec<String> = lines_with(&url)
        .into_iter()
        .filter(|l| l.contains("tracing shut down without exporting every span"))
        .collect();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(field(&lines[0], "unflushed").as_deref(), Some("12"));
}
