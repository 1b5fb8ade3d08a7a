//! Fuzz harness: the trace-file import parsers (OTLP JSON lines or documents, Jaeger UI JSON)
//! that `POST /api/import`, `POST /api/transform` and `tracer-collector import` run on files.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/trace_files.rs` and the corpus replay test
//! `crates/tracer-collector/tests/fuzz_corpus.rs` (included there with `#[path]`).
//!
//! Any input either parses or gives an error naming a line (never a panic). What parses is
//! stored as `/api/import` stores it (the OTLP ingest path) into a store bounded to a few spans,
//! then read back as `/api/traces` serves it; that Jaeger JSON must parse again as a trace file
//! (the promise behind "export, then import elsewhere"), with the same number of spans.

use std::num::NonZeroUsize;
use tracer_collector::files::parse::{ParseError, parse};
use tracer_collector::ingest;
use tracer_collector::query::convert::to_jaeger;
use tracer_collector::store::{Store, StoreLimits, TraceQuery};

fn small_store() -> Store {
    Store::new(StoreLimits {
        max_spans: NonZeroUsize::new(64).expect("non-zero"),
        max_bytes: NonZeroUsize::new(256 << 10).expect("non-zero"),
    })
}

/// Runs one file.
pub(crate) fn run(data: &[u8]) {
    let file = match parse(data) {
        Ok(file) => file,
        Err(e) => {
            let message = e.to_string();
            let named = matches!(e, ParseError::Empty | ParseError::TooManyDocuments)
                || message.starts_with("line ");
            assert!(named, "an error without its line: {message}");
            return;
        }
    };
    let store = small_store();
    for request in &file.requests {
        let _ = ingest::store_request(&store, request);
    }
    let traces = store.search(&TraceQuery::default());
    for trace in &traces {
        let jaeger = to_jaeger(&store, trace);
        let spans = jaeger.spans.len();
        let doc = serde_json::to_vec(&serde_json::json!({ "data": [jaeger] }))
            .expect("the Jaeger model serializes");
        let again =
            parse(&doc).unwrap_or_else(|e| panic!("served Jaeger JSON is not accepted back: {e}"));
        let copy = small_store();
        let mut accepted = 0;
        for request in &again.requests {
            let outcome = ingest::store_request(&copy, request);
            accepted += outcome.accepted;
            assert_eq!(outcome.rejected, 0, "re-imported: {}", outcome.message);
        }
        assert_eq!(accepted, spans, "served Jaeger JSON re-imported");
    }
}
