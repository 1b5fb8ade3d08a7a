//! The demo's processes: the collector, the three services and the worker, each a child process
//! of the runner (the same executable with another subcommand), on free ports of 127.0.0.1.
//!
//! Each cluster has a run id of its own ([`order_events::run_id`]) and names its RabbitMQ
//! exchange after it (`orders-{run}`), so clusters side by side never see each other's order
//! events; [`Cluster::normalise`] turns the id back into `{run}` in rendered trees.
//!
//! The services export their spans to the collector through a [`FaultProxy`] owned by the
//! runner, so the collector-down scenario can cut them off for real (connections reset and
//! refused) while the collector keeps the traces it already has.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::process::{Child, Command};

use crate::faults::proxy::{Fault, FaultProxy};
use crate::order_events;

/// Set in the environment of the processes the runner starts: they exit when their standard
/// input (a pipe from the runner) closes, so they never outlive the runner, however it ends.
pub const EXIT_WITH_PARENT_ENV: &str = "TRACER_DEMO_EXIT_WITH_PARENT";

/// How long a process may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the data services are.
#[derive(Clone, Debug)]
pub struct DataUrls {
    /// Redis URL.
    pub redis: String,
    /// MySQL URL.
    pub mysql: String,
    /// RabbitMQ URL.
    pub amqp: String,
}

/// The running processes and their addresses.
#[derive(Debug)]
pub struct Cluster {
    /// `http://127.0.0.1:{port}`: the collector's query API and UI.
    pub query_url: String,
    /// server1's base URL.
    pub server1: String,
    /// server2's base URL.
    pub server2: String,
    /// server3's admin base URL (`/admin/stats`; server3's API is gRPC).
    pub server3_admin: String,
    /// The worker's admin base URL (`/admin/stats`, `/admin/consuming`, `/admin/queues`).
    pub worker_admin: String,
    /// This cluster's run id, part of its RabbitMQ names.
    pub run_id: String,
    /// The RabbitMQ exchange server3 publishes order events to.
    pub exchange: String,
    /// The proxy between the services and the collector.
    pub export_proxy: FaultProxy,
    /// Where each process writes its log.
    pub log_dir: PathBuf,
    children: Vec<(&'static str, Child)>,
}

fn free_port() -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener.local_addr()?)
}

impl Cluster {
    /// Starts the collector, the three services and the worker from executable `exe`, waits
    /// until each listens, and returns. Process logs go to files in a fresh temporary directory.
    pub async fn start(exe: &Path, data: &DataUrls) -> anyhow::Result<Cluster> {
        Self::start_with(exe, data, &[]).await
    }

    /// [`Cluster::start`] with extra arguments for the collector process (its forwarding
    /// flags, `--forward-otlp URL`).
    pub async fn start_with(
        exe: &Path,
        data: &DataUrls,
        collector_args: &[String],
    ) -> anyhow::Result<Cluster> {
        let log_dir = std::env::temp_dir().join(format!("tracer-demo-{}", std::process::id()));
        std::fs::create_dir_all(&log_dir)
            .with_context(|| format!("cannot create {}", log_dir.display()))?;
        let (otlp_http, otlp_grpc, query) = (free_port()?, free_port()?, free_port()?);
        let (s1, s2, s3) = (free_port()?, free_port()?, free_port()?);
        let s3_admin = free_port()?;
        let worker_admin = free_port()?;
        let run_id = order_events::run_id();
        let exchange = order_events::exchange_for_run(&run_id);
        let mut children = Vec::new();
        let mut args = vec![
            "collector".to_owned(),
            "--otlp-http".to_owned(),
            otlp_http.to_string(),
            "--otlp-grpc".to_owned(),
            otlp_grpc.to_string(),
            "--query".to_owned(),
            query.to_string(),
        ];
        args.extend(collector_args.iter().cloned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let collector = spawn(exe, &log_dir, "collector", &args, None)?;
        children.push(("collector", collector));
        let export_proxy = FaultProxy::start(otlp_http)
            .await
            .context("cannot start the proxy in front of the collector")?;
        let endpoint = format!("http://{}", export_proxy.addr());
        let server1 = format!("http://{s1}");
        let server2 = format!("http://{s2}");
        let server3 = format!("http://{s3}");
        let mut cluster = Cluster {
            query_url: format!("http://{query}"),
            server1: server1.clone(),
            server2: server2.clone(),
            server3_admin: format!("http://{s3_admin}"),
            worker_admin: format!("http://{worker_admin}"),
            run_id,
            exchange: exchange.clone(),
            export_proxy,
            log_dir: log_dir.clone(),
            children,
        };
        wait_listening("collector", query, &mut cluster).await?;
        let s3_args = [
            "server3",
            "--listen",
            &s3.to_string(),
            "--admin-listen",
            &s3_admin.to_string(),
            "--server2",
            &server2,
            "--redis-url",
            &data.redis,
            "--mysql-url",
            &data.mysql,
            "--amqp-url",
            &data.amqp,
            "--exchange",
            &exchange,
        ];
        let child = spawn(exe, &log_dir, "server3", &s3_args, Some(&endpoint))?;
        cluster.children.push(("server3", child));
        let worker_args = [
            "worker",
            "--admin-listen",
            &worker_admin.to_string(),
            "--server1",
            &server1,
            "--redis-url",
            &data.redis,
            "--amqp-url",
            &data.amqp,
            "--exchange",
            &exchange,
        ];
        let child = spawn(exe, &log_dir, "worker", &worker_args, Some(&endpoint))?;
        cluster.children.push(("worker", child));
        let s2_args = [
            "server2",
            "--listen",
            &s2.to_string(),
            "--server1",
            &server1,
            "--server3",
            &server3,
        ];
        let child = spawn(exe, &log_dir, "server2", &s2_args, Some(&endpoint))?;
        cluster.children.push(("server2", child));
        let s1_args = [
            "server1",
            "--listen",
            &s1.to_string(),
            "--server2",
            &server2,
        ];
        let child = spawn(exe, &log_dir, "server1", &s1_args, Some(&endpoint))?;
        cluster.children.push(("server1", child));
        wait_listening("server3", s3, &mut cluster).await?;
        wait_listening("server3", s3_admin, &mut cluster).await?;
        wait_listening("server2", s2, &mut cluster).await?;
        wait_listening("server1", s1, &mut cluster).await?;
        wait_listening("worker", worker_admin, &mut cluster).await?;
        Ok(cluster)
    }

    /// `text` with this cluster's run id replaced by `{run}`: trees name the exchange and
    /// queues `orders-{run}`, whichever cluster they come from.
    pub fn normalise(&self, text: &str) -> String {
        text.replace(&self.run_id, "{run}")
    }

    /// Cuts the services off from the collector (`false`) or reconnects them (`true`).
    pub async fn collector_reachable(&self, on: bool) -> anyhow::Result<()> {
        let fault = if on { Fault::Pass } else { Fault::Refuse };
        self.export_proxy
            .set(fault)
            .await
            .context("cannot switch the collector proxy")
    }

    /// The last lines of a process's log, for error messages.
    pub fn log_tail(&self, name: &str) -> String {
        let text =
            std::fs::read_to_string(self.log_dir.join(format!("{name}.log"))).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// Stops every process.
    pub async fn stop(mut self) {
        for (_, child) in &mut self.children {
            let _ = child.start_kill();
        }
        for (_, child) in &mut self.children {
            let _ = child.wait().await;
        }
        self.children.clear();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.start_kill();
        }
    }
}

fn spawn(
    exe: &Path,
    log_dir: &Path,
    name: &str,
    args: &[&str],
    otlp: Option<&str>,
) -> anyhow::Result<Child> {
    let log = std::fs::File::create(log_dir.join(format!("{name}.log")))?;
    let mut command = Command::new(exe);
    command
        .args(args)
        .stdin(Stdio::piped())
        .env(EXIT_WITH_PARENT_ENV, "1")
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .env("RUST_LOG", "warn")
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0");
    for var in tracer::config::ALL_VARIABLES {
        command.env_remove(var);
    }
    if let Some(endpoint) = otlp {
        command
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
            .env("OTEL_BSP_SCHEDULE_DELAY", "50")
            .env("OTEL_EXPORTER_OTLP_TIMEOUT", "2000");
    }
    command
        .spawn()
        .with_context(|| format!("cannot start {name} ({})", exe.display()))
}

async fn wait_listening(
    name: &'static str,
    addr: SocketAddr,
    cluster: &mut Cluster,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        if let Some((_, child)) = cluster.children.iter_mut().find(|(n, _)| *n == name)
            && let Ok(Some(status)) = child.try_wait()
        {
            bail!(
                "{name} exited ({status}) before listening on {addr}:\n{}",
                cluster.log_tail(name)
            );
        }
        if Instant::now() > deadline {
            bail!(
                "{name} did not listen on {addr} within {START_TIMEOUT:?}:\n{}",
                cluster.log_tail(name)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
