//! Serving a router on a listener with per-listener connection limits and timeouts.
//!
//! Every port of the collector is open to whatever runs on the machine (and beyond, when bound
//! elsewhere), so each listener bounds what one client can hold:
//!
//! - **connections**: at most [`ConnectionLimits::max_connections`] at once; one more is closed
//!   as soon as it is accepted (refused fast, never queued), so a flood of idle sockets cannot
//!   use up the process's descriptors or slow the connections already served;
//! - **header read timeout**: a client must send its first bytes, and then each request head,
//!   within [`ConnectionLimits::header_timeout`] (hyper's HTTP/1 header read timeout, which
//!   also bounds the wait for the next request on a kept-alive connection);
//! - **body read timeout**: a request body must deliver a frame at least every
//!   [`ConnectionLimits::body_timeout`] and, past that first interval, average at least
//!   [`ConnectionLimits::body_min_rate`] bytes per second ([`GuardedBody`]);
//! - **idle timeout**: a connection on which no byte moves either way for
//!   [`ConnectionLimits::idle_timeout`] is closed (HTTP/2 included).
//!
//! HTTP/1.1 and HTTP/2 without TLS (h2c) are both spoken on every port; the OTLP/gRPC port
//! answers HTTP/1 requests itself with a message naming the HTTP port (see `ingest::grpc`).
//! On shutdown the listener closes at once and connections get [`crate::SHUTDOWN_GRACE`] to
//! finish their requests.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http::Request;
use http_body::Frame;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};

/// Limits applied to each listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections served at once; more are closed on accept.
    pub max_connections: usize,
    /// Time allowed for a connection's first bytes and for each request head.
    pub header_timeout: Duration,
    /// Longest gap between two frames of a request body.
    pub body_timeout: Duration,
    /// Lowest average body rate in bytes per second, enforced after the first `body_timeout`.
    pub body_min_rate: u64,
    /// A connection with no traffic either way for this long is closed.
    pub idle_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 256,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            body_min_rate: 64 << 10,
            idle_timeout: Duration::from_secs(120),
        }
    }
}

/// Counters of one listener, as served in `GET /api/collector/stats` under `listeners`.
#[derive(Debug, Default)]
pub struct ListenerStats {
    /// Connections accepted and served.
    pub accepted: AtomicU64,
    /// Connections closed on accept because `max_connections` were open.
    pub refused: AtomicU64,
    /// Connections closed for sending nothing within the header or idle timeout.
    pub timed_out: AtomicU64,
    /// Connections open now.
    pub open: AtomicU64,
}

/// A snapshot of [`ListenerStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ListenerCounts {
    /// Connections accepted and served.
    pub accepted: u64,
    /// Connections closed on accept because the cap was reached.
    pub refused: u64,
    /// Connections closed by the header or idle timeout.
    pub timed_out: u64,
    /// Connections open now.
    pub open: u64,
}

/// The counters of every listener a collector serves, by name, as `GET /api/collector/stats`
/// shows them under `listeners`.
#[derive(Debug, Clone, Default)]
pub struct ListenerRegistry(Arc<std::sync::RwLock<Vec<NamedStats>>>);

/// A listener's name and counters.
type NamedStats = (&'static str, Arc<ListenerStats>);

impl ListenerRegistry {
    /// Registers the listener `name` and returns its counters.
    pub(crate) fn add(&self, name: &'static str) -> Arc<ListenerStats> {
        let stats = Arc::new(ListenerStats::default());
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push((name, stats.clone()));
        stats
    }

    /// The current counts of every registered listener.
    pub fn snapshot(&self) -> std::collections::BTreeMap<&'static str, ListenerCounts> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(name, stats)| (*name, stats.snapshot()))
            .collect()
    }
}

impl ListenerStats {
    /// The current counts.
    pub fn snapshot(&self) -> ListenerCounts {
        ListenerCounts {
            accepted: self.accepted.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            timed_out: self.timed_out.load(Ordering::Relaxed),
            open: self.open.load(Ordering::Relaxed),
        }
    }
}

/// Serves `router` on `listener` under `limits` until `stop` completes, then lets open
/// connections finish for up to `grace`.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    stats: Arc<ListenerStats>,
    stop: impl std::future::Future<Output = ()>,
    grace: Duration,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder.http2().timer(TokioTimer::new());
    let router = router.layer(axum::middleware::map_request(
        move |request: Request<Body>| async move { guard_body(request, limits) },
    ));
    tokio::pin!(stop);
    loop {
        let (tcp, _peer) = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            drop(tcp);
            continue;
        };
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        stats.open.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = tcp.set_nodelay(true) {
            // Without TCP_NODELAY, delayed ACKs stall multi-segment gRPC messages by ~40 ms.
            tracing::debug!(error = %e, "cannot set tcp_nodelay");
        }
        let io = TokioIo::new(IdleIo::new(tcp, &limits, stats.clone()));
        let service = TowerToHyperService::new(router.clone());
        let connection = graceful.watch(builder.serve_connection(io, service).into_owned());
        let stats = stats.clone();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            stats.open.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("grace period over, closing remaining connections");
    }
    Ok(())
}

fn guard_body(request: Request<Body>, limits: ConnectionLimits) -> Request<Body> {
    request.map(|body| Body::new(GuardedBody::new(body, &limits)))
}

/// A TCP stream that fails with `TimedOut` when nothing moves for its idle limit (the header
/// timeout until the first byte arrives, the idle timeout after).
struct IdleIo {
    inner: TcpStream,
    first_limit: Duration,
    limit: Duration,
    seen_bytes: bool,
    last_activity: Instant,
    timer: Pin<Box<Sleep>>,
    stats: Arc<ListenerStats>,
}

impl IdleIo {
    fn new(inner: TcpStream, limits: &ConnectionLimits, stats: Arc<ListenerStats>) -> Self {
        let now = Instant::now();
        IdleIo {
            inner,
            first_limit: limits.header_timeout,
            limit: limits.idle_timeout,
            seen_bytes: false,
            last_activity: now,
            timer: Box::pin(tokio::time::sleep_until(now + limits.header_timeout)),
            stats,
        }
    }

    fn active(&mut self) {
        self.seen_bytes = true;
        self.last_activity = Instant::now();
    }

    /// Notes the bytes a write moved, or checks the idle limit when it could not.
    fn after_write(
        &mut self,
        cx: &mut Context<'_>,
        written: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match written {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.last_activity = Instant::now();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                self.poll_idle(cx)?;
                Poll::Pending
            }
        }
    }

    /// Polled when the stream has nothing to offer: errors once the idle limit is over.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let limit = if self.seen_bytes {
            self.limit
        } else {
            self.first_limit
        };
        let deadline = self.last_activity + limit;
        if self.timer.deadline() != deadline {
            self.timer.as_mut().reset(deadline);
        }
        if self.timer.as_mut().poll(cx).is_ready() {
            self.stats.timed_out.fetch_add(1, Ordering::Relaxed);
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no traffic for {} ms", limit.as_millis()),
            ));
        }
        Ok(())
    }
}

impl AsyncRead for IdleIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.active();
                }
                Poll::Ready(result)
            }
            Poll::Pending => {
                this.poll_idle(cx)?;
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for IdleIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.inner).poll_write(cx, data);
        this.after_write(cx, written)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.after_write(cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Whether `error` or one of its sources is a [`BodyTimeout`].
pub(crate) fn is_body_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        if e.is::<BodyTimeout>() {
            return true;
        }
        next = e.source();
    }
    false
}

/// Why a request body was cut off by [`GuardedBody`].
#[derive(Debug, thiserror::Error)]
pub enum BodyTimeout {
    /// No frame arrived within the body timeout.
    #[error("request body stalled: no data for {0} ms (body timeout)")]
    Stalled(u128),
    /// The body arrived slower than the minimum rate.
    #[error(
        "request body too slow: {received} bytes in {elapsed_ms} ms, under the minimum of {min_rate} bytes/s"
    )]
    TooSlow {
        /// Bytes received so far.
        received: u64,
        /// Time since the body started.
        elapsed_ms: u128,
        /// The minimum rate in bytes per second.
        min_rate: u64,
    },
}

/// A request body that fails with [`BodyTimeout`] when it stalls or trickles.
pub struct GuardedBody {
    inner: Body,
    gap: Duration,
    min_rate: u64,
    started: Instant,
    received: u64,
    timer: Pin<Box<Sleep>>,
}

impl GuardedBody {
    /// Wraps `inner` with the body limits of `limits`.
    pub fn new(inner: Body, limits: &ConnectionLimits) -> Self {
        let now = Instant::now();
        GuardedBody {
            inner,
            gap: limits.body_timeout,
            min_rate: limits.body_min_rate,
            started: now,
            received: 0,
            timer: Box::pin(tokio::time::sleep_until(now + limits.body_timeout)),
        }
    }
}

impl http_body::Body for GuardedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                }
                let now = Instant::now();
                let elapsed = now - this.started;
                if elapsed > this.gap
                    && (this.received as f64)
                        < this.min_rate as f64 * (elapsed - this.gap).as_secs_f64()
                {
                    return Poll::Ready(Some(Err(axum::Error::new(BodyTimeout::TooSlow {
                        received: this.received,
                        elapsed_ms: elapsed.as_millis(),
                        min_rate: this.min_rate,
                    }))));
                }
                this.timer.as_mut().reset(now + this.gap);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                ready!(this.timer.as_mut().poll(cx));
                Poll::Ready(Some(Err(axum::Error::new(BodyTimeout::Stalled(
                    this.gap.as_millis(),
                )))))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
