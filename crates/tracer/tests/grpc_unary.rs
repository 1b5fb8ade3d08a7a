//! A unary call through both layers: one trace, the client span parent of the server span,
//! semconv names and values on both.
#![cfg(all(feature = "tonic", feature = "testing"))]

mod grpc_support;

use grpc_support::{WAIT, request, start};
use opentelemetry::Value;
use opentelemetry::trace::SpanKind;
use tracer::grpc::GrpcServerLayer;
use tracer::testing::{SpanCapture, TreeFormat, assert_tree};

#[tokio::test]
async fn a_unary_call_is_one_trace_with_a_client_and_a_server_span() {
    let capture = SpanCapture::new();
    let server = start(GrpcServerLayer::new().with_tracer(capture.tracer("backend"))).await;
    let mut client = server.client(&capture.tracer("frontend"));

    let reply = client
        .unary(request("hello"))
        .await
        .expect("the call succeeds");
    assert_eq!(reply.into_inner().message, "hello");

    let spans = capture.wait_for(2, WAIT).await;
    assert_tree(
        &capture.render(&TreeFormat::new().attributes([
            "rpc.system.name",
            "rpc.method",
            "rpc.response.status_code",
            "error.type",
        ])),
        "
        frontend client test.v1.Echo/Unary rpc.system.name=grpc rpc.method=test.v1.Echo/Unary rpc.response.status_code=OK
          backend server test.v1.Echo/Unary rpc.system.name=grpc rpc.method=test.v1.Echo/Unary rpc.response.status_code=OK
        ",
    );
    let port = i64::from(server.addr.port());
    for span in &spans {
        assert_eq!(
            span.attr("server.address"),
            Some(&Value::from("127.0.0.1")),
            "{}",
            span.service
        );
        assert_eq!(
            span.attr("server.port"),
            Some(&Value::I64(port)),
            "{}",
            span.service
        );
        assert!(
            span.attr("rpc.grpc.status_code").is_none(),
            "legacy names are opt-in"
        );
        assert!(
            span.attr("tracer.rpc.request.timeout_ms").is_none(),
            "no deadline was set"
        );
    }
    let server_span = spans
        .iter()
        .find(|s| *s.kind() == SpanKind::Server)
        .unwrap();
    let client_span = spans
        .iter()
        .find(|s| *s.kind() == SpanKind::Client)
        .unwrap();
    // Causality, not speed: the server can only start after the client sent the request, and
    // the client only ends after it received the trailers the server ended with.
    assert!(server_span.data.start_time >= client_span.data.start_time);
    assert!(server_span.data.end_time <= client_span.data.end_time);
}

#[tokio::test]
async fn the_server_span_is_current_while_the_handler_calls_downstream() {
    let capture = SpanCapture::new();
    let back = start(GrpcServerLayer::new().with_tracer(capture.tracer("back"))).await;
    let downstream = back.client(&capture.tracer("middle"));
    let middle = grpc_support::start_with(
        GrpcServerLayer::new().with_tracer(capture.tracer("middle")),
        Some(downstream),
    )
    .await;
    let mut client = middle.client(&capture.tracer("front"));

    client
        .unary(request("two hops"))
        .await
        .expect("the call succeeds");

    capture.wait_for(4, WAIT).await;
    assert_eq!(capture.trace_ids().len(), 1, "one trace across both hops");
    assert_tree(
        &capture.render(&TreeFormat::new()),
        "
        front client test.v1.Echo/Unary
          middle server test.v1.Echo/Unary
            middle client test.v1.Echo/Unary
              back server test.v1.Echo/Unary
        ",
    );
}
