//! Sampling strategies for Jaeger clients, read from a file in Jaeger's strategies format
//! (`--sampling-strategies FILE`, what `jaeger-collector --sampling.strategies-file` reads) and
//! served on the sampling port ([`super::sampling`]) and on the gRPC port
//! ([`super::jaeger_grpc`], `SamplingManager/GetSamplingStrategy`).
//!
//! # The file
//! ```json
//! {
//!   "default_strategy": {
//!     "type": "probabilistic", "param": 0.5,
//!     "operation_strategies": [{"operation": "/health", "type": "probabilistic", "param": 0.0}]
//!   },
//!   "service_strategies": [
//!     {"service": "orders", "type": "ratelimiting", "param": 10},
//!     {"service": "cart", "type": "probabilistic", "param": 1.0,
//!      "default_lower_bound_traces_per_second": 0.5,
//!      "operation_strategies": [{"operation": "GET /cart", "type": "probabilistic", "param": 0.1}]}
//!   ]
//! }
//! ```
//! - `type` is `probabilistic` (`param`: the probability, 0 to 1) or `ratelimiting` (`param`:
//!   traces per second, a whole number from 0 to 2147483647); an operation strategy can only be
//!   `probabilistic` (Jaeger's clients know no other per-operation kind).
//! - `default_lower_bound_traces_per_second` (optional, default 0 as in Jaeger, which has no key
//!   for it: an addition here) is the per-operation lower bound clients apply on top of the
//!   operation probabilities.
//! - Both top-level keys are optional. Without `default_strategy` (and without a file), every
//!   service gets [`DEFAULT_SAMPLING_RATE`]: probabilistic 1.0, since on a developer's machine
//!   seeing every trace is the point (Jaeger's own default is 0.001).
//!
//! Parsing is strict where Jaeger's is lenient: an unknown key, a missing `type`, `param`,
//! `service` or `operation`, a value out of range, a service or operation named twice, or a
//! file over [`MAX_FILE_BYTES`] is an error naming the key or value and what is accepted,
//! instead of a warning and a silent fallback.
//!
//! # What a service is told
//! As Jaeger's file-based strategy store resolves it: a service's own strategy, else the
//! default. A strategy with operation strategies answers `operationSampling` (the operation
//! probabilities, `defaultSamplingProbability` = its own probability, or 0.001 when it is a
//! rate limit, as in Jaeger). The default's operation strategies reach the services too: a
//! probabilistic service without operations of its own gets the default's operations with its
//! own probability as `defaultSamplingProbability`, and a service with operations of its own
//! gets the default's operations it does not name.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::r#gen::jaeger_api_v2 as api_v2;

/// The probability every service is told to sample with when no strategy says otherwise.
pub const DEFAULT_SAMPLING_RATE: f64 = 1.0;

/// Largest strategies file read.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// `defaultSamplingProbability` of a rate-limited strategy with operation strategies (Jaeger's
/// `DefaultSamplingProbability`).
const JAEGER_DEFAULT_PROBABILITY: f64 = 0.001;

/// Why a strategies file was refused.
#[derive(Debug, thiserror::Error)]
pub enum StrategiesError {
    /// The file could not be read.
    #[error("cannot read the sampling strategies file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_FILE_BYTES`].
    #[error(
        "the sampling strategies file {path} has {len} bytes; at most {MAX_FILE_BYTES} are read"
    )]
    TooLarge {
        /// The file.
        path: String,
        /// Its length.
        len: u64,
    },
    /// The content is not a strategies document.
    #[error("invalid sampling strategies{}: {detail}", origin.as_deref().map(|p| format!(" in {p}")).unwrap_or_default())]
    Invalid {
        /// The file, when read from one.
        origin: Option<String>,
        /// What is wrong, naming the key or value and what is accepted.
        detail: String,
    },
}

/// The strategy answered to one service: `SamplingStrategyResponse` of jaeger-idl, with the
/// field names and enum names the clients parse from JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StrategyResponse {
    /// `PROBABILISTIC` or `RATE_LIMITING` (`PROBABILISTIC` with `operation_sampling`).
    pub strategy_type: StrategyType,
    /// The probability, for a probabilistic strategy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probabilistic_sampling: Option<Probabilistic>,
    /// The rate, for a rate-limiting strategy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limiting_sampling: Option<RateLimiting>,
    /// Per-operation probabilities, when the strategy has operation strategies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_sampling: Option<PerOperation>,
}

/// `SamplingStrategyType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum StrategyType {
    /// Sample each trace with a probability.
    #[serde(rename = "PROBABILISTIC")]
    Probabilistic,
    /// Sample up to a number of traces per second.
    #[serde(rename = "RATE_LIMITING")]
    RateLimiting,
}

/// `ProbabilisticSamplingStrategy`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Probabilistic {
    /// Probability from 0 to 1.
    pub sampling_rate: f64,
}

/// `RateLimitingSamplingStrategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimiting {
    /// Traces per second.
    pub max_traces_per_second: i32,
}

/// `PerOperationSamplingStrategies`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PerOperation {
    /// Probability of operations not listed.
    pub default_sampling_probability: f64,
    /// Lower bound of traces per second for every operation.
    pub default_lower_bound_traces_per_second: f64,
    /// The operations listed.
    pub per_operation_strategies: Vec<OperationStrategy>,
}

/// `OperationSamplingStrategy`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationStrategy {
    /// The operation (span name).
    pub operation: String,
    /// Its probability.
    pub probabilistic_sampling: Probabilistic,
}

impl StrategyResponse {
    /// A probabilistic strategy.
    pub fn probabilistic(rate: f64) -> Self {
        StrategyResponse {
            strategy_type: StrategyType::Probabilistic,
            probabilistic_sampling: Some(Probabilistic {
                sampling_rate: rate,
            }),
            rate_limiting_sampling: None,
            operation_sampling: None,
        }
    }

    /// The same strategy as the protobuf message of `SamplingManager/GetSamplingStrategy`.
    pub fn to_proto(&self) -> api_v2::SamplingStrategyResponse {
        api_v2::SamplingStrategyResponse {
            strategy_type: match self.strategy_type {
                StrategyType::Probabilistic => api_v2::SamplingStrategyType::Probabilistic,
                StrategyType::RateLimiting => api_v2::SamplingStrategyType::RateLimiting,
            } as i32,
            probabilistic_sampling: self.probabilistic_sampling.map(|p| {
                api_v2::ProbabilisticSamplingStrategy {
                    sampling_rate: p.sampling_rate,
                }
            }),
            rate_limiting_sampling: self.rate_limiting_sampling.map(|r| {
                api_v2::RateLimitingSamplingStrategy {
                    max_traces_per_second: r.max_traces_per_second,
                }
            }),
            operation_sampling: self.operation_sampling.as_ref().map(|o| {
                api_v2::PerOperationSamplingStrategies {
                    default_sampling_probability: o.default_sampling_probability,
                    default_lower_bound_traces_per_second: o.default_lower_bound_traces_per_second,
                    per_operation_strategies: o
                        .per_operation_strategies
                        .iter()
                        .map(|s| api_v2::OperationSamplingStrategy {
                            operation: s.operation.clone(),
                            probabilistic_sampling: Some(api_v2::ProbabilisticSamplingStrategy {
                                sampling_rate: s.probabilistic_sampling.sampling_rate,
                            }),
                        })
                        .collect(),
                    default_upper_bound_traces_per_second: 0.0,
                }
            }),
        }
    }
}

/// The strategies in force: a default and one per named service.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingStrategies {
    default: StrategyResponse,
    services: HashMap<String, StrategyResponse>,
}

impl Default for SamplingStrategies {
    /// Every service: probabilistic [`DEFAULT_SAMPLING_RATE`].
    fn default() -> Self {
        SamplingStrategies {
            default: StrategyResponse::probabilistic(DEFAULT_SAMPLING_RATE),
            services: HashMap::new(),
        }
    }
}

// The file's shape (Jaeger's `strategies`, `serviceStrategy`, `operationStrategy`), strict.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileStrategies {
    default_strategy: Option<FileStrategy>,
    service_strategies: Option<Vec<FileServiceStrategy>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileStrategy {
    r#type: String,
    param: f64,
    operation_strategies: Option<Vec<FileOperationStrategy>>,
    default_lower_bound_traces_per_second: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileServiceStrategy {
    service: String,
    r#type: String,
    param: f64,
    operation_strategies: Option<Vec<FileOperationStrategy>>,
    default_lower_bound_traces_per_second: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileOperationStrategy {
    operation: String,
    r#type: String,
    param: f64,
}

impl SamplingStrategies {
    /// Reads a strategies file (see the module docs for the format).
    pub fn from_file(path: &Path) -> Result<Self, StrategiesError> {
        let shown = path.display().to_string();
        let read = |source| StrategiesError::Read {
            path: shown.clone(),
            source,
        };
        let len = std::fs::metadata(path).map_err(read)?.len();
        if len > MAX_FILE_BYTES {
            return Err(StrategiesError::TooLarge { path: shown, len });
        }
        let text = std::fs::read(path).map_err(read)?;
        Self::from_json(&text).map_err(|e| match e {
            StrategiesError::Invalid { detail, .. } => StrategiesError::Invalid {
                origin: Some(shown),
                detail,
            },
            other => other,
        })
    }

    /// Parses a strategies document (see the module docs for the format).
    pub fn from_json(json: &[u8]) -> Result<Self, StrategiesError> {
        let invalid = |detail: String| StrategiesError::Invalid {
            origin: None,
            detail,
        };
        // serde would take a struct as an array of its fields; the format has objects only.
        let value: serde_json::Value =
            serde_json::from_slice(json).map_err(|e| invalid(e.to_string()))?;
        objects_only(&value, "the document").map_err(invalid)?;
        let file: FileStrategies =
            serde_json::from_slice(json).map_err(|e| invalid(e.to_string()))?;
        let default = match &file.default_strategy {
            Some(s) => strategy(
                "default_strategy",
                &s.r#type,
                s.param,
                s.operation_strategies.as_deref(),
                s.default_lower_bound_traces_per_second,
            )
            .map_err(invalid)?,
            None => StrategyResponse::probabilistic(DEFAULT_SAMPLING_RATE),
        };
        let mut services = HashMap::new();
        for (i, s) in file.service_strategies.iter().flatten().enumerate() {
            let at = format!("service_strategies[{i}] (service {:?})", s.service);
            let mut resolved = strategy(
                &at,
                &s.r#type,
                s.param,
                s.operation_strategies.as_deref(),
                s.default_lower_bound_traces_per_second,
            )
            .map_err(invalid)?;
            inherit_operations(&mut resolved, &default);
            if services.insert(s.service.clone(), resolved).is_some() {
                return Err(invalid(format!(
                    "{at}: service {:?} is named twice; each service has one strategy",
                    s.service
                )));
            }
        }
        Ok(SamplingStrategies { default, services })
    }

    /// The strategy for `service` (its own, else the default).
    pub fn for_service(&self, service: &str) -> &StrategyResponse {
        self.services.get(service).unwrap_or(&self.default)
    }
}

/// Checks that `value` (named `at`) is an object, and so is every strategy under it (serde
/// reports the other shape errors, and unknown keys).
fn objects_only(value: &serde_json::Value, at: &str) -> Result<(), String> {
    let Some(object) = value.as_object() else {
        return Err(format!("{at} is {}; accepted: an object", json_kind(value)));
    };
    for (key, value) in object {
        match (key.as_str(), value) {
            ("service_strategies" | "operation_strategies", serde_json::Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    objects_only(item, &format!("{key}[{i}]"))?;
                }
            }
            ("default_strategy", serde_json::Value::Array(_)) => {
                return Err(format!("{key} is an array; accepted: an object"));
            }
            ("default_strategy", serde_json::Value::Object(_)) => objects_only(value, key)?,
            _ => {}
        }
    }
    Ok(())
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Resolves one strategy of the file; `at` names it in errors.
fn strategy(
    at: &str,
    kind: &str,
    param: f64,
    operations: Option<&[FileOperationStrategy]>,
    lower_bound: Option<f64>,
) -> Result<StrategyResponse, String> {
    let mut response = match kind {
        "probabilistic" => StrategyResponse::probabilistic(probability(at, param)?),
        "ratelimiting" => {
            if !(param.is_finite() && param >= 0.0 && param <= f64::from(i32::MAX))
                || param.fract() != 0.0
            {
                return Err(format!(
                    "{at}: param {param} is not a rate limit; a ratelimiting param is a whole \
                     number of traces per second from 0 to {}",
                    i32::MAX
                ));
            }
            StrategyResponse {
                strategy_type: StrategyType::RateLimiting,
                probabilistic_sampling: None,
                rate_limiting_sampling: Some(RateLimiting {
                    max_traces_per_second: param as i32,
                }),
                operation_sampling: None,
            }
        }
        other => {
            return Err(format!(
                "{at}: type {other:?} is not a strategy type; accepted: \"probabilistic\", \
                 \"ratelimiting\""
            ));
        }
    };
    let lower_bound = match lower_bound {
        Some(b) if !(b.is_finite() && b >= 0.0) => {
            return Err(format!(
                "{at}: default_lower_bound_traces_per_second {b} is not a rate; accepted: a \
                 number of traces per second, 0 or more"
            ));
        }
        Some(b) => b,
        None => 0.0,
    };
    let Some(operations) = operations.filter(|o| !o.is_empty()) else {
        return Ok(response);
    };
    let mut seen = HashSet::new();
    let mut per_operation = Vec::with_capacity(operations.len());
    for (j, op) in operations.iter().enumerate() {
        let op_at = format!(
            "{at}: operation_strategies[{j}] (operation {:?})",
            op.operation
        );
        if op.r#type != "probabilistic" {
            return Err(format!(
                "{op_at}: type {:?} is not accepted for an operation; accepted: \"probabilistic\" \
                 (clients apply no other kind per operation)",
                op.r#type
            ));
        }
        if !seen.insert(op.operation.as_str()) {
            return Err(format!(
                "{op_at}: operation {:?} is named twice in one strategy",
                op.operation
            ));
        }
        per_operation.push(OperationStrategy {
            operation: op.operation.clone(),
            probabilistic_sampling: Probabilistic {
                sampling_rate: probability(&op_at, op.param)?,
            },
        });
    }
    response.operation_sampling = Some(PerOperation {
        default_sampling_probability: response
            .probabilistic_sampling
            .map_or(JAEGER_DEFAULT_PROBABILITY, |p| p.sampling_rate),
        default_lower_bound_traces_per_second: lower_bound,
        per_operation_strategies: per_operation,
    });
    Ok(response)
}

fn probability(at: &str, param: f64) -> Result<f64, String> {
    if (0.0..=1.0).contains(&param) {
        Ok(param)
    } else {
        Err(format!(
            "{at}: param {param} is not a probability; a probabilistic param is from 0 to 1"
        ))
    }
}

/// Jaeger's merge of the default's operation strategies into a service's strategy.
fn inherit_operations(service: &mut StrategyResponse, default: &StrategyResponse) {
    let Some(defaults) = &default.operation_sampling else {
        return;
    };
    match &mut service.operation_sampling {
        Some(own) => {
            let named: HashSet<String> = own
                .per_operation_strategies
                .iter()
                .map(|s| s.operation.clone())
                .collect();
            own.per_operation_strategies.extend(
                defaults
                    .per_operation_strategies
                    .iter()
                    .filter(|s| !named.contains(&s.operation))
                    .cloned(),
            );
        }
        None => {
            if let Some(p) = service.probabilistic_sampling {
                service.operation_sampling = Some(PerOperation {
                    default_sampling_probability: p.sampling_rate,
                    ..defaults.clone()
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<SamplingStrategies, String> {
        SamplingStrategies::from_json(json.as_bytes()).map_err(|e| e.to_string())
    }

    #[test]
    fn services_inherit_the_default_operations_as_jaeger_merges_them() {
        let s = parse(
            r#"{"default_strategy": {"type": "probabilistic", "param": 0.5,
                  "operation_strategies": [{"operation": "a", "type": "probabilistic", "param": 0.1},
                                           {"operation": "b", "type": "probabilistic", "param": 0.2}]},
                "service_strategies": [
                  {"service": "plain", "type": "probabilistic", "param": 0.9},
                  {"service": "own", "type": "probabilistic", "param": 0.3,
                   "operation_strategies": [{"operation": "b", "type": "probabilistic", "param": 1}]},
                  {"service": "rated", "type": "ratelimiting", "param": 5}]}"#,
        )
        .unwrap();
        let plain = s.for_service("plain").operation_sampling.as_ref().unwrap();
        assert_eq!(plain.default_sampling_probability, 0.9);
        assert_eq!(plain.per_operation_strategies.len(), 2);
        let own = s.for_service("own").operation_sampling.as_ref().unwrap();
        let rates: Vec<(&str, f64)> = own
            .per_operation_strategies
            .iter()
            .map(|o| (o.operation.as_str(), o.probabilistic_sampling.sampling_rate))
            .collect();
        assert_eq!(rates, [("b", 1.0), ("a", 0.1)]);
        let rated = s.for_service("rated");
        assert_eq!(rated.operation_sampling, None);
        assert_eq!(
            rated.rate_limiting_sampling.unwrap().max_traces_per_second,
            5
        );
        assert_eq!(
            s.for_service("other")
                .probabilistic_sampling
                .unwrap()
                .sampling_rate,
            0.5
        );
    }

    #[test]
    fn an_empty_document_serves_the_developer_default() {
        assert_eq!(parse("{}").unwrap(), SamplingStrategies::default());
    }
}
