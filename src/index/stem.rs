//! Stemming with a memory of the words already stemmed (the English stemmer is the costliest
//! step of analysing text, and a corpus repeats its words), a memory of the tokens of short
//! texts that repeat (titles, headings), and stemming only the words that may be a query's
//! terms, for snippets.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use tantivy::tokenizer::{
    Language, RawTokenizer, Stemmer, TextAnalyzer, Token, TokenFilter, TokenStream, Tokenizer,
};

/// Words remembered by one analyzer before its memory is emptied (about 100 bytes each), so
/// a corpus with an endless vocabulary cannot make a build grow without bound.
const MAX_REMEMBERED: usize = 30_000;

/// A word's stem, as remembered: `None` when stemming leaves the word as it is (most words of
/// a text), so that giving it again copies nothing.
type Stems = HashMap<Box<str>, Option<Box<str>>, BuildHasherDefault<WordHasher>>;

/// Hash of the words and texts remembered here: the multiply-and-rotate hash of the Rust
/// compiler's own tables (FxHash), eight bytes at a time. The standard hasher, built to resist
/// chosen keys, cost more than finding the stem in a table did; a corpus is the user's own
/// text, and a bad spread would only be slower.
#[derive(Clone, Copy, Debug, Default)]
pub struct WordHasher(u64);

impl WordHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Token filter giving the same stems as tantivy's English [`Stemmer`], remembering each word's
/// stem so that a word seen before is not stemmed again.
#[derive(Clone, Copy, Debug, Default)]
pub struct CachedStemmer;

impl TokenFilter for CachedStemmer {
    type Tokenizer<T: Tokenizer> = CachedStemmerFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> CachedStemmerFilter<T> {
        CachedStemmerFilter {
            inner: tokenizer,
            stems: Stems::default(),
            stemmer: word_stemmer(),
        }
    }
}

/// The tokenizer [`CachedStemmer`] makes of the one before it.
#[derive(Clone)]
pub struct CachedStemmerFilter<T> {
    inner: T,
    stems: Stems,
    /// Stems one word (the whole input is one token).
    stemmer: TextAnalyzer,
}

impl<T: Tokenizer> Tokenizer for CachedStemmerFilter<T> {
    type TokenStream<'a> = CachedStemmerStream<'a, T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        CachedStemmerStream {
            tail: self.inner.token_stream(text),
            stems: &mut self.stems,
            stemmer: &mut self.stemmer,
        }
    }
}

/// Tokens of the filter before, stemmed.
pub struct CachedStemmerStream<'a, T> {
    tail: T,
    stems: &'a mut Stems,
    stemmer: &'a mut TextAnalyzer,
}

impl<T: TokenStream> TokenStream for CachedStemmerStream<'_, T> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        if let Some(stem) = self.stems.get(token.text.as_str()) {
            if let Some(stem) = stem {
                token.text.clear();
                token.text.push_str(stem);
            }
            return true;
        }
        let stem = stem_word(self.stemmer, &token.text).filter(|stem| *stem != token.text);
        if self.stems.len() >= MAX_REMEMBERED {
            self.stems.clear();
        }
        match stem {
            Some(stem) => {
                let word = std::mem::replace(&mut token.text, stem);
                self.stems
                    .insert(word.into_boxed_str(), Some(token.text.as_str().into()));
            }
            None => {
                self.stems.insert(token.text.as_str().into(), None);
            }
        }
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}
/// Texts up to this many bytes are remembered by [`Remembered`] (titles and headings are
/// shorter; a longer text is a passage, which seldom repeats).
const REMEMBERED_TEXT_MAX_BYTES: usize = 256;
/// Texts remembered by one [`Remembered`] analyzer before its memory is emptied: a document's
/// title and the headings of the sections being indexed are far fewer.
const REMEMBERED_TEXTS_MAX: usize = 4_096;
/// [`Remembered`] checks how often it finds a text every this many texts, and stops
/// remembering when it found fewer than a quarter of them (the analyzer of the passages'
/// field, whose short passages seldom repeat).
const REMEMBERED_CHECK_EVERY: u32 = 4_096;

/// An analyzer that remembers the tokens it gave for each short text and gives them again,
/// without analysing, when the same text comes back: tantivy analyses each field's values
/// with its own copy of the analyzer, and a document's title (and the headings above a run
/// of its passages) comes back with every passage. The tokens, offsets and positions are
/// those of `inner` (it is deterministic), so the index and its scores are the same.
#[derive(Clone)]
pub struct Remembered<T> {
    inner: T,
    texts: HashMap<Box<str>, Analysed, BuildHasherDefault<WordHasher>>,
    /// Texts looked up and found since the last check ([`REMEMBERED_CHECK_EVERY`]).
    looked_up: u32,
    found: u32,
    /// Set once remembering stopped paying: every text is analysed again.
    off: bool,
    /// The token a remembered text's tokens are given in, kept to reuse its text's buffer.
    token: Token,
}

/// Token filter, last of an analyzer, making it a [`Remembered`] one.
#[derive(Clone, Copy, Debug, Default)]
pub struct RememberShortTexts;

impl TokenFilter for RememberShortTexts {
    type Tokenizer<T: Tokenizer> = Remembered<T>;

    fn transform<T: Tokenizer>(self, inner: T) -> Remembered<T> {
        Remembered {
            inner,
            texts: HashMap::default(),
            looked_up: 0,
            found: 0,
            off: false,
            token: Token::default(),
        }
    }
}

/// The tokens of one text: their terms one after the other, and where each ends.
#[derive(Clone, Default)]
pub struct Analysed {
    terms: String,
    tokens: Vec<Kept>,
}

/// One token of an [`Analysed`] text.
#[derive(Clone, Copy)]
struct Kept {
    /// Where its term ends in [`Analysed::terms`] (it begins where the one before ends).
    end: usize,
    offset_from: usize,
    offset_to: usize,
    position: usize,
    position_length: usize,
}

impl<T: Tokenizer> Tokenizer for Remembered<T> {
    type TokenStream<'a> = RememberedStream<'a, T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        if self.off || text.len() > REMEMBERED_TEXT_MAX_BYTES {
            return RememberedStream::Analysing(self.inner.token_stream(text));
        }
        self.looked_up += 1;
        if self.texts.contains_key(text) {
            self.found += 1;
        } else {
            if self.texts.len() >= REMEMBERED_TEXTS_MAX {
                self.texts.clear();
            }
            let mut analysed = Analysed::default();
            let mut stream = self.inner.token_stream(text);
            while stream.advance() {
                let token = stream.token();
                analysed.terms.push_str(&token.text);
                analysed.tokens.push(Kept {
                    end: analysed.terms.len(),
                    offset_from: token.offset_from,
                    offset_to: token.offset_to,
                    position: token.position,
                    position_length: token.position_length,
                });
            }
            self.texts.insert(text.into(), analysed);
        }
        if self.looked_up >= REMEMBERED_CHECK_EVERY {
            // Checked after this text is in memory, so it can still be given below.
            if self.found * 4 < self.looked_up {
                self.off = true;
            }
            self.looked_up = 0;
            self.found = 0;
        }
        match self.texts.get(text) {
            Some(analysed) => RememberedStream::Remembered {
                analysed,
                next: 0,
                token: &mut self.token,
            },
            None => RememberedStream::Analysing(self.inner.token_stream(text)),
        }
    }
}

/// The tokens of [`Remembered`]: from its inner analyzer, or given again from its memory.
pub enum RememberedStream<'a, S> {
    Analysing(S),
    Remembered {
        analysed: &'a Analysed,
        next: usize,
        token: &'a mut Token,
    },
}

impl<S: TokenStream> TokenStream for RememberedStream<'_, S> {
    fn advance(&mut self) -> bool {
        match self {
            RememberedStream::Analysing(stream) => stream.advance(),
            RememberedStream::Remembered {
                analysed,
                next,
                token,
            } => {
                let Some(kept) = analysed.tokens.get(*next) else {
                    return false;
                };
                let start = next.checked_sub(1).map_or(0, |i| analysed.tokens[i].end);
                token.text.clear();
                token.text.push_str(&analysed.terms[start..kept.end]);
                token.offset_from = kept.offset_from;
                token.offset_to = kept.offset_to;
                token.position = kept.position;
                token.position_length = kept.position_length;
                *next += 1;
                true
            }
        }
    }

    fn token(&self) -> &Token {
        match self {
            RememberedStream::Analysing(stream) => stream.token(),
            RememberedStream::Remembered { token, .. } => token,
        }
    }

    fn token_mut(&mut self) -> &mut Token {
        match self {
            RememberedStream::Analysing(stream) => stream.token_mut(),
            RememberedStream::Remembered { token, .. } => token,
        }
    }
}

/// Token filter stemming only the words that begin with one of `initials` and passing the
/// others on as they are: for snippets, where only the words whose stem is one of the query's
/// terms matter. English stemming never changes a word's first letter, so a word beginning
/// otherwise cannot stem to a query term; its token, offsets and position are those of the
/// full analyzer, so the snippet is the same, and most words of a passage skip the stemmer
/// (two thirds of the work of making snippets).
#[derive(Clone, Debug)]
pub struct StemInitials {
    pub initials: Vec<char>,
}

impl TokenFilter for StemInitials {
    type Tokenizer<T: Tokenizer> = StemInitialsFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> StemInitialsFilter<T> {
        StemInitialsFilter {
            inner: tokenizer,
            initials: self.initials,
            stemmer: word_stemmer(),
        }
    }
}

/// The tokenizer [`StemInitials`] makes of the one before it.
#[derive(Clone)]
pub struct StemInitialsFilter<T> {
    inner: T,
    initials: Vec<char>,
    /// Stems one word (the whole input is one token).
    stemmer: TextAnalyzer,
}

impl<T: Tokenizer> Tokenizer for StemInitialsFilter<T> {
    type TokenStream<'a> = StemInitialsStream<'a, T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        StemInitialsStream {
            tail: self.inner.token_stream(text),
            initials: &self.initials,
            stemmer: &mut self.stemmer,
        }
    }
}

/// Tokens of the filter before, stemmed when they begin with one of the initials.
pub struct StemInitialsStream<'a, T> {
    tail: T,
    initials: &'a [char],
    stemmer: &'a mut TextAnalyzer,
}

impl<T: TokenStream> TokenStream for StemInitialsStream<'_, T> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        let wanted = token
            .text
            .chars()
            .next()
            .is_some_and(|c| self.initials.contains(&c));
        if wanted {
            if let Some(stem) = stem_word(self.stemmer, &token.text) {
                token.text = stem;
            }
        }
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

/// The English stemmer applied to one word at a time (the whole input is one token).
fn word_stemmer() -> TextAnalyzer {
    TextAnalyzer::builder(RawTokenizer::default())
        .filter(Stemmer::new(Language::English))
        .build()
}

/// The stem of `word` by a [`word_stemmer`]; `None` when the stemmer gives no token.
fn stem_word(stemmer: &mut TextAnalyzer, word: &str) -> Option<String> {
    let mut stream = stemmer.token_stream(word);
    stream
        .advance()
        .then(|| std::mem::take(&mut stream.token_mut().text))
}
