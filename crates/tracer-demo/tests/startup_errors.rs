//! A service that cannot reach its data says which URL failed and how to start the server.

use std::process::Command;

fn server3(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tracer-demo"))
        .arg("server3")
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("REDIS_URL")
        .env_remove("MYSQL_URL")
        .env_remove("AMQP_URL")
        .env("OTEL_SDK_DISABLED", "true")
        .output()
        .expect("tracer-demo runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn unreachable_redis_is_named_with_how_to_start_it() {
    // Port 1 on loopback: nothing listens there.
    let (ok, stderr) = server3(&["--redis-url", "redis://127.0.0.1:1/0"]);
    assert!(!ok, "server3 must exit non-zero without Redis");
    assert!(
        stderr.contains("redis://127.0.0.1:1/0"),
        "names the URL: {stderr}"
    );
    assert!(
        stderr.contains("redis-server"),
        "says how to start Redis: {stderr}"
    );
}

#[test]
fn unreachable_mysql_is_named_with_how_to_start_it() {
    let (ok, stderr) = server3(&["--mysql-url", "mysql://root@127.0.0.1:1/test"]);
    assert!(!ok, "server3 must exit non-zero without MySQL");
    assert!(
        stderr.contains("mysql://root@127.0.0.1:1/test"),
        "names the URL: {stderr}"
    );
    assert!(
        stderr.contains("mariadbd"),
        "says how to start MariaDB: {stderr}"
    );
}

#[test]
fn unreachable_rabbitmq_is_named_with_how_to_start_it() {
    // Redis and MySQL are the real ones (server3 connects to them first); RabbitMQ is not there.
    let (ok, stderr) = server3(&["--amqp-url", "amqp://guest:guest@127.0.0.1:1/%2f"]);
    assert!(!ok, "server3 must exit non-zero without RabbitMQ");
    assert!(
        stderr.contains("amqp://guest:guest@127.0.0.1:1/%2f"),
        "names the URL: {stderr}"
    );
    assert!(
        stderr.contains("rabbitmq-server"),
        "says how to start RabbitMQ: {stderr}"
    );
}

#[test]
fn unknown_scenario_fails_and_lists_the_known_ones() {
    let out = Command::new(env!("CARGO_BIN_EXE_tracer-demo"))
        .args(["run", "--scenario", "no-such-scenario"])
        .output()
        .expect("tracer-demo runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("no-such-scenario"), "{stderr}");
    assert!(
        stderr.contains("cache-miss-then-hit"),
        "lists the known scenarios: {stderr}"
    );
}

#[test]
fn a_service_started_by_the_runner_exits_when_the_runner_is_gone() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let mut child = Command::new(env!("CARGO_BIN_EXE_tracer-demo"))
        .args(["server1", "--listen", "127.0.0.1:0"])
        .env("OTEL_SDK_DISABLED", "true")
        .env(tracer_demo::runner::cluster::EXIT_WITH_PARENT_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tracer-demo runs");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().expect("waitable").is_none(),
        "server1 must keep running while its parent's pipe is open"
    );
    // The runner's end of the pipe closes as the runner goes away.
    drop(child.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("waitable").is_none() {
        assert!(
            Instant::now() < deadline,
            "server1 outlived its parent by 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
