//! Client libraries no one here wrote send to the receivers, and their spans read back through
//! the query API: OpenTelemetry Python's Zipkin JSON exporter, Python `jaeger-client` (UDP
//! compact, and its remote sampler against the sampling port), Node `jaeger-client` (UDP thrift
//! binary and HTTP thrift) and OpenTelemetry JS's Zipkin exporter; Python `jaeger-client` also
//! obeys a strategies file served on the sampling port. The scripts are in
//! `tests/peers/`; the libraries are installed by `scripts/test` into
//! `${TRACER_PEERS_DIR:-$HOME/.cache/tracer-peers}` (a venv in `venv/`, npm packages in `node/`).
//! A missing peer fails the test with the command that installs it.

mod common;

use std::process::Command;

use common::{TestCollector, peers_dir};
use serde_json::Value as Json;

const INSTALL: &str = "install the peers with scripts/test, or by hand:\n  \
    P=${TRACER_PEERS_DIR:-$HOME/.cache/tracer-peers}\n  \
    python3 -m venv $P/venv && $P/venv/bin/pip install -r crates/tracer-collector/tests/peers/requirements.txt\n  \
    mkdir -p $P/node && cp crates/tracer-collector/tests/peers/package.json $P/node/ && npm install --prefix $P/node";

fn script(name: &str) -> String {
    format!("{}/tests/peers/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs a peer script and returns the trace id it printed.
async fn run(mut command: Command) -> String {
    let shown = format!("{command:?}");
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}\n{INSTALL}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{shown} failed ({}):\n{stdout}\n{stderr}\n(if a module is missing: {INSTALL})",
        output.status
    );
    let id = stdout.lines().last().unwrap_or_default().trim().to_owned();
    assert_eq!(
        id.len(),
        32,
        "{shown} printed no trace id:\n{stdout}\n{stderr}"
    );
    id
}

fn python(script_name: &str) -> Command {
    let python = peers_dir().join("venv/bin/python");
    assert!(
        python.exists(),
        "no Python peer venv at {}: {INSTALL}",
        python.display()
    );
    let mut command = Command::new(python);
    command.arg(script(script_name));
    command
}

fn node(script_name: &str) -> Command {
    let modules = peers_dir().join("node/node_modules");
    for package in ["jaeger-client", "@opentelemetry/exporter-zipkin"] {
        assert!(
            modules.join(package).exists(),
            "npm package {package} is not installed in {}: {INSTALL}",
            modules.display()
        );
    }
    let mut command = Command::new("node");
    command.arg(script(script_name)).env("NODE_PATH", modules);
    command
}

/// The trace's spans in Jaeger JSON, with their service names, sorted by operation name.
async fn spans(c: &TestCollector, id: &str, n: usize) -> Vec<(String, Json)> {
    let trace = c.wait_trace(id, n).await;
    let mut spans: Vec<(String, Json)> = trace["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let process = s["processID"].as_str().unwrap();
            let service = trace["processes"][process]["serviceName"]
                .as_str()
                .unwrap()
                .to_owned();
            (service, s.clone())
        })
        .collect();
    spans.sort_by_key(|(_, s)| s["operationName"].as_str().unwrap().to_owned());
    assert_eq!(spans.len(), n, "{trace}");
    spans
}

fn tag<'a>(span: &'a Json, key: &str) -> Option<&'a Json> {
    span["tags"]
        .as_array()?
        .iter()
        .find(|t| t["key"] == key)
        .map(|t| &t["value"])
}

fn parent(span: &Json) -> Option<&str> {
    span["references"]
        .as_array()?
        .iter()
        .find(|r| r["refType"] == "CHILD_OF")?["spanID"]
        .as_str()
}

#[tokio::test(flavor = "multi_thread")]
async fn opentelemetry_python_zipkin_json_exporter() {
    let c = TestCollector::start().await;
    let mut command = python("otel_zipkin_json.py");
    command.arg(format!("http://{}/api/v2/spans", c.zipkin));
    let id = run(command).await;
    let spans = spans(&c, &id, 2).await;
    let (service, root) = &spans[0];
    assert_eq!(service, "py-zipkin");
    assert_eq!(root["operationName"], "GET /checkout");
    assert_eq!(tag(root, "span.kind").unwrap(), "server");
    assert_eq!(tag(root, "http.request.method").unwrap(), "GET");
    assert_eq!(tag(root, "otel.scope.name").unwrap(), "peer-script");
    let (_, child) = &spans[1];
    assert_eq!(child["operationName"], "charge");
    assert_eq!(parent(child), root["spanID"].as_str());
    assert_eq!(tag(child, "span.kind").unwrap(), "client");
    assert_eq!(tag(child, "error").unwrap(), true);
    assert_eq!(
        tag(child, "otel.status_description").unwrap(),
        "card declined"
    );
    assert_eq!(tag(child, "server.address").unwrap(), "payments.internal");
    assert_eq!(child["logs"][0]["fields"][0]["value"], "retry");
    assert_eq!(c.ingest_stats().await["zipkinV2Json"]["spans"], 2);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn python_jaeger_client_over_udp_compact() {
    let c = TestCollector::start().await;
    let mut command = python("jaeger_client_udp.py");
    command
        .arg("127.0.0.1")
        .arg(c.jaeger_compact.port().to_string());
    let id = run(command).await;
    let spans = spans(&c, &id, 2).await;
    let (service, root) = &spans[0];
    assert_eq!(service, "py-jaeger");
    assert_eq!(root["operationName"], "GET /orders");
    assert_eq!(tag(root, "span.kind").unwrap(), "server");
    assert_eq!(tag(root, "http.status_code").unwrap(), 200);
    let (_, child) = &spans[1];
    assert_eq!(child["operationName"], "load order");
    assert_eq!(parent(child), root["spanID"].as_str());
    assert_eq!(tag(child, "error").unwrap(), true);
    assert_eq!(tag(child, "db.system").unwrap(), "mysql");
    let log = &child["logs"][0]["fields"];
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .any(|f| f["key"] == "event" && f["value"] == "slow query"),
        "{log}"
    );
    assert_eq!(c.ingest_stats().await["jaegerAgentCompact"]["spans"], 2);
    c.stop().await;
}

async fn node_jaeger(mode: &str) {
    let c = TestCollector::start().await;
    let mut command = node("jaeger_client.js");
    command.arg(mode);
    if mode == "udp" {
        // Node's jaeger-client speaks thrift binary over UDP (its default agent port is 6832).
        command
            .arg("127.0.0.1")
            .arg(c.jaeger_binary.port().to_string());
    } else {
        command.arg(format!("http://{}/api/traces", c.jaeger_http));
    }
    let id = run(command).await;
    let spans = spans(&c, &id, 2).await;
    let (service, root) = &spans[0];
    assert_eq!(service, &format!("node-jaeger-{mode}"));
    assert_eq!(root["operationName"], "GET /cart");
    assert_eq!(tag(root, "span.kind").unwrap(), "server");
    let (_, child) = &spans[1];
    assert_eq!(child["operationName"], "query cart");
    assert_eq!(parent(child), root["spanID"].as_str());
    assert_eq!(tag(child, "error").unwrap(), true);
    let log = &child["logs"][0]["fields"];
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .any(|f| f["key"] == "waited_ms" && f["value"].as_f64() == Some(30.0)),
        "{log}"
    );
    let stats = c.ingest_stats().await;
    let format = if mode == "udp" {
        "jaegerAgentBinary"
    } else {
        "jaegerThriftHttp"
    };
    assert_eq!(stats[format]["spans"], 2, "{stats}");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn node_jaeger_client_over_udp_binary() {
    node_jaeger("udp").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn node_jaeger_client_over_http_thrift() {
    node_jaeger("http").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn opentelemetry_js_zipkin_exporter() {
    let c = TestCollector::start().await;
    let mut command = node("otel_zipkin.js");
    command.arg(format!("http://{}/api/v2/spans", c.zipkin));
    let id = run(command).await;
    let spans = spans(&c, &id, 2).await;
    let (service, root) = &spans[0];
    assert_eq!(service, "node-zipkin");
    assert_eq!(root["operationName"], "GET /basket");
    assert_eq!(tag(root, "span.kind").unwrap(), "server");
    let (_, child) = &spans[1];
    assert_eq!(child["operationName"], "reserve");
    assert_eq!(parent(child), root["spanID"].as_str());
    assert_eq!(tag(child, "span.kind").unwrap(), "client");
    assert_eq!(tag(child, "error").unwrap(), true);
    assert_eq!(
        tag(child, "otel.status_description").unwrap(),
        "out of stock"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn python_jaeger_client_remote_sampler_reads_the_sampling_port() {
    let c = TestCollector::start().await;
    let mut command = python("jaeger_client_sampling.py");
    command
        .arg("127.0.0.1")
        .arg(c.sampling.port().to_string())
        .arg(c.jaeger_compact.port().to_string());
    let id = run(command).await;
    let spans = spans(&c, &id, 1).await;
    assert_eq!(spans[0].0, "py-jaeger-sampled");
    // The client records the sampler that decided: the strategy fetched from the port.
    assert_eq!(tag(&spans[0].1, "sampler.type").unwrap(), "probabilistic");
    assert_eq!(tag(&spans[0].1, "sampler.param").unwrap(), 1.0);
    c.stop().await;
}

/// Runs `jaeger_client_obeys.py` for `service`; returns (operation, trace id, sampled) per span.
async fn obeying(
    c: &TestCollector,
    service: &str,
    wait_for: &str,
    operations: &[&str],
) -> Vec<(String, String, bool)> {
    let mut command = python("jaeger_client_obeys.py");
    command
        .arg("127.0.0.1")
        .arg(c.sampling.port().to_string())
        .arg(c.jaeger_compact.port().to_string())
        .arg(service)
        .arg(wait_for)
        .args(operations);
    let shown = format!("{command:?}");
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}\n{INSTALL}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{shown} failed ({}):\n{stdout}\n{}\n(if a module is missing: {INSTALL})",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let spans: Vec<(String, String, bool)> = stdout
        .lines()
        .map(|line| {
            let parts: Vec<&str> = line.split(' ').collect();
            assert_eq!(parts.len(), 3, "{shown} printed {line:?}");
            (parts[0].to_owned(), parts[1].to_owned(), parts[2] == "1")
        })
        .collect();
    assert_eq!(spans.len(), operations.len(), "{shown}:\n{stdout}");
    spans
}

#[tokio::test(flavor = "multi_thread")]
async fn python_jaeger_client_obeys_the_strategies_file_per_service_and_per_operation() {
    let strategies = tracer_collector::ingest::strategies::SamplingStrategies::from_json(
        br#"{"default_strategy": {"type": "probabilistic", "param": 1},
             "service_strategies": [
               {"service": "py-never", "type": "probabilistic", "param": 0},
               {"service": "py-per-op", "type": "probabilistic", "param": 0,
                "operation_strategies": [{"operation": "keep", "type": "probabilistic", "param": 1}]}]}"#,
    )
    .unwrap();
    let c = TestCollector::start_with(
        tracer_collector::Collector::builder().sampling_strategies(strategies),
    )
    .await;
    // Probability 0 for the service: the client samples nothing, so sends nothing.
    let never = obeying(&c, "py-never", "rate=0.0", &["a", "b", "c", "d", "e"]).await;
    assert!(never.iter().all(|(_, _, sampled)| !sampled), "{never:?}");
    // Per operation: `keep` at 1, the rest at the service's 0 (lower bound 0).
    let per_op = obeying(
        &c,
        "py-per-op",
        "per-operation",
        &["keep", "drop", "keep", "drop", "keep", "drop"],
    )
    .await;
    for (operation, _, sampled) in &per_op {
        assert_eq!(*sampled, operation == "keep", "{per_op:?}");
    }
    // Everyone else gets the file's default (1), where the client starts at 0.001.
    let always = obeying(&c, "py-default", "rate=1.0", &["x", "y"]).await;
    assert!(always.iter().all(|(_, _, sampled)| *sampled), "{always:?}");

    // What the sampler kept arrived; what it dropped was never sent. The kept spans were sent
    // last, over the same port, so once they are in, anything sent before them is too.
    for (_, id, _) in per_op.iter().filter(|(op, ..)| op == "keep").chain(&always) {
        c.wait_trace(id, 1).await;
    }
    for (_, id, _) in never
        .iter()
        .chain(per_op.iter().filter(|(op, ..)| op == "drop"))
    {
        let (status, body) = c.get(&format!("/api/traces/{id}")).await;
        assert_eq!(status, 404, "an unsampled trace was stored: {body}");
    }
    let (_, services) = c.get("/api/services").await;
    let mut services: Vec<&str> = services["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    services.sort_unstable();
    assert_eq!(services, ["py-default", "py-per-op"]);
    let (_, operations) = c.get("/api/services/py-per-op/operations").await;
    assert_eq!(operations["data"], serde_json::json!(["keep"]));
    assert_eq!(c.ingest_stats().await["jaegerAgentCompact"]["spans"], 5);
    c.stop().await;
}
