//! Resources and scopes live inside the store's byte budget: a client sending a new 10 KB
//! resource with every request cannot grow the collector past `--max-bytes`, and each resource
//! is freed with the last span that uses it. (One test in this binary, so the RSS reading is
//! this test's own.)

mod common;

use std::num::NonZeroUsize;

use common::{now_ns, s, simple_span};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use prost::Message;
use tracer_collector::store::{Store, StoreLimits, TraceQuery};

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

/// One span in a resource of its own, carrying a unique 10 KB attribute, and a scope of its
/// own.
fn unique_resource_request(n: u64) -> Vec<u8> {
    let blob = format!("{n:010}").repeat(1000);
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![s("service.name", "svc"), s("host.blob", &blob)],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: format!("scope-{n}"),
                    ..Default::default()
                }),
                spans: vec![simple_span(u128::from(n) + 1, 1, 0, "op", now_ns(), 0, 10)],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
    .encode_to_vec()
}

#[test]
fn unique_resources_stay_within_the_byte_budget_and_are_freed_with_their_spans() {
    let max_bytes = 8 << 20;
    let store = Store::new(StoreLimits {
        max_spans: NonZeroUsize::new(1_000_000).unwrap(),
        max_bytes: NonZeroUsize::new(max_bytes).unwrap(),
    });
    let before = rss_bytes();
    let requests = 5000u64;
    for n in 0..requests {
        tracer_collector::ingest::store_protobuf(&store, &unique_resource_request(n)).unwrap();
        let stats = store.stats();
        assert!(stats.bytes <= max_bytes as u64, "after {n}: {stats:?}");
    }
    let stats = store.stats();
    // 5000 x 10 KB of resources arrived (over 100 MB by the table's accounting); what is left
    // fits the 8 MB budget, and only resources of stored spans are kept.
    assert!(stats.catalog_bytes <= max_bytes as u64, "{stats:?}");
    assert_eq!(stats.resources, stats.traces, "{stats:?}");
    assert_eq!(stats.scopes, stats.traces, "{stats:?}");
    assert!(stats.evicted_traces > 4000, "{stats:?}");
    let grown = rss_bytes().saturating_sub(before);
    assert!(
        grown < 40 << 20,
        "RSS grew by {} MB for an 8 MB budget",
        grown >> 20
    );
    // The newest traces are whole, with their resource.
    let newest = store.search(&TraceQuery {
        service: Some("svc".into()),
        limit: 1,
        ..Default::default()
    });
    assert_eq!(newest.len(), 1);
    assert_eq!(newest[0].trace_id, u128::from(requests));
}
