//! The dependency graph stays readable at any size: for the demo's topology (call-backs and the
//! edge that skips server2 when its tracing is off) and for generated topologies of 10 and 30
//! services, headless Chromium measures the drawn SVG and finds no edge label over a service
//! box and no edge passing through one. Clicking a service or an edge label opens a search.

mod ui_support;

use serde_json::{Value, json};
use ui_support::{Browser, CLIENT, SERVER, SpanBuilder as S, UiCollector, export, now_ns, sid};

/// Loads one trace per edge `(caller, callee)`: a server span of the caller with a client child,
/// and under it a server span of the callee, so `/api/dependencies` reports each edge.
async fn load_edges(collector: &UiCollector, edges: &[(String, String)]) {
    let base = now_ns() - 60_000_000_000;
    for (i, (caller, callee)) in edges.iter().enumerate() {
        let trace = format!("{:032x}", 0xd0_0000 + i as u128);
        let request = export(vec![
            (
                caller.as_str(),
                vec![],
                vec![
                    S::new(&trace, &sid(1), "handle", base, 0, 3_000).kind(SERVER),
                    S::new(&trace, &sid(2), "call", base, 500, 2_000)
                        .parent(&sid(1))
                        .kind(CLIENT),
                ],
            ),
            (
                callee.as_str(),
                vec![],
                vec![
                    S::new(&trace, &sid(3), "serve", base, 700, 1_500)
                        .parent(&sid(2))
                        .kind(SERVER),
                ],
            ),
        ]);
        collector.load(&request).await;
    }
}

/// A generated topology of `n` services: tiers of callers and callees with calls that skip
/// tiers and a few call-backs (cycles); deterministic. (A service calling itself is no edge:
/// `/api/dependencies` counts calls between services.)
fn topology(n: usize) -> Vec<(String, String)> {
    let name = |i: usize| format!("svc-{i:02}");
    let mut seed = 0x2545_f491_u64 ^ n as u64;
    let mut next = move |bound: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % bound as u64) as usize
    };
    let mut edges = Vec::new();
    for child in 1..n {
        // Each service is called by one or two earlier ones, some of them several tiers back.
        edges.push((name(next(child)), name(child)));
        if child > 3 && next(3) == 0 {
            edges.push((name(next(child / 2)), name(child)));
        }
    }
    for _ in 0..n / 5 {
        let a = 1 + next(n - 1);
        let b = next(a);
        edges.push((name(a), name(b))); // a call-back to an earlier service
    }
    edges.sort();
    edges.dedup();
    edges
}

/// Everything the checks need from the drawing, measured in the browser.
const MEASURE: &str = r#"
const svg = document.querySelector('#deps-graph');
const nodes = [...svg.querySelectorAll('g.node')].map((g) => {
  const r = g.querySelector('rect.node-box').getBoundingClientRect();
  return { service: g.dataset.service, left: r.left, right: r.right, top: r.top, bottom: r.bottom };
});
const inside = (x, y, b) => x > b.left + 1 && x < b.right - 1 && y > b.top + 1 && y < b.bottom - 1;
const overlap = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
const labelsOverNodes = [];
for (const g of svg.querySelectorAll('g.edge-label')) {
  const r = g.querySelector('rect').getBoundingClientRect();
  for (const n of nodes) {
    if (overlap(r, n)) labelsOverNodes.push(`${g.dataset.parent}->${g.dataset.child} label over ${n.service}`);
  }
}
const edgesThroughNodes = [];
let samples = 0;
for (const g of svg.querySelectorAll('g.edge')) {
  const path = g.querySelector('path');
  const m = path.getScreenCTM();
  const total = path.getTotalLength();
  for (let t = 0; t <= total; t += 2) {
    const p = path.getPointAtLength(t).matrixTransform(m);
    samples++;
    const hit = nodes.find((n) => inside(p.x, p.y, n));
    if (hit) {
      edgesThroughNodes.push(`${g.dataset.parent}->${g.dataset.child} through ${hit.service}`);
      break;
    }
  }
}
return {
  nodes: nodes.map((n) => n.service).sort(),
  edges: [...svg.querySelectorAll('g.edge')].map((g) => [g.dataset.parent, g.dataset.child]).sort(),
  labels: svg.querySelectorAll('g.edge-label').length,
  labelsOverNodes,
  edgesThroughNodes,
  samples,
};
"#;

/// Draws `edges`, checks the geometry, saves a screenshot named `shot`; returns the browser on
/// the graph for more checks.
async fn draw_and_check(edges: &[(String, String)], shot: &str) -> (UiCollector, Browser) {
    let collector = UiCollector::start().await;
    load_edges(&collector, edges).await;
    let browser = Browser::launch().await;
    browser.goto(&collector.url("/#/deps?lookback=1h")).await;
    browser
        .wait_for(
            &format!(
                "document.querySelectorAll('#deps-graph g.edge').length === {}",
                edges.len()
            ),
            "every edge drawn",
        )
        .await;
    let measured = browser.eval(MEASURE, vec![]).await;
    let mut services: Vec<&str> = edges
        .iter()
        .flat_map(|(a, b)| [a.as_str(), b.as_str()])
        .collect();
    services.sort();
    services.dedup();
    assert_eq!(measured["nodes"], json!(services), "{measured}");
    let mut want_edges: Vec<[&str; 2]> = edges
        .iter()
        .map(|(a, b)| [a.as_str(), b.as_str()])
        .collect();
    want_edges.sort();
    assert_eq!(measured["edges"], json!(want_edges));
    assert_eq!(measured["labels"], json!(edges.len()), "one label per edge");
    assert!(
        measured["samples"].as_u64().unwrap_or(0) > 20 * edges.len() as u64,
        "the paths were sampled: {measured}"
    );
    assert_eq!(
        measured["labelsOverNodes"],
        json!([]),
        "edge labels drawn over service boxes ({shot})"
    );
    assert_eq!(
        measured["edgesThroughNodes"],
        json!([]),
        "edges drawn through service boxes ({shot})"
    );
    browser.screenshot(shot).await;
    browser.assert_no_console_errors().await;
    (collector, browser)
}

fn pairs(edges: &[(&str, &str)]) -> Vec<(String, String)> {
    edges
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_graph_routes_the_edge_that_skips_server2_around_it() {
    // The demo: client -> server1 -> server2 -> server3, call-backs server3 -> server2 ->
    // server1, and server1 -> server3 as when server2's tracing is off.
    let edges = pairs(&[
        ("client", "server1"),
        ("server1", "server2"),
        ("server2", "server3"),
        ("server3", "server2"),
        ("server2", "server1"),
        ("server1", "server3"),
    ]);
    let (collector, browser) = draw_and_check(&edges, "dependencies-demo").await;

    // Call-backs are drawn as such, and the skipping edge is a plain call.
    let back: Value = browser
        .eval(
            "return [...document.querySelectorAll('#deps-graph g.edge.back')].map(g => g.dataset.parent + '->' + g.dataset.child).sort();",
            vec![],
        )
        .await;
    assert_eq!(back, json!(["server2->server1", "server3->server2"]));

    // An edge label opens the search for the callee's traces.
    browser
        .click("#deps-graph g.edge-label[data-parent=server1][data-child=server3]")
        .await;
    browser
        .wait_for(
            "location.hash === '#/search?service=server3'",
            "search for server3 from the edge label",
        )
        .await;
    browser.close().await;
    collector.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_service_graph_keeps_labels_and_edges_off_the_nodes() {
    let edges = topology(10);
    let (collector, browser) = draw_and_check(&edges, "dependencies-10-services").await;
    browser.close().await;
    collector.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_service_graph_keeps_labels_and_edges_off_the_nodes() {
    let edges = topology(30);
    assert!(edges.len() >= 35, "a dense topology: {} edges", edges.len());
    let (collector, browser) = draw_and_check(&edges, "dependencies-30-services").await;
    browser.close().await;
    collector.stop().await;
}
