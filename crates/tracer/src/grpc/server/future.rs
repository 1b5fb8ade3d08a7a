//! [`ServerFuture`]: waits for the response head, catching panics.

use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use tonic::Code;

use super::ServerBody;
use crate::grpc::BoxError;
use crate::grpc::call::{Call, MessageTap};
use crate::grpc::status::{
    GRPC_MESSAGE, GRPC_STATUS, code_from_error, code_from_headers, code_from_http,
    message_from_headers,
};

/// The `grpc-message` of the response a panicking handler is replaced with.
pub(super) const PANIC_MESSAGE: &str = "handler panicked";

pin_project_lite::pin_project! {
    /// The response future of [`GrpcServerService`](super::GrpcServerService).
    ///
    /// Keeps the call's context current while the handler runs, turns a panic into a
    /// trailers-only `INTERNAL` response, and hands the span to the response body (or ends it
    /// at once for a trailers-only response). Dropped before the response, it ends the span as
    /// `CANCELLED` (or `DEADLINE_EXCEEDED` once the call's deadline has passed).
    pub struct ServerFuture<F> {
        #[pin]
        inner: F,
        call: Option<Call>,
        sent: Option<MessageTap>,
    }
}

impl<F> ServerFuture<F> {
    pub(super) fn new(inner: F, call: Option<Call>, sent: Option<MessageTap>) -> Self {
        Self { inner, call, sent }
    }
}

impl<F, B, E> Future for ServerFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Into<BoxError>,
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Output = Result<Response<ServerBody<B>>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let polled = {
            let _attached = this.call.as_ref().map(Call::attach);
            let inner = this.inner;
            panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx)))
        };
        let outcome = match polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(outcome)) => outcome,
            Err(payload) => {
                if let Some(mut call) = this.call.take() {
                    call.panicked(&*payload);
                    call.finish(Code::Internal, Some(PANIC_MESSAGE.into()));
                }
                return Poll::Ready(Ok(panic_response()));
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
                // Trailers-only: the status is in the headers and the body is empty.
                call.finish(code, message_from_headers(&parts.headers).map(Into::into));
            } else if parts.status != StatusCode::OK {
                call.finish(code_from_http(parts.status), None);
            }
            (!call.is_done()).then_some(call)
        });
        let body = ServerBody::new(body, call, this.sent.take());
        Poll::Ready(Ok(Response::from_parts(parts, body)))
    }
}

/// The trailers-only `INTERNAL` response that replaces a panicking handler's.
fn panic_response<B>() -> Response<ServerBody<B>> {
    let mut response = Response::new(ServerBody::empty());
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.insert(GRPC_STATUS, HeaderValue::from_static("13"));
    headers.insert(GRPC_MESSAGE, HeaderValue::from_static("handler%20panicked"));
    response
}
