//! Span data is text, never markup, in headless Chromium: a trace whose span name is
//! `<img src=x onerror=alert(1)>`, whose attribute holds `<script>`, and whose service name,
//! attribute key, event, status message and resource attribute carry markup that would set
//! `window.__tracerXss` is shown on every view (search, trace, span panel, find, dependencies,
//! compare) as the literal text, while no element, handler or script comes out of it, no
//! dialog opens and the flag stays unset.

mod ui_support;

use serde_json::json;
use ui_support::fixtures::{
    self, CHILD_PAYLOAD, HOSTILE, HOSTILE_CHILD, HOSTILE_ROOT, HOSTILE_SERVICE, IMG_PAYLOAD,
    SCRIPT_PAYLOAD,
};
use ui_support::{Browser, UiCollector, now_ns};

/// Everything an injected payload could have left in the page.
const INJECTION_REPORT: &str = "
    const handlers = [...document.querySelectorAll('*')].flatMap((e) =>
        [...e.attributes].filter((a) => a.name.startsWith('on')).map((a) => `${e.tagName}[${a.name}]`));
    const jsLinks = [...document.querySelectorAll('[href], [src]')]
        .map((e) => e.getAttribute('href') || e.getAttribute('src'))
        .filter((h) => /^\\s*javascript:/i.test(h));
    return {
        flag: window.__tracerXss === undefined ? null : String(window.__tracerXss),
        handlers,
        jsLinks,
        elements: document.querySelectorAll('img, iframe, b, object, embed').length,
        scripts: [...document.scripts].map((s) => s.getAttribute('src')),
    };";

async fn assert_nothing_ran(browser: &Browser, view: &str) {
    let report = browser.eval(INJECTION_REPORT, vec![]).await;
    assert_eq!(
        report,
        json!({
            "flag": null, "handlers": [], "jsLinks": [], "elements": 0,
            "scripts": ["/ui/app.js"],
        }),
        "{view}: span data became markup"
    );
    assert_eq!(browser.open_dialog().await, None, "{view}: a dialog opened");
}

/// Does the rendered (visible) text of the page contain `text`?
async fn visible(browser: &Browser, text: &str) -> bool {
    browser
        .eval(
            "return document.body.innerText.includes(arguments[0]);",
            vec![json!(text)],
        )
        .await
        == json!(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_span_data_renders_as_text_and_runs_nothing() {
    let collector = UiCollector::start().await;
    collector
        .load(&fixtures::hostile(now_ns() - 60_000_000_000))
        .await;
    collector.wait_for_trace(HOSTILE, 3).await;
    // The page is served with a CSP that forbids inline script, as a second line of defence.
    let (_, headers, _) = collector.get("/").await;
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let browser = Browser::launch().await;

    // Search: the result row, its service badge, the scatter dot's tooltip, the service list.
    browser.goto(&collector.url("/#/search")).await;
    let row = format!("#trace-list tr[data-trace-id='{HOSTILE}']");
    assert_eq!(
        browser.text(&format!("{row} td.name a")).await,
        format!("{HOSTILE_SERVICE}: {IMG_PAYLOAD}")
    );
    assert!(visible(&browser, IMG_PAYLOAD).await);
    let badges = browser
        .eval(
            &format!(
                "return [...document.querySelectorAll(\"{row} .badge.service\")].map(b => [b.dataset.service, b.firstChild.textContent]).sort();"
            ),
            vec![],
        )
        .await;
    let mut expected = vec![[HOSTILE_SERVICE, HOSTILE_SERVICE], ["backend", "backend"]];
    expected.sort();
    assert_eq!(badges, json!(expected));
    let dot_title = browser
        .text(&format!(
            "#scatter circle.dot[data-trace-id='{HOSTILE}'] title"
        ))
        .await;
    assert!(
        dot_title.starts_with(&format!("{HOSTILE_SERVICE}: {IMG_PAYLOAD}")),
        "{dot_title}"
    );
    let options = browser
        .eval(
            "return [...document.querySelectorAll('#search-service option')].map(o => o.textContent);",
            vec![],
        )
        .await;
    assert!(
        options
            .as_array()
            .unwrap()
            .contains(&json!(HOSTILE_SERVICE)),
        "{options}"
    );
    assert_nothing_ran(&browser, "search").await;

    // A search for the hostile service, from its URL.
    browser
        .eval(
            "location.hash = '#/search?' + new URLSearchParams({ service: arguments[0] });",
            vec![json!(HOSTILE_SERVICE)],
        )
        .await;
    browser
        .wait_for(
            "document.querySelectorAll('#trace-list tbody tr').length === 1 && document.getElementById('search-service').value.includes('onerror')",
            "the search for the hostile service",
        )
        .await;
    assert_eq!(
        browser
            .eval(
                "return document.getElementById('search-service').value;",
                vec![]
            )
            .await,
        json!(HOSTILE_SERVICE)
    );
    assert_nothing_ran(&browser, "search by service").await;

    // Trace page: header, rows, span panel (attributes, events, resource), find.
    browser
        .goto(&collector.url(&format!("/#/trace/{HOSTILE}?span={HOSTILE_ROOT}")))
        .await;
    assert_eq!(browser.text("#trace-title-op").await, IMG_PAYLOAD);
    browser.find("#span-detail:not([hidden])").await;
    let ops = browser.texts("#waterfall-rows .wf-row .op").await;
    assert_eq!(ops, [IMG_PAYLOAD, CHILD_PAYLOAD, "GET /items"]);
    assert_eq!(
        browser
            .text(&format!("[data-span-id='{HOSTILE_ROOT}'] .svc"))
            .await,
        HOSTILE_SERVICE
    );
    assert_eq!(browser.text("#detail-title").await, IMG_PAYLOAD);
    let attrs = browser
        .eval(
            "return [...document.querySelectorAll('#detail-attributes table.kv tr')].map(tr => [tr.querySelector('th').textContent, tr.querySelector('td').textContent]);",
            vec![],
        )
        .await;
    assert_eq!(
        attrs,
        json!([
            ["comment", SCRIPT_PAYLOAD],
            [
                "<b onmouseover=\"window.__tracerXss='key'\">key</b>",
                "plain value"
            ],
        ])
    );
    assert!(visible(&browser, SCRIPT_PAYLOAD).await);
    let events = browser.text("#detail-events").await;
    assert!(
        events.contains("<iframe src=\"javascript:window.__tracerXss='event'\"></iframe>")
            && events.contains("<a href=\"javascript:window.__tracerXss='link'\">x</a>"),
        "{events}"
    );
    let resource = browser
        .eval(
            "return [...document.querySelectorAll('#detail-resource table.kv tr')].map(tr => tr.querySelector('td').textContent);",
            vec![],
        )
        .await;
    assert_eq!(
        resource,
        json!([
            HOSTILE_SERVICE,
            "<img src=x onerror=\"window.__tracerXss='resource'\">"
        ])
    );
    browser.type_into("#span-find", "onerror=alert(1)").await;
    browser
        .wait_for(
            "document.getElementById('find-status').textContent === '1 match'",
            "one match for the payload",
        )
        .await;
    browser
        .click(&format!("[data-span-id='{HOSTILE_CHILD}'] .op"))
        .await;
    assert_eq!(browser.text("#detail-title").await, CHILD_PAYLOAD);
    browser.click("[data-span-id='00000000000000c3'] .op").await;
    assert_eq!(
        browser.text("#detail-status").await,
        "ERROR — <svg onload=\"window.__tracerXss='status'\"></svg>"
    );
    assert_nothing_ran(&browser, "trace").await;

    // Dependency graph: the hostile service is a node and the caller of an edge.
    browser.goto(&collector.url("/#/deps")).await;
    browser.find("#deps-graph g.edge").await;
    let edge = browser
        .eval(
            "const e = document.querySelector('#deps-graph g.edge'); return [e.dataset.parent, e.dataset.child, e.querySelector('title').textContent];",
            vec![],
        )
        .await;
    assert_eq!(
        edge,
        json!([
            HOSTILE_SERVICE,
            "backend",
            format!(
                "{HOSTILE_SERVICE} → backend: 1 call, 1 error — click to search backend's traces"
            )
        ])
    );
    let node = browser
        .eval(
            "const n = [...document.querySelectorAll('#deps-graph g.node')].find(n => n.dataset.service !== 'backend'); return [n.dataset.service, n.querySelector('title').textContent, n.querySelector('text').textContent];",
            vec![],
        )
        .await;
    assert_eq!(node[0], json!(HOSTILE_SERVICE));
    assert!(
        node[1].as_str().unwrap().starts_with(HOSTILE_SERVICE),
        "{node}"
    );
    // Long names are cut for the box, as text.
    let shown: String = HOSTILE_SERVICE.chars().take(21).collect();
    assert_eq!(node[2], json!(format!("{shown}…")));
    assert_eq!(browser.text("#deps-table tbody td").await, HOSTILE_SERVICE);
    assert_nothing_ran(&browser, "dependencies").await;

    // Compare the trace with itself: the rows carry the names as text.
    browser
        .goto(&collector.url(&format!("/#/compare/{HOSTILE}/{HOSTILE}")))
        .await;
    browser.find("#compare-rows .cmp-row").await;
    let rows = browser
        .eval(
            "return [...document.querySelectorAll('#compare-rows .cmp-row')].sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top).map(r => [r.dataset.service, r.querySelector('.op').textContent]);",
            vec![],
        )
        .await;
    assert_eq!(
        rows,
        json!([
            [HOSTILE_SERVICE, IMG_PAYLOAD],
            [HOSTILE_SERVICE, CHILD_PAYLOAD],
            ["backend", "GET /items"],
        ])
    );
    assert!(
        browser
            .text("#compare-card-a .card-title")
            .await
            .contains(IMG_PAYLOAD)
    );
    assert_nothing_ran(&browser, "compare").await;

    browser.assert_no_console_errors().await;
    browser.close().await;
    collector.stop().await;
}
