//! Streams of query results: one that keeps a query span up to date, and one driven by an
//! async block, for results that borrow a connection the stream itself owns.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use futures_util::stream::{Stream, StreamExt as _};
use sqlx::Either;

use super::Dialect;
use super::span::QuerySpan;

/// What sqlx's `fetch_many` yields.
pub(super) type Item<DB> =
    Result<Either<<DB as sqlx::Database>::QueryResult, <DB as sqlx::Database>::Row>, sqlx::Error>;

/// A boxed stream borrowing `'a`, as sqlx's executor returns them.
pub(super) type BoxStream<'a, T> = Pin<Box<dyn Stream<Item = T> + Send + 'a>>;

/// Passes results through, counting rows into the span; ends the span at the end of the
/// results or at the first error (or, through the span's own drop, when dropped early).
pub(super) struct Traced<'a, DB: Dialect> {
    inner: BoxStream<'a, Item<DB>>,
    span: Option<QuerySpan>,
    _db: PhantomData<fn() -> DB>,
}

impl<'a, DB: Dialect> Traced<'a, DB> {
    pub(super) fn new(inner: BoxStream<'a, Item<DB>>, span: QuerySpan) -> Self {
        Self {
            inner,
            span: Some(span),
            _db: PhantomData,
        }
    }
}

impl<DB: Dialect> Stream for Traced<'_, DB> {
    type Item = Item<DB>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let polled = this.inner.poll_next_unpin(cx);
        match &polled {
            Poll::Ready(Some(Ok(Either::Left(result)))) => {
                if let Some(span) = &mut this.span {
                    span.done(DB::rows_affected(result));
                }
            }
            Poll::Ready(Some(Ok(Either::Right(_)))) => {
                if let Some(span) = &mut this.span {
                    span.row();
                }
            }
            Poll::Ready(Some(Err(error))) => {
                if let Some(mut span) = this.span.take() {
                    span.fail::<DB>(error);
                    span.finish();
                }
            }
            Poll::Ready(None) => {
                if let Some(span) = this.span.take() {
                    span.finish();
                }
            }
            Poll::Pending => {}
        }
        polled
    }
}

/// A stream whose items an async block hands over one at a time through a [`Yielder`].
///
/// The block can own a pooled connection and run a query that borrows it, which a plain
/// stream combinator cannot express.
pub(super) struct Driven<'a, T> {
    slot: Arc<Mutex<Option<T>>>,
    driver: Option<Pin<Box<dyn Future<Output = ()> + Send + 'a>>>,
}

/// Hands items from the driving block to the [`Driven`] stream.
pub(super) struct Yielder<T> {
    slot: Arc<Mutex<Option<T>>>,
}

impl<T> Yielder<T> {
    /// Hands `item` over and suspends the block until the stream is polled again.
    pub(super) async fn send(&self, item: T) {
        *self.slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(item);
        SuspendOnce(false).await;
    }
}

/// Pending once, without arranging a wake-up: [`Driven::poll_next`] returns the handed-over
/// item right away, and its caller polls again for the next one.
struct SuspendOnce(bool);

impl Future for SuspendOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            Poll::Pending
        }
    }
}

impl<'a, T: Send + 'a> Driven<'a, T> {
    pub(super) fn new<F, Fut>(body: F) -> Self
    where
        F: FnOnce(Yielder<T>) -> Fut,
        Fut: Future<Output = ()> + Send + 'a,
    {
        let slot = Arc::new(Mutex::new(None));
        let driver = body(Yielder { slot: slot.clone() });
        Self {
            slot,
            driver: Some(Box::pin(driver)),
        }
    }

    fn take_item(&self) -> Option<T> {
        self.slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

impl<'a, T: Send + 'a> Stream for Driven<'a, T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let Some(driver) = self.driver.as_mut() else {
            return Poll::Ready(None);
        };
        match driver.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.driver = None;
                Poll::Ready(self.take_item())
            }
            Poll::Pending => match self.take_item() {
                Some(item) => Poll::Ready(Some(item)),
                None => Poll::Pending,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn driven_stream_yields_in_order_across_real_waits() {
        let stream = Driven::new(|y| async move {
            for i in 0..3 {
                tokio::task::yield_now().await;
                y.send(i).await;
            }
        });
        let items: Vec<i32> = stream.collect().await;
        assert_eq!(items, vec![0, 1, 2]);
    }
}
