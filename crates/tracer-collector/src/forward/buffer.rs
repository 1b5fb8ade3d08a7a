//! The forward buffer: encoded export requests waiting for their upstream, bounded in bytes.
//!
//! Ingest never waits for an upstream: [`ForwardBuffer::push`] always returns at once. When a
//! push takes the buffer past its byte limit, the oldest requests are dropped (and counted, in
//! spans and bytes) until it fits again, so a slow or absent upstream costs at most the limit
//! and the newest data is what is delivered when it returns. A request larger than the whole
//! limit is dropped by itself.
//!
//! With a disk buffer (`disk.rs`) each item carries the numbers of its records in the forward
//! log, so that what was sent or dropped can be checkpointed; in memory they are 0.

use std::collections::VecDeque;
use std::sync::Mutex;

use bytes::Bytes;
use tokio::sync::Notify;

/// One accepted export, encoded as an OTLP `ExportTraceServiceRequest`.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    /// The protobuf bytes.
    pub(crate) bytes: Bytes,
    /// Spans in it.
    pub(crate) spans: u64,
    /// The number of its first record in the disk buffer (0 in memory).
    pub(crate) first: u64,
    /// The number of its last record (a batch joins several).
    pub(crate) last: u64,
}

impl Item {
    /// An item that is in memory only.
    pub(crate) fn new(bytes: Bytes, spans: u64) -> Item {
        Item::numbered(bytes, spans, 0)
    }

    /// An item that is record `number` of the disk buffer.
    pub(crate) fn numbered(bytes: Bytes, spans: u64, number: u64) -> Item {
        Item {
            bytes,
            spans,
            first: number,
            last: number,
        }
    }
}

/// What a push displaced.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dropped {
    /// Spans dropped.
    pub(crate) spans: u64,
    /// Bytes dropped.
    pub(crate) bytes: u64,
    /// The highest record number dropped (0 when none, or in memory).
    pub(crate) last: u64,
}

#[derive(Debug, Default)]
struct Inner {
    items: VecDeque<Item>,
    bytes: usize,
    spans: u64,
    closed: bool,
}

/// A FIFO of [`Item`]s holding at most `limit` bytes.
#[derive(Debug)]
pub(crate) struct ForwardBuffer {
    limit: usize,
    inner: Mutex<Inner>,
    ready: Notify,
}

impl ForwardBuffer {
    /// An empty buffer of at most `limit` bytes.
    pub(crate) fn new(limit: usize) -> Self {
        ForwardBuffer {
            limit,
            inner: Mutex::new(Inner::default()),
            ready: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends `item`, dropping the oldest items while over the limit; returns what was dropped.
    pub(crate) fn push(&self, item: Item) -> Dropped {
        let mut dropped = Dropped::default();
        {
            let mut inner = self.lock();
            if inner.closed {
                return dropped;
            }
            if item.bytes.len() > self.limit {
                dropped.spans = item.spans;
                dropped.bytes = item.bytes.len() as u64;
                dropped.last = item.last;
                return dropped;
            }
            inner.bytes += item.bytes.len();
            inner.spans += item.spans;
            inner.items.push_back(item);
            while inner.bytes > self.limit {
                let Some(old) = inner.items.pop_front() else {
                    break;
                };
                inner.bytes -= old.bytes.len();
                inner.spans -= old.spans;
                dropped.spans += old.spans;
                dropped.bytes += old.bytes.len() as u64;
                dropped.last = dropped.last.max(old.last);
            }
        }
        self.ready.notify_one();
        dropped
    }

    /// Takes items from the front up to `max_bytes` in all (at least one item when any is
    /// there), concatenated: protobuf messages whose fields are all repeated merge by
    /// concatenation, so the result is one valid `ExportTraceServiceRequest`.
    pub(crate) fn take_batch(&self, max_bytes: usize) -> Option<Item> {
        let mut inner = self.lock();
        let first = inner.items.pop_front()?;
        let (first_number, mut last_number) = (first.first, first.last);
        let mut size = first.bytes.len();
        let mut spans = first.spans;
        let mut parts = vec![first.bytes];
        while let Some(next) = inner.items.front() {
            if size + next.bytes.len() > max_bytes {
                break;
            }
            let next = inner.items.pop_front().expect("front exists");
            size += next.bytes.len();
            spans += next.spans;
            last_number = next.last;
            parts.push(next.bytes);
        }
        inner.bytes -= size;
        inner.spans -= spans;
        drop(inner);
        let bytes = if parts.len() == 1 {
            parts.pop().expect("one part")
        } else {
            let mut joined = Vec::with_capacity(size);
            for p in &parts {
                joined.extend_from_slice(p);
            }
            Bytes::from(joined)
        };
        Some(Item {
            bytes,
            spans,
            first: first_number,
            last: last_number,
        })
    }

    /// Waits until an item is there (or the buffer is closed).
    pub(crate) async fn wait(&self) {
        loop {
            let notified = self.ready.notified();
            {
                let inner = self.lock();
                if !inner.items.is_empty() || inner.closed {
                    return;
                }
            }
            notified.await;
        }
    }

    /// Bytes and spans waiting.
    pub(crate) fn level(&self) -> (usize, u64) {
        let inner = self.lock();
        (inner.bytes, inner.spans)
    }

    /// Refuses further pushes and wakes the waiter, which then drains what is left.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_one();
    }

    /// Whether [`ForwardBuffer::close`] was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(n: usize, spans: u64) -> Item {
        Item::new(Bytes::from(vec![0u8; n]), spans)
    }

    #[test]
    fn drops_the_oldest_when_over_the_limit_and_counts_them() {
        let buffer = ForwardBuffer::new(100);
        assert_eq!(buffer.push(item(40, 1)), Dropped::default());
        assert_eq!(buffer.push(item(40, 2)), Dropped::default());
        assert_eq!(
            buffer.push(item(40, 4)),
            Dropped {
                spans: 1,
                bytes: 40,
                last: 0
            }
        );
        assert_eq!(buffer.level(), (80, 6));
        assert_eq!(
            buffer.push(item(101, 8)),
            Dropped {
                spans: 8,
                bytes: 101,
                last: 0
            }
        );
        assert_eq!(buffer.level(), (80, 6));
    }

    #[test]
    fn batches_concatenate_up_to_the_size() {
        let buffer = ForwardBuffer::new(1000);
        for spans in 1..=4 {
            buffer.push(item(30, spans));
        }
        let batch = buffer.take_batch(70).expect("a batch");
        assert_eq!((batch.bytes.len(), batch.spans), (60, 3));
        let batch = buffer.take_batch(10).expect("an oversized item alone");
        assert_eq!((batch.bytes.len(), batch.spans), (30, 3));
        assert_eq!(buffer.level(), (30, 4));
    }
}
