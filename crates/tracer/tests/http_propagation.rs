//! Incoming W3C, B3 single, B3 multi and Jaeger headers each continue the caller's trace on the
//! server; the client writes its span's context in every configured format.
#![cfg(all(feature = "axum", feature = "reqwest", feature = "testing"))]

mod http_support;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use http_support::{format, plain_client, serve, span_named, traced_client, wait_spans};
use tracer::http::server::TraceLayer;
use tracer::propagation::PropagatorKind;
use tracer::testing::{SpanCapture, assert_tree};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

const ALL: [PropagatorKind; 5] = [
    PropagatorKind::TraceContext,
    PropagatorKind::Baggage,
    PropagatorKind::B3,
    PropagatorKind::B3Multi,
    PropagatorKind::Jaeger,
];

#[tokio::test]
async fn incoming_headers_of_every_format_continue_the_trace() {
    let cases: [(&str, Vec<(&str, String)>); 5] = [
        (
            "w3c",
            vec![("traceparent", format!("00-{TRACE}-{PARENT}-01"))],
        ),
        ("b3 single", vec![("b3", format!("{TRACE}-{PARENT}-1"))]),
        (
            "b3 multi",
            vec![
                ("X-B3-TraceId", TRACE.to_owned()),
                ("X-B3-SpanId", PARENT.to_owned()),
                ("X-B3-Sampled", "1".to_owned()),
            ],
        ),
        (
            "jaeger",
            vec![("uber-trace-id", format!("{TRACE}:{PARENT}:0:1"))],
        ),
        (
            "jaeger url-encoded",
            vec![("uber-trace-id", format!("{TRACE}%3A{PARENT}%3A0%3A1"))],
        ),
    ];
    for (name, headers) in cases {
        let capture = SpanCapture::new();
        let tracer = capture
            .builder("svc")
            .propagators(ALL)
            .build()
            .unwrap()
            .into_tracer();
        let app = Router::new()
            .route("/orders/{id}", get(|| async { "order" }))
            .layer(TraceLayer::new().with_tracer(tracer));
        let base = serve(app).await;
        let mut request = plain_client().get(format!("{base}/orders/1"));
        for (header, value) in &headers {
            request = request.header(*header, value);
        }
        request.send().await.unwrap();

        wait_spans(&capture, 1).await;
        assert_tree(
            &capture.render(&format()),
            "svc server GET /orders/{id} http.response.status_code=200",
        );
        let span = span_named(&capture, "GET /orders/{id}");
        assert_eq!(
            span.trace_id().to_string(),
            TRACE,
            "{name}: trace id continued"
        );
        assert_eq!(
            span.data.parent_span_id.to_string(),
            PARENT,
            "{name}: the caller's span is the parent"
        );
        assert!(span.data.parent_span_is_remote, "{name}");
    }
}

#[tokio::test]
async fn without_incoming_headers_the_server_span_is_a_root() {
    let capture = SpanCapture::new();
    let app = Router::new()
        .route("/", get(|| async { "hi" }))
        .layer(TraceLayer::new().with_tracer(capture.tracer("svc")));
    let base = serve(app).await;
    // Malformed headers are ignored: a new root starts.
    plain_client()
        .get(format!("{base}/"))
        .header("traceparent", "00-zz-yy-01")
        .send()
        .await
        .unwrap();
    wait_spans(&capture, 1).await;
    let span = span_named(&capture, "GET /");
    assert_eq!(
        span.data.parent_span_id,
        opentelemetry::trace::SpanId::INVALID
    );
    assert_ne!(span.trace_id().to_string(), TRACE);
}

#[tokio::test]
async fn the_client_injects_every_configured_format() {
    let seen: Arc<Mutex<Vec<HeaderMap>>> = Arc::default();
    let app = Router::new()
        .route(
            "/echo",
            get(
                |State(seen): State<Arc<Mutex<Vec<HeaderMap>>>>, headers: HeaderMap| async move {
                    seen.lock().unwrap().push(headers);
                },
            ),
        )
        .with_state(seen.clone());
    let base = serve(app).await;

    let capture = SpanCapture::new();
    let tracer = capture
        .builder("caller")
        .propagators(ALL)
        .build()
        .unwrap()
        .into_tracer();
    traced_client(&tracer)
        .get(format!("{base}/echo"))
        .send()
        .await
        .unwrap();

    wait_spans(&capture, 1).await;
    let span = span_named(&capture, "GET");
    let (trace, id) = (
        span.trace_id().to_string(),
        span.data.span_context.span_id().to_string(),
    );
    let headers = seen
        .lock()
        .unwrap()
        .pop()
        .expect("the echo server was called");
    let get = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
    // Sampled, and started here with a random trace id (Level 2 `random` flag).
    assert_eq!(get("traceparent"), Some(format!("00-{trace}-{id}-03")));
    assert_eq!(get("b3"), Some(format!("{trace}-{id}-1")));
    assert_eq!(get("x-b3-traceid"), Some(trace.clone()));
    assert_eq!(get("x-b3-spanid"), Some(id.clone()));
    assert_eq!(get("x-b3-sampled").as_deref(), Some("1"));
    assert_eq!(get("uber-trace-id"), Some(format!("{trace}:{id}:0:1")));
}
