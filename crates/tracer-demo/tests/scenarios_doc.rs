//! docs/SCENARIOS.md is generated from the catalogue, so the documented trees are the asserted
//! ones. After changing a scenario, regenerate it with
//! `UPDATE_SCENARIOS_DOC=1 cargo test -p tracer-demo --test scenarios_doc`.

use std::path::PathBuf;

use tracer_demo::scenarios::{ATTRIBUTES, CATALOGUE};

const HEADER: &str = "# The scenario catalogue

Every scenario below is played by `cargo run --release` (the runner, `tracer-demo run`) and by the
test `crates/tracer-demo/tests/catalogue.rs`, against the real processes (collector, server1,
server2, server3) and the real Redis and MariaDB. Each one's trace is read back from the collector
and must equal the tree shown, line for line. Run one with `tracer-demo run --scenario NAME`; add
`--keep` to look at the traces in the web UI afterwards.

**How faults are chosen.** The runner puts a directive in the W3C baggage of the request
(`fault.redis=refuse`, `fault.panic=server2`, ...; the full list is in
`crates/tracer-demo/src/directive.rs`). Baggage travels with the trace context through every hop,
so each service reads the same directive, even through a hop whose tracing is off. Network faults
to Redis and MySQL are real: server3 reaches them through fault-injecting TCP proxies (latency,
reset, refuse) in front of the real servers. Code-level faults (panics, slow handlers, errors,
loop depth, N+1 queries, pool size) are done by the handlers when the directive asks.

**How to read a tree.** One line per span, children indented under their parent:
`{service} {kind} {name}`, then `!error` when the span's status is an error, then the attributes
ATTRS when the span has them, then `events=[...]`. Siblings are in start order; where they start
concurrently, siblings of the same name are ordered by their text. The root `client internal
{scenario}` span is the runner's own; `client client GET` is its HTTP request to server1.
";

fn dedent(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let indent = lines
        .iter()
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    lines
        .iter()
        .map(|l| &l[indent..])
        .collect::<Vec<_>>()
        .join("\n")
}

fn render() -> String {
    let attrs: Vec<String> = ATTRIBUTES.iter().map(|a| format!("`{a}`")).collect();
    let mut out = HEADER.replace("ATTRS", &attrs.join(", "));
    out.push_str("\n| # | scenario | what the trace must show |\n|---|---|---|\n");
    for (i, s) in CATALOGUE.iter().enumerate() {
        out.push_str(&format!(
            "| {} | [`{}`](#{}) | {} |\n",
            i + 1,
            s.name,
            s.name,
            s.shows
        ));
    }
    for s in CATALOGUE {
        out.push_str(&format!(
            "\n## {}\n\n**What happens:** {}.\n\n**How:** {}.\n\n**The trace must show:** {}.\n\n",
            s.name, s.summary, s.how, s.shows
        ));
        let tree = dedent(s.expected);
        if tree.is_empty() {
            out.push_str("No span reaches the collector.\n");
        } else {
            out.push_str(&format!("```text\n{tree}\n```\n"));
        }
    }
    out
}

#[test]
fn scenarios_doc_matches_the_catalogue() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/SCENARIOS.md");
    let fresh = render();
    if std::env::var_os("UPDATE_SCENARIOS_DOC").is_some() {
        std::fs::write(&path, &fresh).expect("docs/SCENARIOS.md is writable");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "docs/SCENARIOS.md is out of date with the catalogue; regenerate it with \
         `UPDATE_SCENARIOS_DOC=1 cargo test -p tracer-demo --test scenarios_doc`"
    );
}
