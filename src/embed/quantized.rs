//! The layers' weights of the query side in 8-bit integers, one scale a matrix row, written
//! beside the model once and checked before use, so a query faults in a quarter of the bytes.
//!
//! [`QUANT_FILE`] holds, for the six layers, every weight matrix as 8-bit integers with a
//! scale per row (the row's largest magnitude over 127) and every bias and layer-norm vector
//! in f32, the small vectors packed together so that reading them faults in a few pages
//! rather than one 64 KB window of `model.safetensors` per vector. The header names the
//! weights file's size and modification time (a copy made from other weights is ignored)
//! and holds a checksum of each part, checked the first time the part is used: a damaged
//! part is never multiplied, the query falls back to the half or f32 weights.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};

use anyhow::{Context as _, Result};
use memmap2::Mmap;

/// The 8-bit copy's file name, beside `model.safetensors`.
pub(super) const QUANT_FILE: &str = "rsearch-layers-i8.bin";
/// First bytes of the copy; the digits are its layout's version.
const MAGIC: &[u8; 8] = b"RSQ8L001";
/// Magic, source size, source time (ns), file length; then one checksum per part.
const FIXED_HEADER: usize = 32;

/// A part's check: not yet made, passed, failed.
const UNCHECKED: u8 = 0;
const GOOD: u8 = 1;
const BAD: u8 = 2;

/// What the copy holds, in file order: the small f32 vectors (names and lengths), then the
/// matrices (names, rows, columns).
pub(super) struct Layout {
    pub(super) vectors: Vec<(String, usize)>,
    pub(super) matrices: Vec<(String, usize, usize)>,
}

impl Layout {
    fn header_len(&self) -> usize {
        // Rounded up to 64 bytes so every part that follows is aligned for f32.
        (FIXED_HEADER + 8 * (1 + self.matrices.len())).div_ceil(64) * 64
    }

    fn vectors_len(&self) -> usize {
        4 * self.vectors.iter().map(|(_, n)| n).sum::<usize>()
    }

    fn file_len(&self) -> usize {
        self.header_len()
            + self.vectors_len()
            + self
                .matrices
                .iter()
                .map(|(_, rows, columns)| 4 * rows + rows * columns)
                .sum::<usize>()
    }
}

/// One matrix of the copy: its rows' scales and its numbers, row-major.
#[derive(Clone, Copy)]
pub(super) struct QuantMatrix<'a> {
    pub(super) scales: &'a [f32],
    pub(super) values: &'a [i8],
}

/// A checksum that failed: the copy is damaged and must not serve.
#[derive(Debug)]
pub(super) struct Damaged;

impl std::fmt::Display for Damaged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the 8-bit copy of the layers ({QUANT_FILE}) is damaged")
    }
}

impl std::error::Error for Damaged {}

/// The record that the copy was checked whole ([`Quant::record_checked`]), beside it.
const CHECKED_FILE: &str = "rsearch-layers-i8.checked";
/// First bytes of the record; then the copy's [`Identity`].
const CHECKED_MAGIC: &[u8; 8] = b"RSQ8OK01";
/// A copy changed less than this long ago is not recorded as checked: a later change is then
/// sure to get a newer change time, even from a clock that ticks coarsely.
const SETTLED: std::time::Duration = std::time::Duration::from_secs(2);

/// What tells one state of the copy's file from another: any write to it, or a file put in
/// its place, gives another change time (set by the system, not by the writer) or inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    device: u64,
    inode: u64,
    size: u64,
    modified_ns: i64,
    changed_ns: i64,
}

impl Identity {
    #[cfg(unix)]
    fn of(meta: &std::fs::Metadata) -> Option<Identity> {
        use std::os::unix::fs::MetadataExt as _;
        let ns = |s: i64, n: i64| s.saturating_mul(1_000_000_000).saturating_add(n);
        Some(Identity {
            device: meta.dev(),
            inode: meta.ino(),
            size: meta.size(),
            modified_ns: ns(meta.mtime(), meta.mtime_nsec()),
            changed_ns: ns(meta.ctime(), meta.ctime_nsec()),
        })
    }

    /// Elsewhere there is no change time a writer cannot set: the copy is checked each time.
    #[cfg(not(unix))]
    fn of(_: &std::fs::Metadata) -> Option<Identity> {
        None
    }

    fn bytes(&self) -> [u8; 48] {
        let mut bytes = [0u8; 48];
        bytes[..8].copy_from_slice(CHECKED_MAGIC);
        bytes[8..16].copy_from_slice(&self.device.to_le_bytes());
        bytes[16..24].copy_from_slice(&self.inode.to_le_bytes());
        bytes[24..32].copy_from_slice(&self.size.to_le_bytes());
        bytes[32..40].copy_from_slice(&self.modified_ns.to_le_bytes());
        bytes[40..48].copy_from_slice(&self.changed_ns.to_le_bytes());
        bytes
    }
}

/// The 8-bit copy, mapped; each matrix checked on first use, unless a record says this very
/// file was checked whole before.
pub(super) struct Quant {
    map: Mmap,
    /// Where the copy is (its record is beside it) and the state of the file mapped.
    path: std::path::PathBuf,
    identity: Option<Identity>,
    /// Whether the record said this file was checked whole (its parts start as passed).
    recorded: bool,
    /// Whether the record is there or was tried: a long-lived process writes it at most once.
    record_done: std::sync::atomic::AtomicBool,
    /// Vector name → (byte offset, length).
    vectors: HashMap<String, (usize, usize)>,
    /// Matrix name → (part number, byte offset of its scales, rows, columns).
    matrices: HashMap<String, (usize, usize, usize, usize)>,
    /// Each matrix's check, by part number (the vectors are checked on opening).
    checked: Vec<AtomicU8>,
}

impl Quant {
    /// The copy at `path` if it is there, of the layout's length, made from `source` as it is
    /// now (size and modification time), with its vectors intact; `None` otherwise.
    pub(super) fn open(path: &Path, stamp: Option<(u64, u64)>, layout: &Layout) -> Result<Option<Quant>> {
        let (Ok(file), Some(stamp)) = (File::open(path), stamp) else {
            return Ok(None);
        };
        let Ok(meta) = file.metadata() else {
            return Ok(None);
        };
        if meta.len() != layout.file_len() as u64 {
            return Ok(None);
        }
        let identity = Identity::of(&meta);
        // SAFETY: mapped read-only; the copy is only ever replaced by renaming a new file over
        // it, which leaves this mapping on the old one.
        let map = unsafe { Mmap::map(&file) }.with_context(|| format!("mapping {}", path.display()))?;
        if map.len() != layout.file_len() || map[..FIXED_HEADER] != fixed_header(stamp, layout)[..] {
            return Ok(None);
        }
        let start = layout.header_len();
        let vectors_end = start + layout.vectors_len();
        let recorded = identity.is_some_and(|id| is_recorded(path, id));
        if !recorded && checksum(&map[start..vectors_end]) != stored_checksum(&map, 0) {
            return Ok(None);
        }
        let mut vectors = HashMap::new();
        let mut at = start;
        for (name, n) in &layout.vectors {
            vectors.insert(name.clone(), (at, *n));
            at += 4 * n;
        }
        let mut matrices = HashMap::new();
        for (k, (name, rows, columns)) in layout.matrices.iter().enumerate() {
            matrices.insert(name.clone(), (k + 1, at, *rows, *columns));
            at += 4 * rows + rows * columns;
        }
        // Part 0, the vectors, has just passed (or was recorded as passed).
        let state = if recorded { GOOD } else { UNCHECKED };
        let checked = (0..=layout.matrices.len())
            .map(|part| AtomicU8::new(if part == 0 { GOOD } else { state }))
            .collect();
        Ok(Some(Quant {
            map,
            path: path.to_path_buf(),
            identity,
            recorded,
            record_done: std::sync::atomic::AtomicBool::new(recorded),
            vectors,
            matrices,
            checked,
        }))
    }

    /// The f32 vector `name` of `len` numbers, if the copy holds it (checked on opening).
    pub(super) fn vector(&self, name: &str, len: usize) -> Option<&[f32]> {
        let &(at, n) = self.vectors.get(name)?;
        (n == len).then(|| bytemuck::cast_slice(&self.map[at..at + 4 * n]))
    }

    /// Whether a part failed its check: the copy then serves nothing more.
    pub(super) fn is_damaged(&self) -> bool {
        self.checked.iter().any(|c| c.load(Ordering::Relaxed) == BAD)
    }

    /// The matrix `name` (`rows` × `columns`) if the copy holds it, unchecked.
    pub(super) fn matrix(&self, name: &str, rows: usize, columns: usize) -> Option<(usize, QuantMatrix<'_>)> {
        let &(part, at, r, c) = self.matrices.get(name)?;
        if (r, c) != (rows, columns) {
            return None;
        }
        let scales = bytemuck::cast_slice(&self.map[at..at + 4 * rows]);
        let values = bytemuck::cast_slice(&self.map[at + 4 * rows..at + 4 * rows + rows * columns]);
        Some((part, QuantMatrix { scales, values }))
    }

    /// Checks part `part` (a matrix) against its checksum the first time it is asked.
    pub(super) fn verify(&self, part: usize, matrix: QuantMatrix<'_>) -> std::result::Result<(), Damaged> {
        let state = &self.checked[part];
        match state.load(Ordering::Relaxed) {
            GOOD => return Ok(()),
            BAD => return Err(Damaged),
            _ => {}
        }
        let scales: &[u8] = bytemuck::cast_slice(matrix.scales);
        let values: &[u8] = bytemuck::cast_slice(matrix.values);
        let ok = checksum_parts(&[scales, values]) == stored_checksum(&self.map, part);
        state.store(if ok { GOOD } else { BAD }, Ordering::Relaxed);
        if ok {
            Ok(())
        } else {
            Err(Damaged)
        }
    }
}

impl Quant {
    /// Whether a record beside the copy said this state of its file was checked whole, so its
    /// checksums were not computed again.
    pub(super) fn was_recorded(&self) -> bool {
        self.recorded
    }

    /// Whether every part has passed its check in this process (or a record said so).
    pub(super) fn is_checked_whole(&self) -> bool {
        self.checked.iter().all(|c| c.load(Ordering::Relaxed) == GOOD)
    }

    /// Records, beside the copy, that this state of its file was checked whole, so the next
    /// processes skip the checksums (about a millisecond a query): once every part passed,
    /// and only when the file has not changed for [`SETTLED`]. Any later write to the copy
    /// changes its change time, so the record no longer names it and the parts are checked
    /// again. Best effort: a folder rsearch cannot write keeps checking every time.
    pub(super) fn record_checked(&self) {
        let Some(identity) = self.identity else {
            return;
        };
        if self.record_done.load(Ordering::Relaxed) || !self.is_checked_whole() {
            return;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64);
        if now.saturating_sub(identity.changed_ns) < SETTLED.as_nanos() as i64 {
            return;
        }
        self.record_done.store(true, Ordering::Relaxed);
        if is_recorded(&self.path, identity) {
            return;
        }
        let record = self.path.with_file_name(CHECKED_FILE);
        let temp = record.with_extension(format!("tmp-{}", std::process::id()));
        if std::fs::write(&temp, identity.bytes())
            .and_then(|_| std::fs::rename(&temp, &record))
            .is_err()
        {
            let _ = std::fs::remove_file(&temp);
        }
    }
}

/// Whether the record beside the copy at `path` names the copy's file as it is.
fn is_recorded(path: &Path, identity: Identity) -> bool {
    std::fs::read(path.with_file_name(CHECKED_FILE)).is_ok_and(|bytes| bytes[..] == identity.bytes()[..])
}

fn stored_checksum(map: &[u8], part: usize) -> u64 {
    let at = FIXED_HEADER + 8 * part;
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&map[at..at + 8]);
    u64::from_le_bytes(bytes)
}

fn fixed_header((size, time): (u64, u64), layout: &Layout) -> [u8; FIXED_HEADER] {
    let mut header = [0u8; FIXED_HEADER];
    header[..8].copy_from_slice(MAGIC);
    header[8..16].copy_from_slice(&size.to_le_bytes());
    header[16..24].copy_from_slice(&time.to_le_bytes());
    header[24..32].copy_from_slice(&(layout.file_len() as u64).to_le_bytes());
    header
}

/// The bytes of the copy: `vector(name)` gives each small vector's numbers and
/// `matrix(name)` each matrix's, in the layout's order.
pub(super) fn encode<'a>(
    stamp: (u64, u64),
    layout: &Layout,
    vector: impl Fn(&str) -> Result<&'a [f32]>,
    matrix: impl Fn(&str) -> Result<&'a [f32]>,
) -> Result<Vec<u8>> {
    let mut bytes = vec![0u8; layout.header_len()];
    bytes[..FIXED_HEADER].copy_from_slice(&fixed_header(stamp, layout));
    let mut sums = Vec::new();
    let start = bytes.len();
    for (name, n) in &layout.vectors {
        let values = vector(name)?;
        anyhow::ensure!(
            values.len() == *n,
            "weights vector {name} has {} numbers",
            values.len()
        );
        for v in values {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    sums.push(checksum(&bytes[start..]));
    for (name, rows, columns) in &layout.matrices {
        let values = matrix(name)?;
        anyhow::ensure!(
            values.len() == rows * columns,
            "weights matrix {name} has {} numbers",
            values.len()
        );
        let (scales, quantized) = quantize(values, *columns);
        let mut part = Vec::with_capacity(4 * rows + rows * columns);
        for s in &scales {
            part.extend_from_slice(&s.to_le_bytes());
        }
        part.extend(quantized.iter().map(|&q| q as u8));
        sums.push(checksum(&part));
        bytes.extend_from_slice(&part);
    }
    for (k, sum) in sums.iter().enumerate() {
        let at = FIXED_HEADER + 8 * k;
        bytes[at..at + 8].copy_from_slice(&sum.to_le_bytes());
    }
    debug_assert_eq!(bytes.len(), layout.file_len());
    Ok(bytes)
}

/// Each row of `values` (`columns` wide) as 8-bit integers and its scale: the row's largest
/// magnitude maps to ±127, so every number is within half a step (scale / 2) of its original.
pub(super) fn quantize(values: &[f32], columns: usize) -> (Vec<f32>, Vec<i8>) {
    let mut scales = Vec::with_capacity(values.len() / columns.max(1));
    let mut quantized = Vec::with_capacity(values.len());
    for row in values.chunks(columns.max(1)) {
        let top = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let scale = if top > 0.0 && top.is_finite() {
            top / 127.0
        } else {
            0.0
        };
        scales.push(scale);
        quantized.extend(row.iter().map(|&v| match scale {
            0.0 => 0,
            // In range by construction (|v| ≤ top); the clamp only guards rounding.
            _ => (v / scale).round().clamp(-127.0, 127.0) as i8,
        }));
    }
    (scales, quantized)
}

/// A checksum of `bytes`: four interleaved Fletcher sums of 64-bit words (a running sum, and a
/// sum of the running sums, which sees order), at memory speed; any changed byte changes it.
pub(super) fn checksum(bytes: &[u8]) -> u64 {
    checksum_parts(&[bytes])
}

/// [`checksum`] of the parts laid end to end, each padded with zeros to 32 bytes.
fn checksum_parts(parts: &[&[u8]]) -> u64 {
    let mut a = [0u64; 4];
    let mut b = [0u64; 4];
    let mut length = 0u64;
    let mut add = |block: &[u8]| {
        for lane in 0..4 {
            let mut word = [0u8; 8];
            word.copy_from_slice(&block[8 * lane..8 * lane + 8]);
            a[lane] = a[lane].wrapping_add(u64::from_le_bytes(word));
            b[lane] = b[lane].wrapping_add(a[lane]);
        }
    };
    for part in parts {
        length = length.wrapping_add(part.len() as u64);
        let blocks = part.chunks_exact(32);
        let rest = blocks.remainder();
        for block in blocks {
            add(block);
        }
        if !rest.is_empty() {
            let mut last = [0u8; 32];
            last[..rest.len()].copy_from_slice(rest);
            add(&last);
        }
    }
    let mut hash = 0xcbf2_9ce4_8422_2325u64 ^ length;
    for value in a.iter().chain(&b) {
        hash = (hash ^ value).wrapping_mul(0x0100_0000_01b3).rotate_left(29);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantized_rows_are_within_half_a_step_of_the_numbers() {
        let values = [0.5, -1.0, 0.25, 0.0, 0.0, 0.0, 3.0, -0.01, 2.0];
        let (scales, q) = quantize(&values, 3);
        assert_eq!(q[1], -127);
        assert_eq!(scales[1], 0.0, "an all-zero row has scale 0");
        for (row, (chunk, qs)) in values.chunks(3).zip(q.chunks(3)).enumerate() {
            for (v, &q) in chunk.iter().zip(qs) {
                assert!((v - scales[row] * f32::from(q)).abs() <= scales[row] / 2.0 + 1e-6);
            }
        }
    }

    #[test]
    fn the_checksum_sees_every_byte_and_its_place() {
        let bytes: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let sum = checksum(&bytes);
        for at in [0, 31, 32, 500, 999] {
            let mut changed = bytes.clone();
            changed[at] ^= 1;
            assert_ne!(checksum(&changed), sum, "byte {at}");
        }
        let mut swapped = bytes.clone();
        swapped.swap(0, 32);
        assert_ne!(checksum(&swapped), sum);
        assert_ne!(checksum(&bytes[..999]), sum, "a shorter file");
        assert_eq!(checksum_parts(&[&bytes[..64], &bytes[64..]]), sum);
    }
}
