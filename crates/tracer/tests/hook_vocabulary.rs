//! One hook vocabulary on HTTP and gRPC: the same traits, called at the same point relative to
//! sampling (extra attributes only for sampled spans, after the decision), and a request the
//! filter skips forwards its context on both protocols.
#![cfg(all(
    feature = "tonic",
    feature = "axum",
    feature = "reqwest",
    feature = "testing"
))]

mod grpc_support;
mod http_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::get;
use grpc_support::{WAIT, request, start, start_with};
use http::request::Parts;
use opentelemetry::KeyValue;
use tracer::Sampler;
use tracer::grpc::{CallInfo, GrpcServerLayer};
use tracer::hooks::{ExtraAttributes, Filter};
use tracer::http::server::TraceLayer;
use tracer::testing::{SpanCapture, TreeFormat, assert_tree};

/// An extra-attributes hook that counts its calls, for both protocols.
#[derive(Clone, Default)]
struct Counting(Arc<AtomicUsize>);

impl Counting {
    fn calls(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl ExtraAttributes<Parts> for Counting {
    fn extra_attributes(&self, _: &Parts, out: &mut Vec<KeyValue>) {
        self.0.fetch_add(1, Ordering::SeqCst);
        out.push(KeyValue::new("app.hook", "http"));
    }
}

impl ExtraAttributes<CallInfo<'_>> for Counting {
    fn extra_attributes(&self, _: &CallInfo<'_>, out: &mut Vec<KeyValue>) {
        self.0.fetch_add(1, Ordering::SeqCst);
        out.push(KeyValue::new("app.hook", "grpc"));
    }
}

async fn one_http_and_one_grpc_request(tracer: &tracer::Tracer, hook: &Counting) {
    let app = Router::new()
        .route("/users/{id}", get(|| async { "user" }))
        .layer(
            TraceLayer::new()
                .with_tracer(tracer.clone())
                .extra_attributes(hook.clone()),
        );
    let base = http_support::serve(app).await;
    let status = http_support::plain_client()
        .get(format!("{base}/users/1"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let server = start(
        GrpcServerLayer::new()
            .with_tracer(tracer.clone())
            .extra_attributes(hook.clone()),
    )
    .await;
    server
        .plain_client()
        .unary(request("hello"))
        .await
        .expect("the echo server answers");
}

#[tokio::test]
async fn extra_attributes_are_computed_only_for_sampled_spans_on_both_protocols() {
    let capture = SpanCapture::new();
    let unsampled = capture
        .builder("unsampled")
        .sampler(Sampler::AlwaysOff)
        .build()
        .unwrap()
        .into_tracer();
    let hook = Counting::default();
    one_http_and_one_grpc_request(&unsampled, &hook).await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(capture.is_empty(), "{:?}", capture.spans());
    assert_eq!(hook.calls(), 0, "the hook ran for an unsampled span");

    let sampled = capture.tracer("sampled");
    one_http_and_one_grpc_request(&sampled, &hook).await;
    capture.wait_for(2, WAIT).await;
    assert_eq!(hook.calls(), 2, "once per sampled span, on each protocol");
    assert_tree(
        &capture.render(&TreeFormat::new().attributes(["app.hook"])),
        "
        sampled server GET /users/{id} app.hook=http

        sampled server test.v1.Echo/Unary app.hook=grpc
        ",
    );
}

#[tokio::test]
async fn a_grpc_call_the_filter_skips_still_forwards_its_context() {
    let capture = SpanCapture::new();
    let middle_tracer = capture.tracer("middle");
    let back = start(GrpcServerLayer::new().with_tracer(capture.tracer("back"))).await;
    let nothing = |_: &CallInfo<'_>| false;
    let middle = start_with(
        GrpcServerLayer::new()
            .with_tracer(middle_tracer.clone())
            .filter(nothing),
        Some(back.client(&middle_tracer)),
    )
    .await;
    middle
        .client(&capture.tracer("front"))
        .unary(request("through a skipped server span"))
        .await
        .unwrap();
    capture.wait_for(3, WAIT).await;
    assert_tree(
        &capture.render(&TreeFormat::new()),
        "
        front client test.v1.Echo/Unary
          middle client test.v1.Echo/Unary
            back server test.v1.Echo/Unary
        ",
    );
}

#[test]
fn the_same_closure_shapes_fit_both_protocols() {
    // One trait per hook, generic over what the protocol shows of a request.
    fn is_filter<R: ?Sized>(_: &impl Filter<R>) {}
    is_filter::<Parts>(&|request: &Parts| request.uri.path() != "/health");
    is_filter::<CallInfo<'_>>(&|call: &CallInfo<'_>| call.method.service != "x");
    is_filter::<Parts>(&tracer::hooks::TraceAll);
    is_filter::<CallInfo<'_>>(&tracer::grpc::SkipHealthChecks);
}
