//! The checked-in fuzz corpus of the collector's parsers replays cleanly on the stable
//! toolchain: every input in
//! `fuzz/corpus/{otlp_protobuf,otlp_json,query_v1,query_v3,params,trace_files}/` and in the
//! receivers' corpora (`jaeger_*`, `zipkin_*`, `sampling_strategies`) and the durable log's
//! record decoder (`persist_record`) runs through the same
//! harness code as the fuzz target (`fuzz/harness/*.rs`, shared with `#[path]`), so CI guards
//! what the fuzzers found. How the fuzzers run: docs/RELIABILITY.md.

#[path = "../../../fuzz/harness/otlp.rs"]
mod otlp;
#[path = "../../../fuzz/harness/params.rs"]
mod params;
#[path = "../../../fuzz/harness/persist_record.rs"]
mod persist_record;
#[path = "../../../fuzz/harness/query.rs"]
mod query;
#[path = "../../../fuzz/harness/receivers.rs"]
mod receivers;
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
fn jaeger_agent_compact_corpus_replays_without_a_crash() {
    replay(
        env!("CARGO_MANIFEST_DIR"),
        "jaeger_agent_compact",
        receivers::jaeger_agent_compact,
    );
}

#[test]
fn jaeger_agent_binary_corpus_replays_without_a_crash() {
    replay(
        env!("CARGO_MANIFEST_DIR"),
        "jaeger_agent_binary",
        receivers::jaeger_agent_binary,
    );
}

#[test]
fn jaeger_thrift_http_corpus_replays_without_a_crash() {
    replay(
        env!("CARGO_MANIFEST_DIR"),
        "jaeger_thrift_http",
        receivers::jaeger_thrift_http,
    );
}

#[test]
fn jaeger_proto_corpus_replays_without_a_crash() {
    replay(
        env!("CARGO_MANIFEST_DIR"),
        "jaeger_proto",
        receivers::jaeger_proto,
    );
}

#[test]
fn zipkin_v1_thrift_corpus_replays_without_a_crash() {
    replay(
        env!("CARGO_MANIFEST_DIR"),
        "zipkin_v1_thrift",
        receivers::zipkin_v1_thrift,
    );
}

#[test]
fn zipkin_agent_compact_corpus_replays_without_a_crash() {
    replay(
        env!("CARGO_MANIFEST_DIR"),
        "zipkin_agent_compact",
        receivers::zipkin_agent_compact,
    );
}

#[test]
fn zipkin_v2_proto_corpus_replays_without_a_crash() {
    replay(
        env!("CARGO_MANIFEST_DIR"),
        "zipkin_v2_proto",
        receivers::zipkin_v2_proto,
    );
}

#[test]
fn zipkin_v1_json_corpus_replays_without_a_crash() {
    replay(
        env!("CARGO_MANIFEST_DIR"),
        "zipkin_v1_json",
        receivers::zipkin_v1_json,
    );
}

#[test]
fn zipkin_v2_json_corpus_replays_without_a_crash() {
    replay(
        env!("CARGO_MANIFEST_DIR"),
        "zipkin_v2_json",
        receivers::zipkin_v2_json,
    );
}

#[test]
fn sampling_strategies_corpus_replays_without_a_crash() {
    replay(
        env!("CARGO_MANIFEST_DIR"),
        "sampling_strategies",
        receivers::sampling_strategies,
    );
}

#[test]
fn trace_files_corpus_replays_without_a_crash() {
    replay(env!("CARGO_MANIFEST_DIR"), "trace_files", trace_files::run);
}

#[test]
fn persist_record_corpus_replays_without_a_crash() {
    replay(
        env!("CARGO_MANIFEST_DIR"),
        "persist_record",
        persist_record::run,
    );
}

#[test]
fn the_hand_made_persist_record_seeds_decode() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/persist_record");
    for seed in ["seed-000.bin", "seed-001.bin"] {
        let data = std::fs::read(dir.join(seed)).unwrap();
        assert!(
            persist_record::decodes(&data),
            "{seed} does not decode: regenerate it with fuzz/make_seeds.py"
        );
    }
}
