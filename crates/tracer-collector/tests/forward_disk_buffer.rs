//! The forward buffer on disk (`--data-dir`), against the real binary: an edge collector
//! forwarding to a central collector that is down takes exports, is stopped (SIGTERM, and
//! `kill -9` under `--fsync always` while clients keep sending), starts again, and once the
//! central collector is up every span the edge acknowledged arrives there, each once; the
//! buffer's counters are in `/api/collector/stats`.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::process::{Ports, Process, TempDir, post};
use common::{now_ns, request, s, simple_span};
use prost::Message;
use serde_json::Value as Json;

/// Spans per trace in these tests.
const SPANS: u64 = 20;

/// One trace of [`SPANS`] spans, as an OTLP protobuf export.
fn trace_export(trace: u128) -> Vec<u8> {
    let base = now_ns() - 5_000_000_000;
    let spans = (1..=SPANS)
        .map(|i| {
            let mut span = simple_span(
                trace,
                i,
                if i == 1 { 0 } else { 1 },
                "GET /orders",
                base,
                i,
                10,
            );
            span.attributes
                .push(s("payload", &format!("{trace:x}-{i}")));
            span
        })
        .collect();
    request("edge-load", spans).encode_to_vec()
}

/// Edge arguments: a data directory, forwarding to `central` over gRPC with no batching delay
/// to speak of, plus `extra`.
fn edge_args(dir: &TempDir, central: &Ports, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "--data-dir".into(),
        dir.0.join("edge").display().to_string(),
        "--forward-otlp".into(),
        central.grpc_url(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

/// Waits until the edge's first upstream has sent `spans` spans, or fails after `limit`.
async fn wait_sent(edge: &Process, spans: u64, limit: Duration) -> Json {
    let deadline = Instant::now() + limit;
    loop {
        let stats = edge.stats().await;
        if stats["forward"][0]["sent_spans"].as_u64() >= Some(spans) {
            return stats;
        }
        assert!(
            Instant::now() < deadline,
            "the edge did not send {spans} spans within {limit:?}: {}",
            stats["forward"]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every trace of `traces` at the central collector holds exactly [`SPANS`] spans (none
/// missing, none twice); else the failures.
async fn check_central(central: &Process, traces: &BTreeSet<u128>) -> Vec<String> {
    let mut wrong = Vec::new();
    for &trace in traces {
        let n = central.span_count(trace).await;
        if n != SPANS as usize {
            wrong.push(format!("{trace:032x}: {n} spans"));
        }
    }
    wrong
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buffer_kept_across_a_sigterm_restart_reaches_the_central_collector_once() {
    let dir = TempDir::new("forward-sigterm");
    let log = dir.0.join("stderr.log");
    let central_ports = Ports::free();
    let edge_ports = Ports::free();
    let edge = Process::start(edge_ports, &edge_args(&dir, &central_ports, &[]), &log).await;
    let mut traces = BTreeSet::new();
    for n in 1..=50u128 {
        let trace = 0xd15c_0000 + n;
        assert_eq!(edge.export(trace_export(trace)).await, 200);
        traces.insert(trace);
    }
    let accepted = traces.len() as u64 * SPANS;
    let stats = edge.stats().await;
    assert_eq!(stats["forward"][0]["sent_spans"], 0, "{stats}");
    assert_eq!(
        stats["forward_buffer"]["persisted_spans"], accepted,
        "every accepted span is in the forward log: {stats}"
    );
    assert!(
        stats["forward_buffer"]["data_dir"]
            .as_str()
            .unwrap()
            .ends_with("forward"),
        "{stats}"
    );
    edge.terminate();

    let edge = Process::start(edge_ports, &edge_args(&dir, &central_ports, &[]), &log).await;
    let stats = edge.stats().await;
    let forward = &stats["forward"][0];
    assert_eq!(forward["replayed_spans"], accepted, "{stats}");
    assert_eq!(forward["buffered_spans"], accepted, "{stats}");
    assert_eq!(forward["dropped_shutdown"], 0, "{stats}");
    assert_eq!(forward["dropped_buffer_full"], 0, "{stats}");

    let central = Process::start(central_ports, &[], &log).await;
    let stats = wait_sent(&edge, accepted, Duration::from_secs(60)).await;
    let forward = &stats["forward"][0];
    assert_eq!(forward["sent_spans"], accepted, "{stats}");
    assert_eq!(forward["buffered_spans"], 0, "{stats}");
    let wrong = check_central(&central, &traces).await;
    assert!(
        wrong.is_empty(),
        "traces not arrived exactly once: {wrong:?}"
    );
    assert_eq!(central.stats().await["spans"], accepted, "nothing twice");

    // Sent is done with: a third start has nothing to resend.
    edge.terminate();
    let edge = Process::start(edge_ports, &edge_args(&dir, &central_ports, &[]), &log).await;
    let stats = edge.stats().await;
    assert_eq!(stats["forward"][0]["replayed_spans"], 0, "{stats}");
    edge.terminate();
    central.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_span_acknowledged_under_fsync_always_reaches_the_central_collector_after_kill_9() {
    let dir = TempDir::new("forward-kill9");
    let log = dir.0.join("stderr.log");
    let central_ports = Ports::free();
    let edge_ports = Ports::free();
    let args = edge_args(&dir, &central_ports, &["--fsync", "always"]);
    let edge = Process::start(edge_ports, &args, &log).await;
    // Eight clients send one trace per request as fast as the edge answers, keeping the ids
    // of the acknowledged ones; the edge is killed while they send.
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for client_no in 0..8u128 {
        let (acked, stop, port) = (acked.clone(), stop.clone(), edge_ports.http);
        clients.push(tokio::spawn(async move {
            let client = reqwest::Client::builder().no_proxy().build().unwrap();
            let mut sent = 0u128;
            while !stop.load(Ordering::Relaxed) {
                sent += 1;
                let trace = (client_no + 1) << 64 | sent;
                match post(&client, port, trace_export(trace)).await {
                    200 => {
                        acked.lock().unwrap().insert(trace);
                    }
                    0 => break, // the edge is gone
                    other => panic!("export answered {other}"),
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < 300 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = edge.stats().await;
    assert!(
        stats["forward_buffer"]["fsyncs"].as_u64().unwrap() > 0,
        "{stats}"
    );
    assert_eq!(stats["forward_buffer"]["fsync"], "always", "{stats}");
    edge.kill();
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 100,
        "only {} exports acknowledged",
        acked.len()
    );

    let edge = Process::start(edge_ports, &args, &log).await;
    let stats = edge.stats().await;
    let replayed = stats["forward"][0]["replayed_spans"].as_u64().unwrap();
    // Requests cut off by the kill may have been logged without an answer: they are sent
    // too (the client retries them anyway), but nothing acknowledged may be missing.
    assert!(
        replayed >= acked.len() as u64 * SPANS,
        "replayed {replayed} spans of {} acknowledged: {stats}",
        acked.len() as u64 * SPANS
    );
    let central = Process::start(central_ports, &[], &log).await;
    let stats = wait_sent(&edge, replayed, Duration::from_secs(60)).await;
    let forward = &stats["forward"][0];
    assert_eq!(forward["sent_spans"], replayed, "{stats}");
    // The batch being retried at the kill is marked as maybe sent; it never reached the
    // central collector (down), so here nothing arrives twice.
    assert!(
        forward["maybe_duplicate_spans"].as_u64().unwrap() <= replayed,
        "{stats}"
    );
    let wrong = check_central(&central, &acked).await;
    assert!(
        wrong.is_empty(),
        "{} of {} acknowledged traces wrong at the central collector after kill -9: {:?}",
        wrong.len(),
        acked.len(),
        &wrong[..wrong.len().min(5)]
    );
    assert_eq!(central.stats().await["spans"], replayed, "{stats}");
    edge.terminate();
    central.terminate();
}
