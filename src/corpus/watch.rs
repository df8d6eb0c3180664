//! The corpus watch: what a query stats to tell, cheaply, whether the corpus changed since the
//! index was built (folder times, the taxonomy, and small corpora's files), kept as lines of text.

use std::borrow::Cow;
#[cfg(test)]
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

#[cfg(test)]
use super::mtime_ns;
use super::stat::{Corpus, Kind};
use super::Scan;
use crate::label::TAXONOMY_FILE;

/// What `query` looks at to tell, cheaply, whether the corpus changed since a build: the
/// modification time of every folder (it changes when an entry is added, removed or renamed
/// in that folder), the taxonomy's size and time, and, for corpora of at most
/// [`Watch::MAX_FILES`] documents, every document's size and time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Watch {
    pub dirs: Vec<(String, u128)>,
    pub taxonomy: Option<(u64, u128)>,
    /// Empty for larger corpora: an in-place edit there is seen by `rsearch index`.
    pub files: Vec<(String, u64, u128)>,
}

impl Watch {
    /// Corpora up to this many documents have every document checked before each query
    /// (about a millisecond of `stat` calls).
    pub const MAX_FILES: usize = 1000;

    /// What to watch of a scanned corpus.
    pub fn of(scan: &Scan) -> Watch {
        let files = if scan.files.len() <= Watch::MAX_FILES {
            scan.files
                .iter()
                .map(|f| (f.source.clone(), f.size, f.mtime_ns))
                .collect()
        } else {
            Vec::new()
        };
        Watch {
            dirs: scan.dirs.clone(),
            taxonomy: scan.taxonomy.as_ref().map(|t| (t.size, t.mtime_ns)),
            files,
        }
    }

    /// The watch as lines of text, read back by [`Watch::from_text`]: a query reads it before
    /// each search, and this is several times cheaper to read than JSON (whose 128-bit numbers
    /// serde reads slowly). A path is the end of its line, with `\` and line breaks escaped.
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(64 * (self.dirs.len() + self.files.len() + 2));
        out.push_str(WATCH_HEADER);
        out.push('\n');
        match self.taxonomy {
            Some((size, mtime)) => out.push_str(&format!("t {size} {mtime}\n")),
            None => out.push_str("t -\n"),
        }
        for (path, mtime) in &self.dirs {
            out.push_str(&format!("d {mtime} {}\n", escape_line(path)));
        }
        for (path, size, mtime) in &self.files {
            out.push_str(&format!("f {size} {mtime} {}\n", escape_line(path)));
        }
        out
    }

    /// Reads what [`Watch::to_text`] wrote; `None` for anything else.
    pub fn from_text(text: &str) -> Option<Watch> {
        let mut lines = watch_lines(text);
        if lines.next()? != WATCH_HEADER {
            return None;
        }
        let mut watch = Watch {
            taxonomy: parse_taxonomy(lines.next()?)?,
            ..Watch::default()
        };
        for line in lines {
            match parse_entry(line)? {
                (path, None, mtime) => watch.dirs.push((path.into_owned(), mtime)),
                (path, Some(size), mtime) => watch.files.push((path.into_owned(), size, mtime)),
            }
        }
        Some(watch)
    }

    /// Whether the corpus at `root` still looks as it did: every folder and watched file has
    /// the same modification time (and size), and the taxonomy is as it was. Large watches
    /// are checked on one thread per core (a `stat` is a few microseconds on overlay file
    /// systems; 1,500 folders take milliseconds on one thread).
    pub fn unchanged(&self, root: &Path) -> bool {
        let checks: Vec<Check> = self
            .dirs
            .iter()
            .map(|(relative, mtime)| (Cow::Borrowed(relative.as_str()), None, *mtime))
            .chain(
                self.files
                    .iter()
                    .map(|(relative, size, mtime)| (Cow::Borrowed(relative.as_str()), Some(*size), *mtime)),
            )
            .collect();
        unchanged(root, self.taxonomy, &checks)
    }

    /// [`Watch::unchanged`] of the watch `text` holds ([`Watch::to_text`]), read without making
    /// the watch: a query reads one before every search. Each line is read and its path
    /// statted in one pass, with no copy of the path ([`check_lines`]); large watches are cut
    /// into runs of whole lines, one a thread. `None` when the text is no watch, whatever the
    /// corpus looks like (every line is read even once a change is found).
    pub fn text_unchanged(text: &str, root: &Path) -> Option<bool> {
        text_unchanged_on(text, root, stat_threads)
    }
}

/// [`Watch::text_unchanged`] on as many threads as `threads` gives for the number of entries.
fn text_unchanged_on(text: &str, root: &Path, threads: fn(usize) -> usize) -> Option<bool> {
    let check = WatchCheck::new(text, root)?;
    // Only whether there are at least [`PARALLEL_STAT_MIN`] lines matters: counting them all
    // cost a quarter of the check's own work.
    let lines = check
        .entries
        .bytes()
        .filter(|&b| b == b'\n')
        .take(PARALLEL_STAT_MIN)
        .count()
        + 1;
    match threads(lines) {
        0 | 1 => check.help(),
        n => std::thread::scope(|scope| {
            for _ in 1..n {
                scope.spawn(|| check.help());
            }
            // The calling thread takes pieces too: one thread fewer to start.
            check.help();
        }),
    }
    check.outcome()
}

/// A check of a watch's text that any number of threads share: its entry lines are cut into
/// pieces of whole lines ([`PIECE_BYTES`] long or so), and each thread that [`helps`] takes
/// the next piece not yet taken until none is left. A query starts one on a thread of its own
/// beside its search, and the search's thread helps once it has its answer: the check, not the
/// search, is the longer of the two on a large corpus, and this way neither core idles.
///
/// [`helps`]: WatchCheck::help
pub struct WatchCheck<'t> {
    corpus: Option<Corpus>,
    /// The entry lines, without the line break after the last.
    entries: &'t str,
    pieces: usize,
    next: AtomicUsize,
    changed: AtomicBool,
    malformed: AtomicBool,
}

impl<'t> WatchCheck<'t> {
    /// A check of `text` ([`Watch::to_text`]) against the corpus at `root`, its corpus folder
    /// opened and its taxonomy compared; `None` when the text is no watch.
    pub fn new(text: &'t str, root: &Path) -> Option<WatchCheck<'t>> {
        let text = text.strip_suffix('\n').unwrap_or(text);
        let mut parts = text.splitn(3, '\n');
        if parts.next()? != WATCH_HEADER {
            return None;
        }
        let taxonomy = parse_taxonomy(parts.next()?)?;
        // No entry line at all is a watch; an empty one is not (the pieces below skip
        // nothing but empty stretches between whole lines).
        let entries = parts.next();
        if entries == Some("") {
            return None;
        }
        let entries = entries.unwrap_or_default();
        // A corpus folder that cannot be opened is gone or unreadable: changed either way.
        let corpus = Corpus::open(root);
        let changed = match &corpus {
            Some(corpus) => taxonomy_of(corpus) != taxonomy,
            None => true,
        };
        Some(WatchCheck {
            corpus,
            entries,
            pieces: entries.len().div_ceil(PIECE_BYTES),
            next: AtomicUsize::new(0),
            changed: AtomicBool::new(changed),
            malformed: AtomicBool::new(false),
        })
    }

    /// Checks pieces not yet taken by another thread until none is left. Once a change is
    /// found the lines left are still read (a bad line makes the text no watch), not statted.
    pub fn help(&self) {
        loop {
            let piece = self.next.fetch_add(1, Ordering::Relaxed);
            if piece >= self.pieces {
                return;
            }
            let Some(run) = self.piece(piece) else {
                continue;
            };
            if !check_lines(self.corpus.as_ref(), run, &self.changed) {
                self.malformed.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Whether the corpus looks as the watch recorded; `None` when the text is no watch.
    /// Meaningful once every thread that helped has finished (joined).
    pub fn outcome(&self) -> Option<bool> {
        if self.malformed.load(Ordering::Relaxed) {
            return None;
        }
        Some(!self.changed.load(Ordering::Relaxed))
    }

    /// The lines of piece `i`: those that start in its stretch of [`PIECE_BYTES`] bytes,
    /// without the line break after the last; `None` when no line starts there.
    fn piece(&self, i: usize) -> Option<&'t str> {
        let (start, end) = (line_start_from(self.entries, i * PIECE_BYTES), {
            line_start_from(self.entries, (i + 1) * PIECE_BYTES)
        });
        if start >= end {
            return None;
        }
        // The line break before the next piece's first line is left out; the last piece
        // ends with the text.
        let end = if end < self.entries.len() { end - 1 } else { end };
        self.entries.get(start..end)
    }
}

/// The first line start of `text` at or after `at` (the length of `text` when none): a line
/// starts at 0 and after every line break.
fn line_start_from(text: &str, at: usize) -> usize {
    let bytes = text.as_bytes();
    if at == 0 || at >= bytes.len() {
        return at.min(bytes.len());
    }
    if bytes[at - 1] == b'\n' {
        return at;
    }
    bytes[at..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |offset| at + offset + 1)
}

/// Length of a piece of a watch's lines that one thread checks at a time: about 40 folders,
/// some 50 µs of `stat` calls, so that two threads finish within that of each other.
const PIECE_BYTES: usize = 2048;

/// The taxonomy's size and time in the corpus folder, when it is a file.
fn taxonomy_of(corpus: &Corpus) -> Option<(u64, u128)> {
    corpus
        .stat(TAXONOMY_FILE)
        .filter(|s| s.kind == Kind::File)
        .map(|s| (s.size, s.mtime_ns))
}

/// Reads the entry lines of `run` (separated by line breaks) and, until `changed` is set,
/// stats each path, setting `changed` at the first that differs; `false` when a line is no
/// entry. Each line is read in one pass (the time, then the path up to the line break), and
/// the path is statted where it lies in the text: a query reads 1,500 lines before it may
/// answer, and making a list of them first cost more than the `stat` calls' own work.
fn check_lines(corpus: Option<&Corpus>, run: &str, changed: &AtomicBool) -> bool {
    let bytes = run.as_bytes();
    let mut at = 0;
    loop {
        let Some(((path, size, mtime), end)) = entry_at(run, at) else {
            return false;
        };
        if !changed.load(Ordering::Relaxed) {
            let same = corpus.is_some_and(|corpus| same_stat(corpus, &path, size, mtime));
            if !same {
                changed.store(true, Ordering::Relaxed);
            }
        }
        if end == bytes.len() {
            return true;
        }
        at = end + 1;
    }
}

/// Whether `relative` in the corpus is a folder (no `size`) or a file of that size, with that
/// modification time.
fn same_stat(corpus: &Corpus, relative: &str, size: Option<u64>, mtime: u128) -> bool {
    corpus.stat(relative).is_some_and(|s| {
        let kind_and_size = match size {
            None => s.kind == Kind::Dir,
            Some(size) => s.kind == Kind::File && s.size == size,
        };
        kind_and_size && s.mtime_ns == mtime
    })
}

/// The entry of the line starting at `at` in `text` ([`parse_entry`]) and where the line ends
/// (its line break, or the end of `text`).
fn entry_at(text: &str, at: usize) -> Option<(Check<'_>, usize)> {
    let bytes = text.as_bytes();
    let (size, after_kind) = match bytes.get(at..at + 2)? {
        b"d " => (None, at + 2),
        b"f " => {
            let (size, end) = parse_number(bytes, at + 2)?;
            (Some(u64::try_from(size).ok()?), end)
        }
        _ => return None,
    };
    let (mtime, path_start) = parse_number(bytes, after_kind)?;
    let (end, escaped) = line_end(bytes, path_start);
    let path = text.get(path_start..end)?;
    let path = if escaped {
        unescape_line(path)?
    } else {
        Cow::Borrowed(path)
    };
    Some(((path, size, mtime), end))
}

/// Where the line that goes on at `from` ends (its line break, or the end of `bytes`), and
/// whether it holds a `\\` before that. Eight bytes are looked at a time, the lines of a watch
/// being a few dozen bytes: a byte at a time cost more than reading the rest of the line.
fn line_end(bytes: &[u8], from: usize) -> (usize, bool) {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Whether a byte of `word` is zero (the classic test: exact for "any", which is all
    // this needs).
    let has_zero = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS != 0;
    let (breaks, backslashes) = (u64::from_ne_bytes([b'\n'; 8]), u64::from_ne_bytes([b'\\'; 8]));
    let mut at = from;
    let mut escaped = false;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let word = u64::from_ne_bytes(chunk.try_into().unwrap_or([0; 8]));
        let slash = has_zero(word ^ backslashes);
        if has_zero(word ^ breaks) {
            break;
        }
        escaped |= slash;
        at += 8;
    }
    for (i, &b) in bytes[at.min(bytes.len())..].iter().enumerate() {
        if b == b'\n' {
            return (at + i, escaped);
        }
        escaped |= b == b'\\';
    }
    (bytes.len(), escaped)
}

/// One thing a watch stats: a path relative to the corpus root (a folder when it has no
/// size), its size and its modification time.
type Check<'a> = (Cow<'a, str>, Option<u64>, u128);

/// Whether the taxonomy and every checked path of the corpus at `root` are as recorded. Each
/// path is statted relative to the corpus folder, opened once ([`Corpus`]), and large watches
/// are split between threads ([`stat_threads`]).
fn unchanged(root: &Path, taxonomy: Option<(u64, u128)>, checks: &[Check]) -> bool {
    unchanged_on(root, taxonomy, checks, stat_threads(checks.len()))
}

/// [`unchanged`] on `threads` threads.
fn unchanged_on(root: &Path, taxonomy: Option<(u64, u128)>, checks: &[Check], threads: usize) -> bool {
    // A corpus folder that cannot be opened is gone or unreadable: changed either way.
    let Some(corpus) = Corpus::open(root) else {
        return false;
    };
    if taxonomy_of(&corpus) != taxonomy {
        return false;
    }
    let same = |(relative, size, mtime): &Check| same_stat(&corpus, relative, *size, *mtime);
    if threads < 2 {
        return checks.iter().all(same);
    }
    let changed = AtomicBool::new(false);
    let chunk = checks.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let mut parts = checks.chunks(chunk);
        // The calling thread takes the first part itself: one thread fewer to start.
        let first = parts.next().unwrap_or_default();
        for part in parts {
            let (changed, same) = (&changed, &same);
            scope.spawn(move || check_part(part, changed, same));
        }
        check_part(first, &changed, &same);
    });
    !changed.load(Ordering::Relaxed)
}

/// Checks `part` until one check fails (then sets `changed`) or another part has failed.
fn check_part(part: &[Check], changed: &AtomicBool, same: &dyn Fn(&Check) -> bool) {
    for check in part {
        if changed.load(Ordering::Relaxed) {
            return;
        }
        if !same(check) {
            changed.store(true, Ordering::Relaxed);
            return;
        }
    }
}

/// How many threads stat `checks` paths: one below [`PARALLEL_STAT_MIN`]; else half the cores
/// (at most 4), because a query checks beside its search, which keeps a core busy itself.
fn stat_threads(checks: usize) -> usize {
    if checks < PARALLEL_STAT_MIN {
        return 1;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / 2).clamp(1, 4)
}

/// Watches with fewer entries than this are checked on one thread.
const PARALLEL_STAT_MIN: usize = 256;

/// First line of a watch written by [`Watch::to_text`].
const WATCH_HEADER: &str = "rsearch watch 1";

/// The taxonomy line of a watch's text: `t SIZE TIME`, or `t -` when there was none.
fn parse_taxonomy(line: &str) -> Option<Option<(u64, u128)>> {
    match line.strip_prefix("t ")? {
        "-" => Some(None),
        sizes => {
            let (size, mtime) = sizes.split_once(' ')?;
            Some(Some((size.parse().ok()?, parse_time(mtime)?)))
        }
    }
}

/// The lines of a watch's text (a line break ends each; paths hold none, being escaped).
fn watch_lines(text: &str) -> impl Iterator<Item = &str> {
    text.strip_suffix('\n').unwrap_or(text).split('\n')
}

/// A folder line (`d TIME PATH`) or a file line (`f SIZE TIME PATH`) of a watch's text.
fn parse_entry(line: &str) -> Option<Check<'_>> {
    entry_at(line, 0).and_then(|(entry, end)| (end == line.len()).then_some(entry))
}

/// The decimal number starting at `at` in `bytes` and ending at a space, and where what
/// follows the space starts; `None` without digits or the space. Up to 19 digits (a time has
/// 19) are added up in 64 bits, which cannot overflow, in the pass that finds their end: a
/// query reads 1,500 of them before it may answer. A longer number takes the slower reading.
fn parse_number(bytes: &[u8], at: usize) -> Option<(u128, usize)> {
    // A time: 19 digits and a space, added up without a test a digit.
    if let Some(&[ref digits @ .., b' ']) = bytes.get(at..at + 20) {
        let mut all_digits = true;
        let mut value: u64 = 0;
        for &b in digits {
            let digit = b.wrapping_sub(b'0');
            all_digits &= digit < 10;
            value = value.wrapping_mul(10).wrapping_add(u64::from(digit));
        }
        if all_digits {
            return Some((u128::from(value), at + 20));
        }
    }
    let mut value: u64 = 0;
    let mut end = at;
    while let Some(digit) = bytes.get(end).map(|b| b.wrapping_sub(b'0')).filter(|d| *d < 10) {
        if end - at == 19 {
            return parse_long_number(bytes, at);
        }
        value = value * 10 + u64::from(digit);
        end += 1;
    }
    if end == at || bytes.get(end) != Some(&b' ') {
        return None;
    }
    Some((u128::from(value), end + 1))
}

/// [`parse_number`] of a number of 20 digits or more.
fn parse_long_number(bytes: &[u8], at: usize) -> Option<(u128, usize)> {
    let digits = bytes.get(at..)?.iter().take_while(|b| b.is_ascii_digit()).count();
    if bytes.get(at + digits) != Some(&b' ') {
        return None;
    }
    let text = std::str::from_utf8(&bytes[at..at + digits]).ok()?;
    Some((text.parse().ok()?, at + digits + 1))
}

/// A time in nanoseconds; read as 64 bits when it fits (until the year 2554), which is several
/// times faster than a 128-bit read.
fn parse_time(text: &str) -> Option<u128> {
    match text.parse::<u64>() {
        Ok(n) => Some(u128::from(n)),
        Err(_) => text.parse().ok(),
    }
}

/// A path on one line: `\` and line breaks escaped.
pub(crate) fn escape_line(path: &str) -> String {
    if !path.contains(['\\', '\n', '\r']) {
        return path.to_string();
    }
    path.replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

/// The path [`escape_line`] escaped; `None` for an escape it does not write.
pub(crate) fn unescape_line(line: &str) -> Option<Cow<'_, str>> {
    if !line.contains('\\') {
        return Some(Cow::Borrowed(line));
    }
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next()? {
            '\\' => '\\',
            'n' => '\n',
            'r' => '\r',
            _ => return None,
        });
    }
    Some(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_text_reads_back_as_written_whatever_the_names() {
        let watches = [
            Watch::default(),
            Watch {
                dirs: vec![(String::new(), 1), ("a b/c".into(), u128::MAX)],
                taxonomy: Some((12, 1_795_000_000_000_000_000)),
                files: vec![("x.txt".into(), 0, 7), ("line\nbreak\\n\r.md".into(), 3, 4)],
            },
            Watch {
                dirs: vec![("back\\slash".into(), 9)],
                taxonomy: None,
                files: Vec::new(),
            },
        ];
        for watch in watches {
            assert_eq!(Watch::from_text(&watch.to_text()), Some(watch));
        }
    }

    #[test]
    fn watch_text_tells_a_changed_folder_as_the_watch_does() {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::create_dir(dir.path().join("sub dir")).expect("folder");
        let time = |path: &Path| mtime_ns(&fs::metadata(path).expect("stat"));
        let watch = Watch {
            dirs: vec![
                (String::new(), time(dir.path())),
                ("sub dir".into(), time(&dir.path().join("sub dir"))),
            ],
            taxonomy: None,
            files: Vec::new(),
        };
        let moved = Watch {
            dirs: vec![("sub dir".into(), 1)],
            ..watch.clone()
        };
        for (watch, same) in [(watch, true), (moved, false)] {
            assert_eq!(watch.unchanged(dir.path()), same);
            assert_eq!(Watch::text_unchanged(&watch.to_text(), dir.path()), Some(same));
        }
        assert_eq!(Watch::text_unchanged("{}", dir.path()), None);
    }

    #[test]
    fn watch_text_that_is_not_a_watch_is_none() {
        for text in [
            "",
            "{}",
            "rsearch watch 1\n",
            "rsearch watch 1\nt x 1\n",
            "rsearch watch 1\nt -\nd 1\n",
            "rsearch watch 1\nt -\nd 1 bad\\escape\n",
        ] {
            assert_eq!(Watch::from_text(text), None, "{text:?}");
        }
    }
    /// A corpus of nested folders (`a/b/c` and 300 more, so that the check is split between
    /// threads), a taxonomy and a document in each of two folders.
    fn nested_corpus() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        fs::create_dir_all(root.join("a/b/c")).expect("folders");
        for i in 0..300 {
            fs::create_dir(root.join(format!("a/b/many-{i:03}"))).expect("folder");
        }
        fs::write(root.join("a/b/c/deep.txt"), "Deep\n\nA document deep down.\n").expect("write");
        fs::write(root.join("top.md"), "# Top\n\nA document at the top.\n").expect("write");
        fs::write(
            root.join(TAXONOMY_FILE),
            "[[roles]]\nslug = \"ceo\"\nname = \"CEO\"\n",
        )
        .expect("write");
        dir
    }

    /// A change to a corpus, named, done to the folder given.
    type Change = (&'static str, fn(&Path));

    #[test]
    fn check_sees_every_change_the_watch_promises_on_one_thread_or_several() {
        let changes: [Change; 10] = [
            ("a document added in a deep folder", |root| {
                fs::write(root.join("a/b/c/new.txt"), "New\n").expect("write")
            }),
            ("a document added in the last folder", |root| {
                fs::write(root.join("a/b/many-299/new.txt"), "New\n").expect("write")
            }),
            ("a document removed", |root| {
                fs::remove_file(root.join("a/b/c/deep.txt")).expect("rm")
            }),
            ("a document renamed", |root| {
                fs::rename(root.join("top.md"), root.join("top-renamed.md")).expect("mv")
            }),
            ("a folder renamed", |root| {
                fs::rename(root.join("a/b/c"), root.join("a/b/renamed")).expect("mv")
            }),
            ("a folder added", |root| {
                fs::create_dir(root.join("a/b/c/d")).expect("mkdir")
            }),
            ("a folder removed", |root| {
                fs::remove_dir(root.join("a/b/many-150")).expect("rmdir")
            }),
            ("the taxonomy edited", |root| {
                fs::write(
                    root.join(TAXONOMY_FILE),
                    "[[roles]]\nslug = \"cto\"\nname = \"Chief\"\n",
                )
                .expect("write")
            }),
            ("the taxonomy removed", |root| {
                fs::remove_file(root.join(TAXONOMY_FILE)).expect("rm")
            }),
            ("a document rewritten in place (a small corpus)", |root| {
                fs::write(root.join("a/b/c/deep.txt"), "Deep\n\nRewritten, and longer.\n").expect("write")
            }),
        ];
        for (name, change) in changes {
            let dir = nested_corpus();
            let root = dir.path();
            let watch = Watch::of(&crate::corpus::scan(root).expect("scan"));
            assert_eq!(watch.dirs.len(), 304, "{name}");
            let text = watch.to_text();
            let owned: Vec<(String, Option<u64>, u128)> = text
                .lines()
                .skip(2)
                .map(|line| {
                    let (path, size, mtime) = parse_entry(line).expect("entry");
                    (path.into_owned(), size, mtime)
                })
                .collect();
            let checks: Vec<Check> = owned
                .iter()
                .map(|(path, size, mtime)| (Cow::Borrowed(path.as_str()), *size, *mtime))
                .collect();
            let unchanged_on_threads = |threads| unchanged_on(root, watch.taxonomy, &checks, threads);
            for threads in [1, 3] {
                assert!(unchanged_on_threads(threads), "before: {name}, {threads} threads");
            }
            let text_on_threads = |threads: fn(usize) -> usize| text_unchanged_on(&text, root, threads);
            for (threads, runs) in [(|_| 1, 1), (|_| 3, 3)] as [(fn(usize) -> usize, usize); 2] {
                assert_eq!(
                    text_on_threads(threads),
                    Some(true),
                    "before: {name}, {runs} runs"
                );
            }
            assert_eq!(
                Watch::text_unchanged(&watch.to_text(), root),
                Some(true),
                "{name}"
            );
            // Folder times tick with the kernel's clock: let it tick before the change.
            std::thread::sleep(std::time::Duration::from_millis(20));
            change(root);
            for threads in [1, 3] {
                assert!(
                    !unchanged_on_threads(threads),
                    "{name} not seen on {threads} threads"
                );
            }
            for (threads, runs) in [(|_| 1, 1), (|_| 3, 3)] as [(fn(usize) -> usize, usize); 2] {
                assert_eq!(
                    text_on_threads(threads),
                    Some(false),
                    "{name} not seen in {runs} runs"
                );
            }
            assert_eq!(
                Watch::text_unchanged(&watch.to_text(), root),
                Some(false),
                "{name}"
            );
            assert!(!watch.unchanged(root), "{name}");
        }
    }

    #[test]
    fn check_of_a_missing_corpus_folder_is_changed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let watch = Watch {
            dirs: vec![(String::new(), 1)],
            taxonomy: None,
            files: Vec::new(),
        };
        assert!(!watch.unchanged(&dir.path().join("gone")));
    }

    #[test]
    fn watch_entries_read_every_number_and_refuse_what_is_no_entry() {
        let max = u128::MAX.to_string();
        let beyond_64 = format!("d {} a", u128::from(u64::MAX) + 1);
        /// A line and the path, size and time read from it.
        type EntryCase<'a> = (&'a str, Option<(&'a str, Option<u64>, u128)>);
        let cases: [EntryCase; 9] = [
            ("d 0 ", Some(("", None, 0))),
            (
                "d 1795000000123456789 a b/c",
                Some(("a b/c", None, 1_795_000_000_123_456_789)),
            ),
            (
                "f 12 18446744073709551615 x.txt",
                Some(("x.txt", Some(12), u128::from(u64::MAX))),
            ),
            (&beyond_64, Some(("a", None, u128::from(u64::MAX) + 1))),
            ("d +1 a", None),
            ("d 1", None),
            ("f 1 a.txt", None),
            ("f 18446744073709551616 1 a.txt", None),
            ("x 1 a", None),
        ];
        for (line, expected) in cases {
            let parsed = parse_entry(line).map(|(path, size, mtime)| (path.into_owned(), size, mtime));
            let expected = expected.map(|(path, size, mtime)| (path.to_string(), size, mtime));
            assert_eq!(parsed, expected, "{line:?}");
        }
        let line = format!("d {max} end");
        assert_eq!(parse_entry(&line).map(|e| e.2), Some(u128::MAX));
        assert_eq!(parse_entry(&format!("d {max}0 end")), None);
        assert_eq!(
            parse_entry(&format!("d 0{max} end")).map(|e| e.2),
            Some(u128::MAX)
        );
    }

    #[test]
    fn watch_check_pieces_cut_between_whole_lines_and_keep_every_line() {
        let lines: Vec<String> = (0..700)
            .map(|i| format!("d {i} {}", "é/x".repeat(i % 37)))
            .collect();
        let entries = lines.join("\n");
        let text = format!("{WATCH_HEADER}\nt -\n{entries}\n");
        let dir = tempfile::tempdir().expect("temp dir");
        let check = WatchCheck::new(&text, dir.path()).expect("a watch");
        assert!(check.pieces > 10, "{} pieces", check.pieces);
        let pieces: Vec<&str> = (0..check.pieces).filter_map(|i| check.piece(i)).collect();
        assert_eq!(pieces.join("\n"), entries);
        for piece in &pieces {
            assert!(
                piece.split('\n').all(|line| parse_entry(line).is_some()),
                "{piece:?}"
            );
        }
        // A line longer than a piece leaves the pieces it covers empty.
        let long = format!("d 1 {}\nd 2 b", "a".repeat(3 * PIECE_BYTES));
        let text = format!("{WATCH_HEADER}\nt -\n{long}");
        let check = WatchCheck::new(&text, dir.path()).expect("a watch");
        let pieces: Vec<&str> = (0..check.pieces).filter_map(|i| check.piece(i)).collect();
        assert_eq!(pieces.join("\n"), long);
        assert_eq!(pieces.len(), 2);
    }

    #[test]
    fn watch_text_with_a_bad_line_is_no_watch_even_after_a_change() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        let good = format!("d {} ", mtime_ns(&fs::metadata(root).expect("stat")));
        let many = |line: &str| vec![line.to_string(); 600].join("\n");
        let cases: [(String, Option<bool>); 6] = [
            (format!("{WATCH_HEADER}\nt -\n{}\n", many(&good)), Some(true)),
            (
                format!("{WATCH_HEADER}\nt -\n{}\nd 1 \n", many(&good)),
                Some(false),
            ),
            (format!("{WATCH_HEADER}\nt -\nd 1 \n{}\nbad\n", many(&good)), None),
            (format!("{WATCH_HEADER}\nt -\n{}\n\n", many(&good)), None),
            (format!("{WATCH_HEADER}\nt -"), Some(true)),
            (format!("{WATCH_HEADER}\nt 1 1\n"), Some(false)),
        ];
        for (text, expected) in cases {
            for threads in [(|_| 1) as fn(usize) -> usize, |_| 3] {
                let short: String = text.chars().take(60).collect();
                assert_eq!(text_unchanged_on(&text, root, threads), expected, "{short:?}");
            }
        }
    }
    #[test]
    fn line_end_finds_the_break_and_a_backslash_before_it_wherever_they_fall() {
        for len in 0..20 {
            for slash in [None, Some(0), Some(7), Some(8), Some(len)] {
                let mut line: Vec<u8> = vec![b'a'; len + 1];
                if let Some(at) = slash {
                    line[at.min(len)] = b'\\';
                }
                line[len] = b'\n';
                line.extend_from_slice(b"b\\c\n");
                let escaped = slash.is_some_and(|at| at < len);
                assert_eq!(line_end(&line, 0), (len, escaped), "{len} {slash:?}");
                assert_eq!(
                    line_end(&line[..len], 0),
                    (len, escaped),
                    "{len} {slash:?} unended"
                );
            }
        }
        assert_eq!(line_end(b"x\ny\\", 2), (4, true));
    }
}
