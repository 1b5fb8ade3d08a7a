//! HTTP instrumentation: a tower server layer and a reqwest client middleware.
//!
//! An HTTP hop is two spans: the caller's **client** span (`{METHOD}`) and the callee's
//! **server** span (`{METHOD} {route}`), joined by trace-context headers that the client writes
//! with [`Tracer::inject`](crate::Tracer::inject) and the server reads back with
//! [`Tracer::extract`](crate::Tracer::extract), in every format the tracer is configured with
//! (W3C, B3 single or multi, Jaeger). Both sides follow the stable OpenTelemetry HTTP semantic
//! conventions (semconv 1.42): the attribute names are the constants in [`attributes`].
//!
//! - `server` (feature `tower`, route templates with `axum`): a tower `Layer` for axum 0.8
//!   routers and any hyper/tower service. The span is current while the handler runs and ends
//!   when the response body has been sent.
//! - `client` (feature `reqwest`): a `reqwest-middleware` 0.5 middleware; retries show as
//!   sibling spans counted by `http.request.resend_count`.
//!
//! Secrets never reach a span: URL credentials are dropped and the values of sensitive query
//! parameters are replaced by `REDACTED` ([`redact`]). While a tracer is switched off neither
//! side records anything, yet the incoming context is still attached on the server and injected
//! by the client, so a silent hop never splits a trace.

pub mod attributes;
#[cfg(feature = "reqwest")]
pub mod client;
pub mod redact;
#[cfg(feature = "tower")]
pub mod server;

pub use crate::carrier::{HeaderExtractor, HeaderInjector};
