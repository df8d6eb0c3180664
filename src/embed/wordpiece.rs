//! The model's word-piece tokenizer for one query, read from `vocab.txt` without building the
//! tokenizers crate's two hash maps of 30,522 owned strings (two thirds of a query process's
//! work once the weights are mapped); normalising and splitting words stay the crate's.
//! The tokens' hash table is built once and kept beside the model ([`TABLE_FILE`]), so a
//! query reads it rather than hashing 30,522 lines.

use std::path::Path;

use anyhow::{Context as _, Result};
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::{
    NormalizedString, Normalizer, OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer,
};

/// Tokens the model's tokenizer takes as they are written, before normalising.
const SPECIAL: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
/// A longer word is one unknown token (the model's `max_input_chars_per_word`).
const MAX_WORD_CHARS: usize = 100;

/// The tokens' table beside `vocab.txt`: its line starts and hash table, made by a build.
pub(super) const TABLE_FILE: &str = "rsearch-vocab.bin";
/// First bytes of the table; the digits are its layout's version.
const TABLE_MAGIC: &[u8; 8] = b"RSVOCAB1";
/// Magic, `vocab.txt`'s size and modification time (ns), lines, slots, checksum.
const TABLE_HEADER: usize = 48;
/// An empty slot of the hash table.
const EMPTY: u32 = u32::MAX;

/// `vocab.txt` (one token a line, its id the line number) and a hash table of its lines (open
/// addressing, ids in slots), the lines themselves compared on a match.
pub(super) struct Vocab {
    /// `vocab.txt`, mapped (a query reads only the lines it looks up).
    text: Box<dyn AsRef<[u8]> + Send + Sync>,
    /// Where each line starts and one past the last line's end, then the hash table: ids by
    /// their token's hash (a power of two of slots, at least twice the lines), [`EMPTY`]
    /// where none. Mapped from [`TABLE_FILE`], or built here.
    table: Numbers,
    lines: usize,
    unk: u32,
    cls: u32,
    sep: u32,
}

impl Vocab {
    /// Reads `vocab.txt`, and its table from [`TABLE_FILE`] beside it when that was made from
    /// it as it is now and is intact; else the table is built here.
    pub(super) fn read(path: &Path) -> Result<Vocab> {
        let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
        // SAFETY: mapped read-only; rsearch never writes the model's files, and a model folder
        // rewritten under a running process is outside what any reader can guard against.
        let text: Box<dyn AsRef<[u8]> + Send + Sync> = match unsafe { memmap2::Mmap::map(&file) } {
            Ok(map) => Box::new(map),
            Err(_) => Box::new(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?),
        };
        let (table, lines) = match read_table(path, (*text).as_ref()) {
            Some(table) => table,
            None => {
                let (starts, slots) = build_table((*text).as_ref());
                let lines = starts.len() - 1;
                let mut numbers = starts;
                numbers.extend(slots);
                (Numbers::Owned(numbers), lines)
            }
        };
        Vocab::of(path, text, table, lines)
    }

    /// Whether the table beside `path` is current and intact (what [`Vocab::read`] uses).
    pub(super) fn has_table(path: &Path) -> bool {
        std::fs::read(path).is_ok_and(|text| read_table(path, &text).is_some())
    }

    /// Writes the table of `path` beside it, unless a current, intact one is there (through a
    /// temporary file renamed over the old); whether one is there afterwards.
    pub(super) fn write_table(path: &Path) -> Result<bool> {
        let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        if read_table(path, &text).is_some() {
            return Ok(true);
        }
        let Some(stamp) = stamp(path) else {
            return Ok(false);
        };
        let (starts, slots) = build_table(&text);
        let mut body = Vec::with_capacity(4 * (starts.len() + slots.len()));
        for n in starts.iter().chain(&slots) {
            body.extend_from_slice(&n.to_le_bytes());
        }
        let mut bytes = table_header(stamp, starts.len() - 1, slots.len(), &body).to_vec();
        bytes.extend_from_slice(&body);
        let Some(dir) = path.parent() else {
            return Ok(false);
        };
        let target = dir.join(TABLE_FILE);
        let temp = dir.join(format!("{TABLE_FILE}.tmp-{}", std::process::id()));
        let written = std::fs::write(&temp, &bytes).and_then(|_| std::fs::rename(&temp, &target));
        if written.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        Ok(written.is_ok())
    }

    fn of(
        path: &Path,
        text: Box<dyn AsRef<[u8]> + Send + Sync>,
        table: Numbers,
        lines: usize,
    ) -> Result<Vocab> {
        let mut vocab = Vocab {
            text,
            table,
            lines,
            unk: 0,
            cls: 0,
            sep: 0,
        };
        let id = |vocab: &Vocab, token: &str| {
            vocab
                .id(token)
                .with_context(|| format!("{} has no {token}", path.display()))
        };
        vocab.unk = id(&vocab, "[UNK]")?;
        vocab.cls = id(&vocab, "[CLS]")?;
        vocab.sep = id(&vocab, "[SEP]")?;
        Ok(vocab)
    }

    /// The id of a token; the first line holding it when it repeats.
    fn id(&self, token: &str) -> Option<u32> {
        let (starts, slots) = self.table.get().split_at(self.lines + 1);
        lookup((*self.text).as_ref(), starts, slots, token.as_bytes())
    }

    /// The ids of `text` as the model reads it: `[CLS]`, the word pieces (special tokens kept
    /// whole), `[SEP]`, at most `max` in all.
    pub(super) fn encode(&self, text: &str, max: usize) -> Result<Vec<u32>> {
        let mut ids = vec![self.cls];
        let mut rest = text;
        while !rest.is_empty() {
            let next = SPECIAL
                .iter()
                .filter_map(|s| rest.find(s).map(|at| (at, *s)))
                .min_by_key(|&(at, s)| (at, std::cmp::Reverse(s.len())));
            let (plain, special) = match next {
                Some((at, s)) => (&rest[..at], Some(s)),
                None => (rest, None),
            };
            self.words(plain, &mut ids)?;
            match special {
                Some(s) => {
                    ids.extend(self.id(s));
                    rest = &rest[plain.len() + s.len()..];
                }
                None => rest = "",
            }
        }
        ids.truncate(max.saturating_sub(1).max(1));
        ids.push(self.sep);
        Ok(ids)
    }

    /// Normalises and splits `text` into words as BERT does, then each word into pieces.
    fn words(&self, text: &str, ids: &mut Vec<u32>) -> Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        let mut normalized = NormalizedString::from(text);
        BertNormalizer::new(true, true, None, true)
            .normalize(&mut normalized)
            .map_err(|e| anyhow::anyhow!("tokenizing: {e}"))?;
        let mut split = PreTokenizedString::from(normalized);
        BertPreTokenizer
            .pre_tokenize(&mut split)
            .map_err(|e| anyhow::anyhow!("tokenizing: {e}"))?;
        for (word, _, _) in split.get_splits(OffsetReferential::Original, OffsetType::Byte) {
            self.pieces(word, ids);
        }
        Ok(())
    }

    /// Greedy longest-match-first word pieces (`##` marking a piece inside a word); a word
    /// with a part no piece covers is one unknown token.
    fn pieces(&self, word: &str, ids: &mut Vec<u32>) {
        if word.chars().count() > MAX_WORD_CHARS {
            ids.push(self.unk);
            return;
        }
        let mut found = Vec::new();
        let mut start = 0;
        let mut piece = String::new();
        while start < word.len() {
            let mut end = word.len();
            let mut matched = None;
            while start < end {
                piece.clear();
                if start > 0 {
                    piece.push_str("##");
                }
                piece.push_str(&word[start..end]);
                if let Some(id) = self.id(&piece) {
                    matched = Some(id);
                    break;
                }
                end -= word[start..end].chars().next_back().map_or(1, char::len_utf8);
            }
            let Some(id) = matched else {
                ids.push(self.unk);
                return;
            };
            found.push(id);
            start = end;
        }
        ids.extend(found);
    }
}

/// Numbers of the vocabulary's table: mapped from its file, or built in memory.
enum Numbers {
    Mapped(memmap2::Mmap),
    Owned(Vec<u32>),
}

impl Numbers {
    fn get(&self) -> &[u32] {
        match self {
            // Checked to cast (aligned, whole numbers) when the file was mapped.
            Numbers::Mapped(map) => bytemuck::try_cast_slice(&map[TABLE_HEADER..]).unwrap_or_default(),
            Numbers::Owned(numbers) => numbers,
        }
    }
}

/// Line `id` of `text` without its line end.
fn line<'t>(text: &'t [u8], starts: &[u32], id: u32) -> Option<&'t [u8]> {
    let id = id as usize;
    let (start, mut end) = (*starts.get(id)? as usize, *starts.get(id + 1)? as usize);
    while end > start && matches!(text.get(end - 1), Some(b'\n' | b'\r')) {
        end -= 1;
    }
    text.get(start..end)
}

fn lookup(text: &[u8], starts: &[u32], slots: &[u32], token: &[u8]) -> Option<u32> {
    let mask = slots.len().checked_sub(1)?;
    let mut at = hash(token) as usize & mask;
    // Every table has empty slots (at least half), so the probe ends.
    loop {
        match slots[at] {
            EMPTY => return None,
            id if line(text, starts, id) == Some(token) => return Some(id),
            _ => at = (at + 1) & mask,
        }
    }
}

/// The line starts of `text` and its hash table: each token in the slot its hash names or the
/// next free one, a repeated token only once (its first line).
fn build_table(text: &[u8]) -> (Vec<u32>, Vec<u32>) {
    let mut starts = Vec::with_capacity(32 * 1024);
    let mut at = 0usize;
    for line in text.split_inclusive(|&b| b == b'\n') {
        starts.push(at as u32);
        at += line.len();
    }
    starts.push(at as u32);
    let lines = starts.len() - 1;
    let mut slots = vec![EMPTY; (2 * lines).next_power_of_two().max(2)];
    for id in 0..lines as u32 {
        let Some(token) = line(text, &starts, id) else {
            continue;
        };
        if lookup(text, &starts, &slots, token).is_some() {
            continue;
        }
        let mask = slots.len() - 1;
        let mut slot = hash(token) as usize & mask;
        while slots[slot] != EMPTY {
            slot = (slot + 1) & mask;
        }
        slots[slot] = id;
    }
    (starts, slots)
}

/// The table beside `path` (mapped) and its count of lines, if made from it as it is now (size
/// and time), of its shape, with its checksum, and with line starts that fit `text`.
fn read_table(path: &Path, text: &[u8]) -> Option<(Numbers, usize)> {
    let stamp = stamp(path)?;
    let file = std::fs::File::open(path.with_file_name(TABLE_FILE)).ok()?;
    // SAFETY: mapped read-only; the table is only ever replaced by renaming a new file over
    // it, which leaves this mapping on the old one.
    let map = unsafe { memmap2::Mmap::map(&file) }.ok()?;
    let number =
        |at: usize| -> Option<u64> { Some(u64::from_le_bytes(map.get(at..at + 8)?.try_into().ok()?)) };
    let (lines, slots) = (number(24)? as usize, number(32)? as usize);
    let body = map.get(TABLE_HEADER..)?;
    if body.len() != 4 * (lines + 1 + slots) || !slots.is_power_of_two() || slots < 2 * lines {
        return None;
    }
    if map[..TABLE_HEADER] != table_header(stamp, lines, slots, body)[..] {
        return None;
    }
    let numbers: &[u32] = bytemuck::try_cast_slice(body).ok()?;
    let starts = &numbers[..lines + 1];
    let fits = starts.first() == Some(&0)
        && starts.last() == Some(&(text.len() as u32))
        && starts.windows(2).all(|w| w[0] < w[1]);
    fits.then_some((Numbers::Mapped(map), lines))
}

fn table_header((size, time): (u64, u64), lines: usize, slots: usize, body: &[u8]) -> [u8; TABLE_HEADER] {
    let mut header = [0u8; TABLE_HEADER];
    header[..8].copy_from_slice(TABLE_MAGIC);
    header[8..16].copy_from_slice(&size.to_le_bytes());
    header[16..24].copy_from_slice(&time.to_le_bytes());
    header[24..32].copy_from_slice(&(lines as u64).to_le_bytes());
    header[32..40].copy_from_slice(&(slots as u64).to_le_bytes());
    header[40..48].copy_from_slice(&super::quantized::checksum(body).to_le_bytes());
    header
}

/// The size and modification time (ns since 1970) of a file.
fn stamp(path: &Path) -> Option<(u64, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    let time = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some((meta.len(), time.as_nanos() as u64))
}

fn hash(text: &[u8]) -> u64 {
    text.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab(tokens: &[&str]) -> Vocab {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("vocab.txt");
        std::fs::write(&path, tokens.join("\n") + "\n").expect("write");
        Vocab::read(&path).expect("read")
    }

    #[test]
    fn words_split_into_the_longest_pieces_first() {
        let v = vocab(&[
            "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "play", "##ing", "##in", "##g", "?", "who",
        ]);
        assert_eq!(
            v.encode("Who playing?", 256).expect("encode"),
            [2, 10, 5, 6, 9, 3]
        );
    }

    #[test]
    fn an_uncovered_word_is_one_unknown_token_and_special_tokens_stay_whole() {
        let v = vocab(&["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "play"]);
        assert_eq!(
            v.encode("plays [MASK] play", 256).expect("encode"),
            [2, 1, 4, 5, 3]
        );
    }

    #[test]
    fn encoding_is_cut_to_the_longest_input_with_its_end_marker() {
        let v = vocab(&["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a"]);
        assert_eq!(v.encode("a a a a a", 4).expect("encode"), [2, 5, 5, 3]);
    }
}
