//! Comparing two traces, in headless Chromium against a collector loaded with generated traces:
//! the structural diff lists spans missing from B, added in B and changed in duration, and is
//! reachable by ticking two search results.

mod ui_support;

use serde_json::json;
use ui_support::fixtures::{self, CHECKOUT_CHANGED, CHECKOUT_OK};
use ui_support::{Browser, UiCollector, now_ns};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_shows_missing_added_and_slower_spans() {
    let collector = UiCollector::start().await;
    fixtures::load_standard(&collector).await;
    collector
        .load(&fixtures::checkout_changed(now_ns() - 60_000_000_000))
        .await;
    collector.wait_for_trace(CHECKOUT_CHANGED, 9).await;
    let browser = Browser::launch().await;

    // From the search list: tick the two traces, press compare.
    browser
        .goto(&collector.url("/#/search?service=payments"))
        .await;
    browser
        .wait_for(
            "document.querySelectorAll('#trace-list tbody tr').length === 3",
            "three payments traces",
        )
        .await;
    browser
        .click(&format!(
            "#trace-list tr[data-trace-id='{CHECKOUT_OK}'] input[type=checkbox]"
        ))
        .await;
    browser
        .click(&format!(
            "#trace-list tr[data-trace-id='{CHECKOUT_CHANGED}'] input[type=checkbox]"
        ))
        .await;
    browser.click("#compare-selected").await;
    browser.find("#compare-rows .cmp-row").await;
    let hash = browser.eval("return location.hash;", vec![]).await;
    let hash = hash.as_str().unwrap();
    assert!(
        hash == format!("#/compare/{CHECKOUT_OK}/{CHECKOUT_CHANGED}")
            || hash == format!("#/compare/{CHECKOUT_CHANGED}/{CHECKOUT_OK}"),
        "{hash}"
    );

    // Open it in the A = unchanged, B = changed order through its URL.
    browser
        .goto(&collector.url(&format!("/#/compare/{CHECKOUT_OK}/{CHECKOUT_CHANGED}")))
        .await;
    browser.find("#compare-rows .cmp-row").await;
    let counts = browser
        .eval(
            "return Object.fromEntries([...document.querySelectorAll('#compare-summary .chip')].map(c => [c.dataset.status, Number(c.dataset.count)]));",
            vec![],
        )
        .await;
    assert_eq!(
        counts,
        json!({ "missing": 3, "added": 2, "changed": 1, "same": 6 })
    );
    let rows = browser
        .eval(
            "return [...document.querySelectorAll('#compare-rows .cmp-row')]
                .sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top)
                .map(r => [r.dataset.status, r.dataset.service, r.dataset.operation]);",
            vec![],
        )
        .await;
    assert_eq!(
        rows,
        json!([
            ["same", "frontend", "GET /checkout"],
            ["same", "frontend", "POST /charge"],
            ["same", "payments", "POST /charge"],
            ["changed", "payments", "SELECT accounts"],
            ["same", "payments", "GET"],
            ["same", "payments", "CheckFraud"],
            ["same", "fraud", "fraud.Check/Score"],
            ["added", "payments", "CheckFraud"],
            ["added", "fraud", "fraud.Check/Score"],
            ["missing", "frontend", "GET /inventory"],
            ["missing", "inventory", "GET /inventory"],
            ["missing", "inventory", "SELECT stock"],
        ])
    );
    let changed = browser
        .eval(
            "const r = document.querySelector('#compare-rows .cmp-row.st-changed');
             return [r.querySelector('.cmp-dur.a').textContent, r.querySelector('.cmp-dur.b').textContent, r.querySelector('.cmp-delta').textContent];",
            vec![],
        )
        .await;
    assert_eq!(changed, json!(["20ms", "60ms", "+40ms (+200%)"]));
    browser.screenshot("compare").await;

    // Only differences.
    browser.click("#compare-only").await;
    assert_eq!(browser.count("#compare-rows .cmp-row").await, 6);
    assert!(browser.url().await.contains("only=1"));

    browser.assert_no_console_errors().await;
    browser.close().await;
    collector.stop().await;
}
