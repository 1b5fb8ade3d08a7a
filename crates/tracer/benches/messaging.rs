//! What the NATS and RabbitMQ instrumentation adds to a publish + consume round trip on
//! loopback (issue 19; figures not taken yet):
//!
//! | scenario | what runs |
//! |---|---|
//! | `raw` | async-nats `Client::publish` / lapin `Channel::basic_publish`, then the subscriber receives it |
//! | `tracer_sampled` | `tracer::nats::TracedClient` / `tracer::lapin::TracedChannel` publish, consumer `process` span, every span sampled, through the real batch queue to an exporter that drops them |
//! | `tracer_off` | the same with the tracer switched off (the context is still forwarded) |
//!
//! Needs the real NATS (127.0.0.1:4222) and RabbitMQ (127.0.0.1:5672, guest/guest).
//!
//! `cargo bench -p tracer --features nats,lapin,testing --bench messaging`

use std::hint::black_box;
use std::num::NonZeroUsize;

use criterion::Criterion;
use futures_util::StreamExt as _;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use opentelemetry::context::FutureExt as _;
use tokio::runtime::Runtime;
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

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn nats(c: &mut Criterion, rt: &Runtime) {
    let client = rt
        .block_on(async_nats::connect("127.0.0.1:4222"))
        .expect("NATS at 127.0.0.1:4222 (start nats-server -js)");
    let subject = format!("bench.messaging.{}", std::process::id());
    let mut sub = rt.block_on(client.subscribe(subject.clone())).unwrap();
    let mut group = c.benchmark_group("nats_round_trip");
    group.bench_function("raw", |b| {
        b.iter(|| {
            rt.block_on(async {
                client.publish(subject.clone(), "x".into()).await.unwrap();
                black_box(sub.next().await.unwrap());
            })
        })
    });
    for (name, on) in [("tracer_sampled", true), ("tracer_off", false)] {
        let guard = tracer(on);
        let traced =
            tracer::nats::TracedClient::new(client.clone()).with_tracer(guard.tracer().clone());
        group.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    traced.publish(subject.clone(), "x".into()).await.unwrap();
                    let message = sub.next().await.unwrap();
                    let span = tracer::nats::process(traced.tracer(), &message, None);
                    async { black_box(&message) }
                        .with_context(span.context().clone())
                        .await;
                })
            })
        });
    }
    group.finish();
}

fn rabbitmq(c: &mut Criterion, rt: &Runtime) {
    let conn = rt
        .block_on(Connection::connect(
            "amqp://guest:guest@127.0.0.1:5672/%2f",
            ConnectionProperties::default(),
        ))
        .expect("RabbitMQ at 127.0.0.1:5672 (start rabbitmq-server -detached)");
    let channel = rt.block_on(conn.create_channel()).unwrap();
    let queue = format!("bench_messaging_{}", std::process::id());
    let options = QueueDeclareOptions {
        auto_delete: true,
        ..QueueDeclareOptions::default()
    };
    rt.block_on(channel.queue_declare(queue.as_str().into(), options, FieldTable::default()))
        .unwrap();
    let mut consumer = rt
        .block_on(channel.basic_consume(
            queue.as_str().into(),
            "bench".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        ))
        .unwrap();
    let mut group = c.benchmark_group("rabbitmq_round_trip");
    group.bench_function("raw", |b| {
        b.iter(|| {
            rt.block_on(async {
                channel
                    .basic_publish(
                        "".into(),
                        queue.as_str().into(),
                        BasicPublishOptions::default(),
                        b"x",
                        BasicProperties::default(),
                    )
                    .await
                    .unwrap();
                let delivery = consumer.next().await.unwrap().unwrap();
                delivery.ack(BasicAckOptions::default()).await.unwrap();
            })
        })
    });
    for (name, on) in [("tracer_sampled", true), ("tracer_off", false)] {
        let guard = tracer(on);
        let traced =
            tracer::lapin::TracedChannel::new(channel.clone()).with_tracer(guard.tracer().clone());
        group.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    traced
                        .basic_publish(
                            "",
                            queue.as_str(),
                            BasicPublishOptions::default(),
                            b"x",
                            BasicProperties::default(),
                        )
                        .await
                        .unwrap();
                    let delivery = consumer.next().await.unwrap().unwrap();
                    let span = tracer::lapin::process(traced.tracer(), &delivery, &queue);
                    tracer::lapin::ack(&span, &delivery, BasicAckOptions::default())
                        .await
                        .unwrap();
                })
            })
        });
    }
    group.finish();
}

fn main() {
    let rt = runtime();
    let mut c = Criterion::default().configure_from_args();
    nats(&mut c, &rt);
    rabbitmq(&mut c, &rt);
    c.final_summary();
}
