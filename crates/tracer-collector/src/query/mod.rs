//! The Jaeger-compatible query API, served on the query port (16686 by default).
//!
//! - [`rest_handler`]: Jaeger's v1 HTTP API as the Jaeger UI uses it (`/api/services`,
//!   `/api/operations`, `/api/traces`, `/api/traces/{id}`, `/api/dependencies`), in the
//!   `{data,total,limit,offset,errors}` envelope with the UI model of [`model`].
//! - [`api_v3`]: Jaeger's api_v3 HTTP gateway (`/api/v3/...`), which returns OTLP JSON.
//! - [`metrics`]: RED metrics from the stored spans in the shape of Jaeger's metrics API
//!   (`/api/metrics/latencies`, `/calls`, `/errors`, `/minstep`).
//! - `/api/collector/stats`: the store's counters ([`crate::store::StoreStats`]).
//! - [`tree_stream`]: `/api/collector/traces/{id}`, one trace for the web UI as lines of
//!   Jaeger spans in tree order, so the UI draws the first screen before the rest arrives.
//!
//! The handlers only parse parameters and shape responses; searching lives in the store and
//! conversion in [`convert`].

pub mod api_v3;
pub mod convert;
pub mod metrics;
pub mod model;
pub mod params;
pub mod rest_handler;
pub mod stream;
pub mod tree_stream;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;

use crate::store::Store;

/// State shared by the query handlers.
#[derive(Debug, Clone)]
pub struct QueryState {
    /// The store queried.
    pub store: Arc<Store>,
    /// Default search window when a request gives no start, in nanoseconds.
    pub default_lookback_ns: u64,
    /// The pool of query slots.
    pub limiter: stream::QueryLimiter,
    /// Connection counters of the collector's listeners.
    pub listeners: crate::serve::ListenerRegistry,
    /// The forwarder, once forwarding runs (its counters are served with the stats).
    pub forward: Arc<std::sync::OnceLock<crate::forward::Forwarder>>,
    /// The durable log, once it is open (its counters are served with the stats).
    pub persist: Arc<std::sync::OnceLock<crate::persist::Log>>,
}

/// The query router: Jaeger v1, api_v3 and the stats endpoint.
pub fn router(state: QueryState) -> Router {
    rest_handler::routes()
        .merge(api_v3::routes())
        .merge(metrics::routes())
        .with_state(state)
}

/// The query router with `/api/metrics/*` answering 501, as Jaeger does when no metrics store
/// is configured ([`metrics::disabled_routes`]).
pub fn router_without_metrics(state: QueryState) -> Router {
    rest_handler::routes()
        .merge(api_v3::routes())
        .merge(metrics::disabled_routes())
        .with_state(state)
}

/// Current time in Unix nanoseconds.
pub(crate) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
