//! The "what got slower" page (`#/slower`, `ui/regress.js`), in headless Chromium: two windows
//! of checkout traces whose query got 30 ms slower list the slowed operation paths biggest first
//! and leave the unchanged cache write out; a path's pair link opens the two typical traces
//! side by side; two uploaded trace files are compared the same way.

mod ui_support;

use ui_support::{Browser, CLIENT, SERVER, SpanBuilder as S, UiCollector, export, now_ns, sid};

const MINUTE_NS: u64 = 60_000_000_000;

/// A checkout of `trace`: `shop GET /cart` calling `shop SELECT carts` (db_ms) and then
/// `shop SETEX cart` (2 ms).
fn checkout(trace: &str, base: u64, db_ms: u64) -> serde_json::Value {
    let db_us = db_ms * 1000;
    export(vec![(
        "shop",
        vec![],
        vec![
            S::new(trace, &sid(1), "GET /cart", base, 0, db_us + 4_000).kind(SERVER),
            S::new(trace, &sid(2), "SELECT carts", base, 500, db_us)
                .kind(CLIENT)
                .parent(&sid(1))
                .attr("db.system.name", "mysql"),
            S::new(trace, &sid(3), "SETEX cart", base, db_us + 1_000, 2_000)
                .kind(CLIENT)
                .parent(&sid(1))
                .attr("db.system.name", "redis"),
        ],
    )])
}

fn rows_script() -> &'static str {
    "return [...document.querySelectorAll('#rg-slower tr.rg-row')].map(r => r.dataset.path);"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slower_page_ranks_slowed_paths_and_opens_a_typical_pair() {
    let collector = UiCollector::start().await;
    let now = now_ns();
    for i in 0..10u64 {
        let jitter = i % 3;
        let before = format!("{:032x}", 0xbe00 + i);
        let after = format!("{:032x}", 0xaf00 + i);
        collector
            .load(&checkout(
                &before,
                now - 45 * MINUTE_NS + i * 1_000_000_000,
                10 + jitter,
            ))
            .await;
        collector
            .load(&checkout(
                &after,
                now - 10 * MINUTE_NS + i * 1_000_000_000,
                40 + jitter,
            ))
            .await;
    }
    collector
        .wait_for_trace(&format!("{:032x}", 0xaf09), 3)
        .await;

    let browser = Browser::launch().await;
    browser.goto(&collector.url("/#/slower?window=30m")).await;
    browser.find("#rg-slower tr.rg-row").await;
    let rows = browser.eval(rows_script(), vec![]).await;
    assert_eq!(
        rows,
        serde_json::json!(["shop GET /cart", "shop GET /cart / shop SELECT carts"])
    );
    let summary = browser.text("#rg-summary").await;
    assert!(
        summary.starts_with("2 slower, 0 faster, 1 unchanged operation paths"),
        "{summary}"
    );
    assert!(summary.contains("10 traces, 30 spans"), "{summary}");
    let cells = browser.texts("#rg-slower tr.rg-row:nth-child(2) td").await;
    assert_eq!(cells[1], "11ms / 12ms (10)", "{cells:?}");
    assert_eq!(cells[2], "41ms / 42ms (10)", "{cells:?}");
    assert_eq!(cells[3], "+30ms", "{cells:?}");
    assert!(
        browser
            .eval(
                "return document.querySelector('[data-nav=slower]').classList.contains('active');",
                vec![]
            )
            .await
            == serde_json::json!(true)
    );
    browser.screenshot("regress").await;

    // The pair of the query: typical traces of each side, side by side.
    browser
        .click("#rg-slower tr.rg-row:nth-child(2) a.rg-pair")
        .await;
    browser
        .wait_for("location.hash.startsWith('#/compare/')", "the compare page")
        .await;
    let hash = browser.eval("return location.hash;", vec![]).await;
    assert_eq!(
        hash,
        format!("#/compare/{:016x}/{:016x}", 0xbe01, 0xaf01),
        "the lowest trace id at each median"
    );
    browser.find("#compare-card-b").await;

    // Two uploaded files: the first five "before" traces and the last five "after" ones,
    // saved under new ids.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-regress-files");
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, base_id: u64, db_ms: u64| {
        let lines: Vec<String> = (0..6u64)
            .map(|i| {
                checkout(
                    &format!("{:032x}", base_id + i),
                    now - 5 * MINUTE_NS + i * 1_000_000,
                    db_ms + i % 2,
                )
                .to_string()
            })
            .collect();
        let path = dir.join(name);
        std::fs::write(&path, lines.join("\n")).unwrap();
        path
    };
    let before = write("before.jsonl", 0xf100, 5);
    let after = write("after.jsonl", 0xf200, 25);
    browser.goto(&collector.url("/#/slower")).await;
    browser.find("#rg-files").await;
    browser.pick_file("#rg-file-before", &before).await;
    browser.pick_file("#rg-file-after", &after).await;
    browser.click("#rg-files button[type=submit]").await;
    browser
        .wait_for("location.hash.includes('before=')", "the file comparison")
        .await;
    browser.find("#rg-slower tr.rg-row").await;
    let rows = browser.eval(rows_script(), vec![]).await;
    assert_eq!(
        rows,
        serde_json::json!(["shop GET /cart", "shop GET /cart / shop SELECT carts"])
    );
    let summary = browser.text("#rg-summary").await;
    assert!(
        summary.contains("Before: 6 trace IDs: 6 traces"),
        "{summary}"
    );
    assert!(
        browser
            .console()
            .await
            .iter()
            .all(|(level, _)| level != "SEVERE")
    );
    let _ = std::fs::remove_dir_all(&dir);
    collector.stop().await;
}
