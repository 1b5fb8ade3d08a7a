//! What every HTTP hop of the demo shares: the traced client, forwarding a request downstream
//! (with retries on 503), error replies, and the untraced admin routes.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use opentelemetry::KeyValue;
use opentelemetry::trace::TraceContextExt;
use reqwest_middleware::ClientWithMiddleware;
use serde_json::{Value, json};
use tracer::Tracer;
use tracer::http::client::{RequestAttempts, TraceMiddleware};

use crate::faults::directive::{CUSTOMER_ATTRIBUTE, Directive};

/// How many times a hop sends a request that is answered 503 before giving up.
pub const MAX_ATTEMPTS: u32 = 3;
/// Pause between two attempts.
const RETRY_PAUSE: Duration = Duration::from_millis(20);

/// A reqwest client whose requests are traced by `tracer` (client spans, context injection).
pub fn traced_client(tracer: &Tracer, timeout: Duration) -> ClientWithMiddleware {
    let inner = reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .build()
        .expect("a reqwest client with no TLS and no proxy always builds");
    reqwest_middleware::ClientBuilder::new(inner)
        .with(TraceMiddleware::new().with_tracer(tracer.clone()))
        .build()
}

/// An error reply: `{"error": message}` with `status`.
pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// Records the request's customer (baggage `customer`) on the server span, so a trace view can
/// show who a failing request was for.
pub fn record_customer(directive: &Directive) {
    if let Some(customer) = &directive.customer {
        opentelemetry::Context::current()
            .span()
            .set_attribute(KeyValue::new(CUSTOMER_ATTRIBUTE, customer.clone()));
    }
}

/// Sends `request` to the next hop named `peer` and relays its answer.
///
/// A 503 is retried up to [`MAX_ATTEMPTS`] times (each attempt is a sibling client span with
/// `http.request.resend_count`); 2xx and 4xx answers are relayed as they are; a 5xx answer or a
/// failure to get one becomes a 502 naming the peer and the cause, so an error is carried up
/// each hop.
pub async fn forward(
    client: &ClientWithMiddleware,
    peer: &str,
    request: impl Fn(&ClientWithMiddleware) -> reqwest_middleware::RequestBuilder,
) -> Response {
    let attempts = RequestAttempts::new();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let sent = request(client)
            .with_extension(attempts.clone())
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                let status = if e.is_timeout() {
                    StatusCode::GATEWAY_TIMEOUT
                } else {
                    StatusCode::BAD_GATEWAY
                };
                return error(status, format!("{peer} unreachable: {}", error_chain(&e)));
            }
        };
        let status = response.status();
        if status == StatusCode::SERVICE_UNAVAILABLE && attempt < MAX_ATTEMPTS {
            tokio::time::sleep(RETRY_PAUSE).await;
            continue;
        }
        let body: Value = response
            .json()
            .await
            .unwrap_or_else(|e| json!({ "error": format!("unreadable answer: {e}") }));
        if status.is_server_error() {
            let cause = body["error"].as_str().unwrap_or("no reason given");
            return error(
                StatusCode::BAD_GATEWAY,
                format!("{peer} answered {}: {cause}", status.as_u16()),
            );
        }
        return (status, Json(body)).into_response();
    }
}

/// An error and its sources, joined by `: `.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let more = e.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = e.source();
    }
    text
}

/// The admin routes every HTTP service serves, untraced: `GET /admin/stats` (the export
/// counters and the switch) and `PUT /admin/tracing` with body `on` or `off`.
pub fn admin_router(tracer: Tracer) -> Router {
    Router::new()
        .route("/admin/stats", get(stats))
        .route("/admin/tracing", axum::routing::put(switch))
        .with_state(Arc::new(tracer))
}

async fn stats(State(tracer): State<Arc<Tracer>>) -> Json<Value> {
    let s = tracer.stats();
    Json(json!({
        "service": tracer.service_name(),
        "enabled": tracer.is_enabled(),
        "exported": s.exported,
        "dropped": s.dropped,
        "failed": s.failed,
        "queued": s.queued,
    }))
}

async fn switch(State(tracer): State<Arc<Tracer>>, body: String) -> Response {
    match body.trim() {
        "on" => tracer.set_enabled(true),
        "off" => tracer.set_enabled(false),
        other => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("tracing must be switched `on` or `off`, not {other:?}"),
            );
        }
    }
    (
        StatusCode::OK,
        Json(json!({ "enabled": tracer.is_enabled() })),
    )
        .into_response()
}
