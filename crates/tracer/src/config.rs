//! Configuration: the OpenTelemetry environment variables, plus settings made in code.
//!
//! Every setting can come from three places, highest priority first: a call on
//! [`TracerBuilder`](crate::TracerBuilder), the environment variable named by the constants in
//! this module, and the default. Unlike the SDK, tracer also honours `OTEL_SDK_DISABLED`,
//! `OTEL_TRACES_EXPORTER` and `OTEL_PROPAGATORS`. An invalid value is an error that names the
//! variable, the value and what is accepted:
//!
//! ```
//! let err = tracer::builder()
//!     .env_source(|name| (name == "OTEL_TRACES_SAMPLER").then(|| "sometimes".to_string()))
//!     .config()
//!     .unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "invalid OTEL_TRACES_SAMPLER \"sometimes\": expected one of always_on, always_off, \
//!      traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio"
//! );
//! ```

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use percent_encoding::percent_decode_str;

use crate::propagation::{PropagatorKind, Propagators};

/// `true` turns tracing off at start (it can be turned on later): no spans, context forwarded.
pub const OTEL_SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
/// The `service.name` resource attribute.
pub const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
/// Extra resource attributes, `key=value,key2=value2` (values percent-encoded).
pub const OTEL_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
/// `otlp` (default), `console` or `none`.
pub const OTEL_TRACES_EXPORTER: &str = "OTEL_TRACES_EXPORTER";
/// Base OTLP endpoint; for HTTP, `/v1/traces` is appended.
pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// Trace OTLP endpoint, used as is.
pub const OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// `grpc`, `http/protobuf` (default) or `http/json`.
pub const OTEL_EXPORTER_OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
/// Trace-specific override of [`OTEL_EXPORTER_OTLP_PROTOCOL`].
pub const OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
/// Extra request headers (HTTP) or metadata (gRPC), `key=value,...`.
pub const OTEL_EXPORTER_OTLP_HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
/// Trace-specific override of [`OTEL_EXPORTER_OTLP_HEADERS`].
pub const OTEL_EXPORTER_OTLP_TRACES_HEADERS: &str = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
/// Export request timeout in milliseconds (default 10000).
pub const OTEL_EXPORTER_OTLP_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
/// Trace-specific override of [`OTEL_EXPORTER_OTLP_TIMEOUT`].
pub const OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
/// `gzip` or `none` (default).
pub const OTEL_EXPORTER_OTLP_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_COMPRESSION";
/// Trace-specific override of [`OTEL_EXPORTER_OTLP_COMPRESSION`].
pub const OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION";
/// The sampler; see [`Sampler`].
pub const OTEL_TRACES_SAMPLER: &str = "OTEL_TRACES_SAMPLER";
/// The ratio for the `traceidratio` samplers, in `[0, 1]` (default 1).
pub const OTEL_TRACES_SAMPLER_ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
/// Comma list of propagators; see [`crate::propagation`].
pub const OTEL_PROPAGATORS: &str = "OTEL_PROPAGATORS";
/// Delay between two exports, milliseconds (default 5000).
pub const OTEL_BSP_SCHEDULE_DELAY: &str = "OTEL_BSP_SCHEDULE_DELAY";
/// Longest time one export may take, milliseconds (default 30000).
pub const OTEL_BSP_EXPORT_TIMEOUT: &str = "OTEL_BSP_EXPORT_TIMEOUT";
/// Spans the queue holds before it drops (default 2048).
pub const OTEL_BSP_MAX_QUEUE_SIZE: &str = "OTEL_BSP_MAX_QUEUE_SIZE";
/// Most spans in one export (default 512, at most the queue size).
pub const OTEL_BSP_MAX_EXPORT_BATCH_SIZE: &str = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE";

/// Every variable tracer reads, for documentation and tooling.
pub const ALL_VARIABLES: &[&str] = &[
    OTEL_SDK_DISABLED,
    OTEL_SERVICE_NAME,
    OTEL_RESOURCE_ATTRIBUTES,
    OTEL_TRACES_EXPORTER,
    OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    OTEL_EXPORTER_OTLP_PROTOCOL,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
    OTEL_EXPORTER_OTLP_HEADERS,
    OTEL_EXPORTER_OTLP_TRACES_HEADERS,
    OTEL_EXPORTER_OTLP_TIMEOUT,
    OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
    OTEL_EXPORTER_OTLP_COMPRESSION,
    OTEL_EXPORTER_OTLP_TRACES_COMPRESSION,
    OTEL_TRACES_SAMPLER,
    OTEL_TRACES_SAMPLER_ARG,
    OTEL_PROPAGATORS,
    OTEL_BSP_SCHEDULE_DELAY,
    OTEL_BSP_EXPORT_TIMEOUT,
    OTEL_BSP_MAX_QUEUE_SIZE,
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
];

/// A setting that could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A variable (or the code setting of the same name) holds a value that is not accepted.
    #[error("invalid {name} {value:?}: expected {expected}")]
    Invalid {
        /// The variable, or the builder method for code settings.
        name: &'static str,
        /// The rejected value.
        value: String,
        /// What is accepted.
        expected: String,
    },
}

fn invalid(name: &'static str, value: &str, expected: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        value: value.to_owned(),
        expected: expected.into(),
    }
}

/// Where finished spans go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExporterKind {
    /// OTLP to a collector (the default).
    Otlp,
    /// One readable line per span on stdout.
    Console,
    /// Nowhere (spans still reach extra span processors, such as a test capture).
    None,
}

/// The OTLP transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP/gRPC, default port 4317.
    Grpc,
    /// OTLP/HTTP with protobuf bodies, default port 4318 (the default protocol).
    HttpProtobuf,
    /// OTLP/HTTP with JSON bodies, default port 4318.
    HttpJson,
}

/// Compression of OTLP export requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// No compression (the default).
    None,
    /// gzip.
    Gzip,
}

/// Which traces are recorded; the names follow `OTEL_TRACES_SAMPLER`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sampler {
    /// `always_on`: every trace.
    AlwaysOn,
    /// `always_off`: none.
    AlwaysOff,
    /// `traceidratio`: this fraction of traces, by trace id.
    TraceIdRatio(f64),
    /// `parentbased_always_on` (the default): follow the parent, sample roots.
    ParentBasedAlwaysOn,
    /// `parentbased_always_off`: follow the parent, drop roots.
    ParentBasedAlwaysOff,
    /// `parentbased_traceidratio`: follow the parent, sample this fraction of roots.
    ParentBasedTraceIdRatio(f64),
}

impl Sampler {
    const ACCEPTED: &'static str = "one of always_on, always_off, traceidratio, \
        parentbased_always_on, parentbased_always_off, parentbased_traceidratio";
}

/// OTLP exporter settings, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct OtlpConfig {
    /// The full URL requests go to (for HTTP, including `/v1/traces`).
    pub endpoint: String,
    /// The transport.
    pub protocol: Protocol,
    /// Extra headers / metadata.
    pub headers: Vec<(String, String)>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Request compression.
    pub compression: Compression,
}

/// Span queue and export batching, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchConfig {
    /// Delay between two exports.
    pub schedule_delay: Duration,
    /// Longest time one export may take.
    pub export_timeout: Duration,
    /// Spans the queue holds; beyond that new spans are dropped and counted.
    pub max_queue_size: NonZeroUsize,
    /// Most spans in one export.
    pub max_export_batch_size: NonZeroUsize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            schedule_delay: Duration::from_millis(5000),
            export_timeout: Duration::from_millis(30_000),
            max_queue_size: NonZeroUsize::new(2048).unwrap_or(NonZeroUsize::MIN),
            max_export_batch_size: NonZeroUsize::new(512).unwrap_or(NonZeroUsize::MIN),
        }
    }
}

/// The resolved configuration of one tracer.
#[derive(Clone, Debug)]
pub struct Config {
    /// Whether tracing starts switched on.
    pub enabled: bool,
    /// `service.name`.
    pub service_name: String,
    /// Other resource attributes.
    pub resource_attributes: Vec<(String, String)>,
    /// Where spans go.
    pub exporter: ExporterKind,
    /// OTLP settings (used when `exporter` is OTLP).
    pub otlp: OtlpConfig,
    /// The sampler.
    pub sampler: Sampler,
    /// The propagators.
    pub propagators: Propagators,
    /// Queue and batching.
    pub batch: BatchConfig,
}

/// A source of variables: the process environment, or a function for tests.
pub(crate) type EnvSource = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

pub(crate) fn process_env() -> EnvSource {
    Arc::new(|name| std::env::var(name).ok())
}

/// Settings made in code; `None` defers to the environment, then to the default.
#[derive(Clone, Default)]
pub(crate) struct Settings {
    pub(crate) enabled: Option<bool>,
    pub(crate) service_name: Option<String>,
    pub(crate) resource_attributes: Vec<(String, String)>,
    pub(crate) exporter: Option<ExporterKind>,
    pub(crate) endpoint: Option<String>,
    pub(crate) protocol: Option<Protocol>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) compression: Option<Compression>,
    pub(crate) sampler: Option<Sampler>,
    pub(crate) propagators: Option<Vec<PropagatorKind>>,
    pub(crate) schedule_delay: Option<Duration>,
    pub(crate) export_timeout: Option<Duration>,
    pub(crate) max_queue_size: Option<NonZeroUsize>,
    pub(crate) max_export_batch_size: Option<NonZeroUsize>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("service_name", &self.service_name)
            .field("exporter", &self.exporter)
            .finish_non_exhaustive()
    }
}

struct Env<'a>(&'a (dyn Fn(&str) -> Option<String> + Send + Sync));

impl Env<'_> {
    /// The variable's value, with blank values counting as unset.
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// The first set variable of `names`, with its name.
    fn first(&self, names: &[&'static str]) -> Option<(&'static str, String)> {
        names.iter().find_map(|n| self.get(n).map(|v| (*n, v)))
    }
}

fn parse_bool(name: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(name, value, "true or false")),
    }
}

fn parse_millis(name: &'static str, value: &str) -> Result<Duration, ConfigError> {
    value
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| invalid(name, value, "a whole number of milliseconds"))
}

fn parse_size(name: &'static str, value: &str) -> Result<NonZeroUsize, ConfigError> {
    value
        .parse::<NonZeroUsize>()
        .map_err(|_| invalid(name, value, "a whole number greater than 0"))
}

/// Parses a `key=value,key2=value2` list with percent-encoded values.
fn parse_pairs(name: &'static str, value: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((k, v)) = entry.split_once('=') else {
            return Err(invalid(name, value, "a comma list of key=value pairs"));
        };
        let k = k.trim();
        if k.is_empty() {
            return Err(invalid(
                name,
                value,
                "a comma list of key=value pairs with non-empty keys",
            ));
        }
        let v = percent_decode_str(v.trim())
            .decode_utf8()
            .map_err(|_| invalid(name, value, "percent-encoded UTF-8 values"))?;
        out.push((k.to_owned(), v.into_owned()));
    }
    Ok(out)
}

fn parse_ratio(name: &'static str, value: &str) -> Result<f64, ConfigError> {
    match value.parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(invalid(name, value, "a number from 0 to 1")),
    }
}

fn check_endpoint(name: &'static str, value: &str) -> Result<String, ConfigError> {
    if (value.starts_with("http://") || value.starts_with("https://")) && value.len() > 8 {
        Ok(value.to_owned())
    } else {
        Err(invalid(name, value, "an http:// or https:// URL"))
    }
}

impl Config {
    /// Resolves the configuration from the process environment and defaults only.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::resolve(&Settings::default(), &*process_env())
    }

    pub(crate) fn resolve(
        code: &Settings,
        env: &(dyn Fn(&str) -> Option<String> + Send + Sync),
    ) -> Result<Self, ConfigError> {
        let env = Env(env);

        let enabled = match code.enabled {
            Some(on) => on,
            None => match env.get(OTEL_SDK_DISABLED) {
                Some(v) => !parse_bool(OTEL_SDK_DISABLED, &v)?,
                None => true,
            },
        };

        let mut resource_attributes = match env.get(OTEL_RESOURCE_ATTRIBUTES) {
            Some(v) => parse_pairs(OTEL_RESOURCE_ATTRIBUTES, &v)?,
            None => Vec::new(),
        };
        for (k, v) in &code.resource_attributes {
            resource_attributes.retain(|(ek, _)| ek != k);
            resource_attributes.push((k.clone(), v.clone()));
        }
        let from_attributes = resource_attributes
            .iter()
            .position(|(k, _)| k == "service.name")
            .map(|i| resource_attributes.remove(i).1);
        let service_name = code
            .service_name
            .clone()
            .or_else(|| env.get(OTEL_SERVICE_NAME))
            .or(from_attributes)
            .unwrap_or_else(|| "unknown_service".to_owned());

        let exporter = match code.exporter {
            Some(e) => e,
            None => match env.get(OTEL_TRACES_EXPORTER) {
                None => ExporterKind::Otlp,
                Some(v) => match v.to_ascii_lowercase().as_str() {
                    "otlp" => ExporterKind::Otlp,
                    "console" => ExporterKind::Console,
                    "none" => ExporterKind::None,
                    _ => {
                        return Err(invalid(
                            OTEL_TRACES_EXPORTER,
                            &v,
                            "one of otlp, console, none",
                        ));
                    }
                },
            },
        };

        let protocol = match code.protocol {
            Some(p) => p,
            None => match env.first(&[
                OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
                OTEL_EXPORTER_OTLP_PROTOCOL,
            ]) {
                None => Protocol::HttpProtobuf,
                Some((name, v)) => match v.to_ascii_lowercase().as_str() {
                    "grpc" => Protocol::Grpc,
                    "http/protobuf" => Protocol::HttpProtobuf,
                    "http/json" => Protocol::HttpJson,
                    _ => return Err(invalid(name, &v, "one of grpc, http/protobuf, http/json")),
                },
            },
        };

        let endpoint = match &code.endpoint {
            Some(e) => check_endpoint("otlp_endpoint", e)?,
            None => match env.get(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) {
                Some(v) => check_endpoint(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, &v)?,
                None => {
                    let base = match env.get(OTEL_EXPORTER_OTLP_ENDPOINT) {
                        Some(v) => check_endpoint(OTEL_EXPORTER_OTLP_ENDPOINT, &v)?,
                        None if protocol == Protocol::Grpc => "http://127.0.0.1:4317".to_owned(),
                        None => "http://127.0.0.1:4318".to_owned(),
                    };
                    if protocol == Protocol::Grpc {
                        base
                    } else {
                        format!("{}/v1/traces", base.trim_end_matches('/'))
                    }
                }
            },
        };

        let mut headers = match env.first(&[
            OTEL_EXPORTER_OTLP_TRACES_HEADERS,
            OTEL_EXPORTER_OTLP_HEADERS,
        ]) {
            Some((name, v)) => parse_pairs(name, &v)?,
            None => Vec::new(),
        };
        for (k, v) in &code.headers {
            headers.retain(|(ek, _)| !ek.eq_ignore_ascii_case(k));
            headers.push((k.clone(), v.clone()));
        }

        let timeout = match code.timeout {
            Some(t) => t,
            None => match env.first(&[
                OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
                OTEL_EXPORTER_OTLP_TIMEOUT,
            ]) {
                Some((name, v)) => parse_millis(name, &v)?,
                None => Duration::from_secs(10),
            },
        };

        let compression = match code.compression {
            Some(c) => c,
            None => match env.first(&[
                OTEL_EXPORTER_OTLP_TRACES_COMPRESSION,
                OTEL_EXPORTER_OTLP_COMPRESSION,
            ]) {
                None => Compression::None,
                Some((name, v)) => match v.to_ascii_lowercase().as_str() {
                    "gzip" => Compression::Gzip,
                    "none" => Compression::None,
                    _ => return Err(invalid(name, &v, "gzip or none")),
                },
            },
        };

        let sampler = match code.sampler {
            Some(s) => {
                if let Sampler::TraceIdRatio(r) | Sampler::ParentBasedTraceIdRatio(r) = s {
                    parse_ratio("sampler", &r.to_string())?;
                }
                s
            }
            None => {
                let ratio = || match env.get(OTEL_TRACES_SAMPLER_ARG) {
                    Some(v) => parse_ratio(OTEL_TRACES_SAMPLER_ARG, &v),
                    None => Ok(1.0),
                };
                match env.get(OTEL_TRACES_SAMPLER) {
                    None => Sampler::ParentBasedAlwaysOn,
                    Some(v) => match v.to_ascii_lowercase().as_str() {
                        "always_on" => Sampler::AlwaysOn,
                        "always_off" => Sampler::AlwaysOff,
                        "traceidratio" => Sampler::TraceIdRatio(ratio()?),
                        "parentbased_always_on" => Sampler::ParentBasedAlwaysOn,
                        "parentbased_always_off" => Sampler::ParentBasedAlwaysOff,
                        "parentbased_traceidratio" => Sampler::ParentBasedTraceIdRatio(ratio()?),
                        _ => return Err(invalid(OTEL_TRACES_SAMPLER, &v, Sampler::ACCEPTED)),
                    },
                }
            }
        };

        let propagators = match &code.propagators {
            Some(kinds) => Propagators::new(kinds.iter().copied()),
            None => match env.get(OTEL_PROPAGATORS) {
                Some(v) => Propagators::parse(&v).map_err(|_| {
                    invalid(
                        OTEL_PROPAGATORS,
                        &v,
                        format!("a comma list of {}", PropagatorKind::ACCEPTED),
                    )
                })?,
                None => Propagators::default(),
            },
        };

        let defaults = BatchConfig::default();
        let millis = |code: Option<Duration>, name: &'static str, default: Duration| match code {
            Some(d) => Ok(d),
            None => env
                .get(name)
                .map_or(Ok(default), |v| parse_millis(name, &v)),
        };
        let size =
            |code: Option<NonZeroUsize>, name: &'static str, default: NonZeroUsize| match code {
                Some(n) => Ok(n),
                None => env.get(name).map_or(Ok(default), |v| parse_size(name, &v)),
            };
        let max_queue_size = size(
            code.max_queue_size,
            OTEL_BSP_MAX_QUEUE_SIZE,
            defaults.max_queue_size,
        )?;
        let batch = BatchConfig {
            schedule_delay: millis(
                code.schedule_delay,
                OTEL_BSP_SCHEDULE_DELAY,
                defaults.schedule_delay,
            )?,
            export_timeout: millis(
                code.export_timeout,
                OTEL_BSP_EXPORT_TIMEOUT,
                defaults.export_timeout,
            )?,
            max_queue_size,
            // The spec says a batch larger than the queue is clamped to it.
            max_export_batch_size: size(
                code.max_export_batch_size,
                OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
                defaults.max_export_batch_size,
            )?
            .min(max_queue_size),
        };

        Ok(Self {
            enabled,
            service_name,
            resource_attributes,
            exporter,
            otlp: OtlpConfig {
                endpoint,
                protocol,
                headers,
                timeout,
                compression,
            },
            sampler,
            propagators,
            batch,
        })
    }
}
