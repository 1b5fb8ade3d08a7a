//! Support for the browser tests of the web UI (`tests/ui_*.rs`):
//!
//! - [`UiCollector`]: a real collector on 127.0.0.1:0 (query API + UI on one port, OTLP/HTTP on
//!   another), loaded through OTLP/HTTP with JSON payloads built by [`SpanBuilder`]/[`export`];
//! - [`Browser`]: headless Chromium driven by chromedriver over the W3C WebDriver protocol,
//!   spoken with plain HTTP/JSON (reqwest), so no WebDriver crate is needed.
//!
//! Chromium must be installed (`scripts/test` installs it; or `apt-get install chromium
//! chromium-driver`). Without it the tests fail and say so.
#![allow(dead_code)] // each test binary uses a different subset of the helpers

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tracer_collector::{Collector, Listeners};

pub(crate) mod fixtures;

// ---------------------------------------------------------------------------------------------
// Collector
// ---------------------------------------------------------------------------------------------

/// A collector serving the query API and the UI on one port and OTLP/HTTP on another.
pub(crate) struct UiCollector {
    /// `http://127.0.0.1:{query port}`: the UI and the Jaeger API.
    pub(crate) base: String,
    otlp: String,
    http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl UiCollector {
    /// Starts a collector with default settings on 127.0.0.1:0, served by [`Collector::run`]
    /// as the binary serves it.
    pub(crate) async fn start() -> Self {
        Self::start_with(Collector::builder().build()).await
    }

    /// [`UiCollector::start`] for a collector built elsewhere (forwarding, limits).
    pub(crate) async fn start_with(collector: Collector) -> Self {
        let query = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let otlp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", query.local_addr().unwrap());
        let otlp_url = format!("http://{}/v1/traces", otlp.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let listeners = Listeners {
            otlp_grpc: None,
            otlp_http: Some(otlp),
            // The query port serves the Jaeger API and the web UI on one origin, as on :16686.
            query: Some(query),
            ..Listeners::default()
        };
        let task = tokio::spawn(collector.run(listeners, async move {
            let _ = stopped.await;
        }));
        UiCollector {
            base,
            otlp: otlp_url,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The OTLP/HTTP traces URL (`http://127.0.0.1:{port}/v1/traces`).
    pub(crate) fn otlp_url(&self) -> &str {
        &self.otlp
    }

    /// URL of a path on the UI/query port.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Exports an OTLP/JSON payload through OTLP/HTTP and checks that every span was accepted.
    pub(crate) async fn load(&self, payload: &Value) {
        let response = self
            .http
            .post(&self.otlp)
            .header("content-type", "application/json")
            .body(payload.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert!(status.is_success(), "OTLP export failed: {status} {body}");
        let answer: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let rejected = answer
            .pointer("/partialSuccess/rejectedSpans")
            .or_else(|| answer.pointer("/partial_success/rejected_spans"))
            .and_then(value_as_i64)
            .unwrap_or(0);
        assert_eq!(rejected, 0, "the collector rejected spans: {body}");
    }

    /// Exports an OTLP protobuf payload through OTLP/HTTP and checks that every span was
    /// accepted.
    pub(crate) async fn load_protobuf(&self, payload: Vec<u8>) {
        use prost::Message;
        let response = self
            .http
            .post(&self.otlp)
            .header("content-type", "application/x-protobuf")
            .body(payload)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body = response.bytes().await.unwrap();
        assert!(
            status.is_success(),
            "OTLP export failed: {status} {}",
            String::from_utf8_lossy(&body)
        );
        let answer =
            opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse::decode(
                body,
            )
            .expect("an ExportTraceServiceResponse");
        let rejected = answer
            .partial_success
            .as_ref()
            .map_or(0, |p| p.rejected_spans);
        assert_eq!(rejected, 0, "the collector rejected spans: {answer:?}");
    }

    /// GET on the query port; returns status, headers and body.
    pub(crate) async fn get(&self, path: &str) -> (u16, http::HeaderMap, String) {
        let response = self.http.get(self.url(path)).send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.text().await.unwrap())
    }

    /// Waits until the query API returns the trace with `spans` spans (ingest is asynchronous
    /// for large batches).
    pub(crate) async fn wait_for_trace(&self, trace_id: &str, spans: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (status, _, body) = self.get(&format!("/api/traces/{trace_id}")).await;
            if status == 200 {
                let v: Value = serde_json::from_str(&body).unwrap();
                let n = v["data"][0]["spans"].as_array().map_or(0, Vec::len);
                if n == spans {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "trace {trace_id} never had {spans} spans"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the store holds `spans` spans (`/api/collector/stats`), for traces too big
    /// to poll through the trace API.
    pub(crate) async fn wait_for_spans(&self, spans: u64, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let (status, _, body) = self.get("/api/collector/stats").await;
            let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            if status == 200 && v["spans"].as_u64() == Some(spans) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the store never held {spans} spans (last stats: {body})"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A collector running elsewhere (another process), by its query and OTLP/HTTP URLs;
    /// [`UiCollector::stop`] leaves it running.
    pub(crate) fn attach(base: String, otlp_traces_url: String) -> Self {
        UiCollector {
            base,
            otlp: otlp_traces_url,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            stop: None,
            task: None,
        }
    }

    /// Stops the collector and waits for it.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

impl Drop for UiCollector {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn value_as_i64(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str()?.parse().ok())
}

// ---------------------------------------------------------------------------------------------
// OTLP/JSON payloads
// ---------------------------------------------------------------------------------------------

/// Now, in Unix nanoseconds.
pub(crate) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// OTLP span kinds.
pub(crate) const INTERNAL: i64 = 1;
/// Server span.
pub(crate) const SERVER: i64 = 2;
/// Client span.
pub(crate) const CLIENT: i64 = 3;

/// Builds one OTLP/JSON span. Times are microseconds from `base_ns`.
#[derive(Debug, Clone)]
pub(crate) struct SpanBuilder {
    span: Value,
    base_ns: u64,
}

fn attr(key: &str, value: Value) -> Value {
    json!({ "key": key, "value": value })
}

impl SpanBuilder {
    /// A span of `trace` (32 hex) with id `id` (16 hex), starting `start_us` after `base_ns`.
    pub(crate) fn new(
        trace: &str,
        id: &str,
        name: &str,
        base_ns: u64,
        start_us: u64,
        dur_us: u64,
    ) -> Self {
        let start = base_ns + start_us * 1000;
        SpanBuilder {
            span: json!({
                "traceId": trace,
                "spanId": id,
                "name": name,
                "kind": INTERNAL,
                "startTimeUnixNano": start.to_string(),
                "endTimeUnixNano": (start + dur_us * 1000).to_string(),
                "attributes": [],
                "events": [],
                "links": [],
            }),
            base_ns,
        }
    }

    /// Sets the parent span id.
    pub(crate) fn parent(mut self, parent: &str) -> Self {
        self.span["parentSpanId"] = json!(parent);
        self
    }

    /// Sets the OTLP span kind.
    pub(crate) fn kind(mut self, kind: i64) -> Self {
        self.span["kind"] = json!(kind);
        self
    }

    /// Adds a string attribute.
    pub(crate) fn attr(mut self, key: &str, value: &str) -> Self {
        push(
            &mut self.span["attributes"],
            attr(key, json!({ "stringValue": value })),
        );
        self
    }

    /// Adds an integer attribute.
    pub(crate) fn int(mut self, key: &str, value: i64) -> Self {
        push(
            &mut self.span["attributes"],
            attr(key, json!({ "intValue": value.to_string() })),
        );
        self
    }

    /// Adds a boolean attribute.
    pub(crate) fn flag(mut self, key: &str, value: bool) -> Self {
        push(
            &mut self.span["attributes"],
            attr(key, json!({ "boolValue": value })),
        );
        self
    }

    /// Sets status ERROR with a message.
    pub(crate) fn error(mut self, message: &str) -> Self {
        self.span["status"] = json!({ "code": 2, "message": message });
        self
    }

    /// Sets status OK.
    pub(crate) fn ok(mut self) -> Self {
        self.span["status"] = json!({ "code": 1 });
        self
    }

    /// Adds an event `at_us` after the base time, with string attributes.
    pub(crate) fn event(mut self, name: &str, at_us: u64, attrs: &[(&str, &str)]) -> Self {
        let attributes: Vec<Value> = attrs
            .iter()
            .map(|(k, v)| attr(k, json!({ "stringValue": v })))
            .collect();
        push(
            &mut self.span["events"],
            json!({
                "timeUnixNano": (self.base_ns + at_us * 1000).to_string(),
                "name": name,
                "attributes": attributes,
            }),
        );
        self
    }

    /// Adds a link to another span.
    pub(crate) fn link(mut self, trace: &str, span: &str) -> Self {
        push(
            &mut self.span["links"],
            json!({ "traceId": trace, "spanId": span }),
        );
        self
    }

    /// The OTLP/JSON span.
    pub(crate) fn build(self) -> Value {
        self.span
    }
}

fn push(array: &mut Value, item: Value) {
    array.as_array_mut().expect("array").push(item);
}

/// One resource of an export: service name, other resource attributes, spans.
pub(crate) type Resource<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<SpanBuilder>);

/// An OTLP/JSON export request: one resource per `(service, resource attributes, spans)`.
pub(crate) fn export(resources: Vec<Resource<'_>>) -> Value {
    let resource_spans: Vec<Value> = resources
        .into_iter()
        .map(|(service, extra, spans)| {
            let mut attributes = vec![attr("service.name", json!({ "stringValue": service }))];
            attributes.extend(
                extra
                    .iter()
                    .map(|(k, v)| attr(k, json!({ "stringValue": v }))),
            );
            json!({
                "resource": { "attributes": attributes },
                "scopeSpans": [{
                    "scope": { "name": "ui-test", "version": "1.0" },
                    "spans": spans.into_iter().map(SpanBuilder::build).collect::<Vec<_>>(),
                }],
            })
        })
        .collect();
    json!({ "resourceSpans": resource_spans })
}

/// A 16-hex span id from a number.
pub(crate) fn sid(n: u64) -> String {
    format!("{n:016x}")
}

// ---------------------------------------------------------------------------------------------
// Browser
// ---------------------------------------------------------------------------------------------

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
const INSTALL_HINT: &str = "the UI browser tests need headless Chromium and chromedriver: run \
     scripts/test (which installs them) or `apt-get install chromium chromium-driver`";

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in names {
        let candidate = Path::new(name);
        if candidate.is_absolute() && candidate.is_file() {
            return Some(candidate.to_path_buf());
        }
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Where the tests write screenshots: `<target>/ui-screenshots/`.
pub(crate) fn screenshot_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("ui-screenshots")
}

/// Headless Chromium under chromedriver, one WebDriver session.
pub(crate) struct Browser {
    client: reqwest::Client,
    driver_url: String,
    session: String,
    driver: Child,
    profile: PathBuf,
}

/// A WebDriver element reference.
#[derive(Debug, Clone)]
pub(crate) struct Element(String);

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a headless Chromium session with a
    /// fresh profile and a 1440x900 window.
    pub(crate) async fn launch() -> Self {
        let chromium = std::env::var_os("TRACER_CHROMIUM")
            .map(PathBuf::from)
            .or_else(|| find_program(&["chromium", "chromium-browser", "google-chrome"]))
            .unwrap_or_else(|| panic!("chromium not found; {INSTALL_HINT}"));
        let chromedriver = std::env::var_os("TRACER_CHROMEDRIVER")
            .map(PathBuf::from)
            .or_else(|| find_program(&["chromedriver"]))
            .unwrap_or_else(|| panic!("chromedriver not found; {INSTALL_HINT}"));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {}: {e}; {INSTALL_HINT}",
                    chromedriver.display()
                )
            });
        let profile =
            std::env::temp_dir().join(format!("tracer-ui-test-{}-{}", std::process::id(), port));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).unwrap();
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let driver_url = format!("http://127.0.0.1:{port}");
        let mut browser = Browser {
            client,
            driver_url,
            session: String::new(),
            driver,
            profile,
        };
        browser.wait_until_ready().await;
        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium.to_string_lossy(),
                    "args": [
                        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                        "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync",
                        "--disable-dev-shm-usage", "--window-size=1440,900",
                        "--force-device-scale-factor=1", "--lang=en-US",
                        format!("--user-data-dir={}", browser.profile.display()),
                    ],
                },
                "goog:loggingPrefs": { "browser": "ALL" },
                "unhandledPromptBehavior": "ignore",
            }}
        });
        let created = browser.raw("POST", "/session", Some(capabilities)).await;
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {created}; {INSTALL_HINT}"))
            .to_owned();
        browser
            .cmd(
                "POST",
                "/timeouts",
                json!({ "script": 30_000, "pageLoad": 30_000 }),
            )
            .await;
        browser
    }

    async fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.driver.try_wait() {
                panic!("chromedriver exited with {status}; {INSTALL_HINT}");
            }
            if let Ok(r) = self
                .client
                .get(format!("{}/status", self.driver_url))
                .send()
                .await
                && let Ok(v) = r.json_value().await
                && v["value"]["ready"] == json!(true)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready; {INSTALL_HINT}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends a WebDriver request on the driver (not session) URL; returns `value`.
    async fn raw(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        match self.try_raw(method, path, body).await {
            Ok(v) => v,
            Err((status, v)) => panic!(
                "webdriver {method} {path} failed ({status}): {} {}",
                v["value"]["error"], v["value"]["message"]
            ),
        }
    }

    /// [`Self::raw`], answering a failed request's status and body instead of panicking.
    async fn try_raw(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, (reqwest::StatusCode, Value)> {
        let url = format!("{}{path}", self.driver_url);
        let request = match method {
            "GET" => self.client.get(&url),
            "DELETE" => self.client.delete(&url),
            _ => self
                .client
                .post(&url)
                .header("content-type", "application/json")
                .body(body.unwrap_or_else(|| json!({})).to_string()),
        };
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("webdriver {method} {path}: {e}"));
        let status = response.status();
        let v = response.json_value().await.unwrap_or(Value::Null);
        if !status.is_success() {
            return Err((status, v));
        }
        Ok(v["value"].clone())
    }

    /// The text of an open `alert`/`confirm`/`prompt` dialog, if one is open.
    pub(crate) async fn open_dialog(&self) -> Option<String> {
        let url = format!("{}/session/{}/alert/text", self.driver_url, self.session);
        let response = self.client.get(&url).send().await.unwrap();
        let ok = response.status().is_success();
        let v = response.json_value().await.unwrap_or(Value::Null);
        if ok {
            return Some(v["value"].as_str().unwrap_or_default().to_owned());
        }
        assert_eq!(
            v["value"]["error"], "no such alert",
            "unexpected answer to GET alert/text: {v}"
        );
        None
    }

    /// Sends a WebDriver command of this session; returns `value`.
    pub(crate) async fn cmd(&self, method: &str, path: &str, body: Value) -> Value {
        self.raw(
            method,
            &format!("/session/{}{path}", self.session),
            Some(body),
        )
        .await
    }

    /// Navigates to a URL and waits for the load.
    pub(crate) async fn goto(&self, url: &str) {
        self.cmd("POST", "/url", json!({ "url": url })).await;
    }

    /// The current URL.
    pub(crate) async fn url(&self) -> String {
        self.cmd("GET", "/url", Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// History back.
    pub(crate) async fn back(&self) {
        self.cmd("POST", "/back", json!({})).await;
    }

    /// History forward.
    pub(crate) async fn forward(&self) {
        self.cmd("POST", "/forward", json!({})).await;
    }

    /// Runs a script (a function body; `arguments` holds `args`) and returns its result.
    pub(crate) async fn eval(&self, script: &str, args: Vec<Value>) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            json!({ "script": script, "args": args }),
        )
        .await
    }

    /// Runs an asynchronous script: the function body calls `arguments[arguments.length - 1]`
    /// with the result.
    pub(crate) async fn eval_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.cmd(
            "POST",
            "/execute/async",
            json!({ "script": script, "args": args }),
        )
        .await
    }

    /// Polls a JavaScript expression until it is truthy (10 s); returns its value. Panics
    /// with `what` and the page's text when it never is.
    pub(crate) async fn wait_for(&self, expression: &str, what: &str) -> Value {
        self.wait_for_within(expression, what, Duration::from_secs(10))
            .await
    }

    /// [`Browser::wait_for`] with another time limit.
    pub(crate) async fn wait_for_within(
        &self,
        expression: &str,
        what: &str,
        limit: Duration,
    ) -> Value {
        let deadline = Instant::now() + limit;
        let script = format!("return ({expression});");
        loop {
            let v = self.eval(&script, vec![]).await;
            let truthy =
                !matches!(&v, Value::Null | Value::Bool(false)) && v != json!(0) && v != json!("");
            if truthy {
                return v;
            }
            if Instant::now() > deadline {
                let text = self
                    .eval("return document.body.innerText.slice(0, 2000);", vec![])
                    .await;
                panic!("timed out waiting for {what} ({expression}); page text:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The first element matching a CSS selector (waits up to 10 s for it).
    pub(crate) async fn find(&self, css: &str) -> Element {
        let escaped = serde_json::to_string(css).unwrap();
        self.wait_for(
            &format!("document.querySelector({escaped}) !== null"),
            &format!("element {css}"),
        )
        .await;
        let v = self
            .cmd(
                "POST",
                "/element",
                json!({ "using": "css selector", "value": css }),
            )
            .await;
        Element(v[ELEMENT_KEY].as_str().expect("element id").to_owned())
    }

    /// Clicks an element (a real pointer click through WebDriver).
    /// Clicks the element `css` selects. A page that redraws while it loads (the trace page
    /// appends rows every 200 ms) may replace the element between the look-up and the click:
    /// then it is looked up again, a few times, as a user's click lands on what is there.
    pub(crate) async fn click(&self, css: &str) {
        for attempt in 1.. {
            let el = self.find(css).await;
            let path = format!("/session/{}/element/{}/click", self.session, el.0);
            match self.try_raw("POST", &path, Some(json!({}))).await {
                Ok(_) => return,
                Err((_, v)) if v["value"]["error"] == "stale element reference" && attempt < 5 => {
                    continue;
                }
                Err((status, v)) => panic!(
                    "webdriver POST {path} failed ({status}): {} {}",
                    v["value"]["error"], v["value"]["message"]
                ),
            }
        }
    }

    /// Clears an input and types text into it.
    pub(crate) async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.cmd("POST", &format!("/element/{}/clear", el.0), json!({}))
            .await;
        self.cmd(
            "POST",
            &format!("/element/{}/value", el.0),
            json!({ "text": text }),
        )
        .await;
    }

    /// Picks a file in a `<input type=file>` (WebDriver sends its path as the input's keys).
    pub(crate) async fn pick_file(&self, css: &str, path: &Path) {
        let el = self.find(css).await;
        self.cmd(
            "POST",
            &format!("/element/{}/value", el.0),
            json!({ "text": path.display().to_string() }),
        )
        .await;
    }

    /// `textContent` of the first element matching `css` (waits for it).
    pub(crate) async fn text(&self, css: &str) -> String {
        self.find(css).await;
        let escaped = serde_json::to_string(css).unwrap();
        self.eval(
            &format!("return document.querySelector({escaped}).textContent;"),
            vec![],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// `textContent` of every element matching `css`.
    pub(crate) async fn texts(&self, css: &str) -> Vec<String> {
        let escaped = serde_json::to_string(css).unwrap();
        let v = self
            .eval(
                &format!(
                    "return [...document.querySelectorAll({escaped})].map(e => e.textContent);"
                ),
                vec![],
            )
            .await;
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|s| s.as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Number of elements matching `css`.
    pub(crate) async fn count(&self, css: &str) -> usize {
        let escaped = serde_json::to_string(css).unwrap();
        self.eval(
            &format!("return document.querySelectorAll({escaped}).length;"),
            vec![],
        )
        .await
        .as_u64()
        .unwrap_or(0) as usize
    }

    /// Saves a PNG of the window to `<target>/ui-screenshots/{name}.png`, and to
    /// `docs/ui/{name}.png` as well when `TRACER_UPDATE_UI_DOCS=1`. Returns the first path.
    pub(crate) async fn screenshot(&self, name: &str) -> PathBuf {
        // Let fonts, layout and the last frame settle.
        self.eval_async(
            "const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
            vec![],
        )
        .await;
        let v = self.cmd("GET", "/screenshot", Value::Null).await;
        let png = base64_decode(v.as_str().expect("screenshot is base64"));
        assert!(png.starts_with(b"\x89PNG"), "screenshot is not a PNG");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, &png).unwrap();
        if std::env::var("TRACER_UPDATE_UI_DOCS").as_deref() == Ok("1") {
            let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/ui");
            std::fs::create_dir_all(&docs).unwrap();
            std::fs::write(docs.join(format!("{name}.png")), &png).unwrap();
        }
        path
    }

    /// Browser console entries since the last call (level, message).
    pub(crate) async fn console(&self) -> Vec<(String, String)> {
        let v = self
            .cmd("POST", "/se/log", json!({ "type": "browser" }))
            .await;
        v.as_array()
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| {
                        (
                            e["level"].as_str().unwrap_or_default().to_owned(),
                            e["message"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Asserts the console has no errors (script errors, CSP violations, failed loads).
    pub(crate) async fn assert_no_console_errors(&self) {
        let errors: Vec<(String, String)> = self
            .console()
            .await
            .into_iter()
            .filter(|(level, _)| level == "SEVERE")
            .collect();
        assert!(errors.is_empty(), "browser console errors: {errors:#?}");
    }

    /// Ends the session (closing Chromium) and stops chromedriver.
    pub(crate) async fn close(mut self) {
        let _ = self
            .client
            .delete(format!("{}/session/{}", self.driver_url, self.session))
            .send()
            .await;
        self.session.clear();
        // Drop stops chromedriver and removes the profile.
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            // A failed test: end the session synchronously so Chromium does not outlive it.
            delete_session_blocking(&self.driver_url, &self.session);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn delete_session_blocking(driver_url: &str, session: &str) {
    let Some(addr) = driver_url.strip_prefix("http://") else {
        return;
    };
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!(
        "DELETE /session/{session} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_ok() {
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink);
    }
}

trait JsonValue {
    async fn json_value(self) -> Result<Value, String>;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> Result<Value, String> {
        let bytes = self.bytes().await.map_err(|e| e.to_string())?;
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    }
}

/// Standard base64 (with padding), as WebDriver returns screenshots.
fn base64_decode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue, // padding, line breaks
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}
