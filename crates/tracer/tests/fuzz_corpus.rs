//! The checked-in fuzz corpus of the library's parsers replays cleanly on the stable toolchain:
//! every input in `fuzz/corpus/{propagation,sql_sanitize}/` runs through the same harness code
//! as the fuzz target (`fuzz/harness/*.rs`, shared with `#[path]`), so CI guards what the
//! fuzzers found. How the fuzzers run: docs/RELIABILITY.md.

#[path = "../../../fuzz/harness/propagation.rs"]
mod propagation;
#[path = "../../../fuzz/harness/replay.rs"]
mod replay;
#[path = "../../../fuzz/harness/sql.rs"]
mod sql;

use replay::replay;

#[test]
fn propagation_corpus_replays_without_a_crash() {
    replay(env!("CARGO_MANIFEST_DIR"), "propagation", propagation::run);
}

#[test]
fn sql_sanitize_corpus_replays_without_a_crash() {
    replay(env!("CARGO_MANIFEST_DIR"), "sql_sanitize", sql::run);
}
