#!/usr/bin/env python3
"""Writes the hand-made seed inputs into fuzz/corpus/<target>/ (seed-*.bin).

The fuzzers start from these; the checked-in corpus is what `cargo fuzz cmin` kept after the
recorded runs (docs/RELIABILITY.md). Run from the repository root: python3 fuzz/make_seeds.py
"""
import json
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, items):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    for i, data in enumerate(items):
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(d, f"seed-{i:03}.bin"), "wb") as f:
            f.write(data)


# --- protobuf, by hand (wire types: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32) ---
def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def tag(field, wire):
    return varint(field << 3 | wire)


def ld(field, payload):
    if isinstance(payload, str):
        payload = payload.encode()
    return tag(field, 2) + varint(len(payload)) + payload


def vi(field, n):
    return tag(field, 0) + varint(n)


def f64(field, n):
    return tag(field, 1) + struct.pack("<Q", n)


def f32(field, n):
    return tag(field, 5) + struct.pack("<I", n)


def any_str(s):
    return ld(1, s)


def kv(key, value_bytes):
    return ld(1, key) + ld(2, value_bytes)


def attrs(field):
    return (
        ld(field, kv("service.name", any_str("svc")))
        + ld(field, kv("n", vi(3, 42)))
        + ld(field, kv("b", vi(2, 1)))
        + ld(field, kv("d", tag(4, 1) + struct.pack("<d", 1.5)))
        + ld(field, kv("arr", ld(5, ld(1, any_str("x")) + ld(1, vi(3, 7)))))
        + ld(field, kv("kv", ld(6, ld(1, kv("inner", any_str("y"))))))
        + ld(field, kv("bytes", ld(7, b"\x00\xff")))
    )


T1 = bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736")
T2 = bytes.fromhex("0000000000000000000000000000abcd")
S = [bytes.fromhex(f"{i:016x}") for i in range(1, 6)]
START = 1_700_000_000_000_000_000


def span(trace, sid, parent, name, kind, off, extra=b""):
    return (
        ld(1, trace)
        + ld(2, sid)
        + (ld(3, "k=v") if kind == 2 else b"")
        + (ld(4, parent) if parent else b"")
        + ld(5, name)
        + vi(6, kind)
        + f64(7, START + off)
        + f64(8, START + off + 1_000_000)
        + attrs(9)
        + extra
    )


event = ld(11, f64(1, START + 5) + ld(2, "exception") + attrs(3))
link = ld(13, ld(1, T2) + ld(2, S[4]) + ld(3, "a=b") + attrs(4))
status = ld(15, ld(2, "boom") + vi(3, 2))


def request(spans_by_service):
    out = b""
    for service, spans in spans_by_service:
        resource = ld(1, ld(1, kv("service.name", any_str(service))))
        scope = ld(2, ld(1, ld(1, "lib") + ld(2, "1.0")) + b"".join(ld(2, s) for s in spans))
        out += ld(1, resource + scope)
    return out


pb = [
    request([("frontend", [span(T1, S[0], None, "GET /", 2, 0, event + status)])]),
    request(
        [
            ("frontend", [span(T1, S[0], None, "GET /", 2, 0), span(T1, S[1], S[0], "call", 3, 10, link)]),
            ("backend", [span(T1, S[2], S[1], "POST /x", 2, 20, f32(16, 0x301))]),
        ]
    ),
    request([("a", [span(T2, S[3], None, "op", 1, 0)])]),
    request([("a", [span(b"\x00" * 16, S[3], None, "bad id", 1, 0)])]),
    b"",
]
write("otlp_protobuf", pb)


# --- OTLP JSON ---
def jattrs():
    return [
        {"key": "service.name", "value": {"stringValue": "svc"}},
        {"key": "n", "value": {"intValue": "42"}},
        {"key": "b", "value": {"boolValue": True}},
        {"key": "d", "value": {"doubleValue": 1.5}},
        {"key": "arr", "value": {"arrayValue": {"values": [{"stringValue": "x"}]}}},
        {"key": "kv", "value": {"kvlistValue": {"values": [{"key": "i", "value": {"stringValue": "y"}}]}}},
        {"key": "bytes", "value": {"bytesValue": "AP8="}},
    ]


def jspan(trace, sid, parent, name, kind, off):
    return {
        "traceId": trace.hex(),
        "spanId": sid.hex(),
        "parentSpanId": parent.hex() if parent else "",
        "traceState": "k=v",
        "name": name,
        "kind": kind,
        "startTimeUnixNano": str(START + off),
        "endTimeUnixNano": str(START + off + 1_000_000),
        "attributes": jattrs(),
        "events": [{"timeUnixNano": str(START + 5), "name": "exception", "attributes": jattrs()}],
        "links": [{"traceId": T2.hex(), "spanId": S[4].hex(), "attributes": jattrs()}],
        "status": {"code": 2, "message": "boom"},
        "flags": 769,
    }


def jrequest(spans_by_service):
    return json.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": s}}]},
                    "scopeSpans": [{"scope": {"name": "lib", "version": "1"}, "spans": spans}],
                }
                for s, spans in spans_by_service
            ]
        }
    )


write(
    "otlp_json",
    [
        jrequest([("frontend", [jspan(T1, S[0], None, "GET /", 2, 0)])]),
        jrequest(
            [
                ("frontend", [jspan(T1, S[0], None, "GET /", 2, 0), jspan(T1, S[1], S[0], "call", 3, 10)]),
                ("backend", [jspan(T1, S[2], S[1], "POST /x", 2, 20)]),
            ]
        ),
        '{"resourceSpans":[]}',
        '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"","spanId":"","name":"x"}]}]}]}',
        "{}",
    ],
)

# --- trace files: OTLP JSON lines or documents, Jaeger UI JSON (fuzz/harness/trace_files.rs) ---
ONE = jrequest([("frontend", [jspan(T1, S[0], None, "GET /", 2, 0)])])
TWO = jrequest([("backend", [jspan(T2, S[2], None, "POST /x", 2, 20)])])


def jaeger_trace(bare=False):
    tid = T1.hex()
    trace = {
        "traceID": tid,
        "spans": [
            {"traceID": tid, "spanID": S[0].hex(), "flags": 1, "operationName": "GET /",
             "references": [], "startTime": START // 1000, "duration": 1200,
             "tags": [{"key": "otel.scope.name", "type": "string", "value": "lib"},
                      {"key": "span.kind", "type": "string", "value": "server"},
                      {"key": "n", "type": "int64", "value": 3},
                      {"key": "big", "type": "int64", "value": "9007199254740993"},
                      {"key": "r", "type": "float64", "value": 0.5},
                      {"key": "raw", "type": "binary", "value": "AQID"},
                      {"key": "ok", "type": "bool", "value": True},
                      {"key": "otel.status_code", "type": "string", "value": "ERROR"},
                      {"key": "error", "type": "bool", "value": True}],
             "logs": [{"timestamp": START // 1000 + 5, "fields": [
                 {"key": "event", "type": "string", "value": "exception"},
                 {"key": "exception.type", "type": "string", "value": "E"}]}],
             "processID": "p1", "warnings": None},
            {"traceID": tid, "spanID": S[1].hex(), "operationName": "call",
             "references": [{"refType": "CHILD_OF", "traceID": tid, "spanID": S[0].hex()},
                            {"refType": "FOLLOWS_FROM", "traceID": T2.hex(), "spanID": S[3].hex()}],
             "startTime": START // 1000 + 10, "duration": 100, "tags": [], "logs": [],
             "processID": "p2"},
        ],
        "processes": {"p1": {"serviceName": "frontend", "tags": [{"key": "host", "type": "string", "value": "h"}]},
                      "p2": {"serviceName": "backend", "tags": []}},
        "warnings": None,
    }
    return json.dumps(trace if bare else {"data": [trace], "total": 1, "limit": 0, "offset": 0, "errors": None})


write(
    "trace_files",
    [
        ONE,
        ONE + "\n" + TWO + "\n",
        json.dumps(json.loads(ONE), indent=2),
        jaeger_trace(),
        jaeger_trace(bare=True),
        '{"data": null, "errors": [{"code": 404, "msg": "trace not found"}]}',
        ONE + "\n{\"resourceSpans\": [\n",
        '{"data":[{"traceID":"ab","spans":[{"spanID":"01","processID":"p9"}],"processes":{}}]}',
        "\ufeff" + ONE,
        "",
    ],
)

# --- query API: first byte = endpoint index (see fuzz/harness/query.rs) ---
T1H, T2H = T1.hex(), T2.hex()
v1 = [
    (0, "service=frontend"),
    (0, "service=frontend&operation=GET%20%2Fcheckout&limit=20&lookback=1h"),
    (0, "service=frontend&start=0&end=9999999999999999&minDuration=1ms&maxDuration=2s"),
    (0, "service=frontend&tag=http.route:%2Fcheckout&tag=error:true"),
    (0, 'service=frontend&tags={"user":"u-1","n":1,"b":true}'),
    (0, f"traceID={T1H}&traceID={T2H}&traceID=zz"),
    (0, "service=payments&lookback=custom&start=1&end=2&limit=-1"),
    (1, T1H),
    (1, T2H),
    (1, "abcd"),
    (1, "not-hex?x=1"),
    (2, "endTs=9999999999999&lookback=86400000"),
    (2, "endTs=1&lookback=-5"),
    (3, "service=frontend&spanKind=server"),
    (3, "service=payments&spanKind=SPAN_KIND_CLIENT"),
    (4, "frontend"),
    (4, "frontend?spanKind=server"),
    (5, ""),
    # the collector's own read endpoints on the query port
    (6, "service=frontend&quantile=0.95&endTs=9999999999999&lookback=3600000&step=60000"),
    (6, "service=frontend&service=payments&quantile=2&groupByOperation=true&spanKind=server"),
    (7, "service=frontend&ratePerSecond=true&groupByOperation=1&step=0"),
    (8, "service=payments&spanKind=SPAN_KIND_SERVER&lookback=-1"),
    (9, ""),
    (10, T1H),
    (10, "zz?x=1"),
    (11, f"before={T1H}&after={T2H}"),
    (11, "service=frontend&window=30m&end=9999999999999999"),
    (11, "beforeStart=1&beforeEnd=2&afterStart=3&afterEnd=4"),
    (12, f"{T1H}?format=otlp-json"),
    (12, f"{T1H}?format=html"),
    (1, f"{T1H}/findings"),
]
write("query_v1", [bytes([i]) + q.encode() for i, q in v1])

v3 = [
    (0, "query.service_name=frontend&query.start_time_min=2024-01-01T00:00:00Z&query.start_time_max=2100-01-01T00:00:00Z"),
    (0, "query.serviceName=frontend&query.operationName=charge&query.startTimeMin=2024-01-01T00:00:00.5Z&query.startTimeMax=2100-01-01T00:00:00%2B02:00&query.durationMin=1ms&query.durationMax=1h&query.searchDepth=10"),
    (0, 'query.start_time_min=1970-01-01T00:00:00Z&query.start_time_max=2100-01-01T00:00:00Z&query.attributes={"user":"u-1"}'),
    (0, "query.start_time_min=1970-01-01T00:00:00Z&query.start_time_max=2100-01-01T00:00:00Z&query.attributes[http.route]=/checkout&query.num_traces=5"),
    # known bug: a multi-byte character where the offset sign is expected (parse_rfc3339)
    (0, "query.start_time_min=2024-01-01T00:00:00%C3%BC:000&query.start_time_max=2024-01-01T00:00:01Z"),
    (1, "query.service_name=frontend&query.start_time_min=2024-01-01T00:00:00Z&query.start_time_max=2100-01-01T00:00:00Z"),
    (1, "query.start_time_min=2024-01-01T00:00:00Z&query.start_time_max=2100-01-01T00:00:00Z&query.duration_min=1.5us"),
    (2, "service=frontend&span_kind=server"),
    (2, "service=payments"),
    (3, T1H),
    (3, T2H),
    (3, "xyz"),
    (4, ""),
]
write("query_v3", [bytes([i]) + q.encode() for i, q in v3])

write(
    "params",
    [
        "service=a%20b&service=&tag=x:1&tag=&tag=y%3A2",
        "query.attributes[k]=v&query.attributes[x%5D=1",
        "2024-02-29T12:34:56.123456789Z",
        "1970-01-01T01:00:00+01:00",
        "2024-01-01T00:00:00\u00fc:000",
        "1.5ms",
        "1h2m3s4ms5us6ns",
        "-1s",
        "+0",
        "1.5\u00b5s",
        "99999999999999999999h",
        "lookback=1h&a+b=c+d&%zz=%",
    ],
)

# --- propagation: first byte = propagator set (see fuzz/harness/propagation.rs) ---
TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
prop = [
    (0, f"traceparent: {TP}\ntracestate: rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
    (0, f"a: {TP}\nb: k=v\nb: k2=v2"),
    (0, "traceparent: 01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"),
    (1, "baggage: userId=alice,serverNode=DF%2028;prop=1,isProduction=false"),
    (1, "c: k=v\nc: k2=v2;meta"),
    (2, "b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90"),
    (2, "d: e457b5a2e4d86bd1-e457b5a2e4d86bd1-d"),
    (3, "x-b3-traceid: 80f198ee56343ba864fe8b2a57d3eff7\nx-b3-spanid: e457b5a2e4d86bd1\nx-b3-parentspanid: 05e3ac9a4f6e3b90\nx-b3-sampled: 1"),
    (3, "e: 463ac35c9f6413ad\nf: a2fb4a1d1a96d312\ni: 1"),
    (4, "uber-trace-id: 4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1\nuberctx-user: alice%20b"),
    (4, "j: abc%3A1%3A0%3A3\nk: v"),
    (5, f"a: {TP}\nc: k=v\nd: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d\nj: 1:2:0:1\nuberctx-Key: x"),
    (6, "j: 1:2:0:0\nk: %E2%82%AC\nc: a=b"),
]
write("propagation", [bytes([i]) + s.encode() for i, s in prop])

# --- SQL: first byte bit 0 = PostgreSQL, bit 1 = token recipe (see fuzz/harness/sql.rs) ---
sql_raw = [
    (0, "SELECT * FROM orders WHERE email = 'a@b.c' AND id IN (1, 2, 3) -- hot path"),
    (0, "INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y') # done"),
    (0, "SELECT 'it''s', 'a\\'b', \"dq \\\" x\", X'ff', _utf8mb4'z', 0x1F, 1e10 FROM `t`"),
    (1, "SELECT $1, E'\\n', $tag$ body $tag$, 'x''y' FROM \"T\" WHERE a::text = 'v' /* c */"),
    (1, "SELECT 'C:\\' , 'secret'"),
    (1, "UPDATE t SET a = $$x$$ WHERE b IN ($1, $2)"),
    (0, "CALL p(1, .5, 'unterminated"),
]
sql_tokens = [
    (2, bytes([0, 0, 3, 0, 9, 3, 1, 2, 3])),
    (3, bytes([0, 0, 9, 4, 7, 7, 3, 1, 11, 2, 7, 7, 13, 1, 2, 0, 0])),
    (3, bytes([9, 3, 7, 14, 15, 3, 9, 2, 0, 0])),
]
write("sql_sanitize", [bytes([i]) + s.encode() for i, s in sql_raw] + [bytes([i]) + s for i, s in sql_tokens])

# --- durable span log records (crates/tracer-collector/src/persist/record.rs) ---
def rstr(s, ref=None):
    # A new string (even tag: length * 2), or a reference to the ref-th short string (odd tag).
    if ref is not None:
        return varint(ref * 2 + 1)
    b = s.encode()
    return varint(len(b) * 2) + b


def rrange(start, n):
    return varint(start) + varint(n)


def record_minimal():
    out = b"".join(varint(n) for n in [1, 1, 1, 0, 0, 0, 0, 0])
    out += rstr("svc") + rrange(0, 0) + varint(0)  # resource
    out += rstr("") + rstr("") + rrange(0, 0) + varint(0)  # scope
    out += varint(0) + varint(0) + (7).to_bytes(16, "little") + (1).to_bytes(8, "little")
    out += (0).to_bytes(8, "little") + rstr("", ref=1) + varint(1) + rstr("GET /")
    out += bytes([2, 0]) + (1000).to_bytes(8, "little") + varint(500) + rstr("", ref=1)
    out += rrange(0, 0) + varint(0) + rrange(0, 0) + varint(0) + rrange(0, 0) + varint(0)
    return out


def record_rich():
    # resources 1, scopes 1, spans 1, events 1, links 1, attributes 6, values 2, entries 1
    out = b"".join(varint(n) for n in [1, 1, 1, 1, 1, 6, 2, 1])
    out += rstr("checkout") + rrange(0, 1) + varint(2)
    out += rstr("lib") + rstr("1.0") + rrange(1, 0) + varint(0)
    out += varint(0) + varint(0) + (1 << 100).to_bytes(16, "little") + (2).to_bytes(8, "little")
    out += (3).to_bytes(8, "little") + rstr("k=v") + varint(0x301) + rstr("GET /cart")
    out += bytes([2, 2]) + (10).to_bytes(8, "little") + varint(2**64 - 6) + rstr("boom")
    out += rrange(1, 5) + varint(1) + rrange(0, 1) + varint(0) + rrange(0, 1) + varint(3)
    out += (15).to_bytes(8, "little") + rstr("retry") + rrange(0, 1) + varint(0)  # event
    out += (9).to_bytes(16, "little") + (4).to_bytes(8, "little") + rstr("k=v", ref=5)
    out += varint(1) + rrange(1, 1) + varint(0)  # link
    attrs = [
        rstr("host.name") + b"\x00" + rstr("h1"),
        rstr("ok") + b"\x01\x01",
        rstr("n") + b"\x02" + varint(9),  # zigzag: -5
        rstr("ratio") + b"\x03" + struct.pack("<d", 0.25),
        rstr("arr") + b"\x05" + rrange(0, 2),
        rstr("map") + b"\x06" + rrange(0, 1),
    ]
    out += b"".join(attrs)
    out += b"\x00" + rstr("item") + b"\x04" + varint(2) + b"\x00\xff"  # values
    out += rstr("inner") + b"\x02" + varint(4)  # entries
    return out


write("persist_record", [record_minimal(), record_rich(), b"", b"\x01" * 8])


def record_array_cycle():
    # The shape the fuzzer crashed the store with (a SIGSEGV, before records were checked to be
    # trees): one span whose attribute is an array holding itself.
    out = b"".join(varint(n) for n in [1, 1, 1, 0, 0, 1, 1, 0])
    out += rstr("svc") + rrange(0, 0) + varint(0)
    out += rstr("") + rstr("") + rrange(0, 0) + varint(0)
    out += varint(0) + varint(0) + (7).to_bytes(16, "little") + (1).to_bytes(8, "little")
    out += (0).to_bytes(8, "little") + rstr("", ref=1) + varint(1) + rstr("op")
    out += bytes([1, 0]) + (1000).to_bytes(8, "little") + varint(5) + rstr("", ref=1)
    out += rrange(0, 1) + varint(0) + rrange(0, 0) + varint(0) + rrange(0, 0) + varint(0)
    out += rstr("a") + b"\x05" + rrange(0, 1)  # attribute: values[0..1]
    out += b"\x05" + rrange(0, 1)  # values[0]: values[0..1], itself
    return out


with open(os.path.join(ROOT, "persist_record", "crash-array-cycle.bin"), "wb") as f:
    f.write(record_array_cycle())
