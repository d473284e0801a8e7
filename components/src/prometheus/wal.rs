//! The write-ahead log of `prometheus.remote_write` (COMPONENTS.md §6.3): accepted
//! samples are written here before `receive` returns, and every endpoint tails it from
//! its own persisted delivered position, so nothing accepted is lost to a restart.
//!
//! This is ferroalloy's own format, not Prometheus `wlog` (nothing outside this module
//! reads it):
//!
//! * `<data_path>/wal/` holds segment files named by an 8-digit sequence number
//!   (`00000000`, `00000001`, ...). A segment is rolled when the next write would pass
//!   [`WalOptions::segment_size`], and a new segment is started on every open, so an
//!   earlier run's (possibly repaired) tail is never appended to.
//! * A segment is a sequence of frames: `len: u32 LE`, `crc32: u32 LE` (of the
//!   payload), then `len` bytes of payload, a raw-block snappy compression of one
//!   record. A record is a type byte and varint-encoded fields (see [`Record`]).
//! * Every segment is self-contained: a series record defining a ref is written in a
//!   segment before the first sample record there that uses it. Deleting old segments
//!   therefore never loses a series definition, and no checkpoint is needed.
//! * On open every segment is replayed to rebuild the series table (label set → ref,
//!   so refs stay stable across restarts). A torn or corrupt frame ends its segment:
//!   the file is truncated at the last good record, counted, and never a panic.
//!
//! Durability: an append is one `write(2)` of whole frames before `receive` returns,
//! which survives a killed process (the page cache belongs to the kernel). Segments
//! are fsynced when rolled, and the component fsyncs the open segment every
//! [`FSYNC_INTERVAL`]; a machine crash can lose at most that window.
//!
//! Size: the segments together are kept under [`WalOptions::max_total_size`] (1 GiB
//! by default); past it the oldest segments are deleted even if undelivered, with an
//! error log and [`WalStats::segments_dropped`] counting them.

use super::{Labels, Sample};
use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::watch;

/// How often the component fsyncs the open segment: bounds what a machine (not
/// process) crash can lose without an fsync per append.
pub const FSYNC_INTERVAL: Duration = Duration::from_secs(5);

/// Frame header: length and CRC32, both little-endian `u32`.
const HEADER_LEN: u64 = 8;

/// A frame longer than this is corruption, not data: one record holds one appended
/// batch, and refusing huge lengths keeps a flipped length byte from allocating GiBs.
const MAX_RECORD_LEN: u32 = 256 << 20;

const TYPE_SERIES: u8 = 1;
const TYPE_SAMPLES: u8 = 2;

/// A place in the WAL: a segment and a byte offset inside it (always a frame boundary).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Position {
    pub segment: u64,
    pub offset: u64,
}

/// One sample of a sample record: a series ref, a timestamp (ms) and a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefSample {
    pub series: u64,
    pub timestamp_ms: i64,
    pub value: f64,
}

/// A WAL record.
///
/// Encoding (before snappy): a type byte, then for `Series` repeated
/// `ref varint, label count varint, (name len varint, name, value len varint, value)*`,
/// and for `Samples` repeated `ref varint, timestamp zigzag varint, value f64 LE bits`.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Series(Vec<(u64, Labels)>),
    Samples(Vec<RefSample>),
}

/// Why bytes are not a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecError {
    /// The bytes end before the frame or record does (a torn write).
    Torn,
    /// The bytes are there but wrong (bad CRC, bad snappy, bad record).
    Corrupt(&'static str),
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(buf: &mut &[u8]) -> Result<u64, CodecError> {
    let mut v: u64 = 0;
    for i in 0..10 {
        let (&b, rest) = buf
            .split_first()
            .ok_or(CodecError::Corrupt("short varint"))?;
        *buf = rest;
        v |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Ok(v);
        }
    }
    Err(CodecError::Corrupt("varint too long"))
}

fn get_bytes<'a>(buf: &mut &'a [u8]) -> Result<&'a [u8], CodecError> {
    let len = get_varint(buf)?;
    let len = usize::try_from(len).map_err(|_| CodecError::Corrupt("length too large"))?;
    if len > buf.len() {
        return Err(CodecError::Corrupt("length past the record"));
    }
    let (head, rest) = buf.split_at(len);
    *buf = rest;
    Ok(head)
}

fn get_str(buf: &mut &[u8]) -> Result<Arc<str>, CodecError> {
    std::str::from_utf8(get_bytes(buf)?)
        .map(Arc::from)
        .map_err(|_| CodecError::Corrupt("label is not UTF-8"))
}

impl Record {
    /// The uncompressed record bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Record::Series(series) => {
                out.push(TYPE_SERIES);
                for (r, labels) in series {
                    put_varint(&mut out, *r);
                    put_varint(&mut out, labels.len() as u64);
                    for l in labels.iter() {
                        put_varint(&mut out, l.name.len() as u64);
                        out.extend_from_slice(l.name.as_bytes());
                        put_varint(&mut out, l.value.len() as u64);
                        out.extend_from_slice(l.value.as_bytes());
                    }
                }
            }
            Record::Samples(samples) => {
                out.push(TYPE_SAMPLES);
                for s in samples {
                    put_sample(&mut out, s.series, s.timestamp_ms, s.value);
                }
            }
        }
        out
    }

    /// Parses uncompressed record bytes.
    pub fn decode(mut buf: &[u8]) -> Result<Record, CodecError> {
        let (&kind, rest) = buf
            .split_first()
            .ok_or(CodecError::Corrupt("empty record"))?;
        buf = rest;
        match kind {
            TYPE_SERIES => {
                let mut series = Vec::new();
                while !buf.is_empty() {
                    let r = get_varint(&mut buf)?;
                    let n = get_varint(&mut buf)?;
                    let mut pairs = Vec::new();
                    for _ in 0..n {
                        let name = get_str(&mut buf)?;
                        let value = get_str(&mut buf)?;
                        pairs.push((name, value));
                    }
                    series.push((r, Labels::from_pairs(pairs)));
                }
                Ok(Record::Series(series))
            }
            TYPE_SAMPLES => {
                // A sample takes at least 10 bytes (ref, timestamp, value).
                let mut samples = Vec::with_capacity(buf.len() / 10);
                while !buf.is_empty() {
                    let series = get_varint(&mut buf)?;
                    let z = get_varint(&mut buf)?;
                    let timestamp_ms = ((z >> 1) as i64) ^ -((z & 1) as i64);
                    if buf.len() < 8 {
                        return Err(CodecError::Corrupt("short sample value"));
                    }
                    let (bits, rest) = buf.split_at(8);
                    buf = rest;
                    let mut b = [0u8; 8];
                    b.copy_from_slice(bits);
                    samples.push(RefSample {
                        series,
                        timestamp_ms,
                        value: f64::from_bits(u64::from_le_bytes(b)),
                    });
                }
                Ok(Record::Samples(samples))
            }
            _ => Err(CodecError::Corrupt("unknown record type")),
        }
    }

    /// The record as one frame: header, then the snappy-compressed record.
    pub fn frame(&self) -> Vec<u8> {
        let mut out = Vec::new();
        push_frame(&mut snap::raw::Encoder::new(), &self.encode(), &mut out);
        out
    }

    /// Parses one frame at the start of `buf`: the record and the frame's length.
    pub fn unframe(buf: &[u8]) -> Result<(Record, usize), CodecError> {
        let payload = frame_payload(buf)?;
        Ok((
            decode_payload(payload)?,
            HEADER_LEN as usize + payload.len(),
        ))
    }
}

/// The checked payload of the frame at the start of `buf`.
fn frame_payload(buf: &[u8]) -> Result<&[u8], CodecError> {
    if buf.len() < HEADER_LEN as usize {
        return Err(CodecError::Torn);
    }
    let (len, crc) = parse_header(&buf[..HEADER_LEN as usize])?;
    let end = HEADER_LEN as usize + len as usize;
    if buf.len() < end {
        return Err(CodecError::Torn);
    }
    let payload = &buf[HEADER_LEN as usize..end];
    if crc32fast::hash(payload) != crc {
        return Err(CodecError::Corrupt("CRC mismatch"));
    }
    Ok(payload)
}

fn parse_header(h: &[u8]) -> Result<(u32, u32), CodecError> {
    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
    let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    if len == 0 || len > MAX_RECORD_LEN {
        // A zero length is what a preallocated or zero-filled tail looks like.
        return Err(CodecError::Corrupt("bad frame length"));
    }
    Ok((len, crc))
}

fn decode_payload(payload: &[u8]) -> Result<Record, CodecError> {
    let raw = snap::raw::Decoder::new()
        .decompress_vec(payload)
        .map_err(|_| CodecError::Corrupt("bad snappy block"))?;
    Record::decode(&raw)
}

/// Settings that are not Alloy arguments; tests shrink them.
#[derive(Debug, Clone)]
pub struct WalOptions {
    /// A segment is rolled when the next append would grow it past this.
    pub segment_size: u64,
    /// The segments' total size cap; the oldest are deleted past it.
    pub max_total_size: u64,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            // Prometheus' segment size; large enough that rolling is rare.
            segment_size: 128 << 20,
            // A bound on the disk an unreachable endpoint can make us use.
            max_total_size: 1 << 30,
        }
    }
}

/// Counters, for tests and (later) the `prometheus_remote_write_wal_*` metrics.
#[derive(Debug, Default)]
pub struct WalStats {
    /// Frames found torn or corrupt on open (each ends its segment).
    pub corrupt_frames: AtomicU64,
    /// Segments deleted undelivered because of the size cap or `max_keepalive_time`.
    pub segments_dropped: AtomicU64,
    /// Samples appended.
    pub samples_appended: AtomicU64,
}

/// The WAL: one writer (appends come from any thread through the lock) and the head
/// position, which readers watch to know how far they may read.
pub struct Wal {
    dir: PathBuf,
    opts: WalOptions,
    /// Shared with readers, which take the writer's label sets for the series they
    /// decode, so a series' labels live in memory once, not once per reader.
    writer: Arc<Mutex<Writer>>,
    head: watch::Sender<Position>,
    /// Each endpoint's delivered position, so truncation keeps what someone needs.
    delivered: Mutex<BTreeMap<String, Position>>,
    pub stats: WalStats,
}

struct Writer {
    file: Option<File>,
    segment: u64,
    offset: u64,
    /// Label set → (ref, the last segment holding its series record), for every
    /// series defined in the current or the two previous segments, so a series seen
    /// there keeps its ref. One table, so an append costs one lookup per sample.
    refs: foldhash::HashMap<Labels, (u64, u64)>,
    next_ref: u64,
    dirty: bool,
    /// Buffers reused by every append: the uncompressed record and the frames.
    scratch: Vec<u8>,
    frames: Vec<u8>,
    snappy: snap::raw::Encoder,
}

fn segment_name(n: u64) -> String {
    format!("{n:08}")
}

/// The segment numbers present in `dir`, ascending.
pub fn list_segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut out: Vec<u64> = fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name();
            let name = name.to_str()?;
            (name.len() == 8 && name.bytes().all(|b| b.is_ascii_digit()))
                .then(|| name.parse().ok())
                .flatten()
        })
        .collect();
    out.sort_unstable();
    Ok(out)
}

/// Reads every good frame of a segment file; returns the records and the offset just
/// past the last good frame, and whether something bad followed it.
fn scan_segment(path: &Path) -> io::Result<(Vec<Record>, u64, bool)> {
    let bytes = fs::read(path)?;
    let mut records = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        match Record::unframe(&bytes[at..]) {
            Ok((record, len)) => {
                records.push(record);
                at += len;
            }
            Err(_) => return Ok((records, at as u64, true)),
        }
    }
    Ok((records, at as u64, false))
}

impl Wal {
    /// Opens (or creates) the WAL in `dir`, replaying and repairing what is there, and
    /// starts a new segment.
    pub fn open(dir: &Path, opts: WalOptions) -> io::Result<Wal> {
        fs::create_dir_all(dir)?;
        let stats = WalStats::default();
        let segments = list_segments(dir)?;
        let mut refs: foldhash::HashMap<Labels, (u64, u64)> = Default::default();
        let mut max_ref = 0u64;
        for &n in &segments {
            let path = dir.join(segment_name(n));
            let (records, good_len, bad) = scan_segment(&path)?;
            if bad {
                stats.corrupt_frames.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    segment = %path.display(),
                    offset = good_len,
                    "Torn or corrupt WAL record; truncating the segment after the last good record."
                );
                OpenOptions::new()
                    .write(true)
                    .open(&path)?
                    .set_len(good_len)?;
            }
            for record in records {
                if let Record::Series(series) = record {
                    for (r, labels) in series {
                        max_ref = max_ref.max(r);
                        refs.insert(labels, (r, n));
                    }
                }
            }
        }
        let segment = segments.last().map_or(0, |n| n + 1);
        let file = create_segment(dir, segment)?;
        let head = Position { segment, offset: 0 };
        let (tx, _) = watch::channel(head);
        Ok(Wal {
            dir: dir.to_path_buf(),
            opts,
            writer: Arc::new(Mutex::new(Writer {
                file: Some(file),
                segment,
                offset: 0,
                refs,
                next_ref: max_ref + 1,
                dirty: false,
                scratch: Vec::new(),
                frames: Vec::new(),
                snappy: snap::raw::Encoder::new(),
            })),
            head: tx,
            delivered: Mutex::new(BTreeMap::new()),
            stats,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The end of the last complete append.
    pub fn head(&self) -> Position {
        *self.head.borrow()
    }

    /// A receiver woken after every append.
    pub fn watch_head(&self) -> watch::Receiver<Position> {
        self.head.subscribe()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends samples: series records for label sets new to this segment, then one
    /// sample record, in one write. Returns once the bytes are written.
    pub fn append(&self, samples: &[Sample]) -> io::Result<()> {
        if samples.is_empty() {
            return Ok(());
        }
        let mut w = self.lock();
        let mut new_refs = w.encode_append(samples);
        if w.offset > 0 && w.offset + w.frames.len() as u64 > self.opts.segment_size {
            self.roll(&mut w)?;
            // The new segment must define every series it uses.
            new_refs = w.encode_append(samples);
        }
        self.write_frames(&mut w, new_refs, samples.len())
    }

    /// Writes `w.frames`.
    fn write_frames(
        &self,
        w: &mut Writer,
        new_refs: Vec<(Labels, u64)>,
        count: usize,
    ) -> io::Result<()> {
        let offset = w.offset;
        let Writer { file, frames, .. } = w;
        let file = match file.as_mut() {
            Some(f) => f,
            None => return Err(io::Error::other("WAL segment is not open")),
        };
        let bytes: &[u8] = frames;
        if let Err(err) = file.write_all(bytes) {
            // Cut a partial frame off, or every later append would follow garbage
            // and be lost at the next replay.
            let _ = file.set_len(offset);
            let _ = file.seek(SeekFrom::Start(offset));
            return Err(err);
        }
        w.offset += bytes.len() as u64;
        w.dirty = true;
        let segment = w.segment;
        for (labels, r) in new_refs {
            w.refs.insert(labels, (r, segment));
            w.next_ref = w.next_ref.max(r + 1);
        }
        self.stats
            .samples_appended
            .fetch_add(count as u64, Ordering::Relaxed);
        self.head.send_replace(Position {
            segment: w.segment,
            offset: w.offset,
        });
        Ok(())
    }

    /// Closes the current segment (fsynced) and starts the next, then enforces the
    /// size cap.
    fn roll(&self, w: &mut Writer) -> io::Result<()> {
        if let Some(f) = w.file.take() {
            f.sync_data()?;
        }
        w.segment += 1;
        w.offset = 0;
        w.file = Some(create_segment(&self.dir, w.segment)?);
        w.dirty = false;
        // Series not defined in the last two segments are forgotten (memory stays
        // bounded by active series); they get a new ref if they come back.
        let segment = w.segment;
        w.refs
            .retain(|_, (_, defined_in)| *defined_in + 2 >= segment);
        self.head.send_replace(Position {
            segment: w.segment,
            offset: 0,
        });
        self.enforce_cap(w.segment);
        Ok(())
    }

    /// Deletes the oldest segments while the total size is over the cap.
    fn enforce_cap(&self, current: u64) {
        let Ok(segments) = list_segments(&self.dir) else {
            return;
        };
        let sizes: Vec<(u64, u64)> = segments
            .iter()
            .map(|&n| {
                let len = fs::metadata(self.dir.join(segment_name(n))).map_or(0, |m| m.len());
                (n, len)
            })
            .collect();
        let mut total: u64 = sizes.iter().map(|(_, l)| l).sum();
        for (n, len) in sizes {
            if total <= self.opts.max_total_size || n >= current {
                break;
            }
            if fs::remove_file(self.dir.join(segment_name(n))).is_ok() {
                total -= len;
                self.stats.segments_dropped.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    segment = n,
                    max_total_size = self.opts.max_total_size,
                    "WAL over its size cap; dropped the oldest segment with undelivered samples."
                );
            }
        }
    }

    /// Fsyncs the open segment if something was written since the last sync.
    pub fn sync(&self) -> io::Result<()> {
        let mut w = self.lock();
        if !w.dirty {
            return Ok(());
        }
        w.dirty = false;
        match &w.file {
            Some(f) => f.sync_data(),
            None => Ok(()),
        }
    }

    /// Records an endpoint's delivered position (for truncation).
    pub fn set_delivered(&self, endpoint: &str, pos: Position) {
        self.delivered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(endpoint.to_string(), pos);
    }

    /// Forgets endpoints not in `keep` (removed from the configuration).
    pub fn retain_endpoints(&self, keep: &HashSet<String>) {
        self.delivered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|k, _| keep.contains(k));
    }

    /// Deletes segments no endpoint needs: below every delivered position (below the
    /// head when there are no endpoints) and last written at least `min_keepalive`
    /// ago; and, needed or not, segments last written more than `max_keepalive` ago.
    /// The open segment is never deleted.
    pub fn truncate(&self, min_keepalive: Duration, max_keepalive: Duration) {
        let current = self.lock().segment;
        let needed = {
            let delivered = self.delivered.lock().unwrap_or_else(|e| e.into_inner());
            delivered
                .values()
                .map(|p| p.segment)
                .min()
                .unwrap_or(current)
        };
        let Ok(segments) = list_segments(&self.dir) else {
            return;
        };
        let now = SystemTime::now();
        for n in segments.into_iter().filter(|&n| n < current) {
            let path = self.dir.join(segment_name(n));
            let age = fs::metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .unwrap_or_default();
            let delete = if n < needed {
                age >= min_keepalive
            } else {
                age > max_keepalive
            };
            if delete && fs::remove_file(&path).is_ok() && n >= needed {
                self.stats.segments_dropped.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    segment = n,
                    "WAL segment older than max_keepalive_time dropped with undelivered samples."
                );
            }
        }
    }

    /// A reader starting at `from`.
    pub fn reader(&self, from: Position) -> WalReader {
        WalReader {
            dir: self.dir.clone(),
            pos: from,
            resume: from,
            file: None,
            series: Default::default(),
            writer: self.writer.clone(),
        }
    }
}

impl Writer {
    /// Encodes the frames for appending `samples` into `self.frames` and returns the
    /// refs they newly define here. The sample record is written straight from the
    /// samples, without an intermediate [`Record`].
    fn encode_append(&mut self, samples: &[Sample]) -> Vec<(Labels, u64)> {
        let mut new_series: Vec<(u64, Labels)> = Vec::new();
        let mut fresh: foldhash::HashMap<Labels, u64> = Default::default();
        let mut next = self.next_ref;
        let mut raw = std::mem::take(&mut self.scratch);
        raw.clear();
        raw.push(TYPE_SAMPLES);
        for s in samples {
            let r = match self.refs.get(&s.labels) {
                Some(&(r, defined_in)) => {
                    // Defined in an earlier segment only: define it here too.
                    if defined_in != self.segment && fresh.insert(s.labels.clone(), r).is_none() {
                        new_series.push((r, s.labels.clone()));
                    }
                    r
                }
                None => match fresh.get(&s.labels) {
                    Some(&r) => r,
                    None => {
                        let r = next;
                        next += 1;
                        fresh.insert(s.labels.clone(), r);
                        new_series.push((r, s.labels.clone()));
                        r
                    }
                },
            };
            put_sample(&mut raw, r, s.timestamp_ms, s.value);
        }
        self.frames.clear();
        let defined: Vec<(Labels, u64)> = new_series.iter().map(|(r, l)| (l.clone(), *r)).collect();
        if !new_series.is_empty() {
            let series = Record::Series(new_series).encode();
            push_frame(&mut self.snappy, &series, &mut self.frames);
        }
        push_frame(&mut self.snappy, &raw, &mut self.frames);
        self.scratch = raw;
        defined
    }
}

/// Appends one frame holding the snappy-compressed `record` to `out`.
fn push_frame(snappy: &mut snap::raw::Encoder, record: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(
        start + HEADER_LEN as usize + snap::raw::max_compress_len(record.len()),
        0,
    );
    let payload_at = start + HEADER_LEN as usize;
    let n = snappy
        .compress(record, &mut out[payload_at..])
        .expect("snappy compresses any input below 4 GiB");
    out.truncate(payload_at + n);
    let crc = crc32fast::hash(&out[payload_at..]);
    out[start..start + 4].copy_from_slice(&(n as u32).to_le_bytes());
    out[start + 4..payload_at].copy_from_slice(&crc.to_le_bytes());
}

/// One sample of a sample record (see [`Record`]).
fn put_sample(out: &mut Vec<u8>, series: u64, timestamp_ms: i64, value: f64) {
    put_varint(out, series);
    // Zigzag, so pre-1970 timestamps stay short too.
    put_varint(out, ((timestamp_ms << 1) ^ (timestamp_ms >> 63)) as u64);
    out.extend_from_slice(&value.to_bits().to_le_bytes());
}

fn create_segment(dir: &Path, n: u64) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(segment_name(n)))?;
    // A fresh segment starts empty even if a stray file had that name.
    file.set_len(0)?;
    Ok(file)
}

/// What a reader yields.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// Samples with their label sets (unknown refs are skipped), and the position
    /// just past the record: delivered once all of them are.
    Samples {
        samples: Vec<(Labels, RefSample)>,
        end: Position,
    },
    /// A record with nothing to send (series definitions); `end` as above.
    Nothing { end: Position },
}

/// Tails the WAL from a position. Synchronous: call it from `spawn_blocking`.
pub struct WalReader {
    dir: PathBuf,
    pos: Position,
    /// Records before this were already delivered: read only for their series.
    resume: Position,
    file: Option<(u64, io::BufReader<File>, u64)>,
    /// Ref → labels for the current segment (segments are self-contained).
    series: foldhash::HashMap<u64, Labels>,
    writer: Arc<Mutex<Writer>>,
}

impl WalReader {
    /// Records series definitions, sharing the writer's copy of each label set when
    /// it has one (it does for everything appended since the process started).
    fn learn(&mut self, series: Vec<(u64, Labels)>) {
        let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        for (r, labels) in series {
            let labels = writer
                .refs
                .get_key_value(&labels)
                .map_or(labels, |(shared, _)| shared.clone());
            self.series.insert(r, labels);
        }
    }

    pub fn position(&self) -> Position {
        self.pos
    }

    /// Reads up to `max` entries below `head`. Missing segments (deleted by the size
    /// cap) are skipped with a warning; a bad frame in a closed segment ends it.
    pub fn read(&mut self, head: Position, max: usize) -> Vec<Entry> {
        let mut out = Vec::new();
        while out.len() < max && self.pos < head {
            match self.next_frame(head) {
                Ok(Some(record)) => {
                    let end = self.pos;
                    if let Some(entry) = self.apply(record, end) {
                        out.push(entry);
                    }
                }
                Ok(None) => {
                    // The end of a closed segment: go on with the next one.
                    if self.pos.segment < head.segment {
                        self.next_segment(head);
                    } else {
                        break;
                    }
                }
                Err(err) => {
                    tracing::warn!(segment = self.pos.segment, error = %err, "Failed to read the WAL; skipping to the next segment.");
                    if self.pos.segment < head.segment {
                        self.next_segment(head);
                    } else {
                        break;
                    }
                }
            }
        }
        out
    }

    fn next_segment(&mut self, head: Position) {
        self.file = None;
        self.series.clear();
        let mut next = self.pos.segment + 1;
        // Jump over segments that are gone (the size cap deleted them).
        if let Ok(segments) = list_segments(&self.dir) {
            if let Some(&n) = segments.iter().find(|&&n| n >= next) {
                if n > next {
                    tracing::error!(
                        from = next,
                        to = n,
                        "WAL segments were deleted before delivery; skipping them."
                    );
                }
                next = n;
            } else {
                next = head.segment;
            }
        }
        self.pos = Position {
            segment: next,
            offset: 0,
        };
    }

    /// The record at the position, advancing past it; `None` at the end of the
    /// segment (or of what is written).
    fn next_frame(&mut self, head: Position) -> io::Result<Option<Record>> {
        let want = self.pos;
        let reopen = !matches!(&self.file, Some((seg, _, _)) if *seg == want.segment);
        if reopen {
            let path = self.dir.join(segment_name(want.segment));
            let file = match File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    if want.segment < head.segment {
                        return Ok(None);
                    }
                    return Err(e);
                }
                Err(e) => return Err(e),
            };
            self.file = Some((want.segment, io::BufReader::with_capacity(1 << 18, file), 0));
            self.series.clear();
            // Replaying from mid-segment: learn the series defined before `pos`.
            if want.offset > 0 {
                self.pos.offset = 0;
                self.resume = self.resume.max(want);
                while self.pos.offset < want.offset {
                    match self.read_frame()? {
                        Some(Record::Series(series)) => self.learn(series),
                        Some(Record::Samples(_)) => {}
                        None => return Ok(None),
                    }
                }
            }
        }
        if want.segment == head.segment && want.offset >= head.offset {
            return Ok(None);
        }
        self.read_frame()
    }

    fn read_frame(&mut self) -> io::Result<Option<Record>> {
        let Some((_, reader, cursor)) = self.file.as_mut() else {
            return Ok(None);
        };
        if *cursor != self.pos.offset {
            reader.seek(SeekFrom::Start(self.pos.offset))?;
            *cursor = self.pos.offset;
        }
        let mut header = [0u8; HEADER_LEN as usize];
        if read_full(reader, &mut header)? < header.len() {
            // Re-read from the same place next time.
            *cursor = u64::MAX;
            return Ok(None);
        }
        let (len, _) = parse_header(&header).map_err(codec_io)?;
        let mut frame = header.to_vec();
        frame.resize(HEADER_LEN as usize + len as usize, 0);
        if read_full(reader, &mut frame[HEADER_LEN as usize..])? < len as usize {
            *cursor = u64::MAX;
            return Ok(None);
        }
        let payload = frame_payload(&frame).map_err(codec_io)?;
        let record = decode_payload(payload).map_err(codec_io)?;
        *cursor += frame.len() as u64;
        self.pos.offset = *cursor;
        Ok(Some(record))
    }

    fn apply(&mut self, record: Record, end: Position) -> Option<Entry> {
        match record {
            Record::Series(series) => {
                self.learn(series);
                (end > self.resume).then_some(Entry::Nothing { end })
            }
            Record::Samples(samples) => {
                if end <= self.resume {
                    return None;
                }
                let samples = samples
                    .into_iter()
                    .filter_map(|s| Some((self.series.get(&s.series)?.clone(), s)))
                    .collect();
                Some(Entry::Samples { samples, end })
            }
        }
    }
}

fn codec_io(err: CodecError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{err:?}"))
}

/// Like `read_exact`, but returns how much was read instead of failing at EOF.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut at = 0;
    while at < buf.len() {
        match r.read(&mut buf[at..]) {
            Ok(0) => break,
            Ok(n) => at += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(at)
}

/// Reads a persisted position; `Ok(None)` when there is none.
pub fn load_position(path: &Path) -> io::Result<Option<Position>> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Persists a position atomically (temporary file, then rename), so a crash leaves
/// either the old or the new position, never a torn one.
pub fn store_position(path: &Path, pos: Position) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let bytes = serde_json::to_vec(&pos).map_err(io::Error::other)?;
    fs::write(&tmp, bytes)?;
    fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().map(|(a, b)| (*a, *b)))
    }

    fn sample(name: &str, t: i64, v: f64) -> Sample {
        Sample {
            labels: labels(&[("__name__", name)]),
            timestamp_ms: t,
            value: v,
        }
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn record_codec_cases() {
        // (name, record, uncompressed encoding in hex)
        let cases = [
            ("empty series record", Record::Series(vec![]), "01"),
            (
                "one series",
                Record::Series(vec![(1, labels(&[("a", "b")]))]),
                "010101016101 62",
            ),
            (
                "big ref",
                Record::Series(vec![(300, labels(&[]))]),
                "01ac0200",
            ),
            (
                "sample with negative timestamp",
                Record::Samples(vec![RefSample {
                    series: 2,
                    timestamp_ms: -1,
                    value: 1.0,
                }]),
                "020201000000000000f03f",
            ),
            (
                "stale marker keeps its NaN bits",
                Record::Samples(vec![RefSample {
                    series: 1,
                    timestamp_ms: 1,
                    value: f64::from_bits(crate::prometheus::STALE_NAN_BITS),
                }]),
                "0201020200000000 00f07f",
            ),
        ];
        let mut failures = Vec::new();
        for (name, record, want) in cases {
            let want = want.replace(' ', "");
            let got = hex(&record.encode());
            if got != want {
                failures.push(format!("{name}: encoded {got}, want {want}"));
                continue;
            }
            let framed = record.frame();
            match Record::unframe(&framed) {
                Ok((back, len)) if len == framed.len() => {
                    // Compare bits so NaN payloads count.
                    if hex(&back.encode()) != want {
                        failures.push(format!("{name}: round trip changed the record"));
                    }
                }
                other => failures.push(format!("{name}: unframe gave {other:?}")),
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn malformed_frames_are_errors_not_panics() {
        let good = Record::Samples(vec![RefSample {
            series: 1,
            timestamp_ms: 5,
            value: 2.0,
        }])
        .frame();
        let mut bad_crc = good.clone();
        let last = bad_crc.len() - 1;
        bad_crc[last] ^= 0xff;
        let mut huge = good.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        let bad_record = |body: &[u8]| {
            let payload = snap::raw::Encoder::new().compress_vec(body).unwrap();
            let mut out = (payload.len() as u32).to_le_bytes().to_vec();
            out.extend(crc32fast::hash(&payload).to_le_bytes());
            out.extend(payload);
            out
        };
        let not_snappy = {
            let payload = [0xffu8, 0xff, 0xff, 0xff, 0xff];
            let mut out = 5u32.to_le_bytes().to_vec();
            out.extend(crc32fast::hash(&payload).to_le_bytes());
            out.extend(payload);
            out
        };
        let cases: Vec<(&str, Vec<u8>, CodecError)> = vec![
            ("empty", vec![], CodecError::Torn),
            ("half a header", good[..5].to_vec(), CodecError::Torn),
            (
                "header without payload",
                good[..8].to_vec(),
                CodecError::Torn,
            ),
            (
                "zero-filled tail",
                vec![0; 16],
                CodecError::Corrupt("bad frame length"),
            ),
            ("huge length", huge, CodecError::Corrupt("bad frame length")),
            ("flipped byte", bad_crc, CodecError::Corrupt("CRC mismatch")),
            (
                "not snappy",
                not_snappy,
                CodecError::Corrupt("bad snappy block"),
            ),
            (
                "unknown type",
                bad_record(&[9]),
                CodecError::Corrupt("unknown record type"),
            ),
            (
                "label length past the end",
                bad_record(&[1, 1, 1, 50, b'a']),
                CodecError::Corrupt("length past the record"),
            ),
            (
                "sample without value",
                bad_record(&[2, 1, 2, 0, 0]),
                CodecError::Corrupt("short sample value"),
            ),
            (
                "endless varint",
                bad_record(&[
                    2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                ]),
                CodecError::Corrupt("varint too long"),
            ),
            (
                "label not UTF-8",
                bad_record(&[1, 1, 1, 1, 0xff, 0]),
                CodecError::Corrupt("label is not UTF-8"),
            ),
        ];
        let mut failures = Vec::new();
        for (name, bytes, want) in cases {
            match Record::unframe(&bytes) {
                Err(got) if got == want => {}
                other => failures.push(format!("{name}: got {other:?}, want {want:?}")),
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    fn read_all(wal: &Wal, from: Position) -> Vec<(String, i64, f64)> {
        let mut r = wal.reader(from);
        let mut out = Vec::new();
        for e in r.read(wal.head(), usize::MAX) {
            if let Entry::Samples { samples, .. } = e {
                for (l, s) in samples {
                    out.push((
                        l.get("__name__").unwrap_or("").to_string(),
                        s.timestamp_ms,
                        s.value,
                    ));
                }
            }
        }
        out
    }

    #[test]
    fn replay_rebuilds_series_and_truncates_a_torn_tail() {
        let dir = tempdir("torn");
        {
            let wal = Wal::open(&dir, WalOptions::default()).unwrap();
            wal.append(&[sample("a", 1, 1.0), sample("b", 1, 2.0)])
                .unwrap();
            wal.append(&[sample("a", 2, 3.0)]).unwrap();
        }
        // A torn write: half of a further frame at the end of segment 0.
        let seg0 = dir.join(segment_name(0));
        let good_len = fs::metadata(&seg0).unwrap().len();
        let frame = Record::Samples(vec![RefSample {
            series: 1,
            timestamp_ms: 3,
            value: 4.0,
        }])
        .frame();
        let mut f = OpenOptions::new().append(true).open(&seg0).unwrap();
        f.write_all(&frame[..frame.len() - 2]).unwrap();
        drop(f);

        let wal = Wal::open(&dir, WalOptions::default()).unwrap();
        assert_eq!(wal.stats.corrupt_frames.load(Ordering::Relaxed), 1);
        assert_eq!(fs::metadata(&seg0).unwrap().len(), good_len);
        assert_eq!(
            wal.head(),
            Position {
                segment: 1,
                offset: 0
            }
        );
        // Refs are kept across the restart: `a` is still ref 1.
        assert_eq!(
            wal.lock()
                .refs
                .get(&labels(&[("__name__", "a")]))
                .map(|e| e.0),
            Some(1)
        );
        wal.append(&[sample("a", 4, 5.0), sample("c", 4, 6.0)])
            .unwrap();
        assert_eq!(
            read_all(&wal, Position::default()),
            [
                ("a".into(), 1, 1.0),
                ("b".into(), 1, 2.0),
                ("a".into(), 2, 3.0),
                ("a".into(), 4, 5.0),
                ("c".into(), 4, 6.0),
            ]
        );
    }

    #[test]
    fn a_reader_resuming_mid_segment_knows_earlier_series_and_skips_earlier_samples() {
        let dir = tempdir("resume");
        let wal = Wal::open(&dir, WalOptions::default()).unwrap();
        wal.append(&[sample("a", 1, 1.0)]).unwrap();
        let mid = wal.head();
        wal.append(&[sample("a", 2, 2.0)]).unwrap();
        assert_eq!(read_all(&wal, mid), [("a".into(), 2, 2.0)]);
    }

    #[test]
    fn segments_roll_are_self_contained_and_are_truncated_once_delivered() {
        let dir = tempdir("roll");
        let opts = WalOptions {
            segment_size: 100,
            max_total_size: 1 << 30,
        };
        let wal = Wal::open(&dir, opts).unwrap();
        for t in 0..20 {
            wal.append(&[sample("a", t, t as f64)]).unwrap();
        }
        let head = wal.head();
        assert!(head.segment > 2, "{head:?}");
        // Every segment defines its series: reading from the start of the last
        // segment still resolves `a`.
        let from = Position {
            segment: head.segment,
            offset: 0,
        };
        assert_eq!(read_all(&wal, from).len(), 20 - read_all_before(&wal, from));
        wal.set_delivered("ep", from);
        wal.truncate(Duration::ZERO, Duration::from_secs(3600));
        assert_eq!(list_segments(&dir).unwrap(), [head.segment]);
        assert_eq!(wal.stats.segments_dropped.load(Ordering::Relaxed), 0);
    }

    fn read_all_before(wal: &Wal, until: Position) -> usize {
        let mut r = wal.reader(Position::default());
        r.read(until, usize::MAX)
            .iter()
            .map(|e| match e {
                Entry::Samples { samples, .. } => samples.len(),
                Entry::Nothing { .. } => 0,
            })
            .sum()
    }

    #[test]
    fn the_size_cap_drops_the_oldest_segments_and_readers_skip_them() {
        let dir = tempdir("cap");
        let opts = WalOptions {
            segment_size: 100,
            max_total_size: 300,
        };
        let wal = Wal::open(&dir, opts).unwrap();
        for t in 0..40 {
            wal.append(&[sample("a", t, t as f64)]).unwrap();
        }
        assert!(wal.stats.segments_dropped.load(Ordering::Relaxed) > 0);
        let total: u64 = list_segments(&dir)
            .unwrap()
            .iter()
            .map(|n| fs::metadata(dir.join(segment_name(*n))).unwrap().len())
            .sum();
        assert!(total <= 300 + 100, "{total}");
        let got = read_all(&wal, Position::default());
        assert_eq!(got.last().map(|s| s.1), Some(39));
    }

    #[test]
    fn positions_are_stored_atomically_and_read_back() {
        let dir = tempdir("pos");
        let path = dir.join("ep.position");
        assert_eq!(load_position(&path).unwrap(), None);
        let pos = Position {
            segment: 3,
            offset: 77,
        };
        store_position(&path, pos).unwrap();
        assert_eq!(load_position(&path).unwrap(), Some(pos));
        assert!(!path.with_extension("tmp").exists());
        fs::write(&path, b"{not json").unwrap();
        assert!(load_position(&path).is_err());
    }

    fn tempdir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "ferroalloy-wal-{name}-{}-{:?}",
            std::process::id(),
            SystemTime::now()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }
}
