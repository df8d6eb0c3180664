//! The corpus watch: what a query stats to tell, cheaply, whether the corpus changed since the
//! index was built (folder times, the taxonomy, and small corpora's files), kept as lines of text.

use std::borrow::Cow;
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use super::{mtime_ns, Scan};
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
        let mut lines = text.lines();
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
    /// the watch: a query reads one before every search, and the paths need no copy to be
    /// statted. `None` when the text is no watch.
    pub fn text_unchanged(text: &str, root: &Path) -> Option<bool> {
        let mut lines = text.lines();
        if lines.next()? != WATCH_HEADER {
            return None;
        }
        let taxonomy = parse_taxonomy(lines.next()?)?;
        let mut checks: Vec<Check> = Vec::with_capacity(text.len() / 48);
        for line in lines {
            checks.push(parse_entry(line)?);
        }
        Some(unchanged(root, taxonomy, &checks))
    }
}

/// One thing a watch stats: a path relative to the corpus root (a folder when it has no
/// size), its size and its modification time.
type Check<'a> = (Cow<'a, str>, Option<u64>, u128);

/// Whether the taxonomy and every checked path of the corpus at `root` are as recorded. Large
/// watches are checked on one thread per core (a `stat` is a few microseconds on overlay file
/// systems; 1,500 folders take milliseconds on one thread).
fn unchanged(root: &Path, taxonomy: Option<(u64, u128)>, checks: &[Check]) -> bool {
    let taxonomy_now = fs::metadata(root.join(TAXONOMY_FILE))
        .ok()
        .filter(fs::Metadata::is_file)
        .map(|m| (m.len(), mtime_ns(&m)));
    if taxonomy_now != taxonomy {
        return false;
    }
    // Paths are made in one buffer (joining a path for each stat cost more than the
    // parsing); a root that is not Unicode takes `Path::join`.
    let same = |(relative, size, mtime): &Check, buffer: &mut String| {
        let metadata = match root.to_str() {
            _ if relative.is_empty() => fs::metadata(root),
            Some(base) => {
                buffer.clear();
                buffer.push_str(base);
                buffer.push('/');
                buffer.push_str(relative);
                fs::metadata(&*buffer)
            }
            None => fs::metadata(root.join(&**relative)),
        };
        metadata.is_ok_and(|m| {
            let kind_and_size = match size {
                None => m.is_dir(),
                Some(size) => m.is_file() && m.len() == *size,
            };
            kind_and_size && mtime_ns(&m) == *mtime
        })
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    if checks.len() < PARALLEL_STAT_MIN || threads < 2 {
        let mut buffer = String::new();
        return checks.iter().all(|check| same(check, &mut buffer));
    }
    let changed = AtomicBool::new(false);
    let chunk = checks.len().div_ceil(threads);
    std::thread::scope(|scope| {
        for part in checks.chunks(chunk) {
            let (changed, same) = (&changed, &same);
            scope.spawn(move || {
                let mut buffer = String::new();
                for check in part {
                    if changed.load(Ordering::Relaxed) {
                        return;
                    }
                    if !same(check, &mut buffer) {
                        changed.store(true, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    !changed.load(Ordering::Relaxed)
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

/// A folder line (`d TIME PATH`) or a file line (`f SIZE TIME PATH`) of a watch's text.
fn parse_entry(line: &str) -> Option<Check<'_>> {
    if let Some(rest) = line.strip_prefix("d ") {
        let (mtime, path) = rest.split_once(' ')?;
        Some((unescape_line(path)?, None, parse_time(mtime)?))
    } else {
        let (size, rest) = line.strip_prefix("f ")?.split_once(' ')?;
        let (mtime, path) = rest.split_once(' ')?;
        Some((unescape_line(path)?, Some(size.parse().ok()?), parse_time(mtime)?))
    }
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
fn escape_line(path: &str) -> String {
    if !path.contains(['\\', '\n', '\r']) {
        return path.to_string();
    }
    path.replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

/// The path [`escape_line`] escaped; `None` for an escape it does not write.
fn unescape_line(line: &str) -> Option<Cow<'_, str>> {
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
}
