//! Ingest (decode + store) as one deterministic run, for instruction counts under callgrind,
//! which repeat where the shared machine's wall and CPU times do not.
//!
//! The payloads are the collector bench's realistic spans (`support/workload.rs`: 10 attributes,
//! 2 events, 8 spans per trace, 512 per batch), built with a fixed clock, in the format
//! `INGEST_FORMAT` names: `otlp` (protobuf, the default), `jaeger_compact` (an agent
//! `emitBatch` datagram, the 6831 path) or `zipkin_json` (a v2 JSON list, the 9411 path), written
//! as clients write them (`support/foreign.rs`). Only `ingest_all` is measured (counts taken
//! before this bench shared the workload used other service names, a few instructions per batch
//! apart):
//!
//! ```text
//! cargo bench -p tracer-collector --bench ingest_callgrind --no-run
//! INGEST_FORMAT=jaeger_compact valgrind --tool=callgrind --toggle-collect='*ingest_all*' \
//!     --callgrind-out-file=/tmp/cg.out target/release/deps/ingest_callgrind-*
//! ```
//!
//! Results: `docs/bench/collector.md`.

use std::hint::black_box;

use prost::Message;
use tracer_collector::ingest::receiver::Format;
use tracer_collector::store::{Store, StoreLimits};

#[path = "support/foreign.rs"]
mod foreign;
#[path = "../tests/common/jaeger_wire.rs"]
mod jaeger_wire;
#[path = "support/workload.rs"]
mod workload;

const BATCHES: usize = 32;
const BASE_NS: u64 = 1_764_000_000_000_000_000;

/// The measured part: every payload decoded and stored.
#[inline(never)]
fn ingest_all(store: &Store, format: Option<Format>, payloads: &[Vec<u8>]) -> usize {
    let mut accepted = 0;
    for payload in payloads {
        accepted += black_box(foreign::store_one(store, format, payload));
    }
    accepted
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let name = std::env::var("INGEST_FORMAT").unwrap_or_else(|_| "otlp".into());
    let batches = (0..BATCHES).map(|n| workload::batch(n, BASE_NS));
    let (format, payloads): (Option<Format>, Vec<Vec<u8>>) = match name.as_str() {
        "otlp" => (None, batches.map(|b| b.encode_to_vec()).collect()),
        "jaeger_compact" => (
            Some(Format::JaegerAgentCompact),
            batches.flat_map(|b| foreign::jaeger_compact(&b)).collect(),
        ),
        "zipkin_json" => (
            Some(Format::ZipkinV2Json),
            batches.map(|b| foreign::zipkin_json_v2(&b)).collect(),
        ),
        other => panic!("INGEST_FORMAT={other:?}: use otlp, jaeger_compact or zipkin_json"),
    };
    let store = Store::new(StoreLimits::default());
    let accepted = ingest_all(&store, format, &payloads);
    assert_eq!(accepted, BATCHES * workload::SPANS_PER_BATCH);
    println!(
        "ingest_callgrind {name}: {accepted} spans in {BATCHES} batches, {} bytes",
        payloads.iter().map(Vec::len).sum::<usize>()
    );
}
