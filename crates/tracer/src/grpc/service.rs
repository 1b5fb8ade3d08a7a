//! [`GrpcService`]: the middleware service of both sides.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use http::{Request, Response};
use tonic::body::Body;
use tower::Service;

use super::BoxError;
use super::body::GrpcBody;
use super::call::{Direction, Settings, TappedBody};
use super::future::GrpcFuture;
use super::layer::GrpcLayer;
use super::metadata::MetadataInjector;
use super::role::{ClientSide, Role, ServerSide};
use super::status::Side;

/// Middleware that traces the gRPC calls served by `S` (made by
/// [`GrpcServerLayer`](super::GrpcServerLayer)).
pub type GrpcServerService<S> = GrpcService<S, ServerSide>;

/// Middleware that traces the gRPC calls made through `S` (made by
/// [`GrpcClientLayer`](super::GrpcClientLayer)).
pub type GrpcClientService<S> = GrpcService<S, ClientSide>;

/// Middleware that traces the gRPC calls through `S` on the side `R` (made by
/// [`GrpcLayer`]).
pub struct GrpcService<S, R> {
    inner: S,
    settings: Arc<Settings>,
    side: PhantomData<R>,
}

impl<S, R: Role> GrpcService<S, R> {
    /// Wraps `inner`, recording with the global tracer and the default hooks; for anything else
    /// build a [`GrpcLayer`] and call its `layer`.
    pub fn new(inner: S) -> Self {
        Self::from_settings(inner, Arc::new(Settings::new(crate::global())))
    }

    pub(super) fn from_settings(inner: S, settings: Arc<Settings>) -> Self {
        Self {
            inner,
            settings,
            side: PhantomData,
        }
    }

    /// The layer that makes this service, to customise it.
    pub fn layer() -> GrpcLayer<R> {
        GrpcLayer::new()
    }

    crate::hooks::inner_accessors!(inner: S, "service");
}

impl<S: Clone, R> Clone for GrpcService<S, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            settings: self.settings.clone(),
            side: PhantomData,
        }
    }
}

impl<S: fmt::Debug, R: Role> fmt::Debug for GrpcService<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcService")
            .field("side", &R::SIDE)
            .field("inner", &self.inner)
            .field("settings", &self.settings)
            .finish()
    }
}

impl<S, R, ResBody> Service<Request<Body>> for GrpcService<S, R>
where
    S: Service<Request<Body>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
    R: Role,
    ResBody: http_body::Body<Data = Bytes>,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<GrpcBody<ResBody, R>>;
    type Error = BoxError;
    type Future = GrpcFuture<S::Future, R>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        let call = self.settings.begin(R::SIDE, req.uri(), req.headers());
        // The messages of the request are the ones this side receives on the server and sends
        // on the client; the response's the other way round.
        let (request_messages, response_messages) = match R::SIDE {
            Side::Server => (Direction::Received, Direction::Sent),
            Side::Client => {
                // An off tracer (or a filtered call) forwards the current context instead.
                self.settings.tracer.inject(
                    call.context(),
                    &mut MetadataInjector::from_headers(req.headers_mut()),
                );
                (Direction::Sent, Direction::Received)
            }
        };
        let req = match call.tap(request_messages) {
            Some(tap) => req.map(|body| Body::new(TappedBody::new(body, tap))),
            None => req,
        };
        let response_tap = call.tap(response_messages);
        let future = {
            let _attached = call.attach();
            self.inner.call(req)
        };
        GrpcFuture::new(future, call, response_tap)
    }
}
