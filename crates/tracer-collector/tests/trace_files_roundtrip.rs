//! Traces travel as files and come back the same: `tracer-collector export` (the real binary)
//! from one collector, `tracer-collector import` into another, read back equal through the query
//! API, in OTLP JSON and Jaeger JSON, one trace or a service's traces; an OTLP JSON lines file
//! written by the OpenTelemetry Python SDK's file exporter imports and reads back span for
//! span; `/api/transform` answers a fixture as Jaeger does; bad files are refused with their
//! line and field and store nothing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{TestCollector, now_ns, request, rich_span, s, simple_span};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{Value, json};
use tracer_collector::Collector;

const BIN: &str = env!("CARGO_BIN_EXE_tracer-collector");

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("trace-files");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{}-{name}", std::process::id()))
}

/// Runs the binary; (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("TRACER_COLLECTOR_AUTH_TOKEN")
        .env_remove("TRACER_COLLECTOR_QUERY_URL")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn base(c: &TestCollector) -> String {
    format!("http://{}", c.query)
}

/// Runs a CLI command in a blocking thread (the collectors run on this test's runtime).
async fn cli(args: Vec<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&args)
    })
    .await
    .unwrap()
}

/// A Jaeger trace with each span's process inlined and spans in id order, so two stores that
/// keep spans (and so process keys) in different orders compare equal.
fn normalized(trace: &Value) -> Value {
    let processes = &trace["processes"];
    let mut spans: Vec<Value> = trace["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|span| {
            let mut span = span.clone();
            let key = span["processID"].as_str().unwrap().to_owned();
            span["processID"] = processes[&key].clone();
            span
        })
        .collect();
    spans.sort_by_key(|s| s["spanID"].as_str().unwrap().to_owned());
    json!({"traceID": trace["traceID"], "spans": spans})
}

async fn load(c: &TestCollector, spans: Vec<(&str, Vec<Span>)>) {
    for (service, spans) in spans {
        let mut req = request(service, spans);
        req.resource_spans[0]
            .resource
            .as_mut()
            .unwrap()
            .attributes
            .push(s("host.name", "box-1"));
        let response = c
            .post("application/x-protobuf", None, req.encode_to_vec())
            .await;
        assert_eq!(response.status(), 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_own_export_imported_elsewhere_reads_back_equal_in_both_formats() {
    let a = TestCollector::start().await;
    let t = now_ns() - 1_000_000_000;
    let mut child = rich_span(0xabc, 2, 1, t + 100_000);
    child.kind = 2;
    load(
        &a,
        vec![
            ("checkout", vec![rich_span(0xabc, 1, 0, t)]),
            (
                "payments",
                vec![child, simple_span(0xabc, 3, 2, "charge", t, 200, 50)],
            ),
        ],
    )
    .await;
    let id = format!("{:032x}", 0xabc);
    let original = a.wait_trace(&id, 3).await;
    let (_, original_v3) = a.get(&format!("/api/v3/traces/{id}")).await;

    for format in ["otlp-json", "jaeger-json"] {
        let file = scratch(&format!("one.{format}"));
        let (code, _, err) = cli(vec![
            "export".into(),
            "--trace".into(),
            id.clone(),
            "--format".into(),
            format.into(),
            "--output".into(),
            file.display().to_string(),
            "--collector".into(),
            base(&a),
        ])
        .await;
        assert_eq!(code, 0, "export {format}: {err}");
        let b = TestCollector::start().await;
        let (code, out, err) = cli(vec![
            "import".into(),
            file.display().to_string(),
            "--collector".into(),
            base(&b),
        ])
        .await;
        assert_eq!(code, 0, "import {format}: {err}");
        assert_eq!(
            out.trim(),
            "0000000000000abc",
            "stdout lists the stored trace"
        );
        assert!(err.contains("3 span(s) in 1 trace(s)"), "{err}");
        let copy = b.wait_trace(&id, 3).await;
        assert_eq!(
            normalized(&copy),
            normalized(&original),
            "{format} round trip"
        );
        if format == "otlp-json" {
            // OTLP JSON keeps everything, OTLP-only fields included.
            let (_, copy_v3) = b.get(&format!("/api/v3/traces/{id}")).await;
            assert_eq!(copy_v3, original_v3);
        }
        b.stop().await;
    }
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_services_traces_export_as_json_lines_and_import_back() {
    let a = TestCollector::start().await;
    let t = now_ns() - 2_000_000_000;
    for n in 1..=3u128 {
        let spans = vec![
            simple_span(n, 1, 0, "GET /", t, n as u64, 100),
            simple_span(n, 2, 1, "SELECT", t, n as u64 + 10, 20),
        ];
        load(&a, vec![("web", spans)]).await;
    }
    load(
        &a,
        vec![("other", vec![simple_span(9, 1, 0, "x", t, 0, 5)])],
    )
    .await;
    a.wait_trace(&format!("{:032x}", 3), 2).await;
    a.wait_trace(&format!("{:032x}", 9), 1).await;

    let file = scratch("many.jsonl");
    let (code, _, err) = cli(vec![
        "export".into(),
        "--service".into(),
        "web".into(),
        "--since".into(),
        "1h".into(),
        "--output".into(),
        file.display().to_string(),
        "--collector".into(),
        base(&a),
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        text.lines().count(),
        3,
        "one OTLP JSON line per trace:\n{text}"
    );

    let b = TestCollector::start().await;
    let (code, out, err) = cli(vec![
        "import".into(),
        file.display().to_string(),
        "--collector".into(),
        base(&b),
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 3, "{out}");
    let (_, services) = b.get("/api/services").await;
    assert_eq!(services["data"], json!(["web"]));
    for n in 1..=3u128 {
        let id = format!("{n:032x}");
        let copy = b.wait_trace(&id, 2).await;
        let original = a.wait_trace(&id, 2).await;
        assert_eq!(normalized(&copy), normalized(&original));
    }
    b.stop().await;
    a.stop().await;
}

fn python() -> PathBuf {
    let peers = std::env::var_os("TRACER_PEERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(&std::env::var_os("HOME").unwrap_or_default()).join(".cache/tracer-peers")
        });
    let python = peers.join("venv/bin/python");
    let ok = Command::new(&python)
        .args(["-c", "import opentelemetry.exporter.otlp.json.file"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{} cannot import opentelemetry.exporter.otlp.json.file: run scripts/test once (it \
         installs crates/tracer-collector/tests/peers/requirements.txt into that venv)",
        python.display()
    );
    python
}

/// OTLP JSON with empty values dropped and numbers as strings (proto3 JSON allows both forms
/// of 64-bit integers, and writers differ in which defaults they write out).
fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), canonical(v)))
                .filter(|(_, v)| !is_empty(v))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        Value::Number(n) => Value::String(n.to_string()),
        other => other.clone(),
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty() || s == "0",
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Every span of an OTLP JSON document with its resource and scope, keyed by span id.
fn spans_of(doc: &Value, into: &mut std::collections::BTreeMap<String, Value>) {
    for rs in doc["resourceSpans"].as_array().unwrap() {
        let mut resource: Vec<Value> = rs["resource"]["attributes"].as_array().unwrap().clone();
        resource.sort_by_key(|a| a["key"].as_str().unwrap().to_owned());
        for ss in rs["scopeSpans"].as_array().unwrap() {
            for span in ss["spans"].as_array().unwrap() {
                into.insert(
                    span["spanId"].as_str().unwrap().to_owned(),
                    canonical(&json!({
                        "resource": resource, "scope": ss["scope"], "span": span,
                    })),
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_written_by_the_python_sdk_imports_and_reads_back_span_for_span() {
    let python = python();
    let file = scratch("python.jsonl");
    let _ = std::fs::remove_file(&file);
    let script = r#"
import sys
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.exporter.otlp.json.file.trace_exporter import FileSpanExporter
provider = TracerProvider(resource=Resource.create({"service.name": "py-app", "deployment.environment": "test"}))
provider.add_span_processor(SimpleSpanProcessor(FileSpanExporter(sys.argv[1])))
tracer = provider.get_tracer("py-scope", "1.2.3")
with tracer.start_as_current_span("GET /orders", kind=trace.SpanKind.SERVER,
        attributes={"http.route": "/orders", "http.response.status_code": 500, "ratio": 0.5,
                    "cached": False, "tags": ["a", "b"]}) as root:
    with tracer.start_as_current_span("SELECT orders", kind=trace.SpanKind.CLIENT) as child:
        child.add_event("retry", {"attempt": 2})
        child.set_status(trace.Status(trace.StatusCode.ERROR, "db down"))
    with tracer.start_as_current_span("render", links=[trace.Link(child.get_span_context())]):
        pass
print(format(root.get_span_context().trace_id, "032x"))
provider.shutdown()
"#;
    let out = Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let written = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        written.lines().count(),
        3,
        "one line per exported batch:\n{written}"
    );

    let b = TestCollector::start().await;
    let (code, stdout, err) = cli(vec![
        "import".into(),
        file.display().to_string(),
        "--collector".into(),
        base(&b),
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(stdout.trim(), id);
    b.wait_trace(&id, 3).await;
    let (status, served) = b.get(&format!("/api/v3/traces/{id}")).await;
    assert_eq!(status, 200);
    let mut want = std::collections::BTreeMap::new();
    for line in written.lines() {
        spans_of(&serde_json::from_str(line).unwrap(), &mut want);
    }
    let mut got = std::collections::BTreeMap::new();
    spans_of(&served["result"], &mut got);
    assert_eq!(got.len(), 3);
    assert_eq!(got, want, "spans read back differ from the file");
    b.stop().await;
}

#[tokio::test]
async fn transform_answers_the_fixture_as_jaeger_does_and_stores_nothing() {
    let c = TestCollector::start().await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/trace_files");
    let input = std::fs::read(dir.join("transform-otlp.json")).unwrap();
    let want: Value =
        serde_json::from_slice(&std::fs::read(dir.join("transform-jaeger.json")).unwrap()).unwrap();
    let response = reqwest::Client::new()
        .post(c.query_url("/api/transform"))
        .body(input)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let got: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(got, want);
    let (_, services) = c.get("/api/services").await;
    assert_eq!(services["data"], json!([]), "transform must not store");

    let response = reqwest::Client::new()
        .post(c.query_url("/api/transform"))
        .body("{\"resourceSpans\": 5}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    let msg = body["errors"][0]["msg"].as_str().unwrap();
    assert!(
        msg.contains("line 1") && msg.contains("resourceSpans"),
        "{msg}"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_files_are_refused_naming_line_and_field_and_store_nothing() {
    let c = TestCollector::start_with(Collector::builder().body_limit(64 << 10)).await;
    let good = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"a"}}]},"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","name":"x","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#;
    let bad = good.replace("b7ad6b7169203331", "not-hex");
    let post = |body: String| {
        let url = c.query_url("/api/import");
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
            (
                status,
                body["errors"][0]["msg"].as_str().unwrap_or("").to_owned(),
            )
        }
    };
    let (status, msg) = post(format!("{good}\n{bad}\n")).await;
    assert_eq!(status, 400);
    assert!(msg.starts_with("line 2, column "), "{msg}");
    assert!(
        msg.contains("resourceSpans[0].scopeSpans[0].spans[0].spanId"),
        "{msg}"
    );

    let jaeger = r#"{"data":[{"traceID":"ab","spans":[{"traceID":"ab","spanID":"01","operationName":"x","startTime":1,"duration":1,"processID":"p9"}],"processes":{}}]}"#;
    let (status, msg) = post(jaeger.to_owned()).await;
    assert_eq!(status, 400);
    assert!(msg.contains("data[0].spans[0].processID"), "{msg}");

    let (status, msg) = post("{\"resourceSpans\": [".to_owned()).await;
    assert_eq!(status, 400);
    assert!(msg.contains("not valid JSON"), "{msg}");

    let (status, msg) = post(format!("{good}\n").repeat(400)).await;
    assert_eq!(status, 413);
    assert!(msg.contains("65536 bytes"), "{msg}");

    // A content type a cross-site form could send is refused.
    let r = reqwest::Client::new()
        .post(c.query_url("/api/import"))
        .header("content-type", "text/plain")
        .body(good.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);

    let (_, services) = c.get("/api/services").await;
    assert_eq!(services["data"], json!([]), "a refused file stores nothing");

    // The CLI names the file and exits 65; the good file next to it is still imported.
    let bad_file = scratch("bad.jsonl");
    std::fs::write(&bad_file, format!("{good}\n{bad}\n")).unwrap();
    let good_file = scratch("good.jsonl");
    std::fs::write(&good_file, format!("{good}\n")).unwrap();
    let (code, _, err) = cli(vec![
        "import".into(),
        bad_file.display().to_string(),
        good_file.display().to_string(),
        "--collector".into(),
        base(&c),
    ])
    .await;
    assert_eq!(code, 65, "{err}");
    assert!(
        err.contains(&format!("{}: line 2, column", bad_file.display())),
        "{err}"
    );
    let (_, services) = c.get("/api/services").await;
    assert_eq!(services["data"], json!(["a"]));

    let (code, _, err) = cli(vec!["import".into(), "/nonexistent/file.json".into()]).await;
    assert_eq!(code, 66, "{err}");
    let (code, _, err) = cli(vec![
        "export".into(),
        "--trace".into(),
        "123".into(),
        "--collector".into(),
        base(&c),
    ])
    .await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("trace 123 not found"), "{err}");
    c.stop().await;
    let (code, _, err) = cli(vec![
        "export".into(),
        "--trace".into(),
        "123".into(),
        "--collector".into(),
        "http://127.0.0.1:9".into(),
    ])
    .await;
    assert_eq!(code, 69, "{err}");
    assert!(err.contains("cannot reach the collector"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_and_import_present_the_collectors_access_token() {
    let access = tracer_collector::access::Access {
        allowed_hosts: Vec::new(),
        token: Some("s3cret".into()),
    };
    let c = TestCollector::start_with(Collector::builder().access(access)).await;
    let file = scratch("token.jsonl");
    std::fs::write(
        &file,
        r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"t"}}]},"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","name":"x","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#,
    )
    .unwrap();
    let import = |token: Option<&str>| {
        let mut args = vec!["import".to_owned(), file.display().to_string()];
        if let Some(token) = token {
            args.extend(["--auth-token".to_owned(), token.to_owned()]);
        }
        args.extend(["--collector".to_owned(), base(&c)]);
        cli(args)
    };
    let (code, _, err) = import(None).await;
    assert_eq!(code, 69, "{err}");
    assert!(err.contains("401") && err.contains("--auth-token"), "{err}");
    let (code, out, err) = import(Some("s3cret")).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "0af7651916cd43dd8448eb211c80319c");
    // The variable works as well as the flag.
    let args = vec![
        "export".to_owned(),
        "--trace".to_owned(),
        "0af7651916cd43dd8448eb211c80319c".to_owned(),
        "--collector".to_owned(),
        base(&c),
    ];
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(&args)
            .env("TRACER_COLLECTOR_AUTH_TOKEN", "s3cret")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"],
        "b7ad6b7169203331"
    );
    c.stop().await;
}
