#!/usr/bin/env bash
# Regenerates src/ingest/gen/{jaeger,zipkincore,agent}.rs from the IDL files in this folder
# (copied unchanged from jaegertracing/jaeger-idl `thrift/`).
#
#   apt-get install -y thrift-compiler    # Debian's Apache Thrift compiler, 0.17.0
#   crates/tracer-collector/thrift/generate.sh
#
# Two edits are made to the compiler's output, so the code fits the `thrift` crate we use and a
# hostile length field cannot make it allocate:
#   - `use crate::X;` becomes `use super::X;` (the modules live in `ingest::gen`, not the root);
#   - `Vec::with_capacity(list_ident.size as usize)` becomes `Vec::new()`: the declared element
#     count comes off the wire, so it must not size an allocation (the vector grows as elements
#     actually decode, and a truncated payload fails before it grows far).
# Each file gets a header recording the FNV-1a 64 hash of its IDL input; the test
# `tests/thrift_gen_fresh.rs` recomputes it and fails when an IDL changed without regenerating.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../src/ingest/gen}"
version="$(thrift --version)"
[ "$version" = "Thrift version 0.17.0" ] || echo "warning: expected Thrift version 0.17.0, have $version" >&2
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fnv() { python3 -c 'import sys
h = 0xcbf29ce484222325
for b in open(sys.argv[1], "rb").read():
    h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
print(f"{h:016x}")' "$1"; }
for name in jaeger zipkincore agent; do
    thrift --gen rs -out "$tmp" "$here/$name.thrift" 2>/dev/null
    {
        echo "// Generated from crates/tracer-collector/thrift/$name.thrift (jaegertracing/jaeger-idl)"
        echo "// by \`$version\` (\`thrift --gen rs\`) and crates/tracer-collector/thrift/generate.sh;"
        echo "// do not edit: run that script to regenerate."
        echo "// idl-fnv1a64: $(fnv "$here/$name.thrift")"
        sed -e 's/^use crate::\([a-z_]*\);/use super::\1;/' \
            -e 's/Vec::with_capacity(list_ident\.size as usize)/Vec::new()/' \
            "$tmp/$name.rs"
    } > "$out/$name.rs"
done
echo "regenerated $(cd "$out" && pwd)/{jaeger,zipkincore,agent}.rs"
