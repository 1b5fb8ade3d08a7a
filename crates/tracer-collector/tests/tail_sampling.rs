//! Tail-based sampling of what is forwarded, tested as two tiers: an edge collector samples by
//! trace and forwards to a central tracer-collector (both real collectors on free ports); what
//! arrives centrally is checked trace by trace, span by span.

mod common;

use std::time::{Duration, Instant};

use common::{TestCollector, now_ns, request, s, simple_span};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};
use prost::Message;
use serde_json::Value as Json;
use tracer_collector::Collector;
use tracer_collector::forward::tail::TailConfig;
use tracer_collector::forward::{Protocol, Upstream};

async fn tiers(config: &str) -> (TestCollector, TestCollector) {
    let central = TestCollector::start().await;
    let mut up =
        Upstream::new(&format!("http://{}", central.http), Protocol::HttpProtobuf).unwrap();
    up.batch_delay = Duration::from_millis(1);
    let edge = TestCollector::start_with(
        Collector::builder()
            .forward(vec![up])
            .tail_sampling(TailConfig::parse(config).expect("a valid config")),
    )
    .await;
    (edge, central)
}

/// The kinds of trace in the mix.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Error,
    Slow,
    Tagged,
    Plain,
}

/// Span `n` of trace `trace`: the root (n = 1, 20 ms or 900 ms when slow) or a child of it.
fn span(trace: u128, n: u64, kind: Kind) -> Span {
    let base = now_ns() - 2_000_000_000;
    let root_us = if kind == Kind::Slow { 900_000 } else { 20_000 };
    let mut span = if n == 1 {
        simple_span(trace, 1, 0, "root", base, 0, root_us)
    } else {
        simple_span(trace, n, 1, "child", base, 10 * n, 1_000)
    };
    if kind == Kind::Error && n == 2 {
        span.status = Some(Status {
            code: 2,
            message: "boom".into(),
        });
    }
    if kind == Kind::Tagged && n == 2 {
        span.attributes.push(s("customer.tier", "gold"));
    }
    span
}

async fn post(edge: &TestCollector, request: ExportTraceServiceRequest) {
    let response = edge
        .post("application/x-protobuf", None, request.encode_to_vec())
        .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

async fn edge_stats(edge: &TestCollector) -> Json {
    let (status, body) = edge.get("/api/collector/stats").await;
    assert_eq!(status, 200);
    body
}

/// Waits until the edge has decided every trace and sent everything kept.
async fn settle(edge: &TestCollector) -> Json {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stats = edge_stats(edge).await;
        let tail = &stats["forward_tail_sampling"];
        if tail["backlog_spans"] == 0
            && tail["pending_traces"] == 0
            && stats["forward"][0]["buffered_spans"] == 0
        {
            // One more tick for a batch that was being sent.
            tokio::time::sleep(Duration::from_millis(200)).await;
            return edge_stats(edge).await;
        }
        assert!(
            Instant::now() < deadline,
            "the sampler never settled: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_the_policys_traces_arrive_whole_with_their_late_spans() {
    let (edge, central) = tiers(
        r#"{
            "decision_wait_ms": 400,
            "policies": [
                {"name": "errors", "type": "errors"},
                {"name": "slow", "type": "latency", "threshold_ms": 500},
                {"name": "gold", "type": "attribute", "key": "customer.tier", "values": ["gold"]}
            ]
        }"#,
    )
    .await;
    let kinds = [Kind::Error, Kind::Slow, Kind::Tagged, Kind::Plain];
    let trace = |k: usize, i: u128| 0x7000 + (k as u128) * 0x100 + i;
    // Each trace's spans come in two exports from two services: root first, then children.
    let mut roots = Vec::new();
    let mut children = Vec::new();
    for (k, &kind) in kinds.iter().enumerate() {
        for i in 0..5 {
            roots.push(span(trace(k, i), 1, kind));
            children.push(span(trace(k, i), 2, kind));
            children.push(span(trace(k, i), 3, kind));
        }
    }
    post(&edge, request("frontend", roots)).await;
    post(&edge, request("backend", children)).await;
    settle(&edge).await;
    // Late spans, after every decision: one for a kept trace, one for a dropped one.
    post(
        &edge,
        request(
            "late",
            vec![
                span(trace(0, 0), 4, Kind::Error),
                span(trace(3, 0), 4, Kind::Plain),
            ],
        ),
    )
    .await;
    let stats = settle(&edge).await;

    for (k, &kind) in kinds.iter().enumerate() {
        for i in 0..5 {
            let id = trace(k, i);
            let stored = central.store.trace_span_count(id);
            match kind {
                Kind::Plain => assert_eq!(stored, None, "plain trace {id:x} was forwarded"),
                _ => {
                    let want = if k == 0 && i == 0 { 4 } else { 3 };
                    assert_eq!(stored, Some(want), "{kind:?} trace {id:x}: {stats}");
                }
            }
        }
    }
    let tail = &stats["forward_tail_sampling"];
    assert_eq!(
        tail["kept"],
        serde_json::json!({"errors": 5, "slow": 5, "gold": 5}),
        "{tail}"
    );
    assert_eq!(tail["dropped_traces"], 5, "{tail}");
    assert_eq!(tail["late_spans_kept"], 1, "{tail}");
    assert_eq!(tail["late_spans_dropped"], 1, "{tail}");
    assert_eq!(tail["dropped_backlog_spans"], 0, "{tail}");
    // The edge's own store kept everything.
    assert_eq!(edge.store.stats().spans, 62);
    edge.stop().await;
    central.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_holds_per_service() {
    let (edge, central) = tiers(
        r#"{
            "decision_wait_ms": 200,
            "policies": [{"name": "per-service", "type": "rate_limit", "traces_per_second": 5}]
        }"#,
    )
    .await;
    let started = Instant::now();
    for (service, first) in [("alpha", 0x8000u128), ("beta", 0x9000)] {
        let spans = (0..40).map(|i| span(first + i, 1, Kind::Plain)).collect();
        post(&edge, request(service, spans)).await;
    }
    let stats = settle(&edge).await;
    let elapsed = started.elapsed().as_secs_f64();
    for (service, first) in [("alpha", 0x8000u128), ("beta", 0x9000)] {
        let kept = (0..40)
            .filter(|i| central.store.trace_span_count(first + i).is_some())
            .count();
        // A bucket a second deep: 5 at once, then 5 per second while decisions go on.
        let most = 5 + (5.0 * elapsed).ceil() as usize;
        assert!(
            (5..=most).contains(&kept),
            "{service}: {kept} traces kept in {elapsed:.2} s at 5/s: {stats}"
        );
    }
    edge.stop().await;
    central.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn composite_shares_hold_within_five_percent() {
    let (edge, central) = tiers(
        r#"{
            "decision_wait_ms": 200,
            "policies": [
                {"name": "errors", "type": "errors"},
                {"name": "rest", "type": "probabilistic", "rate": 1.0}
            ],
            "composite": {"max_traces_per_second": 100, "shares": {"errors": 30, "rest": 70}}
        }"#,
    )
    .await;
    let mut spans = Vec::new();
    for i in 0..400u128 {
        let kind = if i % 2 == 0 { Kind::Error } else { Kind::Plain };
        spans.push(span(0xa000 + i, 1, kind));
        spans.push(span(0xa000 + i, 2, kind));
    }
    post(&edge, request("mixed", spans)).await;
    let stats = settle(&edge).await;
    let kept = &stats["forward_tail_sampling"]["kept"];
    let errors = kept["errors"].as_f64().unwrap_or(0.0);
    let rest = kept["rest"].as_f64().unwrap_or(0.0);
    let share = errors / (errors + rest);
    assert!(
        (share - 0.30).abs() <= 0.05,
        "errors got {:.1} % of the kept traces, not 30 % ± 5: {kept}",
        share * 100.0
    );
    // And what was kept arrived whole.
    let arrived = (0..400u128)
        .filter(|i| central.store.trace_span_count(0xa000 + i) == Some(2))
        .count();
    assert_eq!(arrived as f64, errors + rest, "{stats}");
    edge.stop().await;
    central.stop().await;
}

/// Waits until the central collector holds `want` spans of `trace`; panics naming the trace.
async fn arrives(central: &TestCollector, trace: u128, want: usize, within: Duration) {
    let deadline = Instant::now() + within;
    while central.store.trace_span_count(trace) != Some(want) {
        assert!(
            Instant::now() < deadline,
            "trace {trace:x}: {:?} of {want} spans upstream after {within:?}",
            central.store.trace_span_count(trace)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_that_looks_complete_is_decided_before_its_wait_and_an_incomplete_one_waits() {
    // A wait far longer than the test: whatever arrives came from the completeness rule.
    let (edge, central) = tiers(
        r#"{
            "decision_wait_ms": 600000,
            "decide_when_complete": true,
            "policies": [{"name": "all", "type": "probabilistic", "rate": 1.0}]
        }"#,
    )
    .await;
    // One export holding a whole trace: root and both children.
    let whole = 0xc001;
    post(
        &edge,
        request(
            "svc",
            (1..=3).map(|n| span(whole, n, Kind::Plain)).collect(),
        ),
    )
    .await;
    arrives(&central, whole, 3, Duration::from_secs(10)).await;

    // Children first (their parent, the root, is not in yet): the trace waits ...
    let children_first = 0xc002;
    post(
        &edge,
        request(
            "backend",
            vec![
                span(children_first, 2, Kind::Plain),
                span(children_first, 3, Kind::Plain),
            ],
        ),
    )
    .await;
    // ... and so does a trace whose child names a parent that never comes.
    let orphan = 0xc003;
    let mut lost_parent = span(orphan, 5, Kind::Plain);
    lost_parent.parent_span_id = 4u64.to_be_bytes().to_vec();
    post(
        &edge,
        request("backend", vec![span(orphan, 1, Kind::Plain), lost_parent]),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let tail = edge_stats(&edge).await["forward_tail_sampling"].clone();
    assert_eq!(tail["pending_traces"], 2, "{tail}");
    assert_eq!(central.store.trace_span_count(children_first), None);
    assert_eq!(central.store.trace_span_count(orphan), None);

    // The root arrives: now nothing is outstanding and the trace goes up whole.
    post(
        &edge,
        request("frontend", vec![span(children_first, 1, Kind::Plain)]),
    )
    .await;
    arrives(&central, children_first, 3, Duration::from_secs(10)).await;
    let tail = edge_stats(&edge).await["forward_tail_sampling"].clone();
    assert_eq!(tail["complete_decisions"], 2, "{tail}");
    assert_eq!(tail["pending_traces"], 1, "the orphan still waits: {tail}");
    assert_eq!(central.store.trace_span_count(orphan), None);
    edge.stop().await;
    central.stop().await;
}

/// A trace of two spans whose child carries `status` (2 = ERROR) or an attribute.
fn flagged_trace(trace: u128, error: bool, attribute: Option<(&str, &str)>) -> Vec<u8> {
    let base = now_ns() - 1_000_000_000;
    let root = simple_span(trace, 1, 0, "root", base, 0, 5_000);
    let mut child = simple_span(trace, 2, 1, "child", base, 10, 1_000);
    if error {
        child.status = Some(Status {
            code: 2,
            message: "boom".into(),
        });
    }
    if let Some((k, v)) = attribute {
        child.attributes.push(s(k, v));
    }
    request("flags", vec![root, child]).encode_to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tail_flags_configure_the_common_cases_without_a_file() {
    use common::process::{Ports, Process, TempDir};
    let dir = TempDir::new("tail-flags");
    let log = dir.0.join("stderr.log");
    let central_ports = Ports::free();
    let central = Process::start(central_ports, &[], &log).await;
    let args: Vec<String> = [
        "--forward-otlp",
        &central_ports.grpc_url(),
        "--tail-keep-errors",
        "--tail-keep-attribute",
        "customer.tier=gold",
        "--tail-decision-wait-ms",
        "300",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    let edge = Process::start(Ports::free(), &args, &log).await;
    let (error, gold, silver, plain) = (0xd001u128, 0xd002, 0xd003, 0xd004);
    for body in [
        flagged_trace(error, true, None),
        flagged_trace(gold, false, Some(("customer.tier", "gold"))),
        flagged_trace(silver, false, Some(("customer.tier", "silver"))),
        flagged_trace(plain, false, None),
    ] {
        assert_eq!(edge.export(body).await, 200);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let tail = loop {
        let stats = edge.stats().await;
        let tail = stats["forward_tail_sampling"].clone();
        if tail["pending_traces"] == 0
            && tail["backlog_spans"] == 0
            && stats["forward"][0]["buffered_spans"] == 0
            && central.span_count(gold).await == 2
        {
            break tail;
        }
        assert!(Instant::now() < deadline, "never settled: {stats}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        tail["kept"],
        serde_json::json!({"errors": 1, "attribute-1": 1}),
        "{tail}"
    );
    assert_eq!(tail["dropped_traces"], 2, "{tail}");
    assert_eq!(central.span_count(error).await, 2);
    assert_eq!(central.span_count(silver).await, 0);
    assert_eq!(central.span_count(plain).await, 0);
    // The edge's own store keeps all four.
    for trace in [error, gold, silver, plain] {
        assert_eq!(edge.span_count(trace).await, 2, "{trace:x} at the edge");
    }
}

#[test]
fn bad_tail_flags_are_refused_naming_the_flag_and_the_value() {
    let run = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_tracer-collector"))
            .args(args)
            .output()
            .expect("the binary runs");
        assert!(!output.status.success(), "{args:?} was accepted");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let up = ["--forward-otlp", "http://127.0.0.1:1"];
    let err = run(&[&up[..], &["--tail-sample-rate", "2"]].concat());
    assert!(
        err.contains("--tail-sample-rate 2") && err.contains("0 to 1"),
        "{err}"
    );
    let err = run(&[&up[..], &["--tail-keep-attribute", "tier"]].concat());
    assert!(
        err.contains("\"tier\"") && err.contains("KEY=VALUE"),
        "{err}"
    );
    let err = run(&[&up[..], &["--tail-decision-wait-ms", "10"]].concat());
    assert!(err.contains("keep nothing"), "{err}");
    let err = run(&[
        &up[..],
        &["--tail-sampling", "/nonexistent.json", "--tail-keep-errors"],
    ]
    .concat());
    assert!(err.contains("give one"), "{err}");
    let err = run(&["--tail-keep-errors"]);
    assert!(err.contains("--forward-otlp"), "{err}");
}
