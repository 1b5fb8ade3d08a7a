//! Segment files: the on-disk form of the log, independent of what the records hold.
//!
//! A log is a directory of segment files named by a sequence number (`00000000000000000007.seg`,
//! twenty digits so that names sort like numbers); records are only ever appended to the
//! newest. A segment is a 16-byte header followed by records:
//!
//! ```text
//! header: magic "TRACERLG" (8) | format version u16 LE | content kind u16 LE | CRC-32 of the 12 bytes before (4)
//! record: payload length u32 LE | item count u32 LE | CRC-32 of (length, count, payload) u32 LE | payload
//! ```
//!
//! The content kind says what the payloads are ([`KIND_SPAN_BATCH`]: `record.rs` batches), so
//! another log (the forwarder's disk buffer, for one) can use the same files with its own kind
//! and a reader never mistakes one for the other. The item count (spans, for span batches)
//! lets a reader total a segment by reading record headers only.
//!
//! Reading ([`read_segment`]) stops at the first record that is cut short or fails its
//! checksum and reports where and how much follows ([`Tail`]); the caller decides (replay cuts
//! the file there). An unknown magic, version or kind is an error ([`SegmentError`]), never
//! a reason to discard the file.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// First bytes of every segment.
pub const MAGIC: [u8; 8] = *b"TRACERLG";
/// The format version this build writes and reads.
pub const VERSION: u16 = 1;
/// Content kind: records are span batches (`record.rs`).
pub const KIND_SPAN_BATCH: u16 = 1;
/// Content kind: records are the forward buffer's OTLP export requests (`forward/disk.rs`).
pub const KIND_FORWARD_REQUEST: u16 = 2;
/// Bytes of the segment header.
pub const HEADER_LEN: usize = 16;
/// Bytes of a record header.
pub const RECORD_HEADER_LEN: usize = 12;
/// Largest record payload accepted (a length beyond it is corruption).
pub const MAX_RECORD: usize = 1 << 30;
/// File name extension of segments.
pub const EXTENSION: &str = "seg";

/// Why a segment cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The file does not start with [`MAGIC`].
    #[error(
        "{path}: not a tracer segment file (starts with {found:02x?}, expected \"TRACERLG\"); move it out of the data directory"
    )]
    NotASegment {
        /// The file.
        path: PathBuf,
        /// Its first bytes.
        found: Vec<u8>,
    },
    /// The file has a format version this build does not know.
    #[error(
        "{path}: segment format version {version}, this build reads version {VERSION} only; \
         run the tracer-collector release that wrote it, or move the file away (it is not deleted)"
    )]
    UnknownVersion {
        /// The file.
        path: PathBuf,
        /// The version it carries.
        version: u16,
    },
    /// The file holds another kind of records.
    #[error("{path}: segment holds content kind {found}, expected {expected}")]
    WrongKind {
        /// The file.
        path: PathBuf,
        /// The kind it carries.
        found: u16,
        /// The kind asked for.
        expected: u16,
    },
    /// The header's checksum does not match.
    #[error("{path}: segment header fails its checksum; the file is damaged (it is not deleted)")]
    BadHeader {
        /// The file.
        path: PathBuf,
    },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> SegmentError + '_ {
    move |source| SegmentError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The 16-byte header of a segment of `kind`.
pub fn header(kind: u16) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(&MAGIC);
    h[8..10].copy_from_slice(&VERSION.to_le_bytes());
    h[10..12].copy_from_slice(&kind.to_le_bytes());
    let crc = crc32fast::hash(&h[..12]);
    h[12..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Checks a header read from `path`. `None`: the file is shorter than a header (a segment
/// whose creation was cut short).
pub fn check_header(path: &Path, bytes: &[u8], kind: u16) -> Result<Option<()>, SegmentError> {
    if bytes.len() < HEADER_LEN {
        // A prefix of our magic, or nothing: torn at creation. Anything else is not ours.
        let n = bytes.len().min(MAGIC.len());
        if bytes[..n] != MAGIC[..n] {
            return Err(SegmentError::NotASegment {
                path: path.to_owned(),
                found: bytes[..n].to_vec(),
            });
        }
        return Ok(None);
    }
    if bytes[..8] != MAGIC {
        return Err(SegmentError::NotASegment {
            path: path.to_owned(),
            found: bytes[..8].to_vec(),
        });
    }
    let version = u16::from_le_bytes([bytes[8], bytes[9]]);
    if version != VERSION {
        return Err(SegmentError::UnknownVersion {
            path: path.to_owned(),
            version,
        });
    }
    let found = u16::from_le_bytes([bytes[10], bytes[11]]);
    if found != kind {
        return Err(SegmentError::WrongKind {
            path: path.to_owned(),
            found,
            expected: kind,
        });
    }
    let crc = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
    if crc != crc32fast::hash(&bytes[..12]) {
        return Err(SegmentError::BadHeader {
            path: path.to_owned(),
        });
    }
    Ok(Some(()))
}

/// Appends one framed record (header, then `payload`) to `out`.
pub fn frame(payload: &[u8], items: u32, out: &mut Vec<u8>) {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let mut crc = crc32fast::Hasher::new();
    crc.update(&len.to_le_bytes());
    crc.update(&items.to_le_bytes());
    crc.update(payload);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&items.to_le_bytes());
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(payload);
}

/// Frames a record whose payload was written in place: `out[start..]` holds
/// [`RECORD_HEADER_LEN`] placeholder bytes, then the payload; fills in the header.
pub fn frame_in_place(out: &mut [u8], start: usize, items: u32) {
    let payload_len = out.len() - start - RECORD_HEADER_LEN;
    let len = u32::try_from(payload_len).unwrap_or(u32::MAX);
    let mut crc = crc32fast::Hasher::new();
    crc.update(&len.to_le_bytes());
    crc.update(&items.to_le_bytes());
    crc.update(&out[start + RECORD_HEADER_LEN..]);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&items.to_le_bytes());
    out[start + 8..start + 12].copy_from_slice(&crc.finalize().to_le_bytes());
}

/// A segment file found in the log directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentFile {
    /// Its sequence number (from the name).
    pub seq: u64,
    /// Its path.
    pub path: PathBuf,
    /// Its size in bytes.
    pub len: u64,
}

/// The path of segment `seq` in `dir`.
pub fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}.{EXTENSION}"))
}

/// The segments in `dir`, oldest first. Other files are ignored.
pub fn list(dir: &Path) -> Result<Vec<SegmentFile>, SegmentError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let path = entry.path();
        let Some(seq) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".seg"))
            .filter(|stem| stem.len() == 20)
            .and_then(|stem| stem.parse::<u64>().ok())
        else {
            continue;
        };
        let len = entry.metadata().map_err(io_error(&path))?.len();
        out.push(SegmentFile { seq, path, len });
    }
    out.sort_by_key(|s| s.seq);
    Ok(out)
}

/// One record read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef<'a> {
    /// Items the writer counted in it.
    pub items: u32,
    /// The payload.
    pub payload: &'a [u8],
}

/// Where a segment stops being readable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tail {
    /// Offset of the first bad byte: the end of the last good record.
    pub offset: u64,
    /// Bytes from there to the end of the file.
    pub bytes: u64,
    /// Records in those bytes whose headers could still be followed (the bad one included).
    pub records: u64,
    /// What was wrong with the first of them.
    pub reason: &'static str,
}

/// A segment read into memory: its good records, and the damaged tail if any.
#[derive(Debug)]
pub struct ReadSegment {
    /// The whole file.
    pub bytes: Vec<u8>,
    /// Byte ranges (payload start, payload length, items) of the good records, in order.
    records: Vec<(usize, usize, u32)>,
    /// The damaged part, if any.
    pub tail: Option<Tail>,
    /// The file was shorter than a header.
    pub torn_header: bool,
}

impl ReadSegment {
    /// The good records, in order.
    pub fn records(&self) -> impl ExactSizeIterator<Item = RecordRef<'_>> + '_ {
        self.records.iter().map(|&(start, len, items)| RecordRef {
            items,
            payload: &self.bytes[start..start + len],
        })
    }

    /// Items in the good records.
    pub fn items(&self) -> u64 {
        self.records.iter().map(|r| u64::from(r.2)).sum()
    }
}

/// Reads a whole segment of `kind` and checks every record's checksum.
pub fn read_segment(path: &Path, kind: u16) -> Result<ReadSegment, SegmentError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(io_error(path))?;
    if check_header(path, &bytes, kind)?.is_none() {
        return Ok(ReadSegment {
            bytes,
            records: Vec::new(),
            tail: None,
            torn_header: true,
        });
    }
    let mut records = Vec::new();
    let mut at = HEADER_LEN;
    let mut tail = None;
    while at < bytes.len() {
        match record_at(&bytes, at) {
            Ok((len, items)) => {
                records.push((at + RECORD_HEADER_LEN, len, items));
                at += RECORD_HEADER_LEN + len;
            }
            Err(reason) => {
                tail = Some(Tail {
                    offset: at as u64,
                    bytes: (bytes.len() - at) as u64,
                    records: count_frames(&bytes, at),
                    reason,
                });
                break;
            }
        }
    }
    Ok(ReadSegment {
        bytes,
        records,
        tail,
        torn_header: false,
    })
}

/// The record at `at`: (payload length, items), or why it is bad.
fn record_at(bytes: &[u8], at: usize) -> Result<(usize, u32), &'static str> {
    let Some(head) = bytes.get(at..at + RECORD_HEADER_LEN) else {
        return Err("record header cut short");
    };
    let word = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
    let (len, items, crc) = (word(0) as usize, word(4), word(8));
    if len > MAX_RECORD {
        return Err("record length out of range");
    }
    let start = at + RECORD_HEADER_LEN;
    let Some(payload) = bytes.get(start..start + len) else {
        return Err("record cut short");
    };
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&head[..8]);
    hasher.update(payload);
    if hasher.finalize() != crc {
        return Err("checksum mismatch");
    }
    Ok((len, items))
}

/// How many record frames can be followed from `at` by their length fields alone.
fn count_frames(bytes: &[u8], mut at: usize) -> u64 {
    let mut n = 0;
    while at < bytes.len() {
        n += 1;
        let Some(head) = bytes.get(at..at + 4) else {
            break;
        };
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        if len > MAX_RECORD {
            break;
        }
        at += RECORD_HEADER_LEN + len;
    }
    n
}

/// Item counts of a segment's records read from their headers alone (payloads unchecked), for
/// choosing which segments to replay without reading them; stops at the first header that
/// does not fit the file.
pub fn count_items(path: &Path) -> Result<u64, SegmentError> {
    use std::os::unix::fs::FileExt;
    let file = File::open(path).map_err(io_error(path))?;
    let len = file.metadata().map_err(io_error(path))?.len();
    let mut at = HEADER_LEN as u64;
    let mut items = 0u64;
    let mut head = [0u8; RECORD_HEADER_LEN];
    while at + RECORD_HEADER_LEN as u64 <= len {
        file.read_exact_at(&mut head, at).map_err(io_error(path))?;
        let payload = u64::from(u32::from_le_bytes([head[0], head[1], head[2], head[3]]));
        at += RECORD_HEADER_LEN as u64 + payload;
        if at > len {
            break;
        }
        items += u64::from(u32::from_le_bytes([head[4], head[5], head[6], head[7]]));
    }
    Ok(items)
}

/// Cuts `path` to `len` bytes and syncs it.
pub fn truncate(path: &Path, len: u64) -> Result<(), SegmentError> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_error(path))?;
    file.set_len(len).map_err(io_error(path))?;
    file.sync_all().map_err(io_error(path))
}

/// Syncs a directory, so that files created or removed in it stay so after a crash.
pub fn sync_dir(dir: &Path) -> Result<(), SegmentError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir))
}

/// A failed [`ActiveSegment::append`].
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct AppendError {
    /// What failed.
    pub error: SegmentError,
    /// Whether the file was cut back to before the write (else it may end in a partial record).
    pub cut_back: bool,
}

/// The segment being appended to.
#[derive(Debug)]
pub struct ActiveSegment {
    /// Its sequence number.
    pub seq: u64,
    /// Its path.
    pub path: PathBuf,
    file: File,
    /// Bytes written (header included).
    pub len: u64,
}

impl ActiveSegment {
    /// Creates segment `seq` of `kind` in `dir` (which must not exist yet) and writes its
    /// header; `sync` also syncs the file and the directory.
    pub fn create(dir: &Path, seq: u64, kind: u16, sync: bool) -> Result<Self, SegmentError> {
        let path = segment_path(dir, seq);
        let mut file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(io_error(&path))?;
        file.write_all(&header(kind)).map_err(io_error(&path))?;
        if sync {
            file.sync_data().map_err(io_error(&path))?;
            sync_dir(dir)?;
        }
        Ok(ActiveSegment {
            seq,
            path,
            file,
            len: HEADER_LEN as u64,
        })
    }

    /// Appends framed records. On error the file is cut back to where it was, so a failed
    /// write leaves no partial record behind; when the cut fails too,
    /// [`AppendError::cut_back`] is false and the caller should start a new segment.
    pub fn append(&mut self, bytes: &[u8]) -> Result<(), AppendError> {
        match self.file.write_all(bytes) {
            Ok(()) => {
                self.len += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                let cut = self.file.set_len(self.len);
                let cut_back = cut.is_ok();
                let source = match cut {
                    Ok(()) => e,
                    Err(cut) => io::Error::new(
                        e.kind(),
                        format!("{e}; cutting the partial write failed too: {cut}"),
                    ),
                };
                Err(AppendError {
                    error: SegmentError::Io {
                        path: self.path.clone(),
                        source,
                    },
                    cut_back,
                })
            }
        }
    }

    /// Flushes the written records to stable storage (`fdatasync`).
    pub fn sync(&self) -> Result<(), SegmentError> {
        self.file.sync_data().map_err(io_error(&self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tracer-seg-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn records_read_back_and_a_damaged_tail_is_located() {
        let dir = temp_dir("tail");
        let mut seg = ActiveSegment::create(&dir, 3, KIND_SPAN_BATCH, true).unwrap();
        let mut bytes = Vec::new();
        for i in 0..5u8 {
            frame(&[i; 100], u32::from(i), &mut bytes);
        }
        seg.append(&bytes).unwrap();
        seg.sync().unwrap();
        let read = read_segment(&seg.path, KIND_SPAN_BATCH).unwrap();
        assert_eq!(read.records().len(), 5);
        assert_eq!(read.items(), 10);
        assert_eq!(read.tail, None);
        assert_eq!(count_items(&seg.path).unwrap(), 10);

        // Flip a payload byte of the fourth record: three good records, two dropped.
        let mut damaged = std::fs::read(&seg.path).unwrap();
        let fourth = HEADER_LEN + 3 * (RECORD_HEADER_LEN + 100);
        damaged[fourth + RECORD_HEADER_LEN + 7] ^= 0x10;
        std::fs::write(&seg.path, &damaged).unwrap();
        let read = read_segment(&seg.path, KIND_SPAN_BATCH).unwrap();
        assert_eq!(read.records().len(), 3);
        let tail = read.tail.unwrap();
        assert_eq!(tail.offset, fourth as u64);
        assert_eq!(tail.records, 2);
        assert_eq!(tail.reason, "checksum mismatch");

        // Cut mid-record.
        std::fs::write(&seg.path, &damaged[..fourth + 50]).unwrap();
        let read = read_segment(&seg.path, KIND_SPAN_BATCH).unwrap();
        assert_eq!(read.tail.unwrap().reason, "record cut short");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn foreign_files_and_unknown_versions_are_errors() {
        let dir = temp_dir("header");
        let path = segment_path(&dir, 1);
        let mut h = header(KIND_SPAN_BATCH);
        h[8] = 9;
        std::fs::write(&path, h).unwrap();
        let e = read_segment(&path, KIND_SPAN_BATCH).unwrap_err();
        assert!(
            matches!(e, SegmentError::UnknownVersion { version: 9, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("version 9"), "{e}");
        std::fs::write(&path, b"hello world, not ours").unwrap();
        assert!(matches!(
            read_segment(&path, KIND_SPAN_BATCH),
            Err(SegmentError::NotASegment { .. })
        ));
        std::fs::write(&path, &MAGIC[..5]).unwrap();
        assert!(read_segment(&path, KIND_SPAN_BATCH).unwrap().torn_header);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
