//! Malformed propagation headers never panic and never poison the trace: they are ignored, so
//! the receiver starts a new root.

use std::collections::HashMap;

use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::TraceContextExt;
use tracer::propagation::{PropagatorKind, Propagators};

fn extract_valid(kind: PropagatorKind, pairs: &[(&str, &str)]) -> bool {
    let headers: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Propagators::new([kind])
        .extract(&headers)
        .span()
        .span_context()
        .is_valid()
}

#[test]
fn malformed_traceparent_is_ignored() {
    let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    assert!(extract_valid(
        PropagatorKind::TraceContext,
        &[("traceparent", good)]
    ));
    for bad in [
        "",
        "00",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", // truncated
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", // trace id too short
        "00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01", // trace id too long
        "00-abc-00f067aa0ba902b7-01",                           // short id the SDK would accept
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01", // span id too short
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", // non-hex
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", // uppercase
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01", // all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", // all-zero span id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", // version ff
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-00", // extra field in version 00
        "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0z",
        "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\u{e9}",
        "\u{e9}\u{e9}-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ] {
        assert!(
            !extract_valid(PropagatorKind::TraceContext, &[("traceparent", bad)]),
            "accepted {bad:?}"
        );
    }
}

#[test]
fn oversized_or_invalid_tracestate_is_dropped_but_traceparent_kept() {
    let members: Vec<String> = (0..40).map(|i| format!("k{i}=v{i}")).collect();
    let too_many = members.join(",");
    let huge = format!("k={}", "a".repeat(100_000));
    for state in [too_many.as_str(), huge.as_str(), "=,=,,", "k=v\u{1}"] {
        let headers: HashMap<String, String> = [
            (
                "traceparent".to_string(),
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string(),
            ),
            ("tracestate".to_string(), state.to_string()),
        ]
        .into();
        let cx = Propagators::new([PropagatorKind::TraceContext]).extract(&headers);
        let sc = cx.span().span_context().clone();
        assert!(sc.is_valid());
        assert!(
            sc.trace_state().header().len() <= 512,
            "tracestate kept: {}",
            sc.trace_state().header()
        );
    }
}

#[test]
fn oversized_baggage_never_panics_and_stays_bounded() {
    let many: Vec<String> = (0..10_000).map(|i| format!("key{i}=value{i}")).collect();
    for baggage in [
        many.join(","),
        format!("k={}", "v".repeat(1_000_000)),
        "=,;;=%zz,k=%".to_string(),
    ] {
        let headers: HashMap<String, String> = [("baggage".to_string(), baggage)].into();
        let cx = Propagators::default().extract(&headers);
        assert!(
            cx.baggage().len() <= 180,
            "baggage entries kept: {}",
            cx.baggage().len()
        );
    }
}

#[test]
fn malformed_b3_is_ignored() {
    assert!(extract_valid(
        PropagatorKind::B3,
        &[("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1")]
    ));
    for bad in [
        "",
        "0",
        "1",
        "d",
        "80f198ee56343ba864fe8b2a57d3eff7",
        "80f198ee56343ba864fe8b2a57d3eff7-",
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd",
        "80f198ee56343ba864fe8b2a57d3ef-e457b5a2e4d86bd1-1",
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-2",
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-xyz",
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90-extra",
        "00000000000000000000000000000000-e457b5a2e4d86bd1-1",
        "80f198ee56343ba864fe8b2a57d3eff7-0000000000000000-1",
        "80F198EE56343BA864FE8B2A57D3EFF7-e457b5a2e4d86bd1-1",
    ] {
        assert!(
            !extract_valid(PropagatorKind::B3, &[("b3", bad)]),
            "accepted {bad:?}"
        );
    }
    for bad in [
        vec![("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7")],
        vec![("x-b3-spanid", "e457b5a2e4d86bd1")],
        vec![("x-b3-traceid", "xyz"), ("x-b3-spanid", "e457b5a2e4d86bd1")],
        vec![
            ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
            ("x-b3-spanid", "e457b5a2e4d86bd1"),
            ("x-b3-sampled", "maybe"),
        ],
    ] {
        assert!(
            !extract_valid(PropagatorKind::B3Multi, &bad),
            "accepted {bad:?}"
        );
    }
}

#[test]
fn malformed_jaeger_is_ignored() {
    for bad in [
        "",
        "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0",
        "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1:9",
        "4bf92f3577b34da6a3ce929d0e0e47361:00f067aa0ba902b7:0:1",
        "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b71:0:1",
        "0:00f067aa0ba902b7:0:1",
        "4bf92f3577b34da6a3ce929d0e0e4736:0:0:1",
        "zz:00f067aa0ba902b7:0:1",
        "4bf92f3577b34da6a3ce929d0e0e4736%3Z00f067aa0ba902b7%3A0%3A1",
        "%ff%fe",
        "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:100",
    ] {
        assert!(
            !extract_valid(PropagatorKind::Jaeger, &[("uber-trace-id", bad)]),
            "accepted {bad:?}"
        );
    }
    let huge = "v".repeat(100_000);
    let headers: HashMap<String, String> = [
        ("uberctx-big".to_string(), huge),
        ("uberctx-".to_string(), "x".to_string()),
    ]
    .into();
    let cx = Propagators::new([PropagatorKind::Jaeger]).extract(&headers);
    assert_eq!(
        cx.baggage().len(),
        0,
        "oversized and nameless uberctx entries are skipped"
    );
}
