//! The model's word-piece tokenizer for one query, read from `vocab.txt` without building the
//! tokenizers crate's two hash maps of 30,522 owned strings (two thirds of a query process's
//! work once the weights are mapped); normalising and splitting words stay the crate's.

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

/// `vocab.txt` (one token a line, its id the line number) and a sorted index of its lines'
/// hashes, the lines themselves compared on a match.
pub(super) struct Vocab {
    text: String,
    /// Byte range of each line.
    lines: Vec<(u32, u32)>,
    /// (hash of the line, id), sorted.
    index: Vec<(u64, u32)>,
    unk: u32,
    cls: u32,
    sep: u32,
}

impl Vocab {
    pub(super) fn read(path: &Path) -> Result<Vocab> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut lines = Vec::with_capacity(32 * 1024);
        let mut at = 0usize;
        for line in text.split_inclusive('\n') {
            let token = line.trim_end_matches(['\n', '\r']);
            lines.push((at as u32, (at + token.len()) as u32));
            at += line.len();
        }
        let mut index: Vec<(u64, u32)> = lines
            .iter()
            .enumerate()
            .map(|(id, &(s, e))| (hash(&text[s as usize..e as usize]), id as u32))
            .collect();
        index.sort_unstable();
        let mut vocab = Vocab {
            text,
            lines,
            index,
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

    /// The id of a token; the first line holding it when it repeats, as a hash map keeps.
    fn id(&self, token: &str) -> Option<u32> {
        let key = hash(token);
        let first = self.index.partition_point(|&(h, _)| h < key);
        self.index[first..]
            .iter()
            .take_while(|&&(h, _)| h == key)
            .map(|&(_, id)| id)
            .filter(|&id| {
                let (s, e) = self.lines[id as usize];
                &self.text[s as usize..e as usize] == token
            })
            .min()
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

fn hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
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
