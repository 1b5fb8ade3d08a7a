#!/bin/sh
# Runs fuzz targets one after the other, as recorded in docs/RELIABILITY.md:
#   fuzz/run.sh [target...]        (default: every target)
# Stable toolchain, no sanitizer (see docs/RELIABILITY.md), release with debug assertions.
# New inputs go to $WORK/<target> (outside the repository); the checked-in fuzz/corpus/<target>
# is read as seed corpus. Logs: $WORK/logs/<target>.log. Env: RUNS (default 10000000),
# MAX_TIME seconds per target (default 1500), TARGET_DIR.
set -eu
cd "$(dirname "$0")/.."
WORK=${WORK:-/work/fuzz-work}
RUNS=${RUNS:-10000000}
MAX_TIME=${MAX_TIME:-1500}
TARGET_DIR=${TARGET_DIR:-/work/target-fuzz-run}
targets=${*:-"sql_sanitize propagation params query_v3 query_v1 otlp_json otlp_protobuf trace_files \
    jaeger_agent_compact jaeger_agent_binary jaeger_thrift_http jaeger_proto zipkin_v1_thrift \
    zipkin_agent_compact zipkin_v2_proto zipkin_v1_json zipkin_v2_json sampling_strategies persist_record"}
mkdir -p "$WORK/logs"
for t in $targets; do
    # Longest input: past a few KiB these parsers only repeat themselves, slower; the SQL
    # sanitizer cuts its output at 4096 bytes, so its inputs go past that.
    case $t in
        query_*) dict=fuzz/dict/query.dict; max_len=1024 ;;
        params) dict=fuzz/dict/query.dict; max_len=512 ;;
        otlp_json) dict=fuzz/dict/otlp_json.dict; max_len=1024 ;;
        trace_files) dict=fuzz/dict/trace_files.dict; max_len=2048 ;;
        sql_sanitize) dict=; max_len=8192 ;;
        # A Jaeger or Zipkin batch of three spans with tags and logs is 0.5 to 1.5 KiB.
        jaeger_*|zipkin_*) dict=; max_len=4096 ;;
        sampling_strategies) dict=fuzz/dict/sampling_strategies.dict; max_len=2048 ;;
        # A record of a few spans with attributes, events and links is 0.2 to 1 KiB.
        persist_record) dict=; max_len=2048 ;;
        *) dict=; max_len=1024 ;;
    esac
    mkdir -p "$WORK/$t"
    echo "== $t $(date -u +%FT%TZ)" >"$WORK/logs/$t.log"
    nice -n 15 cargo fuzz run "$t" -O -a --sanitizer none --target-dir "$TARGET_DIR" \
        "$WORK/$t" "fuzz/corpus/$t" -- \
        -runs="$RUNS" -max_total_time="$MAX_TIME" -max_len="$max_len" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$WORK/logs/$t-" ${dict:+-dict=$dict} >>"$WORK/logs/$t.log" 2>&1 \
        || echo "!! $t exited with $?" >>"$WORK/logs/$t.log"
    echo "== end $(date -u +%FT%TZ)" >>"$WORK/logs/$t.log"
done
