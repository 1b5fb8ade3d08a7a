//! [`GrpcClientLayer`]: wraps a tonic channel.

use std::sync::Arc;

use tower::Layer;

use super::GrpcClientService;
use crate::Tracer;
use crate::grpc::attributes::Semconv;
use crate::grpc::call::Settings;
use crate::grpc::hooks::{CallFilter, RequestAttributes, SpanNamer};

/// A tower layer that makes a client span for each gRPC call; wrap a channel with
/// `tower::ServiceBuilder::new().layer(GrpcClientLayer::new()).service(channel)`.
///
/// See the [module docs](crate::grpc) for what the span records.
#[derive(Clone, Debug)]
#[must_use]
pub struct GrpcClientLayer {
    settings: Arc<Settings>,
}

impl GrpcClientLayer {
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
    /// skips `grpc.health.v1.Health`. Untraced calls pass through untouched (nothing injected).
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

impl GrpcClientLayer {
    /// Sets `server.address` and `server.port` for calls whose request URI has no authority,
    /// which is the case for tonic's generated clients (the channel adds the origin later).
    pub fn server_address(mut self, host: impl Into<String>, port: Option<u16>) -> Self {
        Arc::make_mut(&mut self.settings).server_address = Some((host.into(), port));
        self
    }
}

impl Default for GrpcClientLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for GrpcClientLayer {
    type Service = GrpcClientService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcClientService::from_settings(inner, self.settings.clone())
    }
}
