//! [`GrpcClientService`]: the middleware service.

use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use http::{Request, Response};
use tonic::body::Body;
use tower::Service;

use super::{ClientBody, ClientFuture, GrpcClientLayer};
use crate::grpc::BoxError;
use crate::grpc::call::{Direction, Settings, TappedBody};
use crate::grpc::metadata::MetadataInjector;
use crate::grpc::status::Side;

/// Middleware that traces the gRPC calls made through `S` (made by [`GrpcClientLayer`]).
#[derive(Clone, Debug)]
pub struct GrpcClientService<S> {
    inner: S,
    settings: Arc<Settings>,
}

impl<S> GrpcClientService<S> {
    /// Wraps `inner`, recording with the global tracer.
    pub fn new(inner: S) -> Self {
        Self::from_settings(inner, Arc::new(Settings::new(crate::global())))
    }

    pub(super) fn from_settings(inner: S, settings: Arc<Settings>) -> Self {
        Self { inner, settings }
    }

    /// The layer that makes this service, to customise it.
    pub fn layer() -> GrpcClientLayer {
        GrpcClientLayer::new()
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

impl<S, ResBody> Service<Request<Body>> for GrpcClientService<S>
where
    S: Service<Request<Body>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
    ResBody: http_body::Body<Data = Bytes>,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<ClientBody<ResBody>>;
    type Error = BoxError;
    type Future = ClientFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        let Some(call) = self.settings.begin(Side::Client, req.uri(), req.headers()) else {
            return ClientFuture::new(self.inner.call(req), None, None);
        };
        self.settings.tracer.inject(
            call.context(),
            &mut MetadataInjector::from_headers(req.headers_mut()),
        );
        let req = match call.tap(Direction::Sent) {
            Some(tap) => req.map(|body| Body::new(TappedBody::new(body, tap))),
            None => req,
        };
        let received = call.tap(Direction::Received);
        let future = {
            let _attached = call.attach();
            self.inner.call(req)
        };
        ClientFuture::new(future, Some(call), received)
    }
}
