//! RabbitMQ through `tracer::lapin`, against the real broker: a publish is a PRODUCER span whose
//! context rides in the AMQP headers, the consumer's `process {queue}` span is its child, nack
//! and redelivery show as settle events and a delivery count, a rejected poison message reaches
//! the dead-letter queue, a batch links every producer, bodies are never recorded.
#![cfg(all(feature = "lapin", feature = "testing"))]

mod messaging_support;
mod support_data;

use std::time::Duration;

use futures_util::StreamExt as _;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Consumer};
use messaging_support::{links, one, rabbitmq, settlement};
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::SpanId;
use support_data::{assert_never_recorded, in_span, unique};
use tracer::lapin::TracedChannel;
use tracer::testing::{SpanCapture, TreeFormat, assert_tree};

const BODY: &[u8] = b"card=4111111111111111";

async fn consume(channel: &lapin::Channel, queue: &str) -> Consumer {
    channel
        .basic_consume(
            queue.into(),
            unique("tag").as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap()
}

async fn next(consumer: &mut Consumer) -> Delivery {
    tokio::time::timeout(Duration::from_secs(5), consumer.next())
        .await
        .expect("a delivery within 5 s")
        .expect("consumer open")
        .expect("a delivery")
}

async fn publish(channel: &TracedChannel, queue: &str, properties: BasicProperties) {
    channel
        .basic_publish("", queue, BasicPublishOptions::default(), BODY, properties)
        .await
        .unwrap()
        .await
        .unwrap();
}

#[tokio::test]
async fn publish_and_process_are_one_trace_across_the_broker() {
    let capture = SpanCapture::new();
    let (_conn, raw) = rabbitmq::channel().await;
    let channel = TracedChannel::new(raw.clone()).with_tracer(capture.tracer("shop"));
    let queue = unique("orders");
    rabbitmq::queue(&raw, &queue, FieldTable::default()).await;
    let mut consumer = consume(&raw, &queue).await;

    in_span(
        channel.tracer(),
        "handler",
        publish(
            &channel,
            &queue,
            BasicProperties::default().with_message_id("order-7".into()),
        ),
    )
    .await;
    let delivery = next(&mut consumer).await;
    let span = tracer::lapin::process(&capture.tracer("worker"), &delivery, &queue);
    tracer::lapin::ack(&span, &delivery, BasicAckOptions::default())
        .await
        .unwrap();
    span.end();

    let format = TreeFormat::new()
        .attributes([
            "messaging.system",
            "messaging.destination.name",
            "messaging.operation.type",
            "messaging.rabbitmq.destination.routing_key",
            "messaging.message.id",
            "messaging.message.body.size",
            "tracer.messaging.delivery_count",
        ])
        .events(true);
    let size = BODY.len();
    let common = "messaging.system=rabbitmq";
    assert_tree(
        &capture.render(&format),
        &format!(
            "
            shop internal handler
              shop producer send amq.default {common} messaging.destination.name=amq.default messaging.operation.type=send messaging.rabbitmq.destination.routing_key={queue} messaging.message.id=order-7 messaging.message.body.size={size}
                worker consumer process {queue} {common} messaging.destination.name={queue} messaging.operation.type=process messaging.rabbitmq.destination.routing_key={queue} messaging.message.id=order-7 messaging.message.body.size={size} tracer.messaging.delivery_count=1 events=[tracer.messaging.settle]
            "
        ),
    );
    let spans = capture.spans();
    let process = one(&spans, &format!("process {queue}"));
    assert_eq!(settlement(&process), "ack");
    assert!(
        process
            .attr("messaging.rabbitmq.message.delivery_tag")
            .is_some()
    );
    assert_never_recorded(&spans, &["4111111111111111"]);
}

#[tokio::test]
async fn a_poison_message_is_nacked_redelivered_and_dead_lettered() {
    let capture = SpanCapture::new();
    let (_conn, raw) = rabbitmq::channel().await;
    let channel = TracedChannel::new(raw.clone()).with_tracer(capture.tracer("shop"));
    let queue = unique("poison");
    let dead = format!("{queue}.dead");
    rabbitmq::queue(&raw, &dead, FieldTable::default()).await;
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString("".into()),
    );
    arguments.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(dead.as_str().into()),
    );
    rabbitmq::queue(&raw, &queue, arguments).await;
    let mut consumer = consume(&raw, &queue).await;
    let mut dead_consumer = consume(&raw, &dead).await;

    in_span(
        channel.tracer(),
        "handler",
        publish(&channel, &queue, BasicProperties::default()),
    )
    .await;
    let worker = capture.tracer("worker");
    for requeue in [true, false] {
        let delivery = next(&mut consumer).await;
        let span = tracer::lapin::process(&worker, &delivery, &queue);
        span.fail("poison");
        tracer::lapin::nack(
            &span,
            &delivery,
            BasicNackOptions {
                requeue,
                ..BasicNackOptions::default()
            },
        )
        .await
        .unwrap();
    }
    let dead_letter = next(&mut dead_consumer).await;
    let span = tracer::lapin::process(&worker, &dead_letter, &dead);
    tracer::lapin::ack(&span, &dead_letter, BasicAckOptions::default())
        .await
        .unwrap();
    drop(span);

    let format = TreeFormat::new()
        .attributes(["tracer.messaging.delivery_count", "error.type"])
        .events(true);
    assert_tree(
        &capture.render(&format),
        &format!(
            "
            shop internal handler
              shop producer send amq.default
                worker consumer process {queue} !error tracer.messaging.delivery_count=1 error.type=poison events=[tracer.messaging.settle]
                worker consumer process {queue} !error tracer.messaging.delivery_count=2 error.type=poison events=[tracer.messaging.settle]
                worker consumer process {dead} tracer.messaging.delivery_count=1 events=[tracer.messaging.settle]
            "
        ),
    );
    let settlements: Vec<String> = capture
        .spans()
        .iter()
        .filter(|s| s.name().starts_with("process"))
        .map(settlement)
        .collect();
    assert_eq!(
        settlements,
        ["nack requeue=true", "nack requeue=false", "ack"]
    );
}

#[tokio::test]
async fn a_batch_consumer_span_links_every_producer() {
    let capture = SpanCapture::new();
    let (_conn, raw) = rabbitmq::channel().await;
    let channel = TracedChannel::new(raw.clone()).with_tracer(capture.tracer("shop"));
    let queue = unique("batch");
    rabbitmq::queue(&raw, &queue, FieldTable::default()).await;
    let mut consumer = consume(&raw, &queue).await;
    for _ in 0..3 {
        in_span(
            channel.tracer(),
            "handler",
            publish(&channel, &queue, BasicProperties::default()),
        )
        .await;
    }
    let mut batch = Vec::new();
    for _ in 0..3 {
        batch.push(next(&mut consumer).await);
    }
    tracer::lapin::process_batch(&capture.tracer("worker"), &batch, &queue).end();

    let spans = capture.spans();
    let mut expected: Vec<String> = spans
        .iter()
        .filter(|s| s.name() == "send amq.default")
        .map(|s| s.data.span_context.span_id().to_string())
        .collect();
    let batch_span = one(&spans, &format!("process {queue}"));
    assert_eq!(batch_span.data.parent_span_id, SpanId::INVALID);
    let mut linked: Vec<String> = links(&batch_span).iter().map(|l| l.to_string()).collect();
    expected.sort();
    linked.sort();
    assert_eq!(expected.len(), 3);
    assert_eq!(linked, expected);
    assert_eq!(capture.trace_ids().len(), 4);
}

#[tokio::test]
async fn a_switched_off_consumer_forwards_the_producer_context_through_its_own_publish() {
    let capture = SpanCapture::new();
    let (_conn, raw) = rabbitmq::channel().await;
    let front = TracedChannel::new(raw.clone()).with_tracer(capture.tracer("front"));
    let middle_tracer = capture.tracer("middle");
    middle_tracer.set_enabled(false);
    let middle = TracedChannel::new(raw.clone()).with_tracer(middle_tracer.clone());
    let first = unique("hop1");
    let second = unique("hop2");
    rabbitmq::queue(&raw, &first, FieldTable::default()).await;
    rabbitmq::queue(&raw, &second, FieldTable::default()).await;
    let mut hop1 = consume(&raw, &first).await;
    let mut hop2 = consume(&raw, &second).await;

    in_span(
        front.tracer(),
        "handler",
        publish(&front, &first, BasicProperties::default()),
    )
    .await;
    let delivery = next(&mut hop1).await;
    let span = tracer::lapin::process(&middle_tracer, &delivery, &first);
    assert!(!span.is_recording());
    publish(&middle, &second, BasicProperties::default())
        .with_context(span.context().clone())
        .await;
    drop(span);
    let delivery = next(&mut hop2).await;
    tracer::lapin::process(&capture.tracer("back"), &delivery, &second).end();

    assert_tree(
        &capture.render(&TreeFormat::new()),
        &format!(
            "
            front internal handler
              front producer send amq.default
                back consumer process {second}
            "
        ),
    );
}

#[tokio::test]
async fn a_malformed_traceparent_on_a_message_starts_a_new_trace() {
    let capture = SpanCapture::new();
    let (_conn, raw) = rabbitmq::channel().await;
    let queue = unique("bad");
    rabbitmq::queue(&raw, &queue, FieldTable::default()).await;
    let mut consumer = consume(&raw, &queue).await;
    let mut headers = FieldTable::default();
    headers.insert(
        "traceparent".into(),
        AMQPValue::LongString("00-zz-not-hex-01".into()),
    );
    raw.basic_publish(
        "".into(),
        queue.as_str().into(),
        BasicPublishOptions::default(),
        b"x",
        BasicProperties::default().with_headers(headers),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let delivery = next(&mut consumer).await;
    tracer::lapin::process(&capture.tracer("worker"), &delivery, &queue).end();

    let spans = capture.spans();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].data.parent_span_id, SpanId::INVALID);
    assert!(spans[0].data.span_context.is_valid());
}

#[tokio::test]
async fn publishing_on_a_closed_channel_is_a_red_producer_span() {
    let capture = SpanCapture::new();
    let (_conn, raw) = rabbitmq::channel().await;
    raw.close(200, "bye".into()).await.unwrap();
    let channel = TracedChannel::new(raw).with_tracer(capture.tracer("shop"));
    let error = channel
        .basic_publish(
            "",
            "nowhere",
            BasicPublishOptions::default(),
            b"x",
            BasicProperties::default(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error.kind(), lapin::ErrorKind::InvalidChannelState(..)),
        "{error:?}"
    );
    assert_tree(
        &capture.render(&TreeFormat::new().attributes(["error.type"])),
        "shop producer send amq.default !error error.type=channel_state",
    );
}

#[tokio::test]
async fn a_quorum_queue_delivery_count_comes_from_the_broker() {
    let capture = SpanCapture::new();
    let (_conn, raw) = rabbitmq::channel().await;
    let channel = TracedChannel::new(raw.clone()).with_tracer(capture.tracer("shop"));
    let queue = unique("quorum");
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    raw.queue_declare(
        queue.as_str().into(),
        lapin::options::QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        arguments,
    )
    .await
    .expect("a quorum queue (RabbitMQ >= 3.8)");
    let mut consumer = consume(&raw, &queue).await;
    publish(&channel, &queue, BasicProperties::default()).await;
    let worker = capture.tracer("worker");
    for settle in 0..3 {
        let delivery = next(&mut consumer).await;
        let span = tracer::lapin::process(&worker, &delivery, &queue);
        if settle < 2 {
            tracer::lapin::nack(
                &span,
                &delivery,
                BasicNackOptions {
                    requeue: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        } else {
            tracer::lapin::ack(&span, &delivery, BasicAckOptions::default())
                .await
                .unwrap();
        }
    }
    raw.queue_delete(
        queue.as_str().into(),
        lapin::options::QueueDeleteOptions::default(),
    )
    .await
    .unwrap();

    let counts: Vec<String> = capture
        .spans()
        .iter()
        .filter(|s| s.name().starts_with("process"))
        .map(|s| {
            s.attr("tracer.messaging.delivery_count")
                .unwrap()
                .to_string()
        })
        .collect();
    // The third delivery reads 3 only from the broker's x-delivery-count (2 previous ones).
    assert_eq!(counts, ["1", "2", "3"]);
}
