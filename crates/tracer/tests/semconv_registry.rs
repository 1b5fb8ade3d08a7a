//! Every attribute key the integrations emit is a current semantic-convention name (semconv
//! 1.42, taken from the conventions crate in `tracer::semconv`, where a deprecated name fails the
//! build) or one of the library's own documented `tracer.*` names: this test drives each
//! integration against real servers (HTTP, gRPC, Redis, MariaDB, PostgreSQL, NATS with
//! JetStream, RabbitMQ), including its
//! error paths, and checks every key on every span and event.
#![cfg(all(
    feature = "axum",
    feature = "reqwest",
    feature = "tonic",
    feature = "redis",
    feature = "sqlx-mysql",
    feature = "sqlx-postgres",
    feature = "nats",
    feature = "lapin",
    feature = "testing"
))]

mod grpc_support;
mod http_support;
mod messaging_support;
mod support_data;

use std::collections::BTreeSet;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use redis::AsyncCommands;
use sqlx::AssertSqlSafe;
use support_data::{in_span, mariadb, postgres, redis_server, unique};
use tracer::grpc::{GrpcClientLayer, GrpcServerLayer};
use tracer::http::server::TraceLayer;
use tracer::redis::InstrumentedConnection;
use tracer::semconv::{EMITTED, LEGACY};
use tracer::sql::Pool;
use tracer::testing::SpanCapture;

#[tokio::test]
async fn every_emitted_attribute_key_is_a_current_semconv_name_or_our_own() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("app");

    // HTTP: a route, a query, a 5xx, a retried request, a panic.
    let router = Router::new()
        .route("/items/{id}", get(|| async { "item" }))
        .route(
            "/fail",
            get(|| async { (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down") }),
        )
        .route(
            "/panic",
            get(|| async {
                if true {
                    panic!("boom");
                }
                "never"
            }),
        )
        .layer(TraceLayer::new().with_tracer(capture.tracer("web")));
    let base = http_support::serve(router).await;
    let client = http_support::traced_client(&tracer);
    for path in [
        "/items/7?token=secret&page=2",
        "/fail",
        "/panic",
        "/missing",
    ] {
        let _ = client.get(format!("{base}{path}")).send().await;
    }
    let _ = client
        .request(
            reqwest::Method::from_bytes(b"BREW").unwrap(),
            format!("{base}/items/1"),
        )
        .send()
        .await;

    // gRPC: a unary call with message events and a deadline, and a failing one.
    let server = grpc_support::start(
        GrpcServerLayer::new()
            .with_tracer(capture.tracer("backend"))
            .message_events(true),
    )
    .await;
    let layer = GrpcClientLayer::new()
        .with_tracer(capture.tracer("frontend"))
        .message_events(true);
    let mut grpc = grpc_support::EchoClient::new(
        tower::ServiceBuilder::new()
            .layer(layer)
            .service(server.channel()),
    );
    let mut req = tonic::Request::new(grpc_support::request("hello"));
    req.set_timeout(Duration::from_secs(5));
    let _ = grpc.unary(req).await;
    let mut failing = grpc_support::request("fail");
    failing.code = 13; // INTERNAL
    let _ = grpc.unary(failing).await;

    // Redis: a command, a pipeline, an error.
    let (redis_client, conn) = redis_server::connect().await;
    let mut conn = InstrumentedConnection::new(conn, &redis_client).with_tracer(tracer.clone());
    let key = unique("registry");
    in_span(&tracer, "redis work", async {
        let _: () = conn.set(&key, "v").await.unwrap();
        let _: (Option<String>, i64) = redis::pipe()
            .get(&key)
            .del(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        let _: redis::RedisResult<i64> = conn.incr(&key, "not-a-number").await;
    })
    .await;

    // SQL on both dialects: a query, a failing query, a transaction.
    let t = unique("registry");
    let my = mariadb::pool(2).await;
    sqlx::query(AssertSqlSafe(format!(
        "CREATE TABLE {t} (id INT PRIMARY KEY, v VARCHAR(20))"
    )))
    .execute(&my)
    .await
    .unwrap();
    let my = Pool::new(my)
        .with_tracer(tracer.clone())
        .detect()
        .await
        .unwrap();
    let pg = Pool::new(postgres::pool(2).await)
        .with_tracer(tracer.clone())
        .detect()
        .await
        .unwrap();
    in_span(&tracer, "sql work", async {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {t} (id, v) VALUES (1, 'x')"
        )))
        .execute(&my)
        .await
        .unwrap();
        let _ = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {t} (id, v) VALUES (1, 'x')"
        )))
        .execute(&my)
        .await;
        let _ = sqlx::query("SELECT 1").fetch_all(&pg).await;
        let _ = sqlx::query("SELECT * FROM no_such_table_here")
            .fetch_all(&pg)
            .await;
        let mut tx = my.begin().await.unwrap();
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE {t} SET v = 'y' WHERE id = 1"
        )))
        .execute(&mut *tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
    })
    .await;
    let raw = mariadb::pool(1).await;
    sqlx::query(AssertSqlSafe(format!("DROP TABLE {t}")))
        .execute(&raw)
        .await
        .unwrap();

    messaging(&capture).await;

    tokio::time::sleep(Duration::from_millis(300)).await;
    let spans = capture.spans();
    assert!(spans.len() > 20, "only {} spans", spans.len());
    let mut keys = BTreeSet::new();
    for span in &spans {
        for kv in &span.data.attributes {
            keys.insert(kv.key.as_str().to_owned());
        }
        for event in span.data.events.iter() {
            for kv in &event.attributes {
                keys.insert(kv.key.as_str().to_owned());
            }
        }
    }
    let unknown: Vec<&String> = keys
        .iter()
        .filter(|k| !EMITTED.contains(&k.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "keys outside tracer::semconv: {unknown:?}"
    );
    let legacy: Vec<&String> = keys
        .iter()
        .filter(|k| LEGACY.contains(&k.as_str()))
        .collect();
    assert!(
        legacy.is_empty(),
        "legacy names without opting in: {legacy:?}"
    );
    for own in keys
        .iter()
        .filter(|k| !k.contains('.') || k.starts_with("tracer."))
    {
        assert!(
            own.starts_with("tracer."),
            "{own}: neither semconv nor ours"
        );
    }
    // The run covered the integrations: a name from each is there.
    for expected in [
        "http.route",
        "url.full",
        "rpc.method",
        "tracer.rpc.message.type",
        "db.operation.batch.size",
        "db.response.status_code",
        "tracer.sql.rows_affected",
        "messaging.rabbitmq.message.delivery_tag",
        "tracer.nats.jetstream.sequence",
        "tracer.messaging.requeue",
    ] {
        assert!(keys.contains(expected), "{expected} not emitted: {keys:?}");
    }
}

/// NATS (publish, request, no responder, JetStream publish/nak/ack, batch) and RabbitMQ
/// (publish, process, nack, batch, a failed publish).
async fn messaging(capture: &SpanCapture) {
    use async_nats::jetstream::AckKind;
    use futures_util::StreamExt as _;
    use lapin::options::{BasicConsumeOptions, BasicNackOptions, BasicPublishOptions};
    use lapin::types::FieldTable;
    use messaging_support::{nats_server, rabbitmq};
    use tracer::nats::{TracedClient, jetstream};

    let tracer = capture.tracer("broker-client");
    let nats = nats_server::connect().await;
    let client = TracedClient::new(nats.clone()).with_tracer(tracer.clone());
    let subject = unique("registry");
    let mut sub = nats.subscribe(subject.clone()).await.unwrap();
    nats.flush().await.unwrap();
    client.publish(subject.clone(), "x".into()).await.unwrap();
    let message = sub.next().await.unwrap();
    tracer::nats::process(&tracer, &message, Some("group")).end();
    tracer::nats::process_batch(&tracer, &subject, &[message]).end();
    let _ = client.request(unique("nobody"), "x".into()).await;
    let js =
        jetstream::TracedContext::new(async_nats::jetstream::new(nats)).with_tracer(tracer.clone());
    let name = unique("REGISTRY");
    let stream = js
        .get_ref()
        .create_stream(async_nats::jetstream::stream::Config {
            name: name.clone(),
            subjects: vec![format!("{name}.x")],
            ..Default::default()
        })
        .await
        .unwrap();
    js.publish(format!("{name}.x"), "x".into()).await.unwrap();
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config::default())
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    for kind in [AckKind::Nak(None), AckKind::Ack] {
        let message = messages.next().await.unwrap().unwrap();
        let span = jetstream::process(&tracer, &message);
        jetstream::settle(&span, &message, kind).await.unwrap();
    }
    js.get_ref().delete_stream(&name).await.unwrap();

    let (_conn, raw) = rabbitmq::channel().await;
    let channel = tracer::lapin::TracedChannel::new(raw.clone()).with_tracer(tracer.clone());
    let queue = unique("registry");
    rabbitmq::queue(&raw, &queue, FieldTable::default()).await;
    let mut deliveries = raw
        .basic_consume(
            queue.as_str().into(),
            "registry".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    channel
        .basic_publish(
            "",
            queue.as_str(),
            BasicPublishOptions::default(),
            b"x",
            lapin::BasicProperties::default().with_message_id("m1".into()),
        )
        .await
        .unwrap();
    let delivery = deliveries.next().await.unwrap().unwrap();
    let span = tracer::lapin::process(&tracer, &delivery, &queue);
    tracer::lapin::nack(&span, &delivery, BasicNackOptions::default())
        .await
        .unwrap();
    drop(span);
    tracer::lapin::process_batch(&tracer, &[delivery], &queue).end();
    raw.close(200, "bye".into()).await.unwrap();
    let _ = channel
        .basic_publish(
            "",
            queue.as_str(),
            BasicPublishOptions::default(),
            b"x",
            lapin::BasicProperties::default(),
        )
        .await;
}
