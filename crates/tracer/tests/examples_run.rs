//! The examples and the README quick start are real programs: each example is built, run briefly
//! with the console exporter, must exit 0 and must print the spans its docs promise, all in one
//! trace per request. The README's quick start is the `quickstart` example, byte for byte.
#![cfg(all(
    feature = "axum",
    feature = "reqwest",
    feature = "tonic",
    feature = "redis",
    feature = "sqlx-mysql"
))]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One span line of the console exporter: `service kind "name" status duration trace=.. ..`.
#[derive(Debug)]
struct Line {
    service: String,
    kind: String,
    name: String,
    trace: String,
}

fn parse(stdout: &str) -> Vec<Line> {
    stdout
        .lines()
        .filter_map(|line| {
            let (service, rest) = line.split_once(' ')?;
            let (kind, rest) = rest.split_once(' ')?;
            let rest = rest.strip_prefix('"')?;
            let (name, rest) = rest.split_once('"')?;
            let trace = rest.split(' ').find_map(|w| w.strip_prefix("trace="))?;
            Some(Line {
                service: service.to_owned(),
                kind: kind.to_owned(),
                name: name.to_owned(),
                trace: trace.to_owned(),
            })
        })
        .collect()
}

/// Builds example `name` (with the features this test runs with) and runs it with `args`,
/// the console exporter and a deadline; returns its stdout once it exited 0.
fn run_example(name: &str, args: &[&str]) -> String {
    let built = Command::new(env!("CARGO"))
        .args([
            "build",
            "-q",
            "-p",
            "tracer",
            "--all-features",
            "--example",
            name,
        ])
        .status()
        .expect("cargo runs");
    assert!(built.success(), "cargo build --example {name} failed");
    // target/debug/deps/examples_run-<hash> -> target/debug/examples/<name>
    let exe = std::env::current_exe().unwrap();
    let binary: PathBuf = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name);
    let mut child = Command::new(&binary)
        .args(args)
        .env("OTEL_TRACES_EXPORTER", "console")
        .env_remove("OTEL_SDK_DISABLED")
        .env_remove("OTEL_TRACES_SAMPLER")
        .env_remove("OTEL_PROPAGATORS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("example {name} still running after 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "example {name} exited with {}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The `(service, kind, name)` of every span, and the set of trace ids they belong to.
fn spans(stdout: &str) -> (Vec<(String, String, String)>, BTreeSet<String>) {
    let lines = parse(stdout);
    let traces = lines.iter().map(|l| l.trace.clone()).collect();
    let mut names: Vec<_> = lines
        .into_iter()
        .map(|l| (l.service, l.kind, l.name))
        .collect();
    names.sort();
    (names, traces)
}

fn owned(spans: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = spans
        .iter()
        .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
        .collect();
    v.sort();
    v
}

#[test]
fn the_quickstart_example_traces_two_services_in_one_trace() {
    let stdout = run_example("quickstart", &["--once"]);
    assert!(
        stdout.contains("GET /checkout -> 7 in stock, backend Serving"),
        "{stdout}"
    );
    assert!(
        stdout.contains("spans exported"),
        "guard.shutdown() not reached:\n{stdout}"
    );
    let (names, traces) = spans(&stdout);
    assert_eq!(
        names,
        owned(&[
            ("frontend", "server", "GET /checkout"),
            ("frontend", "client", "GET"),
            ("backend", "server", "GET /stock"),
            ("frontend", "client", "grpc.health.v1.Health/Check"),
            ("backend", "server", "grpc.health.v1.Health/Check"),
        ]),
        "{stdout}"
    );
    assert_eq!(traces.len(), 1, "one trace for the request:\n{stdout}");
}

#[test]
fn the_redis_sql_example_shows_a_miss_then_a_hit() {
    let stdout = run_example("redis_sql", &[]);
    assert!(stdout.contains("A-1 is a teapot"), "{stdout}");
    let (names, traces) = spans(&stdout);
    assert_eq!(
        names,
        owned(&[
            ("catalogue", "internal", "lookup"),
            ("catalogue", "client", "GET"),
            ("catalogue", "internal", "pool.acquire"),
            ("catalogue", "client", "SELECT example_items"),
            ("catalogue", "client", "SET"),
            ("catalogue", "internal", "lookup"),
            ("catalogue", "client", "GET"),
        ]),
        "{stdout}"
    );
    assert_eq!(traces.len(), 2, "one trace per lookup:\n{stdout}");
}

#[test]
fn the_http_example_traces_two_services_in_one_trace() {
    let stdout = run_example("http", &[]);
    assert!(stdout.contains("GET /hello -> hello, world"), "{stdout}");
    assert!(
        stdout.contains("spans exported"),
        "guard.shutdown() not reached:\n{stdout}"
    );
    let (names, traces) = spans(&stdout);
    assert_eq!(
        names,
        owned(&[
            ("frontend", "server", "GET /hello"),
            ("frontend", "client", "GET"),
            ("backend", "server", "GET /greeting/{name}"),
        ]),
        "{stdout}"
    );
    assert_eq!(traces.len(), 1, "one trace for the request:\n{stdout}");
}

#[test]
fn the_grpc_example_traces_two_services_in_one_trace() {
    let stdout = run_example("grpc", &[]);
    assert!(stdout.contains("Check -> Serving"), "{stdout}");
    assert!(
        stdout.contains("spans exported"),
        "guard.shutdown() not reached:\n{stdout}"
    );
    let (names, traces) = spans(&stdout);
    assert_eq!(
        names,
        owned(&[
            ("gateway", "server", "grpc.health.v1.Health/Check"),
            ("gateway", "client", "grpc.health.v1.Health/Check"),
            ("backend", "server", "grpc.health.v1.Health/Check"),
        ]),
        "{stdout}"
    );
    assert_eq!(traces.len(), 1, "one trace for the call:\n{stdout}");
}

#[test]
fn the_console_example_runs() {
    let stdout = run_example("console", &[]);
    assert!(!parse(&stdout).is_empty(), "{stdout}");
}

#[test]
fn the_readme_quick_start_is_the_quickstart_example() {
    let readme = include_str!("../../../README.md");
    let example = include_str!("../examples/quickstart.rs");
    let start = "<!-- quickstart: crates/tracer/examples/quickstart.rs -->\n```rust\n";
    let begin = readme
        .find(start)
        .expect("the README's quick start is marked with its source file")
        + start.len();
    let end = begin + readme[begin..].find("\n```").expect("the block ends") + 1;
    assert_eq!(
        &readme[begin..end],
        example,
        "README quick start and examples/quickstart.rs differ: copy the example into the README"
    );
}
