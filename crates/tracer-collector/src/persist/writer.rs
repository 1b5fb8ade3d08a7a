//! The log writer: one thread owns the active segment; ingest threads hand it framed records
//! and wait (group commit).
//!
//! An append encodes and frames its record on the caller's thread, then, under a short lock,
//! copies it to the pending buffer and leaves a waiter. The writer thread takes everything
//! pending at once, writes it with one `write`, and (under [`FsyncPolicy::Always`]) one
//! `fdatasync`, then answers every waiter of that group: while one group is being synced the
//! next one gathers, so concurrent clients share fsyncs instead of queueing for one each.
//! Under `interval:MS` and `never` the waiters are answered once the group is written (the
//! data is in the kernel, safe from a crash of the collector), and `interval` syncs at most
//! MS later, also when no more records arrive.
//!
//! A failed write or sync answers the group's waiters with the error (the ingest edge turns it
//! into 503 / UNAVAILABLE, so the client retries); the segment is cut back to before the
//! failed write and, after a failed sync, the writer moves on to a new segment, since the old
//! one's unsynced pages may be lost. Past the segment size the writer starts a new segment
//! and deletes the oldest ones while the directory is over its disk budget.
//!
//! A waiter without a record (a barrier, `Log::barrier`) is answered with the next group: by
//! then every group before it is written (and synced under `always`). Records are numbered
//! in append order; the writer knows the first number of each segment, so a log whose reader
//! says how far it has consumed (`Log::release_below`, the forward buffer) has its fully
//! consumed segments deleted.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use serde::Serialize;
use tokio::sync::oneshot;

use super::FsyncPolicy;
use super::segment::{ActiveSegment, SegmentFile};

/// What a waiter hears: `Ok` once its record is durable under the policy.
pub(crate) type Outcome = Result<(), Arc<str>>;

#[derive(Default)]
pub(crate) struct State {
    pub(crate) pending: Vec<u8>,
    pub(crate) waiters: Vec<oneshot::Sender<Outcome>>,
    pub(crate) pending_records: u64,
    pub(crate) pending_spans: u64,
    pub(crate) closed: bool,
    /// Segments all of whose records are numbered below this may be deleted (0: none).
    pub(crate) release_below: u64,
}

/// Counters, served under `persist` in `GET /api/collector/stats`.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) records: AtomicU64,
    pub(crate) spans: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) fsyncs: AtomicU64,
    pub(crate) fsync_errors: AtomicU64,
    pub(crate) write_errors: AtomicU64,
    pub(crate) segments: AtomicU64,
    pub(crate) disk_bytes: AtomicU64,
    pub(crate) deleted_segments: AtomicU64,
    pub(crate) last_fsync_error: Mutex<Option<String>>,
    pub(crate) last_write_error: Mutex<Option<String>>,
}

/// The state shared by the log's handles and its writer thread.
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) wake: Condvar,
    pub(crate) counters: Counters,
}

impl Shared {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What the writer thread needs besides the shared state.
pub(crate) struct Writer {
    pub(crate) shared: Arc<Shared>,
    pub(crate) dir: PathBuf,
    pub(crate) kind: u16,
    pub(crate) policy: FsyncPolicy,
    pub(crate) segment_bytes: u64,
    pub(crate) max_disk_bytes: u64,
    /// Closed segments, oldest first.
    pub(crate) closed: VecDeque<SegmentFile>,
    /// The number of the first record of each closed segment.
    pub(crate) firsts: VecDeque<u64>,
    pub(crate) active: ActiveSegment,
    /// The number of the first record of the active segment.
    pub(crate) active_first: u64,
    /// The number of the next record written.
    pub(crate) next_record: u64,
    /// The `release_below` last acted on.
    pub(crate) released: u64,
}

/// A snapshot of the writer's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WriterStats {
    /// Records written since start.
    pub persisted_records: u64,
    /// Spans in them.
    pub persisted_spans: u64,
    /// Bytes written since start (record headers included).
    pub persisted_bytes: u64,
    /// Segment files in the data directory.
    pub segments: u64,
    /// Bytes of the segment files.
    pub disk_bytes: u64,
    /// Segments deleted to stay within the disk budget since start.
    pub deleted_segments: u64,
    /// Successful `fdatasync` calls since start.
    pub fsyncs: u64,
    /// Failed `fdatasync` calls since start.
    pub fsync_errors: u64,
    /// The last fsync error, if any.
    pub last_fsync_error: Option<String>,
    /// Failed writes since start.
    pub write_errors: u64,
    /// The last write error, if any.
    pub last_write_error: Option<String>,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> WriterStats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let text = |m: &Mutex<Option<String>>| m.lock().unwrap_or_else(|e| e.into_inner()).clone();
        WriterStats {
            persisted_records: get(&self.records),
            persisted_spans: get(&self.spans),
            persisted_bytes: get(&self.bytes),
            segments: get(&self.segments),
            disk_bytes: get(&self.disk_bytes),
            deleted_segments: get(&self.deleted_segments),
            fsyncs: get(&self.fsyncs),
            fsync_errors: get(&self.fsync_errors),
            last_fsync_error: text(&self.last_fsync_error),
            write_errors: get(&self.write_errors),
            last_write_error: text(&self.last_write_error),
        }
    }
}

impl Writer {
    /// The writer thread's loop; returns once the log is closed and everything pending is
    /// written and synced.
    pub(crate) fn run(mut self) {
        let mut buf = Vec::new();
        let mut waiters = Vec::new();
        let mut dirty = false;
        let mut last_sync = Instant::now();
        self.publish_disk();
        loop {
            let (records, spans, closing, release) = {
                let mut st = self.shared.lock();
                loop {
                    if !st.pending.is_empty()
                        || !st.waiters.is_empty()
                        || st.closed
                        || st.release_below > self.released
                    {
                        break;
                    }
                    match self.policy {
                        FsyncPolicy::Interval(every) if dirty => {
                            let due = last_sync + every;
                            let now = Instant::now();
                            if now >= due {
                                break;
                            }
                            st = self
                                .shared
                                .wake
                                .wait_timeout(st, due - now)
                                .unwrap_or_else(|e| e.into_inner())
                                .0;
                        }
                        _ => {
                            st = self.shared.wake.wait(st).unwrap_or_else(|e| e.into_inner());
                        }
                    }
                }
                std::mem::swap(&mut st.pending, &mut buf);
                std::mem::swap(&mut st.waiters, &mut waiters);
                let counts = (
                    st.pending_records,
                    st.pending_spans,
                    st.closed,
                    st.release_below,
                );
                st.pending_records = 0;
                st.pending_spans = 0;
                counts
            };
            if !buf.is_empty() {
                let mut result = self.write(&buf, records, spans);
                if result.is_ok() {
                    match self.policy {
                        FsyncPolicy::Always => {
                            result = self.sync();
                            last_sync = Instant::now();
                        }
                        _ => dirty = true,
                    }
                }
                for w in waiters.drain(..) {
                    // A waiter that gave up (its client left) is fine to miss.
                    let _ = w.send(result.clone());
                }
                buf.clear();
            } else {
                // Barriers only: every group before them is done.
                for w in waiters.drain(..) {
                    let _ = w.send(Ok(()));
                }
            }
            // Numbers were given out at append, whether or not the write succeeded.
            self.next_record += records;
            if release > self.released {
                self.released = release;
                self.release();
            }
            if let FsyncPolicy::Interval(every) = self.policy
                && dirty
                && (last_sync.elapsed() >= every || closing)
            {
                let _ = self.sync();
                dirty = false;
                last_sync = Instant::now();
            }
            if self.active.len >= self.segment_bytes {
                self.rotate();
            }
            if closing && buf.is_empty() && self.shared.lock().pending.is_empty() {
                if self.policy == FsyncPolicy::Never {
                    // Still hand the data to the disk on a clean shutdown.
                    let _ = self.sync();
                }
                return;
            }
        }
    }

    fn write(&mut self, buf: &[u8], records: u64, spans: u64) -> Outcome {
        match self.active.append(buf) {
            Ok(()) => {
                let c = &self.shared.counters;
                c.records.fetch_add(records, Ordering::Relaxed);
                c.spans.fetch_add(spans, Ordering::Relaxed);
                c.bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
                self.publish_disk();
                Ok(())
            }
            Err(e) => {
                let message = format!("cannot write the span log: {e}");
                tracing::error!(error = %e, "span log write failed; exports are refused with 503 until a write succeeds");
                let c = &self.shared.counters;
                c.write_errors.fetch_add(1, Ordering::Relaxed);
                *c.last_write_error.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(message.clone());
                if !e.cut_back {
                    // The file may end in a partial record: later records go to a new one
                    // (replay cuts the partial record off).
                    self.rotate();
                }
                Err(message.into())
            }
        }
    }

    fn sync(&mut self) -> Outcome {
        let c = &self.shared.counters;
        match self.active.sync() {
            Ok(()) => {
                c.fsyncs.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                let message = format!("cannot sync the span log: {e}");
                tracing::error!(error = %e, "span log fsync failed; moving on to a new segment");
                c.fsync_errors.fetch_add(1, Ordering::Relaxed);
                *c.last_fsync_error.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some(message.clone());
                // The kernel may have dropped the unsynced pages: build on a fresh file.
                self.rotate();
                Err(message.into())
            }
        }
    }

    /// Starts a new segment and deletes the oldest while over the disk budget.
    fn rotate(&mut self) {
        let sync = self.policy != FsyncPolicy::Never;
        if sync && let Err(e) = self.active.sync() {
            tracing::warn!(error = %e, "syncing the segment being closed failed");
        }
        let next = match ActiveSegment::create(&self.dir, self.active.seq + 1, self.kind, sync) {
            Ok(next) => next,
            Err(e) => {
                tracing::error!(error = %e, "cannot start a new segment; appending to the current one");
                return;
            }
        };
        let old = std::mem::replace(&mut self.active, next);
        self.closed.push_back(SegmentFile {
            seq: old.seq,
            path: old.path,
            len: old.len,
        });
        self.firsts
            .push_back(std::mem::replace(&mut self.active_first, self.next_record));
        let mut total: u64 = self.closed.iter().map(|s| s.len).sum::<u64>() + self.active.len;
        while total > self.max_disk_bytes {
            let Some(oldest) = self.closed.pop_front() else {
                break;
            };
            let first = self.firsts.pop_front().unwrap_or(0);
            match std::fs::remove_file(&oldest.path) {
                Ok(()) => {
                    total -= oldest.len;
                    self.shared
                        .counters
                        .deleted_segments
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(segment = %oldest.path.display(), bytes = oldest.len, "deleted the oldest segment (disk budget)");
                }
                Err(e) => {
                    tracing::warn!(segment = %oldest.path.display(), error = %e, "cannot delete a segment over the disk budget");
                    self.closed.push_front(oldest);
                    self.firsts.push_front(first);
                    break;
                }
            }
        }
        self.publish_disk();
    }

    /// Deletes the closed segments whose records are all numbered below `released` (the
    /// next segment starts at or below it).
    fn release(&mut self) {
        while let Some(oldest) = self.closed.front() {
            let next_first = self.firsts.get(1).copied().unwrap_or(self.active_first);
            if next_first > self.released {
                break;
            }
            match std::fs::remove_file(&oldest.path) {
                Ok(()) => {
                    tracing::debug!(segment = %oldest.path.display(), "deleted a consumed segment");
                    self.closed.pop_front();
                    self.firsts.pop_front();
                    self.shared
                        .counters
                        .deleted_segments
                        .fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::warn!(segment = %oldest.path.display(), error = %e, "cannot delete a consumed segment");
                    break;
                }
            }
        }
        self.publish_disk();
    }

    fn publish_disk(&self) {
        let c = &self.shared.counters;
        c.segments
            .store(self.closed.len() as u64 + 1, Ordering::Relaxed);
        c.disk_bytes.store(
            self.closed.iter().map(|s| s.len).sum::<u64>() + self.active.len,
            Ordering::Relaxed,
        );
    }
}

/// Deletes the oldest of `segments` (oldest first) while their total passes `budget`,
/// keeping the newest; returns those kept.
pub(crate) fn enforce_budget(mut segments: Vec<SegmentFile>, budget: u64) -> Vec<SegmentFile> {
    let mut total: u64 = segments.iter().map(|s| s.len).sum();
    let mut drop = 0;
    while total > budget && drop + 1 < segments.len() {
        match std::fs::remove_file(&segments[drop].path) {
            Ok(()) => {
                tracing::info!(segment = %segments[drop].path.display(), "deleted a segment over the disk budget at start");
                total -= segments[drop].len;
                drop += 1;
            }
            Err(e) => {
                tracing::warn!(segment = %segments[drop].path.display(), error = %e, "cannot delete a segment over the disk budget");
                break;
            }
        }
    }
    segments.drain(..drop);
    segments
}
