//! Two demo clusters side by side (as parallel tests run them) each publish their orders to an
//! exchange of their own, each worker consumes only its own cluster's events, and a stopped
//! cluster leaves no exchange or queue behind in RabbitMQ, even though its processes are killed.
//!
//! Needs Redis, MariaDB and RabbitMQ on 127.0.0.1 (or REDIS_URL / MYSQL_URL / AMQP_URL), as the
//! catalogue test does.

use std::path::Path;
use std::time::{Duration, Instant};

use lapin::options::{ExchangeDeclareOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties, ExchangeKind};
use tracer_demo::order_events::Topology;
use tracer_demo::runner::cluster::{Cluster, DataUrls};
use tracer_demo::runner::driver::Driver;
use tracer_demo::runner::{client_tracer, run_scenario};

fn data_urls() -> DataUrls {
    DataUrls {
        redis: std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into()),
        mysql: std::env::var("MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into()),
        amqp: std::env::var("AMQP_URL")
            .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into()),
    }
}

/// Plays `place-order` on `cluster`: its tree includes the worker's consumer span under
/// server3's producer span, so it fails when another cluster's worker took the event.
async fn place_order(cluster: &Cluster) -> Vec<String> {
    let guard = client_tracer(&format!("http://{}/v1/traces", cluster.export_proxy.addr()))
        .expect("the runner's tracer builds");
    let driver = Driver::new(cluster, guard.tracer().clone());
    let scenario = tracer_demo::scenarios::find("place-order").expect("the scenario exists");
    let outcome = run_scenario(&driver, scenario).await;
    drop(driver);
    let _ = tokio::task::spawn_blocking(move || guard.shutdown()).await;
    outcome.problems
}

/// Whether RabbitMQ still has the exchange `name` (a passive declare; a missing one closes the
/// channel, so each check takes a fresh one).
async fn exchange_exists(conn: &Connection, name: &str) -> bool {
    let channel = conn.create_channel().await.expect("a channel");
    let options = ExchangeDeclareOptions {
        passive: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            name.into(),
            ExchangeKind::Topic,
            options,
            FieldTable::default(),
        )
        .await
        .is_ok()
}

async fn queue_exists(conn: &Connection, name: &str) -> bool {
    let channel = conn.create_channel().await.expect("a channel");
    let options = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(name.into(), options, FieldTable::default())
        .await
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clusters_side_by_side_keep_their_order_events_apart_and_leave_no_broker_names() {
    let data = data_urls();
    let conn = Connection::connect(&data.amqp, ConnectionProperties::default())
        .await
        .unwrap_or_else(|e| {
            panic!(
                "RabbitMQ is not reachable at {} ({e}): start it with `rabbitmq-server -detached`",
                data.amqp
            )
        });
    let exe = Path::new(env!("CARGO_BIN_EXE_tracer-demo"));
    let (a, b) = tokio::join!(Cluster::start(exe, &data), Cluster::start(exe, &data));
    let a = a.unwrap_or_else(|e| panic!("the first demo did not start: {e:#}"));
    let b = b.unwrap_or_else(|e| panic!("the second demo did not start: {e:#}"));
    assert_ne!(
        a.exchange, b.exchange,
        "each cluster names its own exchange"
    );

    let (problems_a, problems_b) = tokio::join!(place_order(&a), place_order(&b));
    assert!(
        problems_a.is_empty(),
        "first cluster:\n{}",
        problems_a.join("\n")
    );
    assert!(
        problems_b.is_empty(),
        "second cluster:\n{}",
        problems_b.join("\n")
    );

    let topologies = [
        Topology::new(a.exchange.clone()),
        Topology::new(b.exchange.clone()),
    ];
    for t in &topologies {
        assert!(
            exchange_exists(&conn, t.exchange()).await,
            "{} exists while running",
            t.exchange()
        );
    }
    a.stop().await;
    b.stop().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    for t in &topologies {
        let names = [t.loyalty_queue(), t.dead_letter_queue(), t.invoice_queue()];
        loop {
            let mut left = Vec::new();
            for q in &names {
                if queue_exists(&conn, q).await {
                    left.push(q.clone());
                }
            }
            if exchange_exists(&conn, t.exchange()).await {
                left.push(t.exchange().to_owned());
            }
            if left.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "still in RabbitMQ 10 s after the cluster stopped: {left:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
