//! Inject and extract cost of each propagator with a `HashMap` carrier, next to the SDK's own
//! W3C trace-context propagator measured in the same run.
//!
//! `cargo bench -p tracer --bench propagation`

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::Context;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
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

fn bench_pair(c: &mut Criterion, name: &str, propagator: &dyn TextMapPropagator) {
    let mut group = c.benchmark_group(format!("propagation/{name}"));
    group.measurement_time(Duration::from_secs(2));
    group.warm_up_time(Duration::from_millis(300));
    let cx = context();
    let mut carrier: HashMap<String, String> = HashMap::with_capacity(8);
    propagator.inject_context(&cx, &mut carrier);
    group.bench_function("inject", |b| {
        let mut out: HashMap<String, String> = HashMap::with_capacity(8);
        b.iter(|| {
            propagator.inject_context(black_box(&cx), &mut out);
        })
    });
    group.bench_function("extract", |b| {
        b.iter(|| black_box(propagator.extract_with_context(&Context::new(), black_box(&carrier))))
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
