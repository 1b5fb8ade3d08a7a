//! The checked-in thrift code (`src/ingest/gen/`) matches the IDL files in `thrift/`: each
//! generated file records the FNV-1a 64 hash of its IDL input, and this test recomputes it.
//! When it fails, run `crates/tracer-collector/thrift/generate.sh` (needs Debian's
//! `thrift-compiler` 0.17) and commit the result.

use std::path::Path;

fn fnv1a64(data: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[test]
fn generated_thrift_code_is_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in ["jaeger", "zipkincore", "agent"] {
        let idl = std::fs::read(root.join(format!("thrift/{name}.thrift"))).unwrap();
        let generated =
            std::fs::read_to_string(root.join(format!("src/ingest/gen/{name}.rs"))).unwrap();
        let recorded = generated
            .lines()
            .take(10)
            .find_map(|l| l.strip_prefix("// idl-fnv1a64: "))
            .unwrap_or_else(|| panic!("src/ingest/gen/{name}.rs has no idl-fnv1a64 header line"));
        assert_eq!(
            recorded,
            fnv1a64(&idl),
            "thrift/{name}.thrift changed since src/ingest/gen/{name}.rs was generated: run \
             crates/tracer-collector/thrift/generate.sh"
        );
        assert!(
            !generated.contains("Vec::with_capacity(list_ident.size"),
            "src/ingest/gen/{name}.rs sizes a vector from a wire count: run thrift/generate.sh"
        );
    }
}
