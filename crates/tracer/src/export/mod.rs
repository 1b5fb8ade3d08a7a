//! Span processing and exporters: how finished spans leave the process.
//!
//! Finished spans go into a bounded queue ([`queue`]) drained by one dedicated thread that owns
//! its own small tokio runtime and the exporter. The instrumented code only ever does a
//! non-blocking `try_send`: when the queue is full the span is dropped and counted
//! ([`ExportStats::dropped`]), never waited for. Because the export thread has its own runtime,
//! flushing and shutting down work the same from a `current_thread` runtime, a multi-thread
//! runtime or plain `main`, and are bounded by a timeout.
//!
//! The export thread hands each batch, as queued, to a `Sink` (`sink.rs`): for OTLP over gRPC
//! and HTTP/protobuf, tracer's own encoder and transports (`otlp/`), which write the request
//! straight from the queued spans; for every other exporter an `SdkSink`, which converts them
//! to the SDK's `SpanData` first.
//!
//! Loss is never silent: besides the counters, the export thread logs a rate-limited
//! `tracing` warning (target `tracer::export`, at most one per reason per
//! [`TracerBuilder::loss_warning_interval`](crate::TracerBuilder::loss_warning_interval), summing
//! what happened since the previous one) naming the number of spans, the reason and the endpoint
//! ([`report`]). It is emitted from the export thread, outside any span and with OpenTelemetry
//! telemetry suppressed, so it can never feed spans back into the pipeline it reports on.

pub(crate) mod console;
#[cfg(any(feature = "otlp-http", feature = "otlp-grpc"))]
pub(crate) mod otlp;
pub(crate) mod queue;
pub(crate) mod report;
pub(crate) mod sink;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// Counters of one tracer's export pipeline, read with [`Tracer::stats`](crate::Tracer::stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportStats {
    /// Spans handed to the exporter successfully.
    pub exported: u64,
    /// Spans dropped because the queue was full or the pipeline was shut down.
    pub dropped: u64,
    /// Spans lost because their export failed or timed out (collector down, ...).
    pub failed: u64,
    /// Spans waiting in the queue right now.
    pub queued: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) exported: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) failed: AtomicU64,
    /// Spans taken off the queue by the export thread and not yet counted exported or failed.
    pub(crate) in_flight: AtomicU64,
    /// Where spans go (the OTLP endpoint, `stdout`, ...), set when the export thread starts.
    pub(crate) destination: OnceLock<String>,
    /// Why the last export failed (written on failures only).
    pub(crate) last_error: Mutex<Option<String>>,
}

impl Counters {
    pub(crate) fn snapshot(&self, queued: u64) -> ExportStats {
        ExportStats {
            exported: self.exported.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            queued,
        }
    }

    /// Where spans go, for messages.
    pub(crate) fn destination(&self) -> &str {
        self.destination.get().map_or("no exporter", String::as_str)
    }

    /// Why the last export failed, if one did.
    pub(crate) fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }
}
