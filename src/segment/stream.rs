//! A large Markdown document cut a piece at a time: text is gathered up to a size, cut between
//! blocks, and only what follows the cut is kept, so memory holds a piece, not the document.

use super::*;

/// Cuts a Markdown document fed as its text in order, in pieces that start and end between
/// blocks (after a blank line outside a fenced block), into the passages cutting the whole
/// text at once gives ([`passages`]), handed to a sink as they are cut.
pub struct MarkdownPieces {
    source: String,
    /// Text gathered and not cut yet; it starts between two blocks.
    pending: String,
    /// Bytes of `pending` scanned for places to cut.
    scanned: usize,
    /// Whether the scan stands inside a fenced block.
    in_fence: bool,
    /// Whether the scan stands inside the front matter opening the document, whose lines are
    /// no blocks (a fence there opens nothing).
    in_front_matter: bool,
    /// The last place to cut found by the scan (the end of a blank line outside a fence).
    cut_at: Option<usize>,
    /// Bytes gathered before a piece is cut.
    piece_bytes: usize,
    /// Started by the piece that opens the document.
    assembly: Option<Assembly>,
}

impl MarkdownPieces {
    /// A cutter for the document named `source`, cutting pieces of about `piece_bytes`.
    pub fn new(source: &str, piece_bytes: usize) -> MarkdownPieces {
        MarkdownPieces {
            source: source.to_string(),
            pending: String::new(),
            scanned: 0,
            in_fence: false,
            in_front_matter: false,
            cut_at: None,
            piece_bytes: piece_bytes.max(1),
            assembly: None,
        }
    }

    /// Takes the next text of the document; passages go to `sink` with the document's title.
    pub fn feed(&mut self, text: &str, sink: &mut dyn FnMut(&str, Passage)) {
        self.pending.push_str(text);
        if self.pending.len() - self.scanned < self.piece_bytes && self.scanned > 0 {
            return;
        }
        self.scan();
        if self.pending.len() >= self.piece_bytes {
            self.cut(false, sink);
        }
    }

    /// Cuts what is left and gives the document (without passages) and its number of headings.
    pub fn finish(mut self, sink: &mut dyn FnMut(&str, Passage)) -> (Document, usize) {
        self.cut(true, sink);
        let assembly = self
            .assembly
            .unwrap_or_else(|| Assembly::markdown(file_stem(&self.source), false));
        assembly.finish(&self.source)
    }

    /// Finds places to cut in the complete lines not scanned yet, as [`blocks`] reads them.
    fn scan(&mut self) {
        let Some(end) = self.pending.rfind('\n').map(|n| n + 1) else {
            return;
        };
        if end <= self.scanned {
            return;
        }
        let mut at = self.scanned;
        for raw in self.pending[self.scanned..end].split_inclusive('\n') {
            // The document's first line is read without its byte order mark, as `blocks`
            // reads it: a fence opening there is a fence.
            let first = at == 0 && self.assembly.is_none();
            at += raw.len();
            let mut line = raw.trim_end_matches('\n').trim_end_matches('\r');
            if first {
                line = line.strip_prefix('\u{feff}').unwrap_or(line);
                // As `front_matter` reads it: a first line of `---` opens front matter.
                let raw = raw.strip_prefix('\u{feff}').unwrap_or(raw);
                if raw == "---\n" || raw == "---\r\n" {
                    self.in_front_matter = true;
                    continue;
                }
            }
            if self.in_front_matter {
                // Until its closing line nothing is cut (the opening piece would be refused),
                // and if it never closes the last piece is cut whole.
                let trimmed = line.trim();
                self.in_front_matter = !(trimmed == "---" || trimmed == "...");
                continue;
            }
            if line.trim_start().starts_with("```") {
                self.in_fence = !self.in_fence;
            }
            // A piece may not start with a byte order mark, which `blocks` drops at the start.
            if line.trim().is_empty() && !self.in_fence && !self.pending[at..].starts_with('\u{feff}') {
                self.cut_at = Some(at);
            }
        }
        self.scanned = end;
    }

    /// Cuts the pending text up to the last place to cut (all of it when `last`).
    fn cut(&mut self, last: bool, sink: &mut dyn FnMut(&str, Passage)) {
        let end = if last {
            self.pending.len()
        } else {
            match self.cut_at {
                Some(end) => end,
                None => return,
            }
        };
        let done = markdown_into(
            &self.pending[..end],
            &self.source,
            &mut self.assembly,
            false,
            last,
            sink,
        );
        if !done {
            // The opening piece cannot settle its title yet: it waits for more text.
            return;
        }
        self.pending.drain(..end);
        self.scanned -= end.min(self.scanned);
        self.cut_at = None;
        if last {
            self.pending = String::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Passages with their document's title, and the number of headings.
    type Cut = (Vec<(String, Passage)>, usize);

    /// The passages and headings of `text` cut whole and cut in pieces of `piece` bytes, fed
    /// `feed` bytes at a time (at character boundaries).
    fn both(text: &str, piece: usize, feed: usize) -> (Cut, Cut) {
        let source = SourceText {
            source: "dir/big.md".into(),
            format: Format::Markdown,
            text: text.into(),
        };
        let mut whole = Vec::new();
        let (_, sections) = each_passage(&source, &Hints::default(), &mut |title, p| {
            whole.push((title.to_string(), p))
        });
        let mut streamed = Vec::new();
        let mut sink = |title: &str, p: Passage| streamed.push((title.to_string(), p));
        let mut pieces = MarkdownPieces::new("dir/big.md", piece);
        let mut rest = text;
        while !rest.is_empty() {
            let mut n = feed.min(rest.len());
            while !rest.is_char_boundary(n) {
                n += 1;
            }
            pieces.feed(&rest[..n], &mut sink);
            rest = &rest[n..];
        }
        let (_, streamed_sections) = pieces.finish(&mut sink);
        ((whole, sections), (streamed, streamed_sections))
    }

    #[test]
    fn pieces_give_the_passages_of_the_whole_text() {
        let mut text =
            String::from("---\ntitle: The Handbook\n\nauthor: x\n---\n\n![logo](a.png)\n\n# Top\n\n");
        for n in 0..40 {
            text.push_str(&format!(
                "## Part {n}\n\nThe CEO leads part {n}. It has words.\n\n"
            ));
            if n % 7 == 0 {
                text.push_str("```\ncode line\n\nstill code\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- item one\n- item two\n\n");
            }
            if n % 11 == 0 {
                text.push_str("<h3>Tagged</h3>\n\n[ref]: https://example.com\n\nSetext\n------\n\n");
            }
        }
        for (piece, feed) in [(1, 1), (7, 3), (64, 17), (300, 1000), (1 << 20, 4096)] {
            let (whole, streamed) = both(&text, piece, feed);
            assert_eq!(whole, streamed, "piece {piece}, feed {feed}");
        }
    }

    #[test]
    fn a_title_after_captions_and_unclosed_front_matter_wait_for_more_text() {
        for text in [
            "![a](a.png)\n\n![b](b.png)\n\n# Title\n\nBody text.\n\n## Next\n\nMore.\n",
            "---\ntitle: x\n\nno closing line\n\n# Real\n\nBody.\n",
            "Just one paragraph without a heading.\n\nAnd another.\n",
            "# T\n\nAB.\n\n\u{feff}B after a mark.\n\n\u{feff}C.\n",
            "\u{feff}```info\ncode\n\nmore code\n\nstill code\n",
            "---\ntitle: The *Guide*\n---\n\n\n\n# The Guide\n\n**Bold** words [link](u).\n",
            "---\ntitle: The Guide\n---\n\n## Other heading\n\nBody.\n",
            "---\r\nkey: a\n```\n\n---\n\nBody one.\n\n```\ncode\n\nmore\n```\n\nAfter.\n\nEnd.\n",
            "---\nkey: a\n```\n\nnever closed\n\n```\ncode\n\nmore\n",
            "# T\n\n## A\n\n**Bold one**\n\nText.\n\n**Bold two:**\n\nMore.\n\n## B\n\n**Three**\n\nEnd.\n",
            "",
        ] {
            for piece in [1, 5, 1000] {
                let (whole, streamed) = both(text, piece, 2);
                assert_eq!(whole, streamed, "{text:?} piece {piece}");
            }
        }
    }
}
