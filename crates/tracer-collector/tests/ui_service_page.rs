//! The service page (`#/service/{name}`), in headless Chromium against a collector loaded with
//! generated spans of known count, latency and errors: five small-multiple SVG charts (request
//! rate, error rate, p50/p95/p99) read from `/api/metrics/*`, whose points add up to the spans
//! loaded, and each point links to a search for the traces of its step.

mod ui_support;

use serde_json::json;
use ui_support::{Browser, SERVER, SpanBuilder as S, UiCollector, export, now_ns};

const SPANS: u64 = 24;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_page_charts_red_metrics_and_links_points_to_their_traces() {
    let collector = UiCollector::start().await;
    // 24 `GET /items` server spans over the last 6 minutes, one every 15 s: 10, 20, ... ms;
    // every fourth one failed.
    let base = now_ns() - 6 * 60 * 1_000_000_000;
    let mut spans = Vec::new();
    for i in 0..SPANS {
        let trace = format!("{:032x}", 0x5e00 + i);
        let span = S::new(
            &trace,
            "00000000000000e1",
            "GET /items",
            base,
            i * 15_000_000,
            (i % 6 + 1) * 10_000,
        )
        .kind(SERVER);
        spans.push(if i % 4 == 3 {
            span.error("out of stock")
        } else {
            span
        });
    }
    collector.load(&export(vec![("shop", vec![], spans)])).await;
    collector
        .wait_for_trace(&format!("{:032x}", 0x5e00 + SPANS - 1), 1)
        .await;

    let browser = Browser::launch().await;
    browser
        .goto(&collector.url("/#/service/shop?lookback=15m"))
        .await;
    browser
        .find("#service-charts figure[data-metric=p99] a.point")
        .await;
    let charts = browser
        .eval(
            "return [...document.querySelectorAll('#service-charts figure')].map(f => f.dataset.metric);",
            vec![],
        )
        .await;
    assert_eq!(charts, json!(["calls", "errors", "p50", "p95", "p99"]));
    assert_eq!(
        browser.count("#service-charts svg path.metric-line").await,
        5
    );

    // Each point covers one 15 s step (ratePer = step): calls/s x 15 s summed over the points
    // is every span loaded, and errors x calls summed is the failed ones.
    let totals = browser
        .eval(
            "const pts = (m) => [...document.querySelectorAll(`figure[data-metric=${m}] a.point`)]
                .map(a => [Number(a.dataset.t), Number(a.dataset.v)]);
             const calls = new Map(pts('calls'));
             const errors = pts('errors').reduce((n, [t, v]) => n + v * calls.get(t) * 15, 0);
             const all = [...calls.values()].reduce((n, v) => n + v * 15, 0);
             const p99 = Math.max(...pts('p99').map(p => p[1]));
             return [Math.round(all), Math.round(errors), p99];",
            vec![],
        )
        .await;
    assert_eq!(totals, json!([SPANS, SPANS / 4, 60]));
    browser.screenshot("service-page").await;

    // A point with calls opens the search for the traces of its step.
    let clicked = browser
        .eval(
            "const a = [...document.querySelectorAll('figure[data-metric=calls] a.point')]
                .find(a => Number(a.dataset.v) > 0);
             const n = Math.round(Number(a.dataset.v) * 15);
             a.classList.add('chosen');
             return n;",
            vec![],
        )
        .await;
    browser
        .click("figure[data-metric=calls] a.point.chosen")
        .await;
    browser
        .wait_for(
            "location.hash.startsWith('#/search?service=shop&start=')",
            "the search of that step",
        )
        .await;
    browser
        .wait_for(
            &format!("document.querySelectorAll('#trace-list tbody tr').length === {clicked}"),
            "the traces of that step",
        )
        .await;
    // The search of a service links back to its service page.
    let back = browser
        .eval(
            "return document.querySelector('#search-service-metrics').getAttribute('href');",
            vec![],
        )
        .await;
    assert_eq!(back, json!("#/service/shop"));
    browser.assert_no_console_errors().await;
    browser.close().await;
    collector.stop().await;
}
