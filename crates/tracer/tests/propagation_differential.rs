//! Our propagators against an independent implementation, the OpenTelemetry Python propagators
//! (W3C trace context and baggage from `opentelemetry-api`, B3 and Jaeger from their packages;
//! versions in `tests/peers/requirements.txt`), over a generated corpus of header sets: valid,
//! edge and invalid `traceparent`, `tracestate`, `baggage`, B3 single and multi, and
//! `uber-trace-id` (+ `uberctx-`). For each case the extracted context (trace id, span id, the
//! sampled and random flags, tracestate members, baggage entries) must be the same on both sides,
//! except for the cases in [`differences`], each listed with why: a point where the specs leave
//! room, or where the peer departs from its spec (and we follow the spec). A listed case that
//! no longer differs fails the test too, so the list stays true.
//!
//! The peer runs as `$TRACER_PEERS_DIR/venv/bin/python` (default `~/.cache/tracer-peers`);
//! `scripts/test` installs it. Missing, the test fails saying how to install it.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use opentelemetry::baggage::BaggageExt as _;
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::TraceContextExt as _;
use serde_json::{Value, json};
use tracer::propagation::{PropagatorKind, Propagators};

/// One header set and the propagator that reads it.
#[derive(Clone, Debug)]
struct Case {
    id: String,
    format: &'static str,
    headers: Vec<(String, String)>,
}

const REPEATED_LINES: &str = "RFC 9110 (5.3) makes repeated field lines one comma-joined value \
    (a repeated traceparent is then invalid, Trace Context Level 2 3.2; baggage lines are all \
    read, W3C Baggage 3.3.1); the Python propagator reads the first line only";
const LEVEL2_KEYS: &str = "Trace Context Level 2 keys are a lowercase letter or digit then up to \
    255 of a-z 0-9 _ - * / @, which these are; Python follows Level 1 (a simple key starts with a \
    letter, one @, a system id of at most 14 characters) and drops the whole tracestate";
const B3_CASE: &str = "B3 ids are lower-hex (openzipkin/b3-propagation); Python also takes \
    upper case, we treat the header as malformed and ignore it";
const B3_SAMPLING: &str = "the B3 single header's sampling state is 1, 0 or d between '-' \
    separators; we ignore a header breaking that whole, Python keeps the ids and reads anything \
    else as not sampled (or `true` as sampled)";
const B3_PARENT: &str = "B3's parent span id is 16 lower-hex characters; we ignore a header whose \
    parent is malformed, Python never reads the parent";
const B3_DEFERRED: &str = "no sampling state means the decision is deferred to the receiver, which \
    W3C flags cannot say: Python marks it sampled, we leave the sampled flag unset";
const JAEGER_PARENT: &str = "Jaeger calls the parent span id deprecated and ignored on receipt: \
    Python ignores it, we still require hex there and ignore the header otherwise (stricter than \
    needed)";
const JAEGER_CASE: &str = "Jaeger's format says base16 without naming a case; we read lower case \
    only (as W3C and B3), Python any case";

/// Where the two implementations may differ, by case id (`*` stands for any characters), and
/// why. Every pattern must still match a differing case. Positions refer to the mutated
/// values: B3 `{trace 0-31}-{span 33-48}-{sampled 50}-{parent 52-67}`, Jaeger
/// `{trace 0-31}:{span 33-48}:{parent 50-65}:{flags 67}`.
fn differences() -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = vec![
        ("tp/repeated-*".into(), REPEATED_LINES),
        ("bg/repeated-lines".into(), REPEATED_LINES),
        ("ts/tenant-15".into(), LEVEL2_KEYS),
        ("ts/double-at".into(), LEVEL2_KEYS),
        ("ts/two-ats".into(), LEVEL2_KEYS),
        ("ts/digit-first".into(), LEVEL2_KEYS),
        (
            "bg/property*".into(),
            "W3C Baggage properties (after ';') are not part of the value; Python 1.45 keeps \
             `v;p=1` as the value",
        ),
        (
            "bg/bad-percent".into(),
            "W3C Baggage does not say what a '%' without two hex digits decodes to: we drop the \
             member, Python keeps the raw text",
        ),
        (
            "bg/*-members".into(),
            "W3C Baggage requires passing on at least 64 members and lets an implementation \
             drop more: we keep 64, Python up to 180",
        ),
        ("b3/deferred".into(), B3_DEFERRED),
        ("b3/mutated/truncated49".into(), B3_DEFERRED),
        ("b3/uppercase".into(), B3_CASE),
        ("b3/bad-sampled".into(), B3_SAMPLING),
        ("b3/true-sampled".into(), B3_SAMPLING),
        ("b3/mutated/pos50=*".into(), B3_SAMPLING),
        ("b3/mutated/pos51=*".into(), B3_SAMPLING),
        ("b3/mutated/truncated50".into(), B3_SAMPLING),
        ("b3/mutated/truncated52".into(), B3_PARENT),
        ("b3/mutated/extended".into(), B3_PARENT),
        (
            "b3multi/*-sampled=Some(\"d\")-*".into(),
            "X-B3-Sampled is 1 or 0 (true/false from old clients); `d` belongs to the single \
             header (X-B3-Flags: 1 in multi): we ignore the headers, Python reads it as sampled",
        ),
        (
            "jaeger/debug-only".into(),
            "Jaeger's flag 0x02 is debug, and a debug trace is always sampled in Jaeger clients: \
             we set sampled, Python reads bit 0x01 only",
        ),
        (
            "jaeger/url-encoded*".into(),
            "Jaeger clients URL-encode the value (`%3A`) and decode it on receipt; Python does \
             not decode",
        ),
        (
            "jaeger/baggage-without-trace".into(),
            "Jaeger's format does not tie uberctx- baggage to a valid uber-trace-id: we keep it, \
             Python drops it",
        ),
        ("jaeger/uppercase".into(), JAEGER_CASE),
        ("jaeger/mutated/pos67='A'".into(), JAEGER_CASE),
        (
            "jaeger/mutated/pos*=' '".into(),
            "Python parses each Jaeger field with int(x, 16), which also takes surrounding \
             spaces; the format has none",
        ),
    ];
    for pos in (0..=31).chain(33..=48) {
        out.push((format!("b3/mutated/pos{pos}='A'"), B3_CASE));
        out.push((format!("jaeger/mutated/pos{pos}='A'"), JAEGER_CASE));
    }
    for pos in 52..=67 {
        out.push((format!("b3/mutated/pos{pos}=*"), B3_PARENT));
    }
    for len in 53..=67 {
        out.push((format!("b3/mutated/truncated{len}"), B3_PARENT));
    }
    for pos in 50..=65 {
        out.push((format!("jaeger/mutated/pos{pos}=*"), JAEGER_PARENT));
    }
    out
}

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN: &str = "00f067aa0ba902b7";
const PARENT: &str = "05e3ac9a4f6e3b90";

fn case(id: impl Into<String>, format: &'static str, headers: &[(&str, &str)]) -> Case {
    Case {
        id: id.into(),
        format,
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

/// Every single-character substitution and every truncation of `valid`, as `format` header
/// `name`: the invalid neighbourhood of a valid value.
fn mutations(out: &mut Vec<Case>, prefix: &str, format: &'static str, name: &str, valid: &str) {
    for (i, _) in valid.char_indices() {
        for with in ['g', 'A', '-', ' ', '0', ':'] {
            let mut value = valid.to_owned();
            value.replace_range(i..i + 1, &with.to_string());
            if value != valid {
                out.push(case(
                    format!("{prefix}/pos{i}={with:?}"),
                    format,
                    &[(name, &value)],
                ));
            }
        }
    }
    for len in 0..valid.len() {
        out.push(case(
            format!("{prefix}/truncated{len}"),
            format,
            &[(name, &valid[..len])],
        ));
    }
    out.push(case(
        format!("{prefix}/extended"),
        format,
        &[(name, &format!("{valid}0"))],
    ));
}

fn traceparent_cases(out: &mut Vec<Case>) {
    let valid = format!("00-{TRACE}-{SPAN}-01");
    for flags in ["00", "01", "02", "03", "09", "ff"] {
        let tp = format!("00-{TRACE}-{SPAN}-{flags}");
        out.push(case(
            format!("tp/flags-{flags}"),
            "tracecontext",
            &[("traceparent", &tp)],
        ));
    }
    let more = [
        ("tp/future-version", format!("cc-{TRACE}-{SPAN}-01")),
        (
            "tp/future-version-suffix",
            format!("cc-{TRACE}-{SPAN}-01-what-the-future"),
        ),
        (
            "tp/future-version-bad-suffix",
            format!("cc-{TRACE}-{SPAN}-01what"),
        ),
        ("tp/version-ff", format!("ff-{TRACE}-{SPAN}-01")),
        (
            "tp/version-00-suffix",
            format!("00-{TRACE}-{SPAN}-01-extra"),
        ),
        (
            "tp/uppercase",
            format!("00-{}-{SPAN}-01", TRACE.to_uppercase()),
        ),
        ("tp/zero-trace", format!("00-{}-{SPAN}-01", "0".repeat(32))),
        ("tp/zero-span", format!("00-{TRACE}-{}-01", "0".repeat(16))),
        ("tp/leading-space", format!(" 00-{TRACE}-{SPAN}-01")),
        ("tp/trailing-space", format!("00-{TRACE}-{SPAN}-01 ")),
        ("tp/empty", String::new()),
    ];
    for (id, tp) in more {
        out.push(case(id, "tracecontext", &[("traceparent", &tp)]));
    }
    mutations(out, "tp/mutated", "tracecontext", "traceparent", &valid);
    out.push(case(
        "tp/repeated-same",
        "tracecontext",
        &[("traceparent", &valid), ("traceparent", &valid)],
    ));
    let other = format!("00-{TRACE}-{PARENT}-01");
    out.push(case(
        "tp/repeated-different",
        "tracecontext",
        &[("traceparent", &valid), ("traceparent", &other)],
    ));

    // tracestate, always beside a valid traceparent.
    let key256 = format!("a{}", "b".repeat(255));
    let key257 = format!("a{}", "b".repeat(256));
    let value256 = "v".repeat(256);
    let value257 = "v".repeat(257);
    let members32: Vec<String> = (0..32).map(|i| format!("k{i}=v{i}")).collect();
    let members33: Vec<String> = (0..33).map(|i| format!("k{i}=v{i}")).collect();
    let states: Vec<(&str, String)> = vec![
        (
            "ts/two-members",
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE".into(),
        ),
        ("ts/ows", " rojo=1 , congo=2 ".into()),
        ("ts/tab-ows", "rojo=1\t,\tcongo=2".into()),
        ("ts/empty-members", "rojo=1,,congo=2,".into()),
        ("ts/tenant", "tenant@vendor=1".into()),
        ("ts/tenant-14", "a@abcdefghijklmn=1".into()),
        ("ts/tenant-15", "a@abcdefghijklmno=1".into()),
        ("ts/double-at", "foo@@bar=1".into()),
        ("ts/two-ats", "foo@bar@baz=1".into()),
        ("ts/at-first", "@foo=1".into()),
        ("ts/digit-first", "1foo=1".into()),
        ("ts/uppercase-key", "Foo=1".into()),
        ("ts/key-symbols", "a_-*/=1".into()),
        ("ts/key-256", format!("{key256}=1")),
        ("ts/key-257", format!("{key257}=1")),
        ("ts/value-256", format!("k={value256}")),
        ("ts/value-257", format!("k={value257}")),
        ("ts/empty-value", "k=".into()),
        ("ts/value-with-space", "k=a b".into()),
        ("ts/value-trailing-space", "k=ab ".into()),
        ("ts/value-with-equals", "k=a=b".into()),
        ("ts/value-non-ascii", "k=caf\u{e9}".into()),
        ("ts/no-equals", "k".into()),
        ("ts/duplicate-key", "k=1,k=2".into()),
        ("ts/32-members", members32.join(",")),
        ("ts/33-members", members33.join(",")),
        ("ts/one-bad-member", "good=1,BAD=2".into()),
    ];
    for (id, state) in states {
        out.push(case(
            id,
            "tracecontext",
            &[("traceparent", &valid), ("tracestate", &state)],
        ));
    }
    out.push(case(
        "ts/repeated-lines",
        "tracecontext",
        &[
            ("traceparent", &valid),
            ("tracestate", "rojo=1"),
            ("tracestate", "congo=2"),
        ],
    ));
    out.push(case(
        "ts/repeated-lines-33",
        "tracecontext",
        &[
            ("traceparent", &valid),
            ("tracestate", &members32.join(",")),
            ("tracestate", "extra=1"),
        ],
    ));
}

fn baggage_cases(out: &mut Vec<Case>) {
    let many = |n: usize| {
        (0..n)
            .map(|i| format!("k{i}=v{i}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let big_value = "x".repeat(8200);
    let values: Vec<(&str, String)> = vec![
        ("bg/one", "userId=alice".into()),
        ("bg/two", "userId=alice,serverNode=DF%2028".into()),
        ("bg/ows", " a = 1 , b = 2 ".into()),
        ("bg/property", "k=v;p=1".into()),
        ("bg/property-bare", "k=v;flag".into()),
        ("bg/percent", "k=a%20b%2Cc".into()),
        ("bg/bad-percent", "k=a%zz".into()),
        ("bg/equals-in-value", "k=a=b".into()),
        ("bg/empty-value", "k=".into()),
        ("bg/no-equals", "k".into()),
        ("bg/space-in-key", "k y=v".into()),
        ("bg/quote-in-value", "k=a\"b".into()),
        ("bg/non-ascii-value", "k=caf\u{e9}".into()),
        ("bg/empty-members", "a=1,,b=2,".into()),
        ("bg/one-bad-member", "a=1,b c=2,d=3".into()),
        ("bg/duplicate-key", "k=1,k=2".into()),
        ("bg/64-members", many(64)),
        ("bg/65-members", many(65)),
        ("bg/181-members", many(181)),
        ("bg/over-8192-bytes", format!("k={big_value}")),
        ("bg/empty", String::new()),
    ];
    for (id, value) in values {
        out.push(case(id, "baggage", &[("baggage", &value)]));
    }
    out.push(case(
        "bg/repeated-lines",
        "baggage",
        &[("baggage", "a=1"), ("baggage", "b=2")],
    ));
}

fn b3_cases(out: &mut Vec<Case>) {
    let short = &TRACE[16..];
    let singles: Vec<(&str, String)> = vec![
        ("b3/sampled", format!("{TRACE}-{SPAN}-1")),
        ("b3/denied", format!("{TRACE}-{SPAN}-0")),
        ("b3/debug", format!("{TRACE}-{SPAN}-d")),
        ("b3/deferred", format!("{TRACE}-{SPAN}")),
        ("b3/with-parent", format!("{TRACE}-{SPAN}-1-{PARENT}")),
        ("b3/64-bit", format!("{short}-{SPAN}-1")),
        ("b3/deny-only", "0".into()),
        ("b3/accept-only", "1".into()),
        ("b3/uppercase", format!("{}-{SPAN}-1", TRACE.to_uppercase())),
        ("b3/bad-sampled", format!("{TRACE}-{SPAN}-x")),
        ("b3/true-sampled", format!("{TRACE}-{SPAN}-true")),
        ("b3/short-span", format!("{TRACE}-{}-1", &SPAN[1..])),
        ("b3/zero-trace", format!("{}-{SPAN}-1", "0".repeat(32))),
        ("b3/extra-field", format!("{TRACE}-{SPAN}-1-{PARENT}-x")),
        ("b3/empty", String::new()),
    ];
    for (id, value) in singles {
        out.push(case(id, "b3", &[("b3", &value)]));
    }
    mutations(
        out,
        "b3/mutated",
        "b3",
        "b3",
        &format!("{TRACE}-{SPAN}-1-{PARENT}"),
    );

    let traces = [
        ("t128", TRACE.to_owned()),
        ("t64", short.to_owned()),
        ("tbad", "xyz".to_owned()),
    ];
    let spans = [("s", SPAN.to_owned()), ("sbad", "123".to_owned())];
    let sampled = [
        None,
        Some("1"),
        Some("0"),
        Some("true"),
        Some("false"),
        Some("d"),
    ];
    let flags = [None, Some("1"), Some("0")];
    for (tn, t) in &traces {
        for (sn, s) in &spans {
            for smp in sampled {
                for fl in flags {
                    let mut headers =
                        vec![("x-b3-traceid", t.as_str()), ("x-b3-spanid", s.as_str())];
                    if let Some(v) = smp {
                        headers.push(("x-b3-sampled", v));
                    }
                    if let Some(v) = fl {
                        headers.push(("x-b3-flags", v));
                    }
                    let id = format!("b3multi/{tn}-{sn}-sampled={smp:?}-flags={fl:?}");
                    out.push(case(id, "b3multi", &headers));
                }
            }
        }
    }
    out.push(case(
        "b3multi/with-parent",
        "b3multi",
        &[
            ("x-b3-traceid", TRACE),
            ("x-b3-spanid", SPAN),
            ("x-b3-parentspanid", PARENT),
            ("x-b3-sampled", "1"),
        ],
    ));
}

fn jaeger_cases(out: &mut Vec<Case>) {
    let short = &TRACE[16..];
    let values: Vec<(&str, String)> = vec![
        ("jaeger/sampled", format!("{TRACE}:{SPAN}:0:1")),
        ("jaeger/unsampled", format!("{TRACE}:{SPAN}:0:0")),
        ("jaeger/debug", format!("{TRACE}:{SPAN}:0:3")),
        ("jaeger/debug-only", format!("{TRACE}:{SPAN}:0:2")),
        ("jaeger/with-parent", format!("{TRACE}:{SPAN}:{PARENT}:1")),
        ("jaeger/64-bit", format!("{short}:{SPAN}:0:1")),
        ("jaeger/unpadded", format!("abc:{}:0:1", &SPAN[2..])),
        ("jaeger/url-encoded", format!("{TRACE}%3A{SPAN}%3A0%3A1")),
        (
            "jaeger/url-encoded-lower",
            format!("{TRACE}%3a{SPAN}%3a0%3a1"),
        ),
        ("jaeger/zero-trace", format!("0:{SPAN}:0:1")),
        ("jaeger/zero-span", format!("{TRACE}:0:0:1")),
        ("jaeger/three-parts", format!("{TRACE}:{SPAN}:1")),
        ("jaeger/five-parts", format!("{TRACE}:{SPAN}:0:1:0")),
        ("jaeger/flags-hex", format!("{TRACE}:{SPAN}:0:ff")),
        ("jaeger/flags-bad", format!("{TRACE}:{SPAN}:0:x")),
        ("jaeger/trace-too-long", format!("{TRACE}0:{SPAN}:0:1")),
        (
            "jaeger/uppercase",
            format!("{}:{SPAN}:0:1", TRACE.to_uppercase()),
        ),
        ("jaeger/empty", String::new()),
    ];
    for (id, value) in values {
        out.push(case(id, "jaeger", &[("uber-trace-id", &value)]));
    }
    mutations(
        out,
        "jaeger/mutated",
        "jaeger",
        "uber-trace-id",
        &format!("{TRACE}:{SPAN}:{PARENT}:1"),
    );
    let sampled = format!("{TRACE}:{SPAN}:0:1");
    out.push(case(
        "jaeger/baggage",
        "jaeger",
        &[
            ("uber-trace-id", &sampled),
            ("uberctx-user", "alice"),
            ("uberctx-note", "a%20b"),
        ],
    ));
    out.push(case(
        "jaeger/baggage-without-trace",
        "jaeger",
        &[("uberctx-user", "alice")],
    ));
}

fn corpus() -> Vec<Case> {
    let mut out = Vec::new();
    traceparent_cases(&mut out);
    baggage_cases(&mut out);
    b3_cases(&mut out);
    jaeger_cases(&mut out);
    out
}

/// The headers of a case, with every line of a repeated header (RFC 9110).
struct Headers<'a>(&'a [(String, String)]);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_str()).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let all: Vec<&str> = self
            .0
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .collect();
        (!all.is_empty()).then_some(all)
    }
}

/// What we extract, in the peer's JSON shape. Only the sampled (0x01) and random (0x02) flags
/// are compared: Level 2 defines no other bit, and a receiver must ignore them.
fn ours(case: &Case) -> Value {
    let kind = match case.format {
        "tracecontext" => PropagatorKind::TraceContext,
        "baggage" => PropagatorKind::Baggage,
        "b3" => PropagatorKind::B3,
        "b3multi" => PropagatorKind::B3Multi,
        "jaeger" => PropagatorKind::Jaeger,
        other => unreachable!("format {other}"),
    };
    let cx = Propagators::new([kind]).extract(&Headers(&case.headers));
    let span = cx.span();
    let sc = span.span_context();
    // The tracestate we keep is what we pass on: the SDK's `TraceState` cannot hold every key
    // Level 2 allows, so read it back from an injection of the extracted context.
    let mut passed_on = std::collections::HashMap::new();
    Propagators::new([PropagatorKind::TraceContext]).inject(&cx, &mut passed_on);
    let tracestate = passed_on.get("tracestate").cloned().unwrap_or_default();
    let span = sc.is_valid().then(|| {
        let state: Vec<Value> = tracestate
            .split(',')
            .filter(|m| !m.is_empty())
            .map(|m| {
                let (k, v) = m.split_once('=').unwrap_or((m, ""));
                json!([k, v])
            })
            .collect();
        json!({
            "trace_id": sc.trace_id().to_string(),
            "span_id": sc.span_id().to_string(),
            "flags": sc.trace_flags().to_u8() & 0x03,
            "tracestate": state,
        })
    });
    let mut baggage: Vec<(String, String)> = cx
        .baggage()
        .iter()
        .map(|(k, (v, _))| (k.to_string(), v.to_string()))
        .collect();
    baggage.sort();
    json!({ "span": span, "baggage": baggage })
}

/// The peer's answer with the same normalisation (flags to the two defined bits).
fn normalised(mut theirs: Value) -> Value {
    if let Some(flags) = theirs["span"]["flags"].as_u64() {
        theirs["span"]["flags"] = json!(flags & 0x03);
    }
    json!({ "span": theirs["span"], "baggage": theirs["baggage"] })
}

fn peer_python() -> PathBuf {
    let dir = std::env::var_os("TRACER_PEERS_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/tracer-peers")))
        .expect("HOME or TRACER_PEERS_DIR is set");
    dir.join("venv/bin/python")
}

fn theirs(corpus: &[Case]) -> BTreeMap<String, Value> {
    let python = peer_python();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/propagators.py");
    let probe = Command::new(&python)
        .args([
            "-c",
            "import opentelemetry.propagators.b3, opentelemetry.propagators.jaeger",
        ])
        .output();
    let install = format!(
        "install the peer with scripts/test, or: python3 -m venv {venv} && {venv}/bin/pip install -r {manifest}/tests/peers/requirements.txt",
        venv = python.parent().and_then(|p| p.parent()).unwrap().display(),
        manifest = env!("CARGO_MANIFEST_DIR"),
    );
    match probe {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "the OpenTelemetry Python propagators are missing from {} ({}): {install}",
            python.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => panic!("cannot run {} ({e}): {install}", python.display()),
    }
    let mut child = Command::new(&python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the peer starts");
    let mut input = String::new();
    for case in corpus {
        let line = json!({ "id": case.id, "format": case.format, "headers": case.headers });
        input.push_str(&line.to_string());
        input.push('\n');
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().expect("the peer runs");
    writer.join().unwrap().expect("the peer reads the corpus");
    assert!(output.status.success(), "the peer failed");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line).expect("the peer writes JSON lines");
            (value["id"].as_str().unwrap().to_owned(), value)
        })
        .collect()
}

/// Whether `id` matches `pattern`, where each `*` stands for any run of characters.
fn matches(pattern: &str, id: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = id.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

fn listed(differences: &[(String, &'static str)], id: &str) -> Option<&'static str> {
    differences
        .iter()
        .find_map(|(pattern, why)| matches(pattern, id).then_some(*why))
}

#[test]
fn extracted_contexts_match_the_opentelemetry_python_propagators() {
    let corpus = corpus();
    let ids: std::collections::BTreeSet<&str> = corpus.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids.len(), corpus.len(), "case ids are unique");
    let theirs = theirs(&corpus);
    let differences = differences();
    let mut unexpected = Vec::new();
    let mut stale = Vec::new();
    let mut differing = 0;
    for case in &corpus {
        let answer = theirs
            .get(&case.id)
            .unwrap_or_else(|| panic!("no answer for {}", case.id));
        if let Some(error) = answer.get("error") {
            unexpected.push(format!("{}: the peer raised {error}", case.id));
            continue;
        }
        let (ours, theirs) = (ours(case), normalised(answer.clone()));
        let same = ours == theirs;
        match (same, listed(&differences, &case.id)) {
            (true, _) => {}
            (false, Some(_)) => differing += 1,
            (false, None) => unexpected.push(format!(
                "{} {:?}\n    ours:   {ours}\n    theirs: {theirs}",
                case.id, case.headers
            )),
        }
    }
    // An exact-id entry must still differ; a prefix entry must still match at least one case.
    for (pattern, _) in &differences {
        let hits_a_difference = corpus
            .iter()
            .any(|c| matches(pattern, &c.id) && ours(c) != normalised(theirs[&c.id].clone()));
        if !hits_a_difference {
            stale.push(pattern.clone());
        }
    }
    assert!(
        unexpected.is_empty() && stale.is_empty(),
        "{} of {} cases differ without a listed reason:\n{}\nlisted but no longer differing: {stale:?}",
        unexpected.len(),
        corpus.len(),
        unexpected.join("\n")
    );
    assert!(corpus.len() > 500, "the corpus is {} cases", corpus.len());
    eprintln!("{} cases, {differing} listed differences", corpus.len());
}
