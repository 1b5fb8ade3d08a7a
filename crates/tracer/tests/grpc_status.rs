//! Status codes: read from the trailers (normal responses) or the headers (trailers-only
//! responses), recorded by name, and mapped to span errors differently on each side.
#![cfg(all(feature = "tonic", feature = "testing"))]

mod grpc_support;

use grpc_support::{EchoClient, EchoRequest, WAIT, request, start};
use opentelemetry::Value;
use opentelemetry::trace::SpanKind;
use tonic::Code;
use tracer::grpc::{GrpcClientLayer, GrpcServerLayer, Semconv};
use tracer::testing::{SpanCapture, TreeFormat, assert_tree};

/// Every non-OK code, its name, and whether the *server* span must be an error (semconv gRPC:
/// only codes that mean the server failed). The client span is an error for all of them.
const CODES: [(Code, &str, bool); 16] = [
    (Code::Cancelled, "CANCELLED", false),
    (Code::Unknown, "UNKNOWN", true),
    (Code::InvalidArgument, "INVALID_ARGUMENT", false),
    (Code::DeadlineExceeded, "DEADLINE_EXCEEDED", true),
    (Code::NotFound, "NOT_FOUND", false),
    (Code::AlreadyExists, "ALREADY_EXISTS", false),
    (Code::PermissionDenied, "PERMISSION_DENIED", false),
    (Code::ResourceExhausted, "RESOURCE_EXHAUSTED", false),
    (Code::FailedPrecondition, "FAILED_PRECONDITION", false),
    (Code::Aborted, "ABORTED", false),
    (Code::OutOfRange, "OUT_OF_RANGE", false),
    (Code::Unimplemented, "UNIMPLEMENTED", true),
    (Code::Internal, "INTERNAL", true),
    (Code::Unavailable, "UNAVAILABLE", true),
    (Code::DataLoss, "DATA_LOSS", true),
    (Code::Unauthenticated, "UNAUTHENTICATED", false),
];

const SHOWN: [&str; 2] = ["rpc.response.status_code", "error.type"];

#[tokio::test]
async fn every_error_code_is_a_client_error_but_only_server_failures_are_server_errors() {
    let capture = SpanCapture::new();
    let server = start(GrpcServerLayer::new().with_tracer(capture.tracer("backend"))).await;
    let mut client = server.client(&capture.tracer("frontend"));

    let mut expected = String::new();
    for (code, name, server_error) in CODES {
        let req = EchoRequest {
            code: code as i32,
            ..request("fail")
        };
        let status = client.unary(req).await.expect_err("the call fails");
        assert_eq!(status.code(), code);
        let server_mark = if server_error {
            format!(" !error rpc.response.status_code={name} error.type={name}")
        } else {
            format!(" rpc.response.status_code={name}")
        };
        expected.push_str(&format!(
            "frontend client test.v1.Echo/Unary !error rpc.response.status_code={name} error.type={name}\n  backend server test.v1.Echo/Unary{server_mark}\n\n"
        ));
    }
    capture.wait_for(2 * CODES.len(), WAIT).await;
    assert_eq!(capture.trace_ids().len(), CODES.len(), "one trace per call");
    assert_tree(
        &capture.render(&TreeFormat::new().attributes(SHOWN)),
        &expected,
    );
    for span in capture.spans().iter().filter(|s| s.is_error()) {
        assert!(
            span.all_text().contains("requested"),
            "the grpc-message is the error description: {:?}",
            span.data.status
        );
    }
}

#[tokio::test]
async fn a_status_after_messages_is_read_from_the_trailers() {
    let capture = SpanCapture::new();
    let server = start(GrpcServerLayer::new().with_tracer(capture.tracer("backend"))).await;
    let mut client = server.client(&capture.tracer("frontend"));

    for code in [Code::NotFound, Code::DataLoss] {
        // Two messages, then the status: it can only travel in the trailers.
        let req = EchoRequest {
            count: 2,
            code: code as i32,
            ..request("stream")
        };
        let mut stream = client
            .server_stream(req)
            .await
            .expect("headers arrive")
            .into_inner();
        let mut received = 0;
        let status = loop {
            match stream.message().await {
                Ok(Some(_)) => received += 1,
                Ok(None) => panic!("the stream must end with {code:?}"),
                Err(status) => break status,
            }
        };
        assert_eq!((received, status.code()), (2, code));
    }

    capture.wait_for(4, WAIT).await;
    assert_tree(
        &capture.render(&TreeFormat::new().attributes(SHOWN)),
        "
        frontend client test.v1.Echo/ServerStream !error rpc.response.status_code=NOT_FOUND error.type=NOT_FOUND
          backend server test.v1.Echo/ServerStream rpc.response.status_code=NOT_FOUND

        frontend client test.v1.Echo/ServerStream !error rpc.response.status_code=DATA_LOSS error.type=DATA_LOSS
          backend server test.v1.Echo/ServerStream !error rpc.response.status_code=DATA_LOSS error.type=DATA_LOSS
        ",
    );
}

#[tokio::test]
async fn a_trailers_only_status_is_read_from_the_headers() {
    let capture = SpanCapture::new();
    let server = start(GrpcServerLayer::new().with_tracer(capture.tracer("backend"))).await;
    let mut client = server.client(&capture.tracer("frontend"));

    // An unknown method: tonic answers with a trailers-only UNIMPLEMENTED before any handler.
    let mut raw = tonic::client::Grpc::new(
        tower::ServiceBuilder::new()
            .layer(GrpcClientLayer::new().with_tracer(capture.tracer("frontend")))
            .service(server.channel()),
    );
    raw.ready().await.unwrap();
    let status = raw
        .unary::<EchoRequest, grpc_support::EchoResponse, _>(
            tonic::Request::new(request("x")),
            "/test.v1.Echo/Missing".parse().unwrap(),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .expect_err("no such method");
    assert_eq!(status.code(), Code::Unimplemented);

    // A handler error before any message: trailers-only as well.
    let req = EchoRequest {
        code: Code::PermissionDenied as i32,
        ..request("x")
    };
    let status = client.unary(req).await.expect_err("denied");
    assert_eq!(status.code(), Code::PermissionDenied);

    capture.wait_for(4, WAIT).await;
    assert_tree(
        &capture.render(&TreeFormat::new().attributes(SHOWN)),
        "
        frontend client test.v1.Echo/Missing !error rpc.response.status_code=UNIMPLEMENTED error.type=UNIMPLEMENTED
          backend server test.v1.Echo/Missing !error rpc.response.status_code=UNIMPLEMENTED error.type=UNIMPLEMENTED

        frontend client test.v1.Echo/Unary !error rpc.response.status_code=PERMISSION_DENIED error.type=PERMISSION_DENIED
          backend server test.v1.Echo/Unary rpc.response.status_code=PERMISSION_DENIED
        ",
    );
}

#[tokio::test]
async fn legacy_attribute_names_are_an_opt_in() {
    let capture = SpanCapture::new();
    let layer = GrpcServerLayer::new()
        .with_tracer(capture.tracer("backend"))
        .semconv(Semconv::Duplicate);
    let server = start(layer).await;
    let client_layer = GrpcClientLayer::new()
        .with_tracer(capture.tracer("frontend"))
        .semconv(Semconv::Legacy);
    let mut client = EchoClient::new(
        tower::ServiceBuilder::new()
            .layer(client_layer)
            .service(server.channel()),
    );

    let req = EchoRequest {
        code: Code::NotFound as i32,
        ..request("x")
    };
    client.unary(req).await.expect_err("not found");

    capture.wait_for(2, WAIT).await;
    assert_tree(
        &capture.render(&TreeFormat::new().attributes([
            "rpc.system.name",
            "rpc.system",
            "rpc.service",
            "rpc.method",
            "rpc.grpc.status_code",
            "rpc.response.status_code",
        ])),
        "
        frontend client test.v1.Echo/Unary !error rpc.system=grpc rpc.service=test.v1.Echo rpc.method=Unary rpc.grpc.status_code=5 rpc.response.status_code=NOT_FOUND
          backend server test.v1.Echo/Unary rpc.system.name=grpc rpc.system=grpc rpc.service=test.v1.Echo rpc.method=test.v1.Echo/Unary rpc.grpc.status_code=5 rpc.response.status_code=NOT_FOUND
        ",
    );
    let server_span = capture
        .spans()
        .into_iter()
        .find(|s| *s.kind() == SpanKind::Server)
        .unwrap();
    assert_eq!(
        server_span.attr("rpc.grpc.status_code"),
        Some(&Value::I64(5)),
        "an integer"
    );
}
