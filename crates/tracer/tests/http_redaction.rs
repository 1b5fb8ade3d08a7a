//! A password in the URL and sensitive query values never reach a span: not in `url.full`
//! (client), not in `url.query` (server), nowhere in any recorded string.
#![cfg(all(feature = "axum", feature = "reqwest", feature = "testing"))]

mod http_support;

use axum::Router;
use axum::routing::get;
use http_support::{attr, format, serve, span_named, traced_client, wait_spans};
use tracer::http::server::TraceLayer;
use tracer::testing::{SpanCapture, assert_tree};

const SECRETS: [&str; 5] = [
    "hunter2",
    "s3cr3t-t0ken",
    "pa55w0rd",
    "k3y-v4lue",
    "sig-v4lue",
];

#[tokio::test]
async fn credentials_and_sensitive_query_values_are_never_recorded() {
    let capture = SpanCapture::new();
    let app = Router::new()
        .route("/login", get(|| async { "welcome" }))
        .layer(TraceLayer::new().with_tracer(capture.tracer("server")));
    let base = serve(app).await;
    let authority = base.trim_start_matches("http://");
    let url = format!(
        "http://alice:hunter2@{authority}/login?user=alice&token=s3cr3t-t0ken&password=pa55w0rd&api_key=k3y-v4lue&X-Amz-Signature=sig-v4lue&page=2"
    );
    let client = traced_client(&capture.tracer("caller"));
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);

    wait_spans(&capture, 2).await;
    assert_tree(
        &capture.render(&format()),
        "
        caller client GET http.response.status_code=200
          server server GET /login http.response.status_code=200
        ",
    );
    for span in capture.spans() {
        let text = span.all_text();
        for secret in SECRETS {
            assert!(
                !text.contains(secret),
                "{secret} leaked into {}:\n{text}",
                span.name()
            );
        }
    }
    let client_span = span_named(&capture, "GET");
    assert_eq!(
        attr(&client_span, "url.full"),
        Some(format!(
            "http://{authority}/login?user=alice&token=REDACTED&password=REDACTED&api_key=REDACTED&X-Amz-Signature=REDACTED&page=2"
        ))
    );
    let server_span = span_named(&capture, "GET /login");
    assert_eq!(
        attr(&server_span, "url.query").as_deref(),
        Some(
            "user=alice&token=REDACTED&password=REDACTED&api_key=REDACTED&X-Amz-Signature=REDACTED&page=2"
        )
    );
}
