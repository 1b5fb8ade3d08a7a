//! JetStream: persisted publish with the broker's ack, and consumer spans with the stream,
//! consumer, sequence and delivery count.
//!
//! [`TracedContext::publish`] is a PRODUCER span `send {subject}` that ends when the stream
//! acknowledged the message, with `tracer.nats.jetstream.stream` and
//! `tracer.nats.jetstream.sequence` from the ack; a failure sets `error.type`
//! (`stream_not_found`, `timeout`, `wrong_last_sequence`, ...). [`process`] starts the CONSUMER span of a
//! message read from a consumer (`process {subject}`), with `messaging.consumer.group.name` (the
//! consumer), the stream and the stream sequence, and `tracer.messaging.delivery_count` (2 and
//! up for a redelivery). [`settle`] acks, naks or terminates the message and records it on the
//! span.
//!
//! ```no_run
//! use futures_util::StreamExt as _;
//! use async_nats::jetstream::AckKind;
//! use tracer::nats::jetstream::{self, TracedContext};
//!
//! # async fn run(consumer: async_nats::jetstream::consumer::PullConsumer) -> Result<(), async_nats::Error> {
//! let client = async_nats::connect("127.0.0.1:4222").await?;
//! let js = TracedContext::new(async_nats::jetstream::new(client));
//! js.publish("orders.placed", "order 7".into()).await?; // waits for the stream's ack
//! let mut messages = consumer.messages().await?;
//! let message = messages.next().await.expect("a message")?;
//! let span = jetstream::process(js.tracer(), &message);
//! jetstream::settle(&span, &message, AckKind::Ack).await?;
//! # Ok(()) }
//! ```

use std::sync::Arc;

use async_nats::jetstream::AckKind;
use async_nats::jetstream::context::{PublishError, PublishErrorKind};
use async_nats::jetstream::message::Message;
use async_nats::jetstream::publish::PublishAck;
use async_nats::{HeaderMap, ToSubject};
use bytes::Bytes;
use opentelemetry::KeyValue;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanKind, TraceContextExt as _};

use super::{NatsHeaderInjector, ReceivedHeaders, attributes, received};
use crate::Tracer;
use crate::messaging::{self, ProcessSpan, Settlement};
use crate::semconv::{
    MESSAGING_CONSUMER_GROUP_NAME, TRACER_MESSAGING_DELIVERY_COUNT, TRACER_NATS_JETSTREAM_SEQUENCE,
    TRACER_NATS_JETSTREAM_STREAM,
};

/// A JetStream context whose publishes are spans (see the [module docs](self)).
#[derive(Clone, Debug)]
pub struct TracedContext {
    inner: async_nats::jetstream::Context,
    tracer: Arc<Tracer>,
}

impl TracedContext {
    crate::hooks::traced_wrapper!(async_nats::jetstream::Context, "JetStream context");

    /// Publishes `payload` and waits for the stream's ack, in one PRODUCER span.
    pub async fn publish<S: ToSubject>(
        &self,
        subject: S,
        payload: Bytes,
    ) -> Result<PublishAck, PublishError> {
        self.publish_with_headers(subject, HeaderMap::new(), payload)
            .await
    }

    /// Publishes with headers of your own (a `Nats-Msg-Id` becomes `messaging.message.id`).
    pub async fn publish_with_headers<S: ToSubject>(
        &self,
        subject: S,
        mut headers: HeaderMap,
        payload: Bytes,
    ) -> Result<PublishAck, PublishError> {
        let subject = subject.to_subject();
        let (cx, started) = messaging::start_send(&self.tracer, SpanKind::Producer, || {
            (
                messaging::span_name("send ", subject.as_str()),
                attributes(&subject, "publish", "send", &headers, payload.len()),
            )
        });
        self.tracer
            .inject(&cx, &mut NatsHeaderInjector(&mut headers));
        let result = async {
            self.inner
                .publish_with_headers(subject, headers, payload)
                .await?
                .await
        }
        .with_context(cx.clone())
        .await;
        if started && let Ok(ack) = &result {
            let span = cx.span();
            span.set_attribute(KeyValue::new(
                TRACER_NATS_JETSTREAM_STREAM,
                ack.stream.clone(),
            ));
            span.set_attribute(KeyValue::new(
                TRACER_NATS_JETSTREAM_SEQUENCE,
                i64::try_from(ack.sequence).unwrap_or(i64::MAX),
            ));
        }
        let error = result
            .as_ref()
            .err()
            .map(|e| publish_error(e.kind()).into());
        messaging::end_send(&cx, started, error);
        result
    }
}

/// `error.type` of a failed JetStream publish.
fn publish_error(kind: PublishErrorKind) -> &'static str {
    match kind {
        PublishErrorKind::StreamNotFound => "stream_not_found",
        PublishErrorKind::WrongLastMessageId => "wrong_last_message_id",
        PublishErrorKind::WrongLastSequence => "wrong_last_sequence",
        PublishErrorKind::TimedOut => "timeout",
        PublishErrorKind::BrokenPipe => "broken_pipe",
        PublishErrorKind::MaxAckPending => "max_ack_pending",
        PublishErrorKind::MaxPayloadExceeded => "max_payload_exceeded",
        _ => "_OTHER",
    }
}

/// Starts the CONSUMER span of a message read from a JetStream consumer.
pub fn process(tracer: &Tracer, message: &Message) -> ProcessSpan {
    let headers = ReceivedHeaders::new(message.headers.as_ref());
    let attributes = || {
        let mut attributes = received(message, &headers);
        if let Ok(info) = message.info() {
            attributes.push(KeyValue::new(
                MESSAGING_CONSUMER_GROUP_NAME,
                info.consumer.to_owned(),
            ));
            attributes.push(KeyValue::new(
                TRACER_NATS_JETSTREAM_STREAM,
                info.stream.to_owned(),
            ));
            attributes.push(KeyValue::new(
                TRACER_NATS_JETSTREAM_SEQUENCE,
                i64::try_from(info.stream_sequence).unwrap_or(i64::MAX),
            ));
            attributes.push(KeyValue::new(
                TRACER_MESSAGING_DELIVERY_COUNT,
                info.delivered,
            ));
        }
        attributes
    };
    messaging::process_one(
        tracer,
        SpanKind::Consumer,
        message.subject.as_str(),
        attributes,
        &headers,
    )
}

/// Settles `message` with `kind` and records it on `span` (a failed settle marks the span
/// failed with `error.type=settle`).
pub async fn settle(
    span: &ProcessSpan,
    message: &Message,
    kind: AckKind,
) -> Result<(), async_nats::Error> {
    let settlement = match kind {
        AckKind::Ack => Settlement::Ack,
        AckKind::Nak(_) => Settlement::Nack { requeue: true },
        AckKind::Term => Settlement::Term,
        _ => Settlement::InProgress,
    };
    let result = message.ack_with(kind).await;
    match &result {
        Ok(()) => span.settled(settlement),
        Err(_) => span.fail("settle"),
    }
    result
}
