//! Sampling strategies for Jaeger clients (the seed's port 5778), as `jaeger-agent` serves them:
//! `GET /sampling?service=NAME` (and the older `GET /?service=NAME`) answer
//! `SamplingStrategyResponse` from jaegertracing/jaeger-idl `thrift/sampling.thrift` in JSON, with
//! enum names as strings, which is what the Python, Node and Java `jaeger-client`s parse:
//!
//! ```json
//! {"strategyType": "PROBABILISTIC", "probabilisticSampling": {"samplingRate": 1.0}}
//! ```
//!
//! Every service gets the same probabilistic strategy, [`DEFAULT_SAMPLING_RATE`]: this collector
//! is for one machine, where seeing every trace is the point. Without a `service` parameter the
//! answer is 400, as from `jaeger-agent`.

use axum::Router;
use axum::extract::RawQuery;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::StatusCode;
use serde::Serialize;

use super::receiver::plain;

/// The sampling port of `jaeger-agent`.
pub const DEFAULT_SAMPLING_PORT: u16 = 5778;

/// The probability every service is told to sample with.
pub const DEFAULT_SAMPLING_RATE: f64 = 1.0;

/// Path Jaeger clients poll.
pub const SAMPLING_PATH: &str = "/sampling";

/// `SamplingStrategyResponse` (jaeger-idl `thrift/sampling.thrift`), the probabilistic case.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct StrategyResponse {
    strategy_type: &'static str,
    probabilistic_sampling: Probabilistic,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Probabilistic {
    sampling_rate: f64,
}

/// The sampling router (`GET /sampling?service=`, `GET /?service=`).
pub fn router() -> Router {
    Router::new()
        .route(SAMPLING_PATH, get(strategy))
        .route("/", get(strategy))
}

async fn strategy(RawQuery(query): RawQuery) -> Response {
    let services = query
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| pair.split('=').next() == Some("service"))
        .count();
    if services != 1 {
        return plain(
            StatusCode::BAD_REQUEST,
            "'service' parameter must be provided once".to_owned(),
        );
    }
    axum::Json(StrategyResponse {
        strategy_type: "PROBABILISTIC",
        probabilistic_sampling: Probabilistic {
            sampling_rate: DEFAULT_SAMPLING_RATE,
        },
    })
    .into_response()
}
