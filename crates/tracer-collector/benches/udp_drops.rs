//! UDP datagrams the kernel drops at a given rate: Jaeger compact `emitBatch` datagrams sent at
//! a fixed rate to the real `tracer-collector` binary (6831 path), then its ingest stats read.
//!
//! Not a criterion bench: a driver. It starts the release binary on free ports (only the
//! Jaeger compact and query ports open), sends `UDP_SPANS_PER_SECOND` spans per second (default
//! 200,000) for `UDP_SECONDS` (default 10) in datagrams of `UDP_SPANS_PER_DATAGRAM` (default 64)
//! realistic spans (`support/workload.rs`, written as a Jaeger client does by
//! `support/foreign.rs`), paced every millisecond, and prints what `/api/collector/ingest-stats`
//! says of them (`batches`, `spans`, `droppedDatagrams`, `kernelDroppedDatagrams`, the last
//! read from `/proc/net/udp`) and the collector's CPU time per span (`/proc/PID/stat`).
//! 2,048 distinct datagrams are sent in turn, so the store sees repeated span ids.
//!
//! ```text
//! cargo build --release -p tracer-collector
//! cargo bench -p tracer-collector --bench udp_drops
//! ```
//!
//! `COLLECTOR_BIN` names another binary (default: `tracer-collector` beside the bench's
//! `deps/` folder). Results: `docs/bench/collector.md`.

#[path = "support/foreign.rs"]
mod foreign;
#[path = "../tests/common/jaeger_wire.rs"]
mod jaeger_wire;
#[path = "support/workload.rs"]
mod workload;

use std::net::{TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

const DISTINCT: usize = 2_048;

struct Collector(Child);

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn free_port(udp: bool) -> u16 {
    if udp {
        UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    } else {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }
}

fn binary() -> PathBuf {
    if let Ok(bin) = std::env::var("COLLECTOR_BIN") {
        return bin.into();
    }
    let exe = std::env::current_exe().expect("bench path");
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("tracer-collector"));
    match bin {
        Some(bin) if bin.exists() => bin,
        _ => panic!(
            "no tracer-collector binary next to {}: run `cargo build --release -p tracer-collector` \
             or set COLLECTOR_BIN",
            exe.display()
        ),
    }
}

/// Process CPU time (user + system) of `pid`, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<f64> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    // After the command: state is field 0, utime 11, stime 12 (clock ticks, 100 per second).
    (fields.get(11).unwrap_or(&0.0) + fields.get(12).unwrap_or(&0.0)) / 100.0
}

/// The Jaeger compact counters of `/api/collector/ingest-stats` (plain HTTP/1.1, one request).
fn stats(query: u16) -> Option<serde_json::Value> {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", query)).ok()?;
    write!(
        conn,
        "GET /api/collector/ingest-stats HTTP/1.1\r\nHost: 127.0.0.1:{query}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = Vec::new();
    conn.read_to_end(&mut response).ok()?;
    let at = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let json: serde_json::Value = serde_json::from_slice(&response[at + 4..]).ok()?;
    Some(json["jaegerAgentCompact"].clone())
}

fn datagrams(per_datagram: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(DISTINCT);
    let mut n = 0;
    while out.len() < DISTINCT {
        let mut batch = workload::batch(n, workload::now_ns() - 60_000_000_000);
        n += 1;
        let spans = std::mem::take(&mut batch.resource_spans[0].scope_spans[0].spans);
        for chunk in spans.chunks(per_datagram) {
            let mut one: ExportTraceServiceRequest = batch.clone();
            one.resource_spans[0].scope_spans[0].spans = chunk.to_vec();
            let d = foreign::jaeger_compact(&one).remove(0);
            assert!(
                d.len() <= 65_000,
                "a datagram of {} bytes: send fewer spans per datagram",
                d.len()
            );
            out.push(d);
        }
    }
    out.truncate(DISTINCT);
    out
}

fn main() {
    let rate = env("UDP_SPANS_PER_SECOND", 200_000);
    let seconds = env("UDP_SECONDS", 10);
    let per_datagram = env("UDP_SPANS_PER_DATAGRAM", 64) as usize;
    let payloads = datagrams(per_datagram);
    let (udp, query) = (free_port(true), free_port(false));
    let child = Command::new(binary())
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
    let deadline = Instant::now() + Duration::from_secs(20);
    while stats(query).is_none() {
        assert!(Instant::now() < deadline, "collector did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = collector.0.id();
    let cpu_before = cpu_seconds(pid);
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let datagrams_per_second = rate as f64 / per_datagram as f64;
    let total = (datagrams_per_second * seconds as f64) as u64;
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < total {
        let due = ((start.elapsed().as_secs_f64() * datagrams_per_second) as u64).min(total);
        while sent < due {
            sender
                .send_to(
                    &payloads[sent as usize % payloads.len()],
                    ("127.0.0.1", udp),
                )
                .expect("send");
            sent += 1;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let send_time = start.elapsed().as_secs_f64();
    // Let the collector drain its socket.
    let mut last = stats(query).expect("stats");
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = stats(query).expect("stats");
        if now == last {
            break;
        }
        last = now;
    }
    let cpu = cpu_seconds(pid) - cpu_before;
    let spans = last["spans"].as_u64().unwrap_or(0);
    println!(
        "udp_drops: sent {sent} datagrams ({} spans, {per_datagram} per datagram, {} B average) in \
         {send_time:.2} s = {:.0} spans/s",
        sent * per_datagram as u64,
        payloads.iter().map(Vec::len).sum::<usize>() / payloads.len(),
        (sent * per_datagram as u64) as f64 / send_time,
    );
    println!(
        "udp_drops: stored {} datagrams ({spans} spans), droppedDatagrams {}, \
         kernelDroppedDatagrams {} ({:.2} % of sent); collector CPU {cpu:.2} s = {:.0} spans per \
         CPU-second",
        last["batches"],
        last["droppedDatagrams"],
        last["kernelDroppedDatagrams"],
        last["kernelDroppedDatagrams"].as_f64().unwrap_or(0.0) * 100.0 / sent as f64,
        spans as f64 / cpu.max(1e-9),
    );
}
