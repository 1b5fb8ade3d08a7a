//! HTTP server spans for axum 0.8 and any hyper/tower service.
//!
//! [`TraceLayer`] wraps a service; for each request it
//!
//! 1. reads the caller's context from the headers with [`Tracer::extract`](crate::Tracer::extract)
//!    (W3C, B3 single or multi, Jaeger, as configured);
//! 2. starts a **server span** under it, named `{METHOD} {route}` after the route template the
//!    router matched (`GET /users/{id}`), or `{METHOD}` when no route is known (never the raw
//!    path, which would make one name per user id);
//! 3. keeps the span current on every poll of the handler, so the handler's client calls and
//!    `tracing` spans are its children;
//! 4. ends it when the response **body** has been sent (or dropped), not when the headers go
//!    out, so a streaming response is timed whole.
//!
//! Attributes (semconv 1.42): `http.request.method`, `url.path`, `url.query` (sensitive values
//! `REDACTED`, see [`redact`](crate::http::redact)), `url.scheme`, `http.route`,
//! `http.response.status_code`, `server.address`, `server.port`, `client.address`,
//! `network.protocol.version`, `user_agent.original`, and `error.type` on failures.
//!
//! | outcome | span status | `error.type` |
//! |---|---|---|
//! | 1xx-4xx | unset (a 404 is the client's mistake, not the server's) | |
//! | 5xx | error | the status code, e.g. `503` |
//! | handler panic | error, `exception` event with `exception.message`; the client gets a 500 | `panic` |
//! | client disconnects before the response is complete | error | `cancelled` |
//! | the inner service returns `Err` | error, with the error's text | `_OTHER` |
//!
//! A disconnect is an error on purpose, and the same rule holds for gRPC server spans (see
//! [`crate::grpc`]): an exchange cut short is an error on the server span, because semconv asks
//! for an error status when a network error cuts the exchange short even after a 2xx status, and
//! a cut-off response is worth seeing in a trace view. `error.type=cancelled` tells it apart from
//! a failure of the server itself.
//!
//! # Where to put the layer in axum
//! axum inserts the matched route ([`MatchedPath`](https://docs.rs/axum/0.8/axum/extract/struct.MatchedPath.html))
//! into the request *while routing*, so the layer must run after routing to see it. Both
//! `Router::layer` and `Router::route_layer` do that in axum 0.8: they wrap each route's
//! endpoint, not the router. With `Router::layer` the fallback is wrapped too, so unmatched
//! requests (404) get a span named `{METHOD}`; with `route_layer` only matched routes are
//! traced. Do not wrap the whole router from outside (`ServiceBuilder::new().layer(..)
//! .service(router)`): the span would never learn the route. Call `.layer(TraceLayer)` after
//! adding the routes (axum applies a layer only to the routes added before it).
//!
//! Panics are caught by the layer itself (see [`TraceLayer::catch_panic`]). If you prefer
//! tower-http's `CatchPanicLayer`, add it *after* (outside) this layer and turn catching off
//! here; the span still records the panic before letting it unwind to the outer layer.
//!
//! The hooks (filter, span namer, extra attributes) are the ones every integration shares,
//! [`crate::hooks`], over the request head `http::request::Parts`: the filter runs first, the
//! extra attributes only for a sampled span, after the sampling decision, as on gRPC. The
//! layer records with [`crate::global`] unless given `.with_tracer(tracer)`.
//!
//! While the tracer is switched off, or the [filter](crate::hooks::Filter) skips a request, no span is
//! made but the incoming context is still attached while the handler runs, so the handler's
//! client calls forward it and the trace is not split.
//!
//! `client.address` comes from `X-Forwarded-For`, else from the peer address: serve with
//! `into_make_service_with_connect_info::<SocketAddr>()` (axum) or put the peer `SocketAddr` in
//! the request extensions (plain hyper).
//!
//! ```
//! # #[cfg(feature = "axum")] {
//! use axum::{Router, routing::get};
//! use tower::ServiceExt as _;
//! use tracer::http::server::TraceLayer;
//!
//! let guard = tracer::builder()
//!     .service_name("shop")
//!     .exporter(tracer::ExporterKind::None)
//!     .build()
//!     .unwrap();
//! let app = Router::new()
//!     .route("/users/{id}", get(|| async { "hello" }))
//!     .layer(TraceLayer::new().with_tracer(guard.tracer().clone()));
//!
//! let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! let request = http::Request::get("/users/7").body(axum::body::Body::empty()).unwrap();
//! let response = runtime.block_on(app.oneshot(request)).unwrap();
//! assert_eq!(response.status(), 200); // span "GET /users/{id}" ends once the body is sent
//! # }
//! ```
//!
//! Customised: skip health checks, name spans yourself, add an attribute, and return the trace
//! id to the caller:
//!
//! ```
//! use http::request::Parts;
//! use opentelemetry::KeyValue;
//! use tracer::http::server::{ResponseHeader, TraceLayer, matched_route};
//!
//! let layer = TraceLayer::new()
//!     .filter(|request: &Parts| request.uri.path() != "/health")
//!     .span_name(|request: &Parts| {
//!         format!("{} {}", request.method, matched_route(request).unwrap_or("unmatched"))
//!     })
//!     .extra_attributes(|request: &Parts, out: &mut Vec<KeyValue>| {
//!         if let Some(tenant) = request.headers.get("x-tenant").and_then(|v| v.to_str().ok()) {
//!             out.push(KeyValue::new("app.tenant", tenant.to_owned()));
//!         }
//!     })
//!     .response_header(ResponseHeader::TraceResponse);
//! # drop(layer);
//! ```

mod body;
mod future;
mod hooks;
mod layer;
mod service;

pub use body::ResponseBody;
pub use future::ResponseFuture;
pub use hooks::{DefaultSpanName, ResponseHeader, matched_route};
pub use layer::TraceLayer;
pub use service::TraceService;
