//! Fuzz harness: the durable span log's record decoder (`persist::record`), then the store.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/persist_record.rs` and the corpus replay test
//! `crates/tracer-collector/tests/fuzz_corpus.rs` (included there with `#[path]`).
//!
//! A record read back from a damaged or hostile data directory passed its checksum but may
//! hold anything: decoding must never panic, and whatever decodes must (1) encode to a
//! canonical form that decodes and re-encodes to the same bytes, and (2) go through
//! `Store::prepare` / `Store::insert` and the read path like a live batch, as replay does.

use std::num::NonZeroUsize;
use tracer_collector::persist::record;
use tracer_collector::query::convert::to_jaeger;
use tracer_collector::store::{Store, StoreLimits, TraceQuery};

/// Runs one record payload.
pub(crate) fn run(data: &[u8]) {
    let Ok(batch) = record::decode(data) else {
        return;
    };
    let mut once = Vec::new();
    record::encode(&batch, &mut once);
    let again = record::decode(&once).expect("what the encoder writes decodes");
    let mut twice = Vec::new();
    record::encode(&again, &mut twice);
    assert_eq!(once, twice, "the encoding is canonical after one round");

    let store = Store::new(StoreLimits {
        max_spans: NonZeroUsize::new(64).expect("non-zero"),
        max_bytes: NonZeroUsize::new(256 << 10).expect("non-zero"),
    });
    store.insert(store.prepare(&batch));
    for trace in store.search(&TraceQuery::default()) {
        let found = store
            .trace(trace.trace_id)
            .expect("a trace found by search is readable");
        serde_json::to_vec(&to_jaeger(&store, &found)).expect("the Jaeger model serializes");
    }
    let _ = store.services();
}

/// Whether `data` decodes (the hand-made seeds must, or the fuzzer starts from noise).
pub(crate) fn decodes(data: &[u8]) -> bool {
    record::decode(data).is_ok()
}
