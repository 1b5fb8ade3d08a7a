//! The sampling port answers Jaeger clients' strategy polls: without a strategies file a
//! probabilistic 1.0 for everyone, with one what it says per service (the gRPC port's
//! `SamplingManager` is checked in `jaeger_grpc_port.rs`); a poll without exactly one `service`
//! gets 400, and a bad strategies file is refused with the key or value and what is accepted,
//! by the library and at the binary's start.

mod common;

use common::TestCollector;
use serde_json::json;
use tracer_collector::ingest::strategies::SamplingStrategies;

#[tokio::test]
async fn without_a_file_jaeger_clients_get_probabilistic_1_for_any_service() {
    let c = TestCollector::start().await;
    for path in [
        "/sampling?service=orders",
        "/?service=orders",
        "/sampling?service=",
        "/api/sampling?service=orders",
    ] {
        let r = reqwest::get(format!("http://{}{path}", c.sampling))
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let body: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"strategyType": "PROBABILISTIC", "probabilisticSampling": {"samplingRate": 1.0}}),
            "{path}"
        );
    }
    for path in [
        "/sampling",
        "/sampling?service=a&service=b",
        "/sampling?svc=a",
    ] {
        let r = reqwest::get(format!("http://{}{path}", c.sampling))
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{path}");
        assert!(r.text().await.unwrap().contains("'service'"), "{path}");
    }
    c.stop().await;
}

/// Each bad strategies document, and a fragment of the error it must give (the key or value
/// and what is accepted).
const BAD_DOCUMENTS: &[(&str, &str)] = &[
    (
        r#"{"default_strategy": {"type": "probabilistic", "param": 1}, "services": []}"#,
        "unknown field `services`, expected `default_strategy` or `service_strategies`",
    ),
    (
        r#"{"default_strategy": {"type": "probabilistic", "param": 1, "rate": 2}}"#,
        "unknown field `rate`, expected one of `type`, `param`, `operation_strategies`",
    ),
    (
        r#"{"default_strategy": {"type": "const", "param": 1}}"#,
        "default_strategy: type \"const\" is not a strategy type; accepted: \"probabilistic\", \
         \"ratelimiting\"",
    ),
    (
        r#"{"default_strategy": {"type": "probabilistic", "param": 1.5}}"#,
        "default_strategy: param 1.5 is not a probability; a probabilistic param is from 0 to 1",
    ),
    (
        r#"{"service_strategies": [{"service": "a", "type": "ratelimiting", "param": 2.5}]}"#,
        "service_strategies[0] (service \"a\"): param 2.5 is not a rate limit; a ratelimiting \
         param is a whole number of traces per second from 0 to 2147483647",
    ),
    (
        r#"{"service_strategies": [{"type": "probabilistic", "param": 1}]}"#,
        "missing field `service`",
    ),
    (
        r#"{"service_strategies": [{"service": "a", "type": "probabilistic", "param": 1},
                                   {"service": "a", "type": "probabilistic", "param": 0}]}"#,
        "service_strategies[1] (service \"a\"): service \"a\" is named twice",
    ),
    (
        r#"{"service_strategies": [{"service": "a", "type": "probabilistic", "param": 1,
            "operation_strategies": [{"operation": "op", "type": "ratelimiting", "param": 1}]}]}"#,
        "service_strategies[0] (service \"a\"): operation_strategies[0] (operation \"op\"): type \
         \"ratelimiting\" is not accepted for an operation; accepted: \"probabilistic\"",
    ),
    (
        r#"{"default_strategy": {"type": "probabilistic", "param": 1,
            "default_lower_bound_traces_per_second": -1}}"#,
        "default_lower_bound_traces_per_second -1 is not a rate",
    ),
    ("[]", "the document is an array; accepted: an object"),
    (
        r#"{"default_strategy": ["probabilistic", 1, null, null]}"#,
        "default_strategy is an array; accepted: an object",
    ),
    (
        r#"{"service_strategies": [["a", "probabilistic", 1, null, null]]}"#,
        "service_strategies[0] is an array; accepted: an object",
    ),
    (r#"{"default_strategy": "#, "EOF while parsing"),
];

#[test]
fn a_bad_strategies_document_is_refused_naming_the_key_or_value() {
    for (document, expected) in BAD_DOCUMENTS {
        let err = SamplingStrategies::from_json(document.as_bytes())
            .expect_err(document)
            .to_string();
        assert!(
            err.contains(expected),
            "{document}\n  gave: {err}\n  want: {expected}"
        );
    }
}

#[test]
fn the_binary_refuses_to_start_with_a_bad_strategies_file() {
    let dir = std::env::temp_dir().join(format!("tracer-strategies-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("strategies.json");
    std::fs::write(
        &file,
        r#"{"default_strategy": {"type": "always", "param": 1}}"#,
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tracer-collector"))
        .arg("--sampling-strategies")
        .arg(&file)
        // Every port disabled: the file is read before anything binds.
        .args([
            "--otlp-grpc-port",
            "0",
            "--otlp-http-port",
            "0",
            "--query-port",
            "0",
        ])
        .args([
            "--zipkin-port",
            "0",
            "--jaeger-http-port",
            "0",
            "--jaeger-grpc-port",
            "0",
        ])
        .args(["--jaeger-compact-port", "0", "--jaeger-binary-port", "0"])
        .args(["--zipkin-compact-port", "0", "--sampling-port", "0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "started with a bad file: {stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "invalid sampling strategies in {}",
            file.display()
        )) && stderr.contains("type \"always\" is not a strategy type"),
        "{stderr}"
    );
    let missing = dir.join("missing.json");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tracer-collector"))
        .arg("--sampling-strategies")
        .arg(&missing)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("cannot read the sampling strategies file"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_strategies_file_is_served_per_service_and_the_rest_get_its_default() {
    let dir = std::env::temp_dir().join(format!("tracer-strategies-ok-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("strategies.json");
    std::fs::write(
        &file,
        r#"{"default_strategy": {"type": "probabilistic", "param": 0.2},
            "service_strategies": [{"service": "a b", "type": "ratelimiting", "param": 3}]}"#,
    )
    .unwrap();
    let strategies = SamplingStrategies::from_file(&file).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let c = TestCollector::start_with(
        tracer_collector::Collector::builder().sampling_strategies(strategies),
    )
    .await;
    for (path, expected) in [
        (
            "/sampling?service=a%20b",
            json!({"strategyType": "RATE_LIMITING", "rateLimitingSampling": {"maxTracesPerSecond": 3}}),
        ),
        (
            "/api/sampling?service=a+b",
            json!({"strategyType": "RATE_LIMITING", "rateLimitingSampling": {"maxTracesPerSecond": 3}}),
        ),
        (
            "/?service=other",
            json!({"strategyType": "PROBABILISTIC", "probabilisticSampling": {"samplingRate": 0.2}}),
        ),
    ] {
        let r = reqwest::get(format!("http://{}{path}", c.sampling))
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let body: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        assert_eq!(body, expected, "{path}");
    }
    c.stop().await;
}
