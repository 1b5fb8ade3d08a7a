//! An HTTP handler (axum behind tracer's HTTP server layer) that calls a gRPC service through
//! the gRPC client layer: one trace from the HTTP request down to the gRPC server span.
#![cfg(all(feature = "tonic", feature = "axum", feature = "testing"))]

mod grpc_support;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use grpc_support::{TracedClient, WAIT, request, start};
use tracer::grpc::GrpcServerLayer;
use tracer::http::server::TraceLayer;
use tracer::testing::{SpanCapture, TreeFormat, assert_tree};

async fn relay(State(mut client): State<TracedClient>) -> String {
    match client.unary(request("from http")).await {
        Ok(reply) => reply.into_inner().message,
        Err(status) => format!("grpc error {:?}", status.code()),
    }
}

#[tokio::test]
async fn an_http_handler_calling_grpc_is_one_trace() {
    let capture = SpanCapture::new();
    let backend = start(GrpcServerLayer::new().with_tracer(capture.tracer("backend"))).await;
    let gateway = capture.tracer("gateway");
    let app = Router::new()
        .route("/relay", get(relay))
        .layer(TraceLayer::new().with_tracer(gateway.clone()))
        .with_state(backend.client(&gateway));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let body = reqwest::get(format!("http://{addr}/relay"))
        .await
        .expect("the gateway answers")
        .text()
        .await
        .unwrap();
    assert_eq!(body, "from http");

    capture.wait_for(3, WAIT).await;
    assert_eq!(
        capture.trace_ids().len(),
        1,
        "one trace across HTTP and gRPC"
    );
    assert_tree(
        &capture.render(&TreeFormat::new().attributes(["rpc.response.status_code"])),
        "
        gateway server GET /relay
          gateway client test.v1.Echo/Unary rpc.response.status_code=OK
            backend server test.v1.Echo/Unary rpc.response.status_code=OK
        ",
    );
}
