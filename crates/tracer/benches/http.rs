//! What the HTTP server layer costs a hello-world axum server, next to the peers, measured in
//! the same run:
//!
//! | scenario | what runs |
//! |---|---|
//! | `baseline` | axum, no tracing |
//! | `tracer_sampled` | `TraceLayer`, every request sampled, spans exported over OTLP/HTTP to a null receiver |
//! | `tracer_sampled_null_export` | the same, but the exporter drops each batch: the layer's own cost |
//! | `tracer_unsampled` | `TraceLayer`, sampler `always_off` |
//! | `tracer_off` | `TraceLayer`, tracer switched off (context still extracted and attached) |
//! | `tower_http_tracing_otel` | tower-http `TraceLayer::new_for_http()` + `tracing-opentelemetry`, same export path |
//! | `axum_tracing_otel` | axum-tracing-opentelemetry 0.42 `OtelAxumLayer` + `tracing-opentelemetry`, same export path |
//!
//! Two measurements:
//! 1. **throughput** (the headline): a loopback load generator written here (16 keep-alive
//!    HTTP/1.1 connections, raw TCP so the client costs little) hammers the real server for a
//!    fixed time; scenarios are interleaved over several rounds and the median is reported.
//!    Next to the requests per second (which on a shared 2-core machine move with whatever else
//!    runs), the **server-side CPU time per request** is read from `/proc/self/task/*/stat`
//!    (server runtime threads + the tracers' export threads; not the load generator, not the
//!    null receiver): at saturation, throughput is inversely proportional to it, and it is far
//!    less sensitive to other load;
//! 2. **in-process latency** (criterion): one request through the router with
//!    `tower::ServiceExt::oneshot`, body collected, no network, to isolate the per-request cost.
//!
//! `cargo bench -p tracer --features axum,reqwest,testing,tracing,otlp --bench http`
//! (`HTTP_BENCH_SECS` sets the seconds per throughput run, default 2; `HTTP_BENCH_ROUNDS` the
//! rounds, default 3.)

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::routing::{get, post};
use criterion::Criterion;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt as _;
use tracer::http::server::TraceLayer;
use tracer::{ExporterKind, Protocol, Sampler};
use tracing_subscriber::layer::SubscriberExt as _;

const CONNECTIONS: usize = 16;
/// Name of the server runtime's threads, for CPU accounting.
const SERVER_THREAD: &str = "bench-server";
/// Name of the tracer's export threads (set by the tracer).
const EXPORT_THREAD: &str = "tracer-export";

/// CPU time (user + system) used so far by this process's threads whose name starts with one
/// of `prefixes`, from `/proc/self/task/*/stat` (clock ticks of 10 ms).
fn threads_cpu(prefixes: &[&str]) -> Duration {
    let mut ticks = 0u64;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = &stat[open + 1..close];
        if !prefixes.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        // After the name: state(0) ... utime(11) stime(12).
        let utime: u64 = fields.get(11).and_then(|f| f.parse().ok()).unwrap_or(0);
        let stime: u64 = fields.get(12).and_then(|f| f.parse().ok()).unwrap_or(0);
        ticks += utime + stime;
    }
    Duration::from_millis(ticks * 10)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scenario {
    Baseline,
    TracerSampled,
    TracerSampledNullExport,
    TracerUnsampled,
    TracerOff,
    TowerHttp,
    AxumTracingOtel,
}

const ALL: [Scenario; 7] = [
    Scenario::Baseline,
    Scenario::TracerSampled,
    Scenario::TracerSampledNullExport,
    Scenario::TracerUnsampled,
    Scenario::TracerOff,
    Scenario::TowerHttp,
    Scenario::AxumTracingOtel,
];

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Self::Baseline => "baseline",
            Self::TracerSampled => "tracer_sampled",
            Self::TracerSampledNullExport => "tracer_sampled_null_export",
            Self::TracerUnsampled => "tracer_unsampled",
            Self::TracerOff => "tracer_off",
            Self::TowerHttp => "tower_http_tracing_otel",
            Self::AxumTracingOtel => "axum_tracing_otel",
        }
    }
}

async fn hello(Path(name): Path<String>) -> String {
    format!("Hello, {name}!")
}

/// A null OTLP/HTTP receiver on its own thread: accepts every export and throws it away.
fn null_receiver() -> (String, Arc<AtomicU64>) {
    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("null-otlp".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                let app = Router::new().route(
                    "/v1/traces",
                    post(move |body: axum::body::Bytes| {
                        counter.fetch_add(body.len() as u64, Ordering::Relaxed);
                        async {
                            (
                                [("content-type", "application/x-protobuf")],
                                Vec::<u8>::new(),
                            )
                        }
                    }),
                );
                axum::serve(listener, app).await.unwrap();
            });
        })
        .unwrap();
    let addr: SocketAddr = rx.recv().unwrap();
    (format!("http://{addr}/v1/traces"), received)
}

/// A tracer exporting over OTLP/HTTP protobuf to the null receiver, with the real batch queue.
fn otlp_tracer(endpoint: &str, sampler: Sampler, on: bool) -> tracer::Guard {
    tracer::builder()
        .without_env()
        .service_name("bench")
        .exporter(ExporterKind::Otlp)
        .otlp_protocol(Protocol::HttpProtobuf)
        .otlp_endpoint(endpoint)
        .sampler(sampler)
        .enabled(on)
        .max_queue_size(NonZeroUsize::new(65_536).unwrap())
        .build()
        .unwrap()
}

/// Drops every batch: isolates the layer's cost from the OTLP encoding and sending.
#[derive(Debug)]
struct NullExporter;

impl opentelemetry_sdk::trace::SpanExporter for NullExporter {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        std::hint::black_box(batch);
        Ok(())
    }
}

struct Env {
    sampled: tracer::Guard,
    null_export: tracer::Guard,
    unsampled: tracer::Guard,
    off: tracer::Guard,
    /// Dispatch for the `tracing` peers: tracing-opentelemetry on its own tracer and queue.
    peer: tracing::Dispatch,
    peer_guard: tracer::Guard,
    received: Arc<AtomicU64>,
}

impl Env {
    fn new() -> Self {
        let (endpoint, received) = null_receiver();
        let peer_guard = otlp_tracer(&endpoint, Sampler::AlwaysOn, true);
        // The SDK tracer behind tracing-opentelemetry, as a user of the peers has it
        // (`tracer::tracing_layer` would give them tracer's own spans).
        let peer_layer = tracing_opentelemetry::layer()
            .with_tracer(peer_guard.tracer().sdk().clone())
            .with_context_activation(true);
        let subscriber = tracing_subscriber::registry().with(peer_layer);
        Self {
            sampled: otlp_tracer(&endpoint, Sampler::AlwaysOn, true),
            null_export: tracer::builder()
                .without_env()
                .service_name("bench")
                .span_exporter(NullExporter)
                .max_queue_size(NonZeroUsize::new(65_536).unwrap())
                .build()
                .unwrap(),
            unsampled: otlp_tracer(&endpoint, Sampler::AlwaysOff, true),
            off: otlp_tracer(&endpoint, Sampler::AlwaysOn, false),
            peer: tracing::Dispatch::new(subscriber),
            peer_guard,
            received,
        }
    }

    fn app(&self, scenario: Scenario) -> Router {
        let app = Router::new().route("/hello/{name}", get(hello));
        match scenario {
            Scenario::Baseline => app,
            Scenario::TracerSampled => {
                app.layer(TraceLayer::new().with_tracer(self.sampled.tracer().clone()))
            }
            Scenario::TracerSampledNullExport => {
                app.layer(TraceLayer::new().with_tracer(self.null_export.tracer().clone()))
            }
            Scenario::TracerUnsampled => {
                app.layer(TraceLayer::new().with_tracer(self.unsampled.tracer().clone()))
            }
            Scenario::TracerOff => {
                app.layer(TraceLayer::new().with_tracer(self.off.tracer().clone()))
            }
            Scenario::TowerHttp => app.layer(tower_http::trace::TraceLayer::new_for_http()),
            Scenario::AxumTracingOtel => {
                app.layer(axum_tracing_opentelemetry::middleware::OtelAxumLayer::default())
            }
        }
    }

    /// Exports every span ended so far, on every tracer.
    fn flush(&self) {
        for guard in [
            &self.sampled,
            &self.null_export,
            &self.unsampled,
            &self.off,
            &self.peer_guard,
        ] {
            guard.flush().expect("the null receivers take every span");
        }
    }

    /// A multi-thread server runtime whose threads use the peers' subscriber when needed.
    fn runtime(&self, scenario: Scenario) -> tokio::runtime::Runtime {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder
            .worker_threads(2)
            .thread_name(SERVER_THREAD)
            .enable_all();
        if matches!(scenario, Scenario::TowerHttp | Scenario::AxumTracingOtel) {
            let dispatch = self.peer.clone();
            builder.on_thread_start(move || {
                // Kept for the thread's life: the runtime's threads end with the runtime.
                std::mem::forget(tracing::dispatcher::set_default(&dispatch));
            });
        }
        builder.build().unwrap()
    }
}

/// One keep-alive connection: request, read the whole response, repeat until `stop`.
async fn connection(addr: SocketAddr, stop: Arc<AtomicBool>, done: Arc<AtomicU64>) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let request = b"GET /hello/world HTTP/1.1\r\nHost: bench\r\n\r\n";
    let mut buffer = vec![0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        stream.write_all(request).await.unwrap();
        let mut filled = 0;
        loop {
            let n = stream.read(&mut buffer[filled..]).await.unwrap();
            assert!(n > 0, "server closed the connection");
            filled += n;
            if let Some(end) = find(&buffer[..filled], b"\r\n\r\n") {
                let head = std::str::from_utf8(&buffer[..end]).unwrap();
                assert!(head.starts_with("HTTP/1.1 200"), "{head}");
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .expect("content-length");
                if filled >= end + 4 + length {
                    break;
                }
            }
        }
        done.fetch_add(1, Ordering::Relaxed);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Requests per second the server answered during `duration` (after a short warm-up), and the
/// server-side CPU time per request: the server runtime's threads plus the tracers' export
/// threads (the load generator and the null receiver are not counted).
fn throughput(env: &Env, scenario: Scenario, duration: Duration) -> (f64, Duration) {
    let server = env.runtime(scenario);
    let app = env.app(scenario);
    let addr = server.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    });
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let measured = client.block_on(async {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let tasks: Vec<_> = (0..CONNECTIONS)
            .map(|_| tokio::spawn(connection(addr, stop.clone(), done.clone())))
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await; // warm-up
        let cpu_before = threads_cpu(&[SERVER_THREAD, EXPORT_THREAD]);
        let (start_count, start) = (done.load(Ordering::Relaxed), Instant::now());
        tokio::time::sleep(duration).await;
        let count = done.load(Ordering::Relaxed) - start_count;
        let elapsed = start.elapsed();
        let cpu = threads_cpu(&[SERVER_THREAD, EXPORT_THREAD]) - cpu_before;
        stop.store(true, Ordering::Relaxed);
        for task in tasks {
            task.await.unwrap();
        }
        (
            count as f64 / elapsed.as_secs_f64(),
            cpu / count.max(1) as u32,
        )
    });
    server.shutdown_timeout(Duration::from_secs(1));
    // Let the export threads drain this run's spans before the next scenario is measured.
    std::thread::sleep(Duration::from_millis(300));
    measured
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn throughput_table(env: &Env) {
    let secs: u64 = std::env::var("HTTP_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let rounds: usize = std::env::var("HTTP_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    if rounds == 0 {
        return;
    }
    let mut results: Vec<(Scenario, Vec<f64>, Vec<f64>)> =
        ALL.iter().map(|s| (*s, Vec::new(), Vec::new())).collect();
    for round in 0..rounds {
        for (scenario, rates, cpus) in &mut results {
            let (rate, cpu) = throughput(env, *scenario, Duration::from_secs(secs));
            let cpu_us = cpu.as_secs_f64() * 1e6;
            eprintln!(
                "round {round} {:<28} {rate:>9.0} req/s {cpu_us:>7.1} us server CPU/request",
                scenario.name()
            );
            rates.push(rate);
            cpus.push(cpu_us);
        }
    }
    let medians: Vec<(Scenario, f64, f64)> = results
        .iter_mut()
        .map(|(s, rates, cpus)| (*s, median(rates), median(cpus)))
        .collect();
    let (base_rate, base_cpu) = (medians[0].1, medians[0].2);
    println!();
    println!(
        "| scenario | req/s (median, {rounds} x {secs} s) | throughput vs baseline | server CPU us/request | CPU-bound throughput vs baseline |"
    );
    println!("|---|---|---|---|---|");
    for (scenario, rate, cpu) in &medians {
        println!(
            "| {} | {rate:.0} | {:.3} | {cpu:.1} | {:.3} |",
            scenario.name(),
            rate / base_rate,
            base_cpu / cpu,
        );
    }
    println!(
        "\ntracer_sampled export: {:?}; peer export: {:?}; bytes at the null receiver: {}",
        env.sampled.stats(),
        env.peer_guard.stats(),
        env.received.load(Ordering::Relaxed)
    );
}

/// One request through the router in-process (no network), per scenario.
fn latency(c: &mut Criterion, env: &Env) {
    let mut group = c.benchmark_group("http_server_request");
    for scenario in ALL {
        let runtime = env.runtime(scenario);
        let app = env.app(scenario);
        // `block_on` runs the request on this thread: give it the peers' subscriber too.
        let _peer = matches!(scenario, Scenario::TowerHttp | Scenario::AxumTracingOtel)
            .then(|| tracing::dispatcher::set_default(&env.peer));
        group.bench_function(scenario.name(), |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let request = http::Request::get("/hello/world")
                        .body(Body::empty())
                        .unwrap();
                    let response = app.clone().oneshot(request).await.unwrap();
                    axum::body::to_bytes(response.into_body(), 1024)
                        .await
                        .unwrap()
                })
            });
        });
    }
    group.finish();
}

/// The function callgrind collects in.
#[inline(never)]
fn callgrind_measured(runtime: &tokio::runtime::Runtime, app: &Router, n: usize) {
    requests(runtime, app, n);
}

/// Runs `n` in-process requests through `app`.
#[inline(never)]
fn requests(runtime: &tokio::runtime::Runtime, app: &Router, n: usize) {
    runtime.block_on(async {
        for _ in 0..n {
            let request = http::Request::get("/hello/world")
                .body(Body::empty())
                .unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            std::hint::black_box(
                axum::body::to_bytes(response.into_body(), 1024)
                    .await
                    .unwrap(),
            );
        }
    });
}

/// Requests per counted round: between rounds every tracer is flushed (not counted), so the
/// export threads keep up with the spans as they must in a service that loses none (under
/// valgrind, which runs one thread at a time, they otherwise fall behind: neither tracer's
/// pooled records nor the SDK's freed spans would come back, and the steady state would not be
/// measured).
const ROUND: usize = 256;

/// `http callgrind SCENARIO N`: instruction counts of N in-process requests (see the module
/// docs of `benches/data.rs` for the method).
fn callgrind(env: &Env, args: &[String]) {
    let [name, n] = args else {
        panic!("usage: http callgrind SCENARIO N");
    };
    let scenario = ALL
        .into_iter()
        .find(|s| s.name() == name)
        .unwrap_or_else(|| panic!("unknown scenario {name:?}"));
    let n: usize = n.parse().expect("N: a number of requests");
    let app = env.app(scenario);
    let _peer = matches!(scenario, Scenario::TowerHttp | Scenario::AxumTracingOtel)
        .then(|| tracing::dispatcher::set_default(&env.peer));
    let runtime = env.runtime(scenario);
    requests(&runtime, &app, 100);
    env.flush();
    let mut left = n;
    while left > 0 {
        let round = left.min(ROUND);
        callgrind_measured(&runtime, &app, round);
        env.flush();
        left -= round;
    }
}

fn main() {
    let env = Env::new();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("callgrind") {
        callgrind(&env, &args[1..]);
        return;
    }
    let mut criterion = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    latency(&mut criterion, &env);
    criterion.final_summary();
    throughput_table(&env);
}
