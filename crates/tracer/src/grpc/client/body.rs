//! [`ClientBody`]: the response body, which reads the status from the trailers.

use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tonic::Code;

use crate::grpc::BoxError;
use crate::grpc::call::{Call, MessageTap};
use crate::grpc::status::{code_from_error, code_from_headers, message_from_headers};

pin_project_lite::pin_project! {
    /// The response body of [`GrpcClientService`](super::GrpcClientService).
    ///
    /// Ends the span when the trailers arrive, with the `grpc-status` they carry; a stream error
    /// ends it with the error's code, and a body dropped before its end (the caller stopped
    /// reading a stream) ends it as `CANCELLED`.
    pub struct ClientBody<B> {
        #[pin]
        inner: B,
        call: Option<Call>,
        received: Option<MessageTap>,
    }
}

impl<B> ClientBody<B> {
    pub(super) fn new(inner: B, call: Option<Call>, received: Option<MessageTap>) -> Self {
        Self {
            inner,
            call,
            received,
        }
    }
}

impl<B> Body for ClientBody<B>
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
        let this = self.project();
        match this.inner.poll_frame(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                if let Some(mut call) = this.call.take() {
                    call.finish(
                        Code::Unknown,
                        Some("response ended without grpc-status".into()),
                    );
                }
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(err))) => {
                let err: BoxError = err.into();
                if let Some(mut call) = this.call.take() {
                    call.finish(code_from_error(&*err), Some(err.to_string().into()));
                }
                Poll::Ready(Some(Err(err)))
            }
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    if let Some(tap) = this.received.as_mut() {
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
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
