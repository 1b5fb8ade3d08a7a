//! `/mcp`: the official MCP Python SDK (`mcp` from PyPI, a peer installed by `scripts/test` from
//! `tests/peers/requirements.txt` into `${TRACER_PEERS_DIR:-$HOME/.cache/tracer-peers}/venv`)
//! connects over Streamable HTTP, lists the tools and calls each one against a collector loaded
//! with two traces whose payment step got 100 ms slower; the transport's rules (session header,
//! protocol version header, Origin, batches, GET) are checked with raw requests; with an access
//! token the endpoint asks for it like the rest of the query port. A missing peer fails with
//! the install command.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{TestCollector, now_ns, request, simple_span};
use opentelemetry_proto::tonic::trace::v1::{Span, Status};
use prost::Message;
use serde_json::{Value, json};
use tracer_collector::Collector;
use tracer_collector::access::Access;

const INSTALL: &str = "install the peers with scripts/test, or by hand:\n  \
    P=${TRACER_PEERS_DIR:-$HOME/.cache/tracer-peers}\n  \
    python3 -m venv $P/venv && $P/venv/bin/pip install -r crates/tracer-collector/tests/peers/requirements.txt";
const TRACE_A: u128 = 0xa1;
const TRACE_B: u128 = 0xb2;
const TRACE_C: u128 = 0xc3;
const TOKEN: &str = "mcp-s3cret";

fn failed(mut span: Span) -> Span {
    span.status = Some(Status {
        message: "card declined".into(),
        code: 2,
    });
    span
}

/// Two checkouts a minute ago: `shop GET /order` calling `shop SELECT orders` and `pay POST
/// /pay` (failed in A); in B the payment takes 150 ms instead of 50 ms. And one 40 minutes ago
/// (C) whose order took 50 ms in all.
async fn load(collector: &TestCollector, token: Option<&str>) {
    let now = now_ns();
    for (trace, pay_ms, base) in [
        (TRACE_A, 50u64, now - 60_000_000_000),
        (TRACE_B, 150, now - 60_000_000_000),
        (TRACE_C, 0, now - 40 * 60_000_000_000),
    ] {
        let pay = simple_span(trace, 3, 1, "POST /pay", base, 30_000, pay_ms * 1000);
        let exports = [
            request(
                "shop",
                vec![
                    simple_span(trace, 1, 0, "GET /order", base, 0, (pay_ms + 50) * 1000),
                    Span {
                        kind: 3,
                        ..simple_span(trace, 2, 1, "SELECT orders", base, 5_000, 20_000)
                    },
                ],
            ),
            request(
                "pay",
                vec![if trace == TRACE_A { failed(pay) } else { pay }],
            ),
        ];
        for export in exports {
            let mut post = reqwest::Client::new()
                .post(collector.traces_url())
                .header("content-type", "application/x-protobuf");
            if let Some(token) = token {
                post = post.bearer_auth(token);
            }
            let response = post.body(export.encode_to_vec()).send().await.unwrap();
            assert_eq!(response.status(), 200);
        }
    }
}

fn python() -> Command {
    let dir = match std::env::var_os("TRACER_PEERS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
            .join(".cache/tracer-peers"),
    };
    let python = dir.join("venv/bin/python");
    assert!(
        python.exists(),
        "no Python peer venv at {}: {INSTALL}",
        python.display()
    );
    let mut command = Command::new(python);
    command.arg(format!(
        "{}/tests/peers/mcp_client.py",
        env!("CARGO_MANIFEST_DIR")
    ));
    command
}

/// Runs the SDK client and returns its JSON lines.
async fn run_client(collector: &TestCollector, token: Option<&str>) -> Vec<Value> {
    let mut command = python();
    command
        .arg(collector.query_url("/mcp"))
        .arg(format!("{TRACE_A:032x}"))
        .arg(format!("{TRACE_B:032x}"))
        .arg("shop");
    if let Some(token) = token {
        command.arg(token);
    }
    let shown = format!("{command:?}");
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}\n{INSTALL}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{shown} failed ({}):\n{stdout}\n{stderr}\n(if module mcp is missing: {INSTALL})",
        output.status
    );
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn check_client_output(lines: &[Value]) {
    assert_eq!(
        lines[0]["tools"],
        json!([
            "compare_traces",
            "compare_windows",
            "get_red_metrics",
            "get_trace_summary",
            "search_traces"
        ])
    );
    let call = |i: usize, name: &str| {
        assert_eq!(lines[i]["tool"], name, "{}", lines[i]);
        &lines[i]
    };

    let search = call(1, "search_traces");
    assert_eq!(search["isError"], false, "{search}");
    let ids: Vec<&str> = search["structured"]["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["trace_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{search}");
    assert!(
        ids.contains(&format!("{TRACE_A:032x}").as_str()),
        "{search}"
    );
    assert!(search["text"].as_str().unwrap().contains("shop GET /order"));

    let summary = call(2, "get_trace_summary");
    let text = summary["text"].as_str().unwrap();
    assert!(text.contains("3 spans, 100.000 ms"), "{text}");
    assert!(
        text.contains("\n  pay POST /pay  50.000 ms @+30.000 ms  ERROR"),
        "{text}"
    );
    assert!(text.contains("failed spans: pay POST /pay"), "{text}");
    let path: Vec<&str> = summary["structured"]["critical_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["operation"].as_str().unwrap())
        .collect();
    assert_eq!(path, ["GET /order", "POST /pay"], "{summary}");
    assert_eq!(summary["structured"]["critical_path"][0]["self_ms"], 50.0);
    // The linter's findings: the failed payment under an order that answered without error.
    assert!(
        text.contains(
            "\nfindings:\n  ! Error swallowed: pay POST /pay under shop GET /order: it failed \
             (status \"card declined\") but shop GET /order ended without error"
        ),
        "{text}"
    );
    assert_eq!(
        summary["structured"]["findings"][0]["rule"], "error-swallowed",
        "{summary}"
    );
    assert_eq!(
        summary["structured"]["findings"][0]["spans"],
        json!(["0000000000000003"])
    );

    let red = call(3, "get_red_metrics");
    assert_eq!(red["isError"], false, "{red}");
    let ops = red["structured"]["operations"].as_array().unwrap();
    assert_eq!(ops.len(), 1, "only the server spans of shop: {red}");
    assert_eq!(ops[0]["operation"], "GET /order");
    assert_eq!(ops[0]["calls"], 2);
    assert_eq!(ops[0]["error_fraction"], 0.0);
    assert_eq!(ops[0]["p50_ms"], 150.0);
    assert_eq!(ops[0]["p99_ms"], 199.0);

    let compare = call(4, "compare_traces");
    let first = &compare["structured"]["changes"][0];
    assert_eq!(first["delta_ms"], 100.0, "{compare}");
    assert!(
        first["path"].as_str().unwrap().ends_with("pay POST /pay")
            || first["path"] == "shop GET /order",
        "{compare}"
    );
    let unchanged = compare["structured"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"].as_str().unwrap().ends_with("SELECT orders"))
        .unwrap();
    assert_eq!(unchanged["delta_ms"], 0.0);

    // GET /order: 50 ms 40 minutes ago; 100 and 200 ms in the last half hour.
    let windows = call(5, "compare_windows");
    assert_eq!(windows["isError"], false, "{windows}");
    assert_eq!(
        windows["structured"]["operations"],
        json!([{
            "operation": "GET /order", "calls_before": 1, "calls_after": 2,
            "p50_ms_before": 50.0, "p50_ms_after": 150.0,
            "p95_ms_before": 50.0, "p95_ms_after": 195.0, "p95_delta_ms": 145.0,
        }]),
        "{windows}"
    );
    assert!(
        windows["text"]
            .as_str()
            .unwrap()
            .contains("GET /order: p95 50.000 -> 195.000 ms (+145.000)"),
        "{windows}"
    );

    let bad = call(6, "get_trace_summary");
    assert_eq!(bad["isError"], true);
    assert!(
        bad["text"].as_str().unwrap().contains("\"not-hex\""),
        "{bad}"
    );
}

#[tokio::test]
async fn the_python_sdk_lists_and_calls_every_tool() {
    let collector = TestCollector::start().await;
    load(&collector, None).await;
    collector.wait_trace(&format!("{TRACE_B:032x}"), 3).await;
    collector.wait_trace(&format!("{TRACE_C:032x}"), 3).await;
    let lines = run_client(&collector, None).await;
    check_client_output(&lines);
}

#[tokio::test]
async fn with_a_token_mcp_needs_it_and_the_sdk_gets_in_with_it() {
    let collector = TestCollector::start_with_collector(
        Collector::builder()
            .access(Access {
                token: Some(TOKEN.into()),
                ..Access::default()
            })
            .build(),
    )
    .await;
    load(&collector, Some(TOKEN)).await;
    let response = reqwest::Client::new()
        .post(collector.query_url("/mcp"))
        .header("content-type", "application/json")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // Traces are stored asynchronously: retry the client until both are searchable.
    let mut lines = Vec::new();
    for _ in 0..50 {
        lines = run_client(&collector, Some(TOKEN)).await;
        if lines[5]["structured"]["operations"][0]["calls_before"] == 1
            && lines[1]["structured"]["traces"].as_array().map(Vec::len) == Some(2)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    check_client_output(&lines);
}

async fn rpc(
    collector: &TestCollector,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Option<String>, Value) {
    let mut post = reqwest::Client::new()
        .post(collector.query_url("/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    for (k, v) in headers {
        post = post.header(*k, *v);
    }
    let response = post.body(body.to_owned()).send().await.unwrap();
    let status = response.status().as_u16();
    let session = response
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    };
    (status, session, json)
}

#[tokio::test]
async fn the_transport_enforces_sessions_versions_and_origins() {
    let collector = TestCollector::start().await;
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#;
    let (status, session, body) = rpc(&collector, &[], init).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(
        body["result"]["capabilities"]["tools"],
        json!({"listChanged": false})
    );
    let session = session.expect("initialize returns Mcp-Session-Id");
    let (_, _, newest) = rpc(&collector, &[], &init.replace("2025-06-18", "2031-01-01")).await;
    assert_eq!(newest["result"]["protocolVersion"], "2025-11-25");

    let list = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
    let with_session = [
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-06-18"),
    ];
    let (status, _, body) = rpc(&collector, &with_session, list).await;
    assert_eq!(status, 200);
    assert_eq!(body["result"]["tools"].as_array().unwrap().len(), 5);

    let (status, _, body) = rpc(&collector, &[], list).await;
    assert_eq!(status, 400, "no session: {body}");
    let (status, _, _) = rpc(&collector, &[("mcp-session-id", "nope")], list).await;
    assert_eq!(status, 404, "unknown session");
    let (status, _, body) = rpc(
        &collector,
        &[
            ("mcp-session-id", &session),
            ("mcp-protocol-version", "1999-01-01"),
        ],
        list,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1999-01-01")
    );
    let (status, _, _) = rpc(
        &collector,
        &[
            ("mcp-session-id", &session),
            ("origin", "http://evil.example"),
        ],
        list,
    )
    .await;
    assert_eq!(status, 403, "foreign Origin");

    let (status, _, body) = rpc(&collector, &with_session, &format!("[{list}]")).await;
    assert_eq!((status, &body["error"]["code"]), (400, &json!(-32600)));
    let (_, _, body) = rpc(
        &collector,
        &with_session,
        r#"{"jsonrpc":"2.0","id":3,"method":"resources/list"}"#,
    )
    .await;
    assert_eq!(body["error"]["code"], -32601);
    let (_, _, body) = rpc(
        &collector,
        &with_session,
        r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"drop_tables"}}"#,
    )
    .await;
    assert_eq!(body["error"]["code"], -32602);
    let (status, _, body) = rpc(&collector, &with_session, "{not json").await;
    assert_eq!((status, &body["error"]["code"]), (400, &json!(-32700)));
    let (status, _, _) = rpc(
        &collector,
        &with_session,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    )
    .await;
    assert_eq!(status, 202);

    let get = reqwest::get(collector.query_url("/mcp")).await.unwrap();
    assert_eq!(get.status(), 405);
    let delete = reqwest::Client::new()
        .delete(collector.query_url("/mcp"))
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 204);
    let (status, _, _) = rpc(&collector, &with_session, list).await;
    assert_eq!(status, 404, "ended session");
}
