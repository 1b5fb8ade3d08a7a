//! The own span against the SDK's: limits, ending, sampling flags, the record's conversion.

use std::time::{Duration, SystemTime};

use opentelemetry::trace::{
    Event, Link, Span as _, SpanBuilder, SpanContext, SpanId, SpanKind, Status, TraceContextExt,
    TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanProcessor};

use super::pipeline::scope;
use super::record::SpanRecord;
use crate::testing::SpanCapture;
use crate::{Sampler, Tracer};

fn ours(capture: &SpanCapture, sampler: Sampler) -> Tracer {
    capture
        .builder("svc")
        .sampler(sampler)
        .build()
        .unwrap()
        .into_tracer()
}

/// A user span processor that does nothing: its presence keeps a tracer on the SDK path.
#[derive(Debug)]
struct Nothing;

impl SpanProcessor for Nothing {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &Context) {}
    fn on_end(&self, _span: SpanData) {}
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

fn sdk_path(capture: &SpanCapture, sampler: Sampler) -> Tracer {
    capture
        .builder("svc")
        .sampler(sampler)
        .span_processor(Nothing)
        .build()
        .unwrap()
        .into_tracer()
}

fn remote(flags: u8, state: &str) -> Context {
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(0x4bf92f3577b34da6a3ce929d0e0e4736),
        SpanId::from(0x00f067aa0ba902b7),
        TraceFlags::new(flags),
        true,
        state.parse::<TraceState>().unwrap(),
    ))
}

fn attrs(n: usize) -> Vec<KeyValue> {
    (0..n)
        .map(|i| KeyValue::new(format!("k{i}"), i as i64))
        .collect()
}

/// Every call of the API on one span, the same for both paths.
fn exercise(tracer: &Tracer, parent: &Context) -> SpanContext {
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let builder = SpanBuilder::from_name("first")
        .with_kind(SpanKind::Consumer)
        .with_start_time(at)
        .with_attributes(attrs(130))
        .with_links(vec![Link::new(
            SpanContext::new(
                TraceId::from(5),
                SpanId::from(6),
                TraceFlags::SAMPLED,
                true,
                TraceState::default(),
            ),
            attrs(2),
            0,
        )])
        .with_events(vec![Event::new("at start", at, attrs(1), 0)]);
    let mut span = tracer.start_span(builder, parent).unwrap();
    span.set_attribute(KeyValue::new("late", true));
    span.set_attributes(attrs(2));
    span.update_name("renamed");
    span.add_event_with_timestamp("with many attributes", at, attrs(200));
    for _ in 0..130 {
        span.add_event_with_timestamp("tick", at, vec![]);
    }
    for i in 0..130 {
        span.add_link(
            SpanContext::new(
                TraceId::from(7),
                SpanId::from(i + 1),
                TraceFlags::default(),
                true,
                TraceState::default(),
            ),
            attrs(129),
        );
    }
    span.set_status(Status::error("bad"));
    span.set_status(Status::Unset);
    span.set_status(Status::Ok);
    span.set_status(Status::error("ignored after Ok"));
    span.end_with_timestamp(at + Duration::from_millis(3));
    span.set_attribute(KeyValue::new("after end", 1));
    span.end();
    span.span_context().clone()
}

/// Spans the same calls make on our pipeline and on the SDK are the same `SpanData`: span
/// limits and dropped counts, status order, name, kind, times, events, links, flags, trace
/// state and parent. Only the random span id differs, and a root's flags: ours says W3C Level
/// 2 `random` (its trace id is random), the SDK's does not.
#[test]
fn our_span_is_the_sdks_span_for_the_same_calls() {
    for parent in [Context::new(), remote(0x01, "a=1"), remote(0x03, "")] {
        let (a, b) = (SpanCapture::new(), SpanCapture::new());
        let our_context = exercise(&ours(&a, Sampler::AlwaysOn), &parent);
        let sdk_context = exercise(&sdk_path(&b, Sampler::AlwaysOn), &parent);
        let (mut mine, theirs) = (a.spans(), b.spans());
        assert_eq!((mine.len(), theirs.len()), (1, 1), "ended once");
        let (mine, theirs) = (&mut mine[0].data, &theirs[0].data);
        assert_eq!(mine.attributes.len(), 128);
        assert_eq!(mine.dropped_attributes_count, 5);
        assert_eq!(mine.events.len(), 128);
        assert_eq!(mine.events.dropped_count, 4);
        assert_eq!(mine.events[1].attributes.len(), 128);
        assert_eq!(mine.events[1].dropped_attributes_count, 72);
        assert_eq!(mine.links.len(), 128);
        assert_eq!(mine.links.dropped_count, 3);
        assert_eq!(mine.links[1].attributes.len(), 128);
        assert_eq!(mine.status, Status::Ok);
        assert_eq!(mine.name, "renamed");
        assert_eq!(our_context, mine.span_context);
        assert_eq!(sdk_context, theirs.span_context);
        if parent.has_active_span() {
            assert_eq!(mine.span_context.trace_id(), theirs.span_context.trace_id());
        }
        assert_ne!(mine.span_context.span_id(), theirs.span_context.span_id());
        let flags = if parent.has_active_span() {
            theirs.span_context.trace_flags()
        } else {
            TraceFlags::new(0x03)
        };
        assert_eq!(mine.span_context.trace_flags(), flags, "under {parent:?}");
        // Same everything else.
        mine.span_context = SpanContext::new(
            theirs.span_context.trace_id(),
            theirs.span_context.span_id(),
            theirs.span_context.trace_flags(),
            mine.span_context.is_remote(),
            mine.span_context.trace_state().clone(),
        );
        assert_eq!(
            format!("{mine:?}"),
            format!("{theirs:?}"),
            "under {parent:?}"
        );
    }
}

/// Unsampled spans carry what the SDK's carry (their own span id, the parent's trace id and
/// trace state, not `sampled`), but keep the W3C Level 2 `random` flag the SDK drops: the
/// parent's, or set on a root. The next hop must hear what the caller said.
#[test]
fn an_unsampled_span_has_the_context_the_sdk_gives_it() {
    for (sampler, parent) in [
        (Sampler::ParentBasedAlwaysOn, remote(0x02, "a=1,b=2")),
        (Sampler::AlwaysOff, Context::new()),
        (Sampler::TraceIdRatio(0.0), remote(0x03, "c=3")),
    ] {
        let (a, b) = (SpanCapture::new(), SpanCapture::new());
        let (t, s) = (ours(&a, sampler), sdk_path(&b, sampler));
        let mine = t.span("x", SpanKind::Server, attrs(3), &parent).unwrap();
        let theirs = s.span("x", SpanKind::Server, attrs(3), &parent).unwrap();
        let (m, o) = (mine.span_context(), theirs.span_context());
        assert!(!mine.is_recording() && !theirs.is_recording());
        assert!(m.is_valid(), "{sampler:?}: an id of its own");
        assert_ne!(m.span_id(), parent.span().span_context().span_id());
        assert_eq!(o.trace_flags(), TraceFlags::default(), "{sampler:?}");
        let random = if parent.has_active_span() {
            parent.span().span_context().trace_flags().to_u8() & 0x02
        } else {
            0x02
        };
        assert_eq!(m.trace_flags(), TraceFlags::new(random), "{sampler:?}");
        assert_eq!(m.trace_state(), o.trace_state(), "{sampler:?}");
        assert_eq!(m.is_remote(), o.is_remote());
        if parent.has_active_span() {
            assert_eq!(m.trace_id(), o.trace_id());
        }
        drop((mine, theirs));
        assert!(a.is_empty() && b.is_empty(), "nothing recorded");
    }
}

/// A recording span that goes out of scope is ended and captured, once, with an end time.
#[test]
fn a_span_ends_when_dropped_and_only_once() {
    let capture = SpanCapture::new();
    let tracer = ours(&capture, Sampler::AlwaysOn);
    let span = tracer
        .span("dropped", SpanKind::Internal, vec![], &Context::new())
        .unwrap();
    assert!(span.is_recording());
    assert!(capture.is_empty(), "not before the drop");
    drop(span);
    let spans = capture.spans();
    assert_eq!(spans.len(), 1);
    assert!(spans[0].data.end_time >= spans[0].data.start_time);

    let cx = Context::new().with_span(
        tracer
            .span("in a context", SpanKind::Internal, vec![], &Context::new())
            .unwrap(),
    );
    cx.span().end();
    drop(cx);
    assert_eq!(
        capture.len(),
        2,
        "ended through the context, not again on drop"
    );
}

/// Attributes given as a closure are built only for a span that records, once, and the span
/// carries exactly what the closure built; on the SDK path (a user span processor) too.
#[test]
fn attributes_given_as_a_closure_are_built_only_when_the_span_records() {
    let calls = std::cell::Cell::new(0);
    let build = || {
        calls.set(calls.get() + 1);
        vec![KeyValue::new("k", "v"), KeyValue::new("n", 7)]
    };
    let capture = SpanCapture::new();
    let unsampled = remote(0, "");
    for tracer in [
        ours(&capture, Sampler::ParentBasedAlwaysOn),
        sdk_path(&capture, Sampler::ParentBasedAlwaysOn),
    ] {
        let span = tracer
            .span("skipped", SpanKind::Server, build, &unsampled)
            .unwrap();
        assert!(!span.is_recording());
        drop(span);
        let span = tracer
            .span("kept", SpanKind::Server, build, &Context::new())
            .unwrap();
        assert!(span.is_recording());
        drop(span);
    }
    // The SDK path builds its attributes before its sampler runs (the SDK's samplers may read
    // them): one call for its unsampled span, none for ours.
    assert_eq!(calls.get(), 3);
    let spans = capture.spans();
    let kept: Vec<_> = spans.iter().filter(|s| s.name() == "kept").collect();
    assert_eq!(kept.len(), 2, "{spans:?}");
    for span in kept {
        assert_eq!(span.attr("k"), Some(&opentelemetry::Value::from("v")));
        assert_eq!(span.attr("n"), Some(&opentelemetry::Value::I64(7)));
        assert_eq!(span.data.attributes.len(), 2);
    }
}

/// A lazy name, array attributes and `Fill` are used only when the span records, and the
/// recorded span carries exactly what they built.
#[test]
fn lazy_names_arrays_and_fill_are_built_only_when_the_span_records() {
    use crate::span::{Fill, LazyName};
    let fills = std::cell::Cell::new(0);
    let fill = || {
        Fill(|into: &mut Vec<KeyValue>| {
            fills.set(fills.get() + 1);
            into.push(KeyValue::new("filled", 1));
        })
    };
    let capture = SpanCapture::new();
    let tracer = ours(&capture, Sampler::ParentBasedAlwaysOn);
    let unsampled = remote(0, "");
    let called = std::cell::Cell::new(false);
    let lazy = LazyName(|| {
        called.set(true);
        "never".into()
    });
    drop(tracer.span(lazy, SpanKind::Server, fill(), &unsampled));
    assert!(!called.get(), "an unsampled span builds no name");
    assert_eq!(fills.get(), 0, "nor its attributes");
    let name = LazyName(|| std::borrow::Cow::Owned(format!("GET /n/{}", 7)));
    drop(tracer.span(name, SpanKind::Server, fill(), &Context::new()));
    let array = [KeyValue::new("a", "x"), KeyValue::new("b", 2)];
    drop(tracer.span("array", SpanKind::Client, array, &Context::new()));
    assert_eq!(fills.get(), 1);
    let spans = capture.spans();
    assert_eq!(spans.len(), 2, "{spans:?}");
    assert_eq!(spans[0].name(), "GET /n/7");
    assert_eq!(spans[0].data.attributes, vec![KeyValue::new("filled", 1)]);
    assert_eq!(spans[1].name(), "array");
    assert_eq!(
        spans[1].data.attributes,
        vec![KeyValue::new("a", "x"), KeyValue::new("b", 2)]
    );
}

/// A child started under a context holding our span is its child in the same trace.
#[test]
fn a_child_of_our_span_joins_its_trace() {
    let capture = SpanCapture::new();
    let tracer = ours(&capture, Sampler::ParentBasedAlwaysOff);
    let root = remote(0x01, "");
    let parent = tracer.span("p", SpanKind::Server, vec![], &root).unwrap();
    let parent_context = parent.span_context().clone();
    let cx = Context::new().with_span(parent);
    drop(tracer.span("c", SpanKind::Client, vec![], &cx).unwrap());
    drop(cx);
    let spans = capture.spans();
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[0].data.parent_span_id, parent_context.span_id());
    assert!(!spans[0].data.parent_span_is_remote);
    assert_eq!(
        spans[1].data.parent_span_id,
        SpanId::from(0x00f067aa0ba902b7)
    );
    assert!(spans[1].data.parent_span_is_remote);
    assert_eq!(spans[0].trace_id(), spans[1].trace_id());
}

/// After the guard's shutdown a span is not recorded and has no valid context, as with the SDK.
#[test]
fn no_span_is_recorded_after_shutdown() {
    let capture = SpanCapture::new();
    let guard = capture.builder("svc").build().unwrap();
    let tracer = guard.tracer().clone();
    let before = tracer
        .span("before", SpanKind::Internal, vec![], &Context::new())
        .unwrap();
    guard.shutdown().unwrap();
    let after = tracer
        .span("after", SpanKind::Internal, vec![], &Context::new())
        .unwrap();
    assert!(!after.is_recording());
    assert!(!after.span_context().is_valid());
    drop((before, after));
    assert!(capture.is_empty());
}

/// The conversion keeps every field of the record and adds tracer's scope.
#[test]
fn a_record_becomes_the_span_data_exporters_take() {
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(10);
    let context = SpanContext::new(
        TraceId::from(1),
        SpanId::from(2),
        TraceFlags::SAMPLED,
        false,
        "k=v".parse().unwrap(),
    );
    let event = Event::new("e", at, attrs(1), 2);
    let link = Link::new(context.clone(), attrs(2), 1);
    let record = SpanRecord {
        context: context.clone(),
        parent_span_id: SpanId::from(3),
        parent_is_remote: true,
        kind: SpanKind::Producer,
        name: "send orders".into(),
        start: at,
        end: at + Duration::from_secs(1),
        attributes: attrs(2),
        dropped_attributes: 4,
        events: vec![event.clone()],
        dropped_events: 5,
        links: vec![link.clone()],
        dropped_links: 6,
        status: Status::error("e"),
    };
    let data = record.into_span_data(&scope());
    assert_eq!(data.span_context, context);
    assert_eq!(data.parent_span_id, SpanId::from(3));
    assert!(data.parent_span_is_remote);
    assert_eq!(data.span_kind, SpanKind::Producer);
    assert_eq!(data.name, "send orders");
    assert_eq!(data.start_time, at);
    assert_eq!(data.end_time, at + Duration::from_secs(1));
    assert_eq!(data.attributes, attrs(2));
    assert_eq!(data.dropped_attributes_count, 4);
    assert_eq!(data.events.events, vec![event]);
    assert_eq!(data.events.dropped_count, 5);
    assert_eq!(data.links.links, vec![link]);
    assert_eq!(data.links.dropped_count, 6);
    assert_eq!(data.status, Status::error("e"));
    assert_eq!(data.instrumentation_scope.name(), "tracer");
}

/// Collects exported batches; the first export waits until `release` is sent.
#[derive(Debug, Clone)]
struct Collect {
    spans: std::sync::Arc<std::sync::Mutex<Vec<SpanData>>>,
    gate: std::sync::Arc<std::sync::Mutex<Option<std::sync::mpsc::Receiver<()>>>>,
}

impl Collect {
    fn new(gate: Option<std::sync::mpsc::Receiver<()>>) -> Self {
        Self {
            spans: Default::default(),
            gate: std::sync::Arc::new(std::sync::Mutex::new(gate)),
        }
    }
}

impl opentelemetry_sdk::trace::SpanExporter for Collect {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if let Some(gate) = self.gate.lock().unwrap().take() {
            let _ = gate.recv();
        }
        self.spans.lock().unwrap().extend(batch);
        Ok(())
    }
}

/// After an export, the sent records are in the span pool, and the next sampled spans are
/// written into them rather than into new ones (`src/span/pool.rs`).
#[test]
fn exported_records_come_back_to_the_pool_and_are_reused() {
    let exporter = Collect::new(None);
    let guard = crate::builder()
        .without_env()
        .span_exporter(exporter.clone())
        .max_export_batch_size(std::num::NonZeroUsize::new(16).unwrap())
        .build()
        .unwrap();
    let tracer = guard.tracer();
    let span = || {
        let attributes = [KeyValue::new("k", 1)];
        drop(tracer.span("GET /", SpanKind::Server, attributes, &Context::new()));
    };
    assert_eq!(tracer.pooled_records(), 0);
    for _ in 0..10 {
        span();
    }
    guard.flush().unwrap();
    assert_eq!(exporter.spans.lock().unwrap().len(), 10);
    assert_eq!(
        tracer.pooled_records(),
        10,
        "every exported record is pooled"
    );
    for _ in 0..4 {
        span();
    }
    assert_eq!(tracer.pooled_records(), 6, "new spans took pooled records");
    guard.flush().unwrap();
    let spans = exporter.spans.lock().unwrap();
    assert_eq!(spans.len(), 14);
    assert!(
        spans
            .iter()
            .all(|s| s.name == "GET /" && s.attributes.len() == 1)
    );
}

/// Our spans go through the bounded queue to the exporter given in code, converted to
/// `SpanData` on the export thread, next to a span made with the plain OpenTelemetry API.
#[test]
fn own_spans_reach_the_exporter_as_span_data() {
    use opentelemetry::trace::Tracer as _;

    let exporter = Collect::new(None);
    let guard = crate::builder()
        .without_env()
        .service_name("svc")
        .span_exporter(exporter.clone())
        .build()
        .unwrap();
    let tracer = guard.tracer();
    let parent = remote(0x01, "a=1");
    let mut span = tracer
        .span("GET /orders", SpanKind::Server, attrs(3), &parent)
        .unwrap();
    span.set_attribute(KeyValue::new("http.response.status_code", 200));
    let context = span.span_context().clone();
    drop(span);
    drop(tracer.sdk().start("through the SDK"));
    guard.flush().unwrap();
    let spans = exporter.spans.lock().unwrap().clone();
    assert_eq!(spans.len(), 2, "{spans:?}");
    let ours = spans.iter().find(|s| s.name == "GET /orders").unwrap();
    assert_eq!(ours.span_context, context);
    assert_eq!(ours.span_context.trace_state().header(), "a=1");
    assert_eq!(ours.parent_span_id, SpanId::from(0x00f067aa0ba902b7));
    assert!(ours.parent_span_is_remote);
    assert_eq!(ours.span_kind, SpanKind::Server);
    assert_eq!(ours.attributes.len(), 4);
    assert!(ours.end_time >= ours.start_time);
    assert_eq!(ours.instrumentation_scope.name(), "tracer");
    let sdk = spans.iter().find(|s| s.name == "through the SDK").unwrap();
    assert_eq!(sdk.instrumentation_scope, ours.instrumentation_scope);
    assert_eq!(guard.stats().exported, 2);
}

/// While the exporter is stuck, our spans beyond the queue's size are dropped and counted,
/// never waited for; what was queued is exported once the exporter moves again.
#[test]
fn own_spans_beyond_a_full_queue_are_dropped_and_counted() {
    let (release, gate) = std::sync::mpsc::channel();
    let exporter = Collect::new(Some(gate));
    let size = std::num::NonZeroUsize::new(2).unwrap();
    let guard = crate::builder()
        .without_env()
        .service_name("svc")
        .span_exporter(exporter.clone())
        .max_queue_size(size)
        .max_export_batch_size(size)
        .schedule_delay(Duration::from_secs(3600))
        .build()
        .unwrap();
    let tracer = guard.tracer();
    for _ in 0..100 {
        drop(tracer.span("s", SpanKind::Internal, vec![], &Context::new()));
    }
    let dropped = guard.stats().dropped;
    // At most one batch is held by the stuck exporter and one more fits in the queue.
    assert!((96..=98).contains(&dropped), "dropped {dropped}");
    release.send(()).unwrap();
    guard.flush().unwrap();
    let stats = guard.stats();
    assert_eq!(stats.exported + stats.dropped, 100, "{stats:?}");
    assert_eq!(exporter.spans.lock().unwrap().len() as u64, stats.exported);
}
