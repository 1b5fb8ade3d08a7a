//! A server that is not there: the client span records UNAVAILABLE, and there is no server span.
#![cfg(all(feature = "tonic", feature = "testing"))]

mod grpc_support;

use grpc_support::{request, traced_client};
use opentelemetry::Value;
use tonic::Code;
use tracer::testing::{SpanCapture, TreeFormat, assert_tree};

#[tokio::test]
async fn a_refused_connection_is_an_unavailable_client_span() {
    // A port that was just free: bind, note it, close it.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let capture = SpanCapture::new();
    let mut client = traced_client(addr, &capture.tracer("frontend"));

    let status = client
        .unary(request("anyone?"))
        .await
        .expect_err("nobody listens");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");

    assert_tree(
        &capture.render(&TreeFormat::new().attributes([
            "rpc.response.status_code",
            "error.type",
            "server.port",
        ])),
        &format!(
            "frontend client test.v1.Echo/Unary !error rpc.response.status_code=UNAVAILABLE error.type=UNAVAILABLE server.port={}",
            addr.port()
        ),
    );
    let span = &capture.spans()[0];
    assert_eq!(span.attr("server.address"), Some(&Value::from("127.0.0.1")));
    assert_eq!(capture.len(), 1, "no server span");
}
