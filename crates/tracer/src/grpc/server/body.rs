//! [`ServerBody`]: the response body, which reads the status from the trailers.

use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use http_body::{Body, Frame, SizeHint};
use tonic::Code;

use super::future::PANIC_MESSAGE;
use crate::grpc::BoxError;
use crate::grpc::call::{Call, MessageTap};
use crate::grpc::status::{
    GRPC_MESSAGE, GRPC_STATUS, code_from_error, code_from_headers, message_from_headers,
};

pin_project_lite::pin_project! {
    /// The response body of [`GrpcServerService`](super::GrpcServerService).
    ///
    /// Ends the span when the trailers go out, with the `grpc-status` they carry; when dropped
    /// earlier (the client went away mid-stream) the span ends as `CANCELLED`. A panic while
    /// producing a stream message ends the stream with `INTERNAL` trailers.
    pub struct ServerBody<B> {
        #[pin]
        inner: Option<B>,
        call: Option<Call>,
        sent: Option<MessageTap>,
        trailers: Option<HeaderMap>,
    }
}

impl<B> ServerBody<B> {
    pub(super) fn new(inner: B, call: Option<Call>, sent: Option<MessageTap>) -> Self {
        Self {
            inner: Some(inner),
            call,
            sent,
            trailers: None,
        }
    }

    /// The empty body of a trailers-only response.
    pub(super) fn empty() -> Self {
        Self {
            inner: None,
            call: None,
            sent: None,
            trailers: None,
        }
    }
}

impl<B> Body for ServerBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let mut this = self.project();
        let Some(inner) = this.inner.as_mut().as_pin_mut() else {
            return Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))));
        };
        let polled = {
            let _attached = this.call.as_ref().map(Call::attach);
            panic::catch_unwind(AssertUnwindSafe(|| inner.poll_frame(cx)))
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
                trailers.insert(GRPC_STATUS, HeaderValue::from_static("13"));
                trailers.insert(GRPC_MESSAGE, HeaderValue::from_static("handler%20panicked"));
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
                    if let Some(tap) = this.sent.as_mut() {
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
        match &self.inner {
            Some(inner) => inner.is_end_stream(),
            None => self.trailers.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Some(inner) => inner.size_hint(),
            None => SizeHint::with_exact(0),
        }
    }
}
