//! Deadlines and cancellation: the client's `grpc-timeout` is recorded, an expired deadline shows
//! as DEADLINE_EXCEEDED on both sides, a client that goes away leaves a CANCELLED server span in
//! error (the cancellation rule shared with HTTP),
//! and in both cases the handler does no work after the call was abandoned.
#![cfg(all(feature = "tonic", feature = "testing"))]

mod grpc_support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use grpc_support::{EchoRequest, WAIT, request, start};
use opentelemetry::Value;
use tonic::Code;
use tracer::grpc::GrpcServerLayer;
use tracer::testing::{SpanCapture, TreeFormat, assert_tree};

const SHOWN: [&str; 3] = [
    "rpc.response.status_code",
    "error.type",
    "tracer.rpc.request.timeout_ms",
];

/// A request whose handler sleeps 600 ms before it counts itself as completed.
fn slow() -> EchoRequest {
    EchoRequest {
        sleep_ms: 600,
        ..request("slow")
    }
}

#[tokio::test]
async fn an_expired_deadline_shows_on_both_sides_and_stops_the_handler() {
    let capture = SpanCapture::new();
    let server = start(GrpcServerLayer::new().with_tracer(capture.tracer("backend"))).await;
    let mut client = server.client(&capture.tracer("frontend"));

    let mut req = tonic::Request::new(slow());
    req.set_timeout(Duration::from_millis(100));
    let status = client
        .unary(req)
        .await
        .expect_err("the deadline expires first");
    // tonic's server answers an expired `grpc-timeout` with CANCELLED (its timeout error maps
    // so); the spans record what gRPC specifies for it, DEADLINE_EXCEEDED.
    assert!(
        matches!(status.code(), Code::Cancelled | Code::DeadlineExceeded),
        "{status:?}"
    );

    capture.wait_for(2, WAIT).await;
    assert_tree(
        &capture.render(&TreeFormat::new().attributes(SHOWN)),
        "
        frontend client test.v1.Echo/Unary !error rpc.response.status_code=DEADLINE_EXCEEDED error.type=DEADLINE_EXCEEDED tracer.rpc.request.timeout_ms=100
          backend server test.v1.Echo/Unary !error rpc.response.status_code=DEADLINE_EXCEEDED error.type=DEADLINE_EXCEEDED tracer.rpc.request.timeout_ms=100
        ",
    );
    // Well past the handler's sleep: had it gone on after the deadline, it would have counted.
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(
        server.state.completed.load(Ordering::SeqCst),
        0,
        "no work after the deadline"
    );
}

#[tokio::test]
async fn a_deadline_that_is_met_is_recorded_but_harmless() {
    let capture = SpanCapture::new();
    let server = start(GrpcServerLayer::new().with_tracer(capture.tracer("backend"))).await;
    let mut client = server.client(&capture.tracer("frontend"));

    let mut req = tonic::Request::new(request("quick"));
    req.set_timeout(Duration::from_secs(30));
    client.unary(req).await.expect("well within the deadline");

    capture.wait_for(2, WAIT).await;
    assert_tree(
        &capture.render(&TreeFormat::new().attributes(SHOWN)),
        "
        frontend client test.v1.Echo/Unary rpc.response.status_code=OK tracer.rpc.request.timeout_ms=30000
          backend server test.v1.Echo/Unary rpc.response.status_code=OK tracer.rpc.request.timeout_ms=30000
        ",
    );
}

#[tokio::test]
async fn a_client_that_goes_away_leaves_a_cancelled_server_span_and_no_work() {
    let capture = SpanCapture::new();
    let server = start(GrpcServerLayer::new().with_tracer(capture.tracer("backend"))).await;
    let mut client = server.client(&capture.tracer("frontend"));

    // No deadline on the wire: the client simply stops waiting and drops the call.
    let abandoned = tokio::time::timeout(Duration::from_millis(100), client.unary(slow())).await;
    assert!(abandoned.is_err(), "the caller gave up first");

    capture.wait_for(2, WAIT).await;
    assert_tree(
        &capture.render(&TreeFormat::new().attributes(SHOWN)),
        "
        frontend client test.v1.Echo/Unary !error rpc.response.status_code=CANCELLED error.type=CANCELLED
          backend server test.v1.Echo/Unary !error rpc.response.status_code=CANCELLED error.type=CANCELLED
        ",
    );
    let server_span = capture
        .spans()
        .into_iter()
        .find(|s| s.service == "backend")
        .unwrap();
    assert_eq!(
        server_span.attr("rpc.response.status_code"),
        Some(&Value::from("CANCELLED"))
    );
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(
        server.state.completed.load(Ordering::SeqCst),
        0,
        "no work after the cancel"
    );
}
