//! The durable store (`--data-dir`) against the real binary, started as a child process on
//! free ports: what was acknowledged is there after a restart (SIGTERM, and `kill -9` under
//! `--fsync always` while clients keep sending), damaged segment files are cut at the last
//! good record with a log line, an unknown format version stops the collector with a message
//! naming the file, and the disk budget deletes the oldest segments.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::process::{Ports, Process, TempDir, post};
use common::{now_ns, request, s, simple_span};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message;
use serde_json::Value as Json;

/// The collector on a data directory: the binary as a child process with OTLP (HTTP and
/// gRPC), Zipkin and the query port on, its stderr in a directory of its own that goes with it.
struct Collector {
    process: Process,
    _logs: TempDir,
}

impl std::ops::Deref for Collector {
    type Target = Process;

    fn deref(&self) -> &Process {
        &self.process
    }
}

impl Collector {
    /// Starts the binary on `data_dir` and waits until its query port answers.
    async fn start(data_dir: &Path, extra: &[&str]) -> Self {
        let logs = TempDir::new("durable-log");
        let mut args = vec!["--data-dir".to_owned(), data_dir.display().to_string()];
        args.extend(extra.iter().map(|a| a.to_string()));
        let process =
            Process::start(Ports::free_with_zipkin(), &args, &logs.0.join("stderr.log")).await;
        Collector {
            process,
            _logs: logs,
        }
    }

    /// SIGTERM, then waits for a clean exit.
    fn terminate(self) {
        self.process.terminate();
    }

    /// SIGKILL (`kill -9`): no shutdown, no final sync.
    fn kill(self) {
        self.process.kill();
    }
}

/// One trace `trace` of `spans` spans of `service`, as an OTLP protobuf export; each span
/// carries `padding` bytes of a unique attribute value.
fn trace_export(trace: u128, spans: u64, service: &str, padding: usize) -> Vec<u8> {
    let base = now_ns() - 5_000_000_000;
    let spans = (1..=spans)
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
            span.attributes.push(s("http.request.method", "GET"));
            if padding > 0 {
                let value = format!("{trace:x}-{i}-{}", "x".repeat(padding));
                span.attributes.push(s("payload", &value));
            }
            span
        })
        .collect();
    request(service, spans).encode_to_vec()
}

fn hex(trace: u128) -> String {
    format!("{trace:032x}")
}

/// Segment files of a data directory, oldest first, with their bytes.
fn segments(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    out.sort();
    out.into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

/// Start offsets of the records of a segment (16-byte header; 12-byte record headers whose
/// first word is the payload length).
fn record_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut at = 16;
    while at + 12 <= bytes.len() {
        out.push(at);
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += 12 + len;
    }
    out
}

/// The newest segment that holds records.
fn newest_with_records(dir: &Path) -> (PathBuf, Vec<u8>) {
    segments(dir)
        .into_iter()
        .rev()
        .find(|(_, bytes)| bytes.len() > 16)
        .expect("a segment with records")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_survive_a_restart_with_the_same_query_results() {
    let dir = TempDir::new("restart");
    let c = Collector::start(&dir.0, &[]).await;
    for n in 1..=20u128 {
        let service = if n % 2 == 0 { "orders" } else { "billing" };
        assert_eq!(c.export(trace_export(0xa000 + n, 3, service, 0)).await, 200);
    }
    // The other ingest paths persist too: a Zipkin v2 JSON post, a trace file import.
    let start_us = now_ns() / 1000 - 5_000_000;
    let zipkin = serde_json::json!([{
        "traceId": hex(0xa100), "id": "00000000000000aa", "name": "get /zipkin",
        "timestamp": start_us, "duration": 1500, "kind": "SERVER",
        "localEndpoint": {"serviceName": "zipkin-service"}, "tags": {"http.method": "GET"},
    }]);
    let r = c
        .client
        .post(format!("http://127.0.0.1:{}/api/v2/spans", c.ports.zipkin))
        .header("content-type", "application/json")
        .body(zipkin.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    let file = serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "imported"}}]},
        "scopeSpans": [{"spans": [{
            "traceId": hex(0xa200), "spanId": "00000000000000bb", "name": "from-a-file",
            "startTimeUnixNano": (now_ns() - 2_000_000).to_string(), "endTimeUnixNano": now_ns().to_string(),
        }]}],
    }]});
    let r = c
        .client
        .post(format!("http://127.0.0.1:{}/api/import", c.ports.query))
        .header("content-type", "application/json")
        .body(file.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let queries = [
        "/api/services".to_owned(),
        format!("/api/traces/{}", hex(0xa100)),
        format!("/api/traces/{}", hex(0xa200)),
        format!("/api/traces/{}", hex(0xa007)),
        "/api/traces?service=orders&limit=100&lookback=1h".to_owned(),
        "/api/services/billing/operations".to_owned(),
    ];
    let mut before = Vec::new();
    for q in &queries {
        before.push(c.get(q).await);
    }
    assert_eq!(
        before[0]["data"],
        serde_json::json!(["billing", "imported", "orders", "zipkin-service"])
    );
    assert_eq!(
        before[1]["data"][0]["spans"][0]["operationName"],
        "get /zipkin"
    );
    assert_eq!(
        before[2]["data"][0]["spans"][0]["operationName"],
        "from-a-file"
    );
    assert_eq!(
        before[4]["data"].as_array().unwrap().len(),
        10,
        "{}",
        before[4]
    );
    let stats = c.stats().await;
    assert_eq!(stats["persist"]["persisted_spans"], 62, "{stats}");
    assert_eq!(stats["persist"]["fsync"], "interval:200", "{stats}");
    c.terminate();

    let c = Collector::start(&dir.0, &[]).await;
    for (q, expected) in queries.iter().zip(&before) {
        let after = c.get(q).await;
        assert_eq!(
            &after["data"], &expected["data"],
            "{q} differs after the restart"
        );
    }
    let stats = c.stats().await;
    assert_eq!(stats["spans"], 62, "{stats}");
    assert_eq!(stats["persist"]["replay"]["spans"], 62, "{stats}");
    // Replayed spans count as received by this process (the counter is per process).
    assert_eq!(stats["received_spans"], 62, "{stats}");
    c.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_span_acknowledged_under_fsync_always_survives_kill_9() {
    let dir = TempDir::new("kill9");
    let c = Collector::start(&dir.0, &["--fsync", "always"]).await;
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // The load: eight clients, each sending one 20-span trace per request as fast as the
    // collector answers, keeping the ids of the acknowledged ones. (The loadgen command checks
    // its run against the live collector afterwards, which a kill -9 rules out.)
    let mut clients = Vec::new();
    for client_no in 0..8u128 {
        let (acked, stop, http) = (acked.clone(), stop.clone(), c.ports.http);
        clients.push(tokio::spawn(async move {
            let client = reqwest::Client::builder().no_proxy().build().unwrap();
            let mut sent = 0u128;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                sent += 1;
                let trace = (client_no + 1) << 64 | sent;
                match post(&client, http, trace_export(trace, 20, "load", 40)).await {
                    200 => {
                        acked.lock().unwrap().insert(trace);
                    }
                    0 => break, // the collector is gone
                    other => panic!("export answered {other}"),
                }
            }
        }));
    }
    // Kill while the clients are sending.
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < 300 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = c.stats().await;
    assert!(stats["persist"]["fsyncs"].as_u64().unwrap() > 0, "{stats}");
    assert_eq!(stats["persist"]["fsync_errors"], 0, "{stats}");
    assert_eq!(stats["persist"]["last_fsync_error"], Json::Null, "{stats}");
    c.kill();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 100,
        "only {} exports acknowledged in a minute",
        acked.len()
    );

    let c = Collector::start(&dir.0, &[]).await;
    let mut missing = Vec::new();
    for &trace in &acked {
        let n = c.span_count(trace).await;
        if n != 20 {
            missing.push(format!("{}: {n} spans", hex(trace)));
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged traces incomplete after kill -9: {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(5)]
    );
    let stats = c.stats().await;
    assert!(
        stats["spans"].as_u64().unwrap() >= acked.len() as u64 * 20,
        "{stats}"
    );
    c.terminate();
}

/// Ten traces of 2 spans, one export (one record) each, then SIGTERM; the newest segment with
/// records and its record offsets.
async fn ten_records(dir: &Path) -> (PathBuf, Vec<u8>, Vec<usize>) {
    let c = Collector::start(dir, &["--fsync", "always"]).await;
    for n in 1..=10u128 {
        assert_eq!(c.export(trace_export(0xb000 + n, 2, "svc", 0)).await, 200);
    }
    c.terminate();
    let (path, bytes) = newest_with_records(dir);
    let offsets = record_offsets(&bytes);
    assert_eq!(offsets.len(), 10, "one record per export");
    (path, bytes, offsets)
}

async fn present(c: &Collector) -> Vec<bool> {
    let mut out = Vec::new();
    for n in 1..=10u128 {
        out.push(c.span_count(0xb000 + n).await == 2);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_cut_mid_record_is_recovered_to_the_last_good_record() {
    let dir = TempDir::new("torn");
    let (path, bytes, offsets) = ten_records(&dir.0).await;
    // A crash in the middle of writing the tenth record.
    let cut = offsets[9] + 20;
    std::fs::write(&path, &bytes[..cut]).unwrap();
    let c = Collector::start(&dir.0, &[]).await;
    let log = c.stderr_text();
    assert!(
        log.contains("damaged segment tail cut off at the last good record")
            && log.contains(&format!("dropped {} bytes (1 records)", cut - offsets[9]))
            && log.contains("record cut short"),
        "{log}"
    );
    let mut expected = vec![true; 9];
    expected.push(false);
    assert_eq!(present(&c).await, expected);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), offsets[9] as u64);
    let stats = c.stats().await;
    assert_eq!(stats["persist"]["replay"]["dropped_records"], 1, "{stats}");
    c.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flipped_bytes_fail_the_checksum_and_the_segment_is_cut_there() {
    let dir = TempDir::new("flipped");
    let (path, mut bytes, offsets) = ten_records(&dir.0).await;
    // Damage inside the payload of the sixth record: records 6 to 10 are dropped.
    bytes[offsets[5] + 12 + 30] ^= 0x5a;
    bytes[offsets[5] + 12 + 31] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let c = Collector::start(&dir.0, &[]).await;
    let log = c.stderr_text();
    let dropped = bytes.len() - offsets[5];
    assert!(
        log.contains(&format!(
            "dropped {dropped} bytes (5 records) from offset {}",
            offsets[5]
        )) && log.contains("checksum mismatch"),
        "{log}"
    );
    assert_eq!(
        present(&c).await,
        [
            true, true, true, true, true, false, false, false, false, false
        ]
    );
    c.terminate();
    // The cut is made once: the next start finds nothing to drop.
    let c = Collector::start(&dir.0, &[]).await;
    assert!(
        !c.stderr_text().contains("damaged segment"),
        "{}",
        c.stderr_text()
    );
    assert_eq!(present(&c).await.iter().filter(|p| **p).count(), 5);
    c.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_format_version_is_an_error_exit_naming_the_file() {
    let dir = TempDir::new("version");
    let mut header = Vec::new();
    header.extend_from_slice(b"TRACERLG");
    header.extend_from_slice(&7u16.to_le_bytes()); // a future version
    header.extend_from_slice(&1u16.to_le_bytes());
    header.extend_from_slice(&crc32(&header).to_le_bytes());
    header.extend_from_slice(&[0u8; 64]);
    let path = dir.0.join("00000000000000000001.seg");
    std::fs::write(&path, &header).unwrap();

    let logs = TempDir::new("durable-log");
    let stderr = logs.0.join("stderr.log");
    let args = ["--data-dir".to_owned(), dir.0.display().to_string()];
    let mut child = Process::command(Ports::free_with_zipkin(), &args, &stderr)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the collector kept running");
        std::thread::sleep(Duration::from_millis(50));
    };
    let log = std::fs::read_to_string(&stderr).unwrap();
    assert!(!status.success(), "{log}");
    assert!(
        log.contains("00000000000000000001.seg")
            && log.contains("segment format version 7")
            && log.contains("reads version 1"),
        "{log}"
    );
    // Never a silent wipe: the file is as it was.
    assert_eq!(std::fs::read(&path).unwrap(), header);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_disk_budget_deletes_the_oldest_segments_first() {
    let dir = TempDir::new("budget");
    let budget: u64 = 1 << 20;
    let segment_bytes: u64 = 64 << 10; // a sixteenth of the budget
    let flag = budget.to_string();
    let c = Collector::start(&dir.0, &["--max-disk-bytes", &flag, "--fsync", "never"]).await;
    // About 10 MiB of records: 400 exports of 100 spans with ~250-byte unique values.
    let traces = 400u128;
    for n in 1..=traces {
        assert_eq!(
            c.export(trace_export(0xc000 + n, 100, "svc", 250)).await,
            200
        );
    }
    let stats = c.stats().await;
    let persisted = stats["persist"]["persisted_bytes"].as_u64().unwrap();
    assert!(persisted >= 9 * budget, "{stats}");
    assert!(
        stats["persist"]["deleted_segments"].as_u64().unwrap() > 0,
        "{stats}"
    );
    let on_disk: u64 = segments(&dir.0).iter().map(|(_, b)| b.len() as u64).sum();
    assert!(
        on_disk <= budget + segment_bytes + 30_000, // one segment, plus the record crossing it
        "{on_disk} bytes on disk for a budget of {budget}"
    );
    assert_eq!(stats["persist"]["disk_bytes"], on_disk, "{stats}");
    c.terminate();

    let c = Collector::start(&dir.0, &["--max-disk-bytes", &flag]).await;
    assert_eq!(c.span_count(0xc001).await, 0, "the oldest trace is gone");
    assert_eq!(c.span_count(0xc000 + traces / 2).await, 0);
    assert_eq!(
        c.span_count(0xc000 + traces).await,
        100,
        "the newest is there"
    );
    let stats = c.stats().await;
    let kept = stats["spans"].as_u64().unwrap();
    assert!(kept > 0 && kept < (traces as u64 * 100) / 5, "{stats}");
    c.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_a_smaller_span_limit_reloads_the_newest_that_fit() {
    let dir = TempDir::new("limit");
    let c = Collector::start(&dir.0, &[]).await;
    for n in 1..=50u128 {
        assert_eq!(c.export(trace_export(0xd000 + n, 10, "svc", 0)).await, 200);
    }
    c.terminate();
    let c = Collector::start(&dir.0, &["--max-spans", "200"]).await;
    let stats = c.stats().await;
    assert_eq!(stats["spans"], 200, "{stats}");
    // Skipped on disk rather than replayed and evicted.
    assert_eq!(stats["evicted_spans"], 0, "{stats}");
    assert_eq!(stats["persist"]["replay"]["skipped_spans"], 300, "{stats}");
    assert_eq!(c.span_count(0xd000 + 30).await, 0, "an older trace");
    for n in 31..=50u128 {
        assert_eq!(c.span_count(0xd000 + n).await, 10, "one of the newest 20");
    }
    c.terminate();
}

#[test]
fn a_bad_fsync_value_is_refused_naming_it_and_the_accepted_forms() {
    let dir = TempDir::new("flag");
    for bad in ["sometimes", "interval:0", "interval:abc"] {
        let output = Command::new(env!("CARGO_BIN_EXE_tracer-collector"))
            .arg("--data-dir")
            .arg(&dir.0)
            .args(["--fsync", bad])
            .env_remove("TRACER_COLLECTOR_FSYNC")
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("invalid fsync policy \"{bad}\""))
                && stderr.contains("always, interval:MS")
                && stderr.contains("never"),
            "{stderr}"
        );
    }
}

/// A tmpfs of `bytes` mounted on a temporary directory, unmounted when dropped.
struct SmallDisk(TempDir);

impl SmallDisk {
    fn mount(bytes: u64) -> Self {
        let dir = TempDir::new("small-disk");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(&dir.0)
            .status()
            .expect("the mount command runs");
        assert!(
            status.success(),
            "mounting a {bytes}-byte tmpfs on {} failed ({status}): this test fills a small \
             disk and needs root (CI runs as root)",
            dir.0.display()
        );
        SmallDisk(dir)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_503_stores_nothing_and_recovers_once_there_is_room() {
    let disk = SmallDisk::mount(1 << 20);
    let data = disk.0.0.join("data");
    let filler = disk.0.0.join("filler");
    std::fs::write(&filler, vec![0u8; 400 << 10]).unwrap();
    let c = Collector::start(&data, &["--fsync", "always"]).await;
    let mut acked = Vec::new();
    let mut refused = None;
    for n in 1..=200u128 {
        match c.export(trace_export(0xe000 + n, 100, "svc", 200)).await {
            200 => acked.push(0xe000 + n),
            503 => {
                refused = Some(0xe000 + n);
                break;
            }
            other => panic!("export {n} answered {other}"),
        }
    }
    let refused = refused.expect("the disk filled up and an export was refused with 503");
    assert!(!acked.is_empty());
    let stats = c.stats().await;
    assert!(
        stats["persist"]["write_errors"].as_u64().unwrap() >= 1,
        "{stats}"
    );
    assert!(
        stats["persist"]["last_write_error"]
            .as_str()
            .is_some_and(|e| e.contains("No space left")),
        "{stats}"
    );
    assert_eq!(
        c.span_count(refused).await,
        0,
        "a refused export is not stored"
    );
    // Over OTLP/gRPC the same refusal is UNAVAILABLE, which exporters retry.
    let mut grpc = TraceServiceClient::connect(format!("http://127.0.0.1:{}", c.ports.grpc))
        .await
        .unwrap();
    let export =
        ExportTraceServiceRequest::decode(&trace_export(refused, 100, "svc", 200)[..]).unwrap();
    let status = grpc.export(export).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert!(
        status.message().contains("cannot persist the spans"),
        "{status:?}"
    );

    // Room again: the retried export is acknowledged.
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(c.export(trace_export(refused, 100, "svc", 200)).await, 200);
    acked.push(refused);
    c.terminate();

    let c = Collector::start(&data, &[]).await;
    for &trace in &acked {
        assert_eq!(c.span_count(trace).await, 100, "{}", hex(trace));
    }
    let stats = c.stats().await;
    assert_eq!(stats["spans"], acked.len() as u64 * 100, "{stats}");
    c.terminate();
}

fn crc32(bytes: &[u8]) -> u32 {
    // CRC-32 (IEEE), bit by bit: the test checks the file format without the collector's code.
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
