//! # tracer
//!
//! Distributed tracing for Rust services, in the Dapper/Jaeger tradition: one trace id follows a
//! request through every service, each hop is a span in a parent/child tree, and the tree is
//! exported over OTLP to a collector that shows it.
//!
//! A service calls [`init`] (or [`builder`]) once, keeps the returned [`Guard`] alive, and adds
//! one layer per client or server it uses. Everything is configured with the standard
//! OpenTelemetry environment variables ([`config`]), which settings made in code override.
//! Tracing can be switched off at start (`OTEL_SDK_DISABLED=true`) or at run time
//! ([`set_enabled`]); while off, no spans are made but the incoming context is still passed on,
//! so a trace never splits at a silent hop ([`switch`]).
//!
//! ```no_run
//! fn main() -> Result<(), tracer::InitError> {
//!     // OTLP over HTTP to 127.0.0.1:4318 unless OTEL_* variables say otherwise.
//!     let guard = tracer::builder().service_name("checkout").init()?;
//!     // ... serve requests ...
//!     guard.shutdown().ok(); // or just let it drop: every finished span is exported
//!     Ok(())
//! }
//! ```
//!
//! A customised set-up, with code settings overriding the environment:
//!
//! ```
//! use tracer::{ExporterKind, Sampler, propagation::PropagatorKind};
//!
//! let guard = tracer::builder()
//!     .service_name("inventory")
//!     .exporter(ExporterKind::Console)
//!     .sampler(Sampler::ParentBasedTraceIdRatio(0.25))
//!     .propagators([PropagatorKind::TraceContext, PropagatorKind::B3])
//!     .build()?;
//! assert_eq!(guard.tracer().service_name(), "inventory");
//! # Ok::<(), tracer::InitError>(())
//! ```

mod builder;
#[cfg(any(feature = "tower", feature = "reqwest"))]
pub mod carrier;
pub mod config;
mod export;
mod global;
#[cfg(feature = "tonic")]
pub mod grpc;
mod guard;
pub mod hooks;
#[cfg(any(feature = "tower", feature = "reqwest"))]
pub mod http;
#[cfg(feature = "tracing")]
mod interop;
#[cfg(feature = "lapin")]
pub mod lapin;
#[cfg(any(feature = "nats", feature = "lapin"))]
pub mod messaging;
#[cfg(feature = "nats")]
pub mod nats;
pub mod propagation;
#[cfg(feature = "redis")]
pub mod redis;
pub mod semconv;
pub mod span;
#[cfg(any(feature = "sqlx-mysql", feature = "sqlx-postgres"))]
pub mod sql;
pub mod switch;
#[cfg(feature = "testing")]
pub mod testing;
mod tracer;

pub use builder::{DEFAULT_LOSS_WARNING_INTERVAL, InitError, TracerBuilder};
pub use config::{Compression, Config, ConfigError, ExporterKind, Protocol, Sampler};
pub use export::ExportStats;
pub use global::{global, is_enabled, set_enabled};
pub use guard::{Guard, ShutdownError};
#[cfg(feature = "tracing")]
pub use interop::tracing_layer;
pub use span::Span;
pub use switch::Switch;
pub use tracer::Tracer;

/// The OpenTelemetry API crate tracer is built on, re-exported so versions always match.
pub use opentelemetry;
/// The OpenTelemetry SDK crate tracer is built on.
pub use opentelemetry_sdk;

/// Starts a [`TracerBuilder`] that reads the environment.
pub fn builder() -> TracerBuilder {
    TracerBuilder::default()
}

/// Sets up tracing from the environment alone and installs it globally.
pub fn init() -> Result<Guard, InitError> {
    builder().init()
}
