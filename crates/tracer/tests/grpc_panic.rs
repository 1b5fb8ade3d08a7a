//! A panicking handler: the caller gets INTERNAL, the server span records an `exception` event,
//! and the server (and the very same connection) keeps serving.
#![cfg(all(feature = "tonic", feature = "testing"))]

mod grpc_support;

use grpc_support::{EchoRequest, WAIT, request, start};
use tonic::Code;
use tracer::grpc::GrpcServerLayer;
use tracer::testing::{SpanCapture, TreeFormat, assert_tree};

const SHOWN: [&str; 2] = ["rpc.response.status_code", "error.type"];

#[tokio::test]
async fn a_panicking_unary_handler_answers_internal_and_the_next_call_succeeds() {
    let capture = SpanCapture::new();
    let server = start(GrpcServerLayer::new().with_tracer(capture.tracer("backend"))).await;
    let mut client = server.client(&capture.tracer("frontend"));

    let req = EchoRequest {
        panic: true,
        ..request("boom")
    };
    let status = client.unary(req).await.expect_err("the handler panicked");
    assert_eq!(status.code(), Code::Internal);
    let reply = client
        .unary(request("still there?"))
        .await
        .expect("the server keeps serving");
    assert_eq!(reply.into_inner().message, "still there?");

    capture.wait_for(4, WAIT).await;
    assert_tree(
        &capture.render(&TreeFormat::new().attributes(SHOWN).events(true)),
        "
        frontend client test.v1.Echo/Unary !error rpc.response.status_code=INTERNAL error.type=INTERNAL
          backend server test.v1.Echo/Unary !error rpc.response.status_code=INTERNAL error.type=INTERNAL events=[exception]

        frontend client test.v1.Echo/Unary rpc.response.status_code=OK
          backend server test.v1.Echo/Unary rpc.response.status_code=OK
        ",
    );
    let panicked = capture
        .spans()
        .into_iter()
        .find(|s| s.service == "backend" && s.is_error())
        .unwrap();
    let text = panicked.all_text();
    assert!(text.contains("exception.type=panic"), "{text}");
    assert!(
        text.contains("exception.message=unary handler panicked on purpose"),
        "{text}"
    );
}

#[tokio::test]
async fn a_panic_inside_a_response_stream_ends_it_with_internal() {
    let capture = SpanCapture::new();
    let server = start(GrpcServerLayer::new().with_tracer(capture.tracer("backend"))).await;
    let mut client = server.client(&capture.tracer("frontend"));

    let req = EchoRequest {
        count: 5,
        fail_after: 2,
        panic: true,
        // A pause between messages makes each leave in its own frame before the panic
        // (tonic's encoder batches whatever is ready at once, and a panic loses the batch).
        sleep_ms: 10,
        ..request("boom")
    };
    let mut stream = client.server_stream(req).await.unwrap().into_inner();
    assert!(stream.message().await.unwrap().is_some());
    assert!(stream.message().await.unwrap().is_some());
    assert_eq!(stream.message().await.unwrap_err().code(), Code::Internal);
    client
        .unary(request("after"))
        .await
        .expect("the server keeps serving");

    capture.wait_for(4, WAIT).await;
    assert_tree(
        &capture.render(&TreeFormat::new().attributes(SHOWN).events(true)),
        "
        frontend client test.v1.Echo/ServerStream !error rpc.response.status_code=INTERNAL error.type=INTERNAL
          backend server test.v1.Echo/ServerStream !error rpc.response.status_code=INTERNAL error.type=INTERNAL events=[exception]

        frontend client test.v1.Echo/Unary rpc.response.status_code=OK
          backend server test.v1.Echo/Unary rpc.response.status_code=OK
        ",
    );
}
