//! The bounded span queue and its export thread.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded, unbounded};
use crossbeam_queue::ArrayQueue;
use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};

use super::Counters;
use super::report::LossReport;
use super::sink::{Accepted, Sink};
use crate::InitError;
use crate::config::BatchConfig;
use crate::span::pool::RecordPool;
use crate::span::record::SpanRecord;

enum Control {
    /// The queue holds a full batch: export now rather than at the next tick.
    BatchReady,
    Resource(Resource),
    Flush(Instant, Sender<OTelSdkResult>),
    Shutdown(Instant, Sender<OTelSdkResult>),
}

/// A finished span in the queue: one pointer, whichever path made it.
pub(crate) enum Finished {
    /// A span of tracer's own pipeline: encoded as it is by the OTLP sink, converted to
    /// `SpanData` for SDK exporters.
    Ours(Box<SpanRecord>),
    /// A span made through the SDK tracer (`Tracer::sdk`, the global provider, a tracer with a
    /// user span processor).
    Sdk(Box<SpanData>),
}

/// A [`SpanProcessor`] that queues finished spans for a dedicated export thread; tracer's own
/// spans are queued with [`QueueProcessor::enqueue`].
pub(crate) struct QueueProcessor {
    /// Finished spans: a lock-free ring, which the export thread drains without ever
    /// sleeping on it (a push is a slot claim and a store: no waiter to look for).
    spans: Arc<ArrayQueue<Finished>>,
    /// Set by the export thread when it stops: later spans are dropped and counted, not kept.
    stopped: Arc<AtomicBool>,
    control: Sender<Control>,
    counters: Arc<Counters>,
    /// Set when a `BatchReady` was sent and not yet handled, so it is sent once per batch.
    batch_signalled: Arc<AtomicBool>,
    batch_size: usize,
    flush_timeout: Duration,
    /// Records of exported spans, for the next sampled spans to be written into.
    pool: Arc<RecordPool>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for QueueProcessor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueProcessor")
            .field("queued", &self.spans.len())
            .finish_non_exhaustive()
    }
}

impl QueueProcessor {
    /// Starts the export thread; `make` builds the sink inside the thread's runtime.
    /// `service` and `destination` name whose spans go where, for the warnings about lost
    /// spans, and `loss_interval` is the shortest time between two of them for one reason (see
    /// [`LossReport`]).
    pub(crate) fn start<S, F>(
        make: F,
        batch: BatchConfig,
        counters: Arc<Counters>,
        service: String,
        destination: String,
        loss_interval: Duration,
    ) -> Result<Self, InitError>
    where
        S: Sink + 'static,
        F: FnOnce() -> Result<S, InitError> + Send + 'static,
    {
        let spans = Arc::new(ArrayQueue::new(batch.max_queue_size.get()));
        let stopped = Arc::new(AtomicBool::new(false));
        let thread_stopped = stopped.clone();
        let thread_spans = spans.clone();
        let (control_tx, control_rx) = unbounded();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread_counters = counters.clone();
        let flush_timeout = batch.export_timeout;
        let batch_size = batch.max_export_batch_size.get();
        let batch_signalled = Arc::new(AtomicBool::new(false));
        let thread_signalled = batch_signalled.clone();
        let pool = Arc::new(RecordPool::new(batch_size));
        let thread_pool = pool.clone();
        let _ = counters.destination.set(destination.clone());
        let report = LossReport::new(service, destination, loss_interval);
        let worker = std::thread::Builder::new()
            .name("tracer-export".into())
            .spawn(move || {
                // Nothing the exporter does (HTTP and gRPC clients, logs) may become telemetry
                // that goes back into this pipeline.
                let _quiet = Context::enter_telemetry_suppressed_scope();
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(InitError::Runtime(e.to_string())));
                        return;
                    }
                };
                let sink = match runtime.block_on(async { make() }) {
                    Ok(sink) => sink,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                Worker {
                    sink,
                    runtime,
                    spans: thread_spans,
                    stopped: thread_stopped,
                    batch,
                    counters: thread_counters,
                    batch_signalled: thread_signalled,
                    report,
                    pool: thread_pool,
                }
                .run(control_rx);
            })
            .map_err(|e| InitError::Runtime(e.to_string()))?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                return Err(InitError::Runtime(
                    "export thread exited during start".into(),
                ));
            }
        }
        Ok(Self {
            spans,
            stopped,
            control: control_tx,
            counters,
            batch_signalled,
            batch_size,
            flush_timeout,
            pool,
            worker: Mutex::new(Some(worker)),
        })
    }

    /// The pool that the export thread returns sent records to.
    pub(crate) fn pool(&self) -> &Arc<RecordPool> {
        &self.pool
    }

    /// Hands the resource to the exporter on the export thread.
    pub(crate) fn forward_resource(&self, resource: &Resource) {
        let _ = self.control.send(Control::Resource(resource.clone()));
    }

    pub(crate) fn queued(&self) -> u64 {
        self.spans.len() as u64
    }

    /// Queues a finished span without blocking: a full (or stopped) queue drops and counts it.
    #[inline]
    pub(crate) fn enqueue(&self, span: Finished) {
        // The export thread sleeps on the control channel, never on the span queue, so a push
        // wakes nobody; only a full batch rings the bell, once.
        let refused = if self.stopped.load(Ordering::Relaxed) {
            Some(span)
        } else {
            self.spans.push(span).err()
        };
        match refused {
            None => {
                if self.spans.len() >= self.batch_size
                    && !self.batch_signalled.swap(true, Ordering::Relaxed)
                {
                    let _ = self.control.send(Control::BatchReady);
                }
            }
            Some(span) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                if let Finished::Ours(record) = span {
                    self.pool.give(record);
                }
            }
        }
    }

    fn request(
        &self,
        make: impl FnOnce(Instant, Sender<OTelSdkResult>) -> Control,
        timeout: Duration,
    ) -> OTelSdkResult {
        let (ack_tx, ack_rx) = bounded(1);
        let deadline = Instant::now() + timeout;
        if self.control.send(make(deadline, ack_tx)).is_err() {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        match ack_rx.recv_timeout(timeout + Duration::from_millis(50)) {
            Ok(result) => result,
            Err(_) => Err(OTelSdkError::Timeout(timeout)),
        }
    }
}

impl SpanProcessor for QueueProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    #[inline]
    fn on_end(&self, span: SpanData) {
        self.enqueue(Finished::Sdk(Box::new(span)));
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.request(Control::Flush, self.flush_timeout)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let result = self.request(Control::Shutdown, timeout);
        if result.is_ok()
            && let Some(worker) = self.worker.lock().ok().and_then(|mut w| w.take())
        {
            let _ = worker.join();
        }
        result
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.forward_resource(resource);
    }
}

struct Worker<S> {
    sink: S,
    runtime: tokio::runtime::Runtime,
    spans: Arc<ArrayQueue<Finished>>,
    stopped: Arc<AtomicBool>,
    batch: BatchConfig,
    counters: Arc<Counters>,
    batch_signalled: Arc<AtomicBool>,
    report: LossReport,
    pool: Arc<RecordPool>,
}

impl<S> Drop for Worker<S> {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::Relaxed);
    }
}

impl<S: Sink> Worker<S> {
    fn run(mut self, control: Receiver<Control>) {
        let mut pending: Vec<Finished> = Vec::with_capacity(self.batch.max_export_batch_size.get());
        let mut next_export = Instant::now() + self.batch.schedule_delay;
        loop {
            self.report.poll(&self.counters, Instant::now());
            let wake = self
                .report
                .next_due()
                .map_or(next_export, |due| due.min(next_export));
            let wait = wake.saturating_duration_since(Instant::now());
            match control.recv_timeout(wait) {
                Ok(Control::BatchReady) => {
                    self.batch_signalled.store(false, Ordering::Relaxed);
                    let deadline = Instant::now() + self.batch.export_timeout;
                    self.export_full_batches(&mut pending, deadline);
                }
                Ok(Control::Resource(resource)) => self.sink.set_resource(&resource),
                Ok(Control::Flush(deadline, ack)) => {
                    let result = self.drain(&mut pending, deadline);
                    let _ = ack.send(result);
                    next_export = Instant::now() + self.batch.schedule_delay;
                }
                Ok(Control::Shutdown(deadline, ack)) => {
                    let result = self.drain(&mut pending, deadline);
                    self.report.finish(&self.counters);
                    let left = deadline.saturating_duration_since(Instant::now());
                    let shut = self.sink.shutdown(left);
                    let _ = ack.send(result.and(shut));
                    return;
                }
                Err(RecvTimeoutError::Timeout) if Instant::now() < next_export => {
                    // Woken for a warning that became due; the loop's poll writes it.
                }
                Err(RecvTimeoutError::Timeout) => {
                    let deadline = Instant::now() + self.batch.export_timeout;
                    let _ = self.drain(&mut pending, deadline);
                    next_export = Instant::now() + self.batch.schedule_delay;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let deadline = Instant::now() + self.batch.export_timeout;
                    let _ = self.drain(&mut pending, deadline);
                    self.report.finish(&self.counters);
                    return;
                }
            }
        }
    }

    /// Exports while at least one full batch is queued.
    fn export_full_batches(&mut self, pending: &mut Vec<Finished>, deadline: Instant) {
        let max = self.batch.max_export_batch_size.get();
        while self.spans.len() + pending.len() >= max {
            while pending.len() < max {
                match self.spans.pop() {
                    Some(span) => pending.push(span),
                    None => break,
                }
            }
            self.export(pending, deadline);
        }
    }

    /// Exports everything queued so far, in batches, before `deadline`.
    fn drain(&mut self, pending: &mut Vec<Finished>, deadline: Instant) -> OTelSdkResult {
        let max = self.batch.max_export_batch_size.get();
        let mut ok = true;
        loop {
            while pending.len() < max {
                match self.spans.pop() {
                    Some(span) => pending.push(span),
                    None => break,
                }
            }
            if pending.is_empty() {
                break;
            }
            ok &= self.export(pending, deadline);
        }
        if ok {
            Ok(())
        } else {
            Err(OTelSdkError::InternalFailure(format!(
                "some spans could not be exported to {}: {}",
                self.counters.destination(),
                self.counters.last_error().unwrap_or_default()
            )))
        }
    }

    /// Exports `pending` (leaving it empty); false when the export failed or ran out of time,
    /// or the receiver rejected some of the spans.
    fn export(&mut self, pending: &mut Vec<Finished>, deadline: Instant) -> bool {
        let count = pending.len() as u64;
        let budget = deadline
            .saturating_duration_since(Instant::now())
            .min(self.batch.export_timeout);
        self.counters.in_flight.store(count, Ordering::Relaxed);
        let outcome = if budget.is_zero() {
            // Earlier batches of this round (a drain, a shutdown) spent its time: this one is
            // not sent at all, and the error says so rather than "no answer within 0ns".
            Err(format!(
                "not sent: the earlier batches of this export round used up its time ({:?})",
                self.batch.export_timeout
            ))
        } else {
            self.send_batch(pending, budget)
        };
        // What the sink left (all of it when the export timed out) is done with: records go
        // back to the pool.
        for span in pending.drain(..) {
            if let Finished::Ours(record) = span {
                self.pool.give(record);
            }
        }
        let (failed, error) = match outcome {
            Ok(Accepted { rejected: 0, .. }) => (0, None),
            Ok(Accepted { rejected, message }) => {
                let rejected = rejected.min(count);
                let message = message.unwrap_or_else(|| "no message".into());
                (
                    rejected,
                    Some(format!(
                        "the receiver rejected {rejected} of {count} spans: {message}"
                    )),
                )
            }
            Err(error) => (count, Some(error)),
        };
        self.counters
            .exported
            .fetch_add(count - failed, Ordering::Relaxed);
        let ok = match error {
            None => true,
            Some(error) => {
                self.counters.failed.fetch_add(failed, Ordering::Relaxed);
                if let Ok(mut last) = self.counters.last_error.lock() {
                    *last = Some(error.clone());
                }
                self.report.failed(failed, error, Instant::now());
                false
            }
        };
        self.counters.in_flight.store(0, Ordering::Relaxed);
        // Under a steady overload this loop may not return to `run` for long: look at the
        // drop counter here too.
        self.report.poll(&self.counters, Instant::now());
        ok
    }

    /// One batch through the sink, within `budget`: everything the export thread spends on a
    /// batch (`benches/callgrind.rs` counts the instructions of this function).
    #[inline(never)]
    fn send_batch(
        &mut self,
        pending: &mut Vec<Finished>,
        budget: Duration,
    ) -> Result<Accepted, String> {
        let deadline = Instant::now() + budget;
        let sink = &mut self.sink;
        let result = self
            .runtime
            .block_on(async { tokio::time::timeout(budget, sink.export(pending, deadline)).await });
        result.unwrap_or_else(|_| Err(format!("no answer within {budget:?}")))
    }
}
