//! Forwarding over TLS to an `https://` upstream: a receiver no one here wrote (Python's `ssl`
//! and `http.server`, decoding with the OpenTelemetry Python protos) with a certificate from a
//! CA made for the test. With the CA given (`--forward-ca-file`) the spans arrive; without it the
//! certificate is refused, the export retried and the reason shown.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{TestCollector, now_ns, peers_python, request, simple_span};
use prost::Message;
use serde_json::Value as Json;
use tracer_collector::Collector;
use tracer_collector::forward::{Protocol, Upstream};

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("the TLS test needs the openssl command: apt-get install openssl");
    assert!(status.success(), "openssl {args:?} failed");
}

/// A CA and a server certificate for 127.0.0.1 signed by it, in a fresh directory.
fn certificates() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tracer-forward-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    openssl(
        &dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=tracer test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    );
    openssl(
        &dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.pem",
        ],
    );
    dir
}

/// The Python TLS receiver and the port it listens on.
fn receiver(dir: &Path) -> (Child, u16, BufReader<std::process::ChildStdout>) {
    let mut child = Command::new(peers_python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/peers/tls_otlp_receiver.py"
        ))
        .arg(dir.join("server.pem"))
        .arg(dir.join("server.key"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the Python peer starts");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let port = line
        .trim()
        .strip_prefix("port ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("the TLS receiver did not start: {line:?}"));
    (child, port, out)
}

async fn forward_stats(edge: &TestCollector) -> Json {
    edge.get("/api/collector/stats").await.1["forward"][0].clone()
}

fn one_trace() -> Vec<u8> {
    let base = now_ns() - 1_000_000_000;
    let spans = (1..=3)
        .map(|i| simple_span(0xb00, i, if i == 1 { 0 } else { 1 }, "op", base, i, 10))
        .collect();
    request("tls-service", spans).encode_to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_go_to_an_https_upstream_that_the_ca_file_vouches_for() {
    let dir = certificates();
    let (mut child, port, mut out) = receiver(&dir);
    let url = format!("https://127.0.0.1:{port}");

    // Without the CA: the certificate is refused, the export is retried, the reason shown.
    let mut untrusted = Upstream::new(&url, Protocol::HttpProtobuf).unwrap();
    untrusted.batch_delay = Duration::from_millis(1);
    let edge = TestCollector::start_with(Collector::builder().forward(vec![untrusted])).await;
    let response = edge.post("application/x-protobuf", None, one_trace()).await;
    assert_eq!(response.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    let stats = loop {
        let stats = forward_stats(&edge).await;
        if stats["retries"].as_u64().unwrap_or(0) >= 1 {
            break stats;
        }
        assert!(
            Instant::now() < deadline,
            "no retry after a refused certificate: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(stats["sent_spans"], 0, "{stats}");
    let error = stats["last_error"].as_str().unwrap_or("").to_lowercase();
    assert!(error.contains("certificate"), "{stats}");
    edge.stop().await;

    // With the CA file: delivered, and the receiver decoded all three spans.
    let mut trusted = Upstream::new(&url, Protocol::HttpProtobuf).unwrap();
    trusted.batch_delay = Duration::from_millis(1);
    trusted.ca_pem = Some(std::fs::read(dir.join("ca.pem")).unwrap());
    let edge = TestCollector::start_with(Collector::builder().forward(vec![trusted])).await;
    let response = edge.post("application/x-protobuf", None, one_trace()).await;
    assert_eq!(response.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats = forward_stats(&edge).await;
        if stats["sent_spans"] == 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "nothing delivered over TLS: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    edge.stop().await;
    drop(child.stdin.take()); // the receiver stops when its stdin closes
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "spans 3", "what the TLS receiver decoded");
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
