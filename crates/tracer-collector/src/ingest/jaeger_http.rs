//! Jaeger thrift over HTTP (the seed's port 14268): `POST /api/traces`, as Jaeger's collector
//! serves it (jaegertracing/jaeger `cmd/collector/app/handler/http_handler.go`).
//!
//! The body is one thrift **binary** `Batch` (jaegertracing/jaeger-idl `thrift/jaeger.thrift`),
//! sent as `application/x-thrift` or `application/vnd.apache.thrift.binary`, or with any content
//! type when the query says `?format=jaeger.thrift`; `Content-Encoding: gzip` is accepted. The
//! answer is `202 Accepted` with an empty body; errors are plain text: 400 undecodable, 413 over
//! the body limit, 415 another content type, 429 with `Retry-After` when the ingest budget is
//! spent. See [`super::jaeger_thrift`] for the mapping to OTLP.

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderMap, StatusCode};

use super::receiver::Format;
use super::receiver::{Receivers, error_response, is_gzip, media_type, plain, read_body, submit};

/// Path of the Jaeger thrift HTTP endpoint.
pub const TRACES_PATH: &str = "/api/traces";

/// The Jaeger HTTP collector router (`POST /api/traces`).
pub fn router(receivers: Receivers) -> Router {
    Router::new()
        .route(TRACES_PATH, post(post_traces))
        .with_state(receivers)
}

fn asks_for_thrift(query: Option<&str>) -> bool {
    query.is_some_and(|q| q.split('&').any(|pair| pair == "format=jaeger.thrift"))
}

async fn post_traces(
    State(receivers): State<Receivers>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let counters = &receivers.stats.jaeger_thrift_http;
    let thrift_type = matches!(
        media_type(&headers).as_deref(),
        Some("application/x-thrift" | "application/vnd.apache.thrift.binary")
    );
    if !thrift_type && !asks_for_thrift(query.as_deref()) {
        counters.refused();
        return plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "unsupported content type {:?}; send a thrift binary Batch as application/x-thrift \
                 or application/vnd.apache.thrift.binary (or ask ?format=jaeger.thrift)",
                media_type(&headers).unwrap_or_else(|| "(none)".into())
            ),
        );
    }
    let gzip = match is_gzip(&headers) {
        Ok(gzip) => gzip,
        Err(message) => {
            counters.refused();
            return plain(StatusCode::UNSUPPORTED_MEDIA_TYPE, message);
        }
    };
    let (payload, meter) = match read_body(&receivers.ingestor, &headers, body).await {
        Ok(read) => read,
        Err(response) => {
            counters.refused();
            return response;
        }
    };
    match submit(
        &receivers.ingestor,
        counters,
        payload,
        gzip,
        meter,
        Format::JaegerThriftBinary.converter(),
    )
    .await
    {
        Ok(outcome) => {
            if outcome.rejected > 0 {
                tracing::debug!(rejected = outcome.rejected, message = %outcome.message, "jaeger spans rejected");
            }
            StatusCode::ACCEPTED.into_response()
        }
        Err(e) => error_response(e),
    }
}
