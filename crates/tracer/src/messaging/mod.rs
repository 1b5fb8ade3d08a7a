//! What the NATS and RabbitMQ integrations share: the consumer span guard, settlement events and
//! the span/link plumbing (features `nats`, `lapin`).
//!
//! Both integrations follow the OpenTelemetry messaging conventions of semconv 1.42
//! (development status):
//!
//! - a **producer span** `send {destination}` (kind PRODUCER, `messaging.operation.type=send`) per
//!   published message, child of the current context; its context is written into the message's
//!   headers with the tracer's propagators ([`Tracer::inject`](crate::Tracer::inject)), so every
//!   configured format travels with the message;
//! - a **consumer span** `process {destination}` (kind CONSUMER, `messaging.operation.type=process`)
//!   per message handled: for one message its parent is the context read from the message's
//!   headers, so producer and consumer are one trace; for a batch it is a root of its own with one
//!   link to each message's creation context ([`ProcessSpan`]);
//! - settlement (ack, nack, reject, term) is an event `tracer.messaging.settle` on the consumer
//!   span with `messaging.operation.name` (the settlement) and `messaging.operation.type=settle`;
//!   how many times the broker delivered the message is `tracer.messaging.delivery_count` (the
//!   conventions name a delivery count only for Service Bus and Pub/Sub).
//!
//! Message bodies are never recorded: only their size (`messaging.message.body.size`).
//!
//! While the tracer is switched off no span is made, yet a consumer still reads the message's
//! context and a producer still writes the context it runs under, so a trace that crosses an off
//! service through a broker stays one trace. A malformed header is ignored: the consumer span
//! starts a new trace.

use std::borrow::Cow;
use std::fmt;

use opentelemetry::propagation::Extractor;
use opentelemetry::trace::{Link, SpanBuilder, SpanKind, Status, TraceContextExt as _};
use opentelemetry::{Context, KeyValue};

use crate::Tracer;
use crate::semconv::{
    ERROR_TYPE, MESSAGING_OPERATION_NAME, MESSAGING_OPERATION_TYPE, TRACER_MESSAGING_SETTLE_EVENT,
};

/// How a consumer settled a message, recorded as an event on its [`ProcessSpan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Settlement {
    /// Processed: the broker forgets the message.
    Ack,
    /// Not processed; `requeue` asks the broker to deliver it again (else it is dropped or
    /// dead-lettered).
    Nack {
        /// Whether the broker should deliver the message again.
        requeue: bool,
    },
    /// Refused (RabbitMQ `basic.reject`); `requeue` as for [`Settlement::Nack`].
    Reject {
        /// Whether the broker should deliver the message again.
        requeue: bool,
    },
    /// JetStream `+TERM`: never deliver again.
    Term,
    /// JetStream `+WPI`: still working, extend the ack deadline.
    InProgress,
}

impl Settlement {
    /// The `messaging.operation.name` of this settlement.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ack => "ack",
            Self::Nack { .. } => "nack",
            Self::Reject { .. } => "reject",
            Self::Term => "term",
            Self::InProgress => "in_progress",
        }
    }

    fn requeue(self) -> Option<bool> {
        match self {
            Self::Nack { requeue } | Self::Reject { requeue } => Some(requeue),
            _ => None,
        }
    }
}

/// The consumer span of one message (or one batch) while it is processed.
///
/// Run the handler under [`ProcessSpan::context`] (with
/// `opentelemetry::context::FutureExt::with_context`, or `context().clone().attach()`), so its
/// own spans and the messages it publishes are children of this span. The span ends when the
/// guard is dropped or [`ProcessSpan::end`] is called.
///
/// While the tracer is switched off, or the message was not sampled, no span is recorded and
/// the context is the message's own: what the handler sends continues the producer's trace. A
/// batch has no single parent: switched off, its context is empty.
pub struct ProcessSpan {
    cx: Context,
    recording: bool,
}

impl ProcessSpan {
    /// The context to run the handler under.
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// Whether a span is being recorded (the tracer is on and the message sampled).
    pub fn is_recording(&self) -> bool {
        self.recording && self.cx.span().is_recording()
    }

    /// Records how the message was settled (an event, see the [module docs](self)).
    pub fn settled(&self, settlement: Settlement) {
        if !self.recording {
            return;
        }
        let mut attributes = vec![
            KeyValue::new(MESSAGING_OPERATION_NAME, settlement.name()),
            KeyValue::new(MESSAGING_OPERATION_TYPE, "settle"),
        ];
        if let Some(requeue) = settlement.requeue() {
            attributes.push(KeyValue::new(
                crate::semconv::TRACER_MESSAGING_REQUEUE,
                requeue,
            ));
        }
        self.cx
            .span()
            .add_event(TRACER_MESSAGING_SETTLE_EVENT, attributes);
    }

    /// Marks the span failed: `error_type` becomes `error.type` and the status description.
    pub fn fail(&self, error_type: impl Into<Cow<'static, str>>) {
        if !self.recording {
            return;
        }
        let error_type = error_type.into();
        let span = self.cx.span();
        span.set_attribute(KeyValue::new(ERROR_TYPE, error_type.clone()));
        span.set_status(Status::error(error_type));
    }

    /// Ends the span now (dropping the guard does the same).
    pub fn end(self) {}
}

impl Drop for ProcessSpan {
    fn drop(&mut self) {
        if self.recording {
            self.cx.span().end();
        }
    }
}

impl fmt::Debug for ProcessSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessSpan")
            .field("span_context", self.cx.span().span_context())
            .field("recording", &self.recording)
            .finish()
    }
}

/// Starts the consumer span of one message whose headers `extractor` reads; `attributes` is
/// called only when a span is made.
pub(crate) fn process_one(
    tracer: &Tracer,
    kind: SpanKind,
    destination: &str,
    attributes: impl FnOnce() -> Vec<KeyValue>,
    extractor: &dyn Extractor,
) -> ProcessSpan {
    let parent = tracer.extract(extractor);
    if !tracer.is_enabled() {
        return ProcessSpan {
            cx: parent,
            recording: false,
        };
    }
    let name = span_name("process ", destination);
    match tracer.span(name, kind, attributes, &parent) {
        Some(span) => ProcessSpan {
            cx: parent.with_span(span),
            recording: true,
        },
        None => ProcessSpan {
            cx: parent,
            recording: false,
        },
    }
}

/// Starts the consumer span of a batch: a new root with one link per message's context (the
/// messages whose headers carry no valid context add no link).
pub(crate) fn process_batch<'a>(
    tracer: &Tracer,
    destination: &str,
    attributes: impl FnOnce() -> Vec<KeyValue>,
    extractors: impl Iterator<Item = &'a dyn Extractor>,
) -> ProcessSpan {
    if !tracer.is_enabled() {
        return ProcessSpan {
            cx: Context::new(),
            recording: false,
        };
    }
    let links: Vec<Link> = extractors
        .filter_map(|extractor| {
            let sc = tracer.extract(extractor).span().span_context().clone();
            sc.is_valid().then(|| Link::with_context(sc))
        })
        .collect();
    let builder = SpanBuilder::from_name(span_name("process ", destination))
        .with_kind(SpanKind::Consumer)
        .with_attributes(attributes())
        .with_links(links);
    let root = Context::new();
    match tracer.start_span(builder, &root) {
        Some(span) => ProcessSpan {
            cx: root.with_span(span),
            recording: true,
        },
        None => ProcessSpan {
            cx: root,
            recording: false,
        },
    }
}

/// Starts a producer (or request client) span under the current context; returns the context
/// to inject into the message (the current one while switched off) and whether a span was made.
/// `describe` gives the span's name and attributes; it is called only when a span is made, so
/// a switched-off tracer builds neither.
pub(crate) fn start_send(
    tracer: &Tracer,
    kind: SpanKind,
    describe: impl FnOnce() -> (String, Vec<KeyValue>),
) -> (Context, bool) {
    let parent = Context::current();
    if !tracer.is_enabled() {
        return (parent, false);
    }
    let (name, attributes) = describe();
    match tracer.span(name, kind, attributes, &parent) {
        Some(span) => (parent.with_span(span), true),
        None => (parent, false),
    }
}

/// Ends a span started by [`start_send`], failed with `error_type` when there is one.
pub(crate) fn end_send(cx: &Context, started: bool, error_type: Option<Cow<'static, str>>) {
    if !started {
        return;
    }
    let span = cx.span();
    if let Some(error_type) = error_type {
        span.set_attribute(KeyValue::new(ERROR_TYPE, error_type.clone()));
        span.set_status(Status::error(error_type));
    }
    span.end();
}

/// `{operation} {destination}` (`operation` ends in its space) in one allocation of the exact
/// size, without `format!`'s trip through the formatting machinery (`core::fmt::write`).
pub(crate) fn span_name(operation: &str, destination: &str) -> String {
    let mut name = String::with_capacity(operation.len() + destination.len());
    name.push_str(operation);
    name.push_str(destination);
    name
}

/// A payload length as an attribute value.
pub(crate) fn size(len: usize) -> i64 {
    i64::try_from(len).unwrap_or(i64::MAX)
}
