//! Metadata propagation: a server continues the trace it is given in W3C, B3 (single and multi)
//! and Jaeger metadata, and a client writes the formats its tracer is configured with.
#![cfg(all(feature = "tonic", feature = "testing"))]

mod grpc_support;

use grpc_support::{WAIT, request, start, traced_client};
use opentelemetry::trace::{SpanId, TraceId};
use tonic::metadata::MetadataValue;
use tracer::grpc::GrpcServerLayer;
use tracer::propagation::PropagatorKind;
use tracer::testing::{SpanCapture, TreeFormat, assert_tree};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN: &str = "00f067aa0ba902b7";

fn incoming(kind: PropagatorKind) -> Vec<(&'static str, String)> {
    match kind {
        PropagatorKind::TraceContext => vec![("traceparent", format!("00-{TRACE}-{SPAN}-01"))],
        PropagatorKind::B3 => vec![("b3", format!("{TRACE}-{SPAN}-1"))],
        PropagatorKind::B3Multi => vec![
            ("x-b3-traceid", TRACE.to_owned()),
            ("x-b3-spanid", SPAN.to_owned()),
            ("x-b3-sampled", "1".to_owned()),
        ],
        PropagatorKind::Jaeger => vec![("uber-trace-id", format!("{TRACE}%3A{SPAN}%3A0%3A1"))],
        PropagatorKind::Baggage => unreachable!("carries no span context"),
    }
}

#[tokio::test]
async fn the_server_continues_the_trace_given_in_each_format() {
    for kind in [
        PropagatorKind::TraceContext,
        PropagatorKind::B3,
        PropagatorKind::B3Multi,
        PropagatorKind::Jaeger,
    ] {
        let capture = SpanCapture::new();
        let tracer = capture
            .builder("backend")
            .propagators([kind])
            .build()
            .unwrap()
            .into_tracer();
        let server = start(GrpcServerLayer::new().with_tracer(tracer)).await;
        let mut req = tonic::Request::new(request("from elsewhere"));
        for (key, value) in incoming(kind) {
            req.metadata_mut()
                .insert(key, MetadataValue::try_from(value.as_str()).unwrap());
        }
        server.plain_client().unary(req).await.unwrap();

        let spans = capture.wait_for(1, WAIT).await;
        assert_tree(
            &capture.render(&TreeFormat::new()),
            "backend server test.v1.Echo/Unary",
        );
        let span = &spans[0];
        assert_eq!(
            span.trace_id(),
            TraceId::from_hex(TRACE).unwrap(),
            "{kind:?}"
        );
        assert_eq!(
            span.data.parent_span_id,
            SpanId::from_hex(SPAN).unwrap(),
            "{kind:?}"
        );
        assert!(span.data.parent_span_is_remote, "{kind:?}");
    }
}

#[tokio::test]
async fn the_client_writes_the_configured_formats_and_the_server_reads_them() {
    for (kind, header, absent) in [
        (PropagatorKind::B3, "b3", "traceparent"),
        (PropagatorKind::Jaeger, "uber-trace-id", "b3"),
        (PropagatorKind::TraceContext, "traceparent", "uber-trace-id"),
    ] {
        let capture = SpanCapture::new();
        let tracer = |s: &str| {
            capture
                .builder(s)
                .propagators([kind])
                .build()
                .unwrap()
                .into_tracer()
        };
        let server = start(GrpcServerLayer::new().with_tracer(tracer("backend"))).await;
        let mut client = traced_client(server.addr, &tracer("frontend"));
        client.unary(request("hi")).await.unwrap();

        capture.wait_for(2, WAIT).await;
        assert_tree(
            &capture.render(&TreeFormat::new()),
            "
            frontend client test.v1.Echo/Unary
              backend server test.v1.Echo/Unary
            ",
        );
        let metadata = server.state.last_metadata.lock().unwrap().clone();
        assert!(
            metadata.iter().any(|(k, _)| k == header),
            "{kind:?}: {metadata:?}"
        );
        assert!(
            !metadata.iter().any(|(k, _)| k == absent),
            "{kind:?}: {metadata:?}"
        );
    }
}

#[tokio::test]
async fn malformed_metadata_starts_a_new_trace() {
    let capture = SpanCapture::new();
    let server = start(GrpcServerLayer::new().with_tracer(capture.tracer("backend"))).await;
    let mut req = tonic::Request::new(request("garbage"));
    req.metadata_mut()
        .insert("traceparent", MetadataValue::from_static("00-zzzz-yyyy-01"));
    server
        .plain_client()
        .unary(req)
        .await
        .expect("garbage never fails a call");

    let spans = capture.wait_for(1, WAIT).await;
    assert_tree(
        &capture.render(&TreeFormat::new()),
        "backend server test.v1.Echo/Unary",
    );
    assert_eq!(spans[0].data.parent_span_id, SpanId::INVALID, "a new root");
}
