//! Every listener bounds what one client can hold: a connection that sends nothing, a request
//! head that never ends, a body that trickles, an idle kept-alive connection are all closed;
//! past the connection cap new connections are refused at once while the others are served;
//! and a body still arriving counts against the ingest budget.

mod common;

use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use common::{TestCollector, now_ns, request, simple_span};
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tracer_collector::Collector;
use tracer_collector::config::Config;

async fn collector(config: Config) -> TestCollector {
    TestCollector::start_with(Collector::builder().config(config)).await
}

/// Reads until the server closes the connection; returns what was read and how long it took,
/// or panics after `within`.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((started + within).into(), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (out, started.elapsed()),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "the server kept the connection open for {within:?}; read so far: {:?}",
                String::from_utf8_lossy(&out)
            ),
        }
    }
}

fn one_span_body() -> Vec<u8> {
    request("svc", vec![simple_span(1, 1, 0, "op", now_ns(), 0, 10)]).encode_to_vec()
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_header_timeout() {
    let collector = collector(Config {
        header_timeout_ms: 300,
        ..Config::default()
    })
    .await;
    for addr in [collector.http, collector.grpc, collector.query] {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let (_, took) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
        assert!(
            took >= Duration::from_millis(250),
            "{addr}: closed after {took:?}"
        );
    }
}

#[tokio::test]
async fn a_request_head_that_never_ends_is_closed_after_the_header_timeout() {
    let collector = collector(Config {
        header_timeout_ms: 300,
        ..Config::default()
    })
    .await;
    let mut stream = TcpStream::connect(collector.http).await.unwrap();
    stream
        .write_all(b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: applic")
        .await
        .unwrap();
    read_until_closed(&mut stream, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_trickled_body_is_cut_off_with_408() {
    let collector = collector(Config {
        body_timeout_ms: 300,
        body_min_rate: 64 << 10,
        ..Config::default()
    })
    .await;
    let mut stream = TcpStream::connect(collector.http).await.unwrap();
    stream
        .write_all(
            b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n\
              Content-Type: application/x-protobuf\r\nContent-Length: 1000000\r\n\r\n",
        )
        .await
        .unwrap();
    let writer = tokio::spawn(async move {
        // 10 bytes every 100 ms: never a gap of 300 ms, far under 64 KiB/s.
        for _ in 0..100 {
            if stream.write_all(&[0u8; 10]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        stream
    });
    let mut stream = writer.await.unwrap();
    let (response, _) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("too slow"), "{text}");
}

#[tokio::test]
async fn a_stalled_body_is_cut_off_with_408() {
    let collector = collector(Config {
        body_timeout_ms: 300,
        ..Config::default()
    })
    .await;
    let mut stream = TcpStream::connect(collector.http).await.unwrap();
    stream
        .write_all(
            b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n\
              Content-Type: application/x-protobuf\r\nContent-Length: 1000\r\n\r\nabc",
        )
        .await
        .unwrap();
    let (response, _) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("stalled"), "{text}");
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let collector = collector(Config {
        idle_timeout_ms: 400,
        ..Config::default()
    })
    .await;
    let mut stream = TcpStream::connect(collector.query).await.unwrap();
    stream
        .write_all(b"GET /api/services HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let (response, took) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(
        String::from_utf8_lossy(&response).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&response)
    );
    assert!(took >= Duration::from_millis(350), "closed after {took:?}");
}

#[tokio::test]
async fn past_the_connection_cap_new_connections_are_refused_at_once_and_the_rest_served() {
    let collector = collector(Config {
        max_connections: NonZeroUsize::new(8).unwrap(),
        header_timeout_ms: 30_000,
        ..Config::default()
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(TcpStream::connect(collector.http).await.unwrap());
    }
    // Let the server accept all eight.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = TcpStream::connect(collector.http).await.unwrap();
    let (_, took) = read_until_closed(&mut extra, Duration::from_secs(2)).await;
    assert!(took < Duration::from_secs(1), "refused after {took:?}");
    // Other ports are not affected, and the refusal is counted.
    let (status, _) = collector.get("/api/services").await;
    assert_eq!(status, 200);
    let (_, stats) = collector.get("/api/collector/stats").await;
    let http = &stats["listeners"]["otlp-http"];
    assert!(http["refused"].as_u64() >= Some(1), "{stats}");
    assert_eq!(http["open"].as_u64(), Some(8), "{stats}");
    // Once the idle ones go, exports are served again.
    drop(idle);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let response = collector
        .post("application/x-protobuf", None, one_span_body())
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_body_still_arriving_counts_against_the_ingest_budget() {
    let collector = TestCollector::start_with(
        Collector::builder()
            .ingest_budget(1 << 20)
            .body_limit(2 << 20),
    )
    .await;
    // A declares 900 KB and sends a little of it.
    let mut slow = TcpStream::connect(collector.http).await.unwrap();
    slow.write_all(
        b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n\
          Content-Type: application/x-protobuf\r\nContent-Length: 900000\r\n\r\nabc",
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // B's 900 KB do not fit beside A's: refused with a retry hint while A is still sending.
    let response = collector
        .post("application/x-protobuf", None, vec![0u8; 900_000])
        .await;
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    drop(slow);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Once A is gone, a good export fits again.
    let response = collector
        .post("application/x-protobuf", None, one_span_body())
        .await;
    assert_eq!(response.status(), 200);
}
