//! Every OTEL_* variable tracer reads: its effect, its default, its invalid values (the error
//! names the variable, the value and what is accepted), and code settings overriding it.

use std::collections::HashMap;
use std::time::Duration;

use tracer::config::*;
use tracer::propagation::PropagatorKind;
use tracer::{Compression, ExporterKind, Protocol, Sampler};

fn with_env(pairs: &[(&str, &str)]) -> tracer::TracerBuilder {
    let env: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tracer::builder().env_source(move |name| env.get(name).cloned())
}

fn config(pairs: &[(&str, &str)]) -> Config {
    with_env(pairs).config().expect("valid configuration")
}

fn error(pairs: &[(&str, &str)]) -> String {
    with_env(pairs)
        .config()
        .expect_err("invalid configuration")
        .to_string()
}

#[test]
fn defaults_without_any_variable() {
    let c = config(&[]);
    assert!(c.enabled);
    assert_eq!(c.service_name, "unknown_service");
    assert_eq!(c.exporter, ExporterKind::Otlp);
    assert_eq!(c.otlp.protocol, Protocol::HttpProtobuf);
    assert_eq!(c.otlp.endpoint, "http://127.0.0.1:4318/v1/traces");
    assert_eq!(c.otlp.timeout, Duration::from_secs(10));
    assert_eq!(c.otlp.compression, Compression::None);
    assert_eq!(c.sampler, Sampler::ParentBasedAlwaysOn);
    assert_eq!(
        c.propagators.kinds(),
        [PropagatorKind::TraceContext, PropagatorKind::Baggage]
    );
    assert_eq!(c.batch.schedule_delay, Duration::from_millis(5000));
    assert_eq!(c.batch.export_timeout, Duration::from_millis(30000));
    assert_eq!(c.batch.max_queue_size.get(), 2048);
    assert_eq!(c.batch.max_export_batch_size.get(), 512);
}

#[test]
fn sdk_disabled() {
    assert!(!config(&[(OTEL_SDK_DISABLED, "true")]).enabled);
    assert!(!config(&[(OTEL_SDK_DISABLED, "TRUE")]).enabled);
    assert!(config(&[(OTEL_SDK_DISABLED, "false")]).enabled);
    assert!(
        config(&[(OTEL_SDK_DISABLED, "")]).enabled,
        "blank counts as unset"
    );
    assert_eq!(
        error(&[(OTEL_SDK_DISABLED, "yes")]),
        "invalid OTEL_SDK_DISABLED \"yes\": expected true or false"
    );
    let c = with_env(&[(OTEL_SDK_DISABLED, "true")])
        .enabled(true)
        .config()
        .unwrap();
    assert!(c.enabled, "code setting overrides the variable");
}

#[test]
fn service_name_and_resource_attributes() {
    let c = config(&[
        (OTEL_SERVICE_NAME, "checkout"),
        (
            OTEL_RESOURCE_ATTRIBUTES,
            "deployment.environment=prod,team=pay%20ments, service.name=ignored",
        ),
    ]);
    assert_eq!(c.service_name, "checkout");
    assert_eq!(
        c.resource_attributes,
        vec![
            ("deployment.environment".into(), "prod".into()),
            ("team".into(), "pay ments".into())
        ]
    );
    assert_eq!(
        config(&[(OTEL_RESOURCE_ATTRIBUTES, "service.name=from-attrs")]).service_name,
        "from-attrs"
    );
    let c = with_env(&[(OTEL_SERVICE_NAME, "env")])
        .service_name("code")
        .config()
        .unwrap();
    assert_eq!(c.service_name, "code");
    assert_eq!(
        error(&[(OTEL_RESOURCE_ATTRIBUTES, "novalue")]),
        "invalid OTEL_RESOURCE_ATTRIBUTES \"novalue\": expected a comma list of key=value pairs"
    );
    assert!(
        error(&[(OTEL_RESOURCE_ATTRIBUTES, "=v")])
            .starts_with("invalid OTEL_RESOURCE_ATTRIBUTES \"=v\"")
    );
    assert!(error(&[(OTEL_RESOURCE_ATTRIBUTES, "k=%ff")]).contains("percent-encoded UTF-8"));
}

#[test]
fn traces_exporter() {
    assert_eq!(
        config(&[(OTEL_TRACES_EXPORTER, "console")]).exporter,
        ExporterKind::Console
    );
    assert_eq!(
        config(&[(OTEL_TRACES_EXPORTER, "none")]).exporter,
        ExporterKind::None
    );
    assert_eq!(
        config(&[(OTEL_TRACES_EXPORTER, "otlp")]).exporter,
        ExporterKind::Otlp
    );
    assert_eq!(
        error(&[(OTEL_TRACES_EXPORTER, "zipkin")]),
        "invalid OTEL_TRACES_EXPORTER \"zipkin\": expected one of otlp, console, none"
    );
    let c = with_env(&[(OTEL_TRACES_EXPORTER, "console")])
        .exporter(ExporterKind::None)
        .config()
        .unwrap();
    assert_eq!(c.exporter, ExporterKind::None);
}

#[test]
fn otlp_endpoint_and_protocol() {
    let c = config(&[(OTEL_EXPORTER_OTLP_ENDPOINT, "http://collector:4318/")]);
    assert_eq!(
        c.otlp.endpoint, "http://collector:4318/v1/traces",
        "base endpoint gets the signal path"
    );
    let c = config(&[(OTEL_EXPORTER_OTLP_PROTOCOL, "grpc")]);
    assert_eq!(
        (c.otlp.protocol, c.otlp.endpoint.as_str()),
        (Protocol::Grpc, "http://127.0.0.1:4317")
    );
    let c = config(&[
        (OTEL_EXPORTER_OTLP_PROTOCOL, "grpc"),
        (OTEL_EXPORTER_OTLP_ENDPOINT, "http://c:4317"),
    ]);
    assert_eq!(
        c.otlp.endpoint, "http://c:4317",
        "gRPC endpoints take no path"
    );
    let c = config(&[
        (OTEL_EXPORTER_OTLP_ENDPOINT, "http://base:4318"),
        (
            OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
            "https://traces.example:443/custom",
        ),
    ]);
    assert_eq!(
        c.otlp.endpoint, "https://traces.example:443/custom",
        "the traces endpoint is used as is"
    );
    let c = config(&[
        (OTEL_EXPORTER_OTLP_PROTOCOL, "grpc"),
        (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, "http/json"),
    ]);
    assert_eq!(
        c.otlp.protocol,
        Protocol::HttpJson,
        "the traces variable wins"
    );
    assert_eq!(
        error(&[(OTEL_EXPORTER_OTLP_PROTOCOL, "http/xml")]),
        "invalid OTEL_EXPORTER_OTLP_PROTOCOL \"http/xml\": expected one of grpc, http/protobuf, http/json"
    );
    assert_eq!(
        error(&[(OTEL_EXPORTER_OTLP_ENDPOINT, "collector:4317")]),
        "invalid OTEL_EXPORTER_OTLP_ENDPOINT \"collector:4317\": expected an http:// or https:// URL"
    );
    assert!(
        error(&[(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, "ftp://x")])
            .starts_with("invalid OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    );
    let c = with_env(&[(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, "http://env:1")])
        .otlp_endpoint("http://code:2/v1/traces")
        .otlp_protocol(Protocol::HttpJson)
        .config()
        .unwrap();
    assert_eq!(
        (c.otlp.endpoint.as_str(), c.otlp.protocol),
        ("http://code:2/v1/traces", Protocol::HttpJson)
    );
}

#[test]
fn otlp_headers_timeout_compression() {
    let c = config(&[
        (OTEL_EXPORTER_OTLP_HEADERS, "api-key=secret%3D1,tenant=a"),
        (OTEL_EXPORTER_OTLP_TIMEOUT, "2500"),
        (OTEL_EXPORTER_OTLP_COMPRESSION, "gzip"),
    ]);
    assert_eq!(
        c.otlp.headers,
        vec![
            ("api-key".into(), "secret=1".into()),
            ("tenant".into(), "a".into())
        ]
    );
    assert_eq!(c.otlp.timeout, Duration::from_millis(2500));
    assert_eq!(c.otlp.compression, Compression::Gzip);
    let c = config(&[
        (OTEL_EXPORTER_OTLP_HEADERS, "a=1"),
        (OTEL_EXPORTER_OTLP_TRACES_HEADERS, "b=2"),
        (OTEL_EXPORTER_OTLP_TIMEOUT, "1"),
        (OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, "2"),
        (OTEL_EXPORTER_OTLP_COMPRESSION, "gzip"),
        (OTEL_EXPORTER_OTLP_TRACES_COMPRESSION, "none"),
    ]);
    assert_eq!(c.otlp.headers, vec![("b".into(), "2".into())]);
    assert_eq!(c.otlp.timeout, Duration::from_millis(2));
    assert_eq!(c.otlp.compression, Compression::None);
    assert_eq!(
        error(&[(OTEL_EXPORTER_OTLP_TIMEOUT, "10s")]),
        "invalid OTEL_EXPORTER_OTLP_TIMEOUT \"10s\": expected a whole number of milliseconds"
    );
    assert_eq!(
        error(&[(OTEL_EXPORTER_OTLP_TRACES_COMPRESSION, "zstd")]),
        "invalid OTEL_EXPORTER_OTLP_TRACES_COMPRESSION \"zstd\": expected gzip or none"
    );
    assert!(
        error(&[(OTEL_EXPORTER_OTLP_TRACES_HEADERS, "nokey")])
            .starts_with("invalid OTEL_EXPORTER_OTLP_TRACES_HEADERS")
    );
    let c = with_env(&[(OTEL_EXPORTER_OTLP_HEADERS, "a=1")])
        .otlp_header("A", "2")
        .otlp_timeout(Duration::from_secs(1))
        .otlp_compression(Compression::Gzip)
        .config()
        .unwrap();
    assert_eq!(
        c.otlp.headers,
        vec![("A".into(), "2".into())],
        "code header replaces the same name"
    );
    assert_eq!(c.otlp.timeout, Duration::from_secs(1));
}

#[test]
fn sampler_and_argument() {
    let cases = [
        ("always_on", None, Sampler::AlwaysOn),
        ("always_off", None, Sampler::AlwaysOff),
        ("traceidratio", Some("0.25"), Sampler::TraceIdRatio(0.25)),
        ("traceidratio", None, Sampler::TraceIdRatio(1.0)),
        ("parentbased_always_on", None, Sampler::ParentBasedAlwaysOn),
        (
            "parentbased_always_off",
            None,
            Sampler::ParentBasedAlwaysOff,
        ),
        (
            "parentbased_traceidratio",
            Some("0"),
            Sampler::ParentBasedTraceIdRatio(0.0),
        ),
        (
            "always_on",
            Some("not a number, ignored"),
            Sampler::AlwaysOn,
        ),
    ];
    for (name, arg, expected) in cases {
        let mut env = vec![(OTEL_TRACES_SAMPLER, name)];
        if let Some(arg) = arg {
            env.push((OTEL_TRACES_SAMPLER_ARG, arg));
        }
        assert_eq!(config(&env).sampler, expected, "{name} {arg:?}");
    }
    assert_eq!(
        error(&[
            (OTEL_TRACES_SAMPLER, "traceidratio"),
            (OTEL_TRACES_SAMPLER_ARG, "1.5")
        ]),
        "invalid OTEL_TRACES_SAMPLER_ARG \"1.5\": expected a number from 0 to 1"
    );
    assert!(
        error(&[(OTEL_TRACES_SAMPLER, "jaeger_remote")])
            .contains("always_on, always_off, traceidratio")
    );
    let c = with_env(&[(OTEL_TRACES_SAMPLER, "always_off")])
        .sampler(Sampler::AlwaysOn)
        .config()
        .unwrap();
    assert_eq!(c.sampler, Sampler::AlwaysOn);
    assert!(
        tracer::builder()
            .without_env()
            .sampler(Sampler::TraceIdRatio(2.0))
            .config()
            .is_err()
    );
}

#[test]
fn propagators_list() {
    let c = config(&[(OTEL_PROPAGATORS, "b3multi, jaeger,tracecontext")]);
    assert_eq!(
        c.propagators.kinds(),
        [
            PropagatorKind::B3Multi,
            PropagatorKind::Jaeger,
            PropagatorKind::TraceContext
        ]
    );
    assert!(
        config(&[(OTEL_PROPAGATORS, "none")])
            .propagators
            .kinds()
            .is_empty()
    );
    assert_eq!(
        config(&[(OTEL_PROPAGATORS, "b3,b3")]).propagators.kinds(),
        [PropagatorKind::B3]
    );
    assert_eq!(
        error(&[(OTEL_PROPAGATORS, "tracecontext,ottrace")]),
        "invalid OTEL_PROPAGATORS \"tracecontext,ottrace\": expected a comma list of tracecontext, baggage, b3, b3multi, jaeger, none"
    );
    let c = with_env(&[(OTEL_PROPAGATORS, "b3")])
        .propagators([PropagatorKind::Jaeger])
        .config()
        .unwrap();
    assert_eq!(c.propagators.kinds(), [PropagatorKind::Jaeger]);
}

#[test]
fn batch_processor_tuning() {
    let c = config(&[
        (OTEL_BSP_SCHEDULE_DELAY, "100"),
        (OTEL_BSP_EXPORT_TIMEOUT, "2000"),
        (OTEL_BSP_MAX_QUEUE_SIZE, "64"),
        (OTEL_BSP_MAX_EXPORT_BATCH_SIZE, "1000"),
    ]);
    assert_eq!(c.batch.schedule_delay, Duration::from_millis(100));
    assert_eq!(c.batch.export_timeout, Duration::from_millis(2000));
    assert_eq!(c.batch.max_queue_size.get(), 64);
    assert_eq!(
        c.batch.max_export_batch_size.get(),
        64,
        "a batch larger than the queue is clamped"
    );
    assert_eq!(
        error(&[(OTEL_BSP_MAX_QUEUE_SIZE, "0")]),
        "invalid OTEL_BSP_MAX_QUEUE_SIZE \"0\": expected a whole number greater than 0"
    );
    assert!(
        error(&[(OTEL_BSP_MAX_EXPORT_BATCH_SIZE, "-1")])
            .starts_with("invalid OTEL_BSP_MAX_EXPORT_BATCH_SIZE")
    );
    assert!(
        error(&[(OTEL_BSP_SCHEDULE_DELAY, "soon")]).starts_with("invalid OTEL_BSP_SCHEDULE_DELAY")
    );
    assert!(
        error(&[(OTEL_BSP_EXPORT_TIMEOUT, "1.5")]).starts_with("invalid OTEL_BSP_EXPORT_TIMEOUT")
    );
}

#[test]
fn every_documented_variable_is_read() {
    // Each variable, set to a value no parser accepts, must make the configuration fail, which
    // proves it is read at all (OTEL_SERVICE_NAME accepts anything, so it is checked above).
    for name in ALL_VARIABLES.iter().filter(|n| **n != OTEL_SERVICE_NAME) {
        let mut env = vec![(*name, "\u{1}invalid")];
        if *name == OTEL_TRACES_SAMPLER_ARG {
            env.push((OTEL_TRACES_SAMPLER, "traceidratio"));
        }
        let err = with_env(&env).config();
        assert!(err.is_err(), "{name} was not validated");
        assert!(
            err.unwrap_err().to_string().contains(name),
            "{name} is named in the error"
        );
    }
}

#[test]
fn build_reports_invalid_configuration() {
    let err = with_env(&[(OTEL_TRACES_EXPORTER, "kafka")])
        .build()
        .unwrap_err();
    assert!(matches!(err, tracer::InitError::Config(_)));
    assert!(err.to_string().contains("OTEL_TRACES_EXPORTER"));
}
