//! RED metrics (rate, errors, duration) from the stored spans, in the shape of Jaeger's metrics
//! API (SPM), so Jaeger UI's Monitor tab reads them without a span-metrics pipeline or a
//! Prometheus server.
//!
//! Routes, parameters and errors follow Jaeger's query service (`cmd/query/app/http_handler.go`
//! and `query_parser.go`): `GET /api/metrics/latencies`, `/api/metrics/calls`,
//! `/api/metrics/errors` and `/api/metrics/minstep`, with
//!
//! - `service` (repeatable, required), `groupByOperation` (Go `strconv.ParseBool`),
//! - `spanKind` (repeatable; `SPAN_KIND_SERVER` as Jaeger's proto names it, or `server`,
//!   `client`, `internal`, `producer`, `consumer`, `unspecified`; default server),
//! - `endTs` (Unix milliseconds, default now), `lookback` (ms, default 1 h), `step` (ms, default
//!   5 s), `ratePer` (ms, default 10 min),
//! - `quantile` (latencies only, required, in `(0, 1]`).
//!
//! The body is the proto3 JSON of jaeger-idl's `MetricFamily` (`proto/api_v2/metrics/
//! openmetrics.proto`): `{name, type: "GAUGE", help, metrics: [{labels: [{name: "service_name",
//! ...}, {name: "operation", ...}], metricPoints: [{gaugeValue: {doubleValue}, timestamp}]}]}`,
//! with the names and help texts of Jaeger's Prometheus reader (`service_latencies`,
//! `service_operation_call_rate`, ...). Bad parameters get Jaeger's 400 envelope naming the
//! parameter; `/minstep` answers `{"data": 1}` (milliseconds), as the Prometheus reader does.
//!
//! Each point at time `t` (from `endTs - lookback` to `endTs` every `step`) summarizes the
//! matching spans that started in `(t - ratePer, t]`, like Prometheus' `rate(...[ratePer])`:
//! calls are calls per second over that window, errors the fraction of those calls with
//! status ERROR, latencies the quantile of their durations in milliseconds. Two deviations,
//! both because the spans themselves are at hand: the quantile is exact (linear interpolation
//! between the nearest ranks) instead of interpolated in histogram buckets, and a window
//! without calls has no latency or error point (Prometheus gives NaN) but a call rate of 0.
//!
//! With metrics switched off ([`crate::config::Config::metrics`], `--no-metrics`) the same
//! paths answer 501 with Jaeger's message for a disabled metrics store ([`disabled_routes`]).
//!
//! Bounds: at most [`MAX_POINTS`] points per series (more is a 400), at most [`MAX_TRACES`]
//! traces (newest first) and [`MAX_SPANS`] matching spans read per request, within a query
//! slot ([`super::stream::QueryLimiter`]) and the search deadline; so one request costs at most
//! `MAX_POINTS x MAX_SPANS` comparisons.

use std::collections::{BTreeMap, HashSet};

use axum::Json;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::model::{Envelope, EnvelopeError};
use super::params::QueryParams;
use super::stream::SEARCH_TIMEOUT;
use super::{QueryState, now_ns};
use crate::store::{Store, TraceQuery};
use crate::vocabulary::KIND_NAMES;

/// Default `lookback`: one hour, in milliseconds (Jaeger's default).
pub const DEFAULT_LOOKBACK_MS: u64 = 3_600_000;
/// Default `step`: five seconds, in milliseconds (Jaeger's default).
pub const DEFAULT_STEP_MS: u64 = 5_000;
/// Default `ratePer`: ten minutes, in milliseconds (Jaeger's default).
pub const DEFAULT_RATE_PER_MS: u64 = 600_000;
/// The smallest step served, in milliseconds (`/api/metrics/minstep`).
pub const MIN_STEP_MS: u64 = 1;
/// Most points one series may have (`lookback / step + 1`); more is a 400.
pub const MAX_POINTS: u64 = 2_000;
/// Most traces read per request, newest first.
pub const MAX_TRACES: usize = 10_000;
/// Most matching spans read per request.
pub const MAX_SPANS: usize = 50_000;

/// Routes of the metrics API (state: [`QueryState`]).
pub fn routes() -> Router<QueryState> {
    Router::new()
        .route("/api/metrics/latencies", get(latencies))
        .route("/api/metrics/calls", get(calls))
        .route("/api/metrics/errors", get(errors))
        .route("/api/metrics/minstep", get(min_step))
}

/// The message of Jaeger's disabled metrics store (`disabled.ErrDisabled`).
pub const DISABLED_MESSAGE: &str = "metrics querying is currently disabled";

/// The same paths answering 501 with [`DISABLED_MESSAGE`] in Jaeger's error envelope, as
/// Jaeger does without a metrics store; Jaeger UI's Monitor tab then shows its empty state.
pub fn disabled_routes() -> Router<QueryState> {
    let off = || async { fail(StatusCode::NOT_IMPLEMENTED, DISABLED_MESSAGE.to_owned()) };
    Router::new()
        .route("/api/metrics/latencies", get(off))
        .route("/api/metrics/calls", get(off))
        .route("/api/metrics/errors", get(off))
        .route("/api/metrics/minstep", get(off))
}

/// A metric family (jaeger-idl `openmetrics.proto` `MetricFamily`, proto3 JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricFamily {
    /// `service_latencies`, `service_operation_call_rate`, ...
    pub name: String,
    /// Always `GAUGE`.
    #[serde(rename = "type")]
    pub metric_type: String,
    /// What the values are, as Jaeger's Prometheus reader words it.
    pub help: String,
    /// One series per service (or service and operation).
    pub metrics: Vec<Metric>,
}

/// One series (`Metric`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// `service_name`, then `operation` when grouped by operation.
    pub labels: Vec<Label>,
    /// Points in time order.
    #[serde(rename = "metricPoints")]
    pub metric_points: Vec<MetricPoint>,
}

/// A label (`Label`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// Label name.
    pub name: String,
    /// Label value.
    pub value: String,
}

/// A point (`MetricPoint` with a `gaugeValue`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricPoint {
    /// The value.
    #[serde(rename = "gaugeValue")]
    pub gauge_value: GaugeValue,
    /// RFC 3339 UTC time with milliseconds when not whole (proto `Timestamp` JSON).
    pub timestamp: String,
}

/// A gauge value (`GaugeValue`, its `double_value` case).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GaugeValue {
    /// The value.
    #[serde(rename = "doubleValue")]
    pub double_value: f64,
}

/// Which metric a request asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measure {
    /// The `quantile` of durations, in milliseconds.
    Latency(f64),
    /// Calls per second.
    Calls,
    /// Fraction of calls with status ERROR.
    Errors,
}

/// The parameters every metrics request shares (Jaeger's `BaseQueryParameters`).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsQuery {
    /// Services, as given.
    pub services: Vec<String>,
    /// One series per operation instead of per service.
    pub group_by_operation: bool,
    /// Span kinds counted (OTLP numbering, 0 for unspecified).
    pub span_kinds: Vec<u8>,
    /// End of the range, Unix milliseconds.
    pub end_ms: u64,
    /// Length of the range, milliseconds.
    pub lookback_ms: u64,
    /// Distance between points, milliseconds.
    pub step_ms: u64,
    /// Window each point summarizes, milliseconds.
    pub rate_per_ms: u64,
}

impl MetricsQuery {
    /// Parses the shared parameters; `Err` is the 400 message.
    pub fn parse(q: &QueryParams, now_ms: u64) -> Result<Self, String> {
        let services: Vec<String> = q.all("service").map(str::to_owned).collect();
        if services.is_empty() {
            return Err(
                "unable to parse param 'service': please provide at least one service name".into(),
            );
        }
        let group_by_operation = match q.get("groupByOperation") {
            None => false,
            Some(v) => parse_go_bool(v).ok_or_else(|| {
                format!(
                    "unable to parse param 'groupByOperation': strconv.ParseBool: parsing {v:?}: \
                     invalid syntax"
                )
            })?,
        };
        let mut span_kinds = Vec::new();
        for kind in q.all("spanKind") {
            span_kinds.push(parse_metrics_span_kind(kind).ok_or_else(|| {
                format!(
                    "unable to parse param 'spanKind': unsupported span kind: '{kind}'; accepted \
                     SPAN_KIND_UNSPECIFIED, SPAN_KIND_INTERNAL, SPAN_KIND_SERVER, \
                     SPAN_KIND_CLIENT, SPAN_KIND_PRODUCER, SPAN_KIND_CONSUMER or the same in \
                     lower case without the prefix"
                )
            })?);
        }
        if span_kinds.is_empty() {
            span_kinds.push(2);
        }
        let end_ms = parse_ms(q, "endTs")?.unwrap_or(now_ms);
        let lookback_ms = parse_ms(q, "lookback")?.unwrap_or(DEFAULT_LOOKBACK_MS);
        let step_ms = parse_ms(q, "step")?.unwrap_or(DEFAULT_STEP_MS);
        let rate_per_ms = parse_ms(q, "ratePer")?.unwrap_or(DEFAULT_RATE_PER_MS);
        if step_ms < MIN_STEP_MS {
            return Err(format!(
                "unable to parse param 'step': {step_ms} is below the minimum step of \
                 {MIN_STEP_MS} ms"
            ));
        }
        if rate_per_ms == 0 {
            return Err("unable to parse param 'ratePer': must be at least 1 ms".into());
        }
        let points = lookback_ms / step_ms + 1;
        if points > MAX_POINTS {
            return Err(format!(
                "'lookback' {lookback_ms} ms over 'step' {step_ms} ms gives {points} points; at \
                 most {MAX_POINTS} per series: raise 'step' or shorten 'lookback'"
            ));
        }
        Ok(MetricsQuery {
            services,
            group_by_operation,
            span_kinds,
            end_ms,
            lookback_ms,
            step_ms,
            rate_per_ms,
        })
    }

    fn start_ms(&self) -> u64 {
        self.end_ms.saturating_sub(self.lookback_ms)
    }

    /// Earliest span start any point looks at, in milliseconds.
    fn window_start_ms(&self) -> u64 {
        self.start_ms().saturating_sub(self.rate_per_ms)
    }
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// `SPAN_KIND_SERVER` (Jaeger's proto enum) or `server` (Jaeger UI's and `/api/operations`'
/// naming) to the OTLP number; `unspecified` is 0.
pub fn parse_metrics_span_kind(s: &str) -> Option<u8> {
    let name = s
        .strip_prefix("SPAN_KIND_")
        .map_or_else(|| s.to_owned(), |rest| rest.to_ascii_lowercase());
    if name == "unspecified" {
        return Some(0);
    }
    KIND_NAMES
        .iter()
        .position(|k| !k.is_empty() && *k == name)
        .map(|i| i as u8)
}

fn parse_ms(q: &QueryParams, name: &str) -> Result<Option<u64>, String> {
    match q.get(name) {
        None => Ok(None),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => Ok(Some(n as u64)),
            Ok(n) => Err(format!(
                "unable to parse param '{name}': {n} is negative; milliseconds expected"
            )),
            Err(_) => Err(format!(
                "unable to parse param '{name}': strconv.ParseInt: parsing {v:?}: invalid syntax"
            )),
        },
    }
}

/// One matching span.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Start, Unix milliseconds (fractional).
    pub start_ms: f64,
    /// Duration, milliseconds.
    pub duration_ms: f64,
    /// Status ERROR.
    pub error: bool,
}

/// Spans grouped by series: `(service, operation)` (operation empty unless grouped).
pub type Series = BTreeMap<(String, String), Vec<Sample>>;

/// Reads the matching spans from the store within the bounds of the module docs; `None` when
/// the search deadline passed.
pub fn collect(store: &Store, query: &MetricsQuery) -> Option<Series> {
    let deadline = std::time::Instant::now() + SEARCH_TIMEOUT;
    let from_us = query.window_start_ms().saturating_mul(1000);
    let to_us = query.end_ms.saturating_mul(1000);
    let wanted: HashSet<&str> = query.services.iter().map(String::as_str).collect();
    let mut ids = Vec::new();
    let mut seen = HashSet::new();
    for service in &wanted {
        let search = TraceQuery {
            service: Some((*service).to_owned()),
            start_min_ns: Some(from_us.saturating_mul(1000)),
            start_max_ns: Some(to_us.saturating_mul(1000)),
            limit: MAX_TRACES,
            ..TraceQuery::default()
        };
        for id in store.search_ids(&search, Some(deadline))? {
            if seen.insert(id) {
                ids.push(id);
            }
        }
    }
    ids.truncate(MAX_TRACES);
    let mut series = Series::new();
    let mut spans = 0usize;
    'traces: for id in ids {
        if std::time::Instant::now() >= deadline {
            return None;
        }
        let Some(stored) = store.trace(id) else {
            continue;
        };
        // Converted a chunk at a time (as responses are streamed), keeping only what a sample
        // needs; the process of each span is resolved to its service once the trace is done.
        let mut converter = super::convert::JaegerSpans::new(store, stored.trace_id);
        let mut kept: Vec<(String, String, Sample)> = Vec::new();
        for chunk in stored.span_chunks(super::stream::CONVERT_SPANS) {
            for span in converter.convert(chunk) {
                if span.start_time < from_us || span.start_time > to_us {
                    continue;
                }
                let mut kind = 0u8;
                let mut error = false;
                for tag in &span.tags {
                    match tag.key.as_str() {
                        "span.kind" => {
                            kind = tag
                                .value
                                .as_str()
                                .and_then(parse_metrics_span_kind)
                                .unwrap_or(0);
                        }
                        "error" => error = tag.value.as_bool() == Some(true),
                        _ => {}
                    }
                }
                if !query.span_kinds.contains(&kind) {
                    continue;
                }
                let operation = if query.group_by_operation {
                    span.operation_name
                } else {
                    String::new()
                };
                kept.push((
                    span.process_id,
                    operation,
                    Sample {
                        start_ms: span.start_time as f64 / 1000.0,
                        duration_ms: span.duration as f64 / 1000.0,
                        error,
                    },
                ));
            }
        }
        let processes = converter.into_processes();
        for (process_id, operation, sample) in kept {
            let Some(process) = processes.get(&process_id) else {
                continue;
            };
            if !wanted.contains(process.service_name.as_str()) {
                continue;
            }
            series
                .entry((process.service_name.clone(), operation))
                .or_default()
                .push(sample);
            spans += 1;
            if spans >= MAX_SPANS {
                break 'traces;
            }
        }
    }
    Some(series)
}

/// Computes the family of `measure` over `series` at the points of `query`.
pub fn compute(measure: Measure, query: &MetricsQuery, mut series: Series) -> MetricFamily {
    let (mut name, mut help) = match measure {
        Measure::Latency(q) => (
            "service_latencies".to_owned(),
            format!("{q:.2}th quantile latency, grouped by service"),
        ),
        Measure::Calls => (
            "service_call_rate".to_owned(),
            "calls/sec, grouped by service".to_owned(),
        ),
        Measure::Errors => (
            "service_error_rate".to_owned(),
            "error rate, computed as a fraction of errors/sec over calls/sec, grouped by service"
                .to_owned(),
        ),
    };
    if query.group_by_operation {
        name = name.replacen("service", "service_operation", 1);
        help.push_str(" & operation");
    }
    let start = query.start_ms();
    let points = query.lookback_ms / query.step_ms + 1;
    let rate_per = query.rate_per_ms as f64;
    let mut metrics = Vec::with_capacity(series.len());
    let mut window = Vec::new();
    for ((service, operation), samples) in &mut series {
        samples.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
        let mut metric_points = Vec::new();
        for k in 0..points {
            let t = start + k * query.step_ms;
            if t > query.end_ms {
                break;
            }
            let (tf, from) = (t as f64, t as f64 - rate_per);
            let lo = samples.partition_point(|s| s.start_ms <= from);
            let hi = samples.partition_point(|s| s.start_ms <= tf);
            let in_window = &samples[lo..hi];
            let value = match measure {
                Measure::Calls => Some(in_window.len() as f64 * 1000.0 / rate_per),
                _ if in_window.is_empty() => None,
                Measure::Errors => Some(
                    in_window.iter().filter(|s| s.error).count() as f64 / in_window.len() as f64,
                ),
                Measure::Latency(q) => {
                    window.clear();
                    window.extend(in_window.iter().map(|s| s.duration_ms));
                    Some(quantile(&mut window, q))
                }
            };
            if let Some(value) = value {
                metric_points.push(MetricPoint {
                    gauge_value: GaugeValue {
                        double_value: value,
                    },
                    timestamp: timestamp(t),
                });
            }
        }
        let mut labels = vec![Label {
            name: "service_name".into(),
            value: service.clone(),
        }];
        if query.group_by_operation {
            labels.push(Label {
                name: "operation".into(),
                value: operation.clone(),
            });
        }
        metrics.push(Metric {
            labels,
            metric_points,
        });
    }
    MetricFamily {
        name,
        metric_type: "GAUGE".into(),
        help,
        metrics,
    }
}

/// The `q` quantile of `values` (not empty), linearly interpolated between the nearest ranks.
fn quantile(values: &mut [f64], q: f64) -> f64 {
    let h = (values.len() - 1) as f64 * q;
    let lower = h.floor() as usize;
    let (_, &mut low, rest) = values.select_nth_unstable_by(lower, f64::total_cmp);
    let high = rest.iter().copied().fold(f64::INFINITY, f64::min);
    if rest.is_empty() {
        low
    } else {
        low + (h - lower as f64) * (high - low)
    }
}

/// Unix milliseconds as proto `Timestamp` JSON: RFC 3339 UTC, `.mmm` when not whole seconds.
pub fn timestamp(ms: u64) -> String {
    let whole = crate::files::cli::rfc3339(ms / 1000);
    match ms % 1000 {
        0 => whole,
        frac => format!("{}.{frac:03}Z", whole.trim_end_matches('Z')),
    }
}

fn fail(status: StatusCode, msg: String) -> Response {
    let body: Envelope<()> = Envelope {
        data: None,
        total: 0,
        limit: 0,
        offset: 0,
        errors: Some(vec![EnvelopeError {
            code: status.as_u16(),
            msg,
            trace_id: None,
        }]),
    };
    (status, Json(body)).into_response()
}

/// The family a metrics request asks for: `measure`, or latencies at the request's `quantile`
/// when `None`; `Err` is the status and message to answer.
pub(crate) async fn family(
    state: &QueryState,
    raw: Option<&str>,
    measure: Option<Measure>,
) -> Result<MetricFamily, (StatusCode, String)> {
    let q = QueryParams::parse(raw);
    let bad = |msg| (StatusCode::BAD_REQUEST, msg);
    let measure = match measure {
        Some(m) => m,
        None => {
            let v = q.get("quantile").unwrap_or("");
            let quantile = v.parse::<f64>().map_err(|_| {
                bad(format!(
                    "unable to parse param 'quantile': strconv.ParseFloat: parsing {v:?}: invalid \
                     syntax"
                ))
            })?;
            if !(quantile > 0.0 && quantile <= 1.0) {
                return Err(bad(format!(
                    "unable to parse param 'quantile': {v} is outside (0, 1]"
                )));
            }
            Measure::Latency(quantile)
        }
    };
    let query = MetricsQuery::parse(&q, now_ns() / 1_000_000).map_err(bad)?;
    metrics_for(state, measure, query).await
}

/// Reads and computes `measure` for a parsed query within a query slot.
pub(crate) async fn metrics_for(
    state: &QueryState,
    measure: Measure,
    query: MetricsQuery,
) -> Result<MetricFamily, (StatusCode, String)> {
    let permit = state
        .limiter
        .acquire()
        .await
        .map_err(|busy| (StatusCode::SERVICE_UNAVAILABLE, busy.message()))?;
    let store = state.store.clone();
    let result = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        collect(&store, &query).map(|series| compute(measure, &query, series))
    })
    .await;
    match result {
        Ok(Some(family)) => Ok(family),
        Ok(None) => Err((
            StatusCode::SERVICE_UNAVAILABLE,
            super::rest_handler::search_timeout_message(),
        )),
        Err(e) => Err((StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

async fn latencies(State(state): State<QueryState>, RawQuery(raw): RawQuery) -> Response {
    respond(family(&state, raw.as_deref(), None).await)
}

async fn calls(State(state): State<QueryState>, RawQuery(raw): RawQuery) -> Response {
    respond(family(&state, raw.as_deref(), Some(Measure::Calls)).await)
}

async fn errors(State(state): State<QueryState>, RawQuery(raw): RawQuery) -> Response {
    respond(family(&state, raw.as_deref(), Some(Measure::Errors)).await)
}

fn respond(result: Result<MetricFamily, (StatusCode, String)>) -> Response {
    match result {
        Ok(family) => Json(family).into_response(),
        Err((status, msg)) => fail(status, msg),
    }
}

async fn min_step() -> Response {
    Json(Envelope {
        data: Some(MIN_STEP_MS),
        total: 0,
        limit: 0,
        offset: 0,
        errors: None,
    })
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(raw: &str) -> Result<MetricsQuery, String> {
        MetricsQuery::parse(&QueryParams::parse(Some(raw)), 1_700_000_000_000)
    }

    #[test]
    fn defaults_follow_jaeger() {
        let q = query("service=a").unwrap();
        assert_eq!(q.end_ms, 1_700_000_000_000);
        assert_eq!(q.lookback_ms, 3_600_000);
        assert_eq!(q.step_ms, 5_000);
        assert_eq!(q.rate_per_ms, 600_000);
        assert_eq!(q.span_kinds, vec![2]);
        assert!(!q.group_by_operation);
    }

    #[test]
    fn span_kinds_accept_both_namings() {
        let q = query("service=a&spanKind=SPAN_KIND_CLIENT&spanKind=consumer&spanKind=unspecified")
            .unwrap();
        assert_eq!(q.span_kinds, vec![3, 5, 0]);
        let err = query("service=a&spanKind=sideways").unwrap_err();
        assert!(
            err.contains("'spanKind'") && err.contains("sideways"),
            "{err}"
        );
    }

    #[test]
    fn bad_parameters_name_themselves() {
        assert!(query("").unwrap_err().contains("'service'"));
        assert!(query("service=a&step=x").unwrap_err().contains("'step'"));
        assert!(
            query("service=a&groupByOperation=yes")
                .unwrap_err()
                .contains("'groupByOperation'")
        );
        assert!(
            query("service=a&step=1&lookback=3600000")
                .unwrap_err()
                .contains("at most 2000")
        );
    }

    #[test]
    fn quantiles_interpolate_between_ranks() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&mut v, 0.5), 50.5);
        assert_eq!(quantile(&mut v, 1.0), 100.0);
        assert!((quantile(&mut v, 0.95) - 95.05).abs() < 1e-9);
        assert_eq!(quantile(&mut [7.0], 0.99), 7.0);
    }

    #[test]
    fn timestamps_are_rfc3339_with_milliseconds() {
        assert_eq!(timestamp(1_631_271_823_806), "2021-09-10T11:03:43.806Z");
        assert_eq!(timestamp(1_700_000_000_000), "2023-11-14T22:13:20Z");
    }
}
