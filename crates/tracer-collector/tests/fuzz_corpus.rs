//! The checked-in fuzz corpus of the collector's parsers replays cleanly on the stable
//! toolchain: every input in `fuzz/corpus/{otlp_protobuf,otlp_json,query_v1,query_v3,params,trace_files}/`
//! runs through the same harness code as the fuzz target (`fuzz/harness/*.rs`, shared with
//! `#[path]`), so CI guards what the fuzzers found. How the fuzzers run: docs/RELIABILITY.md.

#[path = "../../../fuzz/harness/otlp.rs"]
mod otlp;
#[path = "../../../fuzz/harness/params.rs"]
mod params;
#[path = "../../../fuzz/harness/query.rs"]
mod query;
#[path = "../../../fuzz/harness/replay.rs"]
mod replay;
#[path = "../../../fuzz/harness/trace_files.rs"]
mod trace_files;

use replay::replay;

#[test]
fn otlp_protobuf_corpus_replays_without_a_crash() {
    replay(env!("CARGO_MANIFEST_DIR"), "otlp_protobuf", otlp::protobuf);
}

#[test]
fn otlp_json_corpus_replays_without_a_crash() {
    replay(env!("CARGO_MANIFEST_DIR"), "otlp_json", otlp::json);
}

#[test]
fn query_v1_corpus_replays_without_a_crash() {
    replay(env!("CARGO_MANIFEST_DIR"), "query_v1", query::v1);
}

#[test]
fn query_v3_corpus_replays_without_a_crash() {
    replay(env!("CARGO_MANIFEST_DIR"), "query_v3", query::v3);
}

#[test]
fn params_corpus_replays_without_a_crash() {
    replay(env!("CARGO_MANIFEST_DIR"), "params", params::run);
}

#[test]
fn trace_files_corpus_replays_without_a_crash() {
    replay(env!("CARGO_MANIFEST_DIR"), "trace_files", trace_files::run);
}
