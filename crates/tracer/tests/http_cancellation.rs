//! A client that goes away mid-request (disconnect, timeout) ends the server span as cancelled
//! (`error.type=cancelled`, error status), and the cancellation reaches the downstream call the
//! handler was making.
#![cfg(all(feature = "axum", feature = "reqwest", feature = "testing"))]

mod http_support;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::routing::get;
use bytes::Bytes;
use http_support::{format, serve, traced_client, wait_spans};
use reqwest_middleware::ClientWithMiddleware;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracer::http::server::TraceLayer;
use tracer::testing::{SpanCapture, assert_tree};

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(30)).await;
    "too late"
}

/// Front calls back (which is slow) and tells the test once the call is under way.
#[derive(Clone)]
struct Front {
    client: ClientWithMiddleware,
    back: String,
    started: mpsc::UnboundedSender<()>,
}

async fn front(State(front): State<Front>) -> String {
    front.started.send(()).unwrap();
    let answer = front
        .client
        .get(format!("{}/slow", front.back))
        .send()
        .await;
    format!("{:?}", answer.map(|r| r.status()))
}

/// Sends a raw HTTP/1.1 request and returns the open connection.
async fn raw_request(base: &str, path: &str) -> TcpStream {
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_disconnect_cancels_the_server_span_and_the_downstream_call() {
    let capture = SpanCapture::new();
    let back = Router::new()
        .route("/slow", get(slow))
        .layer(TraceLayer::new().with_tracer(capture.tracer("back")));
    let back_url = serve(back).await;
    let front_tracer = capture.tracer("front");
    let (started, mut handler_started) = mpsc::unbounded_channel();
    let app = Router::new()
        .route("/order", get(front))
        .layer(TraceLayer::new().with_tracer(front_tracer.clone()))
        .with_state(Front {
            client: traced_client(&front_tracer),
            back: back_url,
            started,
        });
    let base = serve(app).await;

    let connection = raw_request(&base, "/order").await;
    handler_started.recv().await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await; // the downstream call is in flight
    drop(connection);

    wait_spans(&capture, 3).await;
    assert_tree(
        &capture.render(&format()),
        "
        front server GET /order !error error.type=cancelled
          front client GET !error error.type=cancelled
            back server GET /slow !error error.type=cancelled
        ",
    );
}

#[tokio::test]
async fn a_disconnect_mid_stream_cancels_the_span() {
    let capture = SpanCapture::new();
    let endless = || async {
        let ticks = futures_util::stream::unfold(0u64, |i| async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Some((
                Ok::<_, std::io::Error>(Bytes::from(format!("tick {i}\n"))),
                i + 1,
            ))
        });
        Body::from_stream(ticks)
    };
    let app = Router::new()
        .route("/ticks", get(endless))
        .layer(TraceLayer::new().with_tracer(capture.tracer("svc")));
    let base = serve(app).await;

    let mut connection = raw_request(&base, "/ticks").await;
    let mut buffer = vec![0u8; 4096];
    let read = connection.read(&mut buffer).await.unwrap();
    assert!(String::from_utf8_lossy(&buffer[..read]).starts_with("HTTP/1.1 200"));
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert!(
        capture.is_empty(),
        "the span is open while the body streams"
    );
    drop(connection);

    wait_spans(&capture, 1).await;
    assert_tree(
        &capture.render(&format()),
        "svc server GET /ticks !error http.response.status_code=200 error.type=cancelled",
    );
}

#[tokio::test]
async fn a_client_timeout_is_a_timeout_on_the_client_and_cancelled_on_the_server() {
    let capture = SpanCapture::new();
    let app = Router::new()
        .route("/slow", get(slow))
        .layer(TraceLayer::new().with_tracer(capture.tracer("svc")));
    let base = serve(app).await;

    let client = reqwest_middleware::ClientBuilder::new(
        reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_millis(200))
            .build()
            .unwrap(),
    )
    .with(tracer::http::client::TraceMiddleware::new().with_tracer(capture.tracer("caller")))
    .build();
    let error = client.get(format!("{base}/slow")).send().await.unwrap_err();
    assert!(error.is_timeout(), "{error}");

    wait_spans(&capture, 2).await;
    assert_tree(
        &capture.render(&format()),
        "
        caller client GET !error error.type=timeout
          svc server GET /slow !error error.type=cancelled
        ",
    );
}
