//! The search page, in headless Chromium against a collector loaded with generated traces:
//! "all services" finds the known trace, the list shows its root, span and error counts and
//! service badges, filters (service, tags, min duration) narrow the results, the list sorts,
//! and a dot of the scatter plot opens the trace.

mod ui_support;

use serde_json::json;
use ui_support::fixtures::{self, CHECKOUT, CHECKOUT_OK};
use ui_support::{Browser, UiCollector};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_the_known_trace_and_opens_it() {
    let collector = UiCollector::start().await;
    fixtures::load_standard(&collector).await;
    let browser = Browser::launch().await;

    // Default search: all services, last hour.
    browser.goto(&collector.url("/#/search")).await;
    browser
        .wait_for(
            "document.querySelectorAll('#trace-list tbody tr').length === 7",
            "7 results",
        )
        .await;
    assert_eq!(browser.text("#result-count").await, "7 traces");
    let row = format!("#trace-list tr[data-trace-id='{CHECKOUT}']");
    assert_eq!(
        browser.text(&format!("{row} td.name a")).await,
        "frontend: GET /checkout"
    );
    assert_eq!(browser.text(&format!("{row} td.spans")).await, "10");
    assert_eq!(browser.text(&format!("{row} td.errors")).await, "1");
    assert_eq!(
        browser.text(&format!("{row} td.duration .dur-text")).await,
        "120ms"
    );
    let badges = browser
        .eval(
            &format!(
                "return [...document.querySelectorAll(\"{row} td.services .badge\")].map(b => b.dataset.service);"
            ),
            vec![],
        )
        .await;
    assert_eq!(
        badges,
        json!(["fraud", "frontend", "inventory", "payments"])
    );
    // Service badges are coloured, the same colour for the same service on every row.
    let colours = browser
        .eval(
            "return [...document.querySelectorAll('#trace-list .badge[data-service=frontend]')].map(b => getComputedStyle(b).backgroundColor);",
            vec![],
        )
        .await;
    let colours = colours.as_array().unwrap();
    assert!(colours.len() >= 2 && colours.iter().all(|c| c == &colours[0]));

    // Newest first by default; sorting by duration puts the 120 ms checkouts on top.
    let ids = |v: serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    let list_order = "return [...document.querySelectorAll('#trace-list tbody tr')].map(r => r.dataset.traceId);";
    assert_eq!(ids(browser.eval(list_order, vec![]).await)[0], CHECKOUT);
    browser.click("#trace-list th[data-sort=duration]").await;
    let by_duration = ids(browser.eval(list_order, vec![]).await);
    assert_eq!(&by_duration[..2], [CHECKOUT, CHECKOUT_OK].as_slice());
    browser.click("#trace-list th[data-sort=duration]").await; // again: shortest first
    let shortest = ids(browser.eval(list_order, vec![]).await);
    assert!(shortest[0].starts_with("000000000000ee0"));
    assert!(browser.url().await.contains("sort=duration-asc"));
    browser.click("#trace-list th[data-sort=start]").await;

    // The scatter plot has one dot per trace, the failed checkout marked as an error.
    assert_eq!(browser.count("#scatter circle.dot").await, 7);
    assert_eq!(
        browser
            .count(&format!(
                "#scatter circle.dot.error[data-trace-id='{CHECKOUT}']"
            ))
            .await,
        1
    );
    browser.screenshot("search").await;

    // Filters: one service, a tag and a minimum duration leave the known trace alone.
    browser
        .eval(
            "const s = document.getElementById('search-service'); s.value = 'frontend'; s.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await;
    browser
        .type_into("#search-tags", "customer.tier=gold")
        .await;
    browser.type_into("#search-min", "100ms").await;
    browser.click("#search-submit").await;
    browser
        .wait_for("location.hash.includes('customer.tier')", "the search URL")
        .await;
    browser
        .wait_for(
            "document.querySelectorAll('#trace-list tbody tr').length === 1",
            "one result",
        )
        .await;
    let only = browser.text("#trace-list tbody tr").await;
    assert!(only.contains("GET /checkout"), "{only}");
    let url = browser.url().await;
    assert!(url.contains("service=frontend"), "{url}");
    assert!(url.contains("minDuration=100ms"), "{url}");

    // A bad duration is refused in the form, with a message, and does not search.
    browser.type_into("#search-max", "soon").await;
    browser.click("#search-submit").await;
    assert!(browser.text(".form-error").await.contains("not a duration"));
    browser.type_into("#search-max", "").await;

    // The same search from a deep link, then a click on its dot opens the trace.
    browser.goto(&url).await;
    browser
        .wait_for(
            "document.querySelectorAll('#trace-list tbody tr').length === 1",
            "the deep-linked search",
        )
        .await;
    assert_eq!(
        browser
            .eval(
                "return document.getElementById('search-tags').value;",
                vec![]
            )
            .await,
        json!("customer.tier=gold")
    );
    browser
        .click(&format!("#scatter circle.dot[data-trace-id='{CHECKOUT}']"))
        .await;
    browser
        .wait_for(
            &format!("location.hash === '#/trace/{CHECKOUT}'"),
            "the trace route",
        )
        .await;
    browser.find("#waterfall-rows .wf-row").await;
    assert_eq!(browser.text("#trace-id").await, CHECKOUT);

    // Back returns to the search with its results.
    browser.back().await;
    browser
        .wait_for(
            "document.querySelectorAll('#trace-list tbody tr').length === 1",
            "search after back",
        )
        .await;
    browser.assert_no_console_errors().await;
    browser.close().await;
    collector.stop().await;
}
