//! The dependency graph, in headless Chromium against a collector loaded with generated traces:
//! services are SVG nodes, calls are SVG edges labelled with call and error counts, and the
//! same numbers are listed in a table. Clicking a service searches its traces.

mod ui_support;

use serde_json::{Value, json};
use ui_support::fixtures;
use ui_support::{Browser, UiCollector};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependency_graph_shows_calls_and_errors_between_services() {
    let collector = UiCollector::start().await;
    fixtures::load_standard(&collector).await;
    let browser = Browser::launch().await;

    browser.goto(&collector.url("/#/deps")).await;
    browser.find("#deps-graph g.edge").await;

    let nodes = browser
        .eval(
            "return [...document.querySelectorAll('#deps-graph g.node')].map(n => n.dataset.service).sort();",
            vec![],
        )
        .await;
    assert_eq!(nodes, json!(["fraud", "frontend", "inventory", "payments"]));

    // Two checkouts: each calls payments and inventory once; one of the two fraud checks failed.
    let edges = browser
        .eval(
            "return [...document.querySelectorAll('#deps-graph g.edge')]
                .map(e => [e.dataset.parent, e.dataset.child, Number(e.dataset.calls), Number(e.dataset.errors)])
                .sort();",
            vec![],
        )
        .await;
    assert_eq!(
        edges,
        json!([
            ["frontend", "inventory", 2, 0],
            ["frontend", "payments", 2, 0],
            ["payments", "fraud", 2, 1],
        ])
    );
    // Each edge is an SVG path with an arrow, and its label shows the counts.
    assert_eq!(
        browser.count("#deps-graph g.edge path[marker-end]").await,
        3
    );
    let labels = browser.texts("#deps-graph g.edge-label text").await;
    assert!(labels.contains(&"2 calls · 1 err".to_owned()), "{labels:?}");
    assert_eq!(
        browser.count("#deps-graph g.edge.has-errors").await,
        1,
        "only payments -> fraud is drawn as failing"
    );
    // Callers are left of callees.
    let x = |service: &str| {
        format!(
            "document.querySelector('#deps-graph g.node[data-service={service}]').getBoundingClientRect().left"
        )
    };
    let order: Value = browser
        .eval(
            &format!(
                "return [{} < {}, {} < {}];",
                x("frontend"),
                x("payments"),
                x("payments"),
                x("fraud")
            ),
            vec![],
        )
        .await;
    assert_eq!(order, json!([true, true]));

    // The table lists the same numbers.
    let table = browser
        .eval(
            "return [...document.querySelectorAll('#deps-table tbody tr')].map(r => [...r.cells].map(c => c.textContent)).sort();",
            vec![],
        )
        .await;
    assert_eq!(
        table,
        json!([
            ["frontend", "inventory", "2", "0", "0 / 2"],
            ["frontend", "payments", "2", "0", "0 / 2"],
            ["payments", "fraud", "2", "1", "1 / 2"],
        ])
    );
    browser.screenshot("dependencies").await;

    // A service node opens the search for that service.
    browser
        .click("#deps-graph g.node[data-service=payments]")
        .await;
    browser
        .wait_for(
            "location.hash === '#/search?service=payments'",
            "search for payments",
        )
        .await;
    browser
        .wait_for(
            "document.querySelectorAll('#trace-list tbody tr').length === 2",
            "the two checkouts",
        )
        .await;
    browser.assert_no_console_errors().await;
    browser.close().await;
    collector.stop().await;
}
