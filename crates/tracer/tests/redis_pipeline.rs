//! A redis-rs pipeline is one span (`PIPELINE`), a transaction one span (`MULTI`), each with
//! the batch size and the command names; an error inside a transaction marks its span.
#![cfg(all(feature = "redis", feature = "testing"))]

mod support_data;

use opentelemetry::Value;
use support_data::{in_span, redis_server, unique};
use tracer::redis::InstrumentedConnection;
use tracer::testing::{SpanCapture, TreeFormat, assert_tree};

fn format() -> TreeFormat {
    TreeFormat::new().attributes([
        "db.operation.name",
        "db.operation.batch.size",
        "tracer.redis.commands",
        "error.type",
    ])
}

#[tokio::test]
async fn pipeline_and_transaction_are_one_span_each() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("app");
    let (client, conn) = redis_server::connect().await;
    let mut conn = InstrumentedConnection::new(conn, &client).with_tracer(tracer.clone());
    let key = unique("pipe");

    let (piped, counted) = in_span(&tracer, "handler", async {
        let (piped,): (String,) = redis::pipe()
            .set(&key, "x")
            .ignore()
            .append(&key, "y")
            .ignore()
            .get(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        let (counted,): (i64,) = redis::pipe()
            .atomic()
            .del(&key)
            .ignore()
            .incr(&key, 5)
            .query_async(&mut conn)
            .await
            .unwrap();
        // A pipeline of one command is that command.
        let _: () = redis::pipe()
            .del(&key)
            .ignore()
            .query_async(&mut conn)
            .await
            .unwrap();
        (piped, counted)
    })
    .await;
    assert_eq!(piped, "xy");
    assert_eq!(counted, 5);

    assert_tree(
        &capture.render(&format()),
        r#"
        app internal handler
          app client PIPELINE db.operation.name=PIPELINE db.operation.batch.size=3 tracer.redis.commands=["SET","APPEND","GET"]
          app client MULTI db.operation.name=MULTI db.operation.batch.size=2 tracer.redis.commands=["DEL","INCRBY"]
          app client DEL db.operation.name=DEL
        "#,
    );
    let spans = capture.spans();
    let multi = spans.iter().find(|s| s.name() == "MULTI").unwrap();
    assert_eq!(multi.attr("db.system.name"), Some(&Value::from("redis")));
}

#[tokio::test]
async fn error_inside_a_transaction_marks_the_multi_span() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("app");
    let (client, conn) = redis_server::connect().await;
    let mut conn = InstrumentedConnection::new(conn, &client).with_tracer(tracer.clone());
    let key = unique("txerr");

    let result: redis::RedisResult<(i64, i64)> = in_span(&tracer, "handler", async {
        redis::pipe()
            .atomic()
            .set(&key, "text")
            .ignore()
            .lpush(&key, "x") // WRONGTYPE at EXEC time
            .incr(&key, 1) // ERR not an integer
            .query_async(&mut conn)
            .await
    })
    .await;
    let err = result.unwrap_err();
    // redis-rs reports every failed command of the transaction; the first is WRONGTYPE.
    assert!(err.to_string().contains("WRONGTYPE"), "{err:?}");
    let _: () = redis::cmd("DEL")
        .arg(&key)
        .query_async(conn.get_mut())
        .await
        .unwrap();

    assert_tree(
        &capture.render(&format().attributes(["db.response.status_code"])),
        r#"
        app internal handler
          app client MULTI !error db.operation.name=MULTI db.operation.batch.size=3 tracer.redis.commands=["SET","LPUSH","INCRBY"] error.type=WRONGTYPE db.response.status_code=WRONGTYPE
        "#,
    );
}
