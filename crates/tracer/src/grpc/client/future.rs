//! [`ClientFuture`]: waits for the response head.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use http::{Response, StatusCode};

use super::ClientBody;
use crate::grpc::BoxError;
use crate::grpc::call::{Call, MessageTap};
use crate::grpc::status::{
    code_from_error, code_from_headers, code_from_http, message_from_headers,
};

pin_project_lite::pin_project! {
    /// The response future of [`GrpcClientService`](super::GrpcClientService).
    ///
    /// Ends the span at once for a trailers-only response (status in the headers) or a
    /// transport error (`UNAVAILABLE` for a refused connection), and otherwise hands it to the
    /// response body. Dropped before the response, it ends the span as `CANCELLED`.
    pub struct ClientFuture<F> {
        #[pin]
        inner: F,
        call: Option<Call>,
        received: Option<MessageTap>,
    }
}

impl<F> ClientFuture<F> {
    pub(super) fn new(inner: F, call: Option<Call>, received: Option<MessageTap>) -> Self {
        Self {
            inner,
            call,
            received,
        }
    }
}

impl<F, B, E> Future for ClientFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Into<BoxError>,
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Output = Result<Response<ClientBody<B>>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let outcome = {
            let _attached = this.call.as_ref().map(Call::attach);
            match this.inner.poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(outcome) => outcome,
            }
        };
        let response = match outcome {
            Ok(response) => response,
            Err(err) => {
                let err: BoxError = err.into();
                if let Some(mut call) = this.call.take() {
                    call.finish(code_from_error(&*err), Some(err.to_string().into()));
                }
                return Poll::Ready(Err(err));
            }
        };
        let (parts, body) = response.into_parts();
        let call = this.call.take().and_then(|mut call| {
            if let Some(code) = code_from_headers(&parts.headers) {
                call.finish(code, message_from_headers(&parts.headers).map(Into::into));
            } else if parts.status != StatusCode::OK {
                call.finish(code_from_http(parts.status), None);
            }
            (!call.is_done()).then_some(call)
        });
        let body = ClientBody::new(body, call, this.received.take());
        Poll::Ready(Ok(Response::from_parts(parts, body)))
    }
}
