//! Inject and extract cost of each propagator, next to the SDK's own W3C trace-context
//! propagator measured in the same run.
//!
//! Two carriers: `headers`, a small vector of header pairs with case-insensitive lookup (what
//! a propagator costs by itself), and `http`, an `http::HeaderMap` as the HTTP integrations use.
//! (`HashMap<String, String>`, the SDK's test carrier, lower-cases every key on each call and
//! would mostly measure that.)
//!
//! `cargo bench -p tracer --bench propagation`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use tracer::propagation::{PropagatorKind, Propagators};

fn context() -> Context {
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    ))
}

/// Header pairs with case-insensitive lookup, cleared between iterations.
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

fn bench_pair(c: &mut Criterion, name: &str, propagator: &dyn TextMapPropagator) {
    let mut group = c.benchmark_group(format!("propagation/{name}"));
    group.measurement_time(Duration::from_secs(2));
    group.warm_up_time(Duration::from_millis(300));
    let cx = context();

    let mut carrier = Headers::default();
    propagator.inject_context(&cx, &mut carrier);
    group.bench_function("inject/headers", |b| {
        let mut out = Headers::default();
        propagator.inject_context(&cx, &mut out);
        b.iter(|| propagator.inject_context(black_box(&cx), &mut out))
    });
    group.bench_function("extract/headers", |b| {
        b.iter(|| black_box(propagator.extract_with_context(&Context::new(), black_box(&carrier))))
    });

    let mut map = http::HeaderMap::new();
    propagator.inject_context(&cx, &mut HeaderInjector(&mut map));
    group.bench_function("inject/http", |b| {
        let mut out = http::HeaderMap::new();
        b.iter(|| propagator.inject_context(black_box(&cx), &mut HeaderInjector(&mut out)))
    });
    group.bench_function("extract/http", |b| {
        b.iter(|| {
            black_box(
                propagator.extract_with_context(&Context::new(), &HeaderExtractor(black_box(&map))),
            )
        })
    });
    group.finish();
}

fn propagation(c: &mut Criterion) {
    bench_pair(
        c,
        "sdk-tracecontext",
        &opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    for (name, kind) in [
        ("tracecontext", PropagatorKind::TraceContext),
        ("b3", PropagatorKind::B3),
        ("b3multi", PropagatorKind::B3Multi),
        ("jaeger", PropagatorKind::Jaeger),
    ] {
        bench_pair(c, name, &Propagators::new([kind]));
    }
    bench_pair(c, "default(tracecontext,baggage)", &Propagators::default());
}

criterion_group!(benches, propagation);
criterion_main!(benches);
