//! The status page (#/status) in headless Chromium: an edge collector forwarding to a central
//! one shows what its store holds and, per upstream, the spans sent, retried and dropped, as
//! `/api/collector/stats` counts them.

mod ui_support;

use std::time::Duration;

use serde_json::json;
use tracer_collector::Collector;
use tracer_collector::forward::{Protocol, Upstream};
use ui_support::{Browser, UiCollector, fixtures};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_page_shows_the_store_and_each_upstreams_counters() {
    let central = UiCollector::start().await;
    let mut upstream = Upstream::new(central.otlp_url(), Protocol::HttpProtobuf).unwrap();
    upstream.batch_delay = Duration::from_millis(1);
    let edge = UiCollector::start_with(Collector::builder().forward(vec![upstream]).build()).await;
    fixtures::load_standard(&edge).await;
    central.wait_for_trace(fixtures::CHECKOUT, 10).await;
    let (_, _, body) = edge.get("/api/collector/stats").await;
    let stats: serde_json::Value = serde_json::from_str(&body).unwrap();
    let spans = stats["spans"].as_u64().unwrap();

    let browser = Browser::launch().await;
    browser.goto(&edge.url("/#/status")).await;
    browser
        .wait_for(
            &format!(
                "[...document.querySelectorAll('#status-forward td[data-key=sent_spans]')].map(td => td.textContent).join() === '{spans}'"
            ),
            "the upstream's sent spans",
        )
        .await;
    let row = browser
        .eval(
            "return Object.fromEntries([...document.querySelectorAll('#status-forward tbody td')].map(td => [td.dataset.key, td.textContent]));",
            vec![],
        )
        .await;
    assert_eq!(row["url"], json!(central.otlp_url()));
    assert_eq!(row["protocol"], json!("http/protobuf"));
    assert_eq!(row["dropped_buffer_full"], json!("0"));
    assert_eq!(row["buffered_spans"], json!("0"));
    assert_eq!(row["replayed_spans"], json!("0"), "no disk buffer here");
    let held = browser
        .eval(
            "return [...document.querySelectorAll('#status-store tbody tr')].map(r => [...r.cells].map(c => c.textContent));",
            vec![],
        )
        .await;
    assert_eq!(held[0][0], json!("spans"));
    assert_eq!(held[0][1], json!(spans.to_string()));
    assert!(
        browser.count("#status-listeners tbody tr").await >= 2,
        "the query and OTLP ports"
    );
    browser.screenshot("status").await;
    browser.assert_no_console_errors().await;

    // Without forwarding the page says so.
    browser.goto(&central.url("/#/status")).await;
    browser.find("#status-forward-off").await;
    browser.close().await;
    edge.stop().await;
    central.stop().await;
}
