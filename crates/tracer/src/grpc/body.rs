//! [`GrpcBody`]: the response body of both sides, which reads the status from the trailers.

use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use http_body::{Body, Frame, SizeHint};
use tonic::Code;

use super::BoxError;
use super::call::{Call, MessageTap};
use super::role::{ClientSide, Role, ServerSide};
use super::status::{
    GRPC_MESSAGE, GRPC_STATUS, Side, code_from_error, code_from_headers, message_from_headers,
};

/// The `grpc-message` of the status a panicking handler is replaced with.
pub(super) const PANIC_MESSAGE: &str = "handler panicked";

/// The status headers (or trailers) that replace a panicking handler's answer: `INTERNAL`.
pub(super) fn panic_status(headers: &mut HeaderMap) {
    headers.insert(GRPC_STATUS, HeaderValue::from_static("13"));
    headers.insert(GRPC_MESSAGE, HeaderValue::from_static("handler%20panicked"));
}

/// The response body of [`GrpcServerService`](super::GrpcServerService).
pub type ServerBody<B> = GrpcBody<B, ServerSide>;

/// The response body of [`GrpcClientService`](super::GrpcClientService).
pub type ClientBody<B> = GrpcBody<B, ClientSide>;

pin_project_lite::pin_project! {
    /// The response body of a traced call, on the side `R`.
    ///
    /// Ends the span when the trailers pass, with the `grpc-status` they carry; a stream error
    /// ends it with the error's code, and a body dropped before its end (the client went away
    /// mid-stream, or the caller stopped reading) ends it as `CANCELLED`. On the server, a
    /// panic while producing a stream message ends the stream with `INTERNAL` trailers.
    pub struct GrpcBody<B, R> {
        #[pin]
        inner: Option<B>,
        call: Option<Call>,
        messages: Option<MessageTap>,
        side: PhantomData<R>,
    }
}

impl<B, R> GrpcBody<B, R> {
    pub(super) fn new(inner: B, call: Option<Call>, messages: Option<MessageTap>) -> Self {
        Self {
            inner: Some(inner),
            call,
            messages,
            side: PhantomData,
        }
    }

    /// The empty body of a trailers-only response.
    pub(super) fn empty() -> Self {
        Self {
            inner: None,
            call: None,
            messages: None,
            side: PhantomData,
        }
    }
}

impl<B, R> Body for GrpcBody<B, R>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
    R: Role,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let mut this = self.project();
        let Some(inner) = this.inner.as_mut().as_pin_mut() else {
            return Poll::Ready(None);
        };
        let polled = match R::SIDE {
            // The server's body runs the handler's stream: keep its span current, catch panics.
            Side::Server => {
                let _attached = this.call.as_ref().map(Call::attach);
                panic::catch_unwind(AssertUnwindSafe(|| inner.poll_frame(cx)))
            }
            Side::Client => Ok(inner.poll_frame(cx)),
        };
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => {
                this.inner.set(None);
                if let Some(mut call) = this.call.take() {
                    call.panicked(&*payload);
                    call.finish(Code::Internal, Some(PANIC_MESSAGE.into()));
                }
                let mut trailers = HeaderMap::new();
                panic_status(&mut trailers);
                Poll::Ready(Some(Ok(Frame::trailers(trailers))))
            }
            Ok(Poll::Ready(None)) => {
                if let Some(mut call) = this.call.take() {
                    call.finish(
                        Code::Unknown,
                        Some("response ended without grpc-status".into()),
                    );
                }
                Poll::Ready(None)
            }
            Ok(Poll::Ready(Some(Err(err)))) => {
                let err: BoxError = err.into();
                if let Some(mut call) = this.call.take() {
                    call.finish(code_from_error(&*err), Some(err.to_string().into()));
                }
                Poll::Ready(Some(Err(err)))
            }
            Ok(Poll::Ready(Some(Ok(frame)))) => {
                if let Some(data) = frame.data_ref() {
                    if let Some(tap) = this.messages.as_mut() {
                        tap.on_data(data);
                    }
                } else if let Some(trailers) = frame.trailers_ref()
                    && let Some(mut call) = this.call.take()
                {
                    let code = code_from_headers(trailers).unwrap_or(Code::Unknown);
                    call.finish(code, message_from_headers(trailers).map(Into::into));
                }
                Poll::Ready(Some(Ok(frame)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}
