//! Bounded query work: a pool of query slots and response bodies written in chunks.
//!
//! A trace of 200,000 spans is some 35 MB in the store and several hundred MB as Jaeger or OTLP
//! JSON, and a search may return many such traces. So a response whose size follows the data is
//! never built whole: a blocking thread converts the spans a chunk at a time and writes the JSON
//! into a `BodyWriter`, which hands the body to the connection in [`CHUNK_BYTES`] pieces
//! through a channel of [`CHANNEL_CHUNKS`] slots. A response then costs memory proportional to a
//! chunk (plus the packed copy of the trace being written), and a client that stops reading
//! stalls only its own writer, which gives up after [`SEND_TIMEOUT`].
//!
//! Query work runs on tokio's blocking pool, never on the async workers that serve ingest, and
//! at most [`QueryLimiter::permits`] queries run at once; a query that finds every slot taken
//! waits up to [`QUEUE_TIMEOUT`] and is then answered 503 with `Retry-After`.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use http_body::Frame;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

/// Size of one piece of a streamed response body.
pub const CHUNK_BYTES: usize = 64 << 10;

/// Spans converted per hold of the name and value readers while a trace is streamed.
pub(crate) const CONVERT_SPANS: usize = 256;

/// Pieces buffered between the writing thread and the connection.
pub const CHANNEL_CHUNKS: usize = 4;

/// How long a writer waits for a client to take the next piece before giving up.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a query waits for a free slot before it is answered 503.
pub const QUEUE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one search may walk the store before it is answered 503.
pub const SEARCH_TIMEOUT: Duration = Duration::from_secs(30);

/// The pool of query slots shared by the query handlers.
#[derive(Debug, Clone)]
pub struct QueryLimiter {
    slots: Arc<Semaphore>,
    permits: usize,
}

impl QueryLimiter {
    /// A pool of `permits` slots (at least 1).
    pub fn new(permits: usize) -> Self {
        let permits = permits.clamp(1, Semaphore::MAX_PERMITS);
        QueryLimiter {
            slots: Arc::new(Semaphore::new(permits)),
            permits,
        }
    }

    /// Number of queries that may run at once.
    pub fn permits(&self) -> usize {
        self.permits
    }

    /// Waits for a slot, up to [`QUEUE_TIMEOUT`]; the error is the 503 to answer.
    pub(crate) async fn acquire(&self) -> Result<OwnedSemaphorePermit, Busy> {
        match tokio::time::timeout(QUEUE_TIMEOUT, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(Busy {
                permits: self.permits,
            }),
        }
    }
}

impl Default for QueryLimiter {
    fn default() -> Self {
        QueryLimiter::new(default_query_slots())
    }
}

/// Query slots by default: the number of CPUs, at least 2, at most 8.
pub fn default_query_slots() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8))
}

/// Every query slot stayed taken for [`QUEUE_TIMEOUT`].
#[derive(Debug, Clone, Copy)]
pub struct Busy {
    permits: usize,
}

impl Busy {
    /// The message of the 503.
    pub fn message(self) -> String {
        format!(
            "all {} query slots are busy (waited {} s); retry later",
            self.permits,
            QUEUE_TIMEOUT.as_secs()
        )
    }
}

/// A response body fed by a `BodyWriter`.
struct ChannelBody {
    rx: mpsc::Receiver<Bytes>,
}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx
            .poll_recv(cx)
            .map(|chunk| chunk.map(|b| Ok(Frame::data(b))))
    }
}

/// Writes a response body in [`CHUNK_BYTES`] pieces from a blocking thread.
pub(crate) struct BodyWriter {
    buf: Vec<u8>,
    tx: mpsc::Sender<Bytes>,
    runtime: tokio::runtime::Handle,
}

impl BodyWriter {
    /// Spawns `write` on the blocking pool, holding `permit` until it returns, and answers
    /// `status` with the JSON body it writes. Call from within the runtime.
    pub(crate) fn respond(
        status: StatusCode,
        permit: OwnedSemaphorePermit,
        write: impl FnOnce(&mut BodyWriter) -> io::Result<()> + Send + 'static,
    ) -> Response {
        let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
        let mut writer = BodyWriter {
            buf: Vec::with_capacity(CHUNK_BYTES),
            tx,
            runtime: tokio::runtime::Handle::current(),
        };
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let result = write(&mut writer).and_then(|()| writer.send());
            if let Err(e) = result {
                tracing::debug!(error = %e, "streamed query response ended early");
            }
        });
        let mut response = (status, Body::new(ChannelBody { rx })).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }

    /// Writes `value` as JSON.
    pub(crate) fn json<T: serde::Serialize + ?Sized>(&mut self, value: &T) -> io::Result<()> {
        serde_json::to_writer(&mut *self, value).map_err(io::Error::other)
    }

    /// Writes raw JSON text.
    pub(crate) fn raw(&mut self, text: &str) -> io::Result<()> {
        io::Write::write_all(self, text.as_bytes())
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(CHUNK_BYTES),
        ));
        let tx = self.tx.clone();
        match self
            .runtime
            .block_on(tokio::time::timeout(SEND_TIMEOUT, tx.send(chunk)))
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the client went away",
            )),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading",
            )),
        }
    }
}

impl io::Write for BodyWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}
