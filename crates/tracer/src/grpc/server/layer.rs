//! [`GrpcServerLayer`]: wraps a tonic server's services.

use std::sync::Arc;

use tower::Layer;

use super::GrpcServerService;
use crate::Tracer;
use crate::grpc::attributes::Semconv;
use crate::grpc::call::Settings;
use crate::grpc::hooks::{CallFilter, RequestAttributes, SpanNamer};

/// A tower layer that makes a server span for each gRPC call; add it with
/// `tonic::transport::Server::builder().layer(GrpcServerLayer::new())`.
///
/// See the [module docs](crate::grpc) for what the span records.
#[derive(Clone, Debug)]
#[must_use]
pub struct GrpcServerLayer {
    settings: Arc<Settings>,
}

impl GrpcServerLayer {
    /// A layer that records with the global tracer ([`crate::global`]) as it is now: call this
    /// after `tracer::init()`.
    pub fn new() -> Self {
        Self::with_tracer(crate::global())
    }

    /// A layer that records with `tracer`.
    pub fn with_tracer(tracer: Tracer) -> Self {
        Self {
            settings: Arc::new(Settings::new(tracer)),
        }
    }

    /// Chooses which calls are traced; the default ([`DefaultFilter`](crate::grpc::DefaultFilter))
    /// skips `grpc.health.v1.Health`. Untraced calls pass through untouched.
    pub fn filter(mut self, filter: impl CallFilter) -> Self {
        Arc::make_mut(&mut self.settings).filter = Arc::new(filter);
        self
    }

    /// Names the spans; the default is `package.Service/Method`.
    pub fn span_name(mut self, namer: impl SpanNamer) -> Self {
        Arc::make_mut(&mut self.settings).namer = Arc::new(namer);
        self
    }

    /// Adds attributes when a call starts.
    pub fn attributes(mut self, attributes: impl RequestAttributes) -> Self {
        Arc::make_mut(&mut self.settings).attributes = Arc::new(attributes);
        self
    }

    /// Also (or only) emits the legacy RPC attribute names.
    pub fn semconv(mut self, semconv: Semconv) -> Self {
        Arc::make_mut(&mut self.settings).semconv = semconv;
        self
    }

    /// Adds a `tracer.rpc.message` event per message received and sent, and the
    /// `tracer.rpc.messages.*` counts. Off by default: it costs an allocation per call.
    pub fn message_events(mut self, on: bool) -> Self {
        Arc::make_mut(&mut self.settings).message_events = on;
        self
    }
}

impl Default for GrpcServerLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for GrpcServerLayer {
    type Service = GrpcServerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcServerService::from_settings(inner, self.settings.clone())
    }
}
