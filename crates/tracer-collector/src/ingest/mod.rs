//! OTLP ingest: gRPC (`TraceService/Export`) and HTTP (`POST /v1/traces`, protobuf or JSON).
//!
//! Both transports hand the raw payload to an [`Ingestor`], which
//! 1. reserves the payload's size from an ingest budget (request bytes being decoded at once) and
//!    refuses the export with a retry hint when the budget is spent,
//! 2. decompresses (gzip, bounded so a small bomb cannot expand past the body limit) and decodes;
//!    payloads above a threshold are decoded on tokio's blocking pool so a large batch never
//!    stalls the async workers,
//! 3. converts the payload into the store's format-neutral [`SpanBatch`] and hands it to the
//!    store ([`Store::prepare`], then [`Store::insert`]); protobuf is read straight from the wire
//!    ([`otlp::protobuf`]), JSON through the prost types ([`otlp::request`]).
//!
//! Every receiver takes the same route: receiver (port, transport) -> `ingest::<format>`
//! (decode, map to the batch) -> [`SpanBatch`] -> store. The OTLP decoders live in [`otlp`];
//! Jaeger thrift ([`jaeger_thrift`]), Jaeger protobuf ([`jaeger_proto`]) and Zipkin
//! ([`zipkin`]) decode their payloads and fill a batch that borrows from them (what the two
//! foreign families share is in `foreign`), through [`receiver::Format`].
//!
//! **Forwarding** ([`crate::forward`]) takes OTLP protobuf bytes. An OTLP protobuf export is
//! forwarded as received; every other format is encoded from its batch ([`otlp::encode`]) on the
//! thread that decoded it, right after the batch is stored, and only when a forwarder is
//! configured: without one no OTLP is built at all. (Encoding in the forwarder's sender task
//! instead would need an owned copy of the batch, which costs as much as the encoding.)
//!
//! The ingest path logs but never creates spans of its own, so the collector cannot feed its own
//! telemetry back into itself.

mod foreign;
mod r#gen;
pub mod grpc;
pub mod http;
pub mod jaeger_grpc;
pub mod jaeger_http;
pub mod jaeger_proto;
pub mod jaeger_thrift;
pub mod otlp;
pub mod receiver;
pub mod sampling;
pub mod strategies;
mod thrift_wire;
pub mod udp;
pub mod zipkin;

use std::io::Read;
use std::sync::Arc;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::persist::{Log, Ticket};
use crate::store::{PreparedBatch, SpanBatch, Store};

/// Payload encodings accepted by [`Ingestor::export`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Protobuf-encoded `ExportTraceServiceRequest`.
    Protobuf,
    /// OTLP/JSON-encoded `ExportTraceServiceRequest`.
    Json,
}

/// What happened to an accepted export.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportOutcome {
    /// Spans stored.
    pub accepted: usize,
    /// Spans rejected (invalid ids).
    pub rejected: u64,
    /// Why spans were rejected; empty when none were.
    pub message: String,
}

/// Why an export failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The payload could not be decoded.
    #[error("invalid {encoding} payload: {detail}")]
    Decode {
        /// "protobuf", "JSON" or "gzip".
        encoding: &'static str,
        /// The decoder's message.
        detail: String,
    },
    /// The payload is larger than the body limit (after decompression).
    #[error("payload exceeds the body limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The ingest budget is spent; retry later.
    #[error("ingest budget exhausted, retry later")]
    Busy,
    /// A decoding task failed unexpectedly.
    #[error("internal error: {0}")]
    Internal(String),
    /// The batch could not be made durable (`--data-dir`: a write or fsync failed); nothing
    /// was stored, retry later.
    #[error("cannot persist the spans, retry later: {0}")]
    Unavailable(String),
}

/// Decodes payloads and feeds the store; shared by the gRPC and HTTP endpoints.
#[derive(Debug, Clone)]
pub struct Ingestor {
    store: Arc<Store>,
    budget: Arc<Semaphore>,
    budget_kib: u32,
    blocking_threshold: usize,
    body_limit: usize,
    forwarder: Option<crate::forward::Forwarder>,
    log: Option<Log>,
}

impl Ingestor {
    /// Creates an ingestor writing into `store`.
    pub fn new(store: Arc<Store>, config: &Config) -> Self {
        let budget_kib = u32::try_from(config.ingest_budget.get().div_ceil(1024).max(1))
            .unwrap_or(u32::MAX >> 4)
            .min(Semaphore::MAX_PERMITS as u32);
        Ingestor {
            store,
            budget: Arc::new(Semaphore::new(budget_kib as usize)),
            budget_kib,
            blocking_threshold: config.blocking_threshold,
            body_limit: config.body_limit.get(),
            forwarder: None,
            log: None,
        }
    }

    /// Also writes every accepted batch to `log` before storing and acknowledging it
    /// ([`crate::persist`]).
    pub fn with_log(mut self, log: Log) -> Self {
        self.log = Some(log);
        self
    }

    /// Where accepted batches go: the store, after the log when there is one.
    pub fn sink(&self) -> Sink {
        Sink {
            store: self.store.clone(),
            log: self.log.clone(),
        }
    }

    /// Also sends every accepted export on to the upstreams of `forwarder`.
    pub fn with_forwarder(mut self, forwarder: crate::forward::Forwarder) -> Self {
        self.forwarder = Some(forwarder);
        self
    }

    /// The forwarder, when forwarding is on.
    pub fn forwarder(&self) -> Option<&crate::forward::Forwarder> {
        self.forwarder.as_ref()
    }

    /// The store written to.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Largest accepted payload after decompression.
    pub fn body_limit(&self) -> usize {
        self.body_limit
    }

    /// Reserves `bytes` of the ingest budget until the permit drops, or fails with
    /// [`IngestError::Busy`]. A reservation larger than the whole budget is clamped to it.
    pub fn reserve(&self, bytes: usize) -> Result<BudgetPermit, IngestError> {
        let kib = u32::try_from(bytes.div_ceil(1024).max(1))
            .unwrap_or(u32::MAX)
            .min(self.budget_kib);
        self.budget
            .clone()
            .try_acquire_many_owned(kib)
            .map(|p| BudgetPermit { _permit: p })
            .map_err(|_| IngestError::Busy)
    }

    /// A meter that reserves ingest budget for a request body as it arrives, so bodies still
    /// being received count against the budget as much as those being decoded.
    pub fn meter(&self) -> BudgetMeter {
        BudgetMeter {
            budget: self.budget.clone(),
            budget_kib: self.budget_kib,
            held: None,
            held_kib: 0,
            bytes: 0,
        }
    }

    /// Decodes and stores one export payload, gzip-compressed when `gzip` is set.
    pub async fn export(
        &self,
        payload: Bytes,
        encoding: Encoding,
        gzip: bool,
    ) -> Result<ExportOutcome, IngestError> {
        let meter = self.meter();
        self.export_metered(payload, encoding, gzip, meter).await
    }

    /// [`Ingestor::export`] for a payload whose bytes `meter` already reserved while it was
    /// received (topped up to the payload's size); the reservation is released when done.
    pub async fn export_metered(
        &self,
        payload: Bytes,
        encoding: Encoding,
        gzip: bool,
        mut meter: BudgetMeter,
    ) -> Result<ExportOutcome, IngestError> {
        meter.cover(payload.len())?;
        let _meter = meter;
        let large = payload.len() >= self.blocking_threshold;
        let sink = self.sink();
        let limit = self.body_limit;
        let forwarder = self.forwarder.clone();
        let staging = sink.clone();
        let work = move || -> Result<Staged, IngestError> {
            let payload = if gzip {
                gunzip(&payload, limit)?
            } else {
                payload
            };
            if payload.len() > limit {
                return Err(IngestError::TooLarge { limit });
            }
            match encoding {
                Encoding::Protobuf => {
                    let staged = staging.stage_protobuf(&payload)?;
                    if let Some(f) = &forwarder {
                        // Forwarded as received: the bytes are already an export request.
                        let outcome = staged.outcome();
                        f.offer(payload, outcome.accepted as u64 + outcome.rejected);
                    }
                    Ok(staged)
                }
                Encoding::Json => {
                    let request = decode(&payload, encoding)?;
                    drop(payload);
                    let staged = staging.stage_request(&request)?;
                    forward_request(forwarder.as_ref(), &request, staged.outcome());
                    Ok(staged)
                }
            }
        };
        let staged = if gzip || large {
            tokio::task::spawn_blocking(work)
                .await
                .map_err(|e| IngestError::Internal(e.to_string()))??
        } else {
            work()?
        };
        sink.commit(staged).await
    }
}

/// Ingest budget reserved by one request as its bytes arrive; released on drop.
#[derive(Debug)]
pub struct BudgetMeter {
    budget: Arc<Semaphore>,
    budget_kib: u32,
    held: Option<tokio::sync::OwnedSemaphorePermit>,
    held_kib: u32,
    bytes: usize,
}

impl BudgetMeter {
    /// Counts `bytes` more of the request, reserving budget for them, or fails with
    /// [`IngestError::Busy`] when the budget is spent. A request larger than the whole budget
    /// is clamped to it (the body limit bounds it).
    pub fn add(&mut self, bytes: usize) -> Result<(), IngestError> {
        self.cover(self.bytes.saturating_add(bytes))
    }

    /// Makes the reservation cover at least `bytes` in total.
    pub fn cover(&mut self, bytes: usize) -> Result<(), IngestError> {
        if bytes <= self.bytes && self.held.is_some() {
            return Ok(());
        }
        self.bytes = self.bytes.max(bytes);
        let want = u32::try_from(self.bytes.div_ceil(1024).max(1))
            .unwrap_or(u32::MAX)
            .min(self.budget_kib);
        if want <= self.held_kib {
            return Ok(());
        }
        let more = self
            .budget
            .clone()
            .try_acquire_many_owned(want - self.held_kib)
            .map_err(|_| IngestError::Busy)?;
        match &mut self.held {
            Some(held) => held.merge(more),
            None => self.held = Some(more),
        }
        self.held_kib = want;
        Ok(())
    }

    /// Bytes counted so far.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// A reservation of ingest budget; released on drop.
#[derive(Debug)]
pub struct BudgetPermit {
    _permit: tokio::sync::OwnedSemaphorePermit,
}

/// Decodes an export request.
pub fn decode(
    payload: &[u8],
    encoding: Encoding,
) -> Result<ExportTraceServiceRequest, IngestError> {
    match encoding {
        Encoding::Protobuf => {
            ExportTraceServiceRequest::decode(payload).map_err(|e| IngestError::Decode {
                encoding: "protobuf",
                detail: e.to_string(),
            })
        }
        Encoding::Json => serde_json::from_slice(payload).map_err(|e| IngestError::Decode {
            encoding: "JSON",
            detail: e.to_string(),
        }),
    }
}

/// Validates, packs and inserts the spans of a decoded request.
pub fn store_request(store: &Store, request: &ExportTraceServiceRequest) -> ExportOutcome {
    store_spans(store, &otlp::request::to_batch(request))
}

/// Offers a decoded (or converted) request to the forwarder, encoded, when forwarding is on
/// and anything of it was accepted.
pub(crate) fn forward_request(
    forwarder: Option<&crate::forward::Forwarder>,
    request: &ExportTraceServiceRequest,
    outcome: &ExportOutcome,
) {
    if let Some(f) = forwarder
        && outcome.accepted > 0
    {
        f.offer(
            Bytes::from(request.encode_to_vec()),
            outcome.accepted as u64 + outcome.rejected,
        );
    }
}

/// Offers a batch to the forwarder, encoded as an OTLP protobuf export request, when
/// forwarding is on and anything of it was accepted (the batch holds only accepted spans).
pub(crate) fn forward_batch(
    forwarder: Option<&crate::forward::Forwarder>,
    batch: &SpanBatch<'_>,
    outcome: &ExportOutcome,
) {
    if let Some(f) = forwarder
        && outcome.accepted > 0
    {
        f.offer(
            Bytes::from(otlp::encode::encode(batch)),
            batch.spans.len() as u64,
        );
    }
}

/// Decodes a protobuf request straight into the store (see [`otlp::protobuf`]), falling back
/// to prost for the error message when the payload is malformed.
pub fn store_protobuf(store: &Store, payload: &[u8]) -> Result<ExportOutcome, IngestError> {
    let stored = with_spare_batch(|batch| {
        otlp::protobuf::decode_into(payload, batch)
            .ok()
            .map(|()| store_spans(store, batch))
    });
    match stored {
        Some(outcome) => Ok(outcome),
        None => Ok(store_request(store, &decode(payload, Encoding::Protobuf)?)),
    }
}

thread_local! {
    /// The vectors of the last batch this thread decoded, emptied, for the next one.
    static SPARE_BATCH: std::cell::Cell<Option<SpanBatch<'static>>> = const { std::cell::Cell::new(None) };
}

/// Largest spare batch a thread keeps (bytes of its vectors); a larger one is freed. A
/// 512-span request needs about 300 KB; the bound keeps what idle threads of the blocking pool
/// hold (until they exit, 10 s after their last task) small.
const SPARE_BATCH_LIMIT: usize = 1 << 20;

/// Runs `fill` on an empty batch whose vectors were the last batch this thread decoded, and
/// keeps them for the next call. A 512-span request fills about 300 KB of vectors: allocating
/// them for each request costs page faults and the kernel's zeroing of fresh pages, which
/// instruction counts do not show but CPU time does (docs/bench/collector.md).
pub(crate) fn with_spare_batch<'p, R>(fill: impl FnOnce(&mut SpanBatch<'p>) -> R) -> R {
    let mut batch = SPARE_BATCH.take().unwrap_or_default().recycle();
    let result = fill(&mut batch);
    if batch.capacity_bytes() <= SPARE_BATCH_LIMIT {
        SPARE_BATCH.set(Some(batch.recycle()));
    }
    result
}

/// Decodes an OTLP/JSON request and stores its spans.
pub fn store_json(store: &Store, payload: &[u8]) -> Result<ExportOutcome, IngestError> {
    Ok(store_request(store, &decode(payload, Encoding::Json)?))
}

/// Packs and inserts a batch any decoder produced; the outcome counts what the decoder
/// rejected too.
pub fn store_spans(store: &Store, batch: &SpanBatch<'_>) -> ExportOutcome {
    store_batch(store, store.prepare(batch))
}

fn store_batch(store: &Store, batch: PreparedBatch) -> ExportOutcome {
    let outcome = outcome_of(&batch);
    store.insert(batch);
    outcome
}

fn outcome_of(batch: &PreparedBatch) -> ExportOutcome {
    ExportOutcome {
        accepted: batch.accepted(),
        rejected: batch.rejected,
        message: match &batch.first_error {
            Some(first) => format!("{} spans rejected; first: {first}", batch.rejected),
            None => String::new(),
        },
    }
}

/// Where accepted batches go: the store, and first the durable log when the collector has a
/// data directory ([`crate::persist`]). Every ingest path (OTLP, Jaeger, Zipkin, file
/// import) stores through one.
///
/// Storing takes two steps, so that the wait for the disk happens off the decoding thread:
/// [`Sink::stage`] (synchronous, where the batch was decoded) packs the batch and hands its
/// record to the log; [`Sink::commit`] waits until the record is durable, then inserts the
/// batch and returns the outcome to acknowledge. Without a log, `stage` stores at once and
/// `commit` only returns the outcome, as before persistence existed. A failed write gives
/// [`IngestError::Unavailable`] and nothing is stored, so what a client was told was stored
/// is on disk.
#[derive(Debug, Clone)]
pub struct Sink {
    store: Arc<Store>,
    log: Option<Log>,
}

/// A batch between [`Sink::stage`] and [`Sink::commit`].
#[derive(Debug)]
pub enum Staged {
    /// Stored already (no log).
    Stored(ExportOutcome),
    /// Handed to the log, stored once durable.
    Logged {
        /// The packed batch.
        batch: PreparedBatch,
        /// What to acknowledge.
        outcome: ExportOutcome,
        /// Completes once the record is durable.
        ticket: Ticket,
    },
}

impl Staged {
    /// What will be acknowledged when the commit succeeds.
    pub fn outcome(&self) -> &ExportOutcome {
        match self {
            Staged::Stored(outcome) | Staged::Logged { outcome, .. } => outcome,
        }
    }
}

impl Sink {
    /// A sink for `store` alone (no log).
    pub fn memory(store: Arc<Store>) -> Self {
        Sink { store, log: None }
    }

    /// The store written to.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Packs `batch` and, with a log, appends its record (see [`Sink`]).
    pub fn stage(&self, batch: &SpanBatch<'_>) -> Result<Staged, IngestError> {
        let Some(log) = &self.log else {
            return Ok(Staged::Stored(store_spans(&self.store, batch)));
        };
        let prepared = self.store.prepare(batch);
        if prepared.accepted() == 0 {
            // Nothing to keep (only rejected spans, which the store counts).
            return Ok(Staged::Stored(store_batch(&self.store, prepared)));
        }
        match log.append(batch) {
            Ok(ticket) => Ok(Staged::Logged {
                outcome: outcome_of(&prepared),
                batch: prepared,
                ticket,
            }),
            Err(e) => {
                self.store.discard(prepared);
                Err(IngestError::Unavailable(e.to_string()))
            }
        }
    }

    /// [`Sink::stage`] for a decoded OTLP request.
    pub fn stage_request(
        &self,
        request: &ExportTraceServiceRequest,
    ) -> Result<Staged, IngestError> {
        self.stage(&otlp::request::to_batch(request))
    }

    /// [`Sink::stage`] for an OTLP protobuf payload, read straight from the wire (see
    /// [`store_protobuf`]).
    pub fn stage_protobuf(&self, payload: &[u8]) -> Result<Staged, IngestError> {
        let staged = with_spare_batch(|batch| {
            otlp::protobuf::decode_into(payload, batch)
                .ok()
                .map(|()| self.stage(batch))
        });
        match staged {
            Some(staged) => staged,
            None => self.stage_request(&decode(payload, Encoding::Protobuf)?),
        }
    }

    /// Waits until a staged batch is durable, then stores it; the outcome to acknowledge.
    ///
    /// The wait runs in a task of its own, so a batch that reached the log is stored even when
    /// the request is dropped meanwhile (its client went away): memory and log stay alike.
    pub async fn commit(&self, staged: Staged) -> Result<ExportOutcome, IngestError> {
        match staged {
            Staged::Stored(outcome) => Ok(outcome),
            Staged::Logged {
                batch,
                outcome,
                ticket,
            } => {
                let sink = self.clone();
                tokio::spawn(async move { sink.settle(batch, outcome, ticket.wait().await) })
                    .await
                    .map_err(|e| IngestError::Internal(e.to_string()))?
            }
        }
    }

    /// [`Sink::commit`] on a thread that may block (tokio's blocking pool, a plain thread).
    pub fn commit_blocking(&self, staged: Staged) -> Result<ExportOutcome, IngestError> {
        match staged {
            Staged::Stored(outcome) => Ok(outcome),
            Staged::Logged {
                batch,
                outcome,
                ticket,
            } => self.settle(batch, outcome, ticket.wait_blocking()),
        }
    }

    fn settle(
        &self,
        batch: PreparedBatch,
        outcome: ExportOutcome,
        durable: Result<(), crate::persist::PersistError>,
    ) -> Result<ExportOutcome, IngestError> {
        match durable {
            Ok(()) => {
                self.store.insert(batch);
                Ok(outcome)
            }
            Err(e) => {
                self.store.discard(batch);
                Err(IngestError::Unavailable(e.to_string()))
            }
        }
    }
}

/// Decompresses gzip, reading at most `limit + 1` bytes so a compression bomb is cut short.
pub(crate) fn gunzip(compressed: &[u8], limit: usize) -> Result<Bytes, IngestError> {
    let mut out = Vec::with_capacity((compressed.len() * 4).min(limit));
    flate2::read::MultiGzDecoder::new(compressed)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| IngestError::Decode {
            encoding: "gzip",
            detail: e.to_string(),
        })?;
    if out.len() > limit {
        return Err(IngestError::TooLarge { limit });
    }
    Ok(Bytes::from(out))
}
