//! The collector binary as a child process on chosen ports, for tests that stop it for real
//! (SIGTERM, `kill -9`) and start it again on the same ports and data directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

/// A port on 127.0.0.1 that is free now and stays usable after a while: taken at random below
/// the kernel's ephemeral range (`ip_local_port_range`), so that neither the outgoing
/// connections of a test nor another test's `127.0.0.1:0` can take it before the process
/// meant to listen on it starts (a central collector is started long after its port is
/// chosen, and an edge restarted on the same ports).
pub(crate) fn free_port() -> u16 {
    use std::hash::{BuildHasher as _, RandomState};
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (from, to) = (10_000u16, low.max(10_001));
    let random = RandomState::new();
    for attempt in 0u64..1000 {
        let port =
            from + (random.hash_one((super::now_ns(), attempt)) % u64::from(to - from)) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between {from} and {to}");
}

/// The ports of one collector: OTLP over HTTP and gRPC, the query API and, where a test asks
/// for it, Zipkin (0: off; every other listener is off).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ports {
    pub(crate) http: u16,
    pub(crate) grpc: u16,
    pub(crate) query: u16,
    pub(crate) zipkin: u16,
}

impl Ports {
    /// Three free ports, Zipkin off.
    pub(crate) fn free() -> Ports {
        Ports {
            http: free_port(),
            grpc: free_port(),
            query: free_port(),
            zipkin: 0,
        }
    }

    /// Four free ports, Zipkin on.
    pub(crate) fn free_with_zipkin() -> Ports {
        Ports {
            zipkin: free_port(),
            ..Ports::free()
        }
    }

    /// The OTLP/gRPC endpoint, as `--forward-otlp` takes it.
    pub(crate) fn grpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc)
    }

    /// The query API's base URL.
    pub(crate) fn query_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.query)
    }
}

/// The collector binary running as a child process, its stderr in a file.
pub(crate) struct Process {
    child: Child,
    pub(crate) ports: Ports,
    stderr: PathBuf,
    pub(crate) client: reqwest::Client,
}

impl Process {
    /// The command that runs the binary on `ports` with `args`, its stderr appended to
    /// `stderr` (for a test that waits for the process to exit by itself).
    pub(crate) fn command(ports: Ports, args: &[String], stderr: &Path) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tracer-collector"));
        for (flag, port) in [
            ("--otlp-http-port", ports.http),
            ("--query-port", ports.query),
            ("--otlp-grpc-port", ports.grpc),
            ("--zipkin-port", ports.zipkin),
            ("--jaeger-http-port", 0),
            ("--jaeger-compact-port", 0),
            ("--jaeger-binary-port", 0),
            ("--zipkin-compact-port", 0),
            ("--sampling-port", 0),
            ("--jaeger-grpc-port", 0),
        ] {
            cmd.arg(flag).arg(port.to_string());
        }
        cmd.args(args)
            .env("RUST_LOG", "info")
            .env_remove("TRACER_COLLECTOR_FSYNC")
            .env_remove("TRACER_COLLECTOR_MAX_DISK_BYTES")
            .env_remove("TRACER_COLLECTOR_FORWARD_BUFFER_BYTES")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(stderr)
                    .unwrap(),
            );
        cmd
    }

    /// Starts the binary on `ports` with `args` and waits until its query port answers; its
    /// stderr goes to `stderr`.
    pub(crate) async fn start(ports: Ports, args: &[String], stderr: &Path) -> Process {
        let mut cmd = Process::command(ports, args, stderr);
        let child = cmd.spawn().expect("the tracer-collector binary starts");
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let mut p = Process {
            child,
            ports,
            stderr: stderr.to_owned(),
            client,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = p.child.try_wait().unwrap() {
                panic!("the collector exited with {status}: {}", p.stderr_text());
            }
            let url = format!("{}/api/services", ports.query_url());
            if let Ok(r) = p.client.get(&url).send().await
                && r.status() == 200
            {
                return p;
            }
            assert!(
                Instant::now() < deadline,
                "the collector did not answer within 60 s: {}",
                p.stderr_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it wrote to stderr so far.
    pub(crate) fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// GETs `path` of the query API as JSON (200 or 404 expected).
    pub(crate) async fn get(&self, path: &str) -> Json {
        let url = format!("{}{path}", self.ports.query_url());
        let r = self.client.get(&url).send().await.unwrap();
        let status = r.status();
        let body: Json = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        assert!(
            status == 200 || status == 404,
            "GET {path}: {status} {body}"
        );
        body
    }

    /// `/api/collector/stats`.
    pub(crate) async fn stats(&self) -> Json {
        self.get("/api/collector/stats").await
    }

    /// Posts one OTLP protobuf export; the HTTP status (0 when there was no answer).
    pub(crate) async fn export(&self, body: Vec<u8>) -> u16 {
        post(&self.client, self.ports.http, body).await
    }

    /// Spans of trace `trace` read through the query API (0 when it is not found).
    pub(crate) async fn span_count(&self, trace: u128) -> usize {
        let body = self.get(&format!("/api/traces/{trace:032x}")).await;
        body["data"][0]["spans"]
            .as_array()
            .map_or(0, |spans| spans.len())
    }

    /// SIGTERM, then waits for a clean exit.
    pub(crate) fn terminate(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let status = self.child.wait().unwrap();
        assert!(
            status.success(),
            "exit after SIGTERM: {status}: {}",
            self.stderr_text()
        );
    }

    /// SIGKILL (`kill -9`): no shutdown, no final write.
    pub(crate) fn kill(mut self) {
        self.child.kill().unwrap();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Posts one OTLP protobuf export to `127.0.0.1:{port}`; the HTTP status (0: no answer).
pub(crate) async fn post(client: &reqwest::Client, port: u16, body: Vec<u8>) -> u16 {
    let url = format!("http://127.0.0.1:{port}/v1/traces");
    match client
        .post(&url)
        .header("content-type", "application/x-protobuf")
        .body(body)
        .timeout(Duration::from_secs(10))
        .send()
        .await
    {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

/// A temporary directory, removed when dropped.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    /// A new empty directory named after `name`.
    pub(crate) fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "tracer-{name}-{}-{}",
            std::process::id(),
            super::now_ns()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
