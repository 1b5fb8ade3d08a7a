//! The client side: a tower layer around a `tonic::transport::Channel` (or any service of that
//! shape), used with a generated client's `new(service)`.
//!
//! For each call the layer starts a client span under the current context, injects it into the
//! request metadata (via [`Tracer::inject`](crate::Tracer::inject), so an off tracer forwards the
//! incoming context instead), and ends the span when the response trailers arrive, when the
//! transport fails (connection refused: `UNAVAILABLE`), or when the caller drops the call.

mod body;
mod future;
mod layer;
mod service;

pub use body::ClientBody;
pub use future::ClientFuture;
pub use layer::GrpcClientLayer;
pub use service::GrpcClientService;
