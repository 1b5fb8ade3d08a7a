//! RabbitMQ instrumentation for lapin (feature `lapin`), AMQP 0.9.1.
//!
//! [`TracedChannel`] wraps a [`lapin::Channel`]: [`TracedChannel::basic_publish`] is a PRODUCER
//! span `send {exchange}` (`amq.default` for the default exchange, as RabbitMQ names it) whose
//! context is added to the message's AMQP headers (`properties.headers`, string values). On the
//! consuming side, [`process`] starts the CONSUMER span `process {queue}` of one delivery, child
//! of the context in its headers, and [`process_batch`] the span of several deliveries, linked
//! to each one's creation context. [`ack`], [`nack`] and [`reject`] settle a delivery and record
//! the settlement on the span. The conventions and the switch rules are in
//! [`crate::messaging`].
//!
//! Attributes: `messaging.system=rabbitmq`, `messaging.destination.name` (the exchange when
//! sending, the queue when processing), `messaging.rabbitmq.destination.routing_key`,
//! `messaging.message.id` (the `message_id` property, when set), `messaging.message.body.size`,
//! `messaging.operation.name` (`publish`, `process`), `messaging.operation.type`, and on
//! consumer spans `messaging.rabbitmq.message.delivery_tag` and
//! `tracer.messaging.delivery_count`: the `x-delivery-count` header plus one when the broker
//! sets it (quorum queues), else 2 for a redelivery and 1 for a first delivery. A failed publish
//! sets `error.type` (`channel_state`, `connection_state`, `io`, `protocol`, ...).
//!
//! ```no_run
//! use futures_util::StreamExt as _;
//! use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicPublishOptions};
//! use lapin::{BasicProperties, Connection, ConnectionProperties, types::FieldTable};
//! use tracer::lapin::TracedChannel;
//!
//! # async fn run() -> lapin::Result<()> {
//! let conn = Connection::connect("amqp://guest:guest@127.0.0.1:5672/%2f", ConnectionProperties::default()).await?;
//! let channel = TracedChannel::new(conn.create_channel().await?);
//! channel
//!     .basic_publish("", "orders", BasicPublishOptions::default(), b"order 7", BasicProperties::default())
//!     .await?; // span `send amq.default`
//! let mut consumer = channel
//!     .get_ref()
//!     .basic_consume("orders".into(), "worker".into(), BasicConsumeOptions::default(), FieldTable::default())
//!     .await?;
//! let delivery = consumer.next().await.expect("a delivery")?;
//! let span = tracer::lapin::process(channel.tracer(), &delivery, "orders"); // `process orders`
//! tracer::lapin::ack(&span, &delivery, BasicAckOptions::default()).await?;
//! # Ok(()) }
//! ```

use std::borrow::Cow;
use std::sync::Arc;

use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicNackOptions, BasicPublishOptions, BasicRejectOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, ErrorKind, PublisherConfirm};
use opentelemetry::context::FutureExt as _;
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::SpanKind;
use opentelemetry::{Context, KeyValue};

use crate::Tracer;
use crate::messaging::{self, ProcessSpan, Settlement};
use crate::semconv::{
    MESSAGING_BATCH_MESSAGE_COUNT, MESSAGING_DESTINATION_NAME, MESSAGING_MESSAGE_BODY_SIZE,
    MESSAGING_MESSAGE_ID, MESSAGING_OPERATION_NAME, MESSAGING_OPERATION_TYPE,
    MESSAGING_RABBITMQ_DESTINATION_ROUTING_KEY, MESSAGING_RABBITMQ_MESSAGE_DELIVERY_TAG,
    MESSAGING_SYSTEM, TRACER_MESSAGING_DELIVERY_COUNT,
};

/// The name RabbitMQ gives the default (nameless) exchange.
const DEFAULT_EXCHANGE: &str = "amq.default";

/// Reads propagation fields from AMQP headers: string values (long or short) only; anything
/// else (or a value that is not UTF-8) reads as absent.
#[derive(Clone, Copy, Debug)]
pub struct AmqpHeaderExtractor<'a>(pub Option<&'a FieldTable>);

impl Extractor for AmqpHeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match self.0?.inner().get(key)? {
            AMQPValue::LongString(value) => std::str::from_utf8(value.as_bytes()).ok(),
            AMQPValue::ShortString(value) => Some(value.as_str()),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        match self.0 {
            Some(table) => table.inner().keys().map(ShortString::as_str).collect(),
            None => Vec::new(),
        }
    }
}

/// Writes propagation fields into AMQP headers as long strings, replacing any value there. A
/// name longer than AMQP's 255 bytes is skipped, never a panic.
#[derive(Debug)]
pub struct AmqpHeaderInjector<'a>(pub &'a mut FieldTable);

impl Injector for AmqpHeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let Ok(key) = ShortString::try_new(key) {
            self.0.insert(key, AMQPValue::LongString(value.into()));
        }
    }
}

/// A lapin channel whose publishes are PRODUCER spans (see the [module docs](self)).
///
/// Cloning clones the channel (a handle) and shares the tracer.
#[derive(Clone, Debug)]
pub struct TracedChannel {
    inner: lapin::Channel,
    tracer: Arc<Tracer>,
}

impl TracedChannel {
    crate::hooks::traced_wrapper!(lapin::Channel, "channel");

    /// Publishes `payload` to `exchange` with `routing_key` in a PRODUCER span; the span's
    /// context is added to `properties`' headers. The span ends when the message is handed to
    /// the connection (the returned confirm is the broker's, when confirms are on).
    pub async fn basic_publish(
        &self,
        exchange: impl Into<ShortString>,
        routing_key: impl Into<ShortString>,
        options: BasicPublishOptions,
        payload: &[u8],
        properties: BasicProperties,
    ) -> lapin::Result<PublisherConfirm> {
        let exchange = exchange.into();
        let routing_key = routing_key.into();
        let destination = match exchange.as_str() {
            "" => DEFAULT_EXCHANGE,
            name => name,
        };
        let (cx, started) = messaging::start_send(&self.tracer, SpanKind::Producer, || {
            let mut attributes = vec![
                KeyValue::new(MESSAGING_SYSTEM, "rabbitmq"),
                KeyValue::new(MESSAGING_DESTINATION_NAME, destination.to_owned()),
                KeyValue::new(MESSAGING_OPERATION_NAME, "publish"),
                KeyValue::new(MESSAGING_OPERATION_TYPE, "send"),
                KeyValue::new(MESSAGING_MESSAGE_BODY_SIZE, messaging::size(payload.len())),
            ];
            if !routing_key.as_str().is_empty() {
                attributes.push(KeyValue::new(
                    MESSAGING_RABBITMQ_DESTINATION_ROUTING_KEY,
                    routing_key.as_str().to_owned(),
                ));
            }
            if let Some(id) = properties.message_id() {
                attributes.push(KeyValue::new(MESSAGING_MESSAGE_ID, id.as_str().to_owned()));
            }
            (messaging::span_name("send ", destination), attributes)
        });
        let mut headers = properties.headers().clone().unwrap_or_default();
        self.tracer
            .inject(&cx, &mut AmqpHeaderInjector(&mut headers));
        let properties = properties.with_headers(headers);
        let result = self
            .inner
            .basic_publish(exchange, routing_key, options, payload, properties)
            .with_context(cx.clone())
            .await;
        let error = result.as_ref().err().map(|e| error_type(e.kind()));
        messaging::end_send(&cx, started, error);
        result
    }
}

/// Writes `cx` into `headers` with the tracer's propagators: for messages you publish
/// yourself (the switch rules of [`Tracer::inject`] apply).
pub fn inject(tracer: &Tracer, cx: &Context, headers: &mut FieldTable) {
    tracer.inject(cx, &mut AmqpHeaderInjector(headers));
}

/// Starts the CONSUMER span `process {queue}` of one delivery consumed from `queue`.
pub fn process(tracer: &Tracer, delivery: &Delivery, queue: &str) -> ProcessSpan {
    let attributes = || {
        let mut attributes = vec![
            KeyValue::new(MESSAGING_SYSTEM, "rabbitmq"),
            KeyValue::new(MESSAGING_DESTINATION_NAME, queue.to_owned()),
            KeyValue::new(MESSAGING_OPERATION_NAME, "process"),
            KeyValue::new(MESSAGING_OPERATION_TYPE, "process"),
            KeyValue::new(
                MESSAGING_MESSAGE_BODY_SIZE,
                messaging::size(delivery.data.len()),
            ),
            KeyValue::new(
                MESSAGING_RABBITMQ_MESSAGE_DELIVERY_TAG,
                i64::try_from(delivery.delivery_tag).unwrap_or(i64::MAX),
            ),
            KeyValue::new(TRACER_MESSAGING_DELIVERY_COUNT, delivery_count(delivery)),
        ];
        if !delivery.routing_key.as_str().is_empty() {
            attributes.push(KeyValue::new(
                MESSAGING_RABBITMQ_DESTINATION_ROUTING_KEY,
                delivery.routing_key.as_str().to_owned(),
            ));
        }
        if let Some(id) = delivery.properties.message_id() {
            attributes.push(KeyValue::new(MESSAGING_MESSAGE_ID, id.as_str().to_owned()));
        }
        attributes
    };
    messaging::process_one(
        tracer,
        SpanKind::Consumer,
        queue,
        attributes,
        &AmqpHeaderExtractor(delivery.properties.headers().as_ref()),
    )
}

/// Starts the CONSUMER span of a batch of deliveries from `queue`: a new trace linked to each
/// delivery's creation context, with `messaging.batch.message_count`.
pub fn process_batch(tracer: &Tracer, deliveries: &[Delivery], queue: &str) -> ProcessSpan {
    let attributes = || {
        vec![
            KeyValue::new(MESSAGING_SYSTEM, "rabbitmq"),
            KeyValue::new(MESSAGING_DESTINATION_NAME, queue.to_owned()),
            KeyValue::new(MESSAGING_OPERATION_NAME, "process"),
            KeyValue::new(MESSAGING_OPERATION_TYPE, "process"),
            KeyValue::new(
                MESSAGING_BATCH_MESSAGE_COUNT,
                messaging::size(deliveries.len()),
            ),
        ]
    };
    let extractors: Vec<AmqpHeaderExtractor<'_>> = deliveries
        .iter()
        .map(|d| AmqpHeaderExtractor(d.properties.headers().as_ref()))
        .collect();
    messaging::process_batch(
        tracer,
        queue,
        attributes,
        extractors.iter().map(|e| e as &dyn Extractor),
    )
}

/// Acks `delivery` and records it on `span`.
pub async fn ack(
    span: &ProcessSpan,
    delivery: &Delivery,
    options: BasicAckOptions,
) -> lapin::Result<bool> {
    settled(span, Settlement::Ack, delivery.ack(options).await)
}

/// Nacks `delivery` (requeued or dead-lettered, as `options.requeue` says) and records it.
pub async fn nack(
    span: &ProcessSpan,
    delivery: &Delivery,
    options: BasicNackOptions,
) -> lapin::Result<bool> {
    let settlement = Settlement::Nack {
        requeue: options.requeue,
    };
    settled(span, settlement, delivery.nack(options).await)
}

/// Rejects `delivery` and records it.
pub async fn reject(
    span: &ProcessSpan,
    delivery: &Delivery,
    options: BasicRejectOptions,
) -> lapin::Result<bool> {
    let settlement = Settlement::Reject {
        requeue: options.requeue,
    };
    settled(span, settlement, delivery.reject(options).await)
}

fn settled(
    span: &ProcessSpan,
    settlement: Settlement,
    result: lapin::Result<bool>,
) -> lapin::Result<bool> {
    match &result {
        Ok(_) => span.settled(settlement),
        Err(error) => span.fail(error_type(error.kind())),
    }
    result
}

/// How many times the broker delivered `delivery`, this time included.
fn delivery_count(delivery: &Delivery) -> i64 {
    let header = delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get("x-delivery-count"))
        .and_then(integer);
    match header {
        Some(previous) => previous.saturating_add(1),
        None if delivery.redelivered => 2,
        None => 1,
    }
}

fn integer(value: &AMQPValue) -> Option<i64> {
    Some(match value {
        AMQPValue::ShortShortInt(v) => i64::from(*v),
        AMQPValue::ShortShortUInt(v) => i64::from(*v),
        AMQPValue::ShortInt(v) => i64::from(*v),
        AMQPValue::ShortUInt(v) => i64::from(*v),
        AMQPValue::LongInt(v) => i64::from(*v),
        AMQPValue::LongUInt(v) => i64::from(*v),
        AMQPValue::LongLongInt(v) => *v,
        _ => return None,
    })
}

fn error_type(kind: &ErrorKind) -> Cow<'static, str> {
    Cow::Borrowed(match kind {
        ErrorKind::InvalidChannelState(..) | ErrorKind::InvalidChannel(_) => "channel_state",
        ErrorKind::InvalidConnectionState(_) => "connection_state",
        ErrorKind::IOError(_) => "io",
        ErrorKind::ProtocolError(_) => "protocol",
        ErrorKind::ParsingError(_) => "parse",
        ErrorKind::SerialisationError(_) => "serialisation",
        _ => "_OTHER",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_odd_values_read_as_absent() {
        let mut table = FieldTable::default();
        AmqpHeaderInjector(&mut table).set("traceparent", "00-abc".into());
        AmqpHeaderInjector(&mut table).set(&"k".repeat(300), "x".into());
        table.insert("n".into(), AMQPValue::LongInt(3));
        let ex = AmqpHeaderExtractor(Some(&table));
        assert_eq!(ex.get("traceparent"), Some("00-abc"));
        assert_eq!(ex.get("n"), None);
        assert_eq!(ex.keys(), vec!["n", "traceparent"]);
        assert_eq!(AmqpHeaderExtractor(None).get("traceparent"), None);
    }
}
