//! Fuzz harness: the Jaeger query API (v1 and api_v3) through the collector's real axum router.
//!
//! Shared by the fuzz targets `fuzz/fuzz_targets/query_{v1,v3}.rs` and the corpus replay test
//! `crates/tracer-collector/tests/fuzz_corpus.rs` (included there with `#[path]`).
//!
//! Once per process: a collector whose store holds a few spans (two services, a cross-service
//! call, attributes, an event, an error status, started a few seconds ago so the default search
//! window finds them), its [`Collector::query_router`] (the Jaeger API, the collector's own endpoints
//! and the UI), and a current-thread tokio runtime.
//! Input: the first byte picks the endpoint, the rest is its query string, or for
//! `.../{id}` endpoints the path segment (then an optional `?` and a query string). Bytes a URI
//! cannot carry are percent-encoded, everything else reaches the handler as written. The
//! request is served with `tower::ServiceExt::oneshot` and its body read to the end; a panic or
//! a 5xx status is a crash.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use http::{Request, Uri};
use http_body_util::BodyExt;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::Event;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, status};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use tower::ServiceExt;
use tracer_collector::Collector;
use tracer_collector::ingest;

/// Trace ids stored in the fixture, for seeds: `/api/traces/{id}` finds them.
const TRACE_IDS: [&str; 2] = [
    "4bf92f3577b34da6a3ce929d0e0e4736",
    "0000000000000000000000000000abcd",
];

/// The v1 endpoints, then the collector's own read endpoints on the same port (the Jaeger SPM
/// metrics, the UI's streamed trace, "what got slower", the trace file export; a trace's
/// findings are `/api/traces/{id}/findings`, reached through the second entry).
const V1: [&str; 13] = [
    "/api/traces?",
    "/api/traces/",
    "/api/dependencies?",
    "/api/operations?",
    "/api/services/",
    "/api/services?",
    "/api/metrics/latencies?",
    "/api/metrics/calls?",
    "/api/metrics/errors?",
    "/api/metrics/minstep?",
    "/api/collector/traces/",
    "/api/regressions?",
    "/api/export/",
];

const V3: [&str; 5] = [
    "/api/v3/traces?",
    "/api/v3/trace-summaries?",
    "/api/v3/operations?",
    "/api/v3/traces/",
    "/api/v3/services?",
];

/// Bytes percent-encoded before they go into the URI (what `http::Uri` refuses).
const URI_UNSAFE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

struct Fixture {
    runtime: tokio::runtime::Runtime,
    router: Router,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        // Timers on: the query handlers bound their waits (query slots, streamed responses).
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime");
        let collector = Collector::builder().max_spans(1000).build();
        let outcome = ingest::store_request(&collector.store(), &spans());
        assert_eq!(outcome.rejected, 0, "fixture spans: {}", outcome.message);
        Fixture {
            runtime,
            router: collector.query_router(),
        }
    })
}

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..Default::default()
    }
}

fn resource_spans(service: &str, spans: Vec<Span>) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![text("service.name", service)],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans,
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn spans() -> ExportTraceServiceRequest {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let start = now - 5_000_000_000;
    let trace = |i: usize| {
        u128::from_str_radix(TRACE_IDS[i], 16)
            .expect("hex")
            .to_be_bytes()
    };
    let span = |t: usize, id: u64, parent: u64, name: &str, kind: i32, offset_ms: u64| Span {
        trace_id: trace(t).to_vec(),
        span_id: id.to_be_bytes().to_vec(),
        parent_span_id: if parent == 0 {
            Vec::new()
        } else {
            parent.to_be_bytes().to_vec()
        },
        name: name.to_owned(),
        kind,
        start_time_unix_nano: start + offset_ms * 1_000_000,
        end_time_unix_nano: start + (offset_ms + 120) * 1_000_000,
        attributes: vec![text("http.route", "/checkout"), text("user", "u-1")],
        ..Default::default()
    };
    let mut root = span(0, 1, 0, "GET /checkout", 2, 0);
    root.events = vec![Event {
        time_unix_nano: start + 1_000_000,
        name: "cache miss".to_owned(),
        attributes: vec![text("key", "cart:1")],
        ..Default::default()
    }];
    let mut charge = span(0, 2, 1, "charge", 3, 10);
    charge.status = Some(Status {
        code: status::StatusCode::Error as i32,
        message: "card declined".to_owned(),
    });
    let payments = span(0, 3, 2, "POST /pay", 2, 20);
    let other = span(1, 4, 0, "cron tick", 1, 40);
    ExportTraceServiceRequest {
        resource_spans: vec![
            resource_spans("frontend", vec![root, charge, other]),
            resource_spans("payments", vec![payments]),
        ],
    }
}

/// Runs one v1 input (see the module docs).
pub(crate) fn v1(data: &[u8]) {
    serve(data, &V1);
}

/// Runs one api_v3 input (see the module docs).
pub(crate) fn v3(data: &[u8]) {
    serve(data, &V3);
}

fn serve(data: &[u8], endpoints: &[&str]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let endpoint = endpoints[usize::from(selector) % endpoints.len()];
    let rest = String::from_utf8_lossy(rest);
    let target = if endpoint.ends_with('/') {
        // A path segment, then maybe a query string.
        let (segment, query) = match rest.split_once('?') {
            Some((s, q)) => (s, Some(q)),
            None => (rest.as_ref(), None),
        };
        let segment: String = utf8_percent_encode(segment, URI_UNSAFE)
            .to_string()
            .replace('/', "%2F");
        let mut target = format!("{endpoint}{segment}");
        if endpoint == "/api/services/" {
            target.push_str("/operations");
        }
        if let Some(q) = query {
            target.push('?');
            target.push_str(&utf8_percent_encode(q, URI_UNSAFE).to_string());
        }
        target
    } else {
        format!("{endpoint}{}", utf8_percent_encode(&rest, URI_UNSAFE))
    };
    let Ok(uri) = target.parse::<Uri>() else {
        // Only what a client could send is interesting; `http` refuses the rest before axum.
        return;
    };
    let fixture = fixture();
    let request = Request::get(uri)
        .body(Body::empty())
        .expect("a GET request");
    let (status, body) = fixture.runtime.block_on(async {
        let response = fixture
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("the body is read")
            .to_bytes();
        (status, body)
    });
    assert!(
        status.as_u16() < 500,
        "{target} -> {status}: {}",
        String::from_utf8_lossy(&body)
    );
}
