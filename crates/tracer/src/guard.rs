//! [`Guard`]: flushes and shuts the pipeline down when the program is done with it.

use std::fmt;
use std::time::Duration;

use crate::export::ExportStats;
use crate::tracer::Tracer;

/// Why a flush or shutdown did not complete.
#[derive(Debug, thiserror::Error)]
pub enum ShutdownError {
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
        self.tracer.provider().force_flush().map_err(Into::into)
    }

    /// Exports every finished span and stops the pipeline, waiting at most the shutdown timeout.
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
        self.tracer
            .provider()
            .shutdown_with_timeout(self.timeout)
            .map_err(Into::into)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.shutdown_inner();
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
