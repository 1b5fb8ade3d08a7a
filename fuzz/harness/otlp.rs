//! Fuzz harness: OTLP ingest (protobuf and JSON) into a small store, then the read path.
//!
//! Shared by the fuzz targets `fuzz/fuzz_targets/otlp_{protobuf,json}.rs` and the corpus
//! replay test `crates/tracer-collector/tests/fuzz_corpus.rs` (included there with `#[path]`).
//!
//! The payload goes through the same functions the OTLP endpoints call
//! ([`ingest::store_protobuf`], [`ingest::decode`] + [`ingest::store_request`]) into a store
//! bounded to a few spans, so eviction runs too. Whatever was stored is then read back as the
//! query API does: search, services, operations, dependencies, the Jaeger model and OTLP JSON,
//! trace summaries. What the API serves as OTLP must be accepted again, span for span, by
//! both ingest paths (an interop promise: `/api/v3` output can be re-exported).

use opentelemetry_proto::tonic::trace::v1::TracesData;
use prost::Message;
use std::num::NonZeroUsize;
use tracer_collector::ingest::{self, Encoding};
use tracer_collector::query::convert::{to_jaeger, to_otlp, to_summaries};
use tracer_collector::store::{Store, StoreLimits, TraceQuery};

/// A store bounded to a few spans, so eviction runs too.
pub(crate) fn small_store() -> Store {
    Store::new(StoreLimits {
        max_spans: NonZeroUsize::new(64).expect("non-zero"),
        max_bytes: NonZeroUsize::new(256 << 10).expect("non-zero"),
    })
}

/// Runs one protobuf payload.
pub(crate) fn protobuf(data: &[u8]) {
    let store = small_store();
    let _ = ingest::store_protobuf(&store, data);
    read_back(&store);
}

/// Runs one OTLP/JSON payload.
pub(crate) fn json(data: &[u8]) {
    let store = small_store();
    if let Ok(request) = ingest::decode(data, Encoding::Json) {
        let _ = ingest::store_request(&store, &request);
    }
    read_back(&store);
}

/// Reads back whatever `store` holds the way the query API does, and re-ingests what it serves
/// as OTLP (JSON and protobuf), which must be accepted span for span.
pub(crate) fn read_back(store: &Store) {
    let traces = store.search(&TraceQuery::default());
    let spans: usize = traces.iter().map(|t| t.span_count()).sum();
    for trace in &traces {
        let found = store
            .trace(trace.trace_id)
            .expect("a trace found by search is readable");
        let jaeger = to_jaeger(store, &found);
        serde_json::to_vec(&jaeger).expect("the Jaeger model serializes");
    }
    let summaries = to_summaries(store, &traces);
    serde_json::to_vec(&summaries).expect("summaries serialize");
    let _ = store.services();
    let _ = store.operations(None, None);
    let _ = store.dependencies(0, u64::MAX);
    let _ = store.stats();

    let served: TracesData = to_otlp(store, &traces);
    let json = serde_json::to_vec(&served).expect("OTLP JSON serializes");
    let request = ingest::decode(&json, Encoding::Json)
        .unwrap_or_else(|e| panic!("served OTLP JSON is not accepted back: {e}"));
    let copy = small_store();
    let outcome = ingest::store_request(&copy, &request);
    assert_eq!(
        (outcome.accepted, outcome.rejected),
        (spans, 0),
        "served OTLP JSON re-ingested: {}",
        outcome.message
    );
    let copy = small_store();
    let outcome = ingest::store_protobuf(&copy, &served.encode_to_vec())
        .unwrap_or_else(|e| panic!("served OTLP protobuf is not accepted back: {e}"));
    assert_eq!(
        (outcome.accepted, outcome.rejected),
        (spans, 0),
        "served OTLP protobuf re-ingested: {}",
        outcome.message
    );
}
