//! Every datagram sent to an agent UDP port is accounted for: stored, dropped by the collector
//! (`droppedDatagrams`) or dropped by the kernel before the collector could read it
//! (`kernelDroppedDatagrams`, from `/proc/net/udp`). The real binary is stopped with SIGSTOP
//! while a burst arrives, so its socket's receive buffer overflows for certain.

#[path = "common/jaeger_wire.rs"]
mod jaeger_wire;

use std::net::{TcpListener, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jaeger_wire::*;
use serde_json::Value as Json;

/// Datagrams in the burst: far more than a default receive buffer (~208 KiB) holds.
const BURST: u64 = 3_000;

struct Collector(Child);

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} failed");
}

async fn compact_stats(client: &reqwest::Client, query: u16) -> Option<Json> {
    let body = client
        .get(format!(
            "http://127.0.0.1:{query}/api/collector/ingest-stats"
        ))
        .send()
        .await
        .ok()?
        .bytes()
        .await
        .ok()?;
    let body: Json = serde_json::from_slice(&body).ok()?;
    Some(body["jaegerAgentCompact"].clone())
}

fn counted(stats: &Json) -> u64 {
    ["batches", "droppedDatagrams", "kernelDroppedDatagrams"]
        .iter()
        .map(|k| stats[k].as_u64().unwrap_or(0))
        .sum()
}

fn datagram(n: u64) -> Vec<u8> {
    let low = 0x7000_0000 + n as i64;
    let mut s = span(0, low, 1, 0, "burst", 1_700_000_000_000_000, 10);
    s.tags = Some(vec![str_tag("pad", &"x".repeat(600))]);
    emit_batch(
        &Batch {
            process: Process {
                service_name: "udp-burst".into(),
                tags: None,
            },
            spans: vec![s],
        },
        true,
    )
}

#[tokio::test]
async fn datagrams_the_kernel_drops_are_counted_so_every_datagram_is_accounted_for() {
    let (udp, query) = (free_udp_port(), free_tcp_port());
    let child = Command::new(env!("CARGO_BIN_EXE_tracer-collector"))
        .args(["--jaeger-compact-port", &udp.to_string()])
        .args(["--query-port", &query.to_string()])
        .args(["--otlp-grpc-port", "0", "--otlp-http-port", "0"])
        .args(["--zipkin-port", "0", "--jaeger-http-port", "0"])
        .args(["--jaeger-grpc-port", "0", "--jaeger-binary-port", "0"])
        .args(["--zipkin-compact-port", "0", "--sampling-port", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tracer-collector");
    let collector = Collector(child);
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let stats = loop {
        if let Some(stats) = compact_stats(&client, query).await {
            break stats;
        }
        assert!(Instant::now() < deadline, "collector did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        stats["kernelDroppedDatagrams"], 0,
        "the socket's count is served from the start: {stats}"
    );

    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    signal(&collector.0, "STOP");
    for n in 0..BURST {
        sender.send_to(&datagram(n), ("127.0.0.1", udp)).unwrap();
    }
    signal(&collector.0, "CONT");

    let deadline = Instant::now() + Duration::from_secs(30);
    let stats = loop {
        let stats = compact_stats(&client, query).await.expect("stats");
        if counted(&stats) >= BURST {
            // Settled: nothing more is queued in the socket.
            tokio::time::sleep(Duration::from_millis(300)).await;
            break compact_stats(&client, query).await.expect("stats");
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {BURST} datagrams accounted for: {stats}",
            counted(&stats)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("after a burst of {BURST}: {stats}");
    assert_eq!(
        counted(&stats),
        BURST,
        "each datagram counted once: {stats}"
    );
    let kernel = stats["kernelDroppedDatagrams"].as_u64().unwrap();
    assert!(kernel > 0, "the burst overflowed the buffer: {stats}");
    assert!(stats["batches"].as_u64().unwrap() > 0, "{stats}");
    assert_eq!(
        stats["spans"], stats["batches"],
        "one span per stored datagram: {stats}"
    );
}
