//! Stemming with a memory of the words already stemmed (the English stemmer is the costliest
//! step of analysing text, and a corpus repeats its words), and stemming only the words that
//! may be a query's terms, for snippets.

use std::collections::HashMap;

use tantivy::tokenizer::{
    Language, RawTokenizer, Stemmer, TextAnalyzer, Token, TokenFilter, TokenStream, Tokenizer,
};

/// Words remembered by one analyzer before its memory is emptied (about 100 bytes each), so
/// a corpus with an endless vocabulary cannot make a build grow without bound.
const MAX_REMEMBERED: usize = 30_000;

/// Token filter giving the same stems as tantivy's English [`Stemmer`], remembering each word's
/// stem so that a word seen before is not stemmed again.
#[derive(Clone, Copy, Debug, Default)]
pub struct CachedStemmer;

impl TokenFilter for CachedStemmer {
    type Tokenizer<T: Tokenizer> = CachedStemmerFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> CachedStemmerFilter<T> {
        CachedStemmerFilter {
            inner: tokenizer,
            stems: HashMap::new(),
            stemmer: word_stemmer(),
        }
    }
}

/// The tokenizer [`CachedStemmer`] makes of the one before it.
#[derive(Clone)]
pub struct CachedStemmerFilter<T> {
    inner: T,
    stems: HashMap<String, String>,
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
    stems: &'a mut HashMap<String, String>,
    stemmer: &'a mut TextAnalyzer,
}

impl<T: TokenStream> TokenStream for CachedStemmerStream<'_, T> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        if let Some(stem) = self.stems.get(token.text.as_str()) {
            token.text.clear();
            token.text.push_str(stem);
            return true;
        }
        let stem = stem_word(self.stemmer, &token.text).unwrap_or_else(|| token.text.clone());
        if self.stems.len() >= MAX_REMEMBERED {
            self.stems.clear();
        }
        let word = std::mem::replace(&mut token.text, stem.clone());
        self.stems.insert(word, stem);
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
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
