//! The durable store's figures (`docs/bench/collector.md`, "Durable store"):
//!
//! 1. ingest rate of OTLP protobuf decode + store with `--data-dir` under each fsync policy
//!    against in-memory, in the same run: the ingest path's [`Sink`] on `THREADS` plain
//!    threads (as many as cores: each stages and commits its share of the payloads), wall
//!    time and the process's CPU time (the log writer thread included), best of `ROUNDS`;
//! 2. reload: a data directory holding 1M spans, replayed into a fresh store
//!    ([`persist::open`]), then the release binary started on it and timed until its query
//!    port answers with the spans (the ports answer once the replay is done).
//!
//! Run: `cargo bench -p tracer-collector --bench persist` (env `PERSIST_BENCH=ingest` or
//! `reload` for one part). Data directories go to cargo's bench temp dir (on the target dir's
//! disk: a tmpfs would make fsync free). Not criterion: each figure is one long run whose CPU
//! time is what counts, as in the collector bench's CPU-time rounds.

#[path = "support/workload.rs"]
mod workload;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use prost::Message;
use tracer_collector::config::Config;
use tracer_collector::ingest::{Ingestor, Sink};
use tracer_collector::persist::{self, FsyncPolicy, PersistOptions};
use tracer_collector::store::{Store, StoreLimits, TraceQuery};

const ROUNDS: usize = 3;
const PAYLOADS: usize = 256; // 131,072 spans per round

/// CPU time of the whole process (all threads), in nanoseconds, from `/proc/self/stat`.
fn process_cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_comm = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after_comm
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    (fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0)) * 10_000_000
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("persist-bench-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// (spans per second of wall time, spans per CPU-second, bytes on disk) of one round.
fn ingest_round(
    policy: Option<FsyncPolicy>,
    threads: usize,
    payloads: &[Vec<u8>],
) -> (f64, f64, u64) {
    let store = std::sync::Arc::new(Store::new(StoreLimits::default()));
    let dir = fresh_dir("ingest");
    let mut log = None;
    let sink: Sink = match policy {
        None => Sink::memory(store.clone()),
        Some(policy) => {
            let options = PersistOptions::new(&dir)
                .fsync(policy)
                .max_disk_bytes(8 << 30);
            let (l, _) = persist::open(&options, &store).expect("the bench data dir opens");
            let ingestor = Ingestor::new(store.clone(), &Config::default()).with_log(l.clone());
            log = Some(l);
            ingestor.sink()
        }
    };
    let cpu = process_cpu_ns();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            let sink = sink.clone();
            scope.spawn(move || {
                for p in payloads.iter().skip(t).step_by(threads) {
                    let staged = sink.stage_protobuf(p).expect("stages");
                    sink.commit_blocking(staged).expect("durable");
                }
            });
        }
    });
    let wall = started.elapsed().as_secs_f64();
    let cpu = (process_cpu_ns() - cpu) as f64 / 1e9;
    let spans = store.stats().received_spans as f64;
    assert_eq!(spans as usize, payloads.len() * workload::SPANS_PER_BATCH);
    let disk = dir_bytes(&dir);
    if let Some(log) = log {
        log.close();
    }
    let _ = std::fs::remove_dir_all(&dir);
    (spans / wall, spans / cpu.max(1e-9), disk)
}

/// The same ingest into redb (an embedded B-tree database with copy-on-write pages) instead
/// of the segment log: the same record encoding, one row per batch (key: a sequence number),
/// one write transaction per batch, committed before the batch is stored, as the log's
/// ticket is waited for. redb has one writer at a time, so concurrent commits queue.
fn redb_round(
    durability: redb::Durability,
    threads: usize,
    payloads: &[Vec<u8>],
) -> (f64, f64, u64) {
    const TABLE: redb::TableDefinition<'_, u64, &[u8]> = redb::TableDefinition::new("batches");
    let store = Store::new(StoreLimits::default());
    let dir = fresh_dir("redb");
    std::fs::create_dir_all(&dir).unwrap();
    let db = redb::Database::create(dir.join("spans.redb")).expect("redb opens");
    let seq = std::sync::atomic::AtomicU64::new(0);
    let cpu = process_cpu_ns();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (db, store, seq) = (&db, &store, &seq);
            scope.spawn(move || {
                let mut buf = Vec::new();
                for p in payloads.iter().skip(t).step_by(threads) {
                    let batch =
                        tracer_collector::ingest::otlp::protobuf::decode(p).expect("decodes");
                    let prepared = store.prepare(&batch);
                    buf.clear();
                    persist::record::encode(&batch, &mut buf);
                    let mut txn = db.begin_write().expect("write transaction");
                    txn.set_durability(durability).expect("durability");
                    {
                        let mut table = txn.open_table(TABLE).expect("table");
                        let key = seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        table.insert(key, buf.as_slice()).expect("insert");
                    }
                    txn.commit().expect("commit");
                    store.insert(prepared);
                }
            });
        }
    });
    if matches!(durability, redb::Durability::None) {
        // Make the run durable once at the end, as `interval` would have by then.
        let mut txn = db.begin_write().unwrap();
        txn.set_durability(redb::Durability::Immediate).unwrap();
        txn.commit().unwrap();
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = (process_cpu_ns() - cpu) as f64 / 1e9;
    let spans = store.stats().received_spans as f64;
    drop(db);
    let disk = dir_bytes(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    (spans / wall, spans / cpu.max(1e-9), disk)
}

fn ingest() {
    let payloads: Vec<Vec<u8>> = workload::batches(PAYLOADS)
        .iter()
        .map(|r| r.encode_to_vec())
        .collect();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let wire: usize = payloads.iter().map(Vec::len).sum();
    println!(
        "ingest: {} spans per round ({} payloads, {:.0} B/span protobuf), best of {ROUNDS} rounds",
        PAYLOADS * workload::SPANS_PER_BATCH,
        PAYLOADS,
        wire as f64 / (PAYLOADS * workload::SPANS_PER_BATCH) as f64
    );
    println!("| mode | threads | spans/s (wall) | spans per CPU-second | disk B/span |");
    println!("|---|---|---|---|---|");
    let modes: [(&str, Option<FsyncPolicy>, usize); 6] = [
        ("in memory", None, threads),
        ("--fsync never", Some(FsyncPolicy::Never), threads),
        (
            "--fsync interval:200",
            Some(persist::DEFAULT_FSYNC),
            threads,
        ),
        ("--fsync always", Some(FsyncPolicy::Always), threads),
        ("--fsync always", Some(FsyncPolicy::Always), 16),
        ("in memory", None, 16),
    ];
    let redb_modes: [(&str, redb::Durability, usize); 3] = [
        (
            "redb, Durability::None (one Immediate commit at the end)",
            redb::Durability::None,
            threads,
        ),
        (
            "redb, Durability::Immediate",
            redb::Durability::Immediate,
            threads,
        ),
        (
            "redb, Durability::Immediate",
            redb::Durability::Immediate,
            16,
        ),
    ];
    let per_span = |bytes: u64| {
        format!(
            "{:.0}",
            bytes as f64 / (PAYLOADS * workload::SPANS_PER_BATCH) as f64
        )
    };
    for (name, durability, threads) in redb_modes {
        let mut best = (0.0f64, 0.0f64, 0u64);
        for _ in 0..ROUNDS {
            let round = redb_round(durability, threads, &payloads);
            best = (best.0.max(round.0), best.1.max(round.1), round.2);
        }
        println!(
            "| {name} | {threads} | {:.0}k | {:.0}k | {} |",
            best.0 / 1e3,
            best.1 / 1e3,
            per_span(best.2)
        );
    }
    for (name, policy, threads) in modes {
        let mut best = (0.0f64, 0.0f64, 0u64);
        for _ in 0..ROUNDS {
            let round = ingest_round(policy, threads, &payloads);
            best.0 = best.0.max(round.0);
            best.1 = best.1.max(round.1);
            best.2 = round.2;
        }
        let per_span = best.2 as f64 / (PAYLOADS * workload::SPANS_PER_BATCH) as f64;
        println!(
            "| {name} | {threads} | {:.0}k | {:.0}k | {} |",
            best.0 / 1e3,
            best.1 / 1e3,
            if policy.is_some() {
                format!("{per_span:.0}")
            } else {
                "–".into()
            }
        );
    }
}

const RELOAD_SPANS: usize = 1_000_000;
/// Room for every span written (1,000,448: whole 512-span batches), in process and binary.
const RELOAD_LIMIT: usize = 1 << 20;

fn reload_limits() -> StoreLimits {
    StoreLimits {
        max_spans: std::num::NonZeroUsize::new(RELOAD_LIMIT).expect("non-zero"),
        ..StoreLimits::default()
    }
}

fn reload() {
    let dir = fresh_dir("reload");
    let options = PersistOptions::new(&dir).max_disk_bytes(8 << 30);
    {
        let store = std::sync::Arc::new(Store::new(StoreLimits::default()));
        let (log, _) = persist::open(&options, &store).expect("opens");
        let sink = Ingestor::new(store.clone(), &Config::default())
            .with_log(log.clone())
            .sink();
        let base = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            - 3_600_000_000_000;
        let batches = RELOAD_SPANS.div_ceil(workload::SPANS_PER_BATCH);
        for i in 0..batches {
            let payload = workload::batch(i, base + i as u64 * 1_000_000).encode_to_vec();
            let staged = sink.stage_protobuf(&payload).expect("stages");
            sink.commit_blocking(staged).expect("durable");
        }
        log.close();
    }
    let disk = dir_bytes(&dir);
    // Read the files once so both measurements below start from the page cache, as a
    // restart on the same machine does.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let _ = std::fs::read(entry.unwrap().path());
    }
    println!(
        "reload: {} spans in {} segments, {:.1} MB on disk ({:.0} B/span)",
        RELOAD_SPANS.div_ceil(512) * 512,
        std::fs::read_dir(&dir).unwrap().count() - 1,
        disk as f64 / 1e6,
        disk as f64 / (RELOAD_SPANS.div_ceil(512) * 512) as f64
    );
    for round in 0..ROUNDS {
        let store = Store::new(reload_limits());
        let cpu = process_cpu_ns();
        let started = Instant::now();
        let (log, replay) = persist::open(&options, &store).expect("replays");
        let wall = started.elapsed();
        let cpu = Duration::from_nanos(process_cpu_ns() - cpu);
        let hits = store.search(&TraceQuery {
            service: Some("orders".into()),
            limit: 20,
            ..TraceQuery::default()
        });
        assert_eq!(hits.len(), 20);
        println!(
            "  in process, round {round}: {} spans replayed in {:.2} s wall, {:.2} s CPU ({} in store)",
            replay.spans,
            wall.as_secs_f64(),
            cpu.as_secs_f64(),
            store.stats().spans
        );
        log.close();
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for round in 0..ROUNDS {
        let query = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let started = Instant::now();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tracer-collector"))
            .arg("--data-dir")
            .arg(&dir)
            .args(["--query-port", &query.to_string()])
            .args(["--max-spans", &RELOAD_LIMIT.to_string()])
            .args([
                "--otlp-grpc-port",
                "0",
                "--otlp-http-port",
                "0",
                "--zipkin-port",
                "0",
            ])
            .args(["--jaeger-http-port", "0", "--jaeger-compact-port", "0"])
            .args(["--jaeger-binary-port", "0", "--zipkin-compact-port", "0"])
            .args(["--sampling-port", "0", "--jaeger-grpc-port", "0"])
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the release binary starts");
        let url =
            format!("http://127.0.0.1:{query}/api/traces?service=orders&limit=20&lookback=2h");
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let found = rt.block_on(async {
            loop {
                if let Ok(r) = client.get(&url).send().await
                    && r.status() == 200
                    && let Ok(body) = r.bytes().await
                {
                    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    return body["data"].as_array().map_or(0, Vec::len);
                }
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "no answer in 60 s"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        let wall = started.elapsed();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let _ = child.wait();
        println!(
            "  binary, round {round}: start to first search answered ({found} traces): {:.2} s",
            wall.as_secs_f64()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    // `cargo bench` passes `--bench`; other arguments are ignored.
    let part = std::env::var("PERSIST_BENCH").unwrap_or_default();
    if part.is_empty() || part == "ingest" {
        ingest();
    }
    if part.is_empty() || part == "reload" {
        reload();
    }
}
