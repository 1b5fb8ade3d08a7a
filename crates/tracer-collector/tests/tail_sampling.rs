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
