//! Rate-limited warnings about lost spans, written by the export thread.
//!
//! Each reason (queue full, export failed) has its own window: the first loss after a quiet
//! window is logged at once, later ones are summed and logged when the window has passed, and
//! whatever is left is logged when the pipeline shuts down. So the sum of the `spans` fields of
//! the warnings equals the loss counters of [`ExportStats`](super::ExportStats), and a collector
//! that is down for minutes costs one line per window, not one per failed export.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use opentelemetry::Context;

use super::Counters;

/// Log target of the warnings, for filtering.
const TARGET: &str = "tracer::export";

/// One reason's window.
#[derive(Debug, Default)]
struct Window {
    /// When the last warning for this reason was written.
    last: Option<Instant>,
    /// Spans lost since the last warning.
    pending: u64,
}

impl Window {
    /// Adds `spans`; true when a warning is due now.
    fn add(&mut self, spans: u64, now: Instant, interval: Duration) -> bool {
        self.pending += spans;
        self.due(now, interval)
    }

    fn due(&self, now: Instant, interval: Duration) -> bool {
        self.pending > 0
            && self
                .last
                .is_none_or(|last| now.duration_since(last) >= interval)
    }

    /// The pending count, reset, with the window restarted at `now`.
    fn take(&mut self, now: Instant) -> u64 {
        self.last = Some(now);
        std::mem::take(&mut self.pending)
    }

    /// When a pending count becomes due.
    fn deadline(&self, interval: Duration) -> Option<Instant> {
        match self.last {
            Some(last) if self.pending > 0 => Some(last + interval),
            _ => None,
        }
    }
}

/// The export thread's loss reporter.
#[derive(Debug)]
pub(crate) struct LossReport {
    service: String,
    endpoint: String,
    interval: Duration,
    /// `Counters::dropped` as of the last look.
    seen_dropped: u64,
    dropped: Window,
    failed: Window,
    /// The error of the last failed export.
    error: String,
}

impl LossReport {
    pub(crate) fn new(service: String, endpoint: String, interval: Duration) -> Self {
        Self {
            service,
            endpoint,
            interval,
            seen_dropped: 0,
            dropped: Window::default(),
            failed: Window::default(),
            error: String::new(),
        }
    }

    /// Notes an export of `spans` spans that failed with `error`.
    pub(crate) fn failed(&mut self, spans: u64, error: String, now: Instant) {
        self.error = error;
        if self.failed.add(spans, now, self.interval) {
            self.warn_failed(now);
        }
    }

    /// Picks up spans dropped since the last look and writes the warnings that are due.
    pub(crate) fn poll(&mut self, counters: &Counters, now: Instant) {
        let dropped = counters.dropped.load(Ordering::Relaxed);
        let new = dropped.saturating_sub(self.seen_dropped);
        self.seen_dropped = dropped;
        if self.dropped.add(new, now, self.interval) {
            self.warn_dropped(now);
        }
        if self.failed.due(now, self.interval) {
            self.warn_failed(now);
        }
    }

    /// Writes every pending count, due or not (the pipeline is stopping).
    pub(crate) fn finish(&mut self, counters: &Counters) {
        let now = Instant::now();
        let dropped = counters.dropped.load(Ordering::Relaxed);
        self.dropped.pending += dropped.saturating_sub(self.seen_dropped);
        self.seen_dropped = dropped;
        if self.dropped.pending > 0 {
            self.warn_dropped(now);
        }
        if self.failed.pending > 0 {
            self.warn_failed(now);
        }
    }

    /// The next time a pending warning becomes due, if any is pending.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        match (
            self.dropped.deadline(self.interval),
            self.failed.deadline(self.interval),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn warn_dropped(&mut self, now: Instant) {
        let spans = self.dropped.take(now);
        // Suppressed: an OpenTelemetry bridge for `tracing` events must not turn this warning
        // into telemetry that goes through the pipeline it reports on.
        let _quiet = Context::enter_telemetry_suppressed_scope();
        tracing::warn!(
            target: TARGET,
            service = %self.service,
            spans,
            reason = "queue full",
            endpoint = %self.endpoint,
            "spans dropped: the export queue is full (the exporter cannot keep up or the collector is unreachable)"
        );
    }

    fn warn_failed(&mut self, now: Instant) {
        let spans = self.failed.take(now);
        let _quiet = Context::enter_telemetry_suppressed_scope();
        tracing::warn!(
            target: TARGET,
            service = %self.service,
            spans,
            reason = "export failed",
            error = %self.error,
            endpoint = %self.endpoint,
            "spans lost: their export failed"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_reports_the_first_loss_then_sums_the_rest() {
        let interval = Duration::from_secs(10);
        let t0 = Instant::now();
        let mut w = Window::default();
        assert!(w.add(3, t0, interval), "the first loss is reported at once");
        assert_eq!(w.take(t0), 3);
        assert!(!w.add(5, t0 + Duration::from_secs(1), interval));
        assert!(!w.add(7, t0 + Duration::from_secs(9), interval));
        assert_eq!(w.deadline(interval), Some(t0 + interval));
        assert!(w.due(t0 + interval, interval));
        assert_eq!(
            w.take(t0 + interval),
            12,
            "what happened in the window, summed"
        );
        assert!(
            !w.due(t0 + interval * 3, interval),
            "nothing pending, nothing due"
        );
        assert_eq!(w.deadline(interval), None);
    }
}
