//! `tracer-demo`: the demo system's services, its embedded collector, and the scenario runner.
//!
//! `tracer-demo` (or `tracer-demo run`) starts everything as separate processes, fires every
//! scenario and checks each trace. The other subcommands run one part each.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use tokio::io::AsyncReadExt as _;
use tokio::net::TcpListener;
use tracer_demo::call_back_loop::DEFAULT_MAX_DEPTH;
use tracer_demo::faults::directive::Service;
use tracer_demo::order_events::{self, Publisher};
use tracer_demo::runner::cluster::EXIT_WITH_PARENT_ENV;
use tracer_demo::runner::{self, RunOptions};
use tracer_demo::{server1, server2, server3, shop_data::Store, worker};

#[derive(Parser)]
#[command(
    name = "tracer-demo",
    version,
    about = "The tracer demo system and its scenario runner",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Without a subcommand: `run` with these options.
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Start the collector, the three services and the worker, fire every scenario, check every
    /// trace (the default).
    Run(RunArgs),
    /// Run server1, the HTTP entry point.
    Server1(Server1Args),
    /// Run server2, the HTTP middle tier.
    Server2(Server2Args),
    /// Run server3, the gRPC service in front of Redis and MySQL, publishing each order to
    /// RabbitMQ.
    Server3(Server3Args),
    /// Run the worker, the consumer of server3's order events.
    Worker(WorkerArgs),
    /// Run the three services and the worker in this one process, on their default ports.
    All(DataArgs),
    /// Run the embedded collector (OTLP in, query API and UI out).
    Collector(CollectorArgs),
    /// Measure a collector outage under steady load: a run without the fault, then one with
    /// the collector unreachable in the middle; prints latency and span accounting of each.
    Outage(OutageArgs),
}

#[derive(Args)]
struct OutageArgs {
    /// Requests per second to server1.
    #[arg(long, default_value_t = 100)]
    rate: u64,
    /// Seconds of load before the outage.
    #[arg(long, default_value_t = 10)]
    before_secs: u64,
    /// Seconds the collector is unreachable.
    #[arg(long, default_value_t = 30)]
    outage_secs: u64,
    /// Seconds of load after the collector is back.
    #[arg(long, default_value_t = 20)]
    after_secs: u64,
    /// Pairs of runs (without and with the fault), the order alternating from pair to pair;
    /// the p99s are then also given pooled over every pair.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=50))]
    pairs: u64,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Args)]
struct RunArgs {
    /// Run only this scenario (repeatable); `--list` shows the names.
    #[arg(long = "scenario", value_name = "NAME")]
    scenarios: Vec<String>,
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
    /// Leave the collector and the services running afterwards, and print the UI's address.
    #[arg(long)]
    keep: bool,
    /// Do not print each scenario's waterfall.
    #[arg(long)]
    quiet: bool,
    /// Where the last run's latencies are kept, to print what got slower the next time
    /// (default: tracer-demo-last-run.json next to the executable).
    #[arg(long, env = "TRACER_DEMO_HISTORY", value_name = "FILE")]
    history: Option<std::path::PathBuf>,
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    forward: ForwardArgs,
}

/// Forwarding of the embedded collector, passed through to `tracer-collector`'s forwarder.
#[derive(Args, Clone, Default)]
struct ForwardArgs {
    /// Also forward everything the collector accepts to this OTLP endpoint (repeatable), e.g.
    /// an OpenTelemetry Collector or Jaeger: `http://host:4317` (grpc) or `http://host:4318`
    /// (http/protobuf).
    #[arg(long = "forward-otlp", value_name = "URL")]
    forward_otlp: Vec<String>,
    /// Transport of the forward endpoints: grpc or http/protobuf.
    #[arg(long, default_value = "grpc")]
    forward_protocol: String,
}

#[derive(Args, Clone)]
struct DataArgs {
    /// Redis, the product cache.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379/0")]
    redis_url: String,
    /// MySQL or MariaDB, the store (the database must exist).
    #[arg(
        long,
        env = "MYSQL_URL",
        default_value = "mysql://root@127.0.0.1:3306/test"
    )]
    mysql_url: String,
    /// RabbitMQ, where server3 publishes each order and the worker consumes it.
    #[arg(
        long,
        env = "AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    amqp_url: String,
}

#[derive(Args)]
struct Common {
    /// The call-back loop's depth limit.
    #[arg(long, env = "DEMO_MAX_LOOP_DEPTH", default_value_t = DEFAULT_MAX_DEPTH)]
    max_loop_depth: u32,
    /// Timeout of each call to another service, in milliseconds.
    #[arg(long, env = "DEMO_TIMEOUT_MS", default_value_t = 5000)]
    timeout_ms: u64,
}

#[derive(Args)]
struct Server1Args {
    /// Address to listen on.
    #[arg(long, env = "SERVER1_LISTEN", default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
    /// server2's base URL.
    #[arg(long, env = "SERVER2_URL", default_value = "http://127.0.0.1:8082")]
    server2: String,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct Server2Args {
    /// Address to listen on.
    #[arg(long, env = "SERVER2_LISTEN", default_value = "127.0.0.1:8082")]
    listen: SocketAddr,
    /// server1's base URL (call-backs).
    #[arg(long, env = "SERVER1_URL", default_value = "http://127.0.0.1:8081")]
    server1: String,
    /// server3's gRPC URL.
    #[arg(long, env = "SERVER3_URL", default_value = "http://127.0.0.1:8083")]
    server3: String,
    /// A gRPC URL where nothing listens, for the unreachable-service fault.
    #[arg(long, default_value = "http://127.0.0.1:1")]
    unreachable: String,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct Server3Args {
    /// Address to listen on.
    #[arg(long, env = "SERVER3_LISTEN", default_value = "127.0.0.1:8083")]
    listen: SocketAddr,
    /// Address of the HTTP admin listener (`GET /admin/stats`, `PUT /admin/tracing`), as on
    /// server1 and server2; none when not given.
    #[arg(long, env = "SERVER3_ADMIN_LISTEN")]
    admin_listen: Option<SocketAddr>,
    /// server2's base URL (call-backs).
    #[arg(long, env = "SERVER2_URL", default_value = "http://127.0.0.1:8082")]
    server2: String,
    #[command(flatten)]
    data: DataArgs,
    /// The RabbitMQ exchange order events are published to.
    #[arg(long, env = "DEMO_EXCHANGE", default_value = order_events::DEFAULT_EXCHANGE)]
    exchange: String,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct WorkerArgs {
    /// Address of the HTTP admin listener (`GET /admin/stats`, `PUT /admin/tracing`, `PUT
    /// /admin/consuming`, `GET /admin/queues`).
    #[arg(long, env = "WORKER_ADMIN_LISTEN", default_value = "127.0.0.1:8094")]
    admin_listen: SocketAddr,
    /// server1's base URL (call-backs).
    #[arg(long, env = "SERVER1_URL", default_value = "http://127.0.0.1:8081")]
    server1: String,
    #[command(flatten)]
    data: DataArgs,
    /// The RabbitMQ exchange order events are consumed from.
    #[arg(long, env = "DEMO_EXCHANGE", default_value = order_events::DEFAULT_EXCHANGE)]
    exchange: String,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct CollectorArgs {
    /// OTLP/HTTP address.
    #[arg(long, default_value = "127.0.0.1:4318")]
    otlp_http: SocketAddr,
    /// OTLP/gRPC address.
    #[arg(long, default_value = "127.0.0.1:4317")]
    otlp_grpc: SocketAddr,
    /// Query API and UI address.
    #[arg(long, default_value = "127.0.0.1:16686")]
    query: SocketAddr,
    #[command(flatten)]
    forward: ForwardArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Run(cli.run));
    if !matches!(command, Command::Run(_)) {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            // Plain text when stderr is a file or a pipe (the runner's logs, tests).
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
            )
            .init();
    }
    match command {
        Command::Run(args) => {
            let options = RunOptions {
                scenarios: args.scenarios,
                list: args.list,
                keep: args.keep,
                quiet: args.quiet,
                redis_url: args.data.redis_url,
                mysql_url: args.data.mysql_url,
                amqp_url: args.data.amqp_url,
                forward: forward_flags(&args.forward),
                history: args.history,
            };
            let passed = runner::run(options).await?;
            if !passed {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Server1(a) => {
            let (tracer, guard) = service_tracer(Service::Server1)?;
            let listener = bind(a.listen).await?;
            let options = server1::Options {
                server2: a.server2,
                max_loop_depth: a.common.max_loop_depth,
                timeout: Duration::from_millis(a.common.timeout_ms),
            };
            until_stopped(server1::serve(listener, options, tracer), guard).await
        }
        Command::Server2(a) => {
            let (tracer, guard) = service_tracer(Service::Server2)?;
            let listener = bind(a.listen).await?;
            let options = server2::Options {
                server1: a.server1,
                server3: a.server3,
                server3_unreachable: a.unreachable,
                max_loop_depth: a.common.max_loop_depth,
                timeout: Duration::from_millis(a.common.timeout_ms),
            };
            until_stopped(server2::serve(listener, options, tracer), guard).await
        }
        Command::Server3(a) => {
            let (tracer, guard) = service_tracer(Service::Server3)?;
            let store = Store::connect(&a.data.redis_url, &a.data.mysql_url, &tracer).await?;
            let events = Publisher::connect(&a.data.amqp_url, &a.exchange, &tracer).await?;
            let listener = bind(a.listen).await?;
            let admin = match a.admin_listen {
                Some(addr) => Some(bind(addr).await?),
                None => None,
            };
            let options = server3::Options {
                server2: a.server2,
                max_loop_depth: a.common.max_loop_depth,
                timeout: Duration::from_millis(a.common.timeout_ms),
            };
            let server = server3::Server3::new(options, store, &tracer).with_events(events);
            until_stopped(server3::serve(listener, admin, server, tracer), guard).await
        }
        Command::Worker(a) => {
            let (tracer, guard) = service_tracer(Service::Worker)?;
            let options = worker::Options {
                amqp_url: a.data.amqp_url,
                exchange: a.exchange,
                redis_url: a.data.redis_url,
                server1: a.server1,
                timeout: Duration::from_millis(a.common.timeout_ms),
            };
            let worker = worker::Worker::connect(options, &tracer).await?;
            let admin = bind(a.admin_listen).await?;
            until_stopped(worker::serve(admin, worker), guard).await
        }
        Command::All(data) => run_all(data).await,
        Command::Outage(a) => outage(a).await,
        Command::Collector(a) => {
            let listeners = tracer_collector::Listeners {
                otlp_grpc: Some(bind(a.otlp_grpc).await?),
                otlp_http: Some(bind(a.otlp_http).await?),
                query: Some(bind(a.query).await?),
                ..Default::default()
            };
            let protocol: tracer_collector::forward::Protocol = a
                .forward
                .forward_protocol
                .parse()
                .map_err(anyhow::Error::msg)?;
            let upstreams = a
                .forward
                .forward_otlp
                .iter()
                .map(|url| tracer_collector::forward::Upstream::new(url, protocol))
                .collect::<Result<Vec<_>, _>>()
                .map_err(anyhow::Error::msg)?;
            tracer_collector::Collector::builder()
                .forward(upstreams)
                .build()
                .run(listeners, stop_signal())
                .await
                .context("the collector failed")
        }
    }
}

/// The `--forward-*` flags as arguments of the `collector` subcommand.
fn forward_flags(forward: &ForwardArgs) -> Vec<String> {
    let mut flags = Vec::new();
    for url in &forward.forward_otlp {
        flags.extend(["--forward-otlp".to_owned(), url.clone()]);
    }
    if !forward.forward_otlp.is_empty() {
        flags.extend([
            "--forward-protocol".to_owned(),
            forward.forward_protocol.clone(),
        ]);
    }
    flags
}

/// `tracer-demo outage`: pairs of a reference run and a run with the fault (the reference first
/// in odd pairs, the fault first in even ones), each pair compared on the requests sent in the
/// outage's window, then every pair pooled.
async fn outage(a: OutageArgs) -> anyhow::Result<()> {
    use tracer_demo::outage::{OutageOptions, OutageReport, window_percentile};
    let options = OutageOptions {
        rate: a.rate,
        before: Duration::from_secs(a.before_secs),
        outage: Duration::from_secs(a.outage_secs),
        after: Duration::from_secs(a.after_secs),
        redis_url: a.data.redis_url,
        mysql_url: a.data.mysql_url,
    };
    let reference = OutageOptions {
        outage: Duration::ZERO,
        before: options.before + options.outage,
        ..options.clone()
    };
    let window = options.before..options.before + options.outage;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let change = |x: Duration, y: Duration| (x.as_secs_f64() / y.as_secs_f64() - 1.0) * 100.0;
    let (mut calms, mut faults): (Vec<OutageReport>, Vec<OutageReport>) = (Vec::new(), Vec::new());
    let mut failed = false;
    for pair in 1..=a.pairs {
        for fault_run in if pair % 2 == 1 {
            [false, true]
        } else {
            [true, false]
        } {
            if fault_run {
                println!(
                    "pair {pair}: collector unreachable for {} s after {} s:",
                    a.outage_secs, a.before_secs
                );
                let fault = tracer_demo::outage::run(&options).await?;
                println!("{fault}");
                failed |=
                    fault.failed_requests > 0 || !fault.services.iter().all(|s| s.accounted());
                faults.push(fault);
            } else {
                println!("pair {pair}: no fault:");
                let calm = tracer_demo::outage::run(&reference).await?;
                println!("{calm}");
                calms.push(calm);
            }
        }
        let (calm, fault) = (&calms[calms.len() - 1], &faults[faults.len() - 1]);
        let (c, f) = (
            window_percentile(&[calm], &window, 0.99).unwrap_or_default(),
            window_percentile(&[fault], &window, 0.99).unwrap_or_default(),
        );
        println!(
            "pair {pair}: p99 with the fault vs without: {:+.1} % (whole run), {:+.1} % (requests sent in the outage window: {:.2} vs {:.2} ms)",
            change(fault.p99, calm.p99),
            change(f, c),
            ms(f),
            ms(c)
        );
    }
    if a.pairs > 1 {
        let calm: Vec<&OutageReport> = calms.iter().collect();
        let fault: Vec<&OutageReport> = faults.iter().collect();
        let whole = Duration::ZERO..Duration::MAX;
        let pooled =
            |reports: &[&OutageReport], w| window_percentile(reports, w, 0.99).unwrap_or_default();
        let (cw, fw) = (pooled(&calm, &window), pooled(&fault, &window));
        let (ca, fa) = (pooled(&calm, &whole), pooled(&fault, &whole));
        println!(
            "pooled over {} pairs: p99 in the outage window {:.2} ms with the fault vs {:.2} ms without ({:+.1} %); whole runs {:.2} vs {:.2} ms ({:+.1} %)",
            a.pairs,
            ms(fw),
            ms(cw),
            change(fw, cw),
            ms(fa),
            ms(ca),
            change(fa, ca)
        );
    }
    if failed {
        anyhow::bail!("requests failed or spans are not accounted for");
    }
    Ok(())
}

/// The three services and the worker in one process on their default ports, with an exchange of
/// their own.
async fn run_all(data: DataArgs) -> anyhow::Result<()> {
    let (t1, g1) = service_tracer(Service::Server1)?;
    let (t2, g2) = service_tracer(Service::Server2)?;
    let (t3, g3) = service_tracer(Service::Server3)?;
    let (tw, gw) = service_tracer(Service::Worker)?;
    let timeout = Duration::from_secs(5);
    let store = Store::connect(&data.redis_url, &data.mysql_url, &t3).await?;
    let exchange = order_events::exchange_for_run(&order_events::run_id());
    let events = Publisher::connect(&data.amqp_url, &exchange, &t3).await?;
    let worker = worker::Worker::connect(
        worker::Options {
            amqp_url: data.amqp_url.clone(),
            exchange: exchange.clone(),
            redis_url: data.redis_url.clone(),
            server1: "http://127.0.0.1:8081".into(),
            timeout,
        },
        &tw,
    )
    .await?;
    let l1 = bind("127.0.0.1:8081".parse()?).await?;
    let l2 = bind("127.0.0.1:8082".parse()?).await?;
    let l3 = bind("127.0.0.1:8083".parse()?).await?;
    let s1 = server1::serve(
        l1,
        server1::Options {
            server2: "http://127.0.0.1:8082".into(),
            max_loop_depth: DEFAULT_MAX_DEPTH,
            timeout,
        },
        t1,
    );
    let s2 = server2::serve(
        l2,
        server2::Options {
            server1: "http://127.0.0.1:8081".into(),
            server3: "http://127.0.0.1:8083".into(),
            server3_unreachable: "http://127.0.0.1:1".into(),
            max_loop_depth: DEFAULT_MAX_DEPTH,
            timeout,
        },
        t2,
    );
    let server = server3::Server3::new(
        server3::Options {
            server2: "http://127.0.0.1:8082".into(),
            max_loop_depth: DEFAULT_MAX_DEPTH,
            timeout,
        },
        store,
        &t3,
    )
    .with_events(events);
    let a3 = bind("127.0.0.1:8093".parse()?).await?;
    let s3 = server3::serve(l3, Some(a3), server, t3);
    let aw = bind("127.0.0.1:8094".parse()?).await?;
    let w = worker::serve(aw, worker);
    eprintln!(
        "server1 http://127.0.0.1:8081, server2 http://127.0.0.1:8082, server3 grpc 127.0.0.1:8083 (admin http://127.0.0.1:8093), worker admin http://127.0.0.1:8094, exchange {exchange}"
    );
    let all = async {
        tokio::try_join!(async { s1.await.map_err(anyhow::Error::from) }, s2, s3, w)?;
        anyhow::Ok(())
    };
    let result = until_stopped(all, g1).await;
    for guard in [g2, g3, gw] {
        shut_down(guard).await;
    }
    result
}

/// A tracer for `service`, configured by the OTEL_* environment (not installed globally, so
/// that several services can share one process).
fn service_tracer(service: Service) -> anyhow::Result<(tracer::Tracer, tracer::Guard)> {
    let guard = tracer::builder()
        .service_name(service.name())
        .build()
        .with_context(|| format!("cannot set up tracing for {}", service.name()))?;
    Ok((guard.tracer().clone(), guard))
}

async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

/// Runs `serve` until it fails or the process is asked to stop, then flushes the spans.
async fn until_stopped<E>(
    serve: impl Future<Output = Result<(), E>>,
    guard: tracer::Guard,
) -> anyhow::Result<()>
where
    E: Into<anyhow::Error>,
{
    let result = tokio::select! {
        r = serve => r.map_err(Into::into),
        () = stop_signal() => Ok(()),
    };
    shut_down(guard).await;
    result
}

/// Exports the spans still queued and logs the outcome: how many spans could not be exported
/// (a warning, so it shows at the default level), or that all were (info).
async fn shut_down(guard: tracer::Guard) {
    let service = guard.tracer().service_name().to_owned();
    let tracer = guard.tracer().clone();
    let result = tokio::task::spawn_blocking(move || guard.shutdown()).await;
    let s = tracer.stats();
    match result {
        Ok(Ok(())) => tracing::info!(
            %service,
            exported = s.exported,
            dropped = s.dropped,
            failed = s.failed,
            "tracing shut down, every queued span exported"
        ),
        Ok(Err(e)) => tracing::warn!(
            %service,
            unflushed = e.unflushed(),
            exported = s.exported,
            dropped = s.dropped,
            failed = s.failed,
            error = %e,
            "tracing shut down with spans not exported"
        ),
        Err(e) => tracing::warn!(%service, error = %e, "tracing shutdown did not complete"),
    }
}

/// Completes on ctrl-c or SIGTERM, or, in a process started by the runner, when the runner is
/// gone (its pipe on our standard input closes).
async fn stop_signal() {
    let parent_gone = async {
        if std::env::var_os(EXIT_WITH_PARENT_ENV).is_none() {
            return std::future::pending::<()>().await;
        }
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 64];
        while let Ok(n) = stdin.read(&mut buf).await
            && n > 0
        {}
    };
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
        () = parent_gone => {}
    }
}
