//! Network failures under a Redis command: a refused connection on a dead port and a server
//! that accepts but never answers (timeout) are red CLIENT spans with `error.type`.
#![cfg(all(feature = "redis", feature = "testing"))]

mod support_data;

use std::time::{Duration, Instant};

use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use support_data::in_span;
use tokio::net::TcpListener;
use tracer::redis::InstrumentedConnection;
use tracer::testing::{SpanCapture, TreeFormat, assert_tree};

fn format() -> TreeFormat {
    TreeFormat::new().attributes(["server.port", "error.type", "db.response.status_code"])
}

#[tokio::test]
async fn refused_connection_on_a_dead_port_is_a_red_span() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("app");
    // A port nobody listens on: bind, note the port, close.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/0")).unwrap();
    let config = ConnectionManagerConfig::new().set_number_of_retries(0);
    let manager = ConnectionManager::new_lazy_with_config(client.clone(), config).unwrap();
    let mut conn = InstrumentedConnection::new(manager, &client).with_tracer(tracer.clone());

    let err = in_span(&tracer, "handler", async {
        conn.get::<_, Option<String>>("k").await.unwrap_err()
    })
    .await;
    assert!(err.is_connection_refusal(), "{err:?}");

    assert_tree(
        &capture.render(&format()),
        &format!(
            "
            app internal handler
              app client GET !error server.port={port} error.type=connection_refused
            "
        ),
    );
}

#[tokio::test]
async fn silent_server_times_out_as_a_red_span() {
    let capture = SpanCapture::new();
    let tracer = capture.tracer("app");
    // Accepts connections and reads, never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    // No CLIENT SETINFO at connect, so the connection opens and the first command waits.
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/0?protocol=resp2")).unwrap();
    let info = client.get_connection_info().clone();
    let settings = info.redis_settings().clone().set_skip_set_lib_name();
    let client = redis::Client::open(info.set_redis_settings(settings)).unwrap();
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_millis(200)));
    let conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .expect("the silent listener accepts");
    let mut conn = InstrumentedConnection::new(conn, &client).with_tracer(tracer.clone());

    let started = Instant::now();
    let err = in_span(&tracer, "handler", async {
        conn.get::<_, Option<String>>("k").await.unwrap_err()
    })
    .await;
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() >= Duration::from_millis(200));

    assert_tree(
        &capture.render(&format()),
        &format!(
            "
            app internal handler
              app client GET !error server.port={port} error.type=timeout
            "
        ),
    );
    let span = &capture.spans()[0];
    let took = span
        .data
        .end_time
        .duration_since(span.data.start_time)
        .unwrap();
    assert!(
        took >= Duration::from_millis(200),
        "span covers the wait: {took:?}"
    );
}
