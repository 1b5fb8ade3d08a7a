//! `tracer-collector`: runs the collector, or prints one trace from a running collector.
//!
//! ```text
//! tracer-collector [--bind-address 127.0.0.1] [--otlp-grpc-port 4317] [--otlp-http-port 4318]
//!                  [--query-port 16686] [--max-spans N] [--max-bytes N] [--body-limit N]
//!                  [--zipkin-port 9411] [--jaeger-http-port 14268]
//!                  [--jaeger-compact-port 6831] [--jaeger-binary-port 6832]
//!                  [--zipkin-compact-port 5775] [--sampling-port 5778]
//!                  [--jaeger-grpc-port 14250] [--sampling-strategies FILE]
//!                  [--udp-socket-buffer-bytes N]
//!                  [--data-dir DIR [--fsync always|interval:MS|never] [--max-disk-bytes N]]
//! tracer-collector view <TRACE_ID> [--query http://127.0.0.1:16686] [--width 100]
//! tracer-collector export --trace ID [--format otlp-json|jaeger-json] [--output FILE]
//! tracer-collector export --service NAME --since DURATION [--limit N] [...]
//! tracer-collector import FILE... [--collector http://127.0.0.1:16686]
//! ```
//! Every flag also reads an environment variable (see `--help`). Logs go to stderr; `RUST_LOG`
//! filters them.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use tokio::net::TcpListener;
use tracer_collector::access::Access;
use tracer_collector::config::{
    self, Config, DEFAULT_OTLP_GRPC_PORT, DEFAULT_OTLP_HTTP_PORT, DEFAULT_QUERY_PORT,
};
use tracer_collector::ingest::receiver;
use tracer_collector::ingest::strategies::SamplingStrategies;
use tracer_collector::insight::api::TraceFindings;
use tracer_collector::query::model::{Envelope, Trace};
use tracer_collector::{Collector, Listeners, files, view};

#[derive(Debug, Parser)]
#[command(
    name = "tracer-collector",
    version,
    about = "OTLP collector with a Jaeger-compatible query API"
)]
struct Cli {
    /// Address every port binds to. Binding beyond loopback must be asked for explicitly.
    #[arg(long, env = "TRACER_COLLECTOR_BIND_ADDRESS", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind_address: IpAddr,
    /// OTLP/gRPC port (0 disables).
    #[arg(long, env = "TRACER_COLLECTOR_OTLP_GRPC_PORT", default_value_t = DEFAULT_OTLP_GRPC_PORT)]
    otlp_grpc_port: u16,
    /// OTLP/HTTP port (0 disables).
    #[arg(long, env = "TRACER_COLLECTOR_OTLP_HTTP_PORT", default_value_t = DEFAULT_OTLP_HTTP_PORT)]
    otlp_http_port: u16,
    /// Query API and UI port (0 disables).
    #[arg(long, env = "TRACER_COLLECTOR_QUERY_PORT", default_value_t = DEFAULT_QUERY_PORT)]
    query_port: u16,
    /// Zipkin v1/v2 HTTP port (0 disables).
    #[arg(long, env = "TRACER_COLLECTOR_ZIPKIN_PORT", default_value_t = receiver::DEFAULT_ZIPKIN_PORT)]
    zipkin_port: u16,
    /// Jaeger thrift-over-HTTP port (0 disables).
    #[arg(long, env = "TRACER_COLLECTOR_JAEGER_HTTP_PORT", default_value_t = receiver::DEFAULT_JAEGER_HTTP_PORT)]
    jaeger_http_port: u16,
    /// Jaeger agent thrift compact UDP port (0 disables).
    #[arg(long, env = "TRACER_COLLECTOR_JAEGER_COMPACT_PORT", default_value_t = receiver::DEFAULT_JAEGER_COMPACT_PORT)]
    jaeger_compact_port: u16,
    /// Jaeger agent thrift binary UDP port (0 disables).
    #[arg(long, env = "TRACER_COLLECTOR_JAEGER_BINARY_PORT", default_value_t = receiver::DEFAULT_JAEGER_BINARY_PORT)]
    jaeger_binary_port: u16,
    /// Zipkin thrift compact UDP port, `emitZipkinBatch` of legacy clients (0 disables).
    #[arg(long, env = "TRACER_COLLECTOR_ZIPKIN_COMPACT_PORT", default_value_t = receiver::DEFAULT_ZIPKIN_COMPACT_PORT)]
    zipkin_compact_port: u16,
    /// Kernel receive buffer asked for each UDP receiver socket, in bytes (SO_RCVBUF; 0: the
    /// kernel's default, `net.core.rmem_default`). A larger buffer absorbs bursts of datagrams
    /// that the kernel would otherwise drop (`kernelDroppedDatagrams`); Linux caps it at
    /// `net.core.rmem_max`, and `socketReceiveBufferBytes` in the ingest stats shows what it gave.
    #[arg(long, env = "TRACER_COLLECTOR_UDP_SOCKET_BUFFER_BYTES", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=1 << 30))]
    udp_socket_buffer_bytes: u32,
    /// Jaeger sampling strategies port, `GET /sampling?service=` (0 disables).
    #[arg(long, env = "TRACER_COLLECTOR_SAMPLING_PORT", default_value_t = tracer_collector::ingest::sampling::DEFAULT_SAMPLING_PORT)]
    sampling_port: u16,
    /// Jaeger gRPC port, `CollectorService/PostSpans` and `SamplingManager` (0 disables).
    #[arg(long, env = "TRACER_COLLECTOR_JAEGER_GRPC_PORT", default_value_t = receiver::DEFAULT_JAEGER_GRPC_PORT)]
    jaeger_grpc_port: u16,
    /// Sampling strategies for Jaeger clients, a file in Jaeger's strategies JSON format
    /// (default: probabilistic 1.0 for every service).
    #[arg(long, env = "TRACER_COLLECTOR_SAMPLING_STRATEGIES")]
    sampling_strategies: Option<std::path::PathBuf>,
    /// Maximum spans kept in memory.
    #[arg(long, env = "TRACER_COLLECTOR_MAX_SPANS", default_value_t = tracer_collector::config::default_max_spans().get())]
    max_spans: usize,
    /// Maximum bytes kept in memory (store accounting).
    #[arg(long, env = "TRACER_COLLECTOR_MAX_BYTES", default_value_t = tracer_collector::config::default_max_bytes().get())]
    max_bytes: usize,
    /// Largest accepted request body in bytes, after decompression.
    #[arg(long, env = "TRACER_COLLECTOR_BODY_LIMIT", default_value_t = tracer_collector::config::default_body_limit().get())]
    body_limit: usize,
    /// Connections each port serves at once; more are closed on accept.
    #[arg(long, env = "TRACER_COLLECTOR_MAX_CONNECTIONS", default_value_t = config::default_max_connections().get())]
    max_connections: usize,
    /// Milliseconds allowed for a connection's first bytes and each request head (HTTP/1 also
    /// waits this long for the next request on a kept-alive connection).
    #[arg(long, env = "TRACER_COLLECTOR_HEADER_TIMEOUT_MS", default_value_t = config::default_header_timeout_ms())]
    header_timeout_ms: u64,
    /// Longest gap between two pieces of a request body, in milliseconds.
    #[arg(long, env = "TRACER_COLLECTOR_BODY_TIMEOUT_MS", default_value_t = config::default_body_timeout_ms())]
    body_timeout_ms: u64,
    /// Lowest average request body rate in bytes per second.
    #[arg(long, env = "TRACER_COLLECTOR_BODY_MIN_RATE", default_value_t = config::default_body_min_rate())]
    body_min_rate: u64,
    /// Milliseconds without traffic after which a connection is closed.
    #[arg(long, env = "TRACER_COLLECTOR_IDLE_TIMEOUT_MS", default_value_t = config::default_idle_timeout_ms())]
    idle_timeout_ms: u64,
    /// Answer `/api/metrics/*` with 501 (as Jaeger without a metrics store) instead of computing
    /// RED metrics from the stored spans.
    #[arg(long, env = "TRACER_COLLECTOR_NO_METRICS")]
    no_metrics: bool,
    /// Searches and trace fetches that run at once; more wait for a slot.
    #[arg(long, env = "TRACER_COLLECTOR_QUERY_SLOTS", default_value_t = config::default_query_slots().get())]
    query_slots: usize,
    /// A host name accepted in `Host` besides loopback names (repeatable, or comma-separated
    /// in the variable); requests naming other hosts get 403 on loopback ports.
    #[arg(
        long = "allowed-host",
        env = "TRACER_COLLECTOR_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    allowed_hosts: Vec<String>,
    /// Access token every request must present (`Authorization: Bearer`, or a browser
    /// sign-in); required when binding beyond loopback.
    /// The `export` and `import` commands present it to the collector they talk to.
    #[arg(
        long,
        global = true,
        env = "TRACER_COLLECTOR_AUTH_TOKEN",
        hide_env_values = true
    )]
    auth_token: Option<String>,
    /// Serve beyond loopback without an access token (anyone who can reach the ports can
    /// read and write traces).
    #[arg(long, env = "TRACER_COLLECTOR_NO_AUTH")]
    no_auth: bool,
    /// Also send everything accepted to this OTLP endpoint (repeatable, or comma-separated in
    /// the variable): `http(s)://host:4317` for grpc, `http(s)://host:4318` (or the full
    /// `/v1/traces` URL) for http/protobuf.
    #[arg(
        long = "forward-otlp",
        env = "TRACER_COLLECTOR_FORWARD_OTLP",
        value_delimiter = ','
    )]
    forward_otlp: Vec<String>,
    /// Transport of the forward endpoints: grpc or http/protobuf.
    #[arg(
        long,
        env = "TRACER_COLLECTOR_FORWARD_PROTOCOL",
        default_value = "grpc"
    )]
    forward_protocol: tracer_collector::forward::Protocol,
    /// A header (gRPC metadata) sent with every forwarded export, `KEY=VALUE` (repeatable).
    #[arg(
        long = "forward-header",
        env = "TRACER_COLLECTOR_FORWARD_HEADERS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    forward_headers: Vec<String>,
    /// Compression of forwarded exports: gzip or none.
    #[arg(
        long,
        env = "TRACER_COLLECTOR_FORWARD_COMPRESSION",
        default_value = "none"
    )]
    forward_compression: String,
    /// PEM file of extra CA certificates trusted for https:// forward endpoints (besides the
    /// system's roots).
    #[arg(long, env = "TRACER_COLLECTOR_FORWARD_CA_FILE")]
    forward_ca_file: Option<std::path::PathBuf>,
    /// Bytes each forward endpoint may have waiting; past it, the oldest data is dropped. With
    /// --data-dir the buffer is also kept on disk (DATA_DIR/forward) and survives restarts.
    #[arg(long, env = "TRACER_COLLECTOR_FORWARD_BUFFER_BYTES", default_value_t = tracer_collector::forward::DEFAULT_BUFFER_BYTES)]
    forward_buffer_bytes: usize,
    /// Tail-based sampling of what is forwarded: a strict JSON file of policies (see the
    /// `forward::tail` module docs and docs/DEPLOYMENT.md); the local store keeps everything.
    #[arg(long, env = "TRACER_COLLECTOR_TAIL_SAMPLING")]
    tail_sampling: Option<std::path::PathBuf>,
    /// Tail sampling by flags, for the common cases (instead of a --tail-sampling file): keep
    /// every trace with a span in error.
    #[arg(long, env = "TRACER_COLLECTOR_TAIL_KEEP_ERRORS")]
    tail_keep_errors: bool,
    /// Tail sampling by flags: keep every trace at least this many milliseconds long.
    #[arg(
        long,
        env = "TRACER_COLLECTOR_TAIL_KEEP_SLOWER_THAN_MS",
        value_name = "MS"
    )]
    tail_keep_slower_than_ms: Option<u64>,
    /// Tail sampling by flags: keep every trace with this span or resource attribute,
    /// `KEY=VALUE` (repeatable).
    #[arg(
        long = "tail-keep-attribute",
        env = "TRACER_COLLECTOR_TAIL_KEEP_ATTRIBUTES",
        value_delimiter = ',',
        value_name = "KEY=VALUE"
    )]
    tail_keep_attributes: Vec<String>,
    /// Tail sampling by flags: keep this share (0 to 1) of the traces no other flag keeps,
    /// chosen by trace id (collectors sharing a trace agree).
    #[arg(long, env = "TRACER_COLLECTOR_TAIL_SAMPLE_RATE", value_name = "SHARE")]
    tail_sample_rate: Option<f64>,
    /// Tail sampling: how long after its first span a trace is decided [default: 2000].
    #[arg(
        long,
        env = "TRACER_COLLECTOR_TAIL_DECISION_WAIT_MS",
        value_name = "MS"
    )]
    tail_decision_wait_ms: Option<u64>,
    /// Tail sampling: decide a trace as soon as its root span is in and no span waits for its
    /// parent, before the decision wait is over.
    #[arg(long, env = "TRACER_COLLECTOR_TAIL_DECIDE_WHEN_COMPLETE")]
    tail_decide_when_complete: bool,
    /// Keep the store durable in this directory: accepted spans are logged there before they
    /// are acknowledged and reloaded on start (see docs/RELIABILITY.md). Without it the store
    /// is in memory only.
    #[arg(long, env = "TRACER_COLLECTOR_DATA_DIR")]
    data_dir: Option<std::path::PathBuf>,
    /// With --data-dir, when an export counts as durable (and is acknowledged): `always`
    /// (fsync first), `interval:MS` (written to the OS, fsync at most MS later) or `never`
    /// (written to the OS).
    #[arg(long, env = "TRACER_COLLECTOR_FSYNC", default_value_t = tracer_collector::persist::DEFAULT_FSYNC)]
    fsync: tracer_collector::persist::FsyncPolicy,
    /// With --data-dir, disk budget of the span log in bytes; past it the oldest segments are
    /// deleted.
    #[arg(long, env = "TRACER_COLLECTOR_MAX_DISK_BYTES", default_value_t = tracer_collector::persist::DEFAULT_MAX_DISK_BYTES)]
    max_disk_bytes: u64,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a trace from a running collector as a tree.
    View {
        /// Trace id (hex).
        trace_id: String,
        /// Base URL of the query API.
        #[arg(
            long,
            env = "TRACER_COLLECTOR_QUERY_URL",
            default_value = "http://127.0.0.1:16686"
        )]
        query: String,
        /// Output width in columns.
        #[arg(long, default_value_t = 100)]
        width: usize,
    },
    /// Send OTLP at a fixed rate with known trace ids, then check every span was stored.
    Loadgen(tracer_collector::loadgen::Args),
    /// Write traces of a running collector to a file (OTLP JSON lines or Jaeger JSON).
    Export(files::cli::ExportArgs),
    /// Store trace files (OTLP JSON, JSON lines or one document; Jaeger UI JSON) in a running
    /// collector; prints the trace ids stored.
    Import(files::cli::ImportArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match cli.command {
        Some(Command::View {
            ref trace_id,
            ref query,
            width,
        }) => view_trace(trace_id, query, width).await,
        Some(Command::Loadgen(args)) => Ok(tracer_collector::loadgen::cli(args).await?),
        Some(Command::Export(args)) => exit_with(files::cli::export(args, cli.auth_token).await),
        Some(Command::Import(args)) => exit_with(files::cli::import(args, cli.auth_token).await),
        None => serve(cli).await,
    }
}

/// Ends the process with the command's exit code (see [`files::cli`]).
fn exit_with(result: Result<(), files::cli::CliError>) -> anyhow::Result<()> {
    match result {
        Ok(()) => Ok(()),
        Err(e) => {
            eprintln!("error: {}", e.message);
            std::process::exit(i32::from(e.code));
        }
    }
}

async fn bind(ip: IpAddr, port: u16) -> anyhow::Result<Option<TcpListener>> {
    if port == 0 {
        return Ok(None);
    }
    let addr = SocketAddr::new(ip, port);
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot bind {addr}"))?;
    Ok(Some(listener))
}

async fn bind_udp(
    ip: IpAddr,
    port: u16,
    receive_buffer: u32,
) -> anyhow::Result<Option<tokio::net::UdpSocket>> {
    if port == 0 {
        return Ok(None);
    }
    let addr = SocketAddr::new(ip, port);
    let socket = tokio::net::UdpSocket::bind(addr)
        .await
        .with_context(|| format!("cannot bind {addr}/udp"))?;
    if receive_buffer > 0 {
        let asked = receive_buffer as usize;
        let got = tracer_collector::ingest::udp::set_receive_buffer(&socket, asked).with_context(
            || format!("cannot set the receive buffer of {addr}/udp to {asked} bytes"),
        )?;
        if got < asked.saturating_mul(2) {
            tracing::warn!(
                socket = %addr,
                asked,
                kernel_reports = got,
                "--udp-socket-buffer-bytes was capped by the kernel (Linux reports twice the \
                 size it gives); raise net.core.rmem_max to allow more"
            );
        }
    }
    Ok(Some(socket))
}

async fn serve(cli: Cli) -> anyhow::Result<()> {
    let token = cli.auth_token.clone().filter(|t| !t.is_empty());
    if !cli.bind_address.is_loopback() && token.is_none() && !cli.no_auth {
        bail!(
            "--bind-address {} reaches beyond this machine, so an access token is required: set \
             --auth-token (or TRACER_COLLECTOR_AUTH_TOKEN), or pass --no-auth to serve without one",
            cli.bind_address
        );
    }
    let non_zero = |name: &str, n: usize| {
        std::num::NonZeroUsize::new(n).with_context(|| format!("--{name} must be at least 1"))
    };
    let config = Config {
        max_connections: non_zero("max-connections", cli.max_connections)?,
        query_slots: non_zero("query-slots", cli.query_slots)?,
        header_timeout_ms: cli.header_timeout_ms,
        body_timeout_ms: cli.body_timeout_ms,
        body_min_rate: cli.body_min_rate,
        idle_timeout_ms: cli.idle_timeout_ms,
        allowed_hosts: cli.allowed_hosts.clone(),
        metrics: !cli.no_metrics,
        data_dir: cli.data_dir.clone(),
        fsync: cli.fsync,
        max_disk_bytes: std::num::NonZeroU64::new(cli.max_disk_bytes)
            .context("--max-disk-bytes must be at least 1")?,
        ..Config::default()
    };
    let strategies = match &cli.sampling_strategies {
        Some(path) => SamplingStrategies::from_file(path)?,
        None => SamplingStrategies::default(),
    };
    let upstreams = forward_upstreams(&cli)?;
    let mut builder = Collector::builder();
    if let Some(config) = tail_sampling(&cli)? {
        if upstreams.is_empty() {
            bail!("tail sampling samples what is forwarded: give --forward-otlp too");
        }
        builder = builder.tail_sampling(config);
    }
    let collector = builder
        .config(config)
        .sampling_strategies(strategies)
        .forward(upstreams)
        .max_spans(cli.max_spans)
        .max_bytes(cli.max_bytes)
        .body_limit(cli.body_limit)
        .access(Access {
            allowed_hosts: Vec::new(),
            token: token.map(Into::into),
        })
        .build();
    let listeners = Listeners {
        otlp_grpc: bind(cli.bind_address, cli.otlp_grpc_port).await?,
        otlp_http: bind(cli.bind_address, cli.otlp_http_port).await?,
        query: bind(cli.bind_address, cli.query_port).await?,
        zipkin: bind(cli.bind_address, cli.zipkin_port).await?,
        jaeger_http: bind(cli.bind_address, cli.jaeger_http_port).await?,
        jaeger_udp_compact: bind_udp(
            cli.bind_address,
            cli.jaeger_compact_port,
            cli.udp_socket_buffer_bytes,
        )
        .await?,
        jaeger_udp_binary: bind_udp(
            cli.bind_address,
            cli.jaeger_binary_port,
            cli.udp_socket_buffer_bytes,
        )
        .await?,
        zipkin_udp_compact: bind_udp(
            cli.bind_address,
            cli.zipkin_compact_port,
            cli.udp_socket_buffer_bytes,
        )
        .await?,
        sampling: bind(cli.bind_address, cli.sampling_port).await?,
        jaeger_grpc: bind(cli.bind_address, cli.jaeger_grpc_port).await?,
    };
    collector
        .run(listeners, shutdown_signal())
        .await
        .context("collector failed")
}

/// The tail-sampling configuration from `--tail-sampling FILE` or from the `--tail-*` flags
/// (one or the other), if any.
fn tail_sampling(cli: &Cli) -> anyhow::Result<Option<tracer_collector::forward::tail::TailConfig>> {
    use tracer_collector::forward::tail::{TailConfig, TailFlags};
    let flags = TailFlags {
        keep_errors: cli.tail_keep_errors,
        keep_slower_than_ms: cli.tail_keep_slower_than_ms,
        keep_attributes: cli.tail_keep_attributes.clone(),
        sample_rate: cli.tail_sample_rate,
        decision_wait_ms: cli.tail_decision_wait_ms,
        decide_when_complete: cli.tail_decide_when_complete,
    };
    match &cli.tail_sampling {
        Some(path) if flags.any() => bail!(
            "--tail-sampling {} and the --tail-* flags both configure tail sampling: give one",
            path.display()
        ),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("--tail-sampling {}", path.display()))?;
            TailConfig::parse(&text)
                .map(Some)
                .map_err(|e| anyhow::anyhow!("--tail-sampling {}: {e}", path.display()))
        }
        None if flags.any() => TailConfig::from_flags(&flags)
            .map(Some)
            .map_err(anyhow::Error::msg),
        None => Ok(None),
    }
}

/// The `--forward-*` flags as upstreams, with errors naming the bad flag and value.
fn forward_upstreams(cli: &Cli) -> anyhow::Result<Vec<tracer_collector::forward::Upstream>> {
    use tracer_collector::forward::{Upstream, parse_header};
    let gzip = match cli.forward_compression.as_str() {
        "gzip" => true,
        "none" => false,
        other => bail!("--forward-compression {other:?}: expected gzip or none"),
    };
    let headers = cli
        .forward_headers
        .iter()
        .map(|h| parse_header(h).map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let ca_pem = match &cli.forward_ca_file {
        Some(path) => Some(
            std::fs::read(path).with_context(|| format!("--forward-ca-file {}", path.display()))?,
        ),
        None => None,
    };
    if cli.forward_buffer_bytes == 0 {
        bail!("--forward-buffer-bytes must be at least 1");
    }
    cli.forward_otlp
        .iter()
        .map(|url| {
            let mut upstream =
                Upstream::new(url, cli.forward_protocol).map_err(anyhow::Error::msg)?;
            upstream.headers = headers.clone();
            upstream.gzip = gzip;
            upstream.ca_pem = ca_pem.clone();
            upstream.buffer_bytes = cli.forward_buffer_bytes;
            Ok(upstream)
        })
        .collect()
}

/// Completes on ctrl-c, or on SIGTERM where there is one.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

async fn view_trace(trace_id: &str, query: &str, width: usize) -> anyhow::Result<()> {
    let url = format!("{}/api/traces/{trace_id}", query.trim_end_matches('/'));
    let response = reqwest::get(&url)
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    let body = response.text().await.context("cannot read the response")?;
    let envelope: Envelope<Vec<Trace>> =
        serde_json::from_str(&body).with_context(|| format!("unexpected response from {url}"))?;
    if let Some(error) = envelope.errors.as_ref().and_then(|e| e.first()) {
        bail!("{url}: {} {}", error.code, error.msg);
    }
    let Some(trace) = envelope.data.as_ref().and_then(|d| d.first()) else {
        bail!("{url}: {status} without a trace");
    };
    print!("{}", view::render(trace, width));
    // The linter's findings, from the same collector (an older one without the endpoint: none).
    let url = format!("{url}/findings");
    if let Ok(response) = reqwest::get(&url).await
        && response.status().is_success()
        && let Ok(body) = response.text().await
        && let Ok(answer) = serde_json::from_str::<Envelope<TraceFindings>>(&body)
        && let Some(data) = answer.data
    {
        print!("\n{}", view::render_findings(&data.findings, width));
    }
    Ok(())
}
