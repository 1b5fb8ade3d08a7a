//! [`Guard`]: flushes and shuts the pipeline down when the program is done with it.

use std::fmt;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::export::ExportStats;
use crate::tracer::Tracer;

/// Why a flush or shutdown did not complete.
///
/// When spans were lost on the way, the error is [`ShutdownError::Unflushed`] and says how
/// many: [`ShutdownError::unflushed`].
#[derive(Debug, thiserror::Error)]
pub enum ShutdownError {
    /// Spans finished before the call could not be exported: their export failed, or the
    /// timeout passed with spans still queued. They are counted in [`ExportStats::failed`]
    /// (or still queued).
    #[error("{spans} span(s) could not be exported to {endpoint}: {reason}")]
    Unflushed {
        /// How many spans were not exported.
        spans: u64,
        /// Where they should have gone.
        endpoint: String,
        /// Why: the last export error, or the timeout.
        reason: String,
    },
    /// The last export did not finish within the timeout; the spans still queued are lost.
    #[error("export did not finish within {0:?}")]
    Timeout(Duration),
    /// The exporter reported a failure.
    #[error("export failed: {0}")]
    Export(String),
    /// The pipeline was already shut down.
    #[error("already shut down")]
    AlreadyShutdown,
}

impl ShutdownError {
    /// How many spans could not be exported (zero when the error does not say).
    pub fn unflushed(&self) -> u64 {
        match self {
            Self::Unflushed { spans, .. } => *spans,
            _ => 0,
        }
    }
}

impl From<opentelemetry_sdk::error::OTelSdkError> for ShutdownError {
    fn from(e: opentelemetry_sdk::error::OTelSdkError) -> Self {
        use opentelemetry_sdk::error::OTelSdkError as E;
        match e {
            E::Timeout(t) => Self::Timeout(t),
            E::AlreadyShutdown => Self::AlreadyShutdown,
            E::InternalFailure(m) => Self::Export(m),
        }
    }
}

/// Owns a tracer's pipeline: dropping it (or calling [`Guard::shutdown`]) exports every finished
/// span and stops the export thread, within the builder's shutdown timeout.
///
/// What could not be exported is reported: `shutdown()` returns [`ShutdownError::Unflushed`]
/// with the count, and dropping the guard logs the same as a `tracing` warning (target
/// `tracer::export`).
///
/// Shutdown never waits on the caller's async runtime, so it completes the same on a
/// `current_thread` runtime, a multi-thread runtime or outside any runtime.
#[must_use = "dropping the guard shuts tracing down"]
pub struct Guard {
    tracer: Tracer,
    timeout: Duration,
    global: bool,
    done: bool,
}

impl Guard {
    pub(crate) fn new(tracer: Tracer, timeout: Duration, global: bool) -> Self {
        Self {
            tracer,
            timeout,
            global,
            done: false,
        }
    }

    pub(crate) fn set_global(&mut self) {
        self.global = true;
    }

    /// The tracer this guard owns the pipeline of.
    pub fn tracer(&self) -> &Tracer {
        &self.tracer
    }

    /// Export counters (see [`ExportStats`]).
    pub fn stats(&self) -> ExportStats {
        self.tracer.stats()
    }

    /// Exports every span finished so far and waits for it.
    pub fn flush(&self) -> Result<(), ShutdownError> {
        let failed_before = self.failed();
        let result = self.tracer.provider().force_flush();
        self.outcome(result, failed_before, false, self.timeout)
    }

    /// Exports every finished span and stops the pipeline, waiting at most the shutdown timeout.
    ///
    /// Returns [`ShutdownError::Unflushed`] with the number of spans that could not be exported
    /// (collector unreachable, timeout).
    pub fn shutdown(mut self) -> Result<(), ShutdownError> {
        self.shutdown_inner()
    }

    /// Gives up the guard's duty: the pipeline then shuts down when the last clone of the tracer
    /// is dropped. Useful for tests whose spans go to a synchronous capture.
    pub fn into_tracer(mut self) -> Tracer {
        self.done = true;
        self.tracer.clone()
    }

    fn shutdown_inner(&mut self) -> Result<(), ShutdownError> {
        if self.done {
            return Ok(());
        }
        self.done = true;
        if self.global {
            crate::global::reset();
        }
        let failed_before = self.failed();
        self.tracer.shut_down();
        let result = self.tracer.provider().shutdown_with_timeout(self.timeout);
        self.outcome(result, failed_before, true, self.timeout)
    }

    fn failed(&self) -> u64 {
        self.tracer.counters().failed.load(Ordering::Relaxed)
    }

    /// The result of a flush or shutdown, from the counters: spans that failed since it began,
    /// plus, after a shutdown, those still queued or being exported.
    fn outcome(
        &self,
        result: opentelemetry_sdk::error::OTelSdkResult,
        failed_before: u64,
        stopped: bool,
        timeout: Duration,
    ) -> Result<(), ShutdownError> {
        let counters = self.tracer.counters();
        let failed = self.failed().saturating_sub(failed_before);
        let left = if stopped {
            self.tracer.stats().queued + counters.in_flight.load(Ordering::Relaxed)
        } else {
            0
        };
        if failed + left > 0 {
            let reason = match counters.last_error() {
                Some(error) if left == 0 => error,
                Some(error) => format!("not done within {timeout:?} (last error: {error})"),
                None => format!("not done within {timeout:?}"),
            };
            return Err(ShutdownError::Unflushed {
                spans: failed + left,
                endpoint: counters.destination().to_owned(),
                reason,
            });
        }
        result.map_err(Into::into)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        match self.shutdown_inner() {
            Ok(()) | Err(ShutdownError::AlreadyShutdown) => {}
            Err(e) => tracing::warn!(
                target: "tracer::export",
                service = %self.tracer.service_name(),
                unflushed = e.unflushed(),
                error = %e,
                "tracing shut down without exporting every span"
            ),
        }
    }
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("tracer", &self.tracer)
            .field("timeout", &self.timeout)
            .finish()
    }
}
