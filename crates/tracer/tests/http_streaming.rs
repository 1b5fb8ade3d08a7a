//! The server span ends when the response body has been sent, not when the headers go out: a
//! streaming response is timed whole.
#![cfg(all(feature = "axum", feature = "reqwest", feature = "testing"))]

mod http_support;

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use bytes::Bytes;
use http_support::{plain_client, serve, span_named, wait_spans};
use tracer::http::server::TraceLayer;
use tracer::testing::{SpanCapture, TreeFormat, assert_tree};

const CHUNKS: u32 = 5;
const GAP: Duration = Duration::from_millis(60);

/// Answers at once with headers, then sends one chunk every `GAP`.
async fn stream() -> Body {
    let chunks = futures_util::stream::unfold(0u32, |i| async move {
        if i == CHUNKS {
            return None;
        }
        tokio::time::sleep(GAP).await;
        Some((
            Ok::<_, std::io::Error>(Bytes::from(format!("chunk {i}\n"))),
            i + 1,
        ))
    });
    Body::from_stream(chunks)
}

#[tokio::test]
async fn the_span_covers_the_whole_stream() {
    let capture = SpanCapture::new();
    let app = Router::new()
        .route("/export", get(stream))
        .layer(TraceLayer::new().with_tracer(capture.tracer("svc")));
    let base = serve(app).await;

    let started = Instant::now();
    let mut response = plain_client()
        .get(format!("{base}/export"))
        .send()
        .await
        .unwrap();
    let headers_after = started.elapsed();
    let mut received = 0;
    while let Some(chunk) = response.chunk().await.unwrap() {
        received += chunk.len();
    }
    let body_after = started.elapsed();
    assert!(received > 0);
    assert!(
        headers_after < GAP,
        "headers arrive before the first chunk ({headers_after:?})"
    );

    wait_spans(&capture, 1).await;
    assert_tree(
        &capture.render(&TreeFormat::new().attributes(["http.response.status_code"])),
        "svc server GET /export http.response.status_code=200",
    );
    let span = span_named(&capture, "GET /export");
    let duration = span
        .data
        .end_time
        .duration_since(span.data.start_time)
        .unwrap();
    let streamed = GAP * CHUNKS;
    assert!(
        duration >= streamed - Duration::from_millis(20),
        "the span lasts as long as the stream ({duration:?} < {streamed:?})"
    );
    assert!(
        duration <= body_after + Duration::from_millis(50),
        "and ends with it ({duration:?} > {body_after:?})"
    );
}
