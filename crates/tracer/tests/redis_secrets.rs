//! Redis values and passwords never reach a span, even with `db.query.text` on: the text holds
//! the command and its keys, values become `?`, AUTH/HELLO arguments are dropped entirely.
#![cfg(all(feature = "redis", feature = "testing"))]

mod support_data;

use opentelemetry::Value;
use redis::AsyncCommands;
use support_data::{assert_never_recorded, in_span, redis_server, unique};
use tracer::redis::InstrumentedConnection;
use tracer::testing::{SpanCapture, TreeFormat, assert_tree};

const SECRET: &str = "s3cr3t-value";
const PASSWORD: &str = "hunter2-password";

#[tokio::test]
async fn query_text_holds_keys_never_values_or_passwords() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("app");
    let (client, conn) = redis_server::connect().await;
    let mut conn = InstrumentedConnection::new(conn, &client)
        .with_tracer(tracer.clone())
        .query_text(true);
    let key = unique("secret");
    let hash = unique("secrethash");

    in_span(&tracer, "handler", async {
        let _: () = conn.set(&key, SECRET).await.unwrap();
        let _: i64 = conn.hset(&hash, "field", SECRET).await.unwrap();
        let _: () = conn.mset(&[(&key, SECRET), (&hash, SECRET)]).await.unwrap();
        let echoed: String = redis::cmd("ECHO")
            .arg(SECRET)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(echoed, SECRET);
        let _: () = redis::pipe()
            .atomic()
            .set(&key, SECRET)
            .ignore()
            .query_async(&mut conn)
            .await
            .unwrap();
        // No password is configured: the server refuses, the password stays out of the span.
        let auth: redis::RedisResult<()> = redis::cmd("AUTH")
            .arg("user")
            .arg(PASSWORD)
            .query_async(&mut conn)
            .await;
        assert!(auth.is_err());
        let hello: redis::RedisResult<redis::Value> = redis::cmd("HELLO")
            .arg(3)
            .arg("AUTH")
            .arg("user")
            .arg(PASSWORD)
            .query_async(&mut conn)
            .await;
        assert!(hello.is_err());
        let _: i64 = conn.del(&[&key, &hash]).await.unwrap();
    })
    .await;

    assert_tree(
        &capture.render(&TreeFormat::new()),
        "
        app internal handler
          app client SET
          app client HSET
          app client MSET
          app client ECHO
          app client MULTI
          app client AUTH !error
          app client HELLO !error
          app client DEL
        ",
    );
    let spans = capture.spans();
    let text = |name: &str| {
        spans
            .iter()
            .find(|s| s.name() == name)
            .and_then(|s| s.attr("db.query.text"))
            .cloned()
    };
    assert_eq!(text("SET"), Some(Value::from(format!("SET {key} ?"))));
    assert_eq!(text("HSET"), Some(Value::from(format!("HSET {hash} ? ?"))));
    assert_eq!(
        text("MSET"),
        Some(Value::from(format!("MSET {key} ? {hash} ?")))
    );
    assert_eq!(text("ECHO"), Some(Value::from("ECHO ?")));
    assert_eq!(
        text("MULTI"),
        Some(Value::from(format!("MULTI; SET {key} ?; EXEC")))
    );
    assert_eq!(text("AUTH"), Some(Value::from("AUTH")));
    assert_eq!(text("HELLO"), Some(Value::from("HELLO")));
    assert_never_recorded(&spans, &[SECRET, PASSWORD, "hunter2"]);
}
