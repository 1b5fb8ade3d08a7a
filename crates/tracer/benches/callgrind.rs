//! A fixed-iteration driver for instruction counts under callgrind, which are repeatable on a
//! busy machine where criterion's wall-clock figures are not. Each run measures one scenario:
//! inject or extract per propagator (ours and, where the SDK has one, the SDK's; W3C also
//! from a Level 1 caller, whose flags say nothing of `random`, and with a `tracestate`) and a span
//! under an unsampled or sampled parent, a sampled or unsampled root (also with its attributes
//! built only when it records: the integrations' way, `late-*`), and a switched-off
//! tracer's instrumentation point (ours and the SDK's), `ITERATIONS` times inside
//! `callgrind_measured`, the only function callgrind collects in:
//!
//! ```text
//! cargo bench -p tracer --bench callgrind --no-run   # prints the binary's path
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*callgrind_measured*' \
//!     target/release/deps/callgrind-<hash> extract/tracecontext 10000
//! ```
//!
//! Collected instructions / iterations = instructions per operation. Without arguments it lists
//! the scenarios and runs each once (so `cargo bench` stays quick).

use std::hint::black_box;
use std::time::Duration;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, SpanKind, TraceContextExt, TraceFlags, TraceId, TraceState,
    Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Sampler as SdkSampler, SdkTracerProvider, SpanData, SpanExporter};
use tracer::Sampler;
use tracer::propagation::{PropagatorKind, Propagators};

/// Header pairs with case-insensitive lookup (as in `benches/propagation.rs`).
#[derive(Default)]
struct Headers(Vec<(String, String)>);

impl Injector for Headers {
    fn set(&mut self, key: &str, value: String) {
        match self.0.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key.to_owned(), value)),
        }
    }
}

impl Extractor for Headers {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_str()).collect()
    }
}

#[derive(Debug, Default)]
struct NullExporter;

impl SpanExporter for NullExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

/// The only code callgrind counts: `iterations` runs of `operation`.
#[inline(never)]
fn callgrind_measured(iterations: u64, operation: &mut dyn FnMut()) {
    for _ in 0..iterations {
        operation();
    }
}

/// Spans per round of [`with_export_keeping_up`]: half a default export batch.
const ROUND: u64 = 256;

/// `iterations` runs of a span-making `operation` (counted), in rounds of [`ROUND`] with
/// `flush` (not counted) between them: the export thread then keeps up with the spans, as it
/// must in a service that loses none. Without the flushes the measured thread, which valgrind
/// runs in turn with the export thread, makes more spans than the export thread sends in the
/// same time, so neither pipeline's steady state (the SDK's export thread freeing its spans,
/// tracer's returning records to its pool) would be measured.
fn with_export_keeping_up(iterations: u64, flush: &dyn Fn(), operation: &mut dyn FnMut()) {
    let mut left = iterations;
    while left > 0 {
        let round = left.min(ROUND);
        callgrind_measured(round, operation);
        flush();
        left -= round;
    }
}

fn parent(flags: TraceFlags) -> Context {
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(0x4bf92f3577b34da6a3ce929d0e0e4736),
        SpanId::from(0x00f067aa0ba902b7),
        flags,
        true,
        TraceState::default(),
    ))
}

fn with_baggage(cx: Context) -> Context {
    use opentelemetry::baggage::BaggageExt as _;
    cx.with_baggage([
        KeyValue::new("user", "alice"),
        KeyValue::new("tenant", "acme"),
    ])
}

fn propagator(name: &str) -> Option<Box<dyn TextMapPropagator>> {
    let ours = |kind| Some(Box::new(Propagators::new([kind])) as Box<dyn TextMapPropagator>);
    match name {
        "tracecontext" | "tracecontext-level1" | "tracecontext-tracestate" => {
            ours(PropagatorKind::TraceContext)
        }
        "baggage" => ours(PropagatorKind::Baggage),
        "b3" => ours(PropagatorKind::B3),
        "b3multi" => ours(PropagatorKind::B3Multi),
        "jaeger" => ours(PropagatorKind::Jaeger),
        "sdk-tracecontext" => Some(Box::new(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        )),
        "sdk-baggage" => Some(Box::new(
            opentelemetry_sdk::propagation::BaggagePropagator::new(),
        )),
        _ => None,
    }
}

const PROPAGATORS: [&str; 9] = [
    "tracecontext",
    "tracecontext-level1",
    "tracecontext-tracestate",
    "sdk-tracecontext",
    "baggage",
    "sdk-baggage",
    "b3",
    "b3multi",
    "jaeger",
];

fn tracer(sampler: Sampler) -> tracer::Guard {
    tracer::builder()
        .without_env()
        .service_name("bench")
        .sampler(sampler)
        .span_exporter(NullExporter)
        .schedule_delay(Duration::from_millis(100))
        .build()
        .expect("a valid configuration")
}

fn sdk(sampler: SdkSampler) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_sampler(sampler)
        .with_batch_exporter(NullExporter)
        .build()
}

/// The starting attributes, as an array: both APIs take one (the SDK's builder collects it into
/// a new vector; tracer moves it into the span's pooled record).
fn attributes() -> [KeyValue; 2] {
    [
        KeyValue::new("http.request.method", "GET"),
        KeyValue::new("http.route", "/orders/{id}"),
    ]
}

/// Runs `scenario`; `false` when there is no such scenario.
fn run(scenario: &str, iterations: u64) -> bool {
    let (what, name) = scenario.split_once('/').unwrap_or((scenario, ""));
    match what {
        "inject" | "extract" => {
            let Some(propagator) = propagator(name) else {
                return false;
            };
            let cx = with_baggage(parent(TraceFlags::SAMPLED));
            let mut carrier = Headers::default();
            propagator.inject_context(&cx, &mut carrier);
            match name {
                // From a Level 1 caller (flags `01`: sampled, nothing said about `random`).
                "tracecontext-level1" => {
                    let traceparent = &mut carrier.0[0].1;
                    traceparent.replace_range(53.., "01");
                }
                // With a `tracestate` of two members (the recommendation's example).
                "tracecontext-tracestate" => carrier.0.push((
                    "tracestate".into(),
                    "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE".into(),
                )),
                _ => {}
            }
            if what == "inject" {
                callgrind_measured(iterations, &mut || {
                    let mut out = Headers(Vec::with_capacity(4));
                    propagator.inject_context(&cx, &mut out);
                    black_box(out);
                });
            } else {
                callgrind_measured(iterations, &mut || {
                    black_box(propagator.extract(&carrier));
                });
            }
            true
        }
        "span" => {
            let unsampled = parent(TraceFlags::default());
            let sampled = parent(TraceFlags::SAMPLED);
            match name {
                "unsampled-child" | "sampled-child" => {
                    let guard = tracer(Sampler::ParentBasedAlwaysOn);
                    let t = guard.tracer().clone();
                    let p = if name == "sampled-child" {
                        &sampled
                    } else {
                        &unsampled
                    };
                    let flush = || guard.flush().expect("the null exporter takes every span");
                    with_export_keeping_up(iterations, &flush, &mut || {
                        let span = t.span("GET /orders/{id}", SpanKind::Server, attributes(), p);
                        drop(black_box(span));
                    });
                }
                "sdk-unsampled-child" | "sdk-sampled-child" => {
                    let provider = sdk(SdkSampler::ParentBased(Box::new(SdkSampler::AlwaysOn)));
                    let t = provider.tracer("bench");
                    let p = if name == "sdk-sampled-child" {
                        &sampled
                    } else {
                        &unsampled
                    };
                    let flush = || provider.force_flush().expect("the null exporter takes all");
                    with_export_keeping_up(iterations, &flush, &mut || {
                        let mut span = t
                            .span_builder("GET /orders/{id}")
                            .with_kind(SpanKind::Server)
                            .with_attributes(attributes())
                            .start_with_context(&t, p);
                        span.end();
                    });
                }
                // `late-*`: the integrations' way, the attributes built only when the span
                // records (the samplers never look at them), so an unsampled span builds none:
                // ours through a closure (`tracer::span::Attributes`), the SDK's by setting
                // them after `is_recording()`.
                "sampled-root"
                | "unsampled-root"
                | "off"
                | "late-sampled-root"
                | "late-unsampled-root" => {
                    let sampler = if name.ends_with("unsampled-root") {
                        Sampler::AlwaysOff
                    } else {
                        Sampler::AlwaysOn
                    };
                    let late = name.starts_with("late-");
                    let guard = tracer(sampler);
                    let t = guard.tracer().clone();
                    t.set_enabled(name != "off");
                    let root = Context::new();
                    let flush = || guard.flush().expect("the null exporter takes every span");
                    with_export_keeping_up(iterations, &flush, &mut || {
                        if black_box(&t).is_enabled() {
                            let (name, kind) = ("GET /orders/{id}", SpanKind::Server);
                            let span = if late {
                                t.span(name, kind, attributes, &root)
                            } else {
                                t.span(name, kind, attributes(), &root)
                            };
                            drop(black_box(span));
                        }
                    });
                }
                "sdk-sampled-root"
                | "sdk-unsampled-root"
                | "sdk-late-sampled-root"
                | "sdk-late-unsampled-root" => {
                    let provider = sdk(if name.ends_with("unsampled-root") {
                        SdkSampler::AlwaysOff
                    } else {
                        SdkSampler::AlwaysOn
                    });
                    let late = name.starts_with("sdk-late-");
                    let t = provider.tracer("bench");
                    let root = Context::new();
                    let flush = || provider.force_flush().expect("the null exporter takes all");
                    with_export_keeping_up(iterations, &flush, &mut || {
                        let mut builder = t
                            .span_builder("GET /orders/{id}")
                            .with_kind(SpanKind::Server);
                        if !late {
                            builder = builder.with_attributes(attributes());
                        }
                        let mut span = builder.start_with_context(&t, &root);
                        if late && span.is_recording() {
                            for attribute in attributes() {
                                span.set_attribute(attribute);
                            }
                        }
                        span.end();
                    });
                }
                _ => return false,
            }
            true
        }
        // What a sampled query's span cost before statements were remembered (now a map
        // look-up per query; see `src/sql/statements.rs`). Needs `--features sqlx-mysql`.
        #[cfg(feature = "sqlx-mysql")]
        "sql" if name == "sanitize" => {
            use tracer::sql::sanitize::{Flavor, sanitize, summarize};
            callgrind_measured(iterations, &mut || {
                let text = sanitize(
                    black_box("SELECT id, email FROM tracer_bench_data WHERE id = ?"),
                    Flavor::MYSQL,
                );
                black_box(summarize(&text).span_name("mysql"));
                black_box(text);
            });
            true
        }
        "export" => run_export(name, iterations),
        _ => false,
    }
}

#[cfg(all(feature = "otlp-grpc", feature = "otlp-http"))]
#[path = "support/export.rs"]
#[allow(dead_code, unreachable_pub)] // shared with benches/export.rs
mod export;

/// `export/<ours|sdk>/<grpc|http>`: `iterations` spans exported to a null receiver in batches
/// of 512 (the last one flushed). The export thread's instructions are those of
/// `*Worker*send_batch*`; the marginal cost per span is the difference of two runs
/// (`iterations` 512 and 2560) over 2048, which leaves out the connection's set-up.
#[cfg(all(feature = "otlp-grpc", feature = "otlp-http"))]
fn run_export(name: &str, iterations: u64) -> bool {
    let Some((path, protocol)) = name.split_once('/') else {
        return false;
    };
    let protocol = match protocol {
        "grpc" => tracer::Protocol::Grpc,
        "http" => tracer::Protocol::HttpProtobuf,
        _ => return false,
    };
    if !matches!(path, "ours" | "sdk") {
        return false;
    }
    let guard = export::guard(path, protocol);
    export::make_spans(guard.tracer(), iterations as usize);
    guard.flush().expect("every span exported");
    let stats = guard.stats();
    assert_eq!(stats.exported, iterations, "{stats:?}");
    true
}

#[cfg(not(all(feature = "otlp-grpc", feature = "otlp-http")))]
fn run_export(_name: &str, _iterations: u64) -> bool {
    false
}

fn scenarios() -> Vec<String> {
    let mut out = Vec::new();
    for p in PROPAGATORS {
        out.push(format!("inject/{p}"));
        out.push(format!("extract/{p}"));
    }
    for s in [
        "unsampled-child",
        "sdk-unsampled-child",
        "sampled-child",
        "sdk-sampled-child",
        "sampled-root",
        "sdk-sampled-root",
        "unsampled-root",
        "sdk-unsampled-root",
        "late-sampled-root",
        "sdk-late-sampled-root",
        "late-unsampled-root",
        "sdk-late-unsampled-root",
        "off",
    ] {
        out.push(format!("span/{s}"));
    }
    if cfg!(feature = "sqlx-mysql") {
        out.push("sql/sanitize".into());
    }
    if cfg!(all(feature = "otlp-grpc", feature = "otlp-http")) {
        for s in ["ours/grpc", "sdk/grpc", "ours/http", "sdk/http"] {
            out.push(format!("export/{s}"));
        }
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.as_slice() {
        [scenario, iterations] => {
            let iterations = iterations.parse().expect("iterations is a number");
            assert!(
                run(scenario, iterations),
                "unknown scenario {scenario:?}; one of {:?}",
                scenarios()
            );
        }
        _ => {
            for scenario in scenarios() {
                assert!(run(&scenario, 1), "{scenario}");
                println!("{scenario}");
            }
        }
    }
}
