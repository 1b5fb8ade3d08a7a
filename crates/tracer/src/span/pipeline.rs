//! [`Pipeline`]: what a tracer needs to start its own spans and to hand them on when they end.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use opentelemetry::trace::{SpanBuilder, SpanContext, SpanKind, TraceContextExt};
use opentelemetry::{Context, InstrumentationScope};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanLimits};

use super::ids;
use super::live::Span;
use super::pool::RecordPool;
use super::record::SpanRecord;
use super::sampling::samples;
use super::{Attributes, SpanName};
use crate::Sampler;
use crate::export::queue::{Finished, QueueProcessor};
use crate::propagation::w3c::RANDOM;

/// Sees every finished span synchronously, on the thread that ends it, before it is queued
/// for export: the `testing` capture. Also registered on the SDK provider (through
/// [`HookProcessor`]) so spans made with the plain OpenTelemetry API reach it too.
pub(crate) trait EndHook: Send + Sync + fmt::Debug {
    /// A span ended.
    fn on_end(&self, span: SpanData);
    /// The tracer's resource, given once before any span.
    fn set_resource(&self, _resource: &Resource) {}
}

/// Records kept for reuse by a pipeline without an export queue: its spans' records come back
/// as they end, so a few cover the spans open at once on every thread.
const UNQUEUED_POOL: usize = 256;

/// One tracer's span pipeline: sampler, limits, end hooks and the export queue.
pub(crate) struct Pipeline {
    sampler: Sampler,
    limits: SpanLimits,
    scope: InstrumentationScope,
    hooks: Vec<Arc<dyn EndHook>>,
    queue: Option<Arc<QueueProcessor>>,
    /// Where sampled spans take their records from: the export thread's returns, or without an
    /// export queue (no exporter) the records this pipeline's spans ended with.
    pool: Arc<RecordPool>,
    /// Whether `Tracer::span` makes spans here; `false` keeps the tracer on the SDK path (a
    /// user span processor expects the SDK's `on_start`).
    own_spans: bool,
    /// Set when the guard shuts the pipeline down: from then on spans are neither started
    /// (they get an invalid context, as the SDK's do after shutdown) nor handed on.
    shut_down: AtomicBool,
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("sampler", &self.sampler)
            .field("hooks", &self.hooks.len())
            .field("queue", &self.queue.is_some())
            .finish_non_exhaustive()
    }
}

/// The instrumentation scope of every span tracer makes (the SDK tracer's too).
pub(crate) fn scope() -> InstrumentationScope {
    InstrumentationScope::builder("tracer").build()
}

impl Pipeline {
    pub(crate) fn new(
        sampler: Sampler,
        hooks: Vec<Arc<dyn EndHook>>,
        queue: Option<Arc<QueueProcessor>>,
        own_spans: bool,
    ) -> Self {
        Self {
            sampler,
            limits: SpanLimits::default(),
            scope: scope(),
            hooks,
            pool: match &queue {
                Some(queue) => queue.pool().clone(),
                None => Arc::new(RecordPool::new(UNQUEUED_POOL)),
            },
            queue,
            own_spans,
            shut_down: AtomicBool::new(false),
        }
    }

    /// Stops the pipeline (see [`Pipeline::shut_down`]'s field).
    pub(crate) fn shut_down(&self) {
        self.shut_down.store(true, Ordering::Relaxed);
    }

    /// The configured sampler (for `Tracer::records_leaf`, which only the leaf integrations use).
    #[inline]
    #[cfg_attr(
        not(any(feature = "redis", feature = "sqlx-mysql", feature = "sqlx-postgres")),
        allow(dead_code)
    )]
    pub(crate) fn sampler(&self) -> Sampler {
        self.sampler
    }

    /// Whether spans are made here rather than by the SDK tracer.
    #[inline]
    pub(crate) fn own_spans(&self) -> bool {
        self.own_spans
    }

    /// Spans waiting in the export queue.
    pub(crate) fn queued(&self) -> u64 {
        self.queue.as_ref().map_or(0, |q| q.queued())
    }

    /// Records waiting in the span pool.
    #[cfg(test)]
    pub(crate) fn pooled_records(&self) -> usize {
        self.pool.len()
    }

    #[inline]
    pub(crate) fn limits(&self) -> &SpanLimits {
        &self.limits
    }

    /// Starts a span named `name` of `kind` with `attributes` under `parent`.
    #[inline]
    pub(crate) fn start(
        self: &Arc<Self>,
        name: impl SpanName,
        kind: SpanKind,
        attributes: impl Attributes,
        parent: &Context,
    ) -> Span {
        self.start_with(name, kind, attributes, None, parent, |_, _| {})
    }

    /// Starts a span from an OpenTelemetry `SpanBuilder` (its name, kind, start time,
    /// attributes, events and links). As with the SDK 0.33 tracer, the builder's trace id,
    /// span id and sampling result are not used: ids are drawn here and the sampler decides.
    pub(crate) fn start_builder(self: &Arc<Self>, builder: SpanBuilder, parent: &Context) -> Span {
        let SpanBuilder {
            name,
            span_kind,
            attributes,
            start_time,
            events,
            links,
            ..
        } = builder;
        self.start_with(
            name,
            span_kind.unwrap_or(SpanKind::Internal),
            attributes.unwrap_or_default(),
            start_time,
            parent,
            |record, limits| {
                for link in links.into_iter().flatten() {
                    record.add_link(link.span_context, link.attributes, limits);
                }
                for event in events.into_iter().flatten() {
                    record.add_event(event.name, event.timestamp, event.attributes, limits);
                }
            },
        )
    }

    #[inline]
    fn start_with(
        self: &Arc<Self>,
        name: impl SpanName,
        kind: SpanKind,
        attributes: impl Attributes,
        start_time: Option<SystemTime>,
        parent: &Context,
        more: impl FnOnce(&mut SpanRecord, &SpanLimits),
    ) -> Span {
        if parent.is_telemetry_suppressed() || self.shut_down.load(Ordering::Relaxed) {
            return Span::not_recording(SpanContext::empty_context());
        }
        let span_id = ids::span_id();
        let parent_span = parent.span();
        let parent_context = parent_span.span_context();
        let valid_parent = parent_context.is_valid();
        let trace_id = if valid_parent {
            parent_context.trace_id()
        } else {
            ids::trace_id()
        };
        // The sampler's trace state is the parent's, valid or not (as the SDK's samplers say).
        let trace_state = parent_context.trace_state().clone();
        // The W3C Level 2 `random` flag: inherited from the parent (sampled or not: the next
        // hop must hear what the caller said), set on a root, whose id is random.
        let flags = if valid_parent {
            parent_context.trace_flags()
        } else {
            RANDOM
        };
        if !samples(self.sampler, parent, parent_context, trace_id) {
            return Span::not_recording(SpanContext::new(
                trace_id,
                span_id,
                flags.with_sampled(false),
                false,
                trace_state,
            ));
        }
        let flags = flags.with_sampled(true);
        let (parent_span_id, parent_is_remote) = if valid_parent {
            (parent_context.span_id(), parent_context.is_remote())
        } else {
            (opentelemetry::trace::SpanId::INVALID, false)
        };
        let context = SpanContext::new(trace_id, span_id, flags, false, trace_state);
        let start = start_time.unwrap_or_else(opentelemetry::time::now);
        let mut record = self.pool.take();
        record.context = context.clone();
        record.parent_span_id = parent_span_id;
        record.parent_is_remote = parent_is_remote;
        record.kind = kind;
        record.name = name.into_name();
        record.start = start;
        record.end = start;
        attributes.write_into(&mut record.attributes);
        let limit = self.limits.max_attributes_per_span as usize;
        if record.attributes.len() > limit {
            record.dropped_attributes = (record.attributes.len() - limit) as u32;
            record.attributes.truncate(limit);
        }
        more(&mut record, &self.limits);
        Span::recording(context, record, self.clone())
    }

    /// Hands a finished span on: to the end hooks, synchronously, then into the export queue
    /// (a full queue drops and counts it; nothing wakes the export thread but a full batch).
    #[inline]
    pub(crate) fn finish(&self, record: Box<SpanRecord>) {
        if self.shut_down.load(Ordering::Relaxed) {
            return;
        }
        if let Some((last, first)) = self.hooks.split_last() {
            let data = (*record).clone().into_span_data(&self.scope);
            for hook in first {
                hook.on_end(data.clone());
            }
            last.on_end(data);
        }
        if let Some(queue) = &self.queue {
            queue.enqueue(Finished::Ours(record));
        } else {
            self.pool.give(record);
        }
    }
}

/// An [`EndHook`] as an SDK span processor, for spans made through the SDK tracer.
#[derive(Debug)]
pub(crate) struct HookProcessor(pub(crate) Arc<dyn EndHook>);

impl opentelemetry_sdk::trace::SpanProcessor for HookProcessor {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        self.0.on_end(span);
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(
        &self,
        _timeout: std::time::Duration,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }
}
