//! The load generator's accounting: a modest load over gRPC and over HTTP is stored in full
//! (produced == stored, every sampled trace complete), and the check fails when spans are lost,
//! whether the store evicted them or the collector refused the requests.

mod common;

use std::time::Duration;

use common::TestCollector;
use tracer_collector::Collector;
use tracer_collector::loadgen::{self, LoadOptions, Target};

fn options(target: Target, collector: &TestCollector) -> LoadOptions {
    LoadOptions {
        rate: 2_000,
        duration: Duration::from_secs(2),
        spans_per_request: 20,
        connections: 2,
        sample: 25,
        ..LoadOptions::new(target, collector.query_url(""))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_span_sent_over_grpc_and_http_is_stored() {
    let collector = TestCollector::start().await;
    for target in [
        Target::Grpc(format!("http://{}", collector.grpc)),
        Target::Http(format!("http://{}", collector.http)),
    ] {
        let report = loadgen::run(&options(target.clone(), &collector))
            .await
            .unwrap_or_else(|e| panic!("{target}: {e}"));
        assert_eq!(report.produced, 4_000, "{report}");
        assert_eq!(report.stored, report.produced, "{report}");
        assert_eq!(report.failed_requests, 0, "{report}");
        assert_eq!(report.sampled, 25, "{report}");
        assert!(report.sample_mismatches.is_empty(), "{report}");
        assert!(report.zero_loss(), "{report}");
        assert!(report.latency_p99 >= report.latency_p50, "{report}");
        assert!(report.rss.is_none(), "no pid given: {report}");
    }
    // Both runs, no other client: the store holds exactly what was sent.
    assert_eq!(collector.store.stats().received_spans, 8_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_evicted_by_the_store_are_a_loss() {
    // Room for 500 spans: most of the 4000 are evicted after being acknowledged.
    let collector = TestCollector::start_with(Collector::builder().max_spans(500)).await;
    let mut options = options(
        Target::Grpc(format!("http://{}", collector.grpc)),
        &collector,
    );
    options.sample = 200;
    let report = loadgen::run(&options).await.unwrap();
    assert_eq!(report.failed_requests, 0, "every request was acknowledged");
    assert!(report.evicted > 0, "{report}");
    assert!(
        !report.sample_mismatches.is_empty(),
        "sampled traces are missing: {report}"
    );
    assert!(!report.zero_loss(), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_the_collector_refuses_are_a_loss() {
    // Bodies over the limit are refused (413 / RESOURCE_EXHAUSTED): nothing is stored.
    let collector = TestCollector::start_with(Collector::builder().body_limit(512)).await;
    for target in [
        Target::Grpc(format!("http://{}", collector.grpc)),
        Target::Http(format!("http://{}", collector.http)),
    ] {
        let mut options = options(target, &collector);
        options.duration = Duration::from_millis(500);
        let report = loadgen::run(&options).await.unwrap();
        assert_eq!(report.failed_requests, report.requests, "{report}");
        assert_eq!(report.stored, 0, "{report}");
        assert!(report.first_error.is_some(), "{report}");
        assert!(!report.zero_loss(), "{report}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_stops_at_the_first_step_that_fails() {
    let collector = TestCollector::start().await;
    let options = LoadOptions {
        rate: 500,
        duration: Duration::from_millis(500),
        spans_per_request: 10,
        ..options(
            Target::Http(format!("http://{}", collector.http)),
            &collector,
        )
    };
    // A p99 bound no request can meet: the first step fails, so no rate passes.
    let search = loadgen::Search {
        max_p99: Duration::ZERO,
        ..loadgen::Search::default()
    };
    let (reports, best) = loadgen::find_max(&options, &search, |_, _| {})
        .await
        .unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(best, None);
    assert!(reports[0].zero_loss(), "the step lost nothing, it was slow");
    // Steps that pass (a p99 bound no run misses: tests do not time), up to the highest rate.
    let search = loadgen::Search {
        max_rate: 1_200,
        max_p99: Duration::from_secs(60),
        min_achieved: 0.0,
        ..loadgen::Search::default()
    };
    let (reports, best) = loadgen::find_max(&options, &search, |_, _| {})
        .await
        .unwrap();
    assert_eq!(
        reports.iter().map(|r| r.target_rate).collect::<Vec<_>>(),
        [500, 750, 1125]
    );
    assert_eq!(best, Some(2));
}
