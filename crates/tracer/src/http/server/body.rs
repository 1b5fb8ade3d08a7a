//! [`ResponseBody`]: the response body that ends the server span once it has been sent.

use std::fmt;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use http_body::{Body, Frame, SizeHint};
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use pin_project_lite::pin_project;

use crate::http::attributes::{CANCELLED, ERROR_TYPE};

pin_project! {
    /// The body of a traced response.
    ///
    /// The server span ends when the body reports its end (streaming responses are timed whole)
    /// or when the server drops it; dropped before its end (the client disconnected
    /// mid-stream), the span ends as cancelled. Frames are polled with the span current.
    pub struct ResponseBody<B>
    where
        B: Body,
    {
        #[pin]
        inner: Option<B>,
        span: Option<Context>,
        expects_body: bool,
    }

    impl<B> PinnedDrop for ResponseBody<B>
    where
        B: Body,
    {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            let Some(cx) = this.span.take() else { return };
            let complete = !*this.expects_body
                || this.inner.as_mut().as_pin_mut().is_none_or(|b| b.is_end_stream());
            if !complete {
                cancelled(&cx, "the client went away before the response body was sent");
            }
            cx.span().end();
        }
    }
}

impl<B: Body> ResponseBody<B> {
    pub(crate) fn new(inner: B, span: Option<Context>, expects_body: bool) -> Self {
        Self {
            inner: Some(inner),
            span,
            expects_body,
        }
    }

    /// An empty body (the 500 answered for a panic).
    pub(crate) fn empty(span: Option<Context>) -> Self {
        Self {
            inner: None,
            span,
            expects_body: false,
        }
    }
}

impl<B: Body> fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseBody")
            .field("traced", &self.span.is_some())
            .finish_non_exhaustive()
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        task: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let Some(inner) = this.inner.as_mut().as_pin_mut() else {
            return Poll::Ready(None);
        };
        let polled = match this.span {
            Some(cx) => {
                let _current = cx.clone().attach();
                inner.poll_frame(task)
            }
            None => inner.poll_frame(task),
        };
        let finished = match &polled {
            Poll::Pending => false,
            Poll::Ready(None) => true,
            Poll::Ready(Some(Err(_))) => {
                if let Some(cx) = this.span.as_ref() {
                    let span = cx.span();
                    span.set_attribute(KeyValue::new(ERROR_TYPE, "body"));
                    span.set_status(Status::error("the response body failed"));
                }
                true
            }
            Poll::Ready(Some(Ok(_))) => this
                .inner
                .as_mut()
                .as_pin_mut()
                .is_none_or(|b| b.is_end_stream()),
        };
        if finished && let Some(cx) = this.span.take() {
            cx.span().end();
        }
        polled
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

/// Marks the server span as cut short by the client (the one cancellation rule, see the
/// [module docs](super)); the caller ends it.
pub(super) fn cancelled(cx: &Context, why: &'static str) {
    let span = cx.span();
    span.set_attribute(KeyValue::new(ERROR_TYPE, CANCELLED));
    span.set_status(Status::error(why));
}
