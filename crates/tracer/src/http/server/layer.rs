//! [`TraceLayer`]: the server layer and its consuming builder.

use std::fmt;
use std::sync::Arc;

use tower::Layer;

use ::http::request::Parts;

use super::hooks::{DebugHook, DefaultSpanName, ResponseHeader};
use super::service::TraceService;
use crate::Tracer;
use crate::hooks::{ExtraAttributes, Filter, SpanNamer, TraceAll};

/// Settings shared by every clone of a [`TraceService`]; one `Arc` per service clone.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) tracer: Tracer,
    pub(crate) filter: Arc<dyn Filter<Parts>>,
    pub(crate) namer: Arc<dyn SpanNamer<Parts>>,
    pub(crate) extra: Option<Arc<dyn ExtraAttributes<Parts>>>,
    pub(crate) response_header: ResponseHeader,
    pub(crate) catch_panic: bool,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceLayer")
            .field("tracer", &self.tracer)
            .field("filter", &DebugHook("Filter"))
            .field("namer", &DebugHook("SpanNamer"))
            .field(
                "extra",
                &self.extra.as_ref().map(|_| DebugHook("ExtraAttributes")),
            )
            .field("response_header", &self.response_header)
            .field("catch_panic", &self.catch_panic)
            .finish()
    }
}

/// A tower [`Layer`] that traces every request served by the wrapped service.
///
/// Built with [`TraceLayer::new`] and customised with the consuming methods below
/// ([`with_tracer`](TraceLayer::with_tracer) to record with another tracer than the global one);
/// cloning is cheap. See the [module docs](super) for the span it
/// makes and where to put it in an axum router.
#[derive(Clone, Debug)]
#[must_use]
pub struct TraceLayer {
    shared: Arc<Shared>,
}

impl TraceLayer {
    /// A layer recording with [`crate::global`]; built before `init()`, it records with the
    /// tracer `init()` installs, from then on.
    pub fn new() -> Self {
        Self {
            shared: Arc::new(Shared {
                tracer: crate::global(),
                filter: Arc::new(TraceAll),
                namer: Arc::new(DefaultSpanName),
                extra: None,
                response_header: ResponseHeader::None,
                catch_panic: true,
            }),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut Shared)) -> Self {
        f(Arc::make_mut(&mut self.shared));
        self
    }

    /// Records with `tracer` instead of the global tracer.
    pub fn with_tracer(self, tracer: Tracer) -> Self {
        self.edit(|s| s.tracer = tracer)
    }

    /// Traces only the requests `filter` accepts (e.g. skip `/health`); the others are served
    /// with the incoming context attached but no span. The default is
    /// [`TraceAll`](crate::hooks::TraceAll).
    pub fn filter(self, filter: impl Filter<Parts>) -> Self {
        self.edit(|s| s.filter = Arc::new(filter))
    }

    /// Names spans with `namer` instead of `{METHOD} {route}` ([`DefaultSpanName`]); see
    /// [`matched_route`](super::matched_route) for the route.
    pub fn span_name(self, namer: impl SpanNamer<Parts>) -> Self {
        self.edit(|s| s.namer = Arc::new(namer))
    }

    /// Adds attributes of your own to each sampled span, after the built-in ones (never called
    /// for an unsampled request, see [`crate::hooks`]).
    pub fn extra_attributes(self, extra: impl ExtraAttributes<Parts>) -> Self {
        self.edit(|s| s.extra = Some(Arc::new(extra)))
    }

    /// Also writes the server span's context into a response header.
    pub fn response_header(self, header: ResponseHeader) -> Self {
        self.edit(|s| s.response_header = header)
    }

    /// Whether the layer catches panics of the inner service (default `true`): the panic is
    /// recorded as an `exception` event, the span is an error and the client gets a 500.
    ///
    /// Turn it off when a `tower_http::catch_panic::CatchPanicLayer` sits *outside* this layer;
    /// the span still records the panic, then lets it unwind to the outer layer, which answers.
    pub fn catch_panic(self, on: bool) -> Self {
        self.edit(|s| s.catch_panic = on)
    }

    /// The tracer this layer records with.
    pub fn tracer(&self) -> &Tracer {
        &self.shared.tracer
    }
}

impl Default for TraceLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for TraceLayer {
    type Service = TraceService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TraceService::from_shared(inner, self.shared.clone())
    }
}
