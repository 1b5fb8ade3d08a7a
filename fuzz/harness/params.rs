//! Fuzz harness: the query-string parsers shared by the Jaeger v1 and v3 handlers
//! (`tracer_collector::query::params`): [`QueryParams::parse`], [`parse_go_duration`] and
//! [`parse_rfc3339`], called directly.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/params.rs` and the corpus replay test
//! `crates/tracer-collector/tests/fuzz_corpus.rs` (included there with `#[path]`).
//!
//! Input: (lossy) UTF-8 text. It is parsed as a query string, and the whole text as well as
//! every decoded value is parsed as a duration and as a timestamp. Nothing may panic, and the
//! parsers are pure: the same text gives the same answer twice.

use tracer_collector::query::params::{QueryParams, parse_go_duration, parse_rfc3339};

/// Runs one input (see the module docs).
pub(crate) fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    scalars(&text);
    let q = QueryParams::parse(Some(&text));
    for name in [
        "service",
        "query.start_time_min",
        "lookback",
        "tag",
        "traceID",
        "",
    ] {
        if let Some(v) = q.get(name) {
            assert!(!v.is_empty(), "get({name:?}) returned an empty value");
            scalars(v);
        }
        for v in q.all(name) {
            scalars(v);
        }
    }
    for (key, value) in q.with_prefix("query.attributes[") {
        scalars(key);
        scalars(value);
    }
    // Every pair is reachable with an empty prefix.
    for (key, value) in q.with_prefix("") {
        scalars(key);
        scalars(value);
    }
}

fn scalars(s: &str) {
    let duration = parse_go_duration(s);
    assert_eq!(duration, parse_go_duration(s));
    let time = parse_rfc3339(s);
    assert_eq!(time, parse_rfc3339(s));
}
