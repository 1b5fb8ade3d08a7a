//! NATS through `tracer::nats`, against the real server: a publish is a PRODUCER span whose
//! context rides in the headers, the consumer's `process` span is its child (one trace across
//! the broker), request-reply reads as client/server, JetStream records stream, sequence,
//! delivery count and settlements, a batch links every producer, bodies are never recorded.
#![cfg(all(feature = "nats", feature = "testing"))]

mod messaging_support;
mod support_data;

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::pull;
use futures_util::StreamExt as _;
use messaging_support::{links, nats_server, one};
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::TraceContextExt as _;
use support_data::{assert_never_recorded, in_span, unique};
use tracer::nats::{TracedClient, jetstream};
use tracer::testing::{SpanCapture, TreeFormat, assert_tree};

const BODY: &str = "card=4111111111111111";

fn format() -> TreeFormat {
    TreeFormat::new().attributes([
        "messaging.system",
        "messaging.operation.name",
        "messaging.operation.type",
        "messaging.message.body.size",
    ])
}

async fn next(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("a message within 5 s")
        .expect("subscription open")
}

#[tokio::test]
async fn publish_and_process_are_one_trace_across_the_broker() {
    let capture = SpanCapture::new();
    let client =
        TracedClient::new(nats_server::connect().await).with_tracer(capture.tracer("shop"));
    let worker = capture.tracer("worker");
    let subject = unique("orders");
    let mut sub = client.get_ref().subscribe(subject.clone()).await.unwrap();

    in_span(client.tracer(), "handler", async {
        client.publish(subject.clone(), BODY.into()).await.unwrap();
    })
    .await;
    let message = next(&mut sub).await;
    let span = tracer::nats::process(&worker, &message, Some("workers"));
    assert!(span.is_recording());
    span.end();

    let body = BODY.len();
    assert_tree(
        &capture.render(&format()),
        &format!(
            "
            shop internal handler
              shop producer send {subject} messaging.system=nats messaging.operation.name=publish messaging.operation.type=send messaging.message.body.size={body}
                worker consumer process {subject} messaging.system=nats messaging.operation.name=process messaging.operation.type=process messaging.message.body.size={body}
            "
        ),
    );
    let spans = capture.spans();
    let process = one(&spans, &format!("process {subject}"));
    assert_eq!(
        process
            .attr("messaging.destination.name")
            .map(|v| v.to_string()),
        Some(subject.clone())
    );
    assert_eq!(
        process
            .attr("messaging.consumer.group.name")
            .map(|v| v.to_string()),
        Some("workers".into())
    );
    assert_never_recorded(&spans, &["4111111111111111"]);
}

#[tokio::test]
async fn request_reply_is_a_client_span_and_a_server_span() {
    let capture = SpanCapture::new();
    let nats = nats_server::connect().await;
    let client = TracedClient::new(nats.clone()).with_tracer(capture.tracer("caller"));
    let server = TracedClient::new(nats).with_tracer(capture.tracer("pricing"));
    let subject = unique("price");
    let mut requests = server.get_ref().subscribe(subject.clone()).await.unwrap();
    server.get_ref().flush().await.unwrap(); // the subscription is live before the request
    let responder = tokio::spawn(async move {
        let request = next(&mut requests).await;
        let span = tracer::nats::process(server.tracer(), &request, None);
        let reply = request
            .reply
            .clone()
            .expect("a request has a reply subject");
        server
            .publish(reply, "42".into())
            .with_context(span.context().clone())
            .await
            .unwrap();
    });

    let reply = in_span(
        client.tracer(),
        "handler",
        client.request(subject.clone(), "sku 7".into()),
    )
    .await
    .unwrap();
    responder.await.unwrap();
    assert_eq!(&reply.payload[..], b"42");

    // The reply is a publish of its own, under the server span, to a temporary inbox.
    let rendered = capture.render(&TreeFormat::new().attributes([
        "messaging.operation.name",
        "messaging.destination.temporary",
    ]));
    assert_tree(
        &rendered,
        &format!(
            "
            caller internal handler
              caller client send {subject} messaging.operation.name=request
                pricing server process {subject} messaging.operation.name=process
                  pricing producer send (temporary) messaging.operation.name=publish messaging.destination.temporary=true
            "
        ),
    );
}

#[tokio::test]
async fn request_without_responder_is_a_red_client_span() {
    let capture = SpanCapture::new();
    let client =
        TracedClient::new(nats_server::connect().await).with_tracer(capture.tracer("caller"));
    let subject = unique("nobody");
    let error = client
        .request(subject.clone(), "x".into())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), async_nats::RequestErrorKind::NoResponders);
    assert_tree(
        &capture.render(&TreeFormat::new().attributes(["error.type"])),
        &format!("caller client send {subject} !error error.type=no_responders"),
    );
}

#[tokio::test]
async fn a_batch_consumer_span_links_every_producer() {
    let capture = SpanCapture::new();
    let client =
        TracedClient::new(nats_server::connect().await).with_tracer(capture.tracer("shop"));
    let subject = unique("batch");
    let mut sub = client.get_ref().subscribe(subject.clone()).await.unwrap();
    for _ in 0..3 {
        // Three separate requests: three traces.
        in_span(
            client.tracer(),
            "handler",
            client.publish(subject.clone(), "x".into()),
        )
        .await
        .unwrap();
    }
    let mut batch = Vec::new();
    for _ in 0..3 {
        batch.push(next(&mut sub).await);
    }
    tracer::nats::process_batch(&capture.tracer("worker"), &subject, &batch).end();

    let spans = capture.spans();
    let name = format!("send {subject}");
    let producers: Vec<_> = spans.iter().filter(|s| s.name() == name).collect();
    assert_eq!(producers.len(), 3);
    let batch_span = one(&spans, &format!("process {subject}"));
    assert_eq!(
        batch_span.data.parent_span_id,
        opentelemetry::trace::SpanId::INVALID
    );
    let mut linked = links(&batch_span);
    let mut expected: Vec<_> = producers
        .iter()
        .map(|p| p.data.span_context.span_id())
        .collect();
    linked.sort_by_key(|id| id.to_string());
    expected.sort_by_key(|id| id.to_string());
    assert_eq!(linked, expected);
    assert_eq!(
        batch_span
            .attr("messaging.batch.message_count")
            .map(|v| v.to_string()),
        Some("3".into())
    );
    assert_eq!(
        capture.trace_ids().len(),
        4,
        "three producer traces and the batch's own"
    );
}

#[tokio::test]
async fn a_switched_off_consumer_forwards_the_producer_context_through_its_own_publish() {
    let capture = SpanCapture::new();
    // One connection for every service: subscriptions are then in place before the publishes.
    let nats = nats_server::connect().await;
    let front = TracedClient::new(nats.clone()).with_tracer(capture.tracer("front"));
    let middle_tracer = capture.tracer("middle");
    middle_tracer.set_enabled(false);
    let middle = TracedClient::new(nats).with_tracer(middle_tracer.clone());
    let back = capture.tracer("back");
    let first = unique("hop1");
    let second = unique("hop2");
    let mut hop1 = middle.get_ref().subscribe(first.clone()).await.unwrap();
    let mut hop2 = front.get_ref().subscribe(second.clone()).await.unwrap();

    in_span(
        front.tracer(),
        "handler",
        front.publish(first.clone(), "x".into()),
    )
    .await
    .unwrap();
    let message = next(&mut hop1).await;
    let span = tracer::nats::process(&middle_tracer, &message, None);
    assert!(!span.is_recording());
    middle
        .publish(second.clone(), "y".into())
        .with_context(span.context().clone())
        .await
        .unwrap();
    drop(span);
    let message = next(&mut hop2).await;
    tracer::nats::process(&back, &message, None).end();

    assert_tree(
        &capture.render(&TreeFormat::new()),
        &format!(
            "
            front internal handler
              front producer send {first}
                back consumer process {second}
            "
        ),
    );
}

#[tokio::test]
async fn a_malformed_traceparent_on_a_message_starts_a_new_trace() {
    let capture = SpanCapture::new();
    let raw = nats_server::connect().await;
    let subject = unique("bad");
    let mut sub = raw.subscribe(subject.clone()).await.unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("traceparent", "00-not-a-trace-id-01");
    raw.publish_with_headers(subject.clone(), headers, "x".into())
        .await
        .unwrap();
    let message = next(&mut sub).await;
    tracer::nats::process(&capture.tracer("worker"), &message, None).end();

    let spans = capture.spans();
    assert_eq!(spans.len(), 1);
    assert_eq!(
        spans[0].data.parent_span_id,
        opentelemetry::trace::SpanId::INVALID
    );
    assert!(spans[0].data.span_context.is_valid());
}

#[tokio::test]
async fn jetstream_records_stream_sequence_delivery_count_and_settlements() {
    let capture = SpanCapture::new();
    let nats = nats_server::connect().await;
    let js = jetstream::TracedContext::new(async_nats::jetstream::new(nats))
        .with_tracer(capture.tracer("shop"));
    let stream_name = unique("ORDERS");
    let subject = format!("{stream_name}.placed");
    let stream = js
        .get_ref()
        .create_stream(async_nats::jetstream::stream::Config {
            name: stream_name.clone(),
            subjects: vec![subject.clone()],
            ..Default::default()
        })
        .await
        .expect("JetStream is on (nats-server -js)");
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("billing".into()),
            ack_wait: Duration::from_secs(30),
            ..Default::default()
        })
        .await
        .unwrap();

    let ack = in_span(
        js.tracer(),
        "handler",
        js.publish(subject.clone(), BODY.into()),
    )
    .await
    .unwrap();
    assert_eq!(ack.sequence, 1);
    let worker = capture.tracer("billing");
    let mut messages = consumer.messages().await.unwrap();
    for kind in [AckKind::Nak(None), AckKind::Ack] {
        let message = tokio::time::timeout(Duration::from_secs(5), messages.next())
            .await
            .expect("a delivery within 5 s")
            .unwrap()
            .unwrap();
        let span = jetstream::process(&worker, &message);
        jetstream::settle(&span, &message, kind).await.unwrap();
    }
    js.get_ref().delete_stream(&stream_name).await.unwrap();

    let format = TreeFormat::new()
        .attributes([
            "messaging.consumer.group.name",
            "tracer.nats.jetstream.stream",
            "tracer.nats.jetstream.sequence",
            "tracer.messaging.delivery_count",
        ])
        .events(true);
    let rendered = capture.render(&format);
    let s = &stream_name;
    assert_tree(
        &rendered,
        &format!(
            "
            shop internal handler
              shop producer send {subject} tracer.nats.jetstream.stream={s} tracer.nats.jetstream.sequence=1
                billing consumer process {subject} messaging.consumer.group.name=billing tracer.nats.jetstream.stream={s} tracer.nats.jetstream.sequence=1 tracer.messaging.delivery_count=1 events=[tracer.messaging.settle]
                billing consumer process {subject} messaging.consumer.group.name=billing tracer.nats.jetstream.stream={s} tracer.nats.jetstream.sequence=1 tracer.messaging.delivery_count=2 events=[tracer.messaging.settle]
            "
        ),
    );
    let settlements: Vec<String> = capture
        .spans()
        .iter()
        .filter(|s| s.name().starts_with("process"))
        .map(messaging_support::settlement)
        .collect();
    assert_eq!(settlements, ["nack requeue=true", "ack"]);
    assert_never_recorded(&capture.spans(), &["4111111111111111"]);
}

#[tokio::test]
async fn an_unsampled_message_records_nothing_but_carries_its_trace_on() {
    let capture = SpanCapture::new();
    let root = capture
        .builder("front")
        .sampler(tracer::Sampler::AlwaysOff)
        .build()
        .unwrap()
        .into_tracer();
    let nats = nats_server::connect().await;
    let front = TracedClient::new(nats.clone()).with_tracer(root.clone());
    let middle = TracedClient::new(nats.clone()).with_tracer(capture.tracer("middle"));
    let first = unique("unsampled1");
    let second = unique("unsampled2");
    let mut hop1 = nats.subscribe(first.clone()).await.unwrap();
    let mut hop2 = nats.subscribe(second.clone()).await.unwrap();
    nats.flush().await.unwrap();

    let span = root
        .span(
            "request",
            opentelemetry::trace::SpanKind::Server,
            vec![],
            &opentelemetry::Context::new(),
        )
        .expect("the tracer is on");
    let cx = opentelemetry::Context::new().with_span(span);
    front
        .publish(first.clone(), "x".into())
        .with_context(cx.clone())
        .await
        .unwrap();
    let message = next(&mut hop1).await;
    let span = tracer::nats::process(middle.tracer(), &message, None);
    assert!(!span.is_recording());
    middle
        .publish(second.clone(), "y".into())
        .with_context(span.context().clone())
        .await
        .unwrap();
    let forwarded = next(&mut hop2).await;

    let traceparent = |m: &async_nats::Message| {
        m.headers
            .as_ref()
            .unwrap()
            .get("traceparent")
            .unwrap()
            .as_str()
            .to_owned()
    };
    let (a, b) = (traceparent(&message), traceparent(&forwarded));
    let fields = |tp: &str| tp.split('-').map(str::to_owned).collect::<Vec<_>>();
    let (a, b) = (fields(&a), fields(&b));
    assert_eq!(a[1], b[1], "same trace id across the broker");
    assert_eq!(b[3], "02", "not sampled, random flag kept: {b:?}");
    assert_ne!(a[2], b[2], "each hop sends its own parent id");
    drop(span);
    assert!(
        capture.is_empty(),
        "nothing recorded: {:?}",
        capture.spans()
    );
}

#[tokio::test]
async fn jetstream_publish_to_no_stream_is_a_red_producer_span() {
    let capture = SpanCapture::new();
    let js =
        jetstream::TracedContext::new(async_nats::jetstream::new(nats_server::connect().await))
            .with_tracer(capture.tracer("shop"));
    let subject = unique("nostream");
    let error = js.publish(subject.clone(), "x".into()).await.unwrap_err();
    assert_eq!(
        error.kind(),
        async_nats::jetstream::context::PublishErrorKind::StreamNotFound
    );
    assert_tree(
        &capture.render(&TreeFormat::new().attributes(["error.type"])),
        &format!("shop producer send {subject} !error error.type=stream_not_found"),
    );
}
