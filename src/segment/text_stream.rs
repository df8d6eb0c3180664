//! A large plain-text document cut in two passes over its text: the first keeps only what
//! telling headings from captions reads, the second cuts its passages a piece at a time.

use super::*;

/// Text gathered up to a size and cut after a blank line, so between two blocks: the blocks of
/// the pieces, put together, are the blocks of the whole text.
struct Gather {
    pending: String,
    /// Bytes of `pending` scanned for places to cut (it ends after a line break).
    scanned: usize,
    /// The last place to cut found by the scan (the end of a blank line).
    cut_at: Option<usize>,
    piece_bytes: usize,
    /// After a piece was refused, no new attempt before `pending` is this long: a refused
    /// piece is tried again only once it doubled, so the work stays linear in the text.
    wait_until: usize,
}

impl Gather {
    fn new(piece_bytes: usize) -> Gather {
        Gather {
            pending: String::new(),
            scanned: 0,
            cut_at: None,
            piece_bytes: piece_bytes.max(1),
            wait_until: 0,
        }
    }

    /// Adds the next text; gives where a piece may end once enough text is gathered.
    fn push(&mut self, text: &str) -> Option<usize> {
        self.pending.push_str(text);
        if self.pending.len() < self.piece_bytes.max(self.wait_until) {
            return None;
        }
        let end = self.pending.rfind('\n').map_or(0, |n| n + 1);
        if end > self.scanned {
            let mut at = self.scanned;
            for raw in self.pending[self.scanned..end].split_inclusive('\n') {
                at += raw.len();
                // As `blocks` reads a line: blank when only white space is left.
                if raw.trim().is_empty() {
                    self.cut_at = Some(at);
                }
            }
            self.scanned = end;
        }
        self.cut_at
    }

    /// Drops the first `n` bytes of the text, which were cut.
    fn consume(&mut self, n: usize) {
        self.pending.drain(..n);
        self.scanned = self.scanned.saturating_sub(n);
        self.cut_at = self.cut_at.filter(|&at| at > n).map(|at| at - n);
        self.wait_until = 0;
    }

    /// Nothing could be cut: wait for twice the text.
    fn refused(&mut self) {
        self.wait_until = self.pending.len().saturating_mul(2);
    }
}

/// The first pass over a plain-text document fed as its text in order: keeps, of each block,
/// only what [`classify_lines`] reads (its text when it is a short line, and of each short
/// line between two paragraphs whether the one after continues the one before and whether
/// they share a subject), then classifies every block at once, as cutting the whole text does.
/// A run of paragraphs is kept as at most [`PARAGRAPHS_KEPT`] of them: no rule counts further.
pub struct TextOutline {
    gather: Gather,
    hints: Hints,
    role_words: RoleWords,
    /// Whether no piece was cut yet (the text's start may hold a byte order mark).
    first_piece: bool,
    /// Whether the document's first block was seen (it may be the title).
    started: bool,
    title: Option<String>,
    /// [`short_lines`] of the body (the blocks after the title), each run of paragraphs
    /// shortened to [`PARAGRAPHS_KEPT`].
    lines: Vec<Option<String>>,
    /// The index among the body's blocks of each short line of `lines`, in order.
    positions: Vec<usize>,
    /// Blocks of the body read so far, and paragraphs since the last short line.
    blocks: usize,
    run: usize,
    around: Gathered,
    /// The lines of the last two blocks of the body, which the next piece's first short line
    /// may need.
    carry: Vec<Vec<String>>,
    bytes: u64,
}

impl TextOutline {
    /// A first pass reading pieces of about `piece_bytes`, with what is known of the roles.
    pub fn new(hints: &Hints, piece_bytes: usize) -> TextOutline {
        TextOutline {
            gather: Gather::new(piece_bytes),
            hints: hints.clone(),
            role_words: role_words(hints),
            first_piece: true,
            started: false,
            title: None,
            lines: Vec::new(),
            positions: Vec::new(),
            blocks: 0,
            run: 0,
            around: Gathered(Vec::new()),
            carry: Vec::new(),
            bytes: 0,
        }
    }

    /// Takes the next text of the document.
    pub fn feed(&mut self, text: &str) {
        self.bytes += text.len() as u64;
        if let Some(end) = self.gather.push(text) {
            let pending = std::mem::take(&mut self.gather.pending);
            self.take(&pending[..end]);
            self.gather.pending = pending;
            self.gather.consume(end);
        }
    }

    /// Reads what is left and classifies the document's blocks: the plan of the second pass.
    pub fn finish(mut self) -> TextPlan {
        let pending = std::mem::take(&mut self.gather.pending);
        self.take(&pending);
        drop(pending);
        self.lines.shrink_to_fit();
        let (kinds, _) = classify_lines(&self.lines, &self.hints, false, &mut self.around);
        // Only short lines are other than paragraphs: their kinds, at their blocks' places.
        let mut packed = Vec::with_capacity(self.positions.len());
        packed.extend(
            self.lines
                .iter()
                .zip(kinds)
                .filter(|(line, _)| line.is_some())
                .zip(&self.positions)
                .map(|((_, kind), &at)| pack(at, kind)),
        );
        drop(self.lines);
        TextPlan {
            title: self.title,
            kinds: packed,
            blocks: self.blocks,
            bytes: self.bytes,
        }
    }

    /// Keeps what classifying needs of the blocks of one piece.
    fn take(&mut self, text: &str) {
        let mut new = if self.first_piece {
            blocks(text, Format::Text)
        } else {
            raw_blocks(text, Format::Text)
        };
        self.first_piece = false;
        if !self.started && !new.is_empty() {
            self.started = true;
            let (title, _) = text_title(&new);
            if title.is_some() {
                self.title = title;
                new.remove(0);
            }
        }
        let carried = std::mem::take(&mut self.carry);
        let mut window: Vec<Block> = carried
            .iter()
            .map(|lines| Block {
                lines: lines.iter().map(String::as_str).collect(),
            })
            .collect();
        let base = window.len();
        window.extend(new);
        for w in base..window.len() {
            let line = short_line(&window[w]);
            let k = self.lines.len();
            // Block `k` is a paragraph after a short line that has a paragraph before it: that
            // line stands between two paragraphs, where a caption may stand. The blocks
            // before `k` are in this piece or carried from the last.
            if line.is_none() && k >= 2 && self.lines[k - 1].is_some() && self.lines[k - 2].is_none() {
                let before = block_words(&window[w - 2], &self.role_words);
                let after = block_words(&window[w], &self.role_words);
                let continues =
                    opens_as_continuation_words(window[w].lines.iter().flat_map(|l| l.split_whitespace()));
                self.around
                    .0
                    .push((k - 1, continues, same_words(&before, &after)));
            }
            if line.is_some() {
                self.positions.push(self.blocks);
                self.run = 0;
                self.lines.push(line);
            } else {
                self.run += 1;
                if self.run <= PARAGRAPHS_KEPT {
                    self.lines.push(None);
                }
            }
            self.blocks += 1;
        }
        let keep = window.len().saturating_sub(2);
        self.carry = window[keep..]
            .iter()
            .map(|block| block.lines.iter().map(|line| line.to_string()).collect())
            .collect();
    }
}

/// Paragraphs of a run that the first pass keeps: a line's signals tell one paragraph after
/// it, two, and three or more apart, and nothing else reads how many there are.
const PARAGRAPHS_KEPT: usize = 3;

/// What [`TextOutline`] found around each short line between two paragraphs: the line's
/// index, whether the paragraph after it continues the one before, whether they share a
/// subject; in order of the lines.
struct Gathered(Vec<(usize, bool, bool)>);

impl Gathered {
    fn of(&self, i: usize) -> (bool, bool) {
        self.0
            .binary_search_by_key(&i, |(line, _, _)| *line)
            .map_or((false, false), |n| (self.0[n].1, self.0[n].2))
    }
}

impl Around for Gathered {
    fn continues_after(&mut self, i: usize) -> bool {
        self.of(i).0
    }

    fn same_subject(&mut self, i: usize) -> bool {
        self.of(i).1
    }
}

/// What the first pass settled of a plain-text document: its title, the kind of each short
/// line of its body with its block's index (every other block is a paragraph), its number of
/// blocks and the length of its text. It is kept while the second pass hands passages to the
/// index writer, so each short line costs 8 bytes (its index and its kind in one number;
/// 16 bytes more as a pair), and no more are reserved than there are short lines.
pub struct TextPlan {
    title: Option<String>,
    /// [`pack`]ed, in order of the blocks.
    kinds: Vec<u64>,
    blocks: usize,
    bytes: u64,
}

impl TextPlan {
    /// The kind of the body's block `i`.
    fn kind(&self, i: usize) -> Kind {
        self.kinds
            .binary_search_by_key(&(i as u64), |packed| packed >> KIND_BITS)
            .map_or(Kind::Paragraph, |n| unpack(self.kinds[n]))
    }
}

/// Bits of a packed kind that hold the kind (the rest hold the block's index).
const KIND_BITS: u32 = 2;

/// Block `at` and its kind in one number: [`classify_lines`] gives a short line one of four
/// kinds (a heading's level is settled later, when the passages are cut).
fn pack(at: usize, kind: Kind) -> u64 {
    let code = match kind {
        // Markup kinds (tags, bold lines) never come from plain text.
        Kind::Heading(_) | Kind::Tagged(_) | Kind::BoldLine => 0,
        Kind::OuterHeading => 1,
        Kind::Caption => 2,
        Kind::Paragraph => 3,
    };
    ((at as u64) << KIND_BITS) | code
}

/// The kind [`pack`] packed.
fn unpack(packed: u64) -> Kind {
    match packed & ((1 << KIND_BITS) - 1) {
        0 => Kind::Heading(None),
        1 => Kind::OuterHeading,
        2 => Kind::Caption,
        _ => Kind::Paragraph,
    }
}

/// The second pass over a plain-text document: its text fed again in order, cut a piece at a
/// time (between blocks, never inside a run of headings, which nest by their count) into the
/// passages cutting the whole text at once gives, handed to a sink as they are cut.
pub struct TextPieces {
    source: String,
    gather: Gather,
    plan: TextPlan,
    /// Blocks of the body cut so far.
    at: usize,
    first_piece: bool,
    /// Whether the first block is the title, not cut yet.
    skip_title: bool,
    assembly: Assembly,
    bytes: u64,
    expected_bytes: u64,
}

impl TextPieces {
    /// The second pass for the document named `source`, with what the first pass settled.
    pub fn new(source: &str, plan: TextPlan, piece_bytes: usize) -> TextPieces {
        let skip_title = plan.title.is_some();
        let title = plan.title.clone().unwrap_or_else(|| file_stem(source));
        TextPieces {
            source: source.to_string(),
            gather: Gather::new(piece_bytes),
            at: 0,
            first_piece: true,
            skip_title,
            assembly: Assembly::new(title, false),
            bytes: 0,
            expected_bytes: plan.bytes,
            plan,
        }
    }

    /// Takes the next text of the document; passages go to `sink` with the document's title.
    pub fn feed(&mut self, text: &str, sink: &mut dyn FnMut(&str, Passage)) {
        self.bytes += text.len() as u64;
        if let Some(end) = self.gather.push(text) {
            self.take(end, false, sink);
        }
    }

    /// Cuts what is left and gives the document (without passages) and its number of
    /// headings; `None` when the text was not the one the first pass read (the file changed
    /// between the two reads): the passages handed on are then not to be kept.
    pub fn finish(mut self, sink: &mut dyn FnMut(&str, Passage)) -> Option<(Document, usize)> {
        let end = self.gather.pending.len();
        self.take(end, true, sink);
        let same = self.bytes == self.expected_bytes && self.at == self.plan.blocks;
        same.then(|| self.assembly.finish(&self.source))
    }

    fn take(&mut self, end: usize, last: bool, sink: &mut dyn FnMut(&str, Passage)) {
        let pending = std::mem::take(&mut self.gather.pending);
        let used = self.cut(&pending[..end], last, sink);
        self.gather.pending = pending;
        match used {
            Some(n) => self.gather.consume(n),
            None => self.gather.refused(),
        }
    }

    /// Cuts the blocks of `text` up to the last that does not end inside a run of headings
    /// (all of them when `last`); gives the bytes cut, `None` when none could be.
    fn cut(&mut self, text: &str, last: bool, sink: &mut dyn FnMut(&str, Passage)) -> Option<usize> {
        let mut blocks = if self.first_piece {
            blocks(text, Format::Text)
        } else {
            raw_blocks(text, Format::Text)
        };
        let skip = self.skip_title && !blocks.is_empty();
        if skip {
            blocks.remove(0);
        }
        let heading = |i: usize| {
            matches!(
                self.plan.kind(i),
                Kind::Heading(_) | Kind::OuterHeading | Kind::Tagged(_)
            )
        };
        let n = blocks.len();
        let mut q = n;
        // Never inside a run of headings, nor between the lines of a block read a paragraph a
        // line (`lines_are_paragraphs`): the rest, read again, must split as the whole did.
        while !last
            && q > 0
            && ((q < n && !after_blank_line(text, &blocks, q))
                || (heading(self.at + q - 1) && heading(self.at + q)))
        {
            q -= 1;
        }
        if q == 0 && n > 0 {
            return None;
        }
        let used = match blocks.get(q) {
            // The rest starts at the first line of block `q`, which borrows from `text`.
            Some(block) => block.lines[0].as_ptr() as usize - text.as_ptr() as usize,
            None => text.len(),
        };
        // A text changed since the first pass may have more blocks: they read as paragraphs.
        let kinds: Vec<Kind> = (self.at..self.at + q).map(|i| self.plan.kind(i)).collect();
        self.assembly.feed(&blocks[..q], &kinds, &[], sink);
        self.at += q;
        self.first_piece = false;
        if skip {
            self.skip_title = false;
        }
        Some(used)
    }
}

/// Whether block `q` of `text` starts after a blank line (not after a line of its block read
/// a paragraph a line); `q` is neither the first block nor past the last.
fn after_blank_line(text: &str, blocks: &[Block], q: usize) -> bool {
    let offset = |line: &str| line.as_ptr() as usize - text.as_ptr() as usize;
    let before = blocks[q - 1]
        .lines
        .last()
        .map_or(0, |line| offset(line) + line.len());
    let start = offset(blocks[q].lines[0]);
    text[before..start].matches('\n').count() >= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Passages with their document's title, and the number of headings.
    type Cut = (Vec<(String, Passage)>, usize);

    fn whole(text: &str, hints: &Hints) -> Cut {
        let source = SourceText {
            source: "dir/big.txt".into(),
            format: Format::Text,
            text: text.into(),
        };
        let mut passages = Vec::new();
        let (document, sections) = each_passage(&source, hints, &mut |title, p| {
            passages.push((title.to_string(), p))
        });
        assert!(passages.iter().all(|(title, _)| *title == document.title));
        (passages, sections)
    }

    /// `text` fed `feed` bytes at a time (at character boundaries).
    fn fed(text: &str, feed: usize, each: &mut dyn FnMut(&str)) {
        let mut rest = text;
        while !rest.is_empty() {
            let mut n = feed.min(rest.len());
            while !rest.is_char_boundary(n) {
                n += 1;
            }
            each(&rest[..n]);
            rest = &rest[n..];
        }
    }

    fn two_passes(text: &str, hints: &Hints, piece: usize, feed: usize) -> Cut {
        let mut outline = TextOutline::new(hints, piece);
        fed(text, feed, &mut |t| outline.feed(t));
        let mut pieces = TextPieces::new("dir/big.txt", outline.finish(), piece);
        let mut passages = Vec::new();
        let mut sink = |title: &str, p: Passage| passages.push((title.to_string(), p));
        fed(text, feed, &mut |t| pieces.feed(t, &mut sink));
        let (_, sections) = pieces.finish(&mut sink).expect("the same text");
        (passages, sections)
    }

    /// A text with what weighing reads across the document: sibling patterns, runs of
    /// headings, captions between paragraphs on the same subject, continuations, role names,
    /// a closing section, long paragraphs.
    fn generated() -> String {
        let mut text = String::from("The Handbook of Roles\n\nIntro paragraph about the company.\n\n");
        let subjects = [
            "security budget",
            "hiring culture",
            "market research",
            "product roadmap",
        ];
        for n in 0..60 {
            let subject = subjects[n % subjects.len()];
            if n % 9 == 0 {
                text.push_str(&format!("Part {n}\n\nOverview {n}\n\n"));
            }
            text.push_str(&format!("Role of the team {n}\n\n"));
            text.push_str(&format!(
                "The {subject} matters for growth. Leaders discuss {subject} weekly.\n\n"
            ));
            match n % 5 {
                0 => text.push_str("Figure 2: The team\n\n"),
                1 => text.push_str("Chief Executive Officer (CEO)\n\n"),
                2 => text.push_str("Read more at www.example.com\n\n"),
                3 => text.push_str("Why does it matter?\n\n"),
                _ => text.push_str("A Short Title Case Line Here\n\n"),
            }
            if n % 3 == 0 {
                text.push_str(&format!("Furthermore, the {subject} keeps its weight.\n\n"));
            } else {
                text.push_str(&format!("They said the {subject} was settled.\n\n"));
            }
            // Runs of one to five paragraphs: the first pass keeps three of a longer run.
            for k in 0..n % 5 {
                text.push_str(&format!("Plain paragraph {k} on {subject}, told at length.\n\n"));
            }
            if n % 7 == 0 {
                text.push_str(&"word ".repeat(300));
                text.push_str("\n\n   \n\n\u{feff}A line after a mark\n\nText.\n\n");
            }
        }
        text.push_str("Closing words\n\nThe end of the whole article, one paragraph.\n");
        text
    }

    #[test]
    fn two_passes_never_cut_between_the_lines_of_a_block_read_a_paragraph_a_line() {
        let hints = Hints::default();
        let prose = "The captain is in command of the aircraft and responsible for everyone on board.";
        let mut text = String::from("Pilots and Controllers\n\n");
        for n in 0..12 {
            // Its last two lines start a run of headings that goes on after the blank line: cut
            // before them (never inside a run), the two left alone would read as one block.
            text.push_str(&format!(
                "{prose}\nFirst {n}\nSecond {n}\n\nThird {n}\n\n{prose}\n\n"
            ));
        }
        let expected = whole(&text, &hints);
        assert_eq!(expected.0.len(), 24);
        assert_eq!(expected.1, 36);
        for (piece, feed) in [(1, 1), (37, 37), (64, 37), (150, 7), (1 << 20, 4096)] {
            assert_eq!(
                two_passes(&text, &hints, piece, feed),
                expected,
                "piece {piece}, feed {feed}"
            );
        }
    }

    #[test]
    fn two_passes_give_the_passages_of_the_whole_text() {
        let hints = Hints {
            roles: vec![vec!["Chief Executive Officer".into(), "CEO".into()]],
        };
        let text = generated();
        let expected = whole(&text, &hints);
        assert!(expected.0.len() > 100, "{} passages", expected.0.len());
        // The text holds what is weighed across it: captions and headings closing a part.
        let blocks = blocks(&text, Format::Text);
        let (kinds, _) = classify_text(&blocks[1..], &hints, false);
        let count = |kind: Kind| kinds.iter().filter(|k| **k == kind).count();
        assert!(count(Kind::Caption) > 10, "{} captions", count(Kind::Caption));
        assert!(count(Kind::OuterHeading) > 0 && count(Kind::Heading(None)) > 60);
        for (piece, feed) in [(1, 1), (7, 3), (64, 17), (300, 1000), (2000, 50), (1 << 20, 4096)] {
            assert_eq!(
                two_passes(&text, &hints, piece, feed),
                expected,
                "piece {piece}, feed {feed}"
            );
        }
    }

    #[test]
    fn edge_texts_cut_in_two_passes_as_whole() {
        let long_title = "x".repeat(250);
        for text in [
            String::new(),
            "\u{feff}Title\n\nBody.\n".to_string(),
            "\n\n\nTitle after blank lines\n\nBody.\n".to_string(),
            format!("{long_title}\n\nBody.\n"),
            "Only a title".to_string(),
            "A\n\nB\n\nC\n\nD\n\nE\n\nPara one.\n\nF\n\nPara two.".to_string(),
            "Title\n\nOne.\n\nShort\n\nTwo.\n\nShort again\n\nThree.\n\n\n".to_string(),
        ] {
            let expected = whole(&text, &Hints::default());
            for (piece, feed) in [(1, 1), (5, 2), (1000, 7)] {
                assert_eq!(
                    two_passes(&text, &Hints::default(), piece, feed),
                    expected,
                    "{text:?} piece {piece} feed {feed}"
                );
            }
        }
    }

    #[test]
    fn the_plan_kept_for_the_second_pass_holds_one_number_a_short_line() {
        let text = generated();
        let hints = Hints::default();
        let mut outline = TextOutline::new(&hints, 64);
        outline.feed(&text);
        let plan = outline.finish();
        let blocks = blocks(&text, Format::Text);
        let (kinds, _) = classify_text(&blocks[1..], &hints, false);
        let short: Vec<(usize, Kind)> = blocks[1..]
            .iter()
            .enumerate()
            .filter(|(_, block)| short_line(block).is_some())
            .map(|(i, _)| (i, kinds[i]))
            .collect();
        assert!(
            short.len() > 100 && short.len() * 2 < blocks.len(),
            "{} of {}",
            short.len(),
            blocks.len()
        );
        // Nothing reserved beyond the short lines, 8 bytes each, and each kind as classified.
        assert_eq!(plan.kinds.capacity(), short.len());
        assert_eq!(std::mem::size_of_val(&plan.kinds[0]), 8);
        for (i, kind) in short {
            assert_eq!(plan.kind(i), kind, "block {i}");
        }
        assert_eq!(plan.kind(0), Kind::Paragraph);
    }

    #[test]
    fn kinds_pack_with_their_block_and_unpack_as_they_were() {
        for kind in [
            Kind::Heading(None),
            Kind::OuterHeading,
            Kind::Caption,
            Kind::Paragraph,
        ] {
            for at in [0, 1, 436_000, usize::MAX >> KIND_BITS] {
                let packed = pack(at, kind);
                assert_eq!((packed >> KIND_BITS, unpack(packed)), (at as u64, kind));
            }
        }
    }

    #[test]
    fn a_text_changed_between_the_passes_is_told() {
        let mut outline = TextOutline::new(&Hints::default(), 4);
        outline.feed("Title\n\nOne.\n\nTwo.\n");
        let mut pieces = TextPieces::new("a.txt", outline.finish(), 4);
        let mut sink = |_: &str, _: Passage| {};
        pieces.feed("Title\n\nOne.\n\nTwo.\n\nThree.\n", &mut sink);
        assert!(pieces.finish(&mut sink).is_none());
    }
}
