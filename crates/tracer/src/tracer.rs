//! [`Tracer`]: the handle every integration holds.

use std::fmt;
use std::sync::Arc;

use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::{
    Link, SpanBuilder, SpanContext, SpanKind, TraceContextExt, TraceId, Tracer as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{
    SamplingDecision, SamplingResult, SdkTracer, SdkTracerProvider, ShouldSample,
};

use crate::export::{Counters, ExportStats};
use crate::propagation::Propagators;
use crate::span::pipeline::Pipeline;
use crate::span::{Attributes, Span, SpanName};
use crate::switch::Switch;

/// One service's tracer: its own span pipeline ([`crate::span`]), the SDK tracer for spans
/// made with the plain OpenTelemetry API, its switch, propagators and export counters.
///
/// Integrations take a `Tracer` (defaulting to [`crate::global`]), so several services can live
/// in one process, each with its own `service.name`. Cloning is cheap.
#[derive(Clone)]
pub struct Tracer {
    inner: Arc<Inner>,
}

struct Inner {
    sdk: SdkTracer,
    provider: SdkTracerProvider,
    /// tracer's own spans (sampler, end hooks, export queue).
    pipeline: Arc<Pipeline>,
    switch: Switch,
    propagators: Propagators,
    service_name: String,
    counters: Arc<Counters>,
    /// The global tracer as taken before `init()`: records with whichever tracer is global
    /// when a span is made (see [`Tracer::resolved`]).
    deferred: bool,
}

/// The incoming span context of a request served while tracing is off; injected downstream in
/// place of whatever span is current, so the trace continues across the silent hop.
#[derive(Clone, Debug)]
struct Forwarded(SpanContext);

impl Tracer {
    pub(crate) fn new(
        provider: SdkTracerProvider,
        switch: Switch,
        propagators: Propagators,
        service_name: String,
        counters: Arc<Counters>,
        pipeline: Pipeline,
    ) -> Self {
        use opentelemetry::trace::TracerProvider as _;
        let sdk = provider.tracer_with_scope(crate::span::pipeline::scope());
        Self {
            inner: Arc::new(Inner {
                sdk,
                provider,
                pipeline: Arc::new(pipeline),
                switch,
                propagators,
                service_name,
                counters,
                deferred: false,
            }),
        }
    }

    /// The tracer [`crate::global`] returns before `init()`: no spans and the default
    /// propagators until a tracer is installed, then that tracer's behaviour, so layers and
    /// clients built before `init()` record once it has run.
    pub(crate) fn deferred_global() -> Self {
        static DEFERRED: std::sync::OnceLock<Tracer> = std::sync::OnceLock::new();
        DEFERRED
            .get_or_init(|| {
                let noop = Tracer::noop();
                let inner = Arc::try_unwrap(noop.inner).unwrap_or_else(|_| unreachable!());
                Tracer {
                    inner: Arc::new(Inner {
                        deferred: true,
                        ..inner
                    }),
                }
            })
            .clone()
    }

    /// The tracer that records for this one now: itself, or, for the global tracer taken
    /// before `init()`, the global tracer installed since (if any).
    #[inline]
    fn resolved(&self) -> Option<Tracer> {
        if self.inner.deferred {
            Self::installed_global()
        } else {
            None
        }
    }

    /// The global tracer installed since, out of line: the hot paths of a tracer that is not
    /// the deferred global (every tracer an `init()` made) then inline to a flag test.
    #[cold]
    #[inline(never)]
    fn installed_global() -> Option<Tracer> {
        crate::global::installed()
    }

    /// A tracer that records nothing and forwards context with the default propagators: what
    /// [`crate::global`] returns before [`crate::TracerBuilder::init`].
    pub fn noop() -> Self {
        let switch = Switch::new(false);
        let provider = SdkTracerProvider::builder()
            .with_sampler(Switched {
                switch: switch.clone(),
                inner: opentelemetry_sdk::trace::Sampler::AlwaysOff,
            })
            .build();
        Self::new(
            provider,
            switch,
            Propagators::default(),
            "unknown_service".into(),
            Arc::default(),
            Pipeline::new(crate::Sampler::AlwaysOff, Vec::new(), None, true),
        )
    }

    /// Whether tracing is on: one relaxed atomic load.
    // Not recursive (the deferred case is out of line), so that it inlines at call sites in
    // other crates: two loads and a branch, not a call (callgrind, `span/off`).
    #[inline(always)]
    pub fn is_enabled(&self) -> bool {
        if self.inner.deferred {
            return self.deferred_is_enabled();
        }
        self.inner.switch.is_on()
    }

    /// [`Tracer::is_enabled`] for the global tracer taken before `init()`: the installed
    /// tracer's switch (an installed tracer is never itself deferred), else this one's.
    #[cold]
    #[inline(never)]
    fn deferred_is_enabled(&self) -> bool {
        match Self::installed_global() {
            Some(real) => real.inner.switch.is_on(),
            None => self.inner.switch.is_on(),
        }
    }

    /// Turns this tracer on or off at run time.
    pub fn set_enabled(&self, on: bool) {
        self.inner.switch.set(on);
    }

    /// This tracer's switch.
    pub fn switch(&self) -> &Switch {
        &self.inner.switch
    }

    /// The configured propagators.
    pub fn propagators(&self) -> &Propagators {
        &self.inner.propagators
    }

    /// The `service.name` of this tracer's resource.
    pub fn service_name(&self) -> &str {
        &self.inner.service_name
    }

    /// The underlying SDK tracer, for building spans with the OpenTelemetry API.
    pub fn sdk(&self) -> &SdkTracer {
        &self.inner.sdk
    }

    /// The underlying SDK provider.
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.inner.provider
    }

    /// Export counters: exported, dropped (queue full), failed (export error), queued.
    pub fn stats(&self) -> ExportStats {
        self.inner.counters.snapshot(self.inner.pipeline.queued())
    }

    /// The pipeline's shared counters (for the guard's shutdown report).
    pub(crate) fn counters(&self) -> &Counters {
        &self.inner.counters
    }

    /// Records waiting in this tracer's span pool ([`crate::span::pool`]).
    #[cfg(test)]
    pub(crate) fn pooled_records(&self) -> usize {
        self.inner.pipeline.pooled_records()
    }

    /// Stops this tracer's own pipeline before the provider shuts down: spans started later
    /// get an invalid context and spans ended later are not exported, as with the SDK.
    pub(crate) fn shut_down(&self) {
        self.inner.pipeline.shut_down();
    }

    /// Whether no span is to be made under any parent: tracing is off.
    #[inline]
    fn skips(&self) -> bool {
        !self.is_enabled()
    }

    /// Whether a leaf span under `parent` would be recorded: a span whose context goes nowhere
    /// (a database query, a cache command), so that when it would not be, the integration makes
    /// no span at all and skips the work its attributes cost (sanitizing SQL, writing a
    /// command's text). `false` only where the sampler's decision is already known: switched
    /// off, `always_off`, or a parent-based sampler under a parent that is not sampled (as the
    /// SDK's parent-based sampler decides: any active parent span, by its sampled flag). A span
    /// whose context is passed on (HTTP, gRPC, messages) is still made under an unsampled parent,
    /// for its own id (see [`Tracer::start_span`]).
    #[inline]
    #[cfg_attr(
        not(any(feature = "redis", feature = "sqlx-mysql", feature = "sqlx-postgres")),
        allow(dead_code)
    )]
    pub(crate) fn records_leaf(&self, parent: &Context) -> bool {
        if let Some(real) = self.resolved() {
            return real.records_leaf(parent);
        }
        if self.skips() {
            return false;
        }
        use crate::Sampler as S;
        match self.inner.pipeline.sampler() {
            S::AlwaysOff => false,
            S::AlwaysOn | S::TraceIdRatio(_) => true,
            S::ParentBasedAlwaysOn | S::ParentBasedAlwaysOff | S::ParentBasedTraceIdRatio(_)
                if parent.has_active_span() =>
            {
                parent.span().span_context().is_sampled()
            }
            S::ParentBasedAlwaysOff => false,
            S::ParentBasedAlwaysOn | S::ParentBasedTraceIdRatio(_) => true,
        }
    }

    /// Starts a span with `parent` as parent context.
    ///
    /// Returns `None` while switched off: the caller then carries on with `parent` unchanged,
    /// which forwards the incoming trace id, parent id and sampling decision downstream (an off
    /// service is invisible in the trace). Checking costs one atomic load.
    ///
    /// Under an unsampled parent (with a parent-based sampler) the span is not recording but
    /// has an id of its own, so the next hop's parent id is this hop's, as Trace Context
    /// Level 2's processing model asks of every hop, sampled or not.
    #[inline]
    pub fn start_span(&self, builder: SpanBuilder, parent: &Context) -> Option<Span> {
        if let Some(real) = self.resolved() {
            return real.start_span(builder, parent);
        }
        if self.skips() {
            return None;
        }
        let pipeline = &self.inner.pipeline;
        Some(if pipeline.own_spans() {
            pipeline.start_builder(builder, parent)
        } else {
            Span::sdk(self.inner.sdk.build_with_context(builder, parent))
        })
    }

    /// Starts a span named `name` of `kind` under `parent` (see [`Tracer::start_span`] for
    /// when it returns `None`). `name` is a string or a [`LazyName`](crate::span::LazyName),
    /// built only when the span records (see [`SpanName`]); `attributes` a `Vec<KeyValue>`, an
    /// array, a closure returning either or a [`Fill`](crate::span::Fill), also used only when
    /// the span records (see [`Attributes`]).
    #[inline]
    pub fn span(
        &self,
        name: impl SpanName,
        kind: SpanKind,
        attributes: impl Attributes,
        parent: &Context,
    ) -> Option<Span> {
        if let Some(real) = self.resolved() {
            return real.span(name, kind, attributes, parent);
        }
        if self.skips() {
            return None;
        }
        let pipeline = &self.inner.pipeline;
        Some(if pipeline.own_spans() {
            pipeline.start(name, kind, attributes, parent)
        } else {
            let builder = SpanBuilder::from_name(name.into_name())
                .with_kind(kind)
                .with_attributes(attributes.into_attributes());
            Span::sdk(self.inner.sdk.build_with_context(builder, parent))
        })
    }

    /// Reads the incoming context from `extractor` with the configured propagators.
    ///
    /// While switched off, the context also remembers the incoming span so that
    /// [`Tracer::inject`] forwards it unchanged.
    pub fn extract(&self, extractor: &dyn Extractor) -> Context {
        if let Some(real) = self.resolved() {
            return real.extract(extractor);
        }
        let cx = self.inner.propagators.extract(extractor);
        if self.is_enabled() {
            return cx;
        }
        let sc = cx.span().span_context().clone();
        if sc.is_valid() {
            cx.with_value(Forwarded(sc))
        } else {
            cx
        }
    }

    /// Writes `cx` into `injector` with the configured propagators.
    ///
    /// While switched off, the span context received by this service (if any) is written
    /// instead of the current span, so the downstream service continues the same trace.
    pub fn inject(&self, cx: &Context, injector: &mut dyn Injector) {
        if let Some(real) = self.resolved() {
            return real.inject(cx, injector);
        }
        if !self.is_enabled()
            && let Some(Forwarded(sc)) = cx.get::<Forwarded>()
        {
            let forwarded = cx.with_remote_span_context(sc.clone());
            self.inner.propagators.inject(&forwarded, injector);
            return;
        }
        self.inner.propagators.inject(cx, injector);
    }
}

impl fmt::Debug for Tracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracer")
            .field("service_name", &self.inner.service_name)
            .field("enabled", &self.is_enabled())
            .field("propagators", &self.inner.propagators)
            .finish()
    }
}

/// A [`Tracer`] is an OpenTelemetry [`Tracer`](opentelemetry::trace::Tracer) too: code written
/// against the API's trait, and [`tracing_layer`](crate::tracing_layer), make tracer's own spans
/// with it, as [`Tracer::start_span`] does (the SDK's, for a tracer built with a user
/// [`span_processor`](crate::TracerBuilder::span_processor)). While tracing is off the span it
/// returns records nothing and carries the parent's span context, so whatever is made under it
/// stays in the caller's trace.
///
/// ```
/// use opentelemetry::trace::{Span as _, Tracer as _};
///
/// let guard = tracer::builder()
///     .without_env()
///     .service_name("shop")
///     .exporter(tracer::ExporterKind::None)
///     .build()
///     .unwrap();
/// let mut span = guard.tracer().start("load cart");
/// assert!(span.is_recording());
/// span.end();
/// ```
impl opentelemetry::trace::Tracer for Tracer {
    type Span = Span;

    fn build_with_context(&self, builder: SpanBuilder, parent_cx: &Context) -> Span {
        self.start_span(builder, parent_cx)
            .unwrap_or_else(|| Span::not_recording(parent_cx.span().span_context().clone()))
    }
}

/// The configured sampler behind the switch: while off, every span is dropped.
#[derive(Clone, Debug)]
pub(crate) struct Switched {
    pub(crate) switch: Switch,
    pub(crate) inner: opentelemetry_sdk::trace::Sampler,
}

impl ShouldSample for Switched {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        if !self.switch.is_on() {
            return SamplingResult {
                decision: SamplingDecision::Drop,
                attributes: Vec::new(),
                trace_state: parent_context
                    .map(|cx| cx.span().span_context().trace_state().clone())
                    .unwrap_or_default(),
            };
        }
        self.inner
            .should_sample(parent_context, trace_id, name, span_kind, attributes, links)
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{Span as _, SpanContext, SpanId, TraceFlags, TraceState};

    use super::*;
    use crate::Sampler;

    fn tracer(sampler: Sampler) -> Tracer {
        crate::testing::SpanCapture::new()
            .builder("leaf")
            .sampler(sampler)
            .build()
            .unwrap()
            .into_tracer()
    }

    fn remote(sampled: bool) -> Context {
        let flags = if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(7),
            SpanId::from(9),
            flags,
            true,
            TraceState::default(),
        ))
    }

    /// `records_leaf` says `false` exactly where the SDK's own decision would not record, so an
    /// integration that skips the span on `false` loses nothing the SDK would have kept.
    #[test]
    fn a_leaf_is_skipped_exactly_where_the_sdk_would_not_record_it() {
        let cases = [
            (Sampler::ParentBasedAlwaysOn, None, true),
            (Sampler::ParentBasedAlwaysOn, Some(true), true),
            (Sampler::ParentBasedAlwaysOn, Some(false), false),
            (Sampler::ParentBasedAlwaysOff, None, false),
            (Sampler::ParentBasedAlwaysOff, Some(true), true),
            (Sampler::ParentBasedTraceIdRatio(0.0), Some(true), true),
            (Sampler::ParentBasedTraceIdRatio(1.0), Some(false), false),
            (Sampler::ParentBasedTraceIdRatio(1.0), None, true),
            (Sampler::AlwaysOn, Some(false), true),
            (Sampler::AlwaysOff, Some(true), false),
            (Sampler::TraceIdRatio(1.0), Some(false), true),
        ];
        for (sampler, parent, expected) in cases {
            let t = tracer(sampler);
            let cx = parent.map_or_else(Context::new, remote);
            assert_eq!(t.records_leaf(&cx), expected, "{sampler:?} {parent:?}");
            let mut span = t.span("probe", SpanKind::Client, vec![], &cx).unwrap();
            assert_eq!(
                span.is_recording(),
                expected,
                "the SDK, {sampler:?} {parent:?}"
            );
            span.end();
            t.set_enabled(false);
            assert!(!t.records_leaf(&cx), "switched off");
        }
    }
}
