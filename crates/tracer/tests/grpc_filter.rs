//! Hooks: health checks are not traced by default, and a filter, a span namer and an attribute
//! hook can change what is traced and how.
#![cfg(all(feature = "tonic", feature = "testing"))]

mod grpc_support;

use std::borrow::Cow;

use grpc_support::{EchoClient, WAIT, request, start};
use opentelemetry::KeyValue;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tracer::grpc::{CallInfo, GrpcClientLayer, GrpcServerLayer};
use tracer::testing::{SpanCapture, TreeFormat, assert_tree};

#[tokio::test]
async fn health_checks_are_not_traced_by_default() {
    let capture = SpanCapture::new();
    let server = start(GrpcServerLayer::new().with_tracer(capture.tracer("backend"))).await;
    let layer = GrpcClientLayer::new().with_tracer(capture.tracer("frontend"));
    let channel = tower::ServiceBuilder::new()
        .layer(layer)
        .service(server.channel());

    HealthClient::new(channel.clone())
        .check(HealthCheckRequest::default())
        .await
        .expect("the health service answers");
    EchoClient::new(channel)
        .unary(request("traced"))
        .await
        .unwrap();

    capture.wait_for(2, WAIT).await;
    assert_tree(
        &capture.render(&TreeFormat::new()),
        "
        frontend client test.v1.Echo/Unary
          backend server test.v1.Echo/Unary
        ",
    );
}

#[tokio::test]
async fn filter_name_and_attribute_hooks_apply_on_both_sides() {
    let capture = SpanCapture::new();
    let not_streams = |call: &CallInfo<'_>| !call.method.method.ends_with("Stream");
    let short_name = |call: &CallInfo<'_>| Cow::Owned(format!("rpc {}", call.method.method));
    let tenant = |call: &CallInfo<'_>, attrs: &mut Vec<KeyValue>| {
        if let Some(t) = call.headers.get("x-tenant").and_then(|v| v.to_str().ok()) {
            attrs.push(KeyValue::new("app.tenant", t.to_owned()));
        }
    };
    let server = start(
        GrpcServerLayer::new()
            .with_tracer(capture.tracer("backend"))
            .filter(not_streams)
            .span_name(short_name)
            .extra_attributes(tenant),
    )
    .await;
    let layer = GrpcClientLayer::new()
        .with_tracer(capture.tracer("frontend"))
        .filter(not_streams)
        .span_name(short_name);
    let mut client = EchoClient::new(
        tower::ServiceBuilder::new()
            .layer(layer)
            .service(server.channel()),
    );

    let mut req = tonic::Request::new(request("x"));
    req.metadata_mut()
        .insert("x-tenant", "acme".parse().unwrap());
    client.unary(req).await.unwrap();
    let mut stream = client
        .server_stream(request("untraced"))
        .await
        .unwrap()
        .into_inner();
    while stream.message().await.unwrap().is_some() {}

    capture.wait_for(2, WAIT).await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_tree(
        &capture.render(&TreeFormat::new().attributes(["app.tenant", "rpc.method"])),
        "
        frontend client rpc Unary rpc.method=test.v1.Echo/Unary
          backend server rpc Unary app.tenant=acme rpc.method=test.v1.Echo/Unary
        ",
    );
}
