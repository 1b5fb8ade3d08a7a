//! Streaming calls (server, client, bidirectional): the span covers the whole stream, ends with
//! the status in the trailers (or as CANCELLED when the stream is dropped), and can count the
//! messages each way.
#![cfg(all(feature = "tonic", feature = "testing"))]

mod grpc_support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use grpc_support::{EchoClient, EchoRequest, WAIT, request, start};
use opentelemetry::Value;
use opentelemetry::trace::SpanKind;
use tonic::Code;
use tracer::grpc::{GrpcClientLayer, GrpcServerLayer};
use tracer::testing::{CapturedSpan, SpanCapture, TreeFormat, assert_tree};

const SHOWN: [&str; 4] = [
    "rpc.response.status_code",
    "error.type",
    "tracer.rpc.messages.sent",
    "tracer.rpc.messages.received",
];

struct Setup {
    capture: SpanCapture,
    server: grpc_support::TestServer,
    client: EchoClient<tracer::grpc::GrpcClientService<tonic::transport::Channel>>,
}

/// Both layers with message events on.
async fn setup() -> Setup {
    let capture = SpanCapture::new();
    let server = start(
        GrpcServerLayer::new()
            .with_tracer(capture.tracer("backend"))
            .message_events(true),
    )
    .await;
    let layer = GrpcClientLayer::new()
        .with_tracer(capture.tracer("frontend"))
        .message_events(true);
    let client = EchoClient::new(
        tower::ServiceBuilder::new()
            .layer(layer)
            .service(server.channel()),
    );
    Setup {
        capture,
        server,
        client,
    }
}

fn span(spans: &[CapturedSpan], kind: SpanKind) -> &CapturedSpan {
    spans
        .iter()
        .find(|s| *s.kind() == kind)
        .expect("span present")
}

fn duration(span: &CapturedSpan) -> Duration {
    span.data
        .end_time
        .duration_since(span.data.start_time)
        .unwrap()
}

#[tokio::test]
async fn a_server_stream_span_lasts_until_the_last_message() {
    let Setup {
        capture,
        mut client,
        server: _server,
    } = setup().await;
    let req = EchoRequest {
        count: 3,
        sleep_ms: 100,
        ..request("tick")
    };
    let mut stream = client.server_stream(req).await.unwrap().into_inner();
    let mut seqs = Vec::new();
    while let Some(reply) = stream.message().await.unwrap() {
        seqs.push(reply.seq);
    }
    assert_eq!(seqs, [1, 2, 3]);

    let spans = capture.wait_for(2, WAIT).await;
    assert_tree(
        &capture.render(&TreeFormat::new().attributes(SHOWN).events(true)),
        "
        frontend client test.v1.Echo/ServerStream rpc.response.status_code=OK tracer.rpc.messages.sent=1 tracer.rpc.messages.received=3 events=[tracer.rpc.message,tracer.rpc.message,tracer.rpc.message,tracer.rpc.message]
          backend server test.v1.Echo/ServerStream rpc.response.status_code=OK tracer.rpc.messages.sent=3 tracer.rpc.messages.received=1 events=[tracer.rpc.message,tracer.rpc.message,tracer.rpc.message,tracer.rpc.message]
        ",
    );
    // The server slept 3 x 100 ms between messages: a span that ended with the response
    // headers would be far shorter.
    for kind in [SpanKind::Server, SpanKind::Client] {
        assert!(
            duration(span(&spans, kind.clone())) >= Duration::from_millis(300),
            "{kind:?}"
        );
    }
    let server_span = span(&spans, SpanKind::Server);
    let kinds: Vec<String> = server_span
        .data
        .events
        .iter()
        .map(|e| {
            let get = |k: &str| {
                e.attributes
                    .iter()
                    .find(|kv| kv.key.as_str() == k)
                    .map(|kv| kv.value.to_string())
                    .unwrap_or_default()
            };
            format!(
                "{}#{}",
                get("tracer.rpc.message.type"),
                get("tracer.rpc.message.id")
            )
        })
        .collect();
    assert_eq!(kinds, ["RECEIVED#1", "SENT#1", "SENT#2", "SENT#3"]);
}

#[tokio::test]
async fn a_client_stream_span_counts_what_the_client_sent() {
    let Setup {
        capture,
        mut client,
        server: _server,
    } = setup().await;
    let outgoing = tokio_stream::iter((0..4).map(|i| request(&format!("m{i}"))));
    let reply = client.client_stream(outgoing).await.unwrap().into_inner();
    assert_eq!(reply.message, "received 4");

    capture.wait_for(2, WAIT).await;
    assert_tree(
        &capture.render(&TreeFormat::new().attributes(SHOWN)),
        "
        frontend client test.v1.Echo/ClientStream rpc.response.status_code=OK tracer.rpc.messages.sent=4 tracer.rpc.messages.received=1
          backend server test.v1.Echo/ClientStream rpc.response.status_code=OK tracer.rpc.messages.sent=1 tracer.rpc.messages.received=4
        ",
    );
}

#[tokio::test]
async fn a_bidi_stream_span_covers_both_directions() {
    let Setup {
        capture,
        mut client,
        server: _server,
    } = setup().await;
    let outgoing = tokio_stream::iter((0..3).map(|i| request(&format!("m{i}"))));
    let mut replies = client.bidi_stream(outgoing).await.unwrap().into_inner();
    let mut got = Vec::new();
    while let Some(reply) = replies.message().await.unwrap() {
        got.push(reply.message);
    }
    assert_eq!(got, ["m0", "m1", "m2"]);

    capture.wait_for(2, WAIT).await;
    assert_tree(
        &capture.render(&TreeFormat::new().attributes(SHOWN)),
        "
        frontend client test.v1.Echo/BidiStream rpc.response.status_code=OK tracer.rpc.messages.sent=3 tracer.rpc.messages.received=3
          backend server test.v1.Echo/BidiStream rpc.response.status_code=OK tracer.rpc.messages.sent=3 tracer.rpc.messages.received=3
        ",
    );
}

#[tokio::test]
async fn an_error_in_the_middle_of_each_kind_of_stream_ends_the_spans_with_it() {
    let Setup {
        capture,
        mut client,
        server: _server,
    } = setup().await;

    // Server stream: 2 messages, then INTERNAL in the trailers.
    let req = EchoRequest {
        count: 5,
        fail_after: 2,
        code: Code::Internal as i32,
        ..request("s")
    };
    let mut stream = client.server_stream(req).await.unwrap().into_inner();
    assert!(stream.message().await.unwrap().is_some());
    assert!(stream.message().await.unwrap().is_some());
    assert_eq!(stream.message().await.unwrap_err().code(), Code::Internal);

    // Client stream: the server gives up at the second message with INVALID_ARGUMENT.
    let bad = EchoRequest {
        code: Code::InvalidArgument as i32,
        ..request("bad")
    };
    let outgoing = tokio_stream::iter([request("ok"), bad, request("never read")]);
    let status = client.client_stream(outgoing).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);

    // Bidi: one echo, then DATA_LOSS for the second message.
    let bad = EchoRequest {
        code: Code::DataLoss as i32,
        ..request("bad")
    };
    let outgoing = tokio_stream::iter([request("ok"), bad]);
    let mut replies = client.bidi_stream(outgoing).await.unwrap().into_inner();
    assert_eq!(replies.message().await.unwrap().unwrap().message, "ok");
    assert_eq!(replies.message().await.unwrap_err().code(), Code::DataLoss);

    capture.wait_for(6, WAIT).await;
    // Message counts are left out here: how many messages were in flight when the error struck
    // depends on the network, not on the layers.
    assert_tree(
        &capture.render(&TreeFormat::new().attributes(["rpc.response.status_code", "error.type"])),
        "
        frontend client test.v1.Echo/ServerStream !error rpc.response.status_code=INTERNAL error.type=INTERNAL
          backend server test.v1.Echo/ServerStream !error rpc.response.status_code=INTERNAL error.type=INTERNAL

        frontend client test.v1.Echo/ClientStream !error rpc.response.status_code=INVALID_ARGUMENT error.type=INVALID_ARGUMENT
          backend server test.v1.Echo/ClientStream rpc.response.status_code=INVALID_ARGUMENT

        frontend client test.v1.Echo/BidiStream !error rpc.response.status_code=DATA_LOSS error.type=DATA_LOSS
          backend server test.v1.Echo/BidiStream !error rpc.response.status_code=DATA_LOSS error.type=DATA_LOSS
        ",
    );
}

#[tokio::test]
async fn a_client_that_drops_a_stream_cancels_both_spans_and_the_production() {
    let Setup {
        capture,
        mut client,
        server,
    } = setup().await;
    let req = EchoRequest {
        count: 1000,
        sleep_ms: 20,
        ..request("endless")
    };
    let mut stream = client.server_stream(req).await.unwrap().into_inner();
    assert!(stream.message().await.unwrap().is_some());
    assert!(stream.message().await.unwrap().is_some());
    drop(stream);

    capture.wait_for(2, WAIT).await;
    assert_tree(
        &capture.render(&TreeFormat::new().attributes(["rpc.response.status_code", "error.type"])),
        "
        frontend client test.v1.Echo/ServerStream !error rpc.response.status_code=CANCELLED error.type=CANCELLED
          backend server test.v1.Echo/ServerStream !error rpc.response.status_code=CANCELLED error.type=CANCELLED
        ",
    );
    let produced = server.state.produced.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        server.state.produced.load(Ordering::SeqCst),
        produced,
        "the server stopped producing once the stream was dropped"
    );
    assert!(produced < 1000);
    let server_span = capture
        .spans()
        .into_iter()
        .find(|s| s.service == "backend")
        .unwrap();
    assert_eq!(
        server_span.attr("rpc.response.status_code"),
        Some(&Value::from("CANCELLED"))
    );
}
