//! Layer hooks: a filter that skips `/health`, a span-name override, extra attributes from the
//! request, and the optional `traceresponse` / `traceparent` response header.
#![cfg(all(feature = "axum", feature = "reqwest", feature = "testing"))]

mod http_support;

use axum::Router;
use axum::routing::get;
use http::request::Parts;
use http_support::{attr, plain_client, serve, span_named, wait_spans};
use opentelemetry::KeyValue;
use tracer::http::server::{ResponseHeader, TraceLayer, matched_route};
use tracer::testing::{SpanCapture, TreeFormat, assert_tree};

fn app(layer: TraceLayer) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/users/{id}", get(|| async { "user" }))
        .layer(layer)
}

#[tokio::test]
async fn the_filter_skips_health_checks() {
    let capture = SpanCapture::new();
    let layer = TraceLayer::new()
        .with_tracer(capture.tracer("svc"))
        .filter(|request: &Parts| request.uri.path() != "/health");
    let base = serve(app(layer)).await;
    let client = plain_client();
    for _ in 0..3 {
        assert_eq!(
            client
                .get(format!("{base}/health"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    client.get(format!("{base}/users/1")).send().await.unwrap();
    wait_spans(&capture, 1).await;
    assert_tree(
        &capture.render(&TreeFormat::new()),
        "svc server GET /users/{id}",
    );
}

#[tokio::test]
async fn span_name_and_attribute_hooks_apply() {
    let capture = SpanCapture::new();
    let layer = TraceLayer::new()
        .with_tracer(capture.tracer("svc"))
        .span_name(|request: &Parts| {
            format!(
                "handle {} {}",
                request.method,
                matched_route(request).unwrap_or("?")
            )
        })
        .extra_attributes(|request: &Parts, out: &mut Vec<KeyValue>| {
            if let Some(tenant) = request
                .headers
                .get("x-tenant")
                .and_then(|v| v.to_str().ok())
            {
                out.push(KeyValue::new("app.tenant", tenant.to_owned()));
            }
        });
    let base = serve(app(layer)).await;
    plain_client()
        .get(format!("{base}/users/5"))
        .header("x-tenant", "acme")
        .send()
        .await
        .unwrap();
    wait_spans(&capture, 1).await;
    assert_tree(
        &capture.render(&TreeFormat::new().attributes(["app.tenant", "http.route"])),
        "svc server handle GET /users/{id} app.tenant=acme http.route=/users/{id}",
    );
}

#[tokio::test]
async fn the_response_header_names_the_server_span() {
    for (kind, header) in [
        (ResponseHeader::TraceResponse, "traceresponse"),
        (ResponseHeader::TraceParent, "traceparent"),
    ] {
        let capture = SpanCapture::new();
        let layer = TraceLayer::new()
            .with_tracer(capture.tracer("svc"))
            .response_header(kind);
        let base = serve(app(layer)).await;
        let response = plain_client()
            .get(format!("{base}/users/5"))
            .send()
            .await
            .unwrap();
        let value = response.headers()[header].to_str().unwrap().to_owned();
        wait_spans(&capture, 1).await;
        let span = span_named(&capture, "GET /users/{id}");
        let sc = &span.data.span_context;
        // A root started here: sampled, and W3C Level 2 `random` (its trace id is random),
        // the same flags the W3C injector sends downstream.
        assert_eq!(
            value,
            format!("00-{}-{}-03", sc.trace_id(), sc.span_id()),
            "{header}"
        );
        assert_eq!(
            attr(&span, "http.response.status_code").as_deref(),
            Some("200")
        );
    }
    // Off by default.
    let capture = SpanCapture::new();
    let base = serve(app(TraceLayer::new().with_tracer(capture.tracer("svc")))).await;
    let response = plain_client()
        .get(format!("{base}/users/5"))
        .send()
        .await
        .unwrap();
    assert!(response.headers().get("traceresponse").is_none());
    assert!(response.headers().get("traceparent").is_none());
}
