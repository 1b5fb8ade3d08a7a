//! The sampling decision for tracer's own spans, made from [`crate::Sampler`] with the same
//! rules as `opentelemetry_sdk`'s samplers, so that a fleet mixing tracer and plain SDK
//! services (or tracer's own SDK path) decides alike for the same trace.
//!
//! - `always_on` / `always_off`: yes / no.
//! - `traceidratio(r)`: the SDK's algorithm: yes when `r >= 1`, else when the trace id's low 8
//!   bytes (big-endian), shifted right by one, are below `r * 2^63`.
//! - `parentbased_*`: when the parent context has an active span (valid or not, as the SDK's
//!   `Sampler::ParentBased` looks at it), that span's `sampled` flag; otherwise the root
//!   sampler.

use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceId};

use crate::Sampler;

/// Whether a span of trace `trace_id` under `parent` (whose span context is `parent_span`) is
/// recorded and sampled.
#[inline]
pub(crate) fn samples(
    sampler: Sampler,
    parent: &Context,
    parent_span: &SpanContext,
    trace_id: TraceId,
) -> bool {
    match sampler {
        Sampler::AlwaysOn => true,
        Sampler::AlwaysOff => false,
        Sampler::TraceIdRatio(ratio) => by_ratio(ratio, trace_id),
        Sampler::ParentBasedAlwaysOn
        | Sampler::ParentBasedAlwaysOff
        | Sampler::ParentBasedTraceIdRatio(_)
            if parent.has_active_span() =>
        {
            parent_span.is_sampled()
        }
        Sampler::ParentBasedAlwaysOn => true,
        Sampler::ParentBasedAlwaysOff => false,
        Sampler::ParentBasedTraceIdRatio(ratio) => by_ratio(ratio, trace_id),
    }
}

/// The SDK's trace-id ratio rule (`opentelemetry_sdk` 0.33, `sample_based_on_probability`).
#[inline]
fn by_ratio(ratio: f64, trace_id: TraceId) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    let upper_bound = (ratio.max(0.0) * (1u64 << 63) as f64) as u64;
    let bytes = trace_id.to_bytes();
    let low = u64::from_be_bytes([
        bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15],
    ]);
    (low >> 1) < upper_bound
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{
        Link, SpanId, SpanKind, TraceFlags, TraceState, Tracer as _, TracerProvider as _,
    };
    use opentelemetry_sdk::trace::IdGenerator as _;
    use opentelemetry_sdk::trace::{
        RandomIdGenerator, Sampler as SdkSampler, SamplingDecision, SdkTracerProvider, ShouldSample,
    };

    use super::*;

    fn sdk(sampler: Sampler) -> SdkSampler {
        crate::builder::sdk_sampler(sampler)
    }

    fn parents() -> Vec<Context> {
        let remote = |flags| {
            Context::new().with_remote_span_context(SpanContext::new(
                RandomIdGenerator::default().new_trace_id(),
                SpanId::from(9),
                flags,
                true,
                TraceState::default(),
            ))
        };
        let provider = SdkTracerProvider::builder().build();
        let local = provider
            .tracer("t")
            .start_with_context("local", &Context::new());
        let local_unsampled = SdkTracerProvider::builder()
            .with_sampler(SdkSampler::AlwaysOff)
            .build()
            .tracer("t")
            .start_with_context("local", &Context::new());
        vec![
            Context::new(),
            remote(TraceFlags::SAMPLED),
            remote(TraceFlags::default()),
            remote(TraceFlags::new(0x03)),
            Context::new().with_span(local),
            Context::new().with_span(local_unsampled),
            // An active span whose context is invalid: parent-based samplers still look at it.
            Context::new().with_remote_span_context(SpanContext::empty_context()),
        ]
    }

    /// Our decision equals the SDK's for every sampler, parent kind and many trace ids.
    #[test]
    fn the_decision_is_the_sdks_for_every_sampler_parent_and_trace_id() {
        let samplers = [
            Sampler::AlwaysOn,
            Sampler::AlwaysOff,
            Sampler::TraceIdRatio(0.0),
            Sampler::TraceIdRatio(0.25),
            Sampler::TraceIdRatio(0.5),
            Sampler::TraceIdRatio(0.999),
            Sampler::TraceIdRatio(1.0),
            Sampler::TraceIdRatio(-1.0),
            Sampler::ParentBasedAlwaysOn,
            Sampler::ParentBasedAlwaysOff,
            Sampler::ParentBasedTraceIdRatio(0.1),
            Sampler::ParentBasedTraceIdRatio(0.75),
        ];
        let ids = RandomIdGenerator::default();
        let mut trace_ids: Vec<TraceId> = (0..2_000).map(|_| ids.new_trace_id()).collect();
        // Edges of the low half that the ratio looks at.
        for low in [
            0u64,
            1,
            2,
            u64::MAX,
            u64::MAX - 1,
            1 << 63,
            (1 << 63) - 1,
            1 << 62,
        ] {
            trace_ids.push(TraceId::from(u128::from(low) | (7u128 << 64)));
        }
        let mut sampled = 0;
        let mut dropped = 0;
        for sampler in samplers {
            let theirs = sdk(sampler);
            for parent in parents() {
                let span = parent.span();
                let parent_span = span.span_context();
                for &trace_id in &trace_ids {
                    let expected = theirs
                        .should_sample(
                            Some(&parent),
                            trace_id,
                            "probe",
                            &SpanKind::Internal,
                            &[],
                            &[] as &[Link],
                        )
                        .decision
                        == SamplingDecision::RecordAndSample;
                    let ours = samples(sampler, &parent, parent_span, trace_id);
                    assert_eq!(ours, expected, "{sampler:?} {parent_span:?} {trace_id}");
                    if ours {
                        sampled += 1;
                    } else {
                        dropped += 1;
                    }
                }
            }
        }
        assert!(sampled > 10_000 && dropped > 10_000, "{sampled} {dropped}");
    }
}
