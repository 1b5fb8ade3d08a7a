//! The trace page, in headless Chromium against a collector loaded with generated traces: the
//! header's numbers, the waterfall's rows and nesting, collapse/expand (one span, all), the
//! find box, the span panel (kind, status, attributes, events, links, resource), the critical
//! path, and deep links to a span.

mod ui_support;

use serde_json::{Value, json};
use ui_support::fixtures::{
    self, CHECKOUT, CHECKOUT_OK, CHECKOUT_ROWS, FRAUD_SERVER, OFF_CRITICAL_PATH, ROOT,
};
use ui_support::{Browser, UiCollector};

const ROWS: &str = "#waterfall-rows .wf-row";

/// (depth, service, operation, span id) of every rendered row, top to bottom.
async fn rows(browser: &Browser) -> Vec<(u64, String, String, String)> {
    let v = browser
        .eval(
            "return [...document.querySelectorAll('#waterfall-rows .wf-row')]
                .sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top)
                .map(r => [Number(r.dataset.depth), r.querySelector('.svc').textContent,
                           r.querySelector('.op').textContent, r.dataset.spanId]);",
            vec![],
        )
        .await;
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_u64().unwrap(),
                r[1].as_str().unwrap().to_owned(),
                r[2].as_str().unwrap().to_owned(),
                r[3].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The detail panel's attribute table as key -> value text.
async fn attributes(browser: &Browser, section: &str) -> Value {
    browser
        .eval(
            &format!(
                "return Object.fromEntries([...document.querySelectorAll('#{section} table.kv tr')]
                    .map(tr => [tr.querySelector('th').textContent, tr.querySelector('td').textContent]));"
            ),
            vec![],
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_page_shows_the_tree_the_span_details_and_the_critical_path() {
    let collector = UiCollector::start().await;
    fixtures::load_standard(&collector).await;
    let browser = Browser::launch().await;

    browser
        .goto(&collector.url(&format!("/#/trace/{CHECKOUT}")))
        .await;
    browser.find(ROWS).await;

    // Header.
    assert_eq!(browser.text("#trace-id").await, CHECKOUT);
    assert_eq!(browser.text("#trace-title-op").await, "GET /checkout");
    assert_eq!(browser.text("#meta-duration").await, "120ms");
    assert_eq!(browser.text("#meta-spans").await, "10");
    assert_eq!(browser.text("#meta-depth").await, "5");
    assert_eq!(browser.text("#meta-services").await, "4");
    assert_eq!(browser.text("#meta-errors").await, "1");

    // Rows and nesting.
    let expected: Vec<(u64, String, String, String)> = CHECKOUT_ROWS
        .iter()
        .map(|(d, s, o, id)| (*d, (*s).to_owned(), (*o).to_owned(), (*id).to_owned()))
        .collect();
    assert_eq!(rows(&browser).await, expected);
    // Error marker on the failed span only; service colour on every bar.
    assert_eq!(
        browser
            .eval(
                "return [...document.querySelectorAll('#waterfall-rows .wf-row.error')].map(r => r.dataset.spanId);",
                vec![]
            )
            .await,
        json!([FRAUD_SERVER])
    );
    assert_eq!(browser.count("#waterfall-rows .wf-row .err-icon").await, 1);
    // Bars are placed on the time ruler: the root fills it, the fraud server starts at 35%.
    let geometry = browser
        .eval(
            &format!(
                "const bar = id => document.querySelector(`[data-span-id='${{id}}'] .wf-bar`).getBoundingClientRect();
                 const t = document.querySelector('[data-span-id=\"{ROOT}\"] .wf-timeline').getBoundingClientRect();
                 const f = bar('{FRAUD_SERVER}');
                 return [bar('{ROOT}').width / t.width, (f.left - t.left) / t.width, f.width / t.width];"
            ),
            vec![],
        )
        .await;
    let g: Vec<f64> = geometry
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!((g[0] - 1.0).abs() < 0.01, "root bar spans the ruler: {g:?}");
    assert!(
        (g[1] - 0.35).abs() < 0.01,
        "fraud span starts at 42/120: {g:?}"
    );
    assert!(
        (g[2] - 32.0 / 120.0).abs() < 0.01,
        "fraud span lasts 32/120: {g:?}"
    );
    assert_eq!(
        browser.texts(".wf-ruler .tick").await,
        ["0µs", "30ms", "60ms", "90ms", "120ms"]
    );

    // Critical path: every span but the Redis GET that ran alongside the account query.
    let critical = browser
        .eval(
            "return [...document.querySelectorAll('#waterfall-rows .wf-row')].filter(r => !r.classList.contains('critical')).map(r => r.dataset.spanId);",
            vec![],
        )
        .await;
    assert_eq!(critical, json!([OFF_CRITICAL_PATH]));
    browser.click("#critical-toggle").await;
    assert_eq!(browser.count("#waterfall-rows .wf-row.critical").await, 0);
    browser.click("#critical-toggle").await;
    assert_eq!(browser.count("#waterfall-rows .wf-row.critical").await, 9);

    // Collapse one span, then all, then expand all.
    browser
        .click(&format!("[data-span-id='{}'] .toggle", CHECKOUT_ROWS[2].3))
        .await;
    assert_eq!(browser.count(ROWS).await, 6); // payments server's 4 descendants hidden
    assert_eq!(
        browser
            .text(&format!(
                "[data-span-id='{}'] .hidden-count",
                CHECKOUT_ROWS[2].3
            ))
            .await,
        "+4"
    );
    browser.click("#collapse-all").await;
    assert_eq!(browser.count(ROWS).await, 1);
    browser.click("#expand-all").await;
    assert_eq!(browser.count(ROWS).await, 10);

    // Find: highlights matching spans (by tag value here) and steps through them.
    browser.type_into("#span-find", "postgresql").await;
    browser
        .wait_for(
            "document.getElementById('find-status').textContent === '1 match'",
            "1 match",
        )
        .await;
    browser.type_into("#span-find", "db.system.name").await;
    browser
        .wait_for(
            "document.getElementById('find-status').textContent === '3 matches'",
            "3 matches",
        )
        .await;
    assert_eq!(browser.count("#waterfall-rows .wf-row.match").await, 3);
    browser.click("#find-next").await;
    assert_eq!(browser.text("#find-status").await, "1 of 3");
    assert!(browser.url().await.contains("find=db.system.name"));
    browser.type_into("#span-find", "").await;
    browser
        .wait_for(
            "document.querySelectorAll('#waterfall-rows .wf-row.match').length === 0",
            "no highlight",
        )
        .await;

    // Span panel of the failed fraud check.
    browser
        .click(&format!("[data-span-id='{FRAUD_SERVER}']"))
        .await;
    browser.find("#span-detail:not([hidden])").await;
    assert_eq!(browser.text("#detail-title").await, "fraud.Check/Score");
    assert_eq!(browser.text("#detail-kind").await, "server");
    assert_eq!(
        browser.text("#detail-status").await,
        "ERROR — model timeout"
    );
    assert_eq!(browser.text("#detail-span-id").await, FRAUD_SERVER);
    let attrs = attributes(&browser, "detail-attributes").await;
    assert_eq!(attrs["rpc.method"], "fraud.Check/Score");
    assert_eq!(attrs["rpc.system.name"], "grpc");
    assert_eq!(attrs["fraud.threshold"], "80");
    let events = browser.text("#detail-events").await;
    assert!(events.contains("exception"), "{events}");
    assert!(events.contains("model timeout after 30ms"), "{events}");
    assert!(events.contains("+70ms"), "{events}");
    let links = browser.text("#detail-links").await;
    assert!(
        links.contains(CHECKOUT_OK) && links.contains("FOLLOWS_FROM"),
        "{links}"
    );
    let resource = attributes(&browser, "detail-resource").await;
    assert_eq!(resource["service.name"], "fraud");
    assert_eq!(resource["host.name"], "fraud-1");
    // The selection is part of the URL.
    let url = browser.url().await;
    assert!(url.contains(&format!("span={FRAUD_SERVER}")), "{url}");
    browser.screenshot("trace").await;

    // A deep link to the span opens the panel on it, with its ancestors expanded.
    browser.goto(&collector.url("/#/search")).await;
    browser.goto(&url).await;
    assert_eq!(browser.text("#detail-title").await, "fraud.Check/Score");
    assert_eq!(
        browser
            .count(&format!("[data-span-id='{FRAUD_SERVER}'].selected"))
            .await,
        1
    );

    // A link in the panel goes to the linked trace.
    browser.click("#detail-links a").await;
    browser
        .wait_for(
            &format!("document.getElementById('trace-id') && document.getElementById('trace-id').textContent === '{CHECKOUT_OK}'"),
            "the linked trace",
        )
        .await;
    assert_eq!(browser.text("#meta-errors").await, "0");

    browser.assert_no_console_errors().await;
    browser.close().await;
    collector.stop().await;
}
