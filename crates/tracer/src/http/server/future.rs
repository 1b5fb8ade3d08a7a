//! [`ResponseFuture`]: runs the handler with the request's context current, catches its panics
//! and hands the span to the response body.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use ::http::{HeaderValue, Response, StatusCode};
use http_body::Body;
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use pin_project_lite::pin_project;

use super::body::{ResponseBody, cancelled};
use super::hooks::ResponseHeader;
use crate::http::attributes::{
    ERROR_TYPE, EXCEPTION_EVENT, EXCEPTION_MESSAGE, EXCEPTION_TYPE, HTTP_RESPONSE_STATUS_CODE,
    OTHER, status_text,
};

/// What a future with a recording span needs to finish it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Traced {
    pub(crate) head: bool,
    pub(crate) response_header: ResponseHeader,
}

pin_project! {
    /// The response future of [`TraceService`](super::TraceService).
    ///
    /// Every poll of the inner future runs with the request's context attached, so spans made
    /// by the handler (client calls, `tracing` spans) are children of the server span. Dropped
    /// before completion (the client went away), it ends the span as cancelled. When there is
    /// nothing to attach (no span, no incoming context, no baggage: tracing off or the request
    /// filtered, and no trace headers), polls go straight to the inner future.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        cx: Context,
        attach: bool,
        traced: Option<Traced>,
        catch_panic: bool,
        done: bool,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if *this.done || this.traced.is_none() {
                return;
            }
            cancelled(this.cx, "the client went away before the response was ready");
            this.cx.span().end();
        }
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(
        inner: F,
        cx: Context,
        attach: bool,
        traced: Option<Traced>,
        catch_panic: bool,
    ) -> Self {
        Self {
            inner,
            cx,
            attach,
            traced,
            catch_panic,
            done: false,
        }
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("traced", &self.traced)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body,
    E: fmt::Display,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        assert!(!*this.done, "ResponseFuture polled after completion");
        let polled = {
            let _current = this.attach.then(|| this.cx.clone().attach());
            let inner = this.inner;
            catch_unwind(AssertUnwindSafe(|| inner.poll(task)))
        };
        let output = match polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(Ok(response))) => Ok(respond(response, this.cx, *this.traced)),
            Ok(Poll::Ready(Err(error))) => {
                if this.traced.is_some() {
                    let span = this.cx.span();
                    span.set_attribute(KeyValue::new(ERROR_TYPE, OTHER));
                    span.set_status(Status::error(error.to_string()));
                    span.end();
                }
                Err(error)
            }
            Err(payload) => {
                *this.done = true;
                if this.traced.is_some() {
                    record_panic(this.cx, &panic_message(payload.as_ref()));
                }
                if !*this.catch_panic {
                    // An outer layer (e.g. tower-http's CatchPanic) answers; the span ends here.
                    if this.traced.is_some() {
                        this.cx.span().end();
                    }
                    resume_unwind(payload);
                }
                let mut response = Response::new(ResponseBody::empty(
                    this.traced.is_some().then(|| this.cx.clone()),
                ));
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                if this.traced.is_some() {
                    this.cx.span().set_attribute(KeyValue::new(
                        HTTP_RESPONSE_STATUS_CODE,
                        i64::from(StatusCode::INTERNAL_SERVER_ERROR.as_u16()),
                    ));
                }
                Ok(response)
            }
        };
        *this.done = true;
        Poll::Ready(output)
    }
}

/// Records the status and hands the span to the body, which ends it once sent.
fn respond<B: Body>(
    response: Response<B>,
    cx: &Context,
    traced: Option<Traced>,
) -> Response<ResponseBody<B>> {
    let Some(traced) = traced else {
        return response.map(|body| ResponseBody::new(body, None, true));
    };
    let status = response.status();
    let code = status.as_u16();
    let span = cx.span();
    span.set_attribute(KeyValue::new(HTTP_RESPONSE_STATUS_CODE, i64::from(code)));
    if status.is_server_error() {
        span.set_attribute(KeyValue::new(ERROR_TYPE, status_text(code)));
        span.set_status(Status::error(""));
    }
    let mut response = response;
    if let Some(name) = traced.response_header.name() {
        let sc = span.span_context();
        let value = format!(
            "00-{}-{}-{:02x}",
            sc.trace_id(),
            sc.span_id(),
            // `sampled` and `random`, as the W3C injector sends them.
            sc.trace_flags().to_u8() & 0x03
        );
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    // Responses that carry no body even if the service produced one: the body is dropped
    // unread, which is completion, not cancellation.
    let expects_body = !(traced.head
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED);
    response.map(|body| ResponseBody::new(body, Some(cx.clone()), expects_body))
}

fn record_panic(cx: &Context, message: &str) {
    let span = cx.span();
    span.add_event(
        EXCEPTION_EVENT,
        vec![
            KeyValue::new(EXCEPTION_TYPE, "panic"),
            KeyValue::new(EXCEPTION_MESSAGE, message.to_owned()),
        ],
    );
    span.set_attribute(KeyValue::new(ERROR_TYPE, "panic"));
    span.set_status(Status::error("the handler panicked"));
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_owned()
    }
}
