//! Captions by evidence: whether a short line between paragraphs is a heading or a caption,
//! decided from signals the text gives (sibling patterns, subject flow, role names, link and
//! figure forms), each with the reason `rsearch sections` shows.

use super::*;

/// One piece of evidence about a short line between two paragraphs: its rule's name and its
/// weight (positive: a caption; negative: a heading).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Signal {
    pub rule: &'static str,
    pub weight: f32,
}

/// The signal of a line sharing its siblings' pattern.
pub(super) const FOLLOWS_PATTERN: &str = "follows its siblings' pattern";

/// The signal of a line breaking its siblings' pattern after the last of them.
pub(super) const ENDS_PATTERN: &str = "breaks its siblings' pattern after the last of them";

/// Plain-text structure. A short line between blank lines without closing punctuation is
/// heading-shaped. One that stands between two paragraphs is a heading or a caption: the
/// evidence of [`caption_signals`] is weighed and a line reaching [`CAPTION_THRESHOLD`] is a
/// caption. Headings get no levels here; `assemble` nests runs of them. The reasons (one
/// list a block) are written only when `explain` asks for them; else none are.
pub(super) fn classify_text(blocks: &[Block], hints: &Hints, explain: bool) -> (Vec<Kind>, Vec<Vec<String>>) {
    let lines = short_lines(blocks);
    let role_words = role_words(hints);
    let mut around = AroundBlocks {
        blocks,
        role_words: &role_words,
        words: None,
    };
    classify_lines(&lines, hints, explain, &mut around)
}

/// [`classify_text`] of a text given as its short lines (`lines[i]`, `None` for a paragraph)
/// and what weighing reads of the paragraphs around them (`around`): all the classification
/// needs, so a large text can be classified without holding its paragraphs.
pub(super) fn classify_lines(
    lines: &[Option<String>],
    hints: &Hints,
    explain: bool,
    around: &mut dyn Around,
) -> (Vec<Kind>, Vec<Vec<String>>) {
    let groups = sibling_groups(lines);
    let siblings = Siblings::new(lines, &groups);
    let mut reasons = if explain {
        vec![Vec::new(); lines.len()]
    } else {
        Vec::new()
    };
    let mut kinds = Vec::with_capacity(lines.len());
    for i in 0..lines.len() {
        let Some(line) = &lines[i] else {
            kinds.push(Kind::Paragraph);
            continue;
        };
        let (kind, why) = if is_between_paragraphs(lines, i) {
            let signals = caption_signals(lines, &groups, &siblings, hints, (explain, &mut *around), i);
            let weight: f32 = signals.iter().map(|s| s.weight).sum();
            let listed = || signals.iter().map(|s| format!("{} {:+}", s.rule, s.weight));
            if weight >= CAPTION_THRESHOLD {
                (Kind::Caption, explain.then(|| listed().collect()))
            } else {
                let (kind, last) = if signals.iter().any(|s| s.rule == ENDS_PATTERN) {
                    (
                        Kind::OuterHeading,
                        "it ends its siblings' pattern: it closes their parent",
                    )
                } else if closes_the_document(lines, &groups, &siblings, &signals, i) {
                    (Kind::OuterHeading, CLOSING)
                } else {
                    (
                        Kind::Heading(None),
                        "after a paragraph: a sibling of the heading before",
                    )
                };
                let why = explain.then(|| {
                    let mut why = vec![
                        short_line_reason(line),
                        format!(
                            "between two paragraphs, caption evidence {weight:+} under {CAPTION_THRESHOLD}"
                        ),
                    ];
                    why.extend(listed());
                    why.push(last.into());
                    why
                });
                (kind, why)
            }
        } else {
            let before = i > 0 && lines[i - 1].is_some();
            let after = i + 1 < lines.len() && lines[i + 1].is_some();
            let place = match (before, after) {
                (_, true) => "followed directly by a heading: its parent",
                (true, false) => "after a heading: its child",
                (false, false) if i == 0 => "opens the text",
                (false, false) => "after a paragraph: a sibling of the heading before",
            };
            (
                Kind::Heading(None),
                explain.then(|| vec![short_line_reason(line), place.into()]),
            )
        };
        kinds.push(kind);
        if let Some(why) = why {
            reasons[i] = why;
        }
    }
    // Short lines numbered one after another are a list's items: passages, not headings.
    for (i, item) in numbered_runs(lines).into_iter().enumerate() {
        if item {
            kinds[i] = Kind::Paragraph;
            if explain {
                reasons[i] = vec!["a numbered list item: short lines numbered one after another".into()];
            }
        }
    }
    (kinds, reasons)
}

/// Why a plain-text line is heading-shaped.
pub(super) fn short_line_reason(line: &str) -> String {
    let words = word_count(line);
    let plural = if words == 1 { "" } else { "s" };
    format!("a short line ({words} word{plural}) alone between blank lines, without closing punctuation")
}

/// The reason given for a heading [`closes_the_document`] places at the top.
pub(super) const CLOSING: &str =
    "opens a last section of one paragraph after a part of two sub-sections or more: it closes that part";

/// A lone heading between paragraphs that opens the document's last section, that section a
/// single paragraph, after two or more would-be siblings it shares no pattern with: the
/// closing words of the whole article, not one more sub-section of the part before.
pub(super) fn closes_the_document(
    lines: &[Option<String>],
    groups: &[Option<usize>],
    siblings: &Siblings,
    signals: &[Signal],
    i: usize,
) -> bool {
    let last_section_of_one_paragraph = i + 2 == lines.len();
    let siblings_before = groups[i].map_or(0, |group| siblings.before(group, i));
    let follows_pattern = signals
        .iter()
        .any(|s| s.weight < 0.0 && s.rule == FOLLOWS_PATTERN);
    last_section_of_one_paragraph && siblings_before >= 2 && !follows_pattern
}

/// The text of every heading-shaped block (a short line without closing punctuation).
pub(super) fn short_lines(blocks: &[Block]) -> Vec<Option<String>> {
    blocks.iter().map(short_line).collect()
}

/// The text of a block that is heading-shaped, `None` for a paragraph ([`short_lines`]): a
/// line opening with a bullet is a list item, never a heading.
pub(super) fn short_line(block: &Block) -> Option<String> {
    (block.is_short_line()
        && !ends_with_closing_punctuation(block.lines[0].trim())
        && bulleted(block.lines[0]).is_none())
    .then(|| block.normalised())
}

/// A short line with a paragraph on each side: the only place a caption can stand.
pub(super) fn is_between_paragraphs(lines: &[Option<String>], i: usize) -> bool {
    i > 0 && lines[i - 1].is_none() && i + 1 < lines.len() && lines[i + 1].is_none()
}

/// The would-be sibling group of each short line that would be a leaf heading (the last of a
/// run, or a lone line). A run of two or more lines opens a new parent, hence a new group.
pub(super) fn sibling_groups(lines: &[Option<String>]) -> Vec<Option<usize>> {
    let mut groups = vec![None; lines.len()];
    let mut group = 0;
    let mut i = 0;
    while i < lines.len() {
        if lines[i].is_none() {
            i += 1;
            continue;
        }
        let run_end = (i..lines.len())
            .find(|&j| lines[j].is_none())
            .unwrap_or(lines.len());
        if run_end - i > 1 {
            group += 1;
        }
        groups[run_end - 1] = Some(group);
        i = run_end;
    }
    groups
}

/// The shapes a line shares with its siblings: its first word, and the set of its lower-case
/// words ("Role of a CEO" and "Role of a CTO" share both; "X vs Y" lines share `vs`).
pub(super) fn pattern_keys(line: &str) -> Vec<String> {
    let words: Vec<&str> = line
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .collect();
    let mut keys = Vec::new();
    if let Some(first) = words.first() {
        keys.push(format!("first:{}", first.to_lowercase()));
    }
    let mut lower: Vec<&str> = words
        .iter()
        .skip(1)
        .filter(|w| w.chars().next().is_some_and(char::is_lowercase))
        .copied()
        .collect();
    lower.sort_unstable();
    lower.dedup();
    if !lower.is_empty() {
        keys.push(format!("lower:{}", lower.join(" ")));
    }
    keys
}

/// The sibling groups of a document gathered once: each group's lines, and each pattern key
/// its lines share with the lines holding it. Weighing one line's pattern then costs its own
/// keys and the group's most shared ones, not a pass over every sibling: a text with tens of
/// thousands of short lines stays linear.
pub(super) struct Siblings {
    /// `members[g]`: the indexes of group `g`'s lines, in document order.
    members: Vec<Vec<usize>>,
    /// `keys[g]`: each key of group `g` with the lines holding it (in order), the most held first.
    keys: Vec<Vec<(String, Vec<usize>)>>,
    /// `at[g]`: where each key of group `g` stands in `keys[g]`.
    at: Vec<std::collections::HashMap<String, usize>>,
}

impl Siblings {
    pub(super) fn new(lines: &[Option<String>], groups: &[Option<usize>]) -> Siblings {
        let count = groups.iter().flatten().max().map_or(0, |g| g + 1);
        let mut members = vec![Vec::new(); count];
        let mut held: Vec<std::collections::HashMap<String, Vec<usize>>> = vec![Default::default(); count];
        for (j, group) in groups.iter().enumerate() {
            let (Some(group), Some(line)) = (group, lines[j].as_deref()) else {
                continue;
            };
            members[*group].push(j);
            for key in pattern_keys(line) {
                held[*group].entry(key).or_default().push(j);
            }
        }
        let keys: Vec<Vec<(String, Vec<usize>)>> = held
            .into_iter()
            .map(|held| {
                let mut keys: Vec<_> = held.into_iter().collect();
                keys.sort_unstable_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(&b.0)));
                keys
            })
            .collect();
        let at = keys
            .iter()
            .map(|keys| {
                keys.iter()
                    .enumerate()
                    .map(|(n, (key, _))| (key.clone(), n))
                    .collect()
            })
            .collect();
        Siblings { members, keys, at }
    }

    /// Number of lines of `group` before line `i`.
    pub(super) fn before(&self, group: usize, i: usize) -> usize {
        self.members
            .get(group)
            .map_or(0, |m| m.partition_point(|&j| j < i))
    }

    /// [`sibling_pattern`] of line `i` (with its own pattern keys `own`) among its group's lines.
    pub(super) fn pattern(&self, group: usize, i: usize, own: &[String]) -> Pattern {
        let Some(keys) = self.keys.get(group) else {
            return Pattern::None;
        };
        // A key's count and last line among the siblings other than `i`.
        let others = |holders: &[usize]| holders.len() - usize::from(holders.binary_search(&i).is_ok());
        let last_other = |holders: &[usize]| holders.iter().rev().copied().find(|&j| j != i);
        // Keys come most held first, and leaving `i` out lowers a count by one at most.
        let mut best = 0;
        for (_, holders) in keys {
            if holders.len() <= best {
                break;
            }
            best = best.max(others(holders));
        }
        if best == 0 {
            return Pattern::None;
        }
        let follows = own.iter().any(|key| {
            self.at[group].get(key).is_some_and(|&n| {
                let count = others(&keys[n].1);
                count > 0 && count + 1 >= best.max(2)
            })
        });
        if follows {
            return Pattern::Follows;
        }
        if best < 2 {
            return Pattern::None;
        }
        let goes_on = keys
            .iter()
            .take_while(|(_, holders)| holders.len() >= best)
            .any(|(_, holders)| others(holders) == best && last_other(holders).is_some_and(|j| j > i));
        if goes_on {
            Pattern::BreaksWithin
        } else {
            Pattern::BreaksAfter
        }
    }
}

/// The evidence that the short line `i`, standing between two paragraphs, is a caption rather
/// than a heading. Each signal is one rule of the text; none decides alone unless it is strong.
/// `explain` asks for every signal (else only those that can decide are weighed); `around`
/// tells what the paragraphs on either side say.
pub(super) fn caption_signals(
    lines: &[Option<String>],
    groups: &[Option<usize>],
    siblings: &Siblings,
    hints: &Hints,
    (explain, around): (bool, &mut dyn Around),
    i: usize,
) -> Vec<Signal> {
    let mut signals = Vec::new();
    let Some(line) = lines[i].as_deref() else {
        return signals;
    };
    let mut push = |rule, weight| signals.push(Signal { rule, weight });
    if let Some(group) = groups[i] {
        match siblings.pattern(group, i, &pattern_keys(line)) {
            Pattern::Follows => push(FOLLOWS_PATTERN, -2.0),
            Pattern::BreaksWithin => push("breaks the pattern of the siblings around it", 2.0),
            Pattern::BreaksAfter => push(ENDS_PATTERN, 1.0),
            Pattern::None => {}
        }
    }
    let role_name = is_role_full_name(line, hints);
    if role_name {
        push("full name of a role with its acronym", 2.5);
    }
    if has_label_prefix(line) {
        push("label before a colon (figure, link)", 2.0);
    }
    if reads_as_link(line) {
        push("reads as link text", 2.0);
    }
    if line.trim_end().ends_with('?') {
        push("a question between two paragraphs", 0.5);
    }
    // A role's name is capitalised whatever it stands for: its capitals say nothing.
    if is_title_case(line) && !role_name {
        push("title case", -1.0);
    }
    let following = paragraphs_after(lines, i);
    let continues = around.continues_after(i);
    // Whether the paragraphs around share a subject weighs -1 (they do not) or +0.75 (they do,
    // and one paragraph follows). Comparing their words is the dearest signal: without reasons
    // to give, it is only read when it can take the line across the threshold. (Every weight
    // is a multiple of a quarter, so these sums are exact in any order.)
    let known = signals.iter().map(|s| s.weight).sum::<f32>() - if following >= 3 { 1.0 } else { 0.0 }
        + if continues { 0.75 } else { 0.0 };
    let if_same = known + if following == 1 { 0.75 } else { 0.0 };
    let matters = (known - 1.0 >= CAPTION_THRESHOLD) != (if_same >= CAPTION_THRESHOLD);
    let same = (explain || matters).then(|| around.same_subject(i));
    let mut push = |rule, weight| signals.push(Signal { rule, weight });
    if same == Some(false) {
        push("the paragraph after turns to another subject", -1.0);
    }
    if following == 1 && same == Some(true) {
        push("would open a one-paragraph section on the same subject", 0.75);
    }
    if following >= 3 {
        push("would open a section of several paragraphs", -1.0);
    }
    if continues {
        push("next paragraph continues the one before", 0.75);
    }
    signals
}

/// What weighing a short line `i` between two paragraphs reads of those paragraphs.
pub(super) trait Around {
    /// Whether the paragraph after line `i` opens as a continuation of the one before.
    fn continues_after(&mut self, i: usize) -> bool;
    /// Whether the paragraphs before and after line `i` share a subject ([`same_words`]).
    fn same_subject(&mut self, i: usize) -> bool;
}

/// [`Around`] read from the blocks of the whole text, the words of a paragraph found only
/// when asked for (the dearest signal) and kept for the next line but one, which has that
/// paragraph before it.
pub(super) struct AroundBlocks<'b, 't> {
    pub(super) blocks: &'b [Block<'t>],
    pub(super) role_words: &'b RoleWords,
    /// The content words of the last paragraph after a line (its index and words).
    pub(super) words: Option<(usize, Vec<std::borrow::Cow<'t, str>>)>,
}

impl Around for AroundBlocks<'_, '_> {
    fn continues_after(&mut self, i: usize) -> bool {
        opens_as_continuation_words(
            self.blocks[i + 1]
                .lines
                .iter()
                .flat_map(|line| line.split_whitespace()),
        )
    }

    fn same_subject(&mut self, i: usize) -> bool {
        let before = match self.words.take() {
            Some((j, words)) if j + 1 == i => words,
            _ => block_words(&self.blocks[i - 1], self.role_words),
        };
        let after = block_words(&self.blocks[i + 1], self.role_words);
        let same = same_words(&before, &after);
        self.words = Some((i + 1, after));
        same
    }
}

/// How a line stands to the pattern its would-be siblings share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pattern {
    /// No pattern is shared by two lines besides this one.
    None,
    Follows,
    /// Breaks it with pattern lines on both sides: the pattern goes on after it.
    BreaksWithin,
    /// Breaks it after the last pattern line: the pattern may simply have ended.
    BreaksAfter,
}

/// How the line `i` stands to the pattern most of its `siblings` (indexes and texts) share.
/// The rule as written; [`Siblings::pattern`] gives the same answer from keys gathered once.
#[cfg(test)]
pub(super) fn sibling_pattern(i: usize, line: &str, siblings: &[(usize, &str)]) -> Pattern {
    let own = pattern_keys(line);
    let mut counts: Vec<(String, usize, usize)> = Vec::new();
    for &(j, sibling) in siblings.iter().filter(|(j, _)| *j != i) {
        for key in pattern_keys(sibling) {
            match counts.iter_mut().find(|(k, _, _)| *k == key) {
                Some((_, n, last)) => {
                    *n += 1;
                    *last = j;
                }
                None => counts.push((key, 1, j)),
            }
        }
    }
    let Some(best) = counts.iter().map(|(_, n, _)| *n).max() else {
        return Pattern::None;
    };
    if own
        .iter()
        .any(|k| counts.iter().any(|(key, n, _)| key == k && *n + 1 >= best.max(2)))
    {
        return Pattern::Follows;
    }
    if best < 2 {
        return Pattern::None;
    }
    let goes_on = counts.iter().any(|(_, n, last)| *n == best && *last > i);
    if goes_on {
        Pattern::BreaksWithin
    } else {
        Pattern::BreaksAfter
    }
}

/// A line in title case (three or more words of four letters or more, all capitalised) reads
/// as a heading.
pub(super) fn is_title_case(line: &str) -> bool {
    let long: Vec<&str> = line
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| w.chars().count() >= 4)
        .collect();
    long.len() >= 3
        && long
            .iter()
            .all(|w| w.chars().next().is_some_and(char::is_uppercase))
}

/// "Chief Executive Officer (CEO)": a role's name followed by another of its names in
/// parentheses, and nothing else.
pub(super) fn is_role_full_name(line: &str, hints: &Hints) -> bool {
    let Some((name, rest)) = line.trim().split_once('(') else {
        return false;
    };
    let Some(short) = rest.strip_suffix(')') else {
        return false;
    };
    let (name, short) = (name.trim().to_lowercase(), short.trim().to_lowercase());
    name != short
        && hints.roles.iter().any(|names| {
            let lower: Vec<String> = names.iter().map(|n| n.to_lowercase()).collect();
            lower.contains(&name) && lower.contains(&short)
        })
}

/// "Figure 2: The team", "Source: survey": a label of one or two words, capitalised, before
/// a colon with text after it.
pub(super) fn has_label_prefix(line: &str) -> bool {
    let Some((label, rest)) = line.split_once(':') else {
        return false;
    };
    let words = word_count(label);
    (1..=2).contains(&words)
        && label.trim_start().chars().next().is_some_and(char::is_uppercase)
        && !rest.trim().is_empty()
}

/// A line pointing somewhere: an address, or an arrow or ellipsis at its end.
pub(super) fn reads_as_link(line: &str) -> bool {
    let line = line.trim();
    line.contains("://")
        || line.starts_with("www.")
        || line.ends_with(['→', '»', '›', '…'])
        || line.ends_with("...")
        || line.ends_with(">>")
}

/// Number of paragraphs from `i + 1` up to the next short line or the end.
pub(super) fn paragraphs_after(lines: &[Option<String>], i: usize) -> usize {
    lines[i + 1..].iter().take_while(|l| l.is_none()).count()
}

/// The lower-case words of the role names, which [`content_words`] leaves out.
pub(super) type RoleWords = std::collections::HashSet<String>;

/// The words of every role name, lower-cased: gathered once a document.
pub(super) fn role_words(hints: &Hints) -> RoleWords {
    hints
        .roles
        .iter()
        .flatten()
        .flat_map(|name| name.split_whitespace())
        .map(str::to_lowercase)
        .collect()
}

/// Content words (five letters or more, lower-cased) of a paragraph, without the words of
/// role names, which every paragraph of a comparison shares; sorted, each once.
#[cfg(test)]
pub(super) fn content_words<'t>(text: &'t str, role_words: &RoleWords) -> Vec<std::borrow::Cow<'t, str>> {
    let mut words = Vec::new();
    add_content_words(text, role_words, &mut words);
    words.sort_unstable();
    words.dedup();
    words
}

/// Adds the content words of `text` to `words` (unsorted), a word without capitals borrowed.
fn add_content_words<'t>(text: &'t str, role_words: &RoleWords, words: &mut Vec<std::borrow::Cow<'t, str>>) {
    use std::borrow::Cow;
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        let long = if word.is_ascii() {
            word.len() >= 5
        } else {
            word.chars().count() >= 5
        };
        if !long {
            continue;
        }
        let word = if !word.is_ascii() {
            Cow::Owned(word.to_lowercase())
        } else if word.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(word.to_ascii_lowercase())
        } else {
            Cow::Borrowed(word)
        };
        if !role_words.contains(word.as_ref()) {
            words.push(word);
        }
    }
}

/// [`content_words`] of a block's text, read line by line (the words are the same as in its
/// collapsed text: whitespace only ever separates them).
pub(super) fn block_words<'t>(block: &Block<'t>, role_words: &RoleWords) -> Vec<std::borrow::Cow<'t, str>> {
    let mut words = Vec::new();
    for line in &block.lines {
        add_content_words(line, role_words, &mut words);
    }
    words.sort_unstable();
    words.dedup();
    words
}

/// Two paragraphs speak of the same subject when a fifth of the content words of the shorter
/// one occur in the other.
#[cfg(test)]
pub(super) fn same_subject(a: &str, b: &str, hints: &Hints) -> bool {
    let role_words = role_words(hints);
    same_words(&content_words(a, &role_words), &content_words(b, &role_words))
}

/// [`same_subject`] of two sorted sets of content words.
pub(super) fn same_words(a: &[std::borrow::Cow<str>], b: &[std::borrow::Cow<str>]) -> bool {
    let smaller = a.len().min(b.len());
    if smaller == 0 {
        return false;
    }
    let (mut x, mut y, mut shared) = (0, 0, 0);
    while x < a.len() && y < b.len() {
        match a[x].cmp(&b[y]) {
            std::cmp::Ordering::Less => x += 1,
            std::cmp::Ordering::Greater => y += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                x += 1;
                y += 1;
            }
        }
    }
    shared * 5 >= smaller
}

/// A paragraph that opens as a continuation: a short lower-case opening phrase closed by a
/// comma ("Furthermore,", "On the other hand,"), or a pronoun pointing back. One weak signal.
#[cfg(test)]
pub(super) fn opens_as_continuation(paragraph: &str) -> bool {
    opens_as_continuation_words(paragraph.split_whitespace())
}

/// [`opens_as_continuation`] of a paragraph given as its words.
pub(super) fn opens_as_continuation_words<'t>(words: impl Iterator<Item = &'t str>) -> bool {
    let words: Vec<&str> = words.take(4).collect();
    if let Some(end) = words.iter().position(|w| w.ends_with(',')) {
        let lower_after_first = words[1..=end]
            .iter()
            .all(|w| w.chars().next().is_some_and(char::is_lowercase));
        if lower_after_first {
            return true;
        }
    }
    let first = words.first().map(|w| w.to_lowercase()).unwrap_or_default();
    matches!(first.as_str(), "they" | "it" | "he" | "she")
}

/// A line ending in `.`, `!`, `,`, `;`, `:` or an ellipsis (or their CJK and Arabic forms)
/// reads as a sentence, not a title. A question mark does not count: questions are common
/// headings.
pub(super) fn ends_with_closing_punctuation(line: &str) -> bool {
    let end = line.trim_end_matches(['"', '\'', ')', ']', '”', '’', '*', '_', '」', '』', '）']);
    end.ends_with([
        '.', '!', ',', ';', ':', '…', '。', '！', '，', '；', '：', '،', '؛', '۔',
    ])
}
