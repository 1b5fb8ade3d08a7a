//! In-memory capture of finished spans.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use opentelemetry::trace::{SpanKind, Status, TraceId};
use opentelemetry::{Key, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};

use crate::config::{ExporterKind, Sampler};
use crate::span::pipeline::EndHook;
use crate::{Tracer, TracerBuilder};

/// A finished span and the service that recorded it.
#[derive(Clone, Debug)]
pub struct CapturedSpan {
    /// `service.name` of the tracer that recorded the span.
    pub service: String,
    /// The span as the SDK hands it to exporters.
    pub data: SpanData,
}

impl CapturedSpan {
    /// The span's name.
    pub fn name(&self) -> &str {
        &self.data.name
    }

    /// The span's kind.
    pub fn kind(&self) -> &SpanKind {
        &self.data.span_kind
    }

    /// The span's trace id.
    pub fn trace_id(&self) -> TraceId {
        self.data.span_context.trace_id()
    }

    /// The value of attribute `key`, if recorded.
    pub fn attr(&self, key: &str) -> Option<&Value> {
        self.data
            .attributes
            .iter()
            .find(|kv| kv.key == Key::from(key.to_owned()))
            .map(|kv| &kv.value)
    }

    /// Whether the span's status is an error.
    pub fn is_error(&self) -> bool {
        matches!(self.data.status, Status::Error { .. })
    }

    /// Every string recorded on the span: name, attribute keys and values, event names and
    /// event attributes. Tests scan it for values that must never be recorded.
    pub fn all_text(&self) -> String {
        let mut out = format!("{}\n", self.data.name);
        for kv in &self.data.attributes {
            out.push_str(&format!("{}={}\n", kv.key, kv.value));
        }
        for event in self.data.events.iter() {
            out.push_str(&format!("{}\n", event.name));
            for kv in &event.attributes {
                out.push_str(&format!("{}={}\n", kv.key, kv.value));
            }
        }
        if let Status::Error { description } = &self.data.status {
            out.push_str(description);
        }
        out
    }
}

/// Records every finished span of the tracers made from it, in end order.
#[derive(Clone, Default, Debug)]
pub struct SpanCapture {
    spans: Arc<Mutex<Vec<CapturedSpan>>>,
}

impl SpanCapture {
    /// An empty capture.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder for service `service` whose spans go to this capture: every trace sampled,
    /// no exporter, the environment ignored. Adjust it further before `build()`.
    pub fn builder(&self, service: &str) -> TracerBuilder {
        crate::builder()
            .without_env()
            .service_name(service)
            .sampler(Sampler::ParentBasedAlwaysOn)
            .exporter(ExporterKind::None)
            .end_hook(Arc::new(self.capture_processor()))
    }

    /// A tracer for service `service` recording into this capture (see [`SpanCapture::builder`]).
    ///
    /// # Panics
    /// Never in practice: the builder's settings are all valid.
    pub fn tracer(&self, service: &str) -> Tracer {
        self.builder(service)
            .build()
            .expect("a capture tracer has a valid configuration")
            .into_tracer()
    }

    /// A span processor recording into this capture, for use with your own builder.
    ///
    /// Being a span processor, it keeps that tracer on the OpenTelemetry SDK's path (see
    /// [`TracerBuilder::span_processor`]); [`SpanCapture::builder`] captures tracer's own
    /// spans without that.
    pub fn processor(&self) -> impl SpanProcessor + 'static {
        self.capture_processor()
    }

    fn capture_processor(&self) -> CaptureProcessor {
        CaptureProcessor {
            service: Mutex::new(String::from("unknown_service")),
            spans: self.spans.clone(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<CapturedSpan>> {
        self.spans.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every span captured so far.
    pub fn spans(&self) -> Vec<CapturedSpan> {
        self.lock().clone()
    }

    /// Number of spans captured so far.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing was captured.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Forgets every captured span.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Distinct trace ids, in order of first appearance.
    pub fn trace_ids(&self) -> Vec<TraceId> {
        let mut ids = Vec::new();
        for span in self.lock().iter() {
            if !ids.contains(&span.trace_id()) {
                ids.push(span.trace_id());
            }
        }
        ids
    }

    /// Waits until at least `count` spans are captured, polling without blocking the runtime;
    /// returns what is there when `timeout` passes. Server spans end after the response body is
    /// sent, so a client can see its response before the server span is captured.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<CapturedSpan> {
        let deadline = Instant::now() + timeout;
        loop {
            let spans = self.spans();
            if spans.len() >= count || Instant::now() >= deadline {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Renders every captured trace (see [`super::TreeFormat::render`]).
    pub fn render(&self, format: &super::TreeFormat) -> String {
        format.render(&self.lock())
    }
}

#[derive(Debug)]
struct CaptureProcessor {
    /// Learnt from the tracer's resource before its first span.
    service: Mutex<String>,
    spans: Arc<Mutex<Vec<CapturedSpan>>>,
}

impl CaptureProcessor {
    fn learn_service(&self, resource: &Resource) {
        if let Some(name) = resource.get(&Key::from_static_str("service.name")) {
            *self.service.lock().unwrap_or_else(|p| p.into_inner()) = name.to_string();
        }
    }

    fn capture(&self, span: SpanData) {
        let service = self
            .service
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let captured = CapturedSpan {
            service,
            data: span,
        };
        self.spans
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(captured);
    }
}

impl EndHook for CaptureProcessor {
    fn on_end(&self, span: SpanData) {
        self.capture(span);
    }

    fn set_resource(&self, resource: &Resource) {
        self.learn_service(resource);
    }
}

impl SpanProcessor for CaptureProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &opentelemetry::Context) {}

    fn on_end(&self, span: SpanData) {
        self.capture(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.learn_service(resource);
    }
}
