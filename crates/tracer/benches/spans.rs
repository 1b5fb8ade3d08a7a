//! Cost of one span at an instrumentation point: sampled (start + 3 attributes + end + enqueue
//! for export), unsampled (child of an unsampled parent, and root), and switched off; next to
//! the plain OpenTelemetry SDK doing the same with its own batch processor, measured in the same
//! run. The SDK has no switch: its "off" is the OpenTelemetry API's no-op tracer, what an
//! application gets from the global provider when the SDK is not installed.
//!
//! `cargo bench -p tracer --bench spans`

use std::hint::black_box;
use std::num::NonZeroUsize;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, SpanKind, TraceContextExt, TraceFlags, TraceId, TraceState,
    Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler as SdkSampler, SdkTracerProvider, SpanData,
    SpanExporter,
};
use tracer::Sampler;

/// Accepts every batch and throws it away: the export side costs nothing, so the benchmark
/// measures the instrumented thread.
#[derive(Debug, Default)]
struct NullExporter;

impl SpanExporter for NullExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

/// Three attributes, as an array: both APIs take one (the SDK's builder collects it into a new
/// vector; tracer moves it into the span's pooled record).
fn attributes() -> [KeyValue; 3] {
    [
        KeyValue::new("http.request.method", "GET"),
        KeyValue::new("http.route", "/orders/{id}"),
        KeyValue::new("http.response.status_code", 200),
    ]
}

fn tracer_with(sampler: Sampler, on: bool) -> (tracer::Guard, tracer::Tracer) {
    let guard = tracer::builder()
        .without_env()
        .service_name("bench")
        .sampler(sampler)
        .enabled(on)
        .span_exporter(NullExporter)
        .max_queue_size(NonZeroUsize::new(65_536).unwrap())
        .schedule_delay(Duration::from_millis(100))
        .build()
        .unwrap();
    let tracer = guard.tracer().clone();
    (guard, tracer)
}

fn sdk_provider(sampler: SdkSampler) -> SdkTracerProvider {
    let processor = BatchSpanProcessor::builder(NullExporter)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_queue_size(65_536)
                .with_scheduled_delay(Duration::from_millis(100))
                .build(),
        )
        .build();
    SdkTracerProvider::builder()
        .with_sampler(sampler)
        .with_span_processor(processor)
        .build()
}

fn spans(c: &mut Criterion) {
    let mut group = c.benchmark_group("span");
    group.measurement_time(Duration::from_secs(3));
    group.warm_up_time(Duration::from_millis(500));
    let root = Context::new();

    let (_g1, sampled) = tracer_with(Sampler::AlwaysOn, true);
    group.bench_function("tracer/sampled", |b| {
        b.iter(|| {
            let span = sampled.span("GET /orders/{id}", SpanKind::Server, attributes(), &root);
            drop(black_box(span));
        })
    });
    // The common unsampled case: a downstream hop of a trace its root chose not to sample.
    let unsampled_parent = Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(0x4bf92f3577b34da6a3ce929d0e0e4736),
        SpanId::from(0x00f067aa0ba902b7),
        TraceFlags::default(),
        true,
        TraceState::default(),
    ));
    let (_g4, child) = tracer_with(Sampler::ParentBasedAlwaysOn, true);
    group.bench_function("tracer/unsampled-child", |b| {
        b.iter(|| {
            let span = child.span(
                "GET /orders/{id}",
                SpanKind::Server,
                attributes(),
                &unsampled_parent,
            );
            drop(black_box(span));
        })
    });
    let (_g2, unsampled) = tracer_with(Sampler::AlwaysOff, true);
    group.bench_function("tracer/unsampled-root", |b| {
        b.iter(|| {
            let span = unsampled.span("GET /orders/{id}", SpanKind::Server, attributes(), &root);
            drop(black_box(span));
        })
    });
    let (_g3, off) = tracer_with(Sampler::AlwaysOn, false);
    group.bench_function("tracer/off", |b| {
        b.iter(|| {
            // The instrumentation point checks the switch before building anything.
            if black_box(&off).is_enabled() {
                let span = off.span("GET /orders/{id}", SpanKind::Server, attributes(), &root);
                drop(black_box(span));
            }
        })
    });

    let sdk = sdk_provider(SdkSampler::AlwaysOn);
    let sdk_tracer = sdk.tracer("bench");
    group.bench_function("sdk/sampled", |b| {
        b.iter(|| {
            let mut span = sdk_tracer
                .span_builder("GET /orders/{id}")
                .with_kind(SpanKind::Server)
                .with_attributes(attributes())
                .start_with_context(&sdk_tracer, &root);
            span.end();
        })
    });
    let sdk_parent = sdk_provider(SdkSampler::ParentBased(Box::new(SdkSampler::AlwaysOn)));
    let sdk_parent_tracer = sdk_parent.tracer("bench");
    group.bench_function("sdk/unsampled-child", |b| {
        b.iter(|| {
            let mut span = sdk_parent_tracer
                .span_builder("GET /orders/{id}")
                .with_kind(SpanKind::Server)
                .with_attributes(attributes())
                .start_with_context(&sdk_parent_tracer, &unsampled_parent);
            span.end();
        })
    });
    let sdk_off = sdk_provider(SdkSampler::AlwaysOff);
    let sdk_off_tracer = sdk_off.tracer("bench");
    group.bench_function("sdk/unsampled-root", |b| {
        b.iter(|| {
            let mut span = sdk_off_tracer
                .span_builder("GET /orders/{id}")
                .with_kind(SpanKind::Server)
                .with_attributes(attributes())
                .start_with_context(&sdk_off_tracer, &root);
            span.end();
        })
    });
    let noop = opentelemetry::trace::noop::NoopTracer::new();
    group.bench_function("sdk/off", |b| {
        b.iter(|| {
            let mut span = black_box(&noop)
                .span_builder("GET /orders/{id}")
                .with_kind(SpanKind::Server)
                .with_attributes(attributes())
                .start_with_context(&noop, &root);
            span.end();
        })
    });
    group.finish();
    let stats = sampled.stats();
    eprintln!("tracer/sampled export stats after the run: {stats:?}");
}

criterion_group!(benches, spans);
criterion_main!(benches);
