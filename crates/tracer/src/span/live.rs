//! [`Span`]: the live span [`Tracer::span`](crate::Tracer::span) returns.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use opentelemetry::KeyValue;
use opentelemetry::trace::{SpanContext, Status};

use super::pipeline::Pipeline;
use super::record::SpanRecord;

/// A span started by a [`Tracer`](crate::Tracer): an [`opentelemetry::trace::Span`], ended
/// by [`end`](opentelemetry::trace::Span::end) or when dropped.
///
/// A recording span owns its record (written once at start, completed by the trait's
/// setters) and hands it to the tracer's pipeline when it ends. A span that is not recorded
/// (its trace not sampled) still has a span context of its own, to pass downstream; every
/// setter is then a no-op. Put it into a context with
/// [`TraceContextExt::with_span`](opentelemetry::trace::TraceContextExt::with_span) as any
/// OpenTelemetry span.
///
/// ```
/// use opentelemetry::trace::{Span as _, SpanKind, Status};
/// use opentelemetry::{Context, KeyValue};
///
/// let guard = tracer::builder()
///     .without_env()
///     .service_name("shop")
///     .exporter(tracer::ExporterKind::None)
///     .build()
///     .unwrap();
/// let attributes = vec![KeyValue::new("http.route", "/orders")];
/// let mut span = guard
///     .tracer()
///     .span("GET /orders", SpanKind::Server, attributes, &Context::new())
///     .expect("tracing is on");
/// assert!(span.is_recording());
/// span.set_attribute(KeyValue::new("http.response.status_code", 500));
/// span.set_status(Status::error("boom"));
/// drop(span); // ends it
/// ```
pub struct Span(Inner);

enum Inner {
    /// Made by tracer's own pipeline; `None` once ended, or from the start when not recorded.
    Own {
        context: SpanContext,
        recording: Option<Recording>,
    },
    /// Made by the OpenTelemetry SDK: for a tracer built with a user
    /// [`span_processor`](crate::TracerBuilder::span_processor), which expects the SDK's
    /// `on_start`.
    Sdk(Box<opentelemetry_sdk::trace::Span>),
}

struct Recording {
    record: Box<SpanRecord>,
    pipeline: Arc<Pipeline>,
}

impl Span {
    pub(crate) fn not_recording(context: SpanContext) -> Self {
        Self(Inner::Own {
            context,
            recording: None,
        })
    }

    pub(crate) fn recording(
        context: SpanContext,
        record: Box<SpanRecord>,
        pipeline: Arc<Pipeline>,
    ) -> Self {
        Self(Inner::Own {
            context,
            recording: Some(Recording { record, pipeline }),
        })
    }

    pub(crate) fn sdk(span: opentelemetry_sdk::trace::Span) -> Self {
        Self(Inner::Sdk(Box::new(span)))
    }

    #[inline]
    fn with_record(&mut self, f: impl FnOnce(&mut SpanRecord, &Pipeline)) {
        if let Inner::Own {
            recording: Some(Recording { record, pipeline }),
            ..
        } = &mut self.0
        {
            f(record, pipeline);
        }
    }

    fn finish(&mut self, end: SystemTime) {
        if let Inner::Own { recording, .. } = &mut self.0
            && let Some(Recording {
                mut record,
                pipeline,
            }) = recording.take()
        {
            record.end = end;
            pipeline.finish(record);
        }
    }
}

impl opentelemetry::trace::Span for Span {
    fn add_event_with_timestamp<T>(
        &mut self,
        name: T,
        timestamp: SystemTime,
        attributes: Vec<KeyValue>,
    ) where
        T: Into<Cow<'static, str>>,
    {
        if let Inner::Sdk(span) = &mut self.0 {
            return span.add_event_with_timestamp(name, timestamp, attributes);
        }
        self.with_record(|record, pipeline| {
            record.add_event(name.into(), timestamp, attributes, pipeline.limits());
        });
    }

    #[inline]
    fn span_context(&self) -> &SpanContext {
        match &self.0 {
            Inner::Own { context, .. } => context,
            Inner::Sdk(span) => span.span_context(),
        }
    }

    #[inline]
    fn is_recording(&self) -> bool {
        match &self.0 {
            Inner::Own { recording, .. } => recording.is_some(),
            Inner::Sdk(span) => span.is_recording(),
        }
    }

    #[inline]
    fn set_attribute(&mut self, attribute: KeyValue) {
        if let Inner::Sdk(span) = &mut self.0 {
            return span.set_attribute(attribute);
        }
        self.with_record(|record, pipeline| record.set_attribute(attribute, pipeline.limits()));
    }

    /// Adds the attributes in one go: the record's vector grows once (with room for the few a
    /// span gets when it ends), not once per doubling.
    fn set_attributes(&mut self, attributes: impl IntoIterator<Item = KeyValue>) {
        if let Inner::Sdk(span) = &mut self.0 {
            return span.set_attributes(attributes);
        }
        self.with_record(|record, pipeline| record.set_attributes(attributes, pipeline.limits()));
    }

    fn set_status(&mut self, status: Status) {
        if let Inner::Sdk(span) = &mut self.0 {
            return span.set_status(status);
        }
        self.with_record(|record, _| record.set_status(status));
    }

    fn update_name<T>(&mut self, new_name: T)
    where
        T: Into<Cow<'static, str>>,
    {
        if let Inner::Sdk(span) = &mut self.0 {
            return span.update_name(new_name);
        }
        self.with_record(|record, _| record.name = new_name.into());
    }

    fn add_link(&mut self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        if let Inner::Sdk(span) = &mut self.0 {
            return span.add_link(span_context, attributes);
        }
        self.with_record(|record, pipeline| {
            record.add_link(span_context, attributes, pipeline.limits());
        });
    }

    #[inline]
    fn end_with_timestamp(&mut self, timestamp: SystemTime) {
        if let Inner::Sdk(span) = &mut self.0 {
            return span.end_with_timestamp(timestamp);
        }
        self.finish(timestamp);
    }
}

impl Drop for Span {
    #[inline]
    fn drop(&mut self) {
        // An SDK span ends itself when dropped.
        if let Inner::Own {
            recording: Some(_), ..
        } = &self.0
        {
            self.finish(opentelemetry::time::now());
        }
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Inner::Own { context, recording } => f
                .debug_struct("Span")
                .field("context", context)
                .field("record", &recording.as_ref().map(|r| &r.record))
                .finish(),
            Inner::Sdk(span) => f.debug_tuple("Span").field(span).finish(),
        }
    }
}
