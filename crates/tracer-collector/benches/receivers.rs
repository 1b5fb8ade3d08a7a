//! Receiver throughput: decode + map + store, per core, for Jaeger thrift compact (`emitBatch`,
//! what 6831 receives), Zipkin v2 JSON (9411) and, as the baseline, OTLP protobuf (4318/4317).
//! The same spans in every format: the collector bench's realistic workload
//! (`support/workload.rs`: 10 attributes, 2 events, 8 spans per trace, 512 per batch, 4
//! services), written as clients write each format (`support/foreign.rs`); no network, one
//! thread, each format through the path its endpoint runs.
//!
//! Two measures per format:
//! - criterion's wall time for one 512-span batch into a store kept across iterations;
//! - CPU time of the thread (`/proc/thread-self/schedstat`, so other processes on the shared
//!   machine do not count) for 64 distinct batches (32,768 spans) into a fresh store, best and
//!   median of 7 rounds, printed as spans per CPU-second.
//!
//! Run: `cargo bench -p tracer-collector --bench receivers` (`RECEIVERS_BENCH=cpu` runs only
//! the CPU-time rounds). Results: `docs/bench/collector.md`.

#[path = "support/foreign.rs"]
mod foreign;
#[path = "../tests/common/jaeger_wire.rs"]
mod jaeger_wire;
#[path = "support/workload.rs"]
mod workload;

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prost::Message;
use tracer_collector::ingest::receiver::Format;
use tracer_collector::store::{Store, StoreLimits};

const CPU_BATCHES: usize = 64;
const ROUNDS: usize = 7;

/// A bench name, the format (`None`: OTLP protobuf) and its payloads.
type Payloads = (&'static str, Option<Format>, Vec<Vec<u8>>);

/// The payloads of `n` workload batches in each format.
fn payloads(n: usize) -> Vec<Payloads> {
    let batches = workload::batches(n);
    vec![
        (
            "otlp_protobuf",
            None,
            batches.iter().map(|b| b.encode_to_vec()).collect(),
        ),
        (
            "jaeger_thrift_compact",
            Some(Format::JaegerAgentCompact),
            batches.iter().flat_map(foreign::jaeger_compact).collect(),
        ),
        (
            "zipkin_json_v2",
            Some(Format::ZipkinV2Json),
            batches.iter().map(foreign::zipkin_json_v2).collect(),
        ),
    ]
}

fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn store() -> Arc<Store> {
    // Large enough that the benchmark measures insertion, not eviction churn alone.
    Arc::new(Store::new(StoreLimits::default()))
}

/// Spans per CPU-second of each format, rounds interleaved so that a burst of load on the
/// machine hits every format alike.
fn cpu_rounds() {
    let sets = payloads(CPU_BATCHES);
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); sets.len()];
    for _ in 0..ROUNDS {
        for (i, (_, format, payloads)) in sets.iter().enumerate() {
            let store = store();
            let before = thread_cpu_ns();
            let mut spans = 0;
            for p in payloads {
                spans += black_box(foreign::store_one(&store, *format, p));
            }
            let cpu = thread_cpu_ns() - before;
            rates[i].push(spans as f64 / (cpu as f64 / 1e9));
        }
    }
    for ((name, _, payloads), mut r) in sets.iter().zip(rates) {
        r.sort_by(f64::total_cmp);
        let bytes: usize = payloads.iter().map(Vec::len).sum();
        eprintln!(
            "cpu {name}: best {:.0} spans/CPU-s, median {:.0} ({} spans per round, {} B/span)",
            r[ROUNDS - 1],
            r[ROUNDS / 2],
            CPU_BATCHES * workload::SPANS_PER_BATCH,
            bytes / (CPU_BATCHES * workload::SPANS_PER_BATCH),
        );
    }
}

fn receivers(c: &mut Criterion) {
    cpu_rounds();
    if std::env::var("RECEIVERS_BENCH").as_deref() == Ok("cpu") {
        return;
    }
    let mut group = c.benchmark_group("receiver_decode_store");
    group.throughput(Throughput::Elements(workload::SPANS_PER_BATCH as u64));
    for (name, format, payloads) in payloads(1) {
        let store = store();
        let payload = &payloads[0];
        group.bench_function(name, |b| {
            b.iter(|| black_box(foreign::store_one(&store, format, black_box(payload))))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = receivers
}
criterion_main!(benches);
