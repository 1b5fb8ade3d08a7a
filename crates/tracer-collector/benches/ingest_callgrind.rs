//! OTLP protobuf ingest (decode + store) as one deterministic run, for instruction counts under
//! callgrind, which repeat where the shared machine's wall and CPU times do not.
//!
//! The payloads are the collector bench's realistic spans (`support/workload.rs`: 10 attributes,
//! 2 events, 8 spans per trace, 512 per batch), built with a fixed clock; only `ingest_all` is
//! measured (counts taken before this bench shared the workload used other service names, a few
//! instructions per batch apart):
//!
//! ```text
//! cargo bench -p tracer-collector --bench ingest_callgrind --no-run
//! valgrind --tool=callgrind --toggle-collect='*ingest_all*' --callgrind-out-file=/tmp/cg.out \
//!     target/release/deps/ingest_callgrind-*
//! ```
//!
//! Results: `docs/bench/collector.md`.

use std::hint::black_box;

use prost::Message;
use tracer_collector::ingest::store_protobuf;
use tracer_collector::store::{Store, StoreLimits};

#[path = "support/workload.rs"]
mod workload;

const BATCHES: usize = 32;
const BASE_NS: u64 = 1_764_000_000_000_000_000;

fn payload(number: usize) -> Vec<u8> {
    workload::batch(number, BASE_NS).encode_to_vec()
}

/// The measured part: every payload decoded and stored.
#[inline(never)]
fn ingest_all(store: &Store, payloads: &[Vec<u8>]) -> usize {
    let mut accepted = 0;
    for payload in payloads {
        accepted += black_box(store_protobuf(store, payload).expect("valid payload")).accepted;
    }
    accepted
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let payloads: Vec<Vec<u8>> = (0..BATCHES).map(payload).collect();
    let store = Store::new(StoreLimits::default());
    let accepted = ingest_all(&store, &payloads);
    assert_eq!(accepted, BATCHES * workload::SPANS_PER_BATCH);
    println!(
        "ingest_callgrind: {accepted} spans in {BATCHES} batches, {} bytes protobuf",
        payloads.iter().map(Vec::len).sum::<usize>()
    );
}
