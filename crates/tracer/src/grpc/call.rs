//! One traced call: its span (inside a [`Context`]), how it ends, and message counting. Shared
//! by the server and the client layer; the call moves from the response future into the response
//! body, and whoever drops it unfinished ends the span as cancelled.

use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Uri};
use http_body::{Body, Frame, SizeHint};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt};
use opentelemetry::{Context, ContextGuard, KeyValue};
use tonic::Code;

use super::attributes::{self as attr, RpcMethod, Semconv};
use super::hooks::{CallInfo, DefaultSpanName, SkipHealthChecks};
use super::metadata::MetadataExtractor;
use super::status::{Side, code_name, is_error, timeout_from_headers};
use crate::Tracer;
use crate::hooks::{ExtraAttributes, Filter, NoExtraAttributes, SpanNamer};
use crate::span::{Fill, LazyName};

/// Layer settings, shared (behind an `Arc`) by every service a layer makes.
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) tracer: Tracer,
    pub(crate) semconv: Semconv,
    pub(crate) filter: Arc<dyn for<'a> Filter<CallInfo<'a>>>,
    pub(crate) namer: Arc<dyn for<'a> SpanNamer<CallInfo<'a>>>,
    pub(crate) extra: Arc<dyn for<'a> ExtraAttributes<CallInfo<'a>>>,
    pub(crate) message_events: bool,
    /// Client only: `server.address`/`server.port` when the request URI has no authority.
    pub(crate) server_address: Option<(String, Option<u16>)>,
}

impl Settings {
    pub(crate) fn new(tracer: Tracer) -> Self {
        Self {
            tracer,
            semconv: Semconv::default(),
            filter: Arc::new(SkipHealthChecks),
            namer: Arc::new(DefaultSpanName),
            extra: Arc::new(NoExtraAttributes),
            message_events: false,
            server_address: None,
        }
    }

    /// Starts the call for a request.
    ///
    /// The server's parent is the context extracted from the request headers, the client's the
    /// current context. While the tracer is off, or when the filter leaves the call untraced,
    /// the call carries that context but no span (see [`crate::hooks`] for the order of hooks
    /// and sampling).
    pub(crate) fn begin(&self, side: Side, uri: &Uri, headers: &HeaderMap) -> Call {
        let method = RpcMethod::from_path(uri.path());
        let info = CallInfo {
            method,
            headers,
            side,
        };
        let parent = match side {
            Side::Server => self
                .tracer
                .extract(&MetadataExtractor::from_headers(headers)),
            Side::Client => Context::current(),
        };
        let timeout = timeout_from_headers(headers);
        let mut call = Call {
            cx: parent,
            recording: false,
            side,
            semconv: self.semconv,
            deadline: timeout.map(|t| Instant::now() + t),
            counts: None,
            done: false,
        };
        if !self.tracer.is_enabled() || !self.filter.filter(&info) {
            return call;
        }
        let kind = match side {
            Side::Server => SpanKind::Server,
            Side::Client => SpanKind::Client,
        };
        let name = LazyName(|| self.namer.span_name(&info));
        // Built only when the span records (the samplers never read them).
        let attributes = Fill(|attributes: &mut Vec<KeyValue>| {
            let address = match side {
                Side::Server => attr::uri_address(uri),
                Side::Client => attr::uri_address(uri).or_else(|| {
                    self.server_address
                        .as_ref()
                        .map(|(host, port)| (host.as_str(), *port))
                }),
            };
            attr::start_attributes(
                self.semconv,
                &info.method,
                address,
                timeout.map(millis_ceil),
                attributes,
            );
            self.extra.extra_attributes(&info, attributes);
        });
        let Some(span) = self.tracer.span(name, kind, attributes, &call.cx) else {
            return call;
        };
        use opentelemetry::trace::Span as _;
        call.recording = span.is_recording();
        if call.recording && self.message_events {
            call.counts = Some(Arc::default());
        }
        call.cx = call.cx.with_span(span);
        call
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("tracer", &self.tracer)
            .field("semconv", &self.semconv)
            .field("message_events", &self.message_events)
            .field("server_address", &self.server_address)
            .finish_non_exhaustive()
    }
}

fn millis_ceil(d: Duration) -> i64 {
    let ms = d.as_nanos().div_ceil(1_000_000);
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// A call in flight. Ends its span exactly once: through [`Call::finish`], or when dropped
/// unfinished (the peer went away, or the deadline passed).
pub(crate) struct Call {
    /// The parent context plus the call's span (when one was made).
    cx: Context,
    /// Whether `cx` holds a recording span of ours.
    recording: bool,
    side: Side,
    semconv: Semconv,
    /// From `grpc-timeout`: tells an expired deadline from a cancellation when dropped early.
    deadline: Option<Instant>,
    counts: Option<Arc<MessageCounts>>,
    done: bool,
}

/// How much a drop may come before the deadline and still count as the deadline: the timer
/// that enforces it started a moment before this call did.
const DEADLINE_SLACK: Duration = Duration::from_millis(5);

impl Call {
    /// Makes the call's context current until the guard drops.
    pub(crate) fn attach(&self) -> ContextGuard {
        self.cx.clone().attach()
    }

    /// The call's context (its span, or the forwarded parent while tracing is off).
    pub(crate) fn context(&self) -> &Context {
        &self.cx
    }

    /// A tap that counts the messages of one direction, when message events are on.
    pub(crate) fn tap(&self, direction: Direction) -> Option<MessageTap> {
        self.counts.as_ref().map(|counts| MessageTap {
            cx: self.cx.clone(),
            counts: counts.clone(),
            direction,
            frames: FrameCounter::default(),
        })
    }

    /// Records a panic as an `exception` event; the caller then finishes with `INTERNAL`.
    pub(crate) fn panicked(&self, payload: &(dyn Any + Send)) {
        if !self.recording {
            return;
        }
        let message = panic_message(payload);
        self.cx.span().add_event(
            attr::EXCEPTION_EVENT,
            vec![
                KeyValue::new(attr::EXCEPTION_TYPE, "panic"),
                KeyValue::new(attr::EXCEPTION_MESSAGE, message),
            ],
        );
    }

    /// Whether the call's deadline (from `grpc-timeout`) has passed.
    fn deadline_passed(&self) -> bool {
        self.deadline
            .is_some_and(|d| Instant::now() + DEADLINE_SLACK >= d)
    }

    /// Ends the span with outcome `code`; `message` becomes the error description.
    ///
    /// A `CANCELLED` outcome once the deadline has passed is recorded as `DEADLINE_EXCEEDED`:
    /// tonic's server answers an expired `grpc-timeout` with `CANCELLED` (its timeout error maps
    /// so), while gRPC specifies `DEADLINE_EXCEEDED` for it.
    pub(crate) fn finish(&mut self, code: Code, message: Option<Cow<'_, str>>) {
        let code = if code == Code::Cancelled && self.deadline_passed() {
            Code::DeadlineExceeded
        } else {
            code
        };
        self.end(code, message, is_error(code, self.side));
    }

    /// Ends the span with outcome `code`, as an error when `error` is set.
    fn end(&mut self, code: Code, message: Option<Cow<'_, str>>, error: bool) {
        if std::mem::replace(&mut self.done, true) || !self.recording {
            return;
        }
        let span = self.cx.span();
        span.set_attributes(attr::end_attributes(self.semconv, code, error));
        if let Some(counts) = &self.counts {
            span.set_attributes([
                KeyValue::new(
                    attr::TRACER_RPC_MESSAGES_SENT,
                    counts.sent.load(Ordering::Relaxed) as i64,
                ),
                KeyValue::new(
                    attr::TRACER_RPC_MESSAGES_RECEIVED,
                    counts.received.load(Ordering::Relaxed) as i64,
                ),
            ]);
        }
        if error {
            let description = match message {
                Some(m) if !m.is_empty() => m.into_owned(),
                _ => code_name(code).to_owned(),
            };
            span.set_status(Status::error(description));
        }
        span.end();
    }

    /// Whether the call already ended its span.
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if self.deadline_passed() {
            self.finish(Code::DeadlineExceeded, Some("deadline exceeded".into()));
        } else {
            match self.side {
                // The exchange was cut short: an error on the server too, whatever the gRPC
                // server error list says of a CANCELLED a handler answers on purpose (the one
                // cancellation rule shared with HTTP, see the module docs).
                Side::Server => self.end(
                    Code::Cancelled,
                    Some("the client went away before the call completed".into()),
                    true,
                ),
                Side::Client => self.finish(
                    Code::Cancelled,
                    Some("the call was dropped before it completed".into()),
                ),
            }
        }
    }
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("side", &self.side)
            .field("recording", &self.recording)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-text payload".to_owned()
    }
}

/// Messages counted per direction.
#[derive(Debug, Default)]
pub(crate) struct MessageCounts {
    sent: AtomicU64,
    received: AtomicU64,
}

/// The direction of the messages a [`MessageTap`] sees, from this side's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Sent,
    Received,
}

/// Counts the gRPC messages in one body and adds a `tracer.rpc.message` event for each.
pub(crate) struct MessageTap {
    cx: Context,
    counts: Arc<MessageCounts>,
    direction: Direction,
    frames: FrameCounter,
}

impl MessageTap {
    /// Feeds one data frame.
    pub(crate) fn on_data(&mut self, data: &[u8]) {
        let Self {
            cx,
            counts,
            direction,
            frames,
        } = self;
        frames.feed(data, |size| {
            let (counter, kind) = match direction {
                Direction::Sent => (&counts.sent, "SENT"),
                Direction::Received => (&counts.received, "RECEIVED"),
            };
            let id = counter.fetch_add(1, Ordering::Relaxed) + 1;
            cx.span().add_event(
                attr::TRACER_RPC_MESSAGE_EVENT,
                vec![
                    KeyValue::new(attr::TRACER_RPC_MESSAGE_TYPE, kind),
                    KeyValue::new(attr::TRACER_RPC_MESSAGE_ID, id as i64),
                    KeyValue::new(attr::TRACER_RPC_MESSAGE_SIZE, i64::from(size)),
                ],
            );
        });
    }
}

impl fmt::Debug for MessageTap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageTap")
            .field("direction", &self.direction)
            .finish_non_exhaustive()
    }
}

/// Finds message boundaries in a gRPC body: each message is a 1-byte compression flag, a
/// 4-byte big-endian length, then the payload; frames may split or join messages.
#[derive(Debug, Default)]
struct FrameCounter {
    header: [u8; 5],
    have: usize,
    remaining: u64,
}

impl FrameCounter {
    fn feed(&mut self, mut data: &[u8], mut on_message: impl FnMut(u32)) {
        while !data.is_empty() {
            if self.remaining > 0 {
                let skip = usize::try_from(self.remaining)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                self.remaining -= skip as u64;
                data = &data[skip..];
                continue;
            }
            let take = (5 - self.have).min(data.len());
            self.header[self.have..self.have + take].copy_from_slice(&data[..take]);
            self.have += take;
            data = &data[take..];
            if self.have == 5 {
                let [_, a, b, c, d] = self.header;
                let size = u32::from_be_bytes([a, b, c, d]);
                on_message(size);
                self.remaining = u64::from(size);
                self.have = 0;
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// A request body that counts the messages passing through it.
    pub(crate) struct TappedBody<B> {
        #[pin]
        inner: B,
        tap: MessageTap,
    }
}

impl<B> TappedBody<B> {
    pub(crate) fn new(inner: B, tap: MessageTap) -> Self {
        Self { inner, tap }
    }
}

impl<B> Body for TappedBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            this.tap.on_data(data);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(chunks: &[&[u8]]) -> Vec<u32> {
        let mut counter = FrameCounter::default();
        let mut sizes = Vec::new();
        for chunk in chunks {
            counter.feed(chunk, |s| sizes.push(s));
        }
        sizes
    }

    #[test]
    fn messages_are_found_across_frame_boundaries() {
        // Two messages in one frame.
        assert_eq!(count(&[&[0, 0, 0, 0, 2, 9, 9, 0, 0, 0, 0, 1, 7]]), [2, 1]);
        // A header split over three frames, then the payload in a fourth.
        assert_eq!(count(&[&[0, 0], &[0, 0], &[3], &[1, 2, 3]]), [3]);
        // An empty message.
        assert_eq!(count(&[&[0, 0, 0, 0, 0]]), [0]);
    }

    #[test]
    fn deadlines_round_up_to_whole_milliseconds() {
        assert_eq!(millis_ceil(Duration::from_micros(1500)), 2);
        assert_eq!(millis_ceil(Duration::from_millis(250)), 250);
    }
}
