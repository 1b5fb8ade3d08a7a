//! Forwarding: everything the collector accepts, whatever its ingest format, also goes upstream
//! as OTLP to an existing tracing cluster (Jaeger v2, Grafana Tempo, an OpenTelemetry
//! Collector), so a tracer-collector per host can sit in front of the backend a team already
//! runs. The local store keeps its copy within its own budget either way.
//!
//! ```text
//! ingest ──> store (local UI)
//!    └────> Forwarder::offer ──> per upstream: ForwardBuffer (bytes) ──> sender task ──> OTLP
//! ```
//!
//! - **Ingest never waits.** [`Forwarder::offer`] appends the encoded request to each
//!   upstream's buffer (`buffer.rs`) and returns; when the buffer is over its byte limit the
//!   oldest data is dropped and counted (`dropped_buffer_full`), never the caller blocked.
//! - **Batching.** A sender task per upstream takes up to [`Upstream::batch_bytes`] at once
//!   (concatenated protobuf requests are one valid request), waiting up to
//!   [`Upstream::batch_delay`] for more to gather when less than a batch is there.
//! - **Retries** only for what OTLP calls retryable (see `send.rs`), with exponential backoff and
//!   full jitter from [`INITIAL_BACKOFF`] to [`MAX_BACKOFF`], or after the delay the upstream
//!   asked for (`Retry-After`, gRPC `RetryInfo`). A batch is retried until it goes through or the
//!   collector stops; meanwhile new data queues behind it within the byte limit.
//! - **Counted** per upstream ([`UpstreamStats`]): spans sent, retries, dropped by reason,
//!   buffer level, last error; served under `forward` in `/api/collector/stats`.
//!
//! TLS: an `https://` URL uses the system's roots, or the CA of `--forward-ca-file`.
//!
//! **On disk** with `--data-dir` ([`disk`]): each request is also appended to a forward log in
//! `DATA_DIR/forward/` before the export is acknowledged, and a cursor per upstream says what
//! it is done with, so a restart (SIGTERM or a crash) resends exactly what was not
//! acknowledged; only a batch in flight at a crash can arrive twice (counted as
//! `maybe_duplicate_spans`). Without it the buffer is in memory, and what is still buffered
//! when the collector stops is dropped and counted (`dropped_shutdown`).

mod buffer;
pub mod disk;
mod send;
pub mod tail;

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use serde::Serialize;

use self::buffer::{ForwardBuffer, Item};
use self::disk::{DiskBuffer, Durable, LaneCursor};
use self::send::{Client, Outcome};

/// First retry delay.
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(200);
/// Longest delay between two retries of our own choosing.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Default byte limit of each upstream's buffer.
pub const DEFAULT_BUFFER_BYTES: usize = 64 << 20;
/// Default largest batch sent at once.
pub const DEFAULT_BATCH_BYTES: usize = 1 << 20;
/// Default wait for a batch to fill.
pub const DEFAULT_BATCH_DELAY: Duration = Duration::from_millis(200);
/// Default timeout of one export.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The OTLP transport to an upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Protocol {
    /// OTLP/gRPC, `TraceService/Export`.
    #[serde(rename = "grpc")]
    Grpc,
    /// OTLP/HTTP with protobuf bodies, `POST {url}` (`/v1/traces` added to a bare URL).
    #[serde(rename = "http/protobuf")]
    HttpProtobuf,
}

impl std::str::FromStr for Protocol {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "grpc" => Ok(Protocol::Grpc),
            "http/protobuf" | "http" => Ok(Protocol::HttpProtobuf),
            other => Err(format!(
                "unknown forward protocol {other:?}: expected grpc or http/protobuf"
            )),
        }
    }
}

/// One upstream to forward to.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// The endpoint: `http(s)://host:port` for gRPC, the full `/v1/traces` URL for HTTP.
    pub url: String,
    /// The transport.
    pub protocol: Protocol,
    /// Headers (gRPC metadata) sent with every export, e.g. an authorization.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Whether bodies are gzip-compressed.
    pub gzip: bool,
    /// Extra trusted CA certificates (PEM) for `https://` upstreams.
    pub ca_pem: Option<Vec<u8>>,
    /// Byte limit of this upstream's buffer.
    pub buffer_bytes: usize,
    /// Largest batch sent at once.
    pub batch_bytes: usize,
    /// How long a partial batch waits for more data.
    pub batch_delay: Duration,
    /// Timeout of one export.
    pub timeout: Duration,
}

impl Upstream {
    /// An upstream at `url` with the defaults. For `http/protobuf`, a URL without a path gets
    /// `/v1/traces`, as an OTLP exporter's base endpoint does.
    pub fn new(url: &str, protocol: Protocol) -> Result<Upstream, String> {
        let parsed: http::Uri = url
            .parse()
            .map_err(|e| format!("forward URL {url:?}: {e}"))?;
        match parsed.scheme_str() {
            Some("http" | "https") => {}
            _ => {
                return Err(format!(
                    "forward URL {url:?}: expected an http:// or https:// URL"
                ));
            }
        }
        if parsed.host().is_none() {
            return Err(format!("forward URL {url:?}: no host"));
        }
        let url = match protocol {
            Protocol::HttpProtobuf if matches!(parsed.path(), "" | "/") => {
                format!("{}/v1/traces", url.trim_end_matches('/'))
            }
            _ => url.to_owned(),
        };
        Ok(Upstream {
            url,
            protocol,
            headers: Vec::new(),
            gzip: false,
            ca_pem: None,
            buffer_bytes: DEFAULT_BUFFER_BYTES,
            batch_bytes: DEFAULT_BATCH_BYTES,
            batch_delay: DEFAULT_BATCH_DELAY,
            timeout: DEFAULT_TIMEOUT,
        })
    }
}

/// Parses a `KEY=VALUE` header of `--forward-header`.
pub fn parse_header(text: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("forward header {text:?}: expected KEY=VALUE"))?;
    let name = HeaderName::try_from(name.trim().to_ascii_lowercase())
        .map_err(|e| format!("forward header name {name:?}: {e}"))?;
    let value = HeaderValue::try_from(value.trim())
        .map_err(|e| format!("forward header value for {name}: {e}"))?;
    Ok((name, value))
}

/// Counters of one upstream.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct UpstreamStats {
    /// The endpoint.
    pub url: String,
    /// `grpc` or `http/protobuf`.
    pub protocol: String,
    /// Spans the upstream accepted.
    pub sent_spans: u64,
    /// Exports that went through.
    pub sent_batches: u64,
    /// Exports retried.
    pub retries: u64,
    /// Spans dropped because the buffer was full (oldest first).
    pub dropped_buffer_full: u64,
    /// Spans dropped because the upstream refused them for good (non-retryable).
    pub dropped_rejected: u64,
    /// Spans the upstream refused in an otherwise accepted export (partial success).
    pub dropped_partial: u64,
    /// Spans still buffered when the collector stopped (in memory only; on disk they wait for
    /// the next start).
    pub dropped_shutdown: u64,
    /// Spans read back from the disk buffer at start, to be sent (0 in memory).
    pub replayed_spans: u64,
    /// Of those, spans of a batch that was in flight when the collector stopped: the
    /// upstream may have them already, and then receives them twice.
    pub maybe_duplicate_spans: u64,
    /// Spans waiting in the buffer.
    pub buffered_spans: u64,
    /// Bytes waiting in the buffer.
    pub buffered_bytes: u64,
    /// The last failure's message, if any.
    pub last_error: Option<String>,
    /// When the last export went through (Unix milliseconds).
    pub last_success_unix_ms: Option<u64>,
}

#[derive(Debug, Default)]
struct Counters {
    sent_spans: AtomicU64,
    sent_batches: AtomicU64,
    retries: AtomicU64,
    dropped_buffer_full: AtomicU64,
    dropped_rejected: AtomicU64,
    dropped_partial: AtomicU64,
    dropped_shutdown: AtomicU64,
    replayed_spans: AtomicU64,
    maybe_duplicate_spans: AtomicU64,
    last_success_unix_ms: AtomicU64,
    last_error: Mutex<Option<String>>,
}

#[derive(Debug)]
struct Lane {
    upstream: Upstream,
    buffer: ForwardBuffer,
    counters: Counters,
    cursor: Mutex<LaneCursor>,
}

impl Lane {
    fn cursor(&self) -> std::sync::MutexGuard<'_, LaneCursor> {
        lock(&self.cursor)
    }

    /// Pushes `item`, counting what it displaced.
    fn push(&self, item: Item) -> buffer::Dropped {
        let dropped = self.buffer.push(item);
        if dropped.spans > 0 {
            self.counters
                .dropped_buffer_full
                .fetch_add(dropped.spans, Ordering::Relaxed);
            if dropped.last > 0 {
                let mut cursor = self.cursor();
                cursor.dropped_below = cursor.dropped_below.max(dropped.last + 1);
            }
        }
        dropped
    }

    fn fail(&self, message: &str) {
        *self
            .counters
            .last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(message.to_owned());
    }

    fn stats(&self) -> UpstreamStats {
        let c = &self.counters;
        let (bytes, spans) = self.buffer.level();
        let last = c.last_success_unix_ms.load(Ordering::Relaxed);
        UpstreamStats {
            url: self.upstream.url.clone(),
            protocol: match self.upstream.protocol {
                Protocol::Grpc => "grpc".into(),
                Protocol::HttpProtobuf => "http/protobuf".into(),
            },
            sent_spans: c.sent_spans.load(Ordering::Relaxed),
            sent_batches: c.sent_batches.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            dropped_buffer_full: c.dropped_buffer_full.load(Ordering::Relaxed),
            dropped_rejected: c.dropped_rejected.load(Ordering::Relaxed),
            dropped_partial: c.dropped_partial.load(Ordering::Relaxed),
            dropped_shutdown: c.dropped_shutdown.load(Ordering::Relaxed),
            replayed_spans: c.replayed_spans.load(Ordering::Relaxed),
            maybe_duplicate_spans: c.maybe_duplicate_spans.load(Ordering::Relaxed),
            buffered_spans: spans,
            buffered_bytes: bytes as u64,
            last_error: c
                .last_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            last_success_unix_ms: (last != 0).then_some(last),
        }
    }
}

/// Sends what the collector accepts on to its upstreams; see the module docs.
#[derive(Debug, Clone)]
pub struct Forwarder {
    lanes: Arc<Vec<Arc<Lane>>>,
    tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    tail: Option<Arc<Tail>>,
    durable: Option<Arc<Durable>>,
}

/// Bytes of accepted exports that may wait for the tail sampler's task; past it the oldest are
/// dropped and counted (`dropped_backlog_spans`).
const TAIL_BACKLOG_BYTES: usize = 64 << 20;

/// The tail sampler and its input: ingest only queues, the sampler's task decodes and groups,
/// so sampling costs the request path nothing but a queue push.
#[derive(Debug)]
struct Tail {
    sampler: Mutex<tail::TailSampler>,
    backlog: ForwardBuffer,
    dropped_backlog_spans: AtomicU64,
}

impl Tail {
    /// Hands everything queued to the sampler; returns what goes upstream now.
    fn drain(&self) -> Vec<(Bytes, u64)> {
        let mut out = Vec::new();
        while let Some(item) = self.backlog.take_batch(0) {
            out.extend(lock(&self.sampler).offer(&item.bytes, std::time::Instant::now()));
        }
        out
    }
}

impl Forwarder {
    /// Starts a sender task per upstream (on the current tokio runtime). Fails on an upstream
    /// whose client cannot be built (a bad CA file, say), naming it.
    pub fn start(upstreams: Vec<Upstream>) -> Result<Forwarder, String> {
        Self::start_sampled(upstreams, None)
    }

    /// [`Forwarder::start`] with tail-based sampling of what is forwarded ([`tail`]).
    pub fn start_sampled(
        upstreams: Vec<Upstream>,
        sampling: Option<tail::TailConfig>,
    ) -> Result<Forwarder, String> {
        Self::start_durable(upstreams, sampling, None)
    }

    /// [`Forwarder::start_sampled`] with the buffer on disk: `disk` is [`DiskBuffer::open`]ed
    /// for the same upstreams (in this order); what it read back is sent first.
    pub fn start_durable(
        upstreams: Vec<Upstream>,
        sampling: Option<tail::TailConfig>,
        disk: Option<DiskBuffer>,
    ) -> Result<Forwarder, String> {
        let (disk, mut starts) = match disk {
            Some(d) => (Some(d.disk), d.starts),
            None => (None, Vec::new()),
        };
        let mut lanes = Vec::new();
        let mut clients = Vec::new();
        for (i, upstream) in upstreams.into_iter().enumerate() {
            let client = Client::new(&upstream)?;
            let start = starts.get_mut(i).map(std::mem::take).unwrap_or_default();
            let lane = Arc::new(Lane {
                buffer: ForwardBuffer::new(upstream.buffer_bytes),
                upstream,
                counters: Counters::default(),
                cursor: Mutex::new(LaneCursor {
                    finished_below: start.sent_below,
                    ..LaneCursor::default()
                }),
            });
            let c = &lane.counters;
            c.maybe_duplicate_spans
                .store(start.maybe_duplicate_spans, Ordering::Relaxed);
            for item in start.items {
                c.replayed_spans.fetch_add(item.spans, Ordering::Relaxed);
                lane.push(item);
            }
            clients.push(client);
            lanes.push(lane);
        }
        let durable = disk.map(|disk| {
            Arc::new(Durable {
                disk,
                lanes: lanes.clone(),
            })
        });
        if let Some(d) = &durable {
            d.checkpoint();
        }
        let mut tasks = Vec::new();
        for (lane, client) in lanes.iter().zip(clients) {
            tasks.push(tokio::spawn(run(lane.clone(), client, durable.clone())));
        }
        let tail = sampling.map(|config| {
            Arc::new(Tail {
                sampler: Mutex::new(tail::TailSampler::new(config)),
                backlog: ForwardBuffer::new(TAIL_BACKLOG_BYTES),
                dropped_backlog_spans: AtomicU64::new(0),
            })
        });
        let mut forwarder = Forwarder {
            lanes: Arc::new(lanes),
            tasks: Arc::new(Mutex::new(Vec::new())),
            tail,
            durable,
        };
        if let Some(tail) = forwarder.tail.clone() {
            let f = forwarder.clone();
            tasks.push(tokio::spawn(async move {
                let tick = lock(&tail.sampler).tick();
                loop {
                    tokio::select! {
                        () = tail.backlog.wait() => {}
                        () = tokio::time::sleep(tick) => {}
                    }
                    if tail.backlog.is_closed() {
                        return; // shutting down: shutdown drains and flushes the rest
                    }
                    let mut ready = tail.drain();
                    ready.extend(lock(&tail.sampler).due(std::time::Instant::now()));
                    for (bytes, spans) in ready {
                        f.push(bytes, spans);
                    }
                }
            }));
        }
        forwarder.tasks = Arc::new(Mutex::new(tasks));
        Ok(forwarder)
    }

    /// Queues one accepted export (protobuf `ExportTraceServiceRequest` bytes holding `spans`
    /// spans) for every upstream, or for the tail sampler when sampling is on; never waits.
    pub fn offer(&self, request: Bytes, spans: u64) {
        if let Some(tail) = &self.tail {
            let dropped = tail.backlog.push(Item::new(request, spans));
            if dropped.spans > 0 {
                tail.dropped_backlog_spans
                    .fetch_add(dropped.spans, Ordering::Relaxed);
            }
            return;
        }
        self.push(request, spans);
    }

    /// The tail sampler's counters, when sampling is on.
    pub fn tail_stats(&self) -> Option<tail::TailStats> {
        self.tail.as_ref().map(|t| {
            let mut stats = lock(&t.sampler).stats();
            stats.backlog_spans = t.backlog.level().1;
            stats.dropped_backlog_spans = t.dropped_backlog_spans.load(Ordering::Relaxed);
            stats
        })
    }

    fn push(&self, request: Bytes, spans: u64) {
        let number = match &self.durable {
            Some(d) => d.disk.append(&request, spans),
            None => 0,
        };
        let mut dropped = false;
        for lane in self.lanes.iter() {
            dropped |= lane
                .push(Item::numbered(request.clone(), spans, number))
                .last
                > 0;
        }
        if dropped && let Some(d) = &self.durable {
            // Dropped records need no resending: let their segments go.
            let min = self.lanes.iter().map(|l| l.cursor().sent_below()).min();
            d.disk.log().release_below(min.unwrap_or(0));
        }
    }

    /// The disk buffer's log, when the buffer is on disk: the span log's tickets wait for it
    /// ([`crate::persist::Log::wait_also_for`]), so an acknowledged export is durable in both.
    pub fn durable_log(&self) -> Option<&crate::persist::Log> {
        self.durable.as_ref().map(|d| d.disk.log())
    }

    /// The disk buffer's counters (segments, bytes, fsyncs, what was read back at start),
    /// served under `forward_buffer` in `/api/collector/stats`.
    pub fn disk_stats(&self) -> Option<crate::persist::PersistStats> {
        self.durable.as_ref().map(|d| d.disk.log().stats())
    }

    /// Counters per upstream.
    pub fn stats(&self) -> Vec<UpstreamStats> {
        self.lanes.iter().map(|l| l.stats()).collect()
    }

    /// Stops accepting, gives each upstream up to `grace` to take what is buffered, then stops
    /// the senders; what is left is counted as `dropped_shutdown`, or, with the buffer on
    /// disk, stays there for the next start.
    pub async fn shutdown(&self, grace: Duration) {
        if let Some(tail) = &self.tail {
            // What is queued goes to the sampler, and waiting traces are decided now, so what
            // the policies keep is still sent.
            tail.backlog.close();
            let mut decided = tail.drain();
            decided.extend(lock(&tail.sampler).flush(std::time::Instant::now()));
            for (bytes, spans) in decided {
                self.push(bytes, spans);
            }
        }
        for lane in self.lanes.iter() {
            lane.buffer.close();
        }
        let tasks: Vec<_> =
            std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        let deadline = tokio::time::Instant::now() + grace;
        for mut task in tasks {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                task.abort();
            }
        }
        for lane in self.lanes.iter() {
            let (_, spans) = lane.buffer.level();
            if self.durable.is_none() {
                lane.counters
                    .dropped_shutdown
                    .fetch_add(spans, Ordering::Relaxed);
            }
            while lane.buffer.take_batch(usize::MAX).is_some() {}
        }
        if let Some(d) = &self.durable {
            // A sender stopped mid-export leaves its batch marked in flight: it is resent.
            d.checkpoint();
            let log = d.disk.log().clone();
            let _ = tokio::task::spawn_blocking(move || log.close()).await;
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A cheap jitter source (xorshift), seeded per task.
struct Jitter(u64);

impl Jitter {
    fn new() -> Self {
        use std::hash::{BuildHasher as _, RandomState};
        // RandomState is seeded randomly per process (and per instance after the first).
        Jitter(RandomState::new().hash_one(unix_ms()) | 1)
    }

    /// A duration uniformly in `[0, max]` ("full jitter").
    fn upto(&mut self, max: Duration) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let nanos = max.as_nanos().min(u64::MAX as u128) as u64;
        Duration::from_nanos(if nanos == 0 { 0 } else { self.0 % (nanos + 1) })
    }
}

/// Sleeps for `wait`, or less when the buffer is closed meanwhile (the collector stopping), so
/// a long backoff never holds up shutdown.
async fn sleep_unless_closed(buffer: &ForwardBuffer, wait: Duration) {
    let until = tokio::time::Instant::now() + wait;
    while !buffer.is_closed() {
        let now = tokio::time::Instant::now();
        if now >= until {
            return;
        }
        tokio::time::sleep((until - now).min(Duration::from_millis(50))).await;
    }
}

/// The sender task of one upstream.
async fn run(lane: Arc<Lane>, mut client: Client, durable: Option<Arc<Durable>>) {
    let up = &lane.upstream;
    let c = &lane.counters;
    let mut jitter = Jitter::new();
    loop {
        lane.buffer.wait().await;
        // Let a partial batch fill for a moment, unless the collector is stopping.
        if !lane.buffer.is_closed() && (lane.buffer.level().0 < up.batch_bytes) {
            tokio::time::sleep(up.batch_delay).await;
        }
        let Some(batch) = lane.buffer.take_batch(up.batch_bytes) else {
            if lane.buffer.is_closed() {
                return;
            }
            continue;
        };
        if let Some(d) = &durable {
            lane.cursor().in_flight = Some((batch.first, batch.last));
            d.checkpoint();
        }
        let finish = |delivered: bool| {
            if let Some(d) = &durable {
                let mut cursor = lane.cursor();
                cursor.in_flight = None;
                if delivered {
                    cursor.finished_below = cursor.finished_below.max(batch.last + 1);
                }
                drop(cursor);
                d.checkpoint();
            }
        };
        let mut backoff = INITIAL_BACKOFF;
        loop {
            match client.send(up, batch.bytes.clone()).await {
                Outcome::Delivered { rejected, message } => {
                    let rejected = rejected.min(batch.spans);
                    c.sent_batches.fetch_add(1, Ordering::Relaxed);
                    c.sent_spans
                        .fetch_add(batch.spans - rejected, Ordering::Relaxed);
                    c.last_success_unix_ms.store(unix_ms(), Ordering::Relaxed);
                    if rejected > 0 {
                        c.dropped_partial.fetch_add(rejected, Ordering::Relaxed);
                        let text = format!("upstream refused {rejected} span(s): {message}");
                        tracing::warn!(upstream = %up.url, "{text}");
                        lane.fail(&text);
                    }
                    finish(true);
                    break;
                }
                Outcome::Rejected { reason } => {
                    c.dropped_rejected.fetch_add(batch.spans, Ordering::Relaxed);
                    tracing::warn!(upstream = %up.url, spans = batch.spans, "forward dropped, not retryable: {reason}");
                    lane.fail(&reason);
                    finish(true);
                    break;
                }
                Outcome::Retry { after, reason } => {
                    lane.fail(&reason);
                    if lane.buffer.is_closed() {
                        if durable.is_some() {
                            // Stopping: this batch and what follows wait on disk for the next
                            // start (sending later ones now would pass over this one).
                            finish(false);
                            return;
                        }
                        // Stopping: one more try is all the grace period allows for.
                        c.dropped_shutdown.fetch_add(batch.spans, Ordering::Relaxed);
                        break;
                    }
                    c.retries.fetch_add(1, Ordering::Relaxed);
                    let wait = after.unwrap_or_else(|| jitter.upto(backoff));
                    tracing::debug!(upstream = %up.url, ?wait, "forward retry: {reason}");
                    sleep_unless_closed(&lane.buffer, wait).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}
