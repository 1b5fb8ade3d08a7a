#!/usr/bin/env bash
# Regenerates src/ingest/gen/jaeger_api_v2.rs from the proto files in jaeger/api_v2/ (copied
# unchanged from jaegertracing/jaeger-idl `proto/api_v2/`), so that no build needs protoc.
#
#   apt-get install -y protobuf-compiler    # Debian's protoc 3.21 and google/protobuf/*.proto
#   crates/tracer-collector/proto/generate.sh
#
# The script builds a throwaway crate (in a temporary folder) whose build script runs
#   tonic_prost_build::configure().build_server(false).compile_protos(...)
# with tonic-prost-build =0.14.9 (the tonic train the collector uses). Before compiling, the
# Go-only annotations are removed from temporary copies of the protos: the gogoproto imports,
# options and field options, and the google.api.http rule of each rpc (neither changes the
# wire format; prost needs neither). The result gets a header recording the FNV-1a 64 hash of
# the three proto files; `tests/jaeger_proto_gen_fresh.rs` recomputes it and fails when a
# proto changed without regenerating.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../src/ingest/gen/jaeger_api_v2.rs}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/proto" "$tmp/src"
python3 - "$here/jaeger/api_v2" "$tmp/proto" <<'PY'
import pathlib, re, sys
src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for name in ("model.proto", "collector.proto", "sampling.proto"):
    text = (src / name).read_text()
    text = re.sub(r'import "(gogoproto/gogo|google/api/annotations)\.proto";\n', "", text)
    text = re.sub(r"option \(gogoproto\.\w+\) = true;\n", "", text)
    text = re.sub(r"\s*\[\s*\(gogoproto\.[^\]]*\]", "", text)
    text = re.sub(r"\{\s*option \(google\.api\.http\) = \{[^}]*\};\s*\}", "{}", text)
    assert "(gogoproto." not in text and "google.api" not in text, name
    (dst / name).write_text(text)
PY
cat > "$tmp/Cargo.toml" <<'TOML'
[package]
name = "jaeger-proto-gen"
version = "0.0.0"
edition = "2024"
publish = false
[build-dependencies]
tonic-prost-build = "=0.14.9"
[workspace]
TOML
echo "fn main() {}" > "$tmp/src/main.rs"
cat > "$tmp/build.rs" <<'RS'
fn main() {
    std::fs::create_dir_all("gen").unwrap();
    tonic_prost_build::configure()
        .build_server(false)
        .out_dir("gen")
        .compile_protos(
            &["proto/model.proto", "proto/collector.proto", "proto/sampling.proto"],
            &["proto"],
        )
        .unwrap();
}
RS
(cd "$tmp" && CARGO_TARGET_DIR="$tmp/target" cargo build --quiet)
fnv() { python3 -c 'import sys
h = 0xcbf29ce484222325
for f in sys.argv[1:]:
    for b in open(f, "rb").read():
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
print(f"{h:016x}")' "$@"; }
{
    echo "// Generated from crates/tracer-collector/proto/jaeger/api_v2/{model,collector,sampling}.proto"
    echo "// (jaegertracing/jaeger-idl) by crates/tracer-collector/proto/generate.sh: tonic-prost-build"
    echo "// =0.14.9 with $(protoc --version), Go-only annotations removed first; do not edit."
    echo "// proto-fnv1a64: $(fnv "$here"/jaeger/api_v2/{model,collector,sampling}.proto)"
    cat "$tmp/gen/jaeger.api_v2.rs"
} > "$out"
rustfmt --edition 2024 "$out"
echo "regenerated $out"
