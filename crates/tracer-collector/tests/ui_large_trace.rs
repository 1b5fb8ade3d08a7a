//! Big traces in headless Chromium.
//!
//! - A 10,000-span trace opened by its URL in a fresh page load shows its first screen (header
//!   and waterfall rows painted) in under 2 s; only the visible rows are in the DOM; scrolling
//!   to the end, collapsing and expanding everything stay quick.
//! - A 100,000-span trace shows its first screen while the rest is still arriving (the page
//!   reads `/api/collector/traces/{id}`, the trace in tree order, and draws from the first
//!   part); while the rest arrives, collapse/expand all and selecting a span work; then every
//!   span: the header counts 100,000, the critical path is drawn, the last row can be scrolled
//!   to, and collapse/expand all work on the whole trace. Its speed is not asserted here.
//!
//! The issue asks for the 10,000-span bound to be checked, so that test (unlike the house rule
//! that tests do not assert on wall-clock speed) does: the figure is the best of five loads,
//! which keeps other work on the machine from failing it, and is printed (`--nocapture`).
//!
//! `measure_first_screen_of_a_collector_binary` (ignored; run by hand as docs/bench/ui.md
//! says) takes the figures of docs/bench/ui.md from a collector binary in its own process:
//! first screen and complete load (best of 5) and the collector's peak RSS during the fetches,
//! for 10,000 and 100,000 spans.

mod ui_support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use ui_support::fixtures::{self, HUGE, HUGE_SPANS, LARGE, LARGE_SPANS};
use ui_support::{Browser, UiCollector, now_ns, sid};

const FIRST_SCREEN_BUDGET_MS: f64 = 2_000.0;
const LOADS: usize = 5;
/// Spans per export request when loading the 100,000-span trace (the body limit is 64 MiB).
const BATCH: usize = 10_000;

/// Milliseconds from navigation start to the marks the trace page sets, and the API fetch.
const TIMINGS: &str = "
    const mark = (name) => { const e = performance.getEntriesByName(name); return e.length ? e[0].startTime : null; };
    const api = performance.getEntriesByType('resource').find((r) => r.name.includes('/traces/'));
    return {
        painted: mark('tracer:trace-painted'),
        rows: mark('tracer:trace-rows'),
        loaded: mark('tracer:trace-loaded'),
        apiEnd: api ? api.responseEnd : null,
        apiBytes: api ? api.encodedBodySize : null,
        lag: window.__tracerLag === undefined ? null : window.__tracerLag,
        critical: mark('tracer:trace-critical'),
        long: window.__tracerLong || [],
    };";

/// Installed once the first screen is painted: the longest gap between two 20 ms ticks past
/// their due time, i.e. the longest the page could not answer input while the rest loaded.
const LAG_PROBE: &str = "
    window.__tracerLag = 0;
    let last = performance.now();
    window.__tracerLagTimer = setInterval(() => {
        const now = performance.now();
        window.__tracerLag = Math.max(window.__tracerLag, now - last - 20);
        last = now;
    }, 20);
    window.__tracerLong = [];
    new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.__tracerLong.push([Math.round(e.startTime), Math.round(e.duration)]);
    }).observe({ type: 'longtask' });";

/// True once the page holds the whole trace: its load mark (or, for a page that draws only
/// complete traces, the painted mark and no loading line).
const LOADED: &str = "performance.getEntriesByName('tracer:trace-loaded').length === 1 \
    || (performance.getEntriesByName('tracer:trace-painted').length === 1 && !document.getElementById('trace-loading'))";

fn ms(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("no {key} in {v}"))
}

/// The tree-order first row on screen: [span id, depth].
const FIRST_ROW: &str = "const r = [...document.querySelectorAll('#waterfall-rows .wf-row')].sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top)[0]; return [r.dataset.spanId, r.dataset.depth];";

/// Loads the n-span trace of [`fixtures::large_trace`] in export requests of [`BATCH`] spans
/// (OTLP protobuf: building and decoding 100,000 spans of JSON takes a debug build a minute).
async fn load_large_trace(collector: &UiCollector, trace: &str, n: usize, base_ns: u64) {
    for from in (0..n).step_by(BATCH) {
        let range = from..(from + BATCH).min(n);
        collector
            .load_protobuf(fixtures::large_trace_proto(trace, n, base_ns, range))
            .await;
    }
}

/// Scrolls the waterfall to its end and waits for the last row; returns how long it took.
async fn scroll_to_last_row(browser: &Browser, last_span_id: &str) -> Duration {
    let started = Instant::now();
    browser
        .eval(
            "const l = document.getElementById('waterfall-rows'); l.scrollTop = l.scrollHeight;",
            vec![],
        )
        .await;
    browser
        .wait_for(
            &format!(
                "document.querySelector('#waterfall-rows .wf-row[data-span-id=\"{last_span_id}\"]') !== null"
            ),
            "the last row after scrolling",
        )
        .await;
    started.elapsed()
}

/// Collapse all leaves one row; expand all lays out every span again (still virtual).
async fn collapse_and_expand_all(browser: &Browser, spans: u64) {
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
        json!(spans * 26),
        "all {spans} rows are laid out again"
    );
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
        browser.wait_for(LOADED, "the whole large trace").await;
        let t = browser.eval(TIMINGS, vec![]).await;
        eprintln!(
            "10,000-span trace, load {}: first screen painted at {:.0} ms (rows in the DOM at {:.0} ms; all spans in at {:.0} ms, API response complete at {:.0} ms, {} bytes)",
            i + 1,
            ms(&t, "painted"),
            ms(&t, "rows"),
            ms(&t, "loaded"),
            ms(&t, "apiEnd"),
            t["apiBytes"],
        );
        loads.push(ms(&t, "painted"));
    }
    let best = loads.iter().copied().fold(f64::INFINITY, f64::min);
    eprintln!("10,000-span trace: first screen in {best:.0} ms (best of {LOADS}: {loads:.0?} ms)");
    assert!(
        best < FIRST_SCREEN_BUDGET_MS,
        "the first screen of a 10,000-span trace took {best:.0} ms (loads: {loads:.0?} ms); the budget is 2 s"
    );

    // What is on that screen once every span is in: the header counts every span, the rows
    // start at the root, and only the rows in view (plus a margin) exist.
    assert_eq!(browser.text("#meta-spans").await, "10000");
    assert_eq!(browser.text("#meta-depth").await, "10");
    assert_eq!(browser.text("#meta-errors").await, "10");
    assert_eq!(
        browser.eval(FIRST_ROW, vec![]).await,
        json!(["0000000000000001", "0"])
    );
    let in_dom = browser.count("#waterfall-rows .wf-row").await;
    assert!(
        (20..=120).contains(&in_dom),
        "{in_dom} rows in the DOM for 10,000 spans"
    );
    browser.screenshot("large-trace").await;

    // Scroll to the end: the last span in tree order (span 9840, the leaf at the end of the
    // last branch) is drawn, and the DOM still holds a screenful.
    let last = sid(fixtures::large_trace_last(LARGE_SPANS as usize) as u64 + 1);
    assert_eq!(last, "0000000000002671");
    let scrolled = scroll_to_last_row(&browser, &last).await;
    let in_dom = browser.count("#waterfall-rows .wf-row").await;
    assert!(in_dom <= 120, "{in_dom} rows in the DOM after scrolling");
    eprintln!("10,000-span trace: scrolled to the end in {scrolled:?} ({in_dom} rows in the DOM)");
    collapse_and_expand_all(&browser, LARGE_SPANS).await;
    assert!(
        scrolled < Duration::from_secs(2),
        "scrolling to the end took {scrolled:?}"
    );

    browser.assert_no_console_errors().await;
    browser.close().await;
    collector.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100000_span_trace_shows_its_first_screen_then_every_span() {
    // The default limits hold it: 1,000,000 spans and 512 MiB in the store, no per-trace cap.
    let collector = UiCollector::start().await;
    let started = Instant::now();
    load_large_trace(
        &collector,
        HUGE,
        HUGE_SPANS as usize,
        now_ns() - 60_000_000_000,
    )
    .await;
    collector
        .wait_for_spans(HUGE_SPANS, Duration::from_secs(60))
        .await;
    eprintln!("100,000-span trace stored in {:?}", started.elapsed());
    let browser = Browser::launch().await;
    browser
        .goto(&collector.url(&format!("/#/trace/{HUGE}")))
        .await;

    // The first screen: rows from the root down, a screenful in the DOM.
    browser
        .wait_for_within(
            "performance.getEntriesByName('tracer:trace-painted').length === 1",
            "the first screen of the 100,000-span trace",
            Duration::from_secs(30),
        )
        .await;
    let first = browser.eval(TIMINGS, vec![]).await;
    eprintln!(
        "100,000-span trace (this build): first screen painted at {:.0} ms",
        ms(&first, "painted")
    );
    assert_eq!(
        browser.eval(FIRST_ROW, vec![]).await,
        json!(["0000000000000001", "0"])
    );
    let in_dom = browser.count("#waterfall-rows .wf-row").await;
    assert!(
        (20..=120).contains(&in_dom),
        "{in_dom} rows in the DOM on the first screen"
    );
    browser.screenshot("huge-trace-first-screen").await;
    // The root's row is one element while the rest streams in: the page refreshes its rows
    // as spans arrive, and a row swapped for a new element between a pointer's press and its
    // release would swallow the click.
    browser
        .eval(
            "window.rootRow = document.querySelector('#waterfall-rows .wf-row[data-span-id=\"0000000000000001\"]'); return null",
            vec![],
        )
        .await;

    // While the rest arrives (in a debug build it takes seconds), the page answers: collapse
    // all leaves the root's row, expand all brings the rows back, a row opens its span.
    let loading = browser
        .eval(
            "return !document.getElementById('trace-loading').hidden",
            vec![],
        )
        .await;
    browser.click("#collapse-all").await;
    browser
        .wait_for(
            "document.querySelectorAll('#waterfall-rows .wf-row').length === 1",
            "one row after collapse all while loading",
        )
        .await;
    browser.click("#expand-all").await;
    browser
        .wait_for(
            "document.querySelectorAll('#waterfall-rows .wf-row').length > 20",
            "the rows again after expand all",
        )
        .await;
    browser
        .click("#waterfall-rows .wf-row[data-span-id=\"0000000000000002\"]")
        .await;
    assert_eq!(browser.text("#detail-span-id").await, "0000000000000002");
    eprintln!("100,000-span trace: collapse, expand and select done while loading: {loading}");

    // Then every span: the header counts them all, and the loading line is gone.
    browser
        .wait_for_within(LOADED, "every span of the trace", Duration::from_secs(60))
        .await;
    let t = browser.eval(TIMINGS, vec![]).await;
    eprintln!(
        "100,000-span trace (this build): all spans in at {:.0} ms",
        ms(&t, "loaded")
    );
    assert_eq!(browser.text("#meta-spans").await, "100000");
    assert_eq!(
        browser
            .eval(
                "return [window.rootRow.isConnected, window.rootRow.dataset.spanId]",
                vec![]
            )
            .await,
        json!([true, "0000000000000001"]),
        "the root's row element from the first screen is still the root's row"
    );
    assert_eq!(browser.text("#meta-depth").await, "12");
    assert_eq!(browser.text("#meta-errors").await, "100");
    assert_eq!(
        browser
            .eval(
                "return document.getElementById('trace-loading').hidden",
                vec![]
            )
            .await,
        json!(true)
    );
    // The critical path follows, walked in slices: the root is on it.
    browser
        .wait_for_within(
            "document.querySelector('#waterfall-rows .wf-row.critical[data-span-id=\"0000000000000001\"]') !== null",
            "the critical path on the root's row",
            Duration::from_secs(30),
        )
        .await;
    // Too large for the linter: the findings panel says so instead of failing.
    browser
        .wait_for(
            "document.getElementById('findings-count')?.textContent === 'not linted'",
            "the findings panel saying the trace was not linted",
        )
        .await;
    let last = sid(fixtures::large_trace_last(HUGE_SPANS as usize) as u64 + 1);
    scroll_to_last_row(&browser, &last).await;
    assert!(browser.count("#waterfall-rows .wf-row").await <= 120);
    collapse_and_expand_all(&browser, HUGE_SPANS).await;

    browser.assert_no_console_errors().await;
    browser.close().await;
    collector.stop().await;
}

/// A collector binary in its own process on free loopback ports, killed on drop.
struct CollectorProcess {
    child: std::process::Child,
    collector: UiCollector,
}

impl CollectorProcess {
    fn start(binary: &str) -> Self {
        let free = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        };
        let (query, otlp) = (free(), free());
        let mut command = std::process::Command::new(binary);
        command
            .args(["--query-port", &query.to_string()])
            .args(["--otlp-http-port", &otlp.to_string()]);
        for off in [
            "--otlp-grpc-port",
            "--zipkin-port",
            "--jaeger-http-port",
            "--jaeger-compact-port",
            "--jaeger-binary-port",
            "--zipkin-compact-port",
            "--sampling-port",
            "--jaeger-grpc-port",
        ] {
            command.args([off, "0"]);
        }
        let child = command
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
        CollectorProcess {
            child,
            collector: UiCollector::attach(
                format!("http://127.0.0.1:{query}"),
                format!("http://127.0.0.1:{otlp}/v1/traces"),
            ),
        }
    }

    /// A line of /proc/{pid}/status in KiB (`VmRSS`, `VmHWM`).
    fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc status"))
    }

    /// Resets the peak RSS (VmHWM) to the current RSS.
    fn reset_peak(&self) {
        std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5").unwrap();
    }
}

impl Drop for CollectorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement for docs/bench/ui.md: TRACER_UI_BENCH_BIN=path/to/tracer-collector"]
async fn measure_first_screen_of_a_collector_binary() {
    let binary = std::env::var("TRACER_UI_BENCH_BIN")
        .expect("set TRACER_UI_BENCH_BIN to the tracer-collector binary to measure");
    let process = CollectorProcess::start(&binary);
    let collector = &process.collector;
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::get(collector.url("/api/services")).await.is_err() {
        assert!(Instant::now() < deadline, "{binary} never answered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let base = now_ns() - 60_000_000_000;
    collector.load(&fixtures::large(base)).await;
    load_large_trace(collector, HUGE, HUGE_SPANS as usize, base).await;
    collector
        .wait_for_spans(LARGE_SPANS + HUGE_SPANS, Duration::from_secs(120))
        .await;
    eprintln!(
        "collector RSS with both traces stored: {} MiB",
        process.status_kib("VmRSS") / 1024
    );
    let browser = Browser::launch().await;
    // Warm the browser on a page that reads no trace (the search and dependency pages would
    // have the collector convert traces before the measured fetches).
    browser.goto(&collector.url("/#/status")).await;
    browser.find("#status-forward-off").await;

    let mut load = 0;
    for (trace, spans) in [(LARGE, LARGE_SPANS), (HUGE, HUGE_SPANS)] {
        process.reset_peak();
        let before = process.status_kib("VmRSS");
        let (mut painted, mut loaded, mut lags) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..LOADS {
            load += 1;
            browser
                .goto(&collector.url(&format!("/?load={load}#/trace/{trace}")))
                .await;
            browser
                .wait_for_within(
                    "performance.getEntriesByName('tracer:trace-painted').length === 1",
                    "the first screen",
                    Duration::from_secs(120),
                )
                .await;
            browser.eval(LAG_PROBE, vec![]).await;
            browser
                .wait_for_within(LOADED, "every span", Duration::from_secs(120))
                .await;
            let t = browser.eval(TIMINGS, vec![]).await;
            let p = ms(&t, "painted");
            // A page without the load mark drew the whole trace at once.
            let l = t["loaded"].as_f64().unwrap_or(p);
            eprintln!(
                "{spans} spans, load {load}: first screen {p:.0} ms, all spans {l:.0} ms, API complete {:.0} ms ({} bytes), longest stall after the first screen {:.0} ms; critical path at {} ms; long tasks [start, ms] {}",
                ms(&t, "apiEnd"),
                t["apiBytes"],
                t["lag"].as_f64().unwrap_or(0.0),
                t["critical"],
                t["long"],
            );
            painted.push(p);
            loaded.push(l);
            lags.push(t["lag"].as_f64().unwrap_or(0.0));
        }
        let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
        eprintln!(
            "RESULT {spans} spans: first screen best {:.0} ms {painted:.0?}; all spans best {:.0} ms {loaded:.0?}; stalls {lags:.0?} ms; collector RSS {} MiB before, peak {} MiB during the {LOADS} fetches",
            best(&painted),
            best(&loaded),
            before / 1024,
            process.status_kib("VmHWM") / 1024,
        );
    }
    browser.close().await;
}
