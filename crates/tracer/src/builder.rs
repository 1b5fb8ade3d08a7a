//! [`TracerBuilder`]: one call that sets up resource, sampler, span queue and exporter.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, Span, SpanData, SpanExporter, SpanProcessor};

use crate::Guard;
use crate::config::{
    self, BatchConfig, Compression, Config, ConfigError, EnvSource, ExporterKind, Protocol,
    Sampler, Settings,
};
use crate::export::Counters;
use crate::export::console::ConsoleExporter;
use crate::export::queue::QueueProcessor;
use crate::export::sink::SdkSink;
use crate::propagation::PropagatorKind;
use crate::span::pipeline::{EndHook, HookProcessor, Pipeline};
use crate::switch::Switch;
use crate::tracer::{Switched, Tracer};

/// Why a tracer could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// A setting is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The exporter could not be built.
    #[error("cannot build exporter: {0}")]
    Exporter(String),
    /// The export thread or its runtime could not start.
    #[error("cannot start the export thread: {0}")]
    Runtime(String),
}

/// Builds a [`Tracer`] and its [`Guard`]; start with [`crate::builder`].
///
/// Settings made here override the environment variables of [`crate::config`].
#[must_use]
pub struct TracerBuilder {
    settings: Settings,
    env: EnvSource,
    processors: Vec<Box<dyn SpanProcessor>>,
    end_hooks: Vec<Arc<dyn EndHook>>,
    custom_exporter: Option<StartQueue>,
    shutdown_timeout: Duration,
    loss_warning_interval: Duration,
}

/// Starts the export queue around an exporter given in code.
type StartQueue = Box<
    dyn FnOnce(BatchConfig, Arc<Counters>, String, Duration) -> Result<QueueProcessor, InitError>
        + Send,
>;

/// The default of [`TracerBuilder::loss_warning_interval`].
pub const DEFAULT_LOSS_WARNING_INTERVAL: Duration = Duration::from_secs(10);

impl Default for TracerBuilder {
    fn default() -> Self {
        Self {
            settings: Settings::default(),
            env: config::process_env(),
            processors: Vec::new(),
            end_hooks: Vec::new(),
            custom_exporter: None,
            shutdown_timeout: Duration::from_secs(5),
            loss_warning_interval: DEFAULT_LOSS_WARNING_INTERVAL,
        }
    }
}

impl fmt::Debug for TracerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracerBuilder")
            .field("settings", &self.settings)
            .field("processors", &self.processors.len())
            .finish_non_exhaustive()
    }
}

impl TracerBuilder {
    /// Sets `service.name` (overrides `OTEL_SERVICE_NAME`).
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.settings.service_name = Some(name.into());
        self
    }

    /// Adds a resource attribute (overrides the same key in `OTEL_RESOURCE_ATTRIBUTES`).
    pub fn resource_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings
            .resource_attributes
            .push((key.into(), value.into()));
        self
    }

    /// Starts switched on or off (overrides `OTEL_SDK_DISABLED`).
    pub fn enabled(mut self, on: bool) -> Self {
        self.settings.enabled = Some(on);
        self
    }

    /// Chooses the exporter (overrides `OTEL_TRACES_EXPORTER`).
    pub fn exporter(mut self, exporter: ExporterKind) -> Self {
        self.settings.exporter = Some(exporter);
        self
    }

    /// The OTLP URL, used as is (overrides both OTLP endpoint variables).
    pub fn otlp_endpoint(mut self, url: impl Into<String>) -> Self {
        self.settings.endpoint = Some(url.into());
        self
    }

    /// The OTLP transport (overrides `OTEL_EXPORTER_OTLP_PROTOCOL`).
    pub fn otlp_protocol(mut self, protocol: Protocol) -> Self {
        self.settings.protocol = Some(protocol);
        self
    }

    /// Adds an OTLP header or gRPC metadata entry.
    pub fn otlp_header(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.headers.push((key.into(), value.into()));
        self
    }

    /// The OTLP request timeout (overrides `OTEL_EXPORTER_OTLP_TIMEOUT`).
    pub fn otlp_timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = Some(timeout);
        self
    }

    /// OTLP request compression (overrides `OTEL_EXPORTER_OTLP_COMPRESSION`).
    pub fn otlp_compression(mut self, compression: Compression) -> Self {
        self.settings.compression = Some(compression);
        self
    }

    /// The sampler (overrides `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`).
    pub fn sampler(mut self, sampler: Sampler) -> Self {
        self.settings.sampler = Some(sampler);
        self
    }

    /// The propagators, in extraction order (overrides `OTEL_PROPAGATORS`).
    pub fn propagators(mut self, kinds: impl IntoIterator<Item = PropagatorKind>) -> Self {
        self.settings.propagators = Some(kinds.into_iter().collect());
        self
    }

    /// Delay between two exports (overrides `OTEL_BSP_SCHEDULE_DELAY`).
    pub fn schedule_delay(mut self, delay: Duration) -> Self {
        self.settings.schedule_delay = Some(delay);
        self
    }

    /// Longest time one export may take (overrides `OTEL_BSP_EXPORT_TIMEOUT`).
    pub fn export_timeout(mut self, timeout: Duration) -> Self {
        self.settings.export_timeout = Some(timeout);
        self
    }

    /// Spans the queue holds before dropping (overrides `OTEL_BSP_MAX_QUEUE_SIZE`).
    pub fn max_queue_size(mut self, size: NonZeroUsize) -> Self {
        self.settings.max_queue_size = Some(size);
        self
    }

    /// Most spans per export (overrides `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`).
    pub fn max_export_batch_size(mut self, size: NonZeroUsize) -> Self {
        self.settings.max_export_batch_size = Some(size);
        self
    }

    /// Longest time [`Guard::shutdown`] (or dropping the guard) waits for the last export.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Shortest time between two warnings about lost spans for the same reason (queue full,
    /// export failed); what is lost in between is summed into the next warning. Defaults to
    /// [`DEFAULT_LOSS_WARNING_INTERVAL`].
    pub fn loss_warning_interval(mut self, interval: Duration) -> Self {
        self.loss_warning_interval = interval;
        self
    }

    /// Adds a span processor that sees every recorded span, next to the exporter's queue.
    ///
    /// It runs on the instrumented code's thread: it must be quick and must not block.
    ///
    /// A tracer with a span processor makes every span with the OpenTelemetry SDK, so that the
    /// processor's `on_start(&mut opentelemetry_sdk::trace::Span)` is called as it expects;
    /// without one, spans come from tracer's own, cheaper pipeline ([`crate::span`]).
    pub fn span_processor(mut self, processor: impl SpanProcessor + 'static) -> Self {
        self.processors.push(Box::new(processor));
        self
    }

    /// Adds a hook that sees every finished span synchronously (the `testing` capture),
    /// whichever path made it.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))] // Only the capture uses it.
    pub(crate) fn end_hook(mut self, hook: Arc<dyn EndHook>) -> Self {
        self.end_hooks.push(hook);
        self
    }

    /// Sends spans to `exporter` through tracer's bounded queue and export thread, instead of the
    /// exporter chosen by [`TracerBuilder::exporter`] / `OTEL_TRACES_EXPORTER`.
    pub fn span_exporter<E>(mut self, exporter: E) -> Self
    where
        E: SpanExporter + 'static,
    {
        self.custom_exporter = Some(Box::new(move |batch, counters, service, interval| {
            QueueProcessor::start(
                move || Ok(SdkSink::new(exporter)),
                batch,
                counters,
                service,
                "a custom exporter".into(),
                interval,
            )
        }));
        self
    }

    /// Reads variables from `lookup` instead of the process environment (for tests and for
    /// configuration kept elsewhere).
    pub fn env_source(
        mut self,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.env = Arc::new(lookup);
        self
    }

    /// Ignores the environment: only code settings and defaults count.
    pub fn without_env(self) -> Self {
        self.env_source(|_| None)
    }

    /// Resolves the configuration without building anything.
    pub fn config(&self) -> Result<Config, ConfigError> {
        Config::resolve(&self.settings, &*self.env)
    }

    /// Builds the tracer and its pipeline without installing it globally.
    pub fn build(self) -> Result<Guard, InitError> {
        let config = self.config()?;
        let counters = Arc::new(Counters::default());
        let switch = Switch::new(config.enabled);

        let mut resource = Resource::builder_empty()
            .with_detector(Box::new(
                opentelemetry_sdk::resource::TelemetryResourceDetector,
            ))
            .with_service_name(config.service_name.clone());
        for (k, v) in &config.resource_attributes {
            resource = resource.with_attribute(KeyValue::new(k.clone(), v.clone()));
        }

        let mut provider = SdkTracerProvider::builder()
            .with_resource(resource.build())
            .with_sampler(Switched {
                switch: switch.clone(),
                inner: sdk_sampler(config.sampler),
            });

        let queue = match config.exporter {
            _ if self.custom_exporter.is_some() => match self.custom_exporter {
                Some(start) => Some(start(
                    config.batch.clone(),
                    counters.clone(),
                    config.service_name.clone(),
                    self.loss_warning_interval,
                )?),
                None => None,
            },
            ExporterKind::None => None,
            ExporterKind::Console => Some(QueueProcessor::start(
                || Ok(SdkSink::new(ConsoleExporter::default())),
                config.batch.clone(),
                counters.clone(),
                config.service_name.clone(),
                "stdout".into(),
                self.loss_warning_interval,
            )?),
            #[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
            ExporterKind::Otlp => {
                let otlp = config.otlp.clone();
                let protocol = match otlp.protocol {
                    Protocol::Grpc => "grpc",
                    Protocol::HttpProtobuf => "http/protobuf",
                    Protocol::HttpJson => "http/json",
                };
                let destination = format!("{} ({protocol})", otlp.endpoint);
                Some(QueueProcessor::start(
                    move || crate::export::otlp::build(&otlp),
                    config.batch.clone(),
                    counters.clone(),
                    config.service_name.clone(),
                    destination,
                    self.loss_warning_interval,
                )?)
            }
            #[cfg(not(any(feature = "otlp-http", feature = "otlp-grpc")))]
            ExporterKind::Otlp => {
                return Err(InitError::Exporter(
                    "the OTLP exporter needs tracer's `otlp` feature (or `otlp-http`, `otlp-grpc`)"
                        .into(),
                ));
            }
        };
        let queue = queue.map(Arc::new);
        if let Some(queue) = &queue {
            provider = provider.with_span_processor(Shared(queue.clone()));
        }
        for hook in &self.end_hooks {
            provider = provider.with_span_processor(HookProcessor(hook.clone()));
        }
        // A user span processor expects the SDK's `on_start`: such a tracer stays on the SDK.
        let own_spans = self.processors.is_empty();
        let pipeline = Pipeline::new(config.sampler, self.end_hooks, queue, own_spans);
        for processor in self.processors {
            provider = provider.with_span_processor(Boxed(processor));
        }
        let provider = provider.build();
        let tracer = Tracer::new(
            provider,
            switch,
            config.propagators.clone(),
            config.service_name.clone(),
            counters,
            pipeline,
        );
        Ok(Guard::new(tracer, self.shutdown_timeout, false))
    }

    /// Builds the tracer and installs it as the global one ([`crate::global`]), including the
    /// OpenTelemetry global tracer provider and propagator.
    pub fn init(self) -> Result<Guard, InitError> {
        let mut guard = self.build()?;
        crate::global::install(guard.tracer().clone());
        guard.set_global();
        Ok(guard)
    }
}

pub(crate) fn sdk_sampler(sampler: Sampler) -> opentelemetry_sdk::trace::Sampler {
    use opentelemetry_sdk::trace::Sampler as S;
    match sampler {
        Sampler::AlwaysOn => S::AlwaysOn,
        Sampler::AlwaysOff => S::AlwaysOff,
        Sampler::TraceIdRatio(r) => S::TraceIdRatioBased(r),
        Sampler::ParentBasedAlwaysOn => S::ParentBased(Box::new(S::AlwaysOn)),
        Sampler::ParentBasedAlwaysOff => S::ParentBased(Box::new(S::AlwaysOff)),
        Sampler::ParentBasedTraceIdRatio(r) => S::ParentBased(Box::new(S::TraceIdRatioBased(r))),
    }
}

/// Lets the builder keep a handle on the queue (for its length) while the provider owns it.
#[derive(Debug)]
struct Shared(Arc<QueueProcessor>);

impl SpanProcessor for Shared {
    fn on_start(&self, span: &mut Span, cx: &opentelemetry::Context) {
        self.0.on_start(span, cx);
    }
    #[inline]
    fn on_end(&self, span: SpanData) {
        self.0.on_end(span);
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn set_resource(&mut self, resource: &Resource) {
        // The queue forwards the resource to its export thread over a channel; `&mut` is not
        // needed for that, so the shared handle can pass it on.
        self.0.forward_resource(resource);
    }
}

#[derive(Debug)]
struct Boxed(Box<dyn SpanProcessor>);

impl SpanProcessor for Boxed {
    fn on_start(&self, span: &mut Span, cx: &opentelemetry::Context) {
        self.0.on_start(span, cx);
    }
    fn on_end(&self, span: SpanData) {
        self.0.on_end(span);
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }
}
