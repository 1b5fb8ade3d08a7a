//! gRPC layer overhead, all variants in one run:
//!
//! - `grpc_unary`: one unary call over loopback (real tonic server and client on one
//!   current-thread runtime), untraced vs tracer (sampled, switched off) vs the peer
//!   `tonic-tracing-opentelemetry` (tracing + tracing-opentelemetry), first in an interleaved
//!   pass (rounds of calls alternating between variants, median round; printed as ratios), then
//!   under criterion;
//! - `grpc_layers_in_process`: client layer over server layer over a canned handler, no network:
//!   the layers' own CPU cost per call.
//!
//! tracer's variants record into its own span pipeline and export queue, whose exporter
//! discards each batch; the peer records through tracing-opentelemetry into the SDK tracer of
//! another such pipeline (as a user of the peer would have it). So the figures are the
//! instrumentation's cost without the network export's. Results and the command are in docs/bench/grpc.md.

#[path = "../tests/grpc_support/mod.rs"]
mod grpc_support;

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use grpc_support::{EchoClient, echo_server, request};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use tonic::transport::Server;
use tracer::grpc::{GrpcClientLayer, GrpcServerLayer};
use tracer::{Sampler, Tracer};
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt;

/// Receives every exported batch and drops it: tracer's own pipeline and export queue, no
/// network. (A user `span_processor` would keep the tracer on the SDK path.)
#[derive(Debug)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        std::hint::black_box(batch);
        Ok(())
    }
}

fn tracer(service: &str) -> Tracer {
    tracer::builder()
        .without_env()
        .service_name(service)
        .sampler(Sampler::ParentBasedAlwaysOn)
        .span_exporter(Discard)
        .build()
        .expect("valid settings")
        .into_tracer()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // The peer reads its context through `tracing`: a subscriber with the tracing-opentelemetry
    // layer, limited to the peer's own spans so tonic's internal events cost nothing extra.
    let peer_tracer = tracer("peer");
    // The SDK tracer, as a user of the peer has it (`tracer::tracing_layer` would give the peer
    // tracer's own spans).
    let peer_layer = tracing_opentelemetry::layer()
        .with_tracer(peer_tracer.sdk().clone())
        .with_context_activation(true);
    let subscriber = tracing_subscriber::registry().with(peer_layer.with_filter(
        tracing_subscriber::filter::filter_fn(|meta| meta.target() == "otel::tracing"),
    ));
    tracing::subscriber::set_global_default(subscriber).unwrap();
    opentelemetry::global::set_text_map_propagator(
        tracer::propagation::TraceContextPropagator::new(),
    );

    let sampled = tracer("sampled");
    let off = tracer("off");
    off.set_enabled(false);

    let mut group = c.benchmark_group("grpc_unary");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);

    let mut clients: Vec<(&'static str, Round<'_>)> = Vec::new();
    macro_rules! variant {
        ($name:literal, $server_layer:expr, $client_layer:expr) => {{
            let addr = rt.block_on(async {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                tokio::spawn(
                    Server::builder()
                        .layer($server_layer)
                        .add_service(echo_server())
                        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(
                            listener,
                        )),
                );
                addr
            });
            let channel = {
                let _runtime = rt.enter(); // the channel spawns its connection task
                grpc_support::channel(addr)
            };
            let mut client = EchoClient::new(
                tower::ServiceBuilder::new()
                    .layer($client_layer)
                    .service(channel),
            );
            rt.block_on(client.unary(request("warm"))).unwrap();
            let rt = &rt;
            clients.push((
                $name,
                Box::new(move || {
                    rt.block_on(async {
                        let start = Instant::now();
                        for _ in 0..ROUND {
                            client.unary(request("ping")).await.unwrap();
                        }
                        start.elapsed()
                    })
                }),
            ));
        }};
    }

    variant!(
        "untraced",
        tower::layer::util::Identity::new(),
        tower::layer::util::Identity::new()
    );
    variant!(
        "tracer_sampled",
        GrpcServerLayer::new().with_tracer(sampled.clone()),
        GrpcClientLayer::new().with_tracer(sampled.clone())
    );
    variant!(
        "tracer_off",
        GrpcServerLayer::new().with_tracer(off.clone()),
        GrpcClientLayer::new().with_tracer(off.clone())
    );
    variant!(
        "peer_tonic_tracing_opentelemetry",
        tonic_tracing_opentelemetry::middleware::server::OtelGrpcLayer::default(),
        tonic_tracing_opentelemetry::middleware::client::OtelGrpcLayer
    );
    variant!(
        "untraced_control",
        tower::layer::util::Identity::new(),
        tower::layer::util::Identity::new()
    );

    // Interleaved pass: the machine is shared, so load drifts over seconds. Rounds of ROUND
    // calls alternate between the variants (in rotating order), and the median round of each
    // gives ratios that drift cannot bias. `untraced_control` is a second, identical untraced
    // server and client: its distance from `untraced` is the noise floor of the setup.
    let rounds_wanted = if std::env::var_os("GRPC_BENCH_NO_INTERLEAVED").is_some() {
        0
    } else {
        ROUNDS
    };
    let mut rounds: Vec<Vec<Duration>> = vec![Vec::new(); clients.len()];
    let n = clients.len();
    for round in 0..rounds_wanted {
        // Each round starts with a different variant, so no variant always follows another.
        for k in 0..n {
            let i = (round + k) % n;
            rounds[i].push((clients[i].1)());
        }
    }
    let medians: Vec<f64> = rounds
        .iter_mut()
        .filter(|r| !r.is_empty())
        .map(|r| {
            r.sort();
            r[r.len() / 2].as_secs_f64() * 1e6 / ROUND as f64
        })
        .collect();
    println!("interleaved: {ROUNDS} rounds of {ROUND} unary calls per variant, median round");
    for ((name, _), median) in clients.iter().zip(&medians) {
        println!(
            "  {name:<36} {median:8.1} us/call  {:6.3}x untraced  throughput {:+5.1}%",
            median / medians[0],
            (medians[0] / median - 1.0) * 100.0
        );
    }

    // The same variants under criterion, one after the other.
    for (name, run) in clients.iter_mut() {
        group.bench_function(*name, |b| {
            b.iter_custom(|iters| {
                let rounds = iters.div_ceil(ROUND).max(1);
                let mut total = Duration::ZERO;
                for _ in 0..rounds {
                    total += run();
                }
                total.mul_f64(iters as f64 / (rounds * ROUND) as f64)
            })
        });
    }
    group.finish();
}

/// Runs one timed round of calls for a variant.
type Round<'a> = Box<dyn FnMut() -> Duration + 'a>;

/// Calls per timed round.
const ROUND: u64 = 100;
/// Rounds per variant in the interleaved pass.
const ROUNDS: usize = 41;

/// A handler that answers at once with one message and `grpc-status: 0` in the trailers.
fn canned_handler() -> impl tower::Service<
    http::Request<tonic::body::Body>,
    Response = http::Response<tonic::body::Body>,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone
+ Send {
    tower::service_fn(|_req: http::Request<tonic::body::Body>| async {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        let frames = [
            Ok::<_, std::convert::Infallible>(http_body::Frame::data(bytes::Bytes::from_static(
                &[0, 0, 0, 0, 2, 10, 0],
            ))),
            Ok(http_body::Frame::trailers(trailers)),
        ];
        let body = http_body_util::StreamBody::new(futures_util::stream::iter(frames));
        Ok(http::Response::new(tonic::body::Body::new(body)))
    })
}

/// One call through `service` and its whole response body, in process: no network, so the
/// figure is the layers' own CPU cost (plus a trivial handler).
async fn call_in_process<S, B>(service: &S) -> usize
where
    S: tower::Service<http::Request<tonic::body::Body>, Response = http::Response<B>> + Clone,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;
    let request = http::Request::builder()
        .uri("/test.v1.Echo/Unary")
        .header("content-type", "application/grpc")
        .body(tonic::body::Body::empty())
        .unwrap();
    let response = service.clone().oneshot(request).await.unwrap();
    let collected = response.into_body().collect().await.unwrap();
    collected.trailers().map_or(0, http::HeaderMap::len)
}

/// Client layer over server layer over a canned handler, for each variant.
fn in_process(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sampled = tracer("sampled");
    let off = tracer("off");
    off.set_enabled(false);
    let mut group = c.benchmark_group("grpc_layers_in_process");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    macro_rules! variant {
        ($name:literal, $service:expr) => {{
            let service = $service;
            group.bench_function($name, |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            std::hint::black_box(call_in_process(&service).await);
                        }
                        start.elapsed()
                    })
                })
            });
        }};
    }
    variant!("none", canned_handler());
    variant!(
        "tracer_sampled",
        tower::ServiceBuilder::new()
            .layer(GrpcClientLayer::new().with_tracer(sampled.clone()))
            .layer(GrpcServerLayer::new().with_tracer(sampled.clone()))
            .service(canned_handler())
    );
    variant!(
        "tracer_off",
        tower::ServiceBuilder::new()
            .layer(GrpcClientLayer::new().with_tracer(off.clone()))
            .layer(GrpcServerLayer::new().with_tracer(off.clone()))
            .service(canned_handler())
    );
    variant!(
        "peer_tonic_tracing_opentelemetry",
        tower::ServiceBuilder::new()
            .layer(tonic_tracing_opentelemetry::middleware::client::OtelGrpcLayer)
            .layer(tonic_tracing_opentelemetry::middleware::server::OtelGrpcLayer::default())
            .service(canned_handler())
    );
    group.finish();
}

/// `n` in-process calls through `service`, on one current-thread runtime.
#[inline(never)]
fn calls<S, B>(rt: &tokio::runtime::Runtime, service: &S, n: usize)
where
    S: tower::Service<http::Request<tonic::body::Body>, Response = http::Response<B>> + Clone,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    rt.block_on(async {
        for _ in 0..n {
            std::hint::black_box(call_in_process(service).await);
        }
    });
}

/// The only code callgrind counts in `callgrind` mode (100 calls to warm up are not, nor the
/// flushes between rounds).
#[inline(never)]
fn callgrind_measured<S, B>(rt: &tokio::runtime::Runtime, service: &S, n: usize)
where
    S: tower::Service<http::Request<tonic::body::Body>, Response = http::Response<B>> + Clone,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    calls(rt, service, n);
}

/// Calls per counted round: between rounds `tracer`'s spans are flushed (not counted), so its
/// export thread keeps up as it must in a service that loses no span (valgrind runs one thread
/// at a time; without the flushes the export thread fell behind and neither tracer's pooled
/// records nor the SDK's freed spans came back: not the steady state).
const COUNTED_ROUND: usize = 256;

/// `n` calls counted by callgrind, in rounds of [`COUNTED_ROUND`] with `tracer` flushed between them.
fn counted_in_rounds<S, B>(rt: &tokio::runtime::Runtime, service: &S, n: usize, tracer: &Tracer)
where
    S: tower::Service<http::Request<tonic::body::Body>, Response = http::Response<B>> + Clone,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let flush = || {
        tracer
            .provider()
            .force_flush()
            .expect("the discarding exporter takes every span")
    };
    flush();
    let mut left = n;
    while left > 0 {
        let round = left.min(COUNTED_ROUND);
        callgrind_measured(rt, service, round);
        flush();
        left -= round;
    }
}

/// `grpc callgrind VARIANT N`: instruction counts of N in-process calls of one variant of
/// `grpc_layers_in_process` (`none`, `tracer_sampled`, `tracer_off`,
/// `peer_tonic_tracing_opentelemetry`); (count at 2N − count at N) / N is the instructions per
/// call, as for the HTTP bench (docs/bench/grpc.md).
fn callgrind(args: &[String]) {
    let [variant, n] = args else {
        panic!("usage: grpc callgrind VARIANT N");
    };
    let n: usize = n.parse().expect("N: a number of calls");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    match variant.as_str() {
        "none" => {
            let service = canned_handler();
            calls(&rt, &service, 100);
            counted_in_rounds(&rt, &service, n, &tracer("none"));
        }
        "tracer_sampled" | "tracer_off" => {
            let tracer = tracer(variant);
            tracer.set_enabled(variant == "tracer_sampled");
            let service = tower::ServiceBuilder::new()
                .layer(GrpcClientLayer::new().with_tracer(tracer.clone()))
                .layer(GrpcServerLayer::new().with_tracer(tracer.clone()))
                .service(canned_handler());
            calls(&rt, &service, 100);
            counted_in_rounds(&rt, &service, n, &tracer);
        }
        "peer_tonic_tracing_opentelemetry" => {
            let peer_tracer = tracer("peer");
            let peer_layer = tracing_opentelemetry::layer()
                .with_tracer(peer_tracer.sdk().clone())
                .with_context_activation(true);
            let subscriber = tracing_subscriber::registry().with(peer_layer.with_filter(
                tracing_subscriber::filter::filter_fn(|meta| meta.target() == "otel::tracing"),
            ));
            let _default = tracing::subscriber::set_default(subscriber);
            opentelemetry::global::set_text_map_propagator(
                tracer::propagation::TraceContextPropagator::new(),
            );
            let service = tower::ServiceBuilder::new()
                .layer(tonic_tracing_opentelemetry::middleware::client::OtelGrpcLayer)
                .layer(tonic_tracing_opentelemetry::middleware::server::OtelGrpcLayer::default())
                .service(canned_handler());
            calls(&rt, &service, 100);
            counted_in_rounds(&rt, &service, n, &peer_tracer);
        }
        other => panic!("unknown variant {other:?}"),
    }
}

criterion_group!(benches, bench, in_process);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("callgrind") {
        callgrind(&args[1..]);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
