//! The OTLP/gRPC port speaks gRPC and nothing else, and holds `Export` to being unary: a
//! request with two messages is refused instead of half-stored, an HTTP/1 request or a
//! non-gRPC content type gets an HTTP error that says what to send instead.

mod common;

use common::{TestCollector, now_ns, request, simple_span};
use prost::Message;
use tracer_collector::ingest::grpc::EXPORT_PATH;

/// One gRPC message frame (uncompressed).
fn frame(message: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8];
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    out
}

fn export_message(trace: u128) -> Vec<u8> {
    request("svc", vec![simple_span(trace, 1, 0, "op", now_ns(), 0, 10)]).encode_to_vec()
}

fn h2() -> reqwest::Client {
    reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap()
}

fn grpc_status(response: &reqwest::Response) -> Option<(String, String)> {
    let status = response
        .headers()
        .get("grpc-status")?
        .to_str()
        .ok()?
        .to_owned();
    let message = response
        .headers()
        .get("grpc-message")
        .and_then(|m| m.to_str().ok())
        .map(|m| {
            percent_encoding::percent_decode_str(m)
                .decode_utf8_lossy()
                .into_owned()
        })
        .unwrap_or_default();
    Some((status, message))
}

#[tokio::test]
async fn a_unary_export_with_two_messages_is_invalid_argument_and_stores_nothing() {
    let collector = TestCollector::start().await;
    let mut body = frame(&export_message(0xa1));
    body.extend(frame(&export_message(0xa2)));
    let response = h2()
        .post(format!("http://{}{EXPORT_PATH}", collector.grpc))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(body)
        .send()
        .await
        .unwrap();
    let (code, message) = grpc_status(&response).expect("a trailers-only error response");
    assert_eq!(code, "3", "INVALID_ARGUMENT expected: {message}");
    assert!(message.contains("more than one message"), "{message}");
    assert!(collector.store.trace(0xa1).is_none());
    assert!(collector.store.trace(0xa2).is_none());
    // One message is stored.
    let response = h2()
        .post(format!("http://{}{EXPORT_PATH}", collector.grpc))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(frame(&export_message(0xa3)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        grpc_status(&response),
        None,
        "success has its status in trailers"
    );
    let _ = response.bytes().await;
    assert!(collector.store.trace(0xa3).is_some());
}

#[tokio::test]
async fn http1_on_the_grpc_port_gets_505_naming_the_http_port() {
    let collector = TestCollector::start().await;
    let response = reqwest::Client::new()
        .post(format!("http://{}{EXPORT_PATH}", collector.grpc))
        .header("content-type", "application/grpc")
        .body(frame(&export_message(1)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 505);
    let text = response.text().await.unwrap();
    assert!(text.contains("HTTP/2") && text.contains("4318"), "{text}");
}

#[tokio::test]
async fn a_json_content_type_on_the_grpc_port_gets_415() {
    let collector = TestCollector::start().await;
    for content_type in ["application/json", "application/x-protobuf", "text/plain"] {
        let response = h2()
            .post(format!("http://{}{EXPORT_PATH}", collector.grpc))
            .header("content-type", content_type)
            .body(r#"{"resourceSpans":[]}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 415, "{content_type}");
        let text = response.text().await.unwrap();
        assert!(text.contains("application/grpc"), "{text}");
    }
}
