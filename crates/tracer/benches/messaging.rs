//! What the NATS and RabbitMQ instrumentation adds to a publish + consume round trip on
//! loopback (issue 19; figures and the machine in docs/bench/messaging.md):
//!
//! | scenario | what runs |
//! |---|---|
//! | `raw` | async-nats `Client::publish` / lapin `Channel::basic_publish`, then the subscriber receives it (RabbitMQ: and acks it) |
//! | `tracer_sampled` | `tracer::nats::TracedClient` / `tracer::lapin::TracedChannel` publish, consumer `process` span (RabbitMQ: `tracer::lapin::ack`), every span sampled, through the real batch queue to an exporter that drops them |
//! | `tracer_off` | the same with the tracer switched off (the context is still forwarded) |
//!
//! Two measurements, as in `benches/data.rs`: criterion (short runs, one scenario after the
//! other) and an interleaved run (each round times `MESSAGING_BENCH_OPS` round trips of every
//! scenario in turn, over `MESSAGING_BENCH_ROUNDS` rounds; the median per scenario is printed
//! with its ratio to `raw`), which is less sensitive to the load of a shared machine drifting
//! during the run.
//!
//! A third, load-independent measurement counts instructions: `messaging callgrind {nats|rabbitmq}
//! {scenario} {n}` runs `n` round trips of one scenario inside `callgrind_measured`, the only
//! function callgrind is told to collect in (work on other threads, the export thread's and
//! the brokers', is not counted):
//!
//! ```text
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*callgrind_measured*' \
//!     target/release/deps/messaging-<hash> callgrind nats tracer_sampled 2000
//! ```
//!
//! Needs the real NATS (127.0.0.1:4222) and RabbitMQ (127.0.0.1:5672, guest/guest).
//!
//! `cargo bench -p tracer --features nats,lapin,testing --bench messaging`

use std::hint::black_box;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use criterion::Criterion;
use futures_util::StreamExt as _;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties, Consumer};
use opentelemetry::context::FutureExt as _;
use tokio::runtime::Runtime;
use tokio::sync::Mutex;
use tracer::Sampler;

/// Drops every batch: the cost measured is the instrumentation's and the queue's.
#[derive(Debug)]
struct NullExporter;

impl opentelemetry_sdk::trace::SpanExporter for NullExporter {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

fn tracer(on: bool) -> tracer::Guard {
    tracer::builder()
        .without_env()
        .service_name("bench")
        .span_exporter(NullExporter)
        .sampler(Sampler::AlwaysOn)
        .enabled(on)
        .max_queue_size(NonZeroUsize::new(65_536).unwrap())
        .build()
        .unwrap()
}

const SCENARIOS: [&str; 3] = ["raw", "tracer_sampled", "tracer_off"];

struct Env {
    rt: Runtime,
    _guards: Vec<tracer::Guard>,
    nats: async_nats::Client,
    nats_traced: Vec<tracer::nats::TracedClient>,
    subject: String,
    subscriber: Mutex<async_nats::Subscriber>,
    _amqp: Connection,
    channel: lapin::Channel,
    channel_traced: Vec<tracer::lapin::TracedChannel>,
    queue: String,
    consumer: Mutex<Consumer>,
}

impl Env {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let guards = vec![tracer(true), tracer(false)];
        let subject = format!("bench.messaging.{}", std::process::id());
        let queue = format!("bench_messaging_{}", std::process::id());
        let (nats, subscriber, amqp, channel, consumer) = rt.block_on(async {
            let nats = async_nats::connect("127.0.0.1:4222")
                .await
                .expect("NATS at 127.0.0.1:4222 (start nats-server -js)");
            let subscriber = nats.subscribe(subject.clone()).await.unwrap();
            let amqp = Connection::connect(
                "amqp://guest:guest@127.0.0.1:5672/%2f",
                ConnectionProperties::default(),
            )
            .await
            .expect("RabbitMQ at 127.0.0.1:5672 (start rabbitmq-server -detached)");
            let channel = amqp.create_channel().await.unwrap();
            let options = QueueDeclareOptions {
                auto_delete: true,
                ..QueueDeclareOptions::default()
            };
            channel
                .queue_declare(queue.as_str().into(), options, FieldTable::default())
                .await
                .unwrap();
            let consumer = channel
                .basic_consume(
                    queue.as_str().into(),
                    "bench".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
                .unwrap();
            (nats, subscriber, amqp, channel, consumer)
        });
        let nats_traced = guards
            .iter()
            .map(|g| tracer::nats::TracedClient::new(nats.clone()).with_tracer(g.tracer().clone()))
            .collect();
        let channel_traced = guards
            .iter()
            .map(|g| {
                tracer::lapin::TracedChannel::new(channel.clone()).with_tracer(g.tracer().clone())
            })
            .collect();
        Env {
            rt,
            _guards: guards,
            nats,
            nats_traced,
            subject,
            subscriber: Mutex::new(subscriber),
            _amqp: amqp,
            channel,
            channel_traced,
            queue,
            consumer: Mutex::new(consumer),
        }
    }

    /// One NATS publish + receive in `scenario` (index into [`SCENARIOS`]).
    async fn nats_round_trip(&self, scenario: usize) {
        let mut sub = self.subscriber.lock().await;
        match scenario {
            0 => {
                self.nats
                    .publish(self.subject.clone(), "x".into())
                    .await
                    .unwrap();
                black_box(sub.next().await.unwrap());
            }
            i => {
                let traced = &self.nats_traced[i - 1];
                traced
                    .publish(self.subject.clone(), "x".into())
                    .await
                    .unwrap();
                let message = sub.next().await.unwrap();
                let span = tracer::nats::process(traced.tracer(), &message, None);
                async { black_box(&message) }
                    .with_context(span.context().clone())
                    .await;
            }
        }
    }

    /// One RabbitMQ publish + delivery + ack in `scenario`.
    async fn rabbitmq_round_trip(&self, scenario: usize) {
        let mut consumer = self.consumer.lock().await;
        match scenario {
            0 => {
                self.channel
                    .basic_publish(
                        "".into(),
                        self.queue.as_str().into(),
                        BasicPublishOptions::default(),
                        b"x",
                        BasicProperties::default(),
                    )
                    .await
                    .unwrap();
                let delivery = consumer.next().await.unwrap().unwrap();
                delivery.ack(BasicAckOptions::default()).await.unwrap();
            }
            i => {
                let traced = &self.channel_traced[i - 1];
                traced
                    .basic_publish(
                        "",
                        self.queue.as_str(),
                        BasicPublishOptions::default(),
                        b"x",
                        BasicProperties::default(),
                    )
                    .await
                    .unwrap();
                let delivery = consumer.next().await.unwrap().unwrap();
                let span = tracer::lapin::process(traced.tracer(), &delivery, &self.queue);
                tracer::lapin::ack(&span, &delivery, BasicAckOptions::default())
                    .await
                    .unwrap();
            }
        }
    }

    async fn round_trip(&self, rabbitmq: bool, scenario: usize) {
        if rabbitmq {
            self.rabbitmq_round_trip(scenario).await;
        } else {
            self.nats_round_trip(scenario).await;
        }
    }
}

fn criterion_runs(env: &Env, c: &mut Criterion) {
    for (group_name, rabbitmq) in [("nats_round_trip", false), ("rabbitmq_round_trip", true)] {
        let mut group = c.benchmark_group(group_name);
        for (i, name) in SCENARIOS.iter().enumerate() {
            group.bench_function(*name, |b| {
                b.iter(|| env.rt.block_on(env.round_trip(rabbitmq, i)))
            });
        }
        group.finish();
    }
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// Times `ops` round trips of every scenario in turn, `rounds` times; prints medians and ratios.
fn interleaved(env: &Env, label: &str, rabbitmq: bool, ops: usize, rounds: usize) {
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); SCENARIOS.len()];
    for _ in 0..rounds {
        for (i, per_op) in times.iter_mut().enumerate() {
            let start = Instant::now();
            env.rt.block_on(async {
                for _ in 0..ops {
                    env.round_trip(rabbitmq, i).await;
                }
            });
            per_op.push(start.elapsed() / ops as u32);
        }
    }
    let raw = median(times[0].clone());
    println!("\n{label}: interleaved, {rounds} rounds x {ops} round trips, median per round trip");
    for (name, per_op) in SCENARIOS.iter().zip(times) {
        let (min, max) = (
            per_op.iter().min().copied().unwrap_or_default(),
            per_op.iter().max().copied().unwrap_or_default(),
        );
        let m = median(per_op);
        println!(
            "  {name:<16} {:>8.2} us  {:>6.3}x raw  (rounds {:.2}..{:.2} us)",
            m.as_secs_f64() * 1e6,
            m.as_secs_f64() / raw.as_secs_f64(),
            min.as_secs_f64() * 1e6,
            max.as_secs_f64() * 1e6,
        );
    }
}

/// `n` round trips of `scenario`: the only code callgrind counts in its mode.
#[inline(never)]
fn callgrind_measured(env: &Env, rabbitmq: bool, scenario: usize, n: usize) {
    env.rt.block_on(async {
        for _ in 0..n {
            env.round_trip(rabbitmq, scenario).await;
        }
    });
}

/// `callgrind {nats|rabbitmq} {scenario} {n}`: one warm-up round trip, then `n` measured.
fn callgrind_mode(args: &[String]) {
    let usage = "usage: messaging callgrind {nats|rabbitmq} {raw|tracer_sampled|tracer_off} {n}";
    let rabbitmq = match args.first().map(String::as_str) {
        Some("nats") => false,
        Some("rabbitmq") => true,
        _ => panic!("{usage}"),
    };
    let scenario = args
        .get(1)
        .and_then(|name| SCENARIOS.iter().position(|s| s == name))
        .unwrap_or_else(|| panic!("{usage}"));
    let n = args
        .get(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{usage}"));
    let env = Env::new();
    env.rt.block_on(env.round_trip(rabbitmq, scenario));
    callgrind_measured(&env, rabbitmq, scenario, n);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("callgrind") {
        callgrind_mode(&args[1..]);
        return;
    }
    let env = Env::new();
    let mut criterion = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    criterion_runs(&env, &mut criterion);
    let rounds = env_number("MESSAGING_BENCH_ROUNDS", 9);
    let ops = env_number("MESSAGING_BENCH_OPS", 2000);
    interleaved(&env, "nats_round_trip", false, ops, rounds);
    interleaved(&env, "rabbitmq_round_trip", true, ops / 2, rounds);
    criterion.final_summary();
}
