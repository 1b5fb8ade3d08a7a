//! docs/SCENARIOS.md is generated from the catalogue, so the documented trees are the asserted
//! ones. After changing a scenario, regenerate it with
//! `UPDATE_SCENARIOS_DOC=1 cargo test -p tracer-demo --test scenarios_doc`.

use std::path::PathBuf;

use tracer_demo::scenarios::{ATTRIBUTES, CATALOGUE};

const HEADER: &str = "# The scenario catalogue

Every scenario below is played by `cargo run --release` (the runner, `tracer-demo run`) and by the
test `crates/tracer-demo/tests/catalogue.rs`, against the real processes (collector, server1,
server2, server3, worker) and the real Redis, MariaDB and RabbitMQ. Each one's trace is read back
from the collector and must equal the tree shown, line for line. Each run has an exchange and
queues of its own, named after a run id, which the trees show as `{run}`. Run one with `tracer-demo run --scenario NAME`; add
`--keep` to look at the traces in the web UI afterwards.

**How faults are chosen.** The runner puts a directive in the W3C baggage of the request
(`fault.redis=refuse`, `fault.panic=server2`, ...; the full list is in
`crates/tracer-demo/src/faults/directive.rs`). Baggage travels with the trace context through every hop,
so each service reads the same directive, even through a hop whose tracing is off, and through
RabbitMQ (it rides in the message's headers). Network faults to Redis, MySQL and RabbitMQ are
real: server3 reaches them through fault-injecting TCP proxies (latency, reset, refuse) in front
of the real servers. Code-level faults (panics, slow handlers, errors,
loop depth, N+1 queries, pool size) are done by the handlers when the directive asks.

**How to read a tree.** One line per span, children indented under their parent:
`{service} {kind} {name}`, then `!error` when the span's status is an error, then the attributes
ATTRS when the span has them, then `events=[...]`. Siblings are in start order; where they start
concurrently, siblings of the same name are ordered by their text. The root `client internal
{scenario}` span is the runner's own; `client client GET` is its HTTP request to server1.
";

const GUIDE: &str = r#"
## Adding a scenario

Scenarios live by group in `crates/tracer-demo/src/scenarios/`, one module per group (`cache`,
`redis_faults`, `sql_faults`, `rpc_faults`, `call_backs`, `context`, `collector`, `messaging`), each
scenario's data, play and checks side by side. Adding one touches its group's module and the
`CATALOGUE` list in `scenarios/mod.rs`, nothing else, unless it needs a fault no directive entry
makes yet (then `faults/directive.rs` gains the entry and the service that reads it acts on it).
This walks through `http-503-gives-up`, the last scenario above.

1. **Pick the group and the fault.** Every attempt of server1's request answered 503 is a fault
   between services, so `rpc_faults.rs`. The directive already has it: `fault.unavailable={n}`
   makes server2 answer the first `n` attempts of a request with 503 (`src/server2.rs`
   `Server2::enter`), and server1 sends a request at most `MAX_ATTEMPTS` (3) times
   (`src/http_forwarding.rs` `forward`). With `n = 3` every attempt fails.
2. **Write the scenario with an empty tree.** In `rpc_faults.rs`:

   ```rust
   /// `http-503-gives-up`.
   pub static HTTP_503_GIVES_UP: Scenario = Scenario {
       name: "http-503-gives-up",
       summary: "server2 answers every attempt with 503: server1 gives up after three and answers 502",
       shows: "three attempts of server1's request, each answered 503, the retries counted; server1's span red with 502",
       expected: "",
       injected_by: "`src/server2.rs` `Server2::enter` (503 for the first attempts)",
       concurrent: false,
       play: Play::Get {
           baggage: &[("fault.unavailable", "3")],
           path: "/products/34",
           want: 502,
       },
       check: None,
   };
   ```

   A scenario that is one request takes `Play::Get` or `Play::Post`, and its **How** line is
   derived from that data. Anything more (several requests, admin calls, hand-made headers) is
   `Play::Custom { how, play }`, where `play` is a function beside the scenario that receives
   its `&Scenario` (use `scenario.name` for the root span) and the `Driver`. Use a product no
   other scenario uses (the catalogue counts up from 1), so the cache state of one scenario never
   leaks into another.
3. **List it.** Add `&rpc_faults::HTTP_503_GIVES_UP,` to `CATALOGUE` in `scenarios/mod.rs`.
4. **Discover the tree.** `cargo run --release -- run --scenario http-503-gives-up` fails, since
   the tree is empty, and prints the tree it collected. Read it: is it the trace you expected the
   fault to leave? If so, paste it as `expected`; if not, the instrumentation or the scenario is
   wrong, which is what the catalogue is for.
5. **Check more than the shape** when the shape cannot say it (durations, absences, counters):
   write `fn(&Trace) -> Result<(), String>` beside the scenario and set `check: Some(it)`; the
   span lookups `tag`, `service` and `db_spans` of `scenarios/mod.rs` help.
6. **Regenerate this file** with `UPDATE_SCENARIOS_DOC=1 cargo test -p tracer-demo --test
   scenarios_doc`, and run the whole catalogue once (`cargo run --release`).
"#;

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
            "\n## {}\n\n**What happens:** {}.\n\n**How:** {}.\n\n**Fault injected by:** {}.\n\n\
             **The trace must show:** {}.\n\n",
            s.name,
            s.summary,
            s.how(),
            s.injected_by,
            s.shows
        ));
        let tree = dedent(s.expected);
        if tree.is_empty() {
            out.push_str("No span reaches the collector.\n");
        } else {
            out.push_str(&format!("```text\n{tree}\n```\n"));
        }
    }
    out.push_str(GUIDE);
    out
}

/// Every `src/...rs` file a scenario's `injected_by` names exists, and each name quoted after it
/// (`Type::function`, `function`, a variant or field) occurs in that file, so the pointers stay
/// true as code moves.
#[test]
fn every_fault_pointer_names_real_code() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut problems = Vec::new();
    for s in CATALOGUE {
        let spans: Vec<&str> = s.injected_by.split('`').skip(1).step_by(2).collect();
        let mut file: Option<String> = None;
        for code in spans {
            if code.starts_with("src/") && code.ends_with(".rs") {
                match std::fs::read_to_string(root.join(code)) {
                    Ok(text) => file = Some(text),
                    Err(e) => problems.push(format!("{}: {code}: {e}", s.name)),
                }
                continue;
            }
            let Some(text) = &file else { continue };
            // `Type::item`, `item`, `item(...)`: the last path segment must be named in the file.
            let item = code.rsplit("::").next().unwrap_or(code);
            let is_name = !item.is_empty() && item.chars().all(|c| c.is_alphanumeric() || c == '_');
            if is_name && !names_word(text, item) {
                problems.push(format!("{}: `{code}` is not in the file before it", s.name));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "stale fault pointers:\n{}",
        problems.join("\n")
    );
}

/// Whether `word` occurs in `text` as a whole identifier.
fn names_word(text: &str, word: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word).any(|(i, _)| {
        !text[..i].chars().next_back().is_some_and(ident)
            && !text[i + word.len()..].chars().next().is_some_and(ident)
    })
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
