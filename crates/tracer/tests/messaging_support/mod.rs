//! Reaching the real brokers on this machine (NATS with JetStream, RabbitMQ), and reading a
//! consumer span's links.
// Each test binary uses a different part of this module.
#![allow(dead_code, unreachable_pub)]

use opentelemetry::trace::SpanId;
use tracer::testing::CapturedSpan;

/// The span ids a span links to.
pub fn links(span: &CapturedSpan) -> Vec<SpanId> {
    span.data
        .links
        .iter()
        .map(|l| l.span_context.span_id())
        .collect()
}

/// The settle event of a consumer span as text: `ack`, `nack requeue=true`, ... (`none`).
pub fn settlement(span: &CapturedSpan) -> String {
    let Some(event) = span
        .data
        .events
        .iter()
        .find(|e| e.name == "tracer.messaging.settle")
    else {
        return "none".into();
    };
    let get = |key: &str| {
        event
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.to_string())
    };
    assert_eq!(get("messaging.operation.type").as_deref(), Some("settle"));
    let mut out = get("messaging.operation.name").unwrap_or_default();
    if let Some(requeue) = get("tracer.messaging.requeue") {
        out.push_str(&format!(" requeue={requeue}"));
    }
    out
}

/// The one captured span named `name`.
pub fn one(spans: &[CapturedSpan], name: &str) -> CapturedSpan {
    let found: Vec<&CapturedSpan> = spans.iter().filter(|s| s.name() == name).collect();
    assert_eq!(found.len(), 1, "expected one span `{name}` in {spans:#?}");
    found[0].clone()
}

#[cfg(feature = "nats")]
pub mod nats_server {
    //! The real NATS (JetStream on) at 127.0.0.1:4222.

    /// Where the tests expect NATS.
    pub const URL: &str = "127.0.0.1:4222";

    /// A client of the real NATS; fails saying how to start it.
    pub async fn connect() -> async_nats::Client {
        match async_nats::connect(URL).await {
            Ok(client) => client,
            Err(e) => panic!(
                "NATS is not reachable at {URL} ({e}): start it with `start-stop-daemon --start \
                 --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js \
                 -sd /var/lib/nats-server -l /var/log/nats-server.log`"
            ),
        }
    }
}

#[cfg(feature = "lapin")]
pub mod rabbitmq {
    //! The real RabbitMQ at 127.0.0.1:5672 (guest/guest).

    use lapin::options::QueueDeclareOptions;
    use lapin::types::FieldTable;
    use lapin::{Channel, Connection, ConnectionProperties};

    /// Where the tests expect RabbitMQ.
    pub const URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

    /// A channel on the real RabbitMQ; fails saying how to start it.
    pub async fn channel() -> (Connection, Channel) {
        let conn = match Connection::connect(URL, ConnectionProperties::default()).await {
            Ok(conn) => conn,
            Err(e) => panic!(
                "RabbitMQ is not reachable at {URL} ({e}): start it with `rabbitmq-server -detached`"
            ),
        };
        let channel = conn.create_channel().await.expect("a channel");
        (conn, channel)
    }

    /// Declares an exclusive, auto-deleted queue named `name` with `arguments`.
    pub async fn queue(channel: &Channel, name: &str, arguments: FieldTable) {
        channel
            .queue_declare(
                name.into(),
                QueueDeclareOptions {
                    auto_delete: true,
                    ..QueueDeclareOptions::default()
                },
                arguments,
            )
            .await
            .expect("queue declared");
    }
}
