//! The central collector down for 30 s under steady load (the `cargo test` form of
//! `scripts/forward-outage`): `loadgen` sends at a fixed rate to an edge collector (the real
//! binary) forwarding to a central collector (the real binary, with a data directory so that
//! its store outlives its own outage), which is stopped 5 s into the run and started again 30 s
//! later. The edge answers every export (loadgen's accounting: nothing refused, everything
//! stored), buffers what the central collector cannot take, and delivers it all once the
//! central collector is back; the counters say so. Latency is measured by the script, not
//! asserted here.

mod common;

use std::time::{Duration, Instant};

use common::process::{Ports, Process, TempDir};
use tracer_collector::loadgen::{self, LoadOptions, Target};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_seconds_without_the_central_collector_lose_nothing_and_are_counted() {
    let dir = TempDir::new("forward-outage");
    let log = dir.0.join("stderr.log");
    let central_ports = Ports::free();
    let central_args: Vec<String> = ["--data-dir", &dir.0.join("central").display().to_string()]
        .iter()
        .map(|a| a.to_string())
        .collect();
    let central = Process::start(central_ports, &central_args, &log).await;
    let edge_ports = Ports::free();
    let edge = Process::start(
        edge_ports,
        &["--forward-otlp".to_owned(), central_ports.grpc_url()],
        &log,
    )
    .await;

    let options = LoadOptions {
        rate: 1000,
        duration: Duration::from_secs(45),
        spans_per_request: 50,
        connections: 2,
        sample: 50,
        ..LoadOptions::new(Target::Grpc(edge_ports.grpc_url()), edge_ports.query_url())
    };
    let load = tokio::spawn(async move { loadgen::run(&options).await });
    tokio::time::sleep(Duration::from_secs(5)).await;
    central.terminate();
    tokio::time::sleep(Duration::from_secs(30)).await;
    let during = edge.stats().await["forward"][0].clone();
    let central = Process::start(central_ports, &central_args, &log).await;
    let report = load.await.unwrap().expect("loadgen runs");
    assert!(
        report.zero_loss(),
        "the edge refused or lost spans during the outage: {report}"
    );
    assert!(
        during["buffered_spans"].as_u64().unwrap() > 0,
        "nothing was buffered while the central collector was down: {during}"
    );
    assert!(during["last_error"].is_string(), "{during}");

    let deadline = Instant::now() + Duration::from_secs(120);
    let forward = loop {
        let forward = edge.stats().await["forward"][0].clone();
        if forward["sent_spans"].as_u64() >= Some(report.produced) {
            break forward;
        }
        assert!(
            Instant::now() < deadline,
            "the buffered spans were not delivered within 120 s of the return: {forward}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(forward["sent_spans"], report.produced, "{forward}");
    assert_eq!(forward["buffered_spans"], 0, "{forward}");
    assert!(forward["retries"].as_u64().unwrap() > 0, "{forward}");
    for counter in [
        "dropped_buffer_full",
        "dropped_rejected",
        "dropped_partial",
        "dropped_shutdown",
    ] {
        assert_eq!(forward[counter], 0, "{counter}: {forward}");
    }
    // The central collector holds every span once: those before its stop (replayed from its
    // data directory) and those after.
    assert_eq!(
        central.stats().await["spans"],
        report.produced,
        "spans at the central collector"
    );
    edge.terminate();
    central.terminate();
}
