//! The collector down in the middle of a steady load, against the real services (server1 ->
//! server2 -> server3 -> Redis + MySQL) exporting through the demo's fault proxy: no request
//! fails, every span a service finished is exported, dropped or failed (exactly), and export
//! resumes within 5 s of the collector's return. And a service stopped with SIGTERM exports the
//! spans it still has queued before it exits, or says how many it could not.
//!
//! Needs Redis on 127.0.0.1:6379 and MariaDB/MySQL on 127.0.0.1:3306 (database `test`, user
//! root), or REDIS_URL / MYSQL_URL; `scripts/test` starts them. Latency is not asserted here
//! (tests do not time): `tracer-demo outage` measures it, see docs/RELIABILITY.md.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tracer_demo::outage::{self, OutageOptions};

fn data_url(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_collector_is_down_no_request_fails_and_every_lost_span_is_counted() {
    let options = OutageOptions {
        rate: 40,
        before: Duration::from_secs(2),
        outage: Duration::from_secs(5),
        after: Duration::from_secs(6),
        redis_url: data_url("REDIS_URL", "redis://127.0.0.1:6379/0"),
        mysql_url: data_url("MYSQL_URL", "mysql://root@127.0.0.1:3306/test"),
    };
    let report = outage::run(&options)
        .await
        .unwrap_or_else(|e| panic!("the outage run did not start: {e:#}"));
    eprintln!("{report}");
    assert_eq!(report.failed_requests, 0, "{report}");
    assert_eq!(report.services.len(), 3);
    for s in &report.services {
        assert!(s.sent > 0, "{report}");
        assert_eq!(s.stats.queued, 0, "{report}");
        assert_eq!(
            s.sent,
            s.stats.exported + s.stats.dropped + s.stats.failed,
            "{}: every span exported, dropped or failed: {report}",
            s.service
        );
        assert!(
            s.stats.dropped + s.stats.failed > 0,
            "{}: spans were lost during the outage and counted: {report}",
            s.service
        );
        assert!(s.stats.exported > 0, "{report}");
        let resumed = s
            .resumed_after
            .unwrap_or_else(|| panic!("{}: export never resumed: {report}", s.service));
        assert!(
            resumed < Duration::from_secs(5),
            "{}: export resumed {resumed:?} after the collector came back: {report}",
            s.service
        );
    }
}

/// A collector in this process; returns its OTLP/HTTP address and its store.
async fn collector() -> (
    SocketAddr,
    std::sync::Arc<tracer_collector::store::Store>,
    tokio::sync::oneshot::Sender<()>,
) {
    let otlp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = otlp.local_addr().unwrap();
    let collector = tracer_collector::Collector::builder().build();
    let store = collector.store();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(collector.run(
        tracer_collector::Listeners {
            otlp_http: Some(otlp),
            ..Default::default()
        },
        async {
            let _ = stopped.await;
        },
    ));
    (addr, store, stop)
}

/// server1 as its own process, exporting to `endpoint` with a schedule delay of an hour, so
/// that every span stays queued until the process stops. Logs at the default level (warn).
async fn server1(endpoint: &str) -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut command = Command::new(Path::new(env!("CARGO_BIN_EXE_tracer-demo")));
    command
        .args(["server1", "--listen", &port.to_string()])
        .args(["--server2", "http://127.0.0.1:1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .env_remove("RUST_LOG");
    for var in tracer::config::ALL_VARIABLES {
        command.env_remove(var);
    }
    command
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .env("OTEL_EXPORTER_OTLP_TIMEOUT", "2000")
        .env("OTEL_BSP_SCHEDULE_DELAY", "3600000");
    let child = command.spawn().expect("tracer-demo starts");
    let base = format!("http://{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(port).await.is_err() {
        assert!(Instant::now() < deadline, "server1 did not listen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, base)
}

/// Sends `n` requests that server1 answers alone (one span each), and checks they are queued.
async fn queue_spans(base: &str, n: u64) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    for _ in 0..n {
        let answer = client
            .get(format!("{base}/customers/alice"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
    // A server span ends once its response is sent: give the last one a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    let stats = loop {
        let stats: serde_json::Value = client
            .get(format!("{base}/admin/stats"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if stats["queued"] == n || Instant::now() > deadline {
            break stats;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(stats["queued"], n, "the spans wait in the queue: {stats}");
    assert_eq!(stats["exported"], 0, "{stats}");
}

/// Sends SIGTERM and waits for the exit; returns the exit status and everything on stderr.
async fn terminate(mut child: Child) -> (std::process::ExitStatus, String) {
    let pid = child.id().expect("still running").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let mut stderr = child.stderr.take().expect("piped");
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the service exits within 30 s of SIGTERM")
        .unwrap();
    let mut text = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut text)
        .await
        .unwrap();
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exports_every_queued_span_before_exit() {
    let (otlp, store, _stop) = collector().await;
    let (child, base) = server1(&format!("http://{otlp}")).await;
    queue_spans(&base, 40).await;
    let before = store.stats().received_spans;
    let (status, stderr) = terminate(child).await;
    assert!(status.success(), "{status}: {stderr}");
    assert_eq!(
        store.stats().received_spans - before,
        40,
        "every queued span reached the collector before the exit: {stderr}"
    );
    assert!(
        !stderr.contains("not exported"),
        "nothing to report: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_the_collector_unreachable_says_how_many_spans_were_not_exported() {
    // Bound, never listening: connections are refused, and no other test gets the port.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let closed = socket.local_addr().unwrap();
    let (child, base) = server1(&format!("http://{closed}")).await;
    queue_spans(&base, 15).await;
    let (status, stderr) = terminate(child).await;
    assert!(status.success(), "{status}: {stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("tracing shut down with spans not exported"))
        .unwrap_or_else(|| panic!("the shutdown result is logged at the default level: {stderr}"));
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("unflushed=15"), "{line}");
    assert!(
        line.contains(&closed.to_string()),
        "the endpoint is named: {line}"
    );
    assert!(
        stderr.contains("spans lost: their export failed"),
        "the failed export itself was warned about: {stderr}"
    );
    drop(socket);
}
