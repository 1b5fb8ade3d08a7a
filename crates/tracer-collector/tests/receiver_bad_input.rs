//! Bad input on the Zipkin, Jaeger HTTP and Jaeger UDP receivers (garbage, truncation, wrong
//! types, hostile lengths, oversized bodies and datagrams, gzip bombs) is refused or dropped and
//! counted, and each time the next good request is served.

mod common;
#[path = "common/jaeger_wire.rs"]
mod jaeger_wire;

use std::time::Duration;

use common::TestCollector;
use jaeger_wire::*;
use serde_json::json;
use tracer_collector::Collector;

const BASE_US: i64 = 1_700_000_000_000_000;
const LIMIT: usize = 64 * 1024;

/// Path, content type, content encoding, body, expected status, words the refusal must contain.
type Case = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Vec<u8>,
    u16,
    &'static str,
);

fn zipkin_span(trace: u64) -> String {
    json!([{"traceId": format!("{trace:016x}"), "id": "0000000000000001", "name": "ok",
            "timestamp": BASE_US, "duration": 1, "localEndpoint": {"serviceName": "svc"}}])
    .to_string()
}

fn jaeger_batch(low: i64) -> Batch {
    Batch {
        process: Process {
            service_name: "svc".into(),
            tags: None,
        },
        spans: vec![span(0, low, 1, 0, "ok", BASE_US, 1)],
    }
}

async fn start() -> TestCollector {
    TestCollector::start_with(Collector::builder().body_limit(LIMIT)).await
}

#[tokio::test]
async fn bad_zipkin_requests_are_refused_with_a_reason_and_good_ones_still_served() {
    let c = start().await;
    let bomb = common::gzip(&vec![b' '; LIMIT * 4]);
    let cases: Vec<Case> = vec![
        (
            "/api/v2/spans",
            Some("application/json"),
            None,
            b"not json".to_vec(),
            400,
            "Zipkin v2 JSON",
        ),
        (
            "/api/v2/spans",
            Some("application/json"),
            None,
            br#"[{"traceId": 5}]"#.to_vec(),
            400,
            "invalid type",
        ),
        (
            "/api/v2/spans",
            Some("application/json"),
            None,
            br#"[{"traceId": "xyz", "id": "1"}]"#.to_vec(),
            400,
            "traceId",
        ),
        (
            "/api/v2/spans",
            Some("application/json"),
            None,
            br#"[{"traceId": "1", "id": "12345678901234567"}]"#.to_vec(),
            400,
            "id",
        ),
        (
            "/api/v2/spans",
            Some("application/json"),
            None,
            zipkin_span(1).as_bytes()[..20].to_vec(),
            400,
            "EOF",
        ),
        (
            "/api/v2/spans",
            Some("application/x-protobuf"),
            None,
            vec![0x0a, 0xff, 0xff, 0xff, 0x7f],
            400,
            "protobuf",
        ),
        (
            "/api/v2/spans",
            Some("application/x-protobuf"),
            None,
            vec![0x0a, 0x02, 0x0a, 0x00],
            400,
            "trace_id",
        ),
        (
            "/api/v2/spans",
            Some("text/plain"),
            None,
            b"x".to_vec(),
            415,
            "content type",
        ),
        (
            "/api/v2/spans",
            Some("application/json"),
            Some("br"),
            b"x".to_vec(),
            415,
            "encoding",
        ),
        (
            "/api/v2/spans",
            Some("application/json"),
            Some("gzip"),
            b"not gzip".to_vec(),
            400,
            "gzip",
        ),
        (
            "/api/v2/spans",
            Some("application/json"),
            Some("gzip"),
            bomb,
            413,
            "body limit",
        ),
        (
            "/api/v2/spans",
            Some("application/json"),
            None,
            vec![b' '; LIMIT + 1],
            413,
            "body limit",
        ),
        (
            "/api/v1/spans",
            Some("application/json"),
            None,
            br#"{"not": "a list"}"#.to_vec(),
            400,
            "Zipkin v1 JSON",
        ),
        (
            "/api/v1/spans",
            Some("application/x-thrift"),
            None,
            b"x".to_vec(),
            400,
            "Zipkin v1 thrift",
        ),
        // list<Span> claiming 2^31 - 1 elements.
        (
            "/api/v1/spans",
            Some("application/x-thrift"),
            None,
            vec![0x0c, 0x7f, 0xff, 0xff, 0xff],
            400,
            "Zipkin v1 thrift",
        ),
        (
            "/api/v1/spans",
            Some("text/xml"),
            None,
            b"x".to_vec(),
            415,
            "content type",
        ),
    ];
    for (i, (path, content_type, encoding, body, status, reason)) in cases.into_iter().enumerate() {
        let r = c
            .post_to(c.zipkin, path, content_type, encoding, body)
            .await;
        assert_eq!(r.status(), status, "case {i}");
        let text = r.text().await.unwrap();
        assert!(text.contains(reason), "case {i}: {text:?} lacks {reason:?}");
        let good = zipkin_span(100 + i as u64);
        let r = c.post_to(c.zipkin, "/api/v2/spans", None, None, good).await;
        assert_eq!(r.status(), 202, "good request after case {i}");
        c.wait_trace(&format!("{:032x}", 100 + i), 1).await;
    }
    let stats = c.ingest_stats().await;
    assert_eq!(stats["zipkinV2Json"]["spans"], 16);
    assert!(
        stats["zipkinV2Json"]["rejectedBatches"].as_u64().unwrap() >= 9,
        "{stats}"
    );
    c.stop().await;
}

#[tokio::test]
async fn bad_jaeger_http_bodies_are_refused_and_good_ones_still_served() {
    let c = start().await;
    let good = batch_binary(&jaeger_batch(1));
    let cases: Vec<(Option<&str>, Vec<u8>, u16)> = vec![
        (
            Some("application/x-thrift"),
            b"garbage garbage".to_vec(),
            400,
        ),
        (
            Some("application/x-thrift"),
            good[..good.len() / 2].to_vec(),
            400,
        ),
        // Batch { 1: Process { 1: serviceName = a string claiming 2^31 - 1 bytes } }
        (
            Some("application/x-thrift"),
            vec![0x0c, 0, 1, 0x0b, 0, 1, 0x7f, 0xff, 0xff, 0xff, b'x'],
            400,
        ),
        // Batch { 2: list<Span> claiming 2^31 - 1 elements }
        (
            Some("application/x-thrift"),
            vec![0x0f, 0, 2, 0x0c, 0x7f, 0xff, 0xff, 0xff, 0],
            400,
        ),
        // A compact body where binary is expected.
        (
            Some("application/x-thrift"),
            emit_batch(&jaeger_batch(1), true),
            400,
        ),
        (Some("application/json"), good.clone(), 415),
        (Some("application/x-thrift"), vec![0; LIMIT + 1], 413),
    ];
    for (i, (content_type, body, status)) in cases.into_iter().enumerate() {
        let r = c
            .post_to(c.jaeger_http, "/api/traces", content_type, None, body)
            .await;
        assert_eq!(r.status(), status, "case {i}");
        assert!(!r.text().await.unwrap().is_empty(), "case {i} says why");
        let low = 200 + i as i64;
        let good = batch_binary(&jaeger_batch(low));
        let r = c
            .post_to(
                c.jaeger_http,
                "/api/traces",
                Some("application/x-thrift"),
                None,
                good,
            )
            .await;
        assert_eq!(r.status(), 202, "good request after case {i}");
        c.wait_trace(&format!("{low:032x}"), 1).await;
    }
    let stats = c.ingest_stats().await;
    assert_eq!(stats["jaegerThriftHttp"]["rejectedBatches"], 7);
    assert_eq!(stats["jaegerThriftHttp"]["spans"], 7);
    c.stop().await;
}

#[tokio::test]
async fn bad_datagrams_are_dropped_and_counted_and_the_socket_keeps_serving() {
    let c = start().await;
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let good = emit_batch(&jaeger_batch(1), true);
    let mut wrong_name = good.clone();
    // The compact message name follows the 2-byte header, the sequence id and its length:
    // "emitBatch" becomes "emitBatXh".
    wrong_name[2 + 1 + 8] = b'X';
    // One tag sized so the datagram is `size` bytes.
    let sized = |low: i64, size: usize| {
        let with = |n: usize| {
            let mut b = jaeger_batch(low);
            b.spans[0].tags = Some(vec![str_tag("blob", &"v".repeat(n))]);
            emit_batch(&b, true)
        };
        // The length varint grows from 1 to 3 bytes past 16 KiB; measure at that length.
        let overhead = with(20_000).len() - 20_000;
        let datagram = with(size - overhead);
        assert_eq!(datagram.len(), size);
        datagram
    };
    // Over the 65,000-byte limit, and still within what IPv4 UDP carries.
    let big = sized(1, 65_001);
    // Exactly at the limit: decoded.
    let fits = sized(0x400, 65_000);

    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"\xff\xfe garbage".to_vec()),
        ("empty", Vec::new()),
        ("truncated", good[..good.len() - 5].to_vec()),
        ("not emitBatch", wrong_name),
        (
            "binary on the compact port",
            emit_batch(&jaeger_batch(1), false),
        ),
        ("over 65,000 bytes", big),
        (
            "a string claiming 2^31 bytes",
            vec![
                0x82, 0x81, 0x01, 0x09, b'e', b'm', b'i', b't', b'B', b'a', b't', b'c', b'h', 0x1c,
                0x1c, 0x18, 0xff, 0xff, 0xff, 0xff, 0x07,
            ],
        ),
    ];
    let n = cases.len();
    for (i, (what, datagram)) in cases.into_iter().enumerate() {
        socket.send_to(&datagram, c.jaeger_compact).await.unwrap();
        let low = 300 + i as i64;
        socket
            .send_to(&emit_batch(&jaeger_batch(low), true), c.jaeger_compact)
            .await
            .unwrap();
        c.wait_trace(&format!("{low:032x}"), 1).await;
        let stats = c.ingest_stats().await;
        assert_eq!(
            stats["jaegerAgentCompact"]["droppedDatagrams"],
            i as u64 + 1,
            "{what}: {stats}"
        );
    }
    socket.send_to(&fits, c.jaeger_compact).await.unwrap();
    c.wait_trace(&format!("{:032x}", 0x400), 1).await;
    // The binary port drops a compact datagram and serves a binary one.
    socket
        .send_to(&emit_batch(&jaeger_batch(1), true), c.jaeger_binary)
        .await
        .unwrap();
    socket
        .send_to(&emit_batch(&jaeger_batch(0x500), false), c.jaeger_binary)
        .await
        .unwrap();
    c.wait_trace(&format!("{:032x}", 0x500), 1).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let stats = c.ingest_stats().await;
    assert_eq!(stats["jaegerAgentCompact"]["spans"], n as u64 + 1);
    assert_eq!(stats["jaegerAgentBinary"]["droppedDatagrams"], 1);
    assert_eq!(stats["jaegerAgentBinary"]["spans"], 1);
    c.stop().await;
}
