//! The server side: a tower layer for `tonic::transport::Server::builder().layer(..)`.
//!
//! For each call the layer extracts the caller's context from the request metadata (with the
//! tracer's propagators, via [`Tracer::extract`](crate::Tracer::extract)), starts a server span
//! under it and keeps that span current while the handler runs, so the handler's own client
//! calls and `tracing` spans become its children. The span ends when the response trailers go
//! out (streams included), or when the client goes away.

mod body;
mod future;
mod layer;
mod service;

pub use body::ServerBody;
pub use future::ServerFuture;
pub use layer::GrpcServerLayer;
pub use service::GrpcServerService;
