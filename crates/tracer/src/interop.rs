//! `tracing` interop: `tracing` spans join the same OpenTelemetry tree.
//!
//! Add [`tracing_layer`] to your `tracing_subscriber` registry. A `#[tracing::instrument]` span
//! entered while an instrumented request is being served becomes a child of the request's span,
//! and because entering a `tracing` span also makes its OpenTelemetry context current, an
//! instrumented client call made inside it becomes its child in turn.
//!
//! ```
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! let guard = tracer::builder()
//!     .service_name("checkout")
//!     .exporter(tracer::ExporterKind::None)
//!     .build()
//!     .unwrap();
//! let subscriber = tracing_subscriber::registry().with(tracer::tracing_layer(guard.tracer()));
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::info_span!("load_cart").in_scope(|| {});
//! });
//! ```

use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::registry::LookupSpan;

use crate::Tracer;

/// A `tracing_subscriber` layer that records `tracing` spans with `tracer`: tracer's own spans
/// (the same pipeline as the integrations' spans, see [`crate::span`]), through `tracer`'s
/// implementation of the OpenTelemetry `Tracer` trait.
///
/// While the tracer is switched off, the layer records nothing, and a `tracing` span's context
/// is its parent's, so an instrumented call made inside it continues the caller's trace.
pub fn tracing_layer<S>(tracer: &Tracer) -> OpenTelemetryLayer<S, Tracer>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    tracing_opentelemetry::layer()
        .with_tracer(tracer.clone())
        .with_context_activation(true)
}
