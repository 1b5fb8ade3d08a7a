//! The trace page's findings panel (`ui/findings.js`), in headless Chromium against a collector
//! holding a trace with an N+1 staircase and a failed cache read that fell back to the
//! database: the panel lists the linter's two findings, the warning first, with their
//! sentences; a span button selects that span in the waterfall; a clean trace (no span with
//! half its time, so not even a dominant span) says so.

mod ui_support;

use ui_support::{Browser, CLIENT, SERVER, SpanBuilder as S, UiCollector, export, now_ns, sid};

const TRACE: &str = "f1d0000000000000000000000000000a";
const CLEAN: &str = "f1d0000000000000000000000000000b";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trace_page_lists_the_linter_findings_and_selects_their_spans() {
    let collector = UiCollector::start().await;
    let base = now_ns() - 60_000_000_000;
    let api = vec![
        S::new(TRACE, &sid(1), "GET /products", base, 0, 40_000).kind(SERVER),
        S::new(TRACE, &sid(2), "GET", base, 1_000, 38_000)
            .kind(CLIENT)
            .parent(&sid(1)),
    ];
    let mut shop = vec![
        S::new(TRACE, &sid(3), "ListProducts", base, 2_000, 36_000)
            .kind(SERVER)
            .parent(&sid(2)),
        S::new(TRACE, &sid(4), "GET", base, 3_000, 1_000)
            .kind(CLIENT)
            .parent(&sid(3))
            .attr("db.system.name", "redis")
            .attr("error.type", "io")
            .error("connection refused"),
    ];
    for k in 0..4u64 {
        shop.push(
            S::new(
                TRACE,
                &sid(10 + k),
                "SELECT products",
                base,
                5_000 + 8_000 * k,
                7_000,
            )
            .kind(CLIENT)
            .parent(&sid(3))
            .attr("db.system.name", "mysql")
            .attr(
                "db.query.text",
                &format!("SELECT name FROM products WHERE sku = {}", 25 + k),
            ),
        );
    }
    collector
        .load(&export(vec![("api", vec![], api), ("shop", vec![], shop)]))
        .await;
    let clean = vec![
        S::new(CLEAN, &sid(1), "GET /health", base, 0, 10_000).kind(SERVER),
        S::new(CLEAN, &sid(2), "check db", base, 1_000, 3_000).parent(&sid(1)),
        S::new(CLEAN, &sid(3), "check cache", base, 4_000, 3_000).parent(&sid(1)),
        S::new(CLEAN, &sid(4), "check disk", base, 7_000, 2_500).parent(&sid(1)),
    ];
    collector.load(&export(vec![("api", vec![], clean)])).await;
    collector.wait_for_trace(TRACE, 8).await;
    collector.wait_for_trace(CLEAN, 4).await;

    let browser = Browser::launch().await;
    browser
        .goto(&collector.url(&format!("/#/trace/{TRACE}")))
        .await;
    browser.find("#findings-list li.finding").await;
    assert_eq!(browser.text("#findings-count").await, "2 · 1 warning");
    let rules = browser
        .eval(
            "return [...document.querySelectorAll('#findings-list li.finding')].map(li => li.dataset.rule);",
            vec![],
        )
        .await;
    assert_eq!(rules, serde_json::json!(["n-plus-one", "error-handled"]));
    let items = browser.texts("#findings-list li.finding").await;
    assert!(
        items[0].starts_with(
            "N+1 queriesshop SELECT products under shop ListProducts: 4 × shop SELECT products \
             under shop ListProducts"
        ) || items[0].contains("4 × shop SELECT products under shop ListProducts"),
        "{items:?}"
    );
    assert!(
        items[0].contains(
            "the same statement `select name from products where sku = ?` ran 4 times one after \
             another, 28.0 ms in all; fetch the rows in one query (WHERE … IN (…) or a join) \
             instead of one query per item."
        ),
        "{items:?}"
    );
    assert!(
        items[1].contains(
            "it failed (error.type=io) and shop ListProducts fell back: it went on with shop \
             SELECT products and ended without error"
        ),
        "{items:?}"
    );
    let buttons = browser
        .texts("#findings-list li.finding:first-child .finding-span")
        .await;
    assert_eq!(buttons, vec!["shop SELECT products"; 4]);
    browser.screenshot("trace-findings").await;

    // A span button selects that span: the URL and the detail panel follow.
    browser
        .click("#findings-list li.finding:first-child .finding-span:nth-of-type(3)")
        .await;
    browser
        .wait_for(
            &format!("location.hash.includes('span={}')", sid(12)),
            "the third query selected",
        )
        .await;

    // A clean trace: the panel says there is nothing, folded.
    browser
        .goto(&collector.url(&format!("/#/trace/{CLEAN}")))
        .await;
    browser.find("#findings-list li.finding-none").await;
    assert_eq!(browser.text("#findings-count").await, "none");
    let open = browser
        .eval(
            "return document.getElementById('trace-findings').open;",
            vec![],
        )
        .await;
    assert_eq!(open, false);
    assert!(
        browser
            .console()
            .await
            .iter()
            .all(|(level, _)| level != "SEVERE")
    );
    collector.stop().await;
}
