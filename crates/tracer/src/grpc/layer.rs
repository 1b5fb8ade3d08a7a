//! [`GrpcLayer`]: the layer of both sides and its consuming builder.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use tower::Layer;

use super::attributes::Semconv;
use super::call::Settings;
use super::hooks::CallInfo;
use super::role::{ClientSide, Role, ServerSide};
use super::service::GrpcService;
use crate::Tracer;
use crate::hooks::{ExtraAttributes, Filter, SpanNamer};

/// The server layer: add it with `tonic::transport::Server::builder().layer(GrpcServerLayer::new())`.
pub type GrpcServerLayer = GrpcLayer<ServerSide>;

/// The client layer: wrap a channel with
/// `tower::ServiceBuilder::new().layer(GrpcClientLayer::new()).service(channel)`.
pub type GrpcClientLayer = GrpcLayer<ClientSide>;

/// A tower layer that makes a span for each gRPC call, on the side `R`
/// ([`GrpcServerLayer`] or [`GrpcClientLayer`]); cloning is cheap.
///
/// See the [module docs](crate::grpc) for what the span records.
#[must_use]
pub struct GrpcLayer<R> {
    settings: Arc<Settings>,
    side: PhantomData<R>,
}

impl<R: Role> GrpcLayer<R> {
    /// A layer that records with the global tracer ([`crate::global`]); built before
    /// `tracer::init()`, it records with the tracer `init()` installs, from then on.
    pub fn new() -> Self {
        Self {
            settings: Arc::new(Settings::new(crate::global())),
            side: PhantomData,
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut Settings)) -> Self {
        f(Arc::make_mut(&mut self.settings));
        self
    }

    /// Records with `tracer` instead of the global tracer.
    pub fn with_tracer(self, tracer: Tracer) -> Self {
        self.edit(|s| s.tracer = tracer)
    }

    /// Chooses which calls are traced; the default
    /// ([`SkipHealthChecks`](crate::grpc::SkipHealthChecks)) skips `grpc.health.v1.Health`.
    /// An untraced call gets no span but its context still travels (see [`crate::hooks`]).
    pub fn filter(self, filter: impl for<'a> Filter<CallInfo<'a>>) -> Self {
        self.edit(|s| s.filter = Arc::new(filter))
    }

    /// Names the spans; the default ([`DefaultSpanName`](crate::grpc::DefaultSpanName)) is
    /// `package.Service/Method`.
    pub fn span_name(self, namer: impl for<'a> SpanNamer<CallInfo<'a>>) -> Self {
        self.edit(|s| s.namer = Arc::new(namer))
    }

    /// Adds attributes of your own to each sampled span, after the built-in ones (never called
    /// for an unsampled call, see [`crate::hooks`]).
    pub fn extra_attributes(self, extra: impl for<'a> ExtraAttributes<CallInfo<'a>>) -> Self {
        self.edit(|s| s.extra = Arc::new(extra))
    }

    /// Also (or only) emits the legacy RPC attribute names.
    pub fn semconv(self, semconv: Semconv) -> Self {
        self.edit(|s| s.semconv = semconv)
    }

    /// Adds a `tracer.rpc.message` event per message received and sent, and the
    /// `tracer.rpc.messages.*` counts. Off by default: it costs an allocation per call.
    pub fn message_events(self, on: bool) -> Self {
        self.edit(|s| s.message_events = on)
    }

    /// The tracer this layer records with.
    pub fn tracer(&self) -> &Tracer {
        &self.settings.tracer
    }
}

impl GrpcLayer<ClientSide> {
    /// Sets `server.address` and `server.port` for calls whose request URI has no authority,
    /// which is the case for tonic's generated clients (the channel adds the origin later).
    pub fn server_address(self, host: impl Into<String>, port: Option<u16>) -> Self {
        self.edit(|s| s.server_address = Some((host.into(), port)))
    }
}

impl<R: Role> Default for GrpcLayer<R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<R> Clone for GrpcLayer<R> {
    fn clone(&self) -> Self {
        Self {
            settings: self.settings.clone(),
            side: PhantomData,
        }
    }
}

impl<R: Role> fmt::Debug for GrpcLayer<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcLayer")
            .field("side", &R::SIDE)
            .field("settings", &self.settings)
            .finish()
    }
}

impl<S, R: Role> Layer<S> for GrpcLayer<R> {
    type Service = GrpcService<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcService::from_settings(inner, self.settings.clone())
    }
}
