//! [`GrpcServerService`]: the middleware service.

use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use http::{Request, Response};
use tonic::body::Body;
use tower::Service;

use super::{GrpcServerLayer, ServerBody, ServerFuture};
use crate::grpc::BoxError;
use crate::grpc::call::{Direction, Settings, TappedBody};
use crate::grpc::status::Side;

/// Middleware that traces the gRPC calls served by `S` (made by [`GrpcServerLayer`]).
#[derive(Clone, Debug)]
pub struct GrpcServerService<S> {
    inner: S,
    settings: Arc<Settings>,
}

impl<S> GrpcServerService<S> {
    /// Wraps `inner`, recording with the global tracer.
    pub fn new(inner: S) -> Self {
        Self::from_settings(inner, Arc::new(Settings::new(crate::global())))
    }

    pub(super) fn from_settings(inner: S, settings: Arc<Settings>) -> Self {
        Self { inner, settings }
    }

    /// The layer that makes this service, to customise it.
    pub fn layer() -> GrpcServerLayer {
        GrpcServerLayer::new()
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ResBody> Service<Request<Body>> for GrpcServerService<S>
where
    S: Service<Request<Body>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
    ResBody: http_body::Body<Data = Bytes>,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<ServerBody<ResBody>>;
    type Error = BoxError;
    type Future = ServerFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let Some(call) = self.settings.begin(Side::Server, req.uri(), req.headers()) else {
            return ServerFuture::new(self.inner.call(req), None, None);
        };
        let req = match call.tap(Direction::Received) {
            Some(tap) => req.map(|body| Body::new(TappedBody::new(body, tap))),
            None => req,
        };
        let sent = call.tap(Direction::Sent);
        let future = {
            let _attached = call.attach();
            self.inner.call(req)
        };
        ServerFuture::new(future, Some(call), sent)
    }
}
