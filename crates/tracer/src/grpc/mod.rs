//! gRPC instrumentation for tonic 0.14: a server layer, a client layer and a metadata carrier.
//!
//! A gRPC hop is two spans: the caller's **client** span and the callee's **server** span, both
//! named `package.Service/Method` after the request path `/package.Service/Method`, joined by
//! the trace context that the client writes into the request metadata and the server reads back,
//! in every format the tracer is configured with (W3C, B3, Jaeger).
//!
//! **What a span records** (OpenTelemetry RPC semantic conventions 1.42, names in
//! [`attributes`]): `rpc.system.name=grpc`, `rpc.method` (`package.Service/Method`),
//! `rpc.response.status_code` (the code's name: `OK`, `NOT_FOUND`, `DEADLINE_EXCEEDED`, ...),
//! `server.address`/`server.port`, `error.type` (the code's name, on error), and
//! `tracer.rpc.request.timeout_ms` when the client set a deadline (`grpc-timeout`). The legacy names
//! (`rpc.system`, `rpc.service`, integer `rpc.grpc.status_code`) are an opt-in ([`Semconv`]).
//!
//! **Where the status comes from.** gRPC sends the status in the response *trailers*, after the
//! messages, or in the *headers* of a trailers-only response (an error before any message). The
//! layers look in both places, so a span ends when its call really ends: after the last message
//! of a stream, not when the response headers leave.
//!
//! **What is an error** ([`status::is_error`]): on the server only the codes that say the server
//! failed (`UNKNOWN`, `DEADLINE_EXCEEDED`, `UNIMPLEMENTED`, `INTERNAL`, `UNAVAILABLE`,
//! `DATA_LOSS`), so a `NOT_FOUND` answered on purpose leaves the server span green; on the client
//! every code but `OK`. A client whose connection fails records `UNAVAILABLE`.
//!
//! **Early ends.** A server call whose client goes away (its future or body dropped before the
//! trailers) ends as `CANCELLED` **with error status** and `error.type=CANCELLED`, or as
//! `DEADLINE_EXCEEDED` when its deadline has passed (tonic drops the handler then, so no work
//! happens after the deadline). This is the cancellation rule shared with the HTTP server layer:
//! an exchange cut short is an error on the server span, because the work was not delivered and
//! the cut-off call is what a trace view must show (semconv's HTTP rules ask for an error status
//! on a network error that cuts the exchange short). gRPC's list of server error codes still
//! decides for statuses a handler *answers*: a `CANCELLED` returned on purpose leaves the span
//! green. A panicking handler becomes a
//! trailers-only `INTERNAL` response with an `exception` event, and the server keeps serving.
//!
//! **Off switch.** While the tracer is off no span is made, but the server still extracts the
//! incoming context and keeps it current while the handler runs, and the client injects through
//! [`Tracer::inject`](crate::Tracer::inject), so the trace passes through the silent hop.
//!
//! **One generic layer, two sides.** [`GrpcServerLayer`] and [`GrpcClientLayer`] are the one
//! [`GrpcLayer`] on the [`ServerSide`] or the [`ClientSide`]; so are their services, futures and
//! bodies. The server's parent is the context extracted from the request metadata, the client's
//! the current context, which it injects; the server catches handler panics, the client does not.
//!
//! Both layers record with [`crate::global`] unless given a tracer (`.with_tracer(tracer)`, a
//! consuming builder method as on every integration), and accept the hooks of
//! [`crate::hooks`] ([`Filter`](crate::hooks::Filter), [`SpanNamer`](crate::hooks::SpanNamer),
//! [`ExtraAttributes`](crate::hooks::ExtraAttributes)) over a [`CallInfo`]; extra attributes
//! are computed only for sampled spans, after the sampling decision, as on HTTP.
//! `grpc.health.v1.Health` is not traced by default ([`SkipHealthChecks`]).
//!
//! ```
//! use tonic::transport::{Endpoint, Server};
//! use tonic_health::pb::health_client::HealthClient;
//! use tonic_health::pb::HealthCheckRequest;
//! use tracer::grpc::{CallInfo, GrpcClientLayer, GrpcServerLayer};
//! use tracer::testing::{assert_tree, SpanCapture, TreeFormat};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let capture = SpanCapture::new();
//! // The default: every call but health checks; here the filter is widened to show them.
//! let everything = |_: &CallInfo<'_>| true;
//! let server_layer = GrpcServerLayer::new().with_tracer(capture.tracer("backend")).filter(everything);
//! let (_reporter, health) = tonic_health::server::health_reporter();
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! tokio::spawn(
//!     Server::builder()
//!         .layer(server_layer)
//!         .add_service(health)
//!         .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
//! );
//!
//! let channel = Endpoint::from_shared(format!("http://{addr}"))?.connect_lazy();
//! let channel = tower::ServiceBuilder::new()
//!     .layer(GrpcClientLayer::new().with_tracer(capture.tracer("frontend")).filter(everything))
//!     .service(channel);
//! HealthClient::new(channel).check(HealthCheckRequest::default()).await?;
//!
//! capture.wait_for(2, std::time::Duration::from_secs(5)).await;
//! assert_tree(
//!     &capture.render(&TreeFormat::new().attributes(["rpc.response.status_code"])),
//!     "
//!     frontend client grpc.health.v1.Health/Check rpc.response.status_code=OK
//!       backend server grpc.health.v1.Health/Check rpc.response.status_code=OK
//!     ",
//! );
//! # Ok(())
//! # }
//! ```

pub mod attributes;
mod body;
mod call;
mod future;
mod hooks;
mod layer;
pub mod metadata;
mod role;
mod service;
pub mod status;

pub use attributes::{RpcMethod, Semconv};
pub use body::{ClientBody, GrpcBody, ServerBody};
pub use future::{ClientFuture, GrpcFuture, ServerFuture};
pub use hooks::{CallInfo, DefaultSpanName, HEALTH_SERVICE, SkipHealthChecks};
pub use layer::{GrpcClientLayer, GrpcLayer, GrpcServerLayer};
pub use metadata::{MetadataExtractor, MetadataInjector};
pub use role::{ClientSide, Role, ServerSide};
pub use service::{GrpcClientService, GrpcServerService, GrpcService};
pub use status::Side;

/// The error type of both layers' services and bodies: tonic converts it to a `Status`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
