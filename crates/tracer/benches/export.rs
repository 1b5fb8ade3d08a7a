//! The export thread's time per batch of 511 spans, encode + send to a null receiver on
//! 127.0.0.1 (it answers OK and discards), tracer's direct OTLP path (`ours`) against
//! opentelemetry-otlp's exporter (`sdk`) for the same spans, same run, over gRPC and
//! HTTP/protobuf. Each iteration queues the spans (not timed) and times the flush that
//! exports them. The repeatable figure is `benches/callgrind.rs`'s `export/*` instruction
//! counts; see docs/BENCHMARKS.md, "OTLP encoded on the export thread".
//!
//! ```text
//! cargo bench -p tracer --bench export
//! ```

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tracer::Protocol;

#[path = "support/export.rs"]
#[allow(dead_code, unreachable_pub)] // shared with benches/callgrind.rs
mod export;

/// Below the batch size (512), so that queuing them does not start an export.
const SPANS: usize = 511;

fn export_thread(c: &mut Criterion) {
    let mut group = c.benchmark_group("export");
    group.throughput(Throughput::Elements(SPANS as u64));
    for (protocol, label) in [(Protocol::Grpc, "grpc"), (Protocol::HttpProtobuf, "http")] {
        for path in ["sdk", "ours"] {
            let guard = export::guard(path, protocol);
            // The first export opens the connection.
            export::make_spans(guard.tracer(), SPANS);
            guard.flush().expect("exported");
            group.bench_function(format!("{path}/{label}"), |b| {
                b.iter_batched(
                    || export::make_spans(guard.tracer(), SPANS),
                    |()| guard.flush().expect("exported"),
                    BatchSize::PerIteration,
                )
            });
            let stats = guard.stats();
            assert_eq!(stats.failed + stats.dropped, 0, "{path}/{label}: {stats:?}");
        }
    }
    group.finish();
}

criterion_group!(benches, export_thread);
criterion_main!(benches);
