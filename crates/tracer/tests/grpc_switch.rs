//! The off switch on a gRPC hop: no spans from the silent service, yet the context it received
//! is kept current in its handler and forwarded by its client, so the trace does not split.
#![cfg(all(feature = "tonic", feature = "testing"))]

mod grpc_support;

use grpc_support::{WAIT, request, start, start_with};
use tracer::grpc::GrpcServerLayer;
use tracer::testing::{SpanCapture, TreeFormat, assert_tree};

#[tokio::test]
async fn a_switched_off_middle_service_forwards_the_trace() {
    let capture = SpanCapture::new();
    let middle_tracer = capture.tracer("middle");
    let back = start(GrpcServerLayer::new().with_tracer(capture.tracer("back"))).await;
    let middle = start_with(
        GrpcServerLayer::new().with_tracer(middle_tracer.clone()),
        Some(back.client(&middle_tracer)),
    )
    .await;
    let mut client = middle.client(&capture.tracer("front"));

    middle_tracer.set_enabled(false);
    client.unary(request("through a silent hop")).await.unwrap();
    capture.wait_for(2, WAIT).await;
    assert_tree(
        &capture.render(&TreeFormat::new()),
        "
        front client test.v1.Echo/Unary
          back server test.v1.Echo/Unary
        ",
    );
    assert!(
        capture.spans().iter().all(|s| s.service != "middle"),
        "no spans while off"
    );

    // Switched back on at run time: the middle hop shows up again, still one trace per call.
    capture.clear();
    middle_tracer.set_enabled(true);
    client.unary(request("and back on")).await.unwrap();
    capture.wait_for(4, WAIT).await;
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

#[tokio::test]
async fn switched_off_everywhere_there_are_no_spans_but_calls_work() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("svc");
    tracer.set_enabled(false);
    let server = start(GrpcServerLayer::new().with_tracer(tracer.clone())).await;
    let mut client = server.client(&tracer);
    client.unary(request("quiet")).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(capture.is_empty(), "{:?}", capture.spans());
    assert_tree(&capture.render(&TreeFormat::new()), "");
}
