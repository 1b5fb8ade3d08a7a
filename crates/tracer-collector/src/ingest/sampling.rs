//! Sampling strategies for Jaeger clients (the seed's port 5778), as `jaeger-agent` and
//! `jaeger-collector` serve them: `GET /sampling?service=NAME`, the older `GET /?service=NAME`
//! and the current `GET /api/sampling?service=NAME` answer `SamplingStrategyResponse` of
//! jaegertracing/jaeger-idl in JSON, with enum names as strings, which is what the Python, Node,
//! Go and Java `jaeger-client`s parse:
//!
//! ```json
//! {"strategyType": "PROBABILISTIC", "probabilisticSampling": {"samplingRate": 1.0}}
//! ```
//!
//! The strategy comes from [`SamplingStrategies`]: a `--sampling-strategies` file, or without
//! one probabilistic [`DEFAULT_SAMPLING_RATE`] (1.0) for every service, since this collector is
//! for one machine, where seeing every trace is the point. A per-operation strategy adds
//! `operationSampling` (see [`super::strategies`]). Without exactly one `service` parameter the
//! answer is 400, as from `jaeger-agent`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::StatusCode;

use super::receiver::plain;
pub use super::strategies::DEFAULT_SAMPLING_RATE;
use super::strategies::SamplingStrategies;

/// The sampling port of `jaeger-agent`.
pub const DEFAULT_SAMPLING_PORT: u16 = 5778;

/// Path Jaeger clients poll.
pub const SAMPLING_PATH: &str = "/sampling";

/// Path current Jaeger clients poll (the collector's).
pub const API_SAMPLING_PATH: &str = "/api/sampling";

/// The sampling router (`GET /sampling?service=`, `GET /api/sampling?service=`,
/// `GET /?service=`).
pub fn router(strategies: Arc<SamplingStrategies>) -> Router {
    Router::new()
        .route(SAMPLING_PATH, get(strategy))
        .route(API_SAMPLING_PATH, get(strategy))
        .route("/", get(strategy))
        .with_state(strategies)
}

async fn strategy(
    State(strategies): State<Arc<SamplingStrategies>>,
    RawQuery(query): RawQuery,
) -> Response {
    let mut services = query
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key == "service").then_some(value)
        });
    let (Some(service), None) = (services.next(), services.next()) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "'service' parameter must be provided once".to_owned(),
        );
    };
    let service = service.replace('+', " ");
    let Ok(service) = percent_encoding::percent_decode_str(&service).decode_utf8() else {
        return plain(
            StatusCode::BAD_REQUEST,
            "'service' parameter is not UTF-8 once percent-decoded".to_owned(),
        );
    };
    axum::Json(strategies.for_service(&service)).into_response()
}
