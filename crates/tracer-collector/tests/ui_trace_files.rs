//! Trace files in the web UI, in headless Chromium: the trace page's "Download OTLP JSON" link
//! serves the trace as OTLP JSON; "Save as HTML" gives one file that, opened from `file://`
//! with the collector stopped and the browser's network switched off, shows the same waterfall,
//! span details and critical path; files uploaded with the file picker or dropped on the page
//! are stored and opened, and a bad one is reported with its line and field.

mod ui_support;

use std::path::PathBuf;

use serde_json::{Value, json};
use ui_support::fixtures::{self, CHECKOUT, CHECKOUT_ROWS, FRAUD_SERVER, OFF_CRITICAL_PATH};
use ui_support::{Browser, UiCollector};

const ROWS: &str = "#waterfall-rows .wf-row";

fn scratch(name: &str) -> PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-trace-files");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// What the waterfall shows: (span id, critical?) per row, top to bottom, and the span panel's
/// operation after clicking the fraud server span.
async fn waterfall(browser: &Browser) -> Value {
    browser.find(ROWS).await;
    browser
        .wait_for(
            &format!(
                "document.querySelectorAll('{ROWS}').length === {}",
                CHECKOUT_ROWS.len()
            ),
            "every row",
        )
        .await;
    browser
        .eval(
            "return [...document.querySelectorAll('#waterfall-rows .wf-row')]
                .sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top)
                .map(r => [r.dataset.spanId, r.querySelector('.svc').textContent,
                           r.querySelector('.op').textContent, r.classList.contains('critical')]);",
            vec![],
        )
        .await
}

async fn span_detail(browser: &Browser) -> String {
    browser
        .click(&format!("[data-span-id='{FRAUD_SERVER}']"))
        .await;
    browser.find("#span-detail:not([hidden])").await;
    browser.text("#span-detail").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_serves_otlp_json_and_the_saved_html_opens_offline_with_the_same_view() {
    let collector = UiCollector::start().await;
    fixtures::load_standard(&collector).await;
    let browser = Browser::launch().await;
    browser
        .goto(&collector.url(&format!("/#/trace/{CHECKOUT}")))
        .await;
    let online = waterfall(&browser).await;
    let online_detail = span_detail(&browser).await;
    browser.screenshot("trace-files-buttons").await;

    // Download OTLP JSON: the link names the file and fetches the trace as OTLP JSON.
    let link = browser
        .eval(
            "const a = document.querySelector('#download-otlp');
             return [a.getAttribute('href'), a.getAttribute('download'), a.textContent];",
            vec![],
        )
        .await;
    assert_eq!(
        link,
        json!([
            format!("/api/export/{CHECKOUT}?format=otlp-json"),
            format!("trace-{CHECKOUT}.otlp.json"),
            "Download OTLP JSON"
        ])
    );
    let downloaded = browser
        .eval_async(
            "const done = arguments[0];
             fetch(document.querySelector('#download-otlp').href)
               .then(r => r.text().then(t => done([r.status, r.headers.get('content-disposition'), t])));",
            vec![],
        )
        .await;
    assert_eq!(downloaded[0], json!(200));
    assert_eq!(
        downloaded[1],
        json!(format!(
            "attachment; filename=\"trace-{CHECKOUT}.otlp.json\""
        ))
    );
    let otlp: Value = serde_json::from_str(downloaded[2].as_str().unwrap()).unwrap();
    let spans: usize = otlp["resourceSpans"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|rs| rs["scopeSpans"].as_array().unwrap())
        .map(|ss| ss["spans"].as_array().unwrap().len())
        .sum();
    assert_eq!(spans, CHECKOUT_ROWS.len());

    // Save as HTML: the file the link downloads, opened from disk with no collector and no
    // network.
    let href = browser
        .eval("return document.querySelector('#save-html').href;", vec![])
        .await;
    let (status, headers, page) = collector
        .get(
            href.as_str()
                .unwrap()
                .strip_prefix(&collector.url(""))
                .unwrap(),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let file = scratch(&format!("trace-{CHECKOUT}.html"));
    std::fs::write(&file, &page).unwrap();
    collector.stop().await;
    browser
        .cmd(
            "POST",
            "/chromium/network_conditions",
            json!({"network_conditions": {
                "offline": true, "latency": 0, "download_throughput": 0, "upload_throughput": 0,
            }}),
        )
        .await;
    browser.console().await; // forget the online page's entries
    browser.goto(&format!("file://{}", file.display())).await;
    let offline = waterfall(&browser).await;
    assert_eq!(offline, online, "the saved page shows the same waterfall");
    let critical: Vec<&str> = offline
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r[3] == json!(false))
        .map(|r| r[0].as_str().unwrap())
        .collect();
    assert_eq!(critical, [OFF_CRITICAL_PATH], "critical path");
    assert_eq!(span_detail(&browser).await, online_detail);
    assert_eq!(
        browser.count("#upload, #download-otlp, #save-html").await,
        0,
        "no upload or export in the saved page"
    );
    browser.screenshot("trace-files-offline-html").await;
    browser.assert_no_console_errors().await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_picked_or_dropped_are_stored_and_opened() {
    let collector = UiCollector::start().await;
    let browser = Browser::launch().await;
    browser.goto(&collector.url("/#/search")).await;
    browser.find("#upload-input").await;

    // File picker, one OTLP JSON file: stored, then its trace opens.
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/trace_files/transform-otlp.json");
    browser.pick_file("#upload-input", &fixture).await;
    browser
        .wait_for(
            "location.hash === '#/trace/5b8efff798038103d269b633813fc60c'",
            "the uploaded trace to open",
        )
        .await;
    browser
        .wait_for(
            &format!("document.querySelectorAll('{ROWS}').length === 2"),
            "two rows",
        )
        .await;
    assert_eq!(browser.text("#trace-title-op").await, "GET /checkout");
    browser.screenshot("trace-files-uploaded").await;

    // Drop two files (Jaeger JSON and OTLP JSON lines) and a bad one on the page.
    let jaeger = json!({"data": [{"traceID": "00000000000000ee", "spans": [{
        "traceID": "00000000000000ee", "spanID": "00000000000000e1", "operationName": "dropped op",
        "references": [], "startTime": 1_700_000_000_000_000u64, "duration": 1000,
        "tags": [{"key": "span.kind", "type": "string", "value": "server"}],
        "logs": [], "processID": "p1"}],
        "processes": {"p1": {"serviceName": "jaeger-file", "tags": []}}}]});
    let otlp_line = |trace: &str| {
        json!({"resourceSpans": [{"resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "otlp-file"}}]},
            "scopeSpans": [{"spans": [{"traceId": trace, "spanId": "00000000000000f1",
                "name": "line span", "startTimeUnixNano": "1700000000000000000",
                "endTimeUnixNano": "1700000000001000000"}]}]}]})
        .to_string()
    };
    let lines = format!(
        "{}\n{}\n",
        otlp_line("000000000000000000000000000000f0"),
        otlp_line("000000000000000000000000000000f2")
    );
    browser
        .eval(
            "const dt = new DataTransfer();
             dt.items.add(new File([arguments[0]], 'jaeger.json', {type: 'application/json'}));
             dt.items.add(new File([arguments[1]], 'lines.jsonl'));
             dt.items.add(new File(['{\"resourceSpans\": [{\"scopeSpans\": 1}]}'], 'bad.json'));
             document.body.dispatchEvent(new DragEvent('dragover', {dataTransfer: dt, bubbles: true, cancelable: true}));
             document.body.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
             return true;",
            vec![json!(jaeger.to_string()), json!(lines)],
        )
        .await;
    browser.find("#upload-results").await;
    let results = browser.texts("#upload-results li").await;
    assert_eq!(results.len(), 6, "{results:?}");
    assert_eq!(results[0], "jaeger.json: 1 spans in 1 traces");
    assert_eq!(results[1], "lines.jsonl: 2 spans in 2 traces");
    assert!(
        results[2].starts_with("bad.json: line 1, column ")
            && results[2].contains("resourceSpans[0].scopeSpans"),
        "{results:?}"
    );
    assert_eq!(
        results[3..],
        [
            "00000000000000ee",
            // As Jaeger prints ids: 16 digits when the high half is zero.
            "00000000000000f0",
            "00000000000000f2"
        ]
    );
    browser.screenshot("trace-files-dropped").await;
    browser.click("#upload-results a").await;
    browser
        .wait_for(
            "location.hash === '#/trace/00000000000000ee'",
            "the dropped trace",
        )
        .await;
    assert_eq!(browser.text("#trace-title-op").await, "dropped op");
    let (_, _, services) = collector.get("/api/services").await;
    let services: Value = serde_json::from_str(&services).unwrap();
    assert_eq!(
        services["data"],
        json!(["frontend", "jaeger-file", "otlp-file"])
    );
    browser.close().await;
    collector.stop().await;
}
