//! The whole scenario catalogue, played against the real processes (collector, server1, server2,
//! server3 started from the `tracer-demo` binary) with the real Redis and MySQL: every trace
//! collected must match its scenario's expected tree, and every scenario's own checks must pass.
//!
//! Needs Redis on 127.0.0.1:6379, MariaDB/MySQL on 127.0.0.1:3306 (database `test`, user root)
//! and RabbitMQ on 127.0.0.1:5672 (guest/guest), or REDIS_URL / MYSQL_URL / AMQP_URL;
//! `scripts/test` starts them. Without them the test fails with server3's message saying what to
//! start.

use std::path::Path;

use tracer_demo::runner::cluster::{Cluster, DataUrls};
use tracer_demo::runner::driver::Driver;
use tracer_demo::runner::{client_tracer, run_scenario};
use tracer_demo::scenarios::CATALOGUE;

fn data_urls() -> DataUrls {
    DataUrls {
        redis: std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into()),
        mysql: std::env::var("MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into()),
        amqp: std::env::var("AMQP_URL")
            .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_leaves_its_expected_trace() {
    let exe = Path::new(env!("CARGO_BIN_EXE_tracer-demo"));
    let cluster = Cluster::start(exe, &data_urls())
        .await
        .unwrap_or_else(|e| panic!("the demo did not start: {e:#}"));
    let guard = client_tracer(&format!("http://{}/v1/traces", cluster.export_proxy.addr()))
        .expect("the runner's tracer builds");
    let driver = Driver::new(&cluster, guard.tracer().clone());
    let mut failures = Vec::new();
    for scenario in CATALOGUE {
        let outcome = run_scenario(&driver, scenario).await;
        if !outcome.passed() {
            failures.push(format!(
                "--- {} (trace {}):\n{}",
                scenario.name,
                outcome.trace_id,
                outcome.problems.join("\n")
            ));
        }
    }
    drop(driver);
    let _ = tokio::task::spawn_blocking(move || guard.shutdown()).await;
    cluster.stop().await;
    assert!(
        failures.is_empty(),
        "{} of {} scenarios deviate:\n{}",
        failures.len(),
        CATALOGUE.len(),
        failures.join("\n\n")
    );
}

/// `tracer-demo run --forward-otlp URL`: the embedded collector forwards what it keeps to an
/// upstream, here a second tracer-collector standing in for a team's cluster; a scenario's whole
/// trace arrives there, span for span.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_collector_forwards_each_trace_upstream() {
    let upstream = tracer_collector::Collector::builder().build();
    let store = upstream.store();
    let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", grpc.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let upstream_task = tokio::spawn(upstream.run(
        tracer_collector::Listeners {
            otlp_grpc: Some(grpc),
            ..Default::default()
        },
        async move {
            let _ = stopped.await;
        },
    ));

    let exe = Path::new(env!("CARGO_BIN_EXE_tracer-demo"));
    let forward = [
        "--forward-otlp".to_owned(),
        url,
        "--forward-protocol".to_owned(),
        "grpc".to_owned(),
    ];
    let cluster = Cluster::start_with(exe, &data_urls(), &forward)
        .await
        .unwrap_or_else(|e| panic!("the demo did not start: {e:#}"));
    let guard = client_tracer(&format!("http://{}/v1/traces", cluster.export_proxy.addr()))
        .expect("the runner's tracer builds");
    let driver = Driver::new(&cluster, guard.tracer().clone());
    let scenario = tracer_demo::scenarios::find("place-order").expect("the scenario exists");
    let outcome = run_scenario(&driver, scenario).await;
    assert!(outcome.passed(), "{}", outcome.problems.join("\n"));
    let id = u128::from_str_radix(&outcome.trace_id, 16).expect("a hex trace id");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let forwarded = loop {
        let n = store.trace_span_count(id).unwrap_or(0);
        if n >= outcome.spans || std::time::Instant::now() > deadline {
            break n;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    drop(driver);
    let _ = tokio::task::spawn_blocking(move || guard.shutdown()).await;
    cluster.stop().await;
    let _ = stop.send(());
    upstream_task.await.unwrap().unwrap();
    assert_eq!(
        forwarded, outcome.spans,
        "the upstream got {forwarded} of the trace's {} spans",
        outcome.spans
    );
}
