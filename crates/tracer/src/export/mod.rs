//! Span processing and exporters: how finished spans leave the process.
//!
//! Finished spans go into a bounded queue ([`queue`]) drained by one dedicated thread that owns
//! its own small tokio runtime and the exporter. The instrumented code only ever does a
//! non-blocking `try_send`: when the queue is full the span is dropped and counted
//! ([`ExportStats::dropped`]), never waited for. Because the export thread has its own runtime,
//! flushing and shutting down work the same from a `current_thread` runtime, a multi-thread
//! runtime or plain `main`, and are bounded by a timeout.

pub(crate) mod console;
#[cfg(feature = "otlp")]
pub(crate) mod otlp;
pub(crate) mod queue;

use std::sync::atomic::{AtomicU64, Ordering};

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
}
