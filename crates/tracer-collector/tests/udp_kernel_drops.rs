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

/// The binary with only the Jaeger compact UDP port and the query port open (plus `extra`
/// flags), once its stats answer: the collector, its UDP port and its query port.
async fn start(client: &reqwest::Client, extra: &[&str]) -> (Collector, u16, u16, Json) {
    let (udp, query) = (free_udp_port(), free_tcp_port());
    let child = Command::new(env!("CARGO_BIN_EXE_tracer-collector"))
        .args(["--jaeger-compact-port", &udp.to_string()])
        .args(["--query-port", &query.to_string()])
        .args(["--otlp-grpc-port", "0", "--otlp-http-port", "0"])
        .args(["--zipkin-port", "0", "--jaeger-http-port", "0"])
        .args(["--jaeger-grpc-port", "0", "--jaeger-binary-port", "0"])
        .args(["--zipkin-compact-port", "0", "--sampling-port", "0"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tracer-collector");
    let mut collector = Collector(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    let stats = loop {
        if let Some(stats) = compact_stats(client, query).await {
            break stats;
        }
        if let Ok(Some(status)) = collector.0.try_wait() {
            panic!("tracer-collector {extra:?} exited at start: {status}");
        }
        assert!(Instant::now() < deadline, "collector did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    (collector, udp, query, stats)
}

/// Sends `n` datagrams while the collector is stopped, then waits until every one is counted
/// (stored, dropped, or dropped by the kernel) and returns the stats.
async fn burst(
    client: &reqwest::Client,
    collector: &Collector,
    udp: u16,
    query: u16,
    n: u64,
) -> Json {
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    signal(&collector.0, "STOP");
    for i in 0..n {
        sender.send_to(&datagram(i), ("127.0.0.1", udp)).unwrap();
    }
    signal(&collector.0, "CONT");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stats = compact_stats(client, query).await.expect("stats");
        if counted(&stats) >= n {
            // Settled: nothing more is queued in the socket.
            tokio::time::sleep(Duration::from_millis(300)).await;
            break compact_stats(client, query).await.expect("stats");
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {n} datagrams accounted for: {stats}",
            counted(&stats)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn datagrams_the_kernel_drops_are_counted_so_every_datagram_is_accounted_for() {
    let client = reqwest::Client::new();
    let (collector, udp, query, stats) = start(&client, &[]).await;
    assert_eq!(
        stats["kernelDroppedDatagrams"], 0,
        "the socket's count is served from the start: {stats}"
    );
    let stats = burst(&client, &collector, udp, query, BURST).await;
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

/// `net.core.rmem_max`, the most an unprivileged `SO_RCVBUF` request gets.
fn rmem_max() -> u64 {
    std::fs::read_to_string("/proc/sys/net/core/rmem_max")
        .expect("read /proc/sys/net/core/rmem_max (Linux)")
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn the_udp_socket_buffer_flag_sets_the_kernel_buffer_and_the_stats_show_it() {
    let client = reqwest::Client::new();
    let asked = 65_536u64.min(rmem_max());
    let (_collector, _, _, stats) =
        start(&client, &["--udp-socket-buffer-bytes", &asked.to_string()]).await;
    // Linux gives what was asked (up to rmem_max) and reports twice that.
    assert_eq!(
        stats["socketReceiveBufferBytes"],
        2 * asked,
        "the buffer asked for is in force: {stats}"
    );
    let (_default, _, _, stats) = start(&client, &[]).await;
    assert!(
        stats["socketReceiveBufferBytes"]
            .as_u64()
            .is_some_and(|b| b != 2 * asked),
        "without the flag the kernel's default is reported: {stats}"
    );
}

#[tokio::test]
async fn a_small_socket_buffer_drops_a_burst_the_default_one_holds() {
    // 40 datagrams of ~0.7 KB: well inside a default buffer (~208 KiB), far past 4 KiB.
    let n = 40;
    let client = reqwest::Client::new();
    let (small, udp, query, _) = start(&client, &["--udp-socket-buffer-bytes", "4096"]).await;
    let stats = burst(&client, &small, udp, query, n).await;
    assert!(
        stats["kernelDroppedDatagrams"].as_u64().unwrap() > 0,
        "a 4 KiB buffer overflowed: {stats}"
    );
    assert_eq!(counted(&stats), n, "{stats}");
    let (default, udp, query, _) = start(&client, &[]).await;
    let stats = burst(&client, &default, udp, query, n).await;
    assert_eq!(
        stats["kernelDroppedDatagrams"], 0,
        "the default buffer held the burst: {stats}"
    );
    assert_eq!(stats["batches"], n, "{stats}");
}

#[test]
fn a_socket_buffer_past_the_accepted_range_is_refused_naming_the_flag() {
    let output = Command::new(env!("CARGO_BIN_EXE_tracer-collector"))
        .args(["--udp-socket-buffer-bytes", "2000000000"])
        .output()
        .expect("run tracer-collector");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--udp-socket-buffer-bytes") && stderr.contains("2000000000"),
        "{stderr}"
    );
}
