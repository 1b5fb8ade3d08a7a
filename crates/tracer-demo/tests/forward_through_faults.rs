//! The scale-out setup of docs/DEPLOYMENT.md on one machine, with the link between the tiers
//! made bad on purpose: an edge collector (`tracer-demo collector --forward-otlp`, a real
//! process) forwards over OTLP/gRPC through the demo's `FaultProxy` to a central collector
//! (another real process). While `loadgen` sends to the edge at a steady rate, the proxy
//! blackholes the link (connections accepted, nothing answered: a peer that died without a
//! reset, or a NAT entry dropped on the way), or slows every chunk down and then resets and
//! refuses connections, and then lets traffic pass again. The edge must answer every export, keep what it cannot
//! send, and deliver all of it once the link is back. Latency is measured by
//! `scripts/forward-outage`, not asserted here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use tracer_collector::loadgen::{self, LoadOptions, Target};
use tracer_demo::faults::proxy::{Fault, FaultProxy};

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port on 127.0.0.1")
}

/// A `tracer-demo collector` process on free ports.
struct Collector {
    child: Child,
    grpc: SocketAddr,
    query: SocketAddr,
    log: PathBuf,
    client: reqwest::Client,
}

impl Collector {
    async fn start(name: &str, extra: &[String]) -> Collector {
        let (grpc, http, query) = (free_addr(), free_addr(), free_addr());
        let log = std::env::temp_dir().join(format!(
            "tracer-forward-faults-{name}-{}.log",
            std::process::id()
        ));
        let child = Command::new(env!("CARGO_BIN_EXE_tracer-demo"))
            .args(["collector", "--otlp-grpc", &grpc.to_string()])
            .args([
                "--otlp-http",
                &http.to_string(),
                "--query",
                &query.to_string(),
            ])
            .args(extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("a log file in the temp dir"))
            .spawn()
            .expect("tracer-demo starts");
        let mut collector = Collector {
            child,
            grpc,
            query,
            log,
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = collector.child.try_wait().unwrap() {
                panic!(
                    "the {name} collector exited with {status}: {}",
                    collector.log_text()
                );
            }
            if let Ok(r) = collector
                .client
                .get(collector.url("/api/services"))
                .send()
                .await
                && r.status() == 200
            {
                return collector;
            }
            assert!(
                Instant::now() < deadline,
                "the {name} collector did not answer within 30 s: {}",
                collector.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.query)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn stats(&self) -> Json {
        let r = self
            .client
            .get(self.url("/api/collector/stats"))
            .send()
            .await
            .expect("the stats answer");
        r.json().await.expect("stats are JSON")
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Runs loadgen against an edge that forwards to a central collector through a proxy, puts
/// the proxy through `phases` (each fault held for its time) and back to passing, and checks
/// that the edge answered every export and the central collector got every span.
async fn faulty_link_loses_nothing(phases: &[(Duration, Fault)]) {
    let central = Collector::start("central", &[]).await;
    let proxy = FaultProxy::start(central.grpc)
        .await
        .expect("the proxy starts");
    let edge = Collector::start(
        "edge",
        &[
            "--forward-otlp".to_owned(),
            format!("http://{}", proxy.addr()),
            "--forward-protocol".to_owned(),
            "grpc".to_owned(),
        ],
    )
    .await;

    let options = LoadOptions {
        rate: 1000,
        duration: phases.iter().map(|(d, _)| *d).sum::<Duration>() + Duration::from_secs(8),
        spans_per_request: 50,
        connections: 2,
        sample: 30,
        ..LoadOptions::new(
            Target::Grpc(format!("http://{}", edge.grpc)),
            format!("http://{}", edge.query),
        )
    };
    let load = tokio::spawn(async move { loadgen::run(&options).await });
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut during = Vec::new();
    for &(lasting, fault) in phases {
        proxy.set(fault).await.expect("the proxy switches");
        tokio::time::sleep(lasting).await;
        during.push((fault, edge.stats().await["forward"][0].clone()));
    }
    proxy.set(Fault::Pass).await.expect("the proxy switches");
    let report = load
        .await
        .expect("loadgen does not panic")
        .expect("loadgen runs");
    assert!(
        report.zero_loss(),
        "the edge refused or lost spans while its upstream was faulty: {report}"
    );
    let (_, first) = &during[0];
    assert!(
        first["buffered_spans"].as_u64() > Some(0),
        "nothing waited while the link was faulty: {first}"
    );

    let deadline = Instant::now() + Duration::from_secs(90);
    let forward = loop {
        let forward = edge.stats().await["forward"][0].clone();
        if forward["sent_spans"].as_u64() >= Some(report.produced) && forward["buffered_spans"] == 0
        {
            break forward;
        }
        assert!(
            Instant::now() < deadline,
            "the edge did not deliver its buffer within 90 s of the link's return \
             (phases: {during:?}): {forward}\n{}",
            edge.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(forward["sent_spans"], report.produced, "{forward}");
    assert!(forward["retries"].as_u64() > Some(0), "{forward}");
    for counter in [
        "dropped_buffer_full",
        "dropped_rejected",
        "dropped_partial",
        "dropped_shutdown",
    ] {
        assert_eq!(forward[counter], 0, "{counter}: {forward}");
    }
    // Nothing lost. Delivery is at least once: a batch whose answer the faulty link swallowed
    // after the central collector stored it is sent again, so duplicates are possible, and
    // they come as whole forwarded exports (loadgen's requests are 50 spans each).
    let central_spans = central.stats().await["spans"]
        .as_u64()
        .expect("a span count");
    assert!(
        central_spans >= report.produced,
        "the central collector holds {central_spans} of the {} spans produced (edge: {forward})",
        report.produced
    );
    assert_eq!(
        (central_spans - report.produced) % 50,
        0,
        "a duplicate that is not a whole export: {central_spans} spans centrally, {} produced",
        report.produced
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_that_goes_silent_then_comes_back_loses_nothing() {
    // Longer than the forwarder's 10 s export timeout: a request times out on the silent
    // connection, and the connection itself must be given up, since it never answers again
    // (the proxy, like a dead peer, keeps it open and swallows everything).
    faulty_link_loses_nothing(&[(Duration::from_secs(14), Fault::Blackhole)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_then_reset_link_loses_nothing() {
    // Resets cut requests in the middle: no answer came, so the batch must be sent again, not
    // dropped as if the upstream had refused it.
    faulty_link_loses_nothing(&[
        (
            Duration::from_secs(6),
            Fault::Latency(Duration::from_millis(300)),
        ),
        (Duration::from_secs(6), Fault::Refuse),
        (Duration::from_secs(2), Fault::Pass),
        (Duration::from_secs(1), Fault::ResetAfter(64)),
    ])
    .await;
}
