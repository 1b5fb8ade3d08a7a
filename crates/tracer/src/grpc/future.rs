//! [`GrpcFuture`]: the response future of both sides, which waits for the response head.

use std::future::Future;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use tonic::Code;

use super::BoxError;
use super::body::{GrpcBody, PANIC_MESSAGE, panic_status};
use super::call::{Call, MessageTap};
use super::role::{ClientSide, Role, ServerSide};
use super::status::{
    Side, code_from_error, code_from_headers, code_from_http, message_from_headers,
};

/// The response future of [`GrpcServerService`](super::GrpcServerService).
pub type ServerFuture<F> = GrpcFuture<F, ServerSide>;

/// The response future of [`GrpcClientService`](super::GrpcClientService).
pub type ClientFuture<F> = GrpcFuture<F, ClientSide>;

pin_project_lite::pin_project! {
    /// The response future of a traced call, on the side `R`.
    ///
    /// Keeps the call's context current while the inner future runs, and ends the span at once
    /// for a trailers-only response (status in the headers) or a transport error
    /// (`UNAVAILABLE` for a refused connection); otherwise it hands the span to the response
    /// body. Dropped before the response, it ends the span as `CANCELLED` (or
    /// `DEADLINE_EXCEEDED` once the call's deadline has passed). On the server a panicking
    /// handler becomes a trailers-only `INTERNAL` response.
    pub struct GrpcFuture<F, R> {
        #[pin]
        inner: F,
        call: Option<Call>,
        messages: Option<MessageTap>,
        side: PhantomData<R>,
    }
}

impl<F, R> GrpcFuture<F, R> {
    pub(super) fn new(inner: F, call: Call, messages: Option<MessageTap>) -> Self {
        Self {
            inner,
            call: Some(call),
            messages,
            side: PhantomData,
        }
    }
}

impl<F, B, E, R> Future for GrpcFuture<F, R>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Into<BoxError>,
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
    R: Role,
{
    type Output = Result<Response<GrpcBody<B, R>>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let polled = {
            let _attached = this.call.as_ref().map(Call::attach);
            let inner = this.inner;
            match R::SIDE {
                Side::Server => panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))),
                Side::Client => Ok(inner.poll(cx)),
            }
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
        let body = GrpcBody::new(body, call, this.messages.take());
        Poll::Ready(Ok(Response::from_parts(parts, body)))
    }
}

/// The trailers-only `INTERNAL` response that replaces a panicking handler's.
fn panic_response<B, R>() -> Response<GrpcBody<B, R>> {
    let mut response = Response::new(GrpcBody::empty());
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    panic_status(headers);
    response
}
