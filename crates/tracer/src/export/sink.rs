//! Where the export thread hands its batches: a [`Sink`] takes the queued spans as they are.
//!
//! [`SdkSink`] feeds any SDK [`SpanExporter`] (the console exporter, a `span_exporter` given in
//! code, OTLP `http/json`), converting tracer's records to `SpanData` first; the OTLP sink of
//! `export/otlp` encodes the queued items directly, without that conversion.

use std::future::Future;
use std::time::{Duration, Instant};

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use super::queue::Finished;

/// What a receiver made of a batch it accepted.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Accepted {
    /// Spans the receiver said it rejected (OTLP `partial_success.rejected_spans`).
    pub(crate) rejected: u64,
    /// The receiver's message about them, when it gave one.
    pub(crate) message: Option<String>,
}

/// The export thread's destination for batches of queued spans.
pub(crate) trait Sink {
    /// Sends `batch`, giving up at `deadline`; the error says why the whole batch was lost.
    /// What it leaves in `batch` is done with: the export thread returns tracer's records to
    /// the span pool ([`crate::span::pool`]) and drops the rest.
    fn export(
        &mut self,
        batch: &mut Vec<Finished>,
        deadline: Instant,
    ) -> impl Future<Output = Result<Accepted, String>>;

    /// The resource that every later batch carries.
    fn set_resource(&mut self, resource: &Resource);

    /// Ends the sink within `timeout`.
    fn shutdown(&mut self, timeout: Duration) -> OTelSdkResult;
}

/// A [`Sink`] over an SDK [`SpanExporter`]: tracer's records become `SpanData` first.
#[derive(Debug)]
pub(crate) struct SdkSink<E> {
    exporter: E,
    /// The scope of tracer's own spans, for their conversion to `SpanData`.
    scope: InstrumentationScope,
}

impl<E> SdkSink<E> {
    pub(crate) fn new(exporter: E) -> Self {
        Self {
            exporter,
            scope: crate::span::pipeline::scope(),
        }
    }
}

/// The batch as the SDK's exporters take it; tracer's records stay in `batch`, emptied, for
/// the export thread to reuse.
#[inline(never)]
pub(crate) fn to_span_data(
    batch: &mut Vec<Finished>,
    scope: &InstrumentationScope,
) -> Vec<SpanData> {
    let mut shells = Vec::new();
    let data = batch
        .drain(..)
        .map(|span| match span {
            Finished::Ours(mut record) => {
                let data = record.take_span_data(scope);
                shells.push(Finished::Ours(record));
                data
            }
            Finished::Sdk(data) => *data,
        })
        .collect();
    batch.append(&mut shells);
    data
}

impl<E: SpanExporter> Sink for SdkSink<E> {
    async fn export(
        &mut self,
        batch: &mut Vec<Finished>,
        _deadline: Instant,
    ) -> Result<Accepted, String> {
        let data = to_span_data(batch, &self.scope);
        self.exporter
            .export(data)
            .await
            .map(|()| Accepted::default())
            .map_err(|e| e.to_string())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.exporter.set_resource(resource);
    }

    fn shutdown(&mut self, timeout: Duration) -> OTelSdkResult {
        self.exporter.shutdown_with_timeout(timeout)
    }
}
