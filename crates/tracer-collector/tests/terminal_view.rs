//! `view::render` and `tracer-collector view <trace-id>` print a trace as an indented tree with
//! duration bars, services, status and key attributes, within 100 columns, followed by the
//! linter's findings.

mod common;

use common::{TestCollector, i, now_ns, request, s, simple_span};
use opentelemetry_proto::tonic::trace::v1::Status;
use prost::Message;
use tracer_collector::query::model::{Envelope, Trace};
use tracer_collector::view::render;

const TRACE: u128 = 0x11112222333344445555666677778888;

async fn collector_with_trace() -> TestCollector {
    let collector = TestCollector::start().await;
    let base = now_ns();
    let mut root = simple_span(TRACE, 1, 0, "GET /orders/{id}", base, 0, 12_000);
    root.attributes = vec![
        s("http.request.method", "GET"),
        s("http.route", "/orders/{id}"),
        i("http.response.status_code", 200),
    ];
    let mut call = simple_span(TRACE, 2, 1, "orders.v1.Orders/Get", base, 1_000, 9_000);
    call.kind = 3;
    call.attributes = vec![s("rpc.method", "Get")];
    let mut redis = simple_span(TRACE, 3, 2, "GET", base, 2_000, 800);
    redis.kind = 3;
    redis.attributes = vec![
        s("db.system.name", "redis"),
        s("error.type", "connection_refused"),
    ];
    redis.status = Some(Status {
        message: "connection refused".into(),
        code: 2,
    });
    let mut mysql = simple_span(TRACE, 4, 2, "SELECT orders", base, 3_000, 5_000);
    mysql.kind = 3;
    mysql.attributes = vec![
        s("db.system.name", "mysql"),
        s(
            "db.query.text",
            "SELECT id, customer_id, total, created_at FROM orders WHERE id = ? AND customer_id = ? ORDER BY created_at DESC",
        ),
    ];
    for payload in [
        request("server1", vec![root]),
        request("server2-with-a-long-service-name", vec![call, redis, mysql]),
    ] {
        let response = collector
            .post("application/x-protobuf", None, payload.encode_to_vec())
            .await;
        assert_eq!(response.status(), 200);
    }
    collector
}

#[tokio::test]
async fn render_draws_a_tree_that_fits_100_columns() {
    let collector = collector_with_trace().await;
    let (_, body) = collector.get(&format!("/api/traces/{TRACE:032x}")).await;
    let envelope: Envelope<Vec<Trace>> = serde_json::from_value(body).unwrap();
    let trace = &envelope.data.unwrap()[0];
    let out = render(trace, 100);
    println!("{out}");
    for line in out.lines() {
        assert!(
            line.chars().count() <= 100,
            "{} columns: {line}",
            line.chars().count()
        );
    }
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with(&format!(
        "trace {TRACE:032x}  4 spans  2 services  12.0ms  1 errors"
    )));
    assert!(lines[1].starts_with("GET /orders/{id}"));
    assert!(lines[1].contains("server1"));
    assert!(lines[1].contains("12.0ms"));
    assert!(lines[2].contains("http.request.method=GET http.route=/orders/{id}"));
    let call = lines
        .iter()
        .position(|l| l.starts_with("└─ orders.v1.Orders/Get"))
        .unwrap();
    let redis = lines.iter().find(|l| l.starts_with("   ├─ GET ")).unwrap();
    assert!(redis.contains("ERR"));
    assert!(redis.contains("server2-with-…"));
    let mysql = lines
        .iter()
        .position(|l| l.starts_with("   └─ SELECT orders"))
        .unwrap();
    assert!(mysql > call);
    assert!(lines[mysql + 1].contains("db.query.text=SELECT id"));
    assert!(lines[mysql + 1].ends_with('…'));
    // The root's bar spans the whole timeline; a child's bar starts later.
    let bar_start = |line: &str| line.find('█').or_else(|| line.find('▓')).unwrap();
    assert!(bar_start(lines[1]) < bar_start(redis));
}

#[tokio::test]
async fn the_view_command_prints_a_trace_from_a_running_collector() {
    let collector = collector_with_trace().await;
    let url = format!("http://{}", collector.query);
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_tracer-collector"))
            .args(["view", &format!("{TRACE:032x}"), "--query", &url])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("GET /orders/{id}"), "{stdout}");
    assert!(stdout.contains("└─ orders.v1.Orders/Get"), "{stdout}");
    // The linter's findings follow the tree: the refused Redis read, handled by the MySQL query.
    assert!(
        stdout.contains("\nfindings: 1\n  i Error handled: server2-with-a-long-service-name GET"),
        "{stdout}"
    );
    let findings = stdout[stdout.find("findings: 1").unwrap()..]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        findings.contains(
            "it failed (error.type=connection_refused) and server2-with-a-long-service-name \
             orders.v1.Orders/Get fell back: it went on with server2-with-a-long-service-name \
             SELECT orders and ended without error"
        ),
        "{stdout}"
    );
    assert!(stdout.lines().all(|l| l.chars().count() <= 100), "{stdout}");

    let url = format!("http://{}", collector.query);
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_tracer-collector"))
            .args(["view", "abc", "--query", &url])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("404 trace not found"));
}
