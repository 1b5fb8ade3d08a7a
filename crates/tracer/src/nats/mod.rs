//! NATS instrumentation for async-nats (feature `nats`): core publish/subscribe, request-reply
//! and JetStream ([`jetstream`]).
//!
//! [`TracedClient`] wraps an [`async_nats::Client`]: each publish is a PRODUCER span
//! `send {subject}` whose context travels in the message's NATS headers, and a request is a
//! CLIENT span `send {subject}` (`messaging.operation.name=request`) that ends when the reply
//! arrives. On the receiving side, [`process`] starts the span of one received message:
//! CONSUMER `process {subject}` with the message's context as parent, or SERVER when the message
//! carries a reply subject (a request being served), so request-reply reads like a client/server
//! call. A publish to a reply inbox (a subject under `_INBOX.`, async-nats' default prefix) is
//! named `send (temporary)` with `messaging.destination.temporary=true`, keeping span names
//! low-cardinality. [`process_batch`] links the messages of a batch instead. The conventions these follow,
//! and the switch rules, are in [`crate::messaging`].
//!
//! Attributes: `messaging.system=nats`, `messaging.destination.name` (the subject),
//! `messaging.operation.name` (`publish`, `request`, `process`), `messaging.operation.type`,
//! `messaging.message.body.size`, `messaging.message.id` (the `Nats-Msg-Id` header, when set),
//! `messaging.consumer.group.name` (the queue group, given to [`process`]), `error.type` for a
//! failed publish or request (`timeout`, `no_responders`, `publish`, ...).
//!
//! ```no_run
//! use opentelemetry::context::FutureExt as _;
//! use futures_util::StreamExt as _;
//! use tracer::nats::TracedClient;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = TracedClient::new(async_nats::connect("127.0.0.1:4222").await?);
//! let mut orders = client.get_ref().subscribe("orders").await?;
//! client.publish("orders", "order 7".into()).await?; // span `send orders`
//! let message = orders.next().await.expect("subscribed");
//! let span = tracer::nats::process(client.tracer(), &message, None); // `process orders`
//! async { /* handle the message */ }.with_context(span.context().clone()).await;
//! # Ok(()) }
//! ```

pub mod jetstream;

use std::borrow::Cow;
use std::str::FromStr as _;
use std::sync::Arc;

use async_nats::{HeaderMap, HeaderName, HeaderValue, Message, ToSubject};
use bytes::Bytes;
use opentelemetry::context::FutureExt as _;
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::SpanKind;
use opentelemetry::{Context, KeyValue};

use crate::Tracer;
use crate::messaging::{self, ProcessSpan};
use crate::semconv::{
    MESSAGING_BATCH_MESSAGE_COUNT, MESSAGING_CONSUMER_GROUP_NAME, MESSAGING_DESTINATION_NAME,
    MESSAGING_DESTINATION_TEMPORARY, MESSAGING_MESSAGE_BODY_SIZE, MESSAGING_MESSAGE_ID,
    MESSAGING_OPERATION_NAME, MESSAGING_OPERATION_TYPE, MESSAGING_SYSTEM,
};

/// The header JetStream deduplicates on; its value is the message id.
const MSG_ID: &str = "Nats-Msg-Id";

// The fields of the default propagators, named once: `HeaderName::from_str` copies a name that
// is not one of NATS' standard headers into a new allocation on every look-up.
static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
static TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
static BAGGAGE: HeaderName = HeaderName::from_static("baggage");

/// `key` as a header name: the fields of the default propagators without an allocation, any
/// other when NATS accepts it.
fn header_name(key: &str) -> Option<HeaderName> {
    match key {
        "traceparent" => Some(TRACEPARENT.clone()),
        "tracestate" => Some(TRACESTATE.clone()),
        "baggage" => Some(BAGGAGE.clone()),
        _ => HeaderName::from_str(key).ok(),
    }
}

/// Reads propagation fields from NATS message headers. Absent headers read as none.
#[derive(Clone, Copy, Debug)]
pub struct NatsHeaderExtractor<'a>(pub Option<&'a HeaderMap>);

impl Extractor for NatsHeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let headers = self.0?;
        headers.get(header_name(key)?).map(HeaderValue::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        match self.0 {
            Some(headers) => headers
                .iter()
                .map(|(name, _)| AsRef::<str>::as_ref(name))
                .collect(),
            None => Vec::new(),
        }
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let values: Vec<&str> = self
            .0?
            .get_all(header_name(key)?)
            .map(HeaderValue::as_str)
            .collect();
        (!values.is_empty()).then_some(values)
    }
}

/// Writes propagation fields into NATS message headers, replacing any value there. A name or
/// value NATS does not accept (control characters, `:` in a name) is skipped, never a panic.
#[derive(Debug)]
pub struct NatsHeaderInjector<'a>(pub &'a mut HeaderMap);

impl Injector for NatsHeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // NATS refuses CR and LF in a value (`HeaderValue::from(String)` would panic on them);
        // checked here (a byte search, not a `char` pattern's), the value is moved in rather
        // than copied.
        let bytes = value.as_bytes();
        if bytes.contains(&b'\r') || bytes.contains(&b'\n') {
            return;
        }
        if let Some(name) = header_name(key) {
            self.0.insert(name, HeaderValue::from(value));
        }
    }
}

/// The headers of one received message as the propagators read them, scanned instead of
/// looked up: each propagator asks for its fields (the default set three times, `traceparent`
/// twice, for its first line and then all of them), and a NATS `HeaderMap` hashes every
/// look-up with SipHash, while a message carries a handful of headers. More than
/// [`ReceivedHeaders::SCANNED`] are looked up as usual.
pub(crate) struct ReceivedHeaders<'a> {
    map: NatsHeaderExtractor<'a>,
    scanned: [(&'a str, &'a [HeaderValue]); ReceivedHeaders::SCANNED],
    len: usize,
}

impl<'a> ReceivedHeaders<'a> {
    /// Most headers compared one by one.
    const SCANNED: usize = 8;

    pub(crate) fn new(map: Option<&'a HeaderMap>) -> Self {
        let mut out = Self {
            map: NatsHeaderExtractor(map),
            scanned: [("", &[]); Self::SCANNED],
            len: 0,
        };
        if let Some(map) = map.filter(|m| m.len() <= Self::SCANNED) {
            for (name, values) in map.iter() {
                out.scanned[out.len] = (AsRef::<str>::as_ref(name), values.as_slice());
                out.len += 1;
            }
        }
        out
    }

    /// The values of `key`, `None` when it is absent (or scanning is off: more headers).
    fn values(&self, key: &str) -> Option<&'a [HeaderValue]> {
        self.scanned[..self.len]
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, values)| *values)
    }

    fn scans(&self) -> bool {
        self.map.0.is_none_or(|m| m.len() <= Self::SCANNED)
    }
}

impl Extractor for ReceivedHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        if !self.scans() {
            return self.map.get(key);
        }
        self.values(key)?.first().map(HeaderValue::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.map.keys()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        if !self.scans() {
            return self.map.get_all(key);
        }
        let values = self.values(key)?;
        (!values.is_empty()).then(|| values.iter().map(HeaderValue::as_str).collect())
    }
}

/// An async-nats client whose publishes and requests are spans (see the [module docs](self)).
///
/// Cloning clones the client (a handle) and shares the settings.
#[derive(Clone, Debug)]
pub struct TracedClient {
    inner: async_nats::Client,
    tracer: Arc<Tracer>,
}

impl TracedClient {
    crate::hooks::traced_wrapper!(async_nats::Client, "client");

    /// Publishes `payload` to `subject` in a PRODUCER span, the context in the headers.
    pub async fn publish<S: ToSubject>(
        &self,
        subject: S,
        payload: Bytes,
    ) -> Result<(), async_nats::PublishError> {
        self.publish_with_headers(subject, HeaderMap::new(), payload)
            .await
    }

    /// Publishes with headers of your own; the propagation fields are added to them.
    pub async fn publish_with_headers<S: ToSubject>(
        &self,
        subject: S,
        mut headers: HeaderMap,
        payload: Bytes,
    ) -> Result<(), async_nats::PublishError> {
        let subject = subject.to_subject();
        let (cx, started) = messaging::start_send(&self.tracer, SpanKind::Producer, || {
            (
                send_name(&subject),
                attributes(&subject, "publish", "send", &headers, payload.len()),
            )
        });
        self.tracer
            .inject(&cx, &mut NatsHeaderInjector(&mut headers));
        let result = self
            .inner
            .publish_with_headers(subject, headers, payload)
            .with_context(cx.clone())
            .await;
        let error = result.as_ref().err().map(|e| publish_error(e.kind()));
        messaging::end_send(&cx, started, error);
        result
    }

    /// Sends a request and waits for its reply, in a CLIENT span that ends with the reply.
    pub async fn request<S: ToSubject>(
        &self,
        subject: S,
        payload: Bytes,
    ) -> Result<Message, async_nats::RequestError> {
        self.request_with_headers(subject, HeaderMap::new(), payload)
            .await
    }

    /// Sends a request with headers of your own; the propagation fields are added to them.
    pub async fn request_with_headers<S: ToSubject>(
        &self,
        subject: S,
        mut headers: HeaderMap,
        payload: Bytes,
    ) -> Result<Message, async_nats::RequestError> {
        let subject = subject.to_subject();
        let (cx, started) = messaging::start_send(&self.tracer, SpanKind::Client, || {
            (
                messaging::span_name("send ", subject.as_str()),
                attributes(&subject, "request", "send", &headers, payload.len()),
            )
        });
        self.tracer
            .inject(&cx, &mut NatsHeaderInjector(&mut headers));
        let result = self
            .inner
            .request_with_headers(subject, headers, payload)
            .with_context(cx.clone())
            .await;
        let error = result.as_ref().err().map(|e| request_error(e.kind()));
        messaging::end_send(&cx, started, error);
        result
    }
}

/// Writes `cx` into `headers` with the tracer's propagators: for messages you publish
/// yourself (the switch rules of [`Tracer::inject`] apply).
pub fn inject(tracer: &Tracer, cx: &Context, headers: &mut HeaderMap) {
    tracer.inject(cx, &mut NatsHeaderInjector(headers));
}

/// Starts the span of one received message: CONSUMER `process {subject}`, or SERVER when the
/// message has a reply subject. `queue_group` is the subscription's queue group, if any.
pub fn process(tracer: &Tracer, message: &Message, queue_group: Option<&str>) -> ProcessSpan {
    let kind = if message.reply.is_some() {
        SpanKind::Server
    } else {
        SpanKind::Consumer
    };
    let headers = ReceivedHeaders::new(message.headers.as_ref());
    let attributes = || {
        let mut attributes = received(message, &headers);
        if let Some(group) = queue_group {
            attributes.push(KeyValue::new(
                MESSAGING_CONSUMER_GROUP_NAME,
                group.to_owned(),
            ));
        }
        attributes
    };
    messaging::process_one(tracer, kind, message.subject.as_str(), attributes, &headers)
}

/// Starts the CONSUMER span of a batch read from `subject`: a new trace linked to each message's
/// creation context, with `messaging.batch.message_count`.
pub fn process_batch(tracer: &Tracer, subject: &str, messages: &[Message]) -> ProcessSpan {
    let attributes = || {
        vec![
            KeyValue::new(MESSAGING_SYSTEM, "nats"),
            KeyValue::new(MESSAGING_DESTINATION_NAME, subject.to_owned()),
            KeyValue::new(MESSAGING_OPERATION_NAME, "process"),
            KeyValue::new(MESSAGING_OPERATION_TYPE, "process"),
            KeyValue::new(
                MESSAGING_BATCH_MESSAGE_COUNT,
                messaging::size(messages.len()),
            ),
        ]
    };
    let extractors: Vec<ReceivedHeaders<'_>> = messages
        .iter()
        .map(|m| ReceivedHeaders::new(m.headers.as_ref()))
        .collect();
    messaging::process_batch(
        tracer,
        subject,
        attributes,
        extractors.iter().map(|e| e as &dyn Extractor),
    )
}

/// The attributes of a received message's span; `headers` are the message's.
fn received(message: &Message, headers: &ReceivedHeaders<'_>) -> Vec<KeyValue> {
    let mut out = vec![
        KeyValue::new(MESSAGING_SYSTEM, "nats"),
        KeyValue::new(
            MESSAGING_DESTINATION_NAME,
            message.subject.as_str().to_owned(),
        ),
        KeyValue::new(MESSAGING_OPERATION_NAME, "process"),
        KeyValue::new(MESSAGING_OPERATION_TYPE, "process"),
        KeyValue::new(
            MESSAGING_MESSAGE_BODY_SIZE,
            messaging::size(message.payload.len()),
        ),
    ];
    if let Some(id) = headers.get(MSG_ID) {
        out.push(KeyValue::new(MESSAGING_MESSAGE_ID, id.to_owned()));
    }
    out
}

fn attributes(
    subject: &async_nats::Subject,
    operation: &'static str,
    kind: &'static str,
    headers: &HeaderMap,
    body: usize,
) -> Vec<KeyValue> {
    let mut out = vec![
        KeyValue::new(MESSAGING_SYSTEM, "nats"),
        KeyValue::new(MESSAGING_DESTINATION_NAME, subject.as_str().to_owned()),
        KeyValue::new(MESSAGING_OPERATION_NAME, operation),
        KeyValue::new(MESSAGING_OPERATION_TYPE, kind),
        KeyValue::new(MESSAGING_MESSAGE_BODY_SIZE, messaging::size(body)),
    ];
    if let Some(id) = message_id(headers) {
        out.push(KeyValue::new(MESSAGING_MESSAGE_ID, id));
    }
    if subject.as_str().starts_with(INBOX_PREFIX) {
        out.push(KeyValue::new(MESSAGING_DESTINATION_TEMPORARY, true));
    }
    out
}

/// The prefix of async-nats' reply inboxes.
const INBOX_PREFIX: &str = "_INBOX.";

/// `send {subject}`, or `send (temporary)` for a reply inbox.
fn send_name(subject: &async_nats::Subject) -> String {
    if subject.as_str().starts_with(INBOX_PREFIX) {
        "send (temporary)".to_owned()
    } else {
        messaging::span_name("send ", subject.as_str())
    }
}

fn message_id(headers: &HeaderMap) -> Option<String> {
    headers.get(MSG_ID).map(|v| v.as_str().to_owned())
}

fn publish_error(kind: async_nats::PublishErrorKind) -> Cow<'static, str> {
    match kind {
        async_nats::PublishErrorKind::MaxPayloadExceeded => "max_payload_exceeded".into(),
        async_nats::PublishErrorKind::InvalidSubject => "invalid_subject".into(),
        _ => "publish".into(),
    }
}

fn request_error(kind: async_nats::RequestErrorKind) -> Cow<'static, str> {
    match kind {
        async_nats::RequestErrorKind::TimedOut => "timeout".into(),
        async_nats::RequestErrorKind::NoResponders => "no_responders".into(),
        _ => "request".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_bad_fields_are_skipped() {
        let mut headers = HeaderMap::new();
        NatsHeaderInjector(&mut headers).set("traceparent", "00-abc".into());
        NatsHeaderInjector(&mut headers).set("bad:name", "x".into());
        NatsHeaderInjector(&mut headers).set("uber-trace-id", "bad\r\nvalue".into());
        let ex = NatsHeaderExtractor(Some(&headers));
        assert_eq!(ex.get("traceparent"), Some("00-abc"));
        assert_eq!(ex.get("bad:name"), None);
        assert_eq!(ex.keys(), vec!["traceparent"]);
        assert_eq!(NatsHeaderExtractor(None).get("traceparent"), None);
    }

    #[test]
    fn received_headers_read_as_the_header_map_does_with_few_or_many_headers() {
        for extra in [0, 2, 12] {
            let mut headers = HeaderMap::new();
            headers.insert("traceparent", "00-abc");
            headers.append("tracestate", "a=1");
            headers.append("tracestate", "b=2");
            headers.insert(MSG_ID, "m-1");
            for i in 0..extra {
                headers.insert(format!("x-{i}").as_str(), "v");
            }
            let (scanned, looked_up) = (
                ReceivedHeaders::new(Some(&headers)),
                NatsHeaderExtractor(Some(&headers)),
            );
            for key in [
                "traceparent",
                "tracestate",
                "baggage",
                MSG_ID,
                "x-1",
                "Traceparent",
            ] {
                assert_eq!(scanned.get(key), looked_up.get(key), "{extra} {key}");
                assert_eq!(
                    scanned.get_all(key),
                    looked_up.get_all(key),
                    "{extra} {key}"
                );
            }
        }
        assert_eq!(ReceivedHeaders::new(None).get("traceparent"), None);
    }

    #[test]
    fn inbox_replies_have_a_low_cardinality_name() {
        assert_eq!(send_name(&"_INBOX.abc.1".into()), "send (temporary)");
        assert_eq!(send_name(&"orders".into()), "send orders");
    }
}
