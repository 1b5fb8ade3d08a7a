//! Deep links and history, in headless Chromium against a collector loaded with generated
//! traces: going search -> trace (with a span selected) -> dependencies -> search -> compare by
//! clicking adds one history entry per view; back and forward walk through them, each view
//! coming back with its state; every URL opened on its own in a fresh page load shows the same
//! view; and Jaeger UI's paths (`/search`, `/trace/{id}`, `/dependencies`) redirect to them.

mod ui_support;

use ui_support::fixtures::{self, CHECKOUT, CHECKOUT_OK, FRAUD_SERVER};
use ui_support::{Browser, UiCollector};

/// What identifies each view once it has rendered (a JavaScript condition).
fn search_of(rows: usize) -> String {
    format!("document.querySelectorAll('#trace-list tbody tr').length === {rows}")
}

fn trace_with_span(trace: &str, span: &str) -> String {
    format!(
        "document.getElementById('trace-id') && document.getElementById('trace-id').textContent === '{trace}' \
         && document.querySelector('#waterfall-rows .wf-row.selected[data-span-id=\"{span}\"]') !== null \
         && document.getElementById('detail-span-id').textContent === '{span}'"
    )
}

const DEPS: &str = "document.querySelectorAll('#deps-graph g.edge').length === 3";

fn compare_of(a: &str, b: &str) -> String {
    format!(
        "document.querySelectorAll('#compare-rows .cmp-row').length > 0 \
         && document.getElementById('compare-a').value === '{a}' && document.getElementById('compare-b').value === '{b}'"
    )
}

async fn hash(browser: &Browser) -> String {
    browser
        .eval("return location.hash;", vec![])
        .await
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_view_has_a_url_and_back_forward_walk_through_them() {
    let collector = UiCollector::start().await;
    fixtures::load_standard(&collector).await;
    let browser = Browser::launch().await;

    // 1. Search frontend's traces: the two checkouts and three health checks.
    browser
        .goto(&collector.url("/#/search?service=frontend"))
        .await;
    browser.wait_for(&search_of(5), "frontend's 5 traces").await;
    // 2. Open the known trace from the list, then pick a span (same history entry, new URL).
    browser
        .click(&format!(
            "#trace-list tr[data-trace-id='{CHECKOUT}'] td.name a"
        ))
        .await;
    browser.find("#waterfall-rows .wf-row").await;
    browser
        .click(&format!("[data-span-id='{FRAUD_SERVER}'] .op"))
        .await;
    browser
        .wait_for(&trace_with_span(CHECKOUT, FRAUD_SERVER), "the fraud span")
        .await;
    let trace_hash = hash(&browser).await;
    assert_eq!(
        trace_hash,
        format!("#/trace/{CHECKOUT}?span={FRAUD_SERVER}")
    );
    // 3. Dependencies from the top bar.
    browser.click("nav a[data-nav=deps]").await;
    browser.wait_for(DEPS, "the dependency graph").await;
    // 4. A service node searches that service.
    browser
        .click("#deps-graph g.node[data-service=payments]")
        .await;
    browser.wait_for(&search_of(2), "payments' 2 traces").await;
    // 5. Compare the two checkouts.
    for id in [CHECKOUT, CHECKOUT_OK] {
        browser
            .click(&format!(
                "#trace-list tr[data-trace-id='{id}'] input[type=checkbox]"
            ))
            .await;
    }
    browser.click("#compare-selected").await;
    // A and B in the order they were ticked.
    let (a, b) = (CHECKOUT, CHECKOUT_OK);
    browser.wait_for(&compare_of(a, b), "the comparison").await;
    let compare_hash = hash(&browser).await;
    assert_eq!(compare_hash, format!("#/compare/{a}/{b}"));

    // Back through every view, each restored from its URL.
    browser.back().await;
    browser
        .wait_for(&search_of(2), "back to payments' search")
        .await;
    assert_eq!(hash(&browser).await, "#/search?service=payments");
    browser.back().await;
    browser.wait_for(DEPS, "back to dependencies").await;
    assert_eq!(hash(&browser).await, "#/deps");
    browser.back().await;
    browser
        .wait_for(
            &trace_with_span(CHECKOUT, FRAUD_SERVER),
            "back to the trace, span panel open",
        )
        .await;
    assert_eq!(hash(&browser).await, trace_hash);
    browser.back().await;
    browser
        .wait_for(&search_of(5), "back to frontend's search")
        .await;
    assert_eq!(
        browser
            .eval(
                "return document.getElementById('search-service').value;",
                vec![]
            )
            .await,
        "frontend"
    );
    // Forward again.
    browser.forward().await;
    browser
        .wait_for(
            &trace_with_span(CHECKOUT, FRAUD_SERVER),
            "forward to the trace",
        )
        .await;
    browser.forward().await;
    browser.wait_for(DEPS, "forward to dependencies").await;
    browser.forward().await;
    browser
        .wait_for(&search_of(2), "forward to payments' search")
        .await;
    browser.forward().await;
    browser
        .wait_for(&compare_of(a, b), "forward to the comparison")
        .await;

    // Every view's URL, opened in a fresh page load (a new query string forces a real load),
    // shows that view.
    let views = [
        ("#/search?service=frontend".to_owned(), search_of(5)),
        (trace_hash.clone(), trace_with_span(CHECKOUT, FRAUD_SERVER)),
        ("#/deps".to_owned(), DEPS.to_owned()),
        ("#/search?service=payments".to_owned(), search_of(2)),
        (compare_hash.clone(), compare_of(a, b)),
    ];
    for (i, (view, rendered)) in views.iter().enumerate() {
        browser
            .goto(&collector.url(&format!("/?load={i}{view}")))
            .await;
        let navigations = browser
            .eval(
                "return performance.getEntriesByType('navigation').length;",
                vec![],
            )
            .await;
        assert_eq!(navigations, 1, "{view} was not a fresh load");
        browser.wait_for(rendered, view).await;
    }

    // Jaeger UI's own paths land on the same views.
    for (path, rendered) in [
        ("/search?service=frontend".to_owned(), search_of(5)),
        (
            format!("/trace/{CHECKOUT}"),
            format!(
                "document.getElementById('trace-id') && document.getElementById('trace-id').textContent === '{CHECKOUT}'"
            ),
        ),
        ("/dependencies".to_owned(), DEPS.to_owned()),
    ] {
        browser.goto(&collector.url(&path)).await;
        browser.wait_for(&rendered, &path).await;
    }

    browser.assert_no_console_errors().await;
    browser.close().await;
    collector.stop().await;
}
