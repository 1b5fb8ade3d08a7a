//! The checked-in Jaeger protobuf code (`src/ingest/gen/jaeger_api_v2.rs`) matches the proto
//! files in `proto/jaeger/api_v2/`: the generated file records the FNV-1a 64 hash of the three
//! protos, and this test recomputes it. When it fails, run
//! `crates/tracer-collector/proto/generate.sh` (needs Debian's `protobuf-compiler`) and commit
//! the result.

use std::path::Path;

#[test]
fn generated_jaeger_proto_code_is_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for name in ["model", "collector", "sampling"] {
        let proto = std::fs::read(root.join(format!("proto/jaeger/api_v2/{name}.proto"))).unwrap();
        for b in proto {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    let generated = std::fs::read_to_string(root.join("src/ingest/gen/jaeger_api_v2.rs")).unwrap();
    let recorded = generated
        .lines()
        .take(10)
        .find_map(|l| l.strip_prefix("// proto-fnv1a64: "))
        .expect("src/ingest/gen/jaeger_api_v2.rs has a proto-fnv1a64 header line");
    assert_eq!(
        recorded,
        format!("{h:016x}"),
        "proto/jaeger/api_v2/*.proto changed since src/ingest/gen/jaeger_api_v2.rs was \
         generated: run crates/tracer-collector/proto/generate.sh"
    );
}
