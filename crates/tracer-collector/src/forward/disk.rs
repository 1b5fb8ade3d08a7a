//! The forward buffer on disk (`--data-dir`): what waits for an upstream survives a restart
//! of the collector, and a restart resends only what no upstream acknowledged.
//!
//! The buffer is a second log beside the span log, in `DATA_DIR/forward/`, made of the same
//! segment files ([`crate::persist::segment`]: a versioned header, a CRC-32 per record, a torn
//! tail cut at the last good record) with their own content kind
//! ([`KIND_FORWARD_REQUEST`]). Each record is one OTLP export request as it is forwarded:
//!
//! ```text
//! record payload: record number u64 LE | ExportTraceServiceRequest protobuf bytes
//! ```
//!
//! Record numbers grow by one per request, across restarts. Beside the segments,
//! `cursors.json` says, per upstream URL, how far it is done:
//!
//! ```text
//! {"format":1,"upstreams":[{"url":"http://central:4317","sent_below":1042,"in_flight_below":1050}]}
//! ```
//!
//! - `sent_below`: every record numbered below it was delivered, refused for good, or dropped
//!   because the buffer was full; a restart resends the records from there on.
//! - `in_flight_below`: records from `sent_below` up to it were being sent when the file was
//!   written: after a crash they are resent and the upstream may see them twice; their spans
//!   are counted as `maybe_duplicate_spans`. Only these can be duplicated.
//!
//! The file is rewritten (a new file renamed over the old) before and after each export, and
//! never synced: a cursor lost to a power cut is an older one, which means resends, never loss.
//! An unreadable cursor file is a warning and a resend of everything on disk.
//!
//! Durability of the records follows the span log's `--fsync` policy, and an export is
//! acknowledged only once its forward record is durable too (the span log's tickets wait for
//! the forward log, [`crate::persist::Log::wait_also_for`]). RAM still holds the buffer as
//! without a disk (the disk copy is for restarts, the memory one for sending), so the byte
//! limit is the same for both: past it the oldest requests are dropped and counted, and their
//! segments are deleted once every upstream is past them. Disk use stays under twice the
//! limit plus two segments (a safety budget that deletes the oldest segments beyond it).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::buffer::Item;
use super::{Lane, Upstream};
use crate::persist::segment::{self, KIND_FORWARD_REQUEST, SegmentError, SegmentFile};
use crate::persist::{self, FsyncPolicy, Log, PersistError, PersistOptions, Replay};

/// Name of the cursor file in the forward directory.
pub const CURSOR_FILE: &str = "cursors.json";
/// Format version of the cursor file.
const CURSOR_FORMAT: u32 = 1;

/// The cursor file (see the module docs).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CursorFile {
    format: u32,
    upstreams: Vec<UpstreamCursor>,
}

/// How far one upstream is done.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpstreamCursor {
    /// The upstream's URL.
    pub(crate) url: String,
    /// Records below this are done with.
    pub(crate) sent_below: u64,
    /// Records from `sent_below` below this were being sent.
    pub(crate) in_flight_below: u64,
}

/// What one upstream starts with: its records read back from disk.
#[derive(Debug, Default)]
pub(crate) struct LaneStart {
    /// Records to send, oldest first.
    pub(crate) items: Vec<Item>,
    /// Where its cursor stood.
    pub(crate) sent_below: u64,
    /// Spans of the items that may have reached the upstream already.
    pub(crate) maybe_duplicate_spans: u64,
}

/// The disk buffer opened at start (blocking work: reading the segments back), ready to be
/// handed to [`super::Forwarder::start_durable`].
#[derive(Debug)]
pub struct DiskBuffer {
    pub(crate) disk: Disk,
    pub(crate) starts: Vec<LaneStart>,
}

/// The open forward log and its cursor file.
#[derive(Debug)]
pub(crate) struct Disk {
    log: Log,
    /// The number of the next record; held while appending, so numbers follow log order.
    next: Mutex<u64>,
    dir: PathBuf,
    /// Serialises rewrites of the cursor file.
    cursor_write: Mutex<()>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PersistError + '_ {
    move |source| {
        PersistError::Segment(SegmentError::Io {
            path: path.to_owned(),
            source,
        })
    }
}

impl DiskBuffer {
    /// Opens (creating when missing) the forward buffer in `dir` for `upstreams`: reads back
    /// the records each upstream has not finished with, cutting damaged segment tails as the
    /// span log's replay does. `buffer_bytes` is the per-upstream byte limit (it sets the
    /// disk budget).
    pub fn open(
        dir: &Path,
        fsync: FsyncPolicy,
        upstreams: &[Upstream],
        buffer_bytes: usize,
    ) -> Result<DiskBuffer, PersistError> {
        let lock = persist::lock_dir(dir)?;
        let mut replay = Replay::default();
        // Every record on disk, oldest first, and each kept segment's first number.
        let mut records: Vec<(u64, Bytes, u64)> = Vec::new();
        let mut kept: Vec<(SegmentFile, Option<u64>)> = Vec::new();
        for seg in segment::list(dir)? {
            let read = segment::read_segment(&seg.path, KIND_FORWARD_REQUEST)?;
            replay.segments += 1;
            if read.torn_header {
                tracing::warn!(segment = %seg.path.display(), "forward segment shorter than its header (a crash while creating it): removed");
                std::fs::remove_file(&seg.path).map_err(io(&seg.path))?;
                continue;
            }
            let mut first = None;
            for r in read.records() {
                let Some((number, payload)) = r.payload.split_first_chunk::<8>() else {
                    replay.undecodable_records += 1;
                    continue;
                };
                let number = u64::from_le_bytes(*number);
                first.get_or_insert(number);
                records.push((number, Bytes::copy_from_slice(payload), u64::from(r.items)));
            }
            if let Some(tail) = &read.tail {
                tracing::warn!(
                    segment = %seg.path.display(),
                    offset = tail.offset,
                    "damaged forward segment tail cut off at the last good record: dropped {} bytes ({} records) ({})",
                    tail.bytes,
                    tail.records,
                    tail.reason,
                );
                replay.dropped_bytes += tail.bytes;
                replay.dropped_records += tail.records;
                segment::truncate(&seg.path, tail.offset)?;
            }
            let len = std::fs::metadata(&seg.path).map_err(io(&seg.path))?.len();
            kept.push((SegmentFile { len, ..seg }, first));
        }
        let cursors = read_cursors(dir, !records.is_empty());
        let next = records
            .iter()
            .map(|r| r.0 + 1)
            .chain(cursors.iter().map(|c| c.in_flight_below.max(c.sent_below)))
            .max()
            .unwrap_or(1)
            .max(1);
        // A segment without records starts where the next one does.
        let mut following = next;
        let mut firsts = vec![0; kept.len()];
        for (i, (_, first)) in kept.iter().enumerate().rev() {
            following = first.unwrap_or(following);
            firsts[i] = following;
        }
        let starts: Vec<LaneStart> = upstreams
            .iter()
            .map(|up| {
                let Some(cursor) = cursors.iter().find(|c| c.url == up.url) else {
                    // A new upstream (or a first start): it gets what arrives from now on,
                    // unless the cursor file is gone and everything is resent.
                    let from = if cursors.is_empty() { 0 } else { next };
                    return lane_start(&records, from, 0);
                };
                lane_start(&records, cursor.sent_below, cursor.in_flight_below)
            })
            .collect();
        replay.records = records.len() as u64;
        replay.spans = starts.iter().flat_map(|s| &s.items).map(|i| i.spans).sum();
        let segment_bytes = (buffer_bytes as u64 / 8).clamp(64 << 10, 64 << 20);
        let options = PersistOptions::new(dir)
            .fsync(fsync)
            .max_disk_bytes(2 * buffer_bytes as u64 + 2 * segment_bytes);
        let log = persist::start_log(
            &options,
            KIND_FORWARD_REQUEST,
            lock,
            kept.into_iter()
                .zip(firsts)
                .map(|((s, _), first)| (s, first))
                .collect(),
            next,
            replay,
            "forward-log",
        )?;
        if replay_spans(&starts) > 0 {
            tracing::info!(
                spans = replay_spans(&starts),
                "forward buffer read back from disk; resending what the upstreams did not acknowledge"
            );
        }
        let disk = Disk {
            log,
            next: Mutex::new(next),
            dir: dir.to_owned(),
            cursor_write: Mutex::new(()),
        };
        Ok(DiskBuffer { disk, starts })
    }
}

fn replay_spans(starts: &[LaneStart]) -> u64 {
    starts.iter().flat_map(|s| &s.items).map(|i| i.spans).sum()
}

/// The records numbered `from` on, as items; those below `in_flight_below` counted as maybe
/// duplicated.
fn lane_start(records: &[(u64, Bytes, u64)], from: u64, in_flight_below: u64) -> LaneStart {
    let mut start = LaneStart {
        sent_below: from,
        ..LaneStart::default()
    };
    for (number, bytes, spans) in records.iter().filter(|r| r.0 >= from) {
        if *number < in_flight_below {
            start.maybe_duplicate_spans += spans;
        }
        start
            .items
            .push(Item::numbered(bytes.clone(), *spans, *number));
    }
    start
}

/// The cursors of the file in `dir`; empty when there is none, or when it cannot be read
/// (warned about when records wait: they are all resent).
fn read_cursors(dir: &Path, records_on_disk: bool) -> Vec<UpstreamCursor> {
    let path = dir.join(CURSOR_FILE);
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if records_on_disk {
                tracing::warn!(file = %path.display(), "no forward cursor file beside the buffered records: resending all of them");
            }
            return Vec::new();
        }
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "cannot read the forward cursor file: resending everything buffered");
            return Vec::new();
        }
    };
    match serde_json::from_slice::<CursorFile>(&text) {
        Ok(file) if file.format == CURSOR_FORMAT => file.upstreams,
        Ok(file) => {
            tracing::warn!(file = %path.display(), format = file.format, "unknown forward cursor format: resending everything buffered");
            Vec::new()
        }
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "damaged forward cursor file: resending everything buffered");
            Vec::new()
        }
    }
}

impl Disk {
    /// Appends one request to the log; its record number. Does not wait for the disk (the
    /// span log's tickets do, through their barrier).
    pub(crate) fn append(&self, request: &[u8], spans: u64) -> u64 {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let number = *next;
        let appended = self.log.append_with(spans, |out| {
            out.extend_from_slice(&number.to_le_bytes());
            out.extend_from_slice(request);
        });
        if appended.is_err() {
            // Closed: the collector is stopping; the request stays in memory only.
            return 0;
        }
        *next += 1;
        number
    }

    /// The forward log.
    pub(crate) fn log(&self) -> &Log {
        &self.log
    }

    /// Rewrites the cursor file with `cursors` and lets the log delete what every upstream
    /// is done with.
    pub(crate) fn checkpoint(&self, cursors: Vec<UpstreamCursor>) {
        let min = cursors.iter().map(|c| c.sent_below).min().unwrap_or(0);
        let _serial = self.cursor_write.lock().unwrap_or_else(|e| e.into_inner());
        let file = CursorFile {
            format: CURSOR_FORMAT,
            upstreams: cursors,
        };
        let path = self.dir.join(CURSOR_FILE);
        let tmp = self.dir.join(format!("{CURSOR_FILE}.new"));
        let written = serde_json::to_vec(&file)
            .map_err(std::io::Error::other)
            .and_then(|bytes| std::fs::write(&tmp, bytes))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            tracing::warn!(file = %path.display(), error = %e, "cannot write the forward cursor file; a restart may resend more");
        }
        self.log.release_below(min);
    }
}

/// How far a lane is through the disk buffer's records (unused in memory).
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct LaneCursor {
    /// Records below this were delivered or refused for good.
    pub(super) finished_below: u64,
    /// Records below this were dropped (buffer full).
    pub(super) dropped_below: u64,
    /// The first and last record of the batch being sent.
    pub(super) in_flight: Option<(u64, u64)>,
}

impl LaneCursor {
    /// Every record below this is done with.
    pub(super) fn sent_below(&self) -> u64 {
        self.in_flight
            .map_or(self.finished_below.max(self.dropped_below), |(first, _)| {
                first
            })
    }

    fn in_flight_below(&self) -> u64 {
        self.in_flight
            .map_or_else(|| self.sent_below(), |(_, last)| last + 1)
    }
}

/// The disk buffer and the lanes whose cursors it keeps.
#[derive(Debug)]
pub(super) struct Durable {
    pub(super) disk: Disk,
    pub(super) lanes: Vec<Arc<Lane>>,
}

impl Durable {
    /// Writes every lane's cursor and releases what all of them are done with.
    pub(super) fn checkpoint(&self) {
        let cursors = self
            .lanes
            .iter()
            .map(|lane| {
                let cursor = *lane.cursor();
                UpstreamCursor {
                    url: lane.upstream.url.clone(),
                    sent_below: cursor.sent_below(),
                    in_flight_below: cursor.in_flight_below(),
                }
            })
            .collect();
        self.disk.checkpoint(cursors);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forward::Protocol;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("tracer-forward-disk-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn upstreams() -> Vec<Upstream> {
        ["http://a:4317", "http://b:4317"]
            .iter()
            .map(|u| Upstream::new(u, Protocol::Grpc).unwrap())
            .collect()
    }

    fn cursor(url: &str, sent_below: u64, in_flight_below: u64) -> UpstreamCursor {
        UpstreamCursor {
            url: url.into(),
            sent_below,
            in_flight_below,
        }
    }

    /// Waits until everything appended to `buffer`'s log so far is written.
    fn written(buffer: &DiskBuffer) {
        buffer
            .disk
            .log()
            .barrier()
            .blocking_recv()
            .unwrap()
            .unwrap();
    }

    fn numbers(start: &LaneStart) -> Vec<u64> {
        start.items.iter().map(|i| i.first).collect()
    }

    #[test]
    fn a_restart_resends_from_each_upstreams_cursor_and_counts_the_batch_in_flight() {
        let dir = temp_dir("cursor");
        let buffer = DiskBuffer::open(&dir, FsyncPolicy::Always, &upstreams(), 1 << 20).unwrap();
        let appended: Vec<u64> = (1..=10u64)
            .map(|n| buffer.disk.append(&[n as u8; 100], n))
            .collect();
        assert_eq!(appended, (1..=10).collect::<Vec<_>>());
        buffer.disk.checkpoint(vec![
            cursor("http://a:4317", 6, 8),
            cursor("http://b:4317", 11, 11),
        ]);
        buffer.disk.log().close();
        drop(buffer);

        let mut ups = upstreams();
        ups.push(Upstream::new("http://new:4317", Protocol::Grpc).unwrap());
        let buffer = DiskBuffer::open(&dir, FsyncPolicy::Always, &ups, 1 << 20).unwrap();
        let [a, b, new] = &buffer.starts[..] else {
            panic!("three lanes")
        };
        assert_eq!(numbers(a), [6, 7, 8, 9, 10]);
        assert_eq!(a.items[0].bytes, Bytes::from(vec![6u8; 100]));
        assert_eq!(a.maybe_duplicate_spans, 6 + 7);
        assert!(b.items.is_empty(), "b was done with everything");
        assert!(new.items.is_empty(), "a new upstream starts with new data");
        assert_eq!(buffer.disk.append(b"next", 1), 11, "numbers go on");
        buffer.disk.log().close();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_damaged_cursor_file_resends_everything_on_disk() {
        let dir = temp_dir("damaged");
        let buffer = DiskBuffer::open(&dir, FsyncPolicy::Never, &upstreams(), 1 << 20).unwrap();
        for n in 1..=3u64 {
            buffer.disk.append(b"request", n);
        }
        buffer.disk.checkpoint(vec![cursor("http://a:4317", 3, 3)]);
        buffer.disk.log().close();
        drop(buffer);
        std::fs::write(
            dir.join(CURSOR_FILE),
            b"{\"format\":1,\"upstreams\":[{\"url\":",
        )
        .unwrap();
        let buffer = DiskBuffer::open(&dir, FsyncPolicy::Never, &upstreams(), 1 << 20).unwrap();
        assert_eq!(numbers(&buffer.starts[0]), [1, 2, 3]);
        assert_eq!(numbers(&buffer.starts[1]), [1, 2, 3]);
        buffer.disk.log().close();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn segments_every_upstream_is_past_are_deleted() {
        let dir = temp_dir("release");
        // 64 KiB segments: 600 records of 1 KiB fill several.
        let buffer =
            DiskBuffer::open(&dir, FsyncPolicy::Never, &upstreams()[..1], 256 << 10).unwrap();
        let mut last = 0;
        for _ in 0..12 {
            // Groups of 50 KiB (the writer starts a new segment after a group passes 64 KiB).
            for _ in 0..50 {
                last = buffer.disk.append(&[7u8; 1024], 1);
            }
            written(&buffer);
        }
        // Say half is done: the older segments go.
        let before = segment::list(&dir).unwrap().len();
        assert!(before >= 5, "{before} segments");
        buffer
            .disk
            .checkpoint(vec![cursor("http://a:4317", 301, 301)]);
        written(&buffer);
        written(&buffer);
        let half = segment::list(&dir).unwrap().len();
        assert!(half < before && half > 1, "{before} -> {half} segments");
        buffer
            .disk
            .checkpoint(vec![cursor("http://a:4317", last + 1, last + 1)]);
        buffer.disk.log().close();
        drop(buffer);
        assert!(
            segment::list(&dir).unwrap().len() <= 1,
            "only the newest is left"
        );
        let buffer =
            DiskBuffer::open(&dir, FsyncPolicy::Never, &upstreams()[..1], 256 << 10).unwrap();
        assert!(buffer.starts[0].items.is_empty());
        assert_eq!(buffer.disk.append(b"x", 1), last + 1);
        buffer.disk.log().close();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
