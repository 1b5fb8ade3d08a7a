//! The tracer collector: OTLP ingest, a bounded in-memory store and a Jaeger-compatible query API.
//!
//! ```text
//! OTLP/gRPC :4317 ─┐
//! OTLP/HTTP :4318 ─┤
//! Zipkin    :9411 ─┼─> ingest (decode, validate) ─> store (bounded, indexed) ─> query :16686
//! Jaeger   :14268 ─┤                                                          (Jaeger v1, api_v3)
//! Jaeger   :14250 ─┤ gRPC PostSpans (and SamplingManager)
//! Jaeger agent UDP ┘ :6831 compact, :6832 binary, :5775 Zipkin compact (sampling :5778)
//! ```
//!
//! Modules depend one way: [`ingest`] and [`query`] use [`store`]; [`view`] renders the query
//! model; [`files`] (trace files: export, import, `/api/transform`) uses [`ingest`] and
//! [`query`]. A [`Collector`] ties them together and serves pre-bound listeners until a shutdown
//! future completes, so tests bind `127.0.0.1:0` and read the ports back.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use tokio::net::TcpListener;
//! use tracer_collector::{Collector, Listeners};
//!
//! let collector = Collector::builder().max_spans(100_000).build();
//! let listeners = Listeners {
//!     otlp_grpc: Some(TcpListener::bind("127.0.0.1:0").await?),
//!     otlp_http: Some(TcpListener::bind("127.0.0.1:0").await?),
//!     query: Some(TcpListener::bind("127.0.0.1:0").await?),
//!     ..Listeners::default()
//! };
//! collector.run(listeners, async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```

pub mod access;
pub mod config;
pub mod files;
pub mod forward;
pub mod ingest;
pub mod insight;
pub mod loadgen;
pub mod mcp;
pub mod persist;
pub mod query;
pub mod serve;
pub mod store;
pub mod ui;
pub mod view;
pub mod vocabulary;

use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinSet;
use tower_http::catch_panic::CatchPanicLayer;

use crate::access::{Access, Audience};

use crate::config::Config;
use crate::ingest::Ingestor;
use crate::ingest::receiver::{ReceiverStats, Receivers};
use crate::ingest::strategies::SamplingStrategies;
use crate::query::QueryState;
use crate::query::stream::QueryLimiter;
use crate::store::Store;

/// How long servers may take to finish in-flight requests after shutdown is requested.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Builds a [`Collector`].
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct CollectorBuilder {
    config: Config,
    access: Access,
    strategies: SamplingStrategies,
    forward: Vec<forward::Upstream>,
    tail_sampling: Option<forward::tail::TailConfig>,
}

fn non_zero(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN)
}

impl CollectorBuilder {
    /// Replaces the whole configuration.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Maximum spans kept (at least 1).
    pub fn max_spans(mut self, n: usize) -> Self {
        self.config.max_spans = non_zero(n);
        self
    }

    /// Maximum bytes kept by the store's accounting (at least 1).
    pub fn max_bytes(mut self, n: usize) -> Self {
        self.config.max_bytes = non_zero(n);
        self
    }

    /// Largest accepted request body after decompression (at least 1).
    pub fn body_limit(mut self, n: usize) -> Self {
        self.config.body_limit = non_zero(n);
        self
    }

    /// Request bytes decoded at once before exports are refused (at least 1).
    pub fn ingest_budget(mut self, n: usize) -> Self {
        self.config.ingest_budget = non_zero(n);
        self
    }

    /// Access rules (allowed hosts, access token) for every listener; see [`access`].
    pub fn access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }

    /// Sampling strategies served to Jaeger clients (sampling port, and `SamplingManager` on
    /// the Jaeger gRPC port); default: probabilistic 1.0 for every service.
    pub fn sampling_strategies(mut self, strategies: SamplingStrategies) -> Self {
        self.strategies = strategies;
        self
    }

    /// Forwards everything accepted to these upstreams as OTLP ([`forward`]), from
    /// [`Collector::run`] on.
    pub fn forward(mut self, upstreams: Vec<forward::Upstream>) -> Self {
        self.forward = upstreams;
        self
    }

    /// Makes the store durable: accepted batches are logged in `dir` before they are
    /// acknowledged and replayed from it by [`Collector::run`] ([`persist`]).
    pub fn data_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.config.data_dir = Some(dir.into());
        self
    }

    /// When a logged batch counts as durable (with [`CollectorBuilder::data_dir`]).
    pub fn fsync(mut self, policy: persist::FsyncPolicy) -> Self {
        self.config.fsync = policy;
        self
    }

    /// Disk budget of the log (with [`CollectorBuilder::data_dir`], at least 1).
    pub fn max_disk_bytes(mut self, bytes: u64) -> Self {
        self.config.max_disk_bytes =
            std::num::NonZeroU64::new(bytes).unwrap_or(std::num::NonZeroU64::MIN);
        self
    }

    /// Samples what is forwarded by trace, with these policies ([`forward::tail`]); the local
    /// store still keeps everything.
    pub fn tail_sampling(mut self, config: forward::tail::TailConfig) -> Self {
        self.tail_sampling = Some(config);
        self
    }

    /// Builds the collector and its empty store.
    pub fn build(self) -> Collector {
        let store = Arc::new(Store::new(self.config.store_limits()));
        let mut access = self.access;
        access
            .allowed_hosts
            .extend(self.config.allowed_hosts.iter().cloned());
        Collector {
            access,
            ingestor: Ingestor::new(store.clone(), &self.config),
            query_limiter: QueryLimiter::new(self.config.query_slots.get()),
            listener_stats: serve::ListenerRegistry::default(),
            receiver_stats: Arc::default(),
            strategies: Arc::new(self.strategies),
            store,
            config: self.config,
            forward: self.forward,
            tail_sampling: self.tail_sampling,
            forwarder: Arc::default(),
            log: Arc::default(),
        }
    }
}

/// Pre-bound listeners; a `None` endpoint is not served.
#[derive(Debug, Default)]
pub struct Listeners {
    /// OTLP/gRPC (4317).
    pub otlp_grpc: Option<TcpListener>,
    /// OTLP/HTTP (4318).
    pub otlp_http: Option<TcpListener>,
    /// Jaeger query API (16686).
    pub query: Option<TcpListener>,
    // --- Jaeger and Zipkin receivers (ingest::{zipkin, jaeger_http, udp, sampling}) ---
    /// Zipkin v1/v2 HTTP (9411).
    pub zipkin: Option<TcpListener>,
    /// Jaeger thrift over HTTP (14268).
    pub jaeger_http: Option<TcpListener>,
    /// Jaeger agent, thrift compact over UDP (6831).
    pub jaeger_udp_compact: Option<UdpSocket>,
    /// Jaeger agent, thrift binary over UDP (6832).
    pub jaeger_udp_binary: Option<UdpSocket>,
    /// Jaeger agent, Zipkin thrift compact over UDP (5775).
    pub zipkin_udp_compact: Option<UdpSocket>,
    /// Jaeger sampling strategies (5778).
    pub sampling: Option<TcpListener>,
    /// Jaeger gRPC, `PostSpans` and `SamplingManager` (14250).
    pub jaeger_grpc: Option<TcpListener>,
}

/// The collector: a store plus the servers that fill and query it.
#[derive(Debug)]
pub struct Collector {
    config: Config,
    store: Arc<Store>,
    ingestor: Ingestor,
    query_limiter: QueryLimiter,
    listener_stats: serve::ListenerRegistry,
    access: Access,
    receiver_stats: Arc<ReceiverStats>,
    strategies: Arc<SamplingStrategies>,
    forward: Vec<forward::Upstream>,
    tail_sampling: Option<forward::tail::TailConfig>,
    forwarder: Arc<std::sync::OnceLock<forward::Forwarder>>,
    log: Arc<std::sync::OnceLock<persist::Log>>,
}

impl Collector {
    /// Starts building a collector with default settings.
    pub fn builder() -> CollectorBuilder {
        CollectorBuilder::default()
    }

    /// The store, for direct inspection (tests, benches, embedding).
    pub fn store(&self) -> Arc<Store> {
        self.store.clone()
    }

    /// The settings in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The ingestor feeding this collector's store; clones share the ingest budget.
    pub fn ingestor(&self) -> Ingestor {
        self.ingestor.clone()
    }

    /// The query router (Jaeger API and web UI on one origin), for mounting elsewhere.
    pub fn query_router(&self) -> Router {
        self.api_router()
            .merge(files::api::router(files::api::FilesState {
                query: self.query_state(),
                ingestor: self.ingestor(),
            }))
            .merge(ingest::receiver::stats_router(self.receiver_stats.clone()))
            .merge(mcp::router(self.query_state()))
            .merge(insight::api::router(self.query_state()))
            .merge(ui::router())
    }

    /// Counters of the Jaeger and Zipkin receivers (also served on the query port at
    /// [`ingest::receiver::INGEST_STATS_PATH`]).
    pub fn receiver_stats(&self) -> Arc<ReceiverStats> {
        self.receiver_stats.clone()
    }

    fn receivers(&self) -> Receivers {
        Receivers {
            ingestor: self.ingestor(),
            stats: self.receiver_stats.clone(),
        }
    }

    /// The Jaeger query API alone, without the web UI.
    pub fn api_router(&self) -> Router {
        if self.config.metrics {
            query::router(self.query_state())
        } else {
            query::router_without_metrics(self.query_state())
        }
    }

    fn query_state(&self) -> QueryState {
        QueryState {
            store: self.store.clone(),
            default_lookback_ns: self
                .config
                .search_lookback_secs
                .saturating_mul(1_000_000_000),
            limiter: self.query_limiter.clone(),
            listeners: self.listener_stats.clone(),
            forward: self.forwarder.clone(),
            persist: self.log.clone(),
        }
    }

    /// Counters of each forwarding upstream (empty until [`Collector::run`] starts them).
    pub fn forward_stats(&self) -> Vec<forward::UpstreamStats> {
        self.forwarder.get().map(|f| f.stats()).unwrap_or_default()
    }

    /// Serves the given listeners until `shutdown` completes, then lets in-flight requests
    /// finish (up to [`SHUTDOWN_GRACE`]) and returns. Returns early with the error if a server
    /// fails. Each listener applies the configured connection limits ([`serve`]) and access
    /// rules ([`access`]).
    ///
    /// With a data directory ([`CollectorBuilder::data_dir`]) the log is opened and replayed
    /// into the store first (the ports answer once that is done); an unusable log (another
    /// collector holds it, an unknown format version) is returned as the error.
    pub async fn run(
        mut self,
        listeners: Listeners,
        shutdown: impl Future<Output = ()> + Send,
    ) -> std::io::Result<()> {
        if let Some(options) = self.config.persist_options() {
            let store = self.store.clone();
            let (log, _) = tokio::task::spawn_blocking(move || persist::open(&options, &store))
                .await
                .map_err(std::io::Error::other)?
                .map_err(std::io::Error::other)?;
            self.ingestor = self.ingestor.clone().with_log(log.clone());
            let _ = self.log.set(log);
        }
        if !self.forward.is_empty() {
            let upstreams = std::mem::take(&mut self.forward);
            // With a data directory the forward buffer is on disk too (`forward::disk`).
            let disk = match self.config.persist_options() {
                Some(options) => {
                    let dir = options.dir.join("forward");
                    let ups = upstreams.clone();
                    let limit = ups.iter().map(|u| u.buffer_bytes).max().unwrap_or(1);
                    let opened = tokio::task::spawn_blocking(move || {
                        forward::disk::DiskBuffer::open(&dir, options.fsync, &ups, limit)
                    })
                    .await
                    .map_err(std::io::Error::other)?
                    .map_err(std::io::Error::other)?;
                    Some(opened)
                }
                None => None,
            };
            let forwarder =
                forward::Forwarder::start_durable(upstreams, self.tail_sampling.take(), disk)
                    .map_err(std::io::Error::other)?;
            if let (Some(log), Some(forward_log)) = (self.log.get(), forwarder.durable_log()) {
                // Acknowledged means durable in the forward buffer too.
                log.wait_also_for(forward_log.clone());
            }
            self.ingestor = self.ingestor.clone().with_forwarder(forwarder.clone());
            let _ = self.forwarder.set(forwarder);
        }
        let result = self.serve(listeners, shutdown).await;
        if let Some(forwarder) = self.forwarder.get() {
            // Servers are done: nothing more arrives; give the upstreams a moment to take the rest.
            forwarder.shutdown(SHUTDOWN_GRACE).await;
        }
        if let Some(log) = self.log.get() {
            // Servers are done: write and sync what is pending.
            let log = log.clone();
            let _ = tokio::task::spawn_blocking(move || log.close()).await;
        }
        result
    }

    async fn serve(
        &self,
        listeners: Listeners,
        shutdown: impl Future<Output = ()> + Send,
    ) -> std::io::Result<()> {
        let ingestor = self.ingestor();
        let mut servers: Vec<(&'static str, TcpListener, Router, Audience)> = Vec::new();
        if let Some(l) = listeners.otlp_grpc {
            servers.push((
                "otlp-grpc",
                l,
                ingest::grpc::router(ingestor.clone()),
                Audience::Grpc,
            ));
        }
        if let Some(l) = listeners.otlp_http {
            servers.push((
                "otlp-http",
                l,
                ingest::http::router(ingestor),
                Audience::HttpIngest,
            ));
        }
        if let Some(l) = listeners.zipkin {
            let router = ingest::zipkin::router(self.receivers());
            servers.push(("zipkin", l, router, Audience::HttpIngest));
        }
        if let Some(l) = listeners.sampling {
            let router = ingest::sampling::router(self.strategies.clone());
            servers.push(("sampling", l, router, Audience::HttpIngest));
        }
        if let Some(l) = listeners.jaeger_http {
            let router = ingest::jaeger_http::router(self.receivers());
            servers.push(("jaeger-http", l, router, Audience::HttpIngest));
        }
        if let Some(l) = listeners.jaeger_grpc {
            let router = ingest::jaeger_grpc::router(self.receivers(), self.strategies.clone());
            servers.push(("jaeger-grpc", l, router, Audience::Grpc));
        }
        if let Some(l) = listeners.query {
            servers.push(("query", l, self.query_router(), Audience::Query));
        }
        let udp = [
            (
                listeners.jaeger_udp_compact,
                ingest::udp::AgentProtocol::Compact,
            ),
            (
                listeners.jaeger_udp_binary,
                ingest::udp::AgentProtocol::Binary,
            ),
            (
                listeners.zipkin_udp_compact,
                ingest::udp::AgentProtocol::ZipkinCompact,
            ),
        ];
        // Before any listener serves: the ingest stats show each socket's kernel drops from
        // the first query on (the UDP tasks below may start after the query server answers).
        for (socket, protocol) in &udp {
            if let Some(socket) = socket {
                ingest::udp::register(socket, *protocol, &self.receivers());
            }
        }
        let limits = self.config.connection_limits();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(());
        let mut tasks = JoinSet::new();
        for (name, listener, router, audience) in servers {
            let addr = listener.local_addr()?;
            let rules = Arc::new(access::ListenerAccess {
                access: self.access.clone(),
                loopback: addr.ip().is_loopback(),
                audience,
            });
            let router = router
                .layer(axum::middleware::from_fn_with_state(rules, access::check))
                .layer(CatchPanicLayer::custom(panic_response));
            tracing::info!(server = name, %addr, "listening");
            let mut stop = stop_rx.clone();
            let stats = self.listener_stats.add(name);
            tasks.spawn(serve::serve(
                listener,
                router,
                limits,
                stats,
                async move {
                    let _ = stop.changed().await;
                },
                SHUTDOWN_GRACE,
            ));
        }
        for (socket, protocol) in udp {
            if let Some(socket) = socket {
                let mut stop = stop_rx.clone();
                tasks.spawn(ingest::udp::serve(
                    socket,
                    protocol,
                    self.receivers(),
                    async move {
                        let _ = stop.changed().await;
                    },
                ));
            }
        }
        drop(stop_rx);
        let early = tokio::select! {
            () = shutdown => None,
            Some(res) = tasks.join_next() => Some(res),
        };
        tracing::info!("shutting down");
        drop(stop_tx);
        if let Some(res) = early {
            tasks.abort_all();
            return match res {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(e),
                Err(e) => Err(std::io::Error::other(e)),
            };
        }
        while let Some(res) = tasks.join_next().await {
            if let Ok(Err(e)) = res {
                tracing::warn!(error = %e, "server ended with an error");
            }
        }
        Ok(())
    }
}

/// A handler that panicked answers 500 instead of dropping the connection.
fn panic_response(
    panic: Box<dyn std::any::Any + Send + 'static>,
) -> http::Response<axum::body::Body> {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = detail, "a request handler panicked");
    let body = serde_json::json!({
        "errors": [{"code": 500, "msg": format!("internal error: {detail}")}],
    });
    let mut response = http::Response::new(axum::body::Body::from(body.to_string()));
    *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}
