//! Collector settings.
//!
//! Every setting has a named default function; a config read from a file rejects unknown fields.
//! The binary maps its flags (and their environment variables) onto this struct.
//!
//! ```
//! use tracer_collector::config::Config;
//! let config: Config = serde_json::from_str(r#"{"max_spans": 1000}"#).unwrap();
//! assert_eq!(config.max_spans.get(), 1000);
//! assert_eq!(config.body_limit, Config::default().body_limit);
//! assert!(serde_json::from_str::<Config>(r#"{"max_span": 1}"#).is_err());
//! ```

use std::num::NonZeroUsize;

use serde::{Deserialize, Serialize};

use crate::store::StoreLimits;

/// Default OTLP/gRPC port.
pub const DEFAULT_OTLP_GRPC_PORT: u16 = 4317;
/// Default OTLP/HTTP port.
pub const DEFAULT_OTLP_HTTP_PORT: u16 = 4318;
/// Default query API and UI port.
pub const DEFAULT_QUERY_PORT: u16 = 16686;

/// Collector settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Maximum spans kept in the store.
    #[serde(default = "default_max_spans")]
    pub max_spans: NonZeroUsize,
    /// Maximum bytes kept in the store (its own accounting).
    #[serde(default = "default_max_bytes")]
    pub max_bytes: NonZeroUsize,
    /// Largest accepted request body, after decompression.
    #[serde(default = "default_body_limit")]
    pub body_limit: NonZeroUsize,
    /// Request bytes being decoded at once; past it, exports are refused with a retry hint.
    #[serde(default = "default_ingest_budget")]
    pub ingest_budget: NonZeroUsize,
    /// Payloads at least this large are decoded on the blocking thread pool.
    #[serde(default = "default_blocking_threshold")]
    pub blocking_threshold: usize,
    /// How far back a trace search looks when the request gives no start, in seconds
    /// (Jaeger's `--query.max-lookback`-like default of two days).
    #[serde(default = "default_search_lookback_secs")]
    pub search_lookback_secs: u64,
    /// Queries (searches, trace fetches, dependency scans) that may run at once; more wait for
    /// a slot (see [`crate::query::stream`]).
    #[serde(default = "default_query_slots")]
    pub query_slots: NonZeroUsize,
    /// Connections each listener serves at once; more are closed on accept.
    #[serde(default = "default_max_connections")]
    pub max_connections: NonZeroUsize,
    /// Milliseconds allowed for a connection's first bytes and for each request head.
    #[serde(default = "default_header_timeout_ms")]
    pub header_timeout_ms: u64,
    /// Longest gap between two frames of a request body, in milliseconds.
    #[serde(default = "default_body_timeout_ms")]
    pub body_timeout_ms: u64,
    /// Lowest average request body rate in bytes per second (after the first body timeout).
    #[serde(default = "default_body_min_rate")]
    pub body_min_rate: u64,
    /// Milliseconds without traffic after which a connection is closed.
    #[serde(default = "default_idle_timeout_ms")]
    pub idle_timeout_ms: u64,
    /// Whether `/api/metrics/*` computes RED metrics from the stored spans; when off it answers
    /// 501 like Jaeger's disabled metrics store (see [`crate::query::metrics`]).
    #[serde(default = "default_metrics")]
    pub metrics: bool,
    /// Host names accepted in `Host` on loopback listeners besides loopback names and
    /// addresses (see [`crate::access`]).
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Directory of the durable span log; `None` keeps the store in memory only (see
    /// [`crate::persist`]).
    #[serde(default)]
    pub data_dir: Option<std::path::PathBuf>,
    /// When an accepted batch counts as durable (with `data_dir`): `always`, `interval:MS`
    /// or `never`.
    #[serde(default)]
    pub fsync: crate::persist::FsyncPolicy,
    /// Disk budget of the span log (with `data_dir`); the oldest segments are deleted past it.
    #[serde(default = "default_max_disk_bytes")]
    pub max_disk_bytes: std::num::NonZeroU64,
}

/// 1 GiB.
pub fn default_max_disk_bytes() -> std::num::NonZeroU64 {
    std::num::NonZeroU64::new(crate::persist::DEFAULT_MAX_DISK_BYTES).expect("non-zero")
}

/// 256 connections per listener.
pub fn default_max_connections() -> NonZeroUsize {
    NonZeroUsize::new(256).expect("non-zero")
}

/// 10 seconds.
pub fn default_header_timeout_ms() -> u64 {
    10_000
}

/// 10 seconds.
pub fn default_body_timeout_ms() -> u64 {
    10_000
}

/// 64 KiB/s.
pub fn default_body_min_rate() -> u64 {
    64 << 10
}

/// Two minutes.
pub fn default_idle_timeout_ms() -> u64 {
    120_000
}

/// 1,000,000 spans.
pub fn default_max_spans() -> NonZeroUsize {
    NonZeroUsize::new(1_000_000).expect("non-zero")
}

/// 512 MiB.
pub fn default_max_bytes() -> NonZeroUsize {
    NonZeroUsize::new(512 << 20).expect("non-zero")
}

/// 64 MiB.
pub fn default_body_limit() -> NonZeroUsize {
    NonZeroUsize::new(64 << 20).expect("non-zero")
}

/// 256 MiB.
pub fn default_ingest_budget() -> NonZeroUsize {
    NonZeroUsize::new(256 << 20).expect("non-zero")
}

/// 64 KiB.
pub fn default_blocking_threshold() -> usize {
    64 << 10
}

/// On.
pub fn default_metrics() -> bool {
    true
}

/// Two days.
pub fn default_search_lookback_secs() -> u64 {
    2 * 24 * 3600
}

/// The number of CPUs, at least 2, at most 8.
pub fn default_query_slots() -> NonZeroUsize {
    NonZeroUsize::new(crate::query::stream::default_query_slots()).unwrap_or(NonZeroUsize::MIN)
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_spans: default_max_spans(),
            max_bytes: default_max_bytes(),
            body_limit: default_body_limit(),
            ingest_budget: default_ingest_budget(),
            blocking_threshold: default_blocking_threshold(),
            search_lookback_secs: default_search_lookback_secs(),
            query_slots: default_query_slots(),
            max_connections: default_max_connections(),
            header_timeout_ms: default_header_timeout_ms(),
            body_timeout_ms: default_body_timeout_ms(),
            body_min_rate: default_body_min_rate(),
            idle_timeout_ms: default_idle_timeout_ms(),
            metrics: default_metrics(),
            allowed_hosts: Vec::new(),
            data_dir: None,
            fsync: crate::persist::FsyncPolicy::default(),
            max_disk_bytes: default_max_disk_bytes(),
        }
    }
}

impl Config {
    /// The per-listener connection limits part of the config.
    pub fn connection_limits(&self) -> crate::serve::ConnectionLimits {
        use std::time::Duration;
        crate::serve::ConnectionLimits {
            max_connections: self.max_connections.get(),
            header_timeout: Duration::from_millis(self.header_timeout_ms.max(1)),
            body_timeout: Duration::from_millis(self.body_timeout_ms.max(1)),
            body_min_rate: self.body_min_rate,
            idle_timeout: Duration::from_millis(self.idle_timeout_ms.max(1)),
        }
    }

    /// The durable log part of the config, when there is a data directory.
    pub fn persist_options(&self) -> Option<crate::persist::PersistOptions> {
        let dir = self.data_dir.as_ref()?;
        Some(
            crate::persist::PersistOptions::new(dir)
                .fsync(self.fsync)
                .max_disk_bytes(self.max_disk_bytes.get()),
        )
    }

    /// The store limits part of the config.
    pub fn store_limits(&self) -> StoreLimits {
        StoreLimits {
            max_spans: self.max_spans,
            max_bytes: self.max_bytes,
        }
    }
}
