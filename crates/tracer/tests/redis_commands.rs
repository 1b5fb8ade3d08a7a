//! Every redis-rs command sent through `InstrumentedConnection` is one CLIENT span named after
//! the command, child of the current span; a nil reply is a result, WRONGTYPE is an error.
#![cfg(all(feature = "redis", feature = "testing"))]

mod support_data;

use redis::AsyncCommands;
use support_data::{in_span, redis_server, unique};
use tracer::redis::InstrumentedConnection;
use tracer::testing::{SpanCapture, TreeFormat, assert_tree};

fn format() -> TreeFormat {
    TreeFormat::new().attributes([
        "db.system.name",
        "db.operation.name",
        "db.namespace",
        "server.address",
        "server.port",
        "error.type",
        "db.response.status_code",
    ])
}

#[tokio::test]
async fn commands_are_client_spans_under_the_current_span() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("app");
    let (client, conn) = redis_server::connect().await;
    let mut conn = InstrumentedConnection::new(conn, &client).with_tracer(tracer.clone());
    let key = unique("cmd");
    let hash = unique("hash");

    let (hit, fields) = in_span(&tracer, "handler", async {
        let _: () = conn.set(&key, "v1").await.unwrap();
        let hit: Option<String> = conn.get(&key).await.unwrap();
        let fields: i64 = conn.hset(&hash, "f", "x").await.unwrap();
        let _: i64 = conn.del(&[&key, &hash]).await.unwrap();
        (hit, fields)
    })
    .await;
    assert_eq!(hit.as_deref(), Some("v1"));
    assert_eq!(fields, 1);

    let a = "db.system.name=redis db.operation.name";
    let b = "db.namespace=0 server.address=127.0.0.1 server.port=6379";
    assert_tree(
        &capture.render(&format()),
        &format!(
            "
            app internal handler
              app client SET {a}=SET {b}
              app client GET {a}=GET {b}
              app client HSET {a}=HSET {b}
              app client DEL {a}=DEL {b}
            "
        ),
    );
    // db.query.text is off by default.
    assert!(
        capture
            .spans()
            .iter()
            .all(|s| s.attr("db.query.text").is_none())
    );
}

#[tokio::test]
async fn nil_reply_is_not_an_error_but_wrongtype_is() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("app");
    let (client, conn) = redis_server::connect().await;
    let mut conn = InstrumentedConnection::new(conn, &client).with_tracer(tracer.clone());
    let key = unique("str");
    let missing = unique("missing");

    in_span(&tracer, "handler", async {
        let nil: Option<String> = conn.get(&missing).await.unwrap();
        assert_eq!(nil, None);
        let _: () = conn.set(&key, "a string").await.unwrap();
        let err = conn.lpush::<_, _, i64>(&key, "x").await.unwrap_err();
        assert_eq!(err.code(), Some("WRONGTYPE"));
        let _: i64 = conn.del(&key).await.unwrap();
    })
    .await;

    assert_tree(
        &capture.render(&TreeFormat::new().attributes(["error.type", "db.response.status_code"])),
        "
        app internal handler
          app client GET
          app client SET
          app client LPUSH !error error.type=WRONGTYPE db.response.status_code=WRONGTYPE
          app client DEL
        ",
    );
}

#[tokio::test]
async fn connection_manager_is_instrumented_too() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("app");
    let (client, _) = redis_server::connect().await;
    let manager = redis::aio::ConnectionManager::new(client.clone())
        .await
        .unwrap();
    let mut conn = InstrumentedConnection::new(manager, &client).with_tracer(tracer.clone());
    let key = unique("mgr");

    in_span(&tracer, "handler", async {
        let n: i64 = conn.incr(&key, 2).await.unwrap();
        assert_eq!(n, 2);
        let _: i64 = conn.del(&key).await.unwrap();
    })
    .await;

    assert_tree(
        &capture.render(&TreeFormat::new().attributes(["db.operation.name", "server.port"])),
        "
        app internal handler
          app client INCRBY db.operation.name=INCRBY server.port=6379
          app client DEL db.operation.name=DEL server.port=6379
        ",
    );
}

#[tokio::test]
async fn switched_off_records_no_span_and_commands_still_work() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("app");
    let (client, conn) = redis_server::connect().await;
    let mut conn = InstrumentedConnection::new(conn, &client).with_tracer(tracer.clone());
    let key = unique("off");

    tracer.set_enabled(false);
    let _: () = conn.set(&key, "1").await.unwrap();
    let _: () = redis::pipe()
        .set(&key, "2")
        .ignore()
        .get(&key)
        .ignore()
        .query_async(&mut conn)
        .await
        .unwrap();
    let value: String = conn.get(&key).await.unwrap();
    assert_eq!(value, "2");
    assert!(capture.is_empty(), "no spans while switched off");

    tracer.set_enabled(true);
    let _: i64 = conn.del(&key).await.unwrap();
    assert_tree(
        &capture.render(&TreeFormat::new()),
        "
        app client DEL
        ",
    );
}
