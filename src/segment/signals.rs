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
/// caption. Headings get no levels here; `assemble` nests runs of them.
pub(super) fn classify_text(blocks: &[Block], hints: &Hints) -> (Vec<Kind>, Vec<Vec<String>>) {
    let lines = short_lines(blocks);
    let groups = sibling_groups(&lines);
    let mut reasons = vec![Vec::new(); blocks.len()];
    let kinds = (0..blocks.len())
        .map(|i| match &lines[i] {
            None => Kind::Paragraph,
            Some(line) if is_between_paragraphs(&lines, i) => {
                let signals = caption_signals(blocks, &lines, &groups, hints, i);
                let weight: f32 = signals.iter().map(|s| s.weight).sum();
                let listed = signals.iter().map(|s| format!("{} {:+}", s.rule, s.weight));
                if weight >= CAPTION_THRESHOLD {
                    reasons[i] = listed.collect();
                    return Kind::Caption;
                }
                reasons[i] = vec![
                    short_line_reason(line),
                    format!("between two paragraphs, caption evidence {weight:+} under {CAPTION_THRESHOLD}"),
                ];
                reasons[i].extend(listed);
                if signals.iter().any(|s| s.rule == ENDS_PATTERN) {
                    reasons[i].push("it ends its siblings' pattern: it closes their parent".into());
                    Kind::OuterHeading
                } else if closes_the_document(&lines, &groups, &signals, i) {
                    reasons[i].push(CLOSING.into());
                    Kind::OuterHeading
                } else {
                    reasons[i].push("after a paragraph: a sibling of the heading before".into());
                    Kind::Heading(None)
                }
            }
            Some(line) => {
                reasons[i] = vec![short_line_reason(line)];
                let before = i > 0 && lines[i - 1].is_some();
                let after = i + 1 < lines.len() && lines[i + 1].is_some();
                reasons[i].push(
                    match (before, after) {
                        (_, true) => "followed directly by a heading: its parent",
                        (true, false) => "after a heading: its child",
                        (false, false) if i == 0 => "opens the text",
                        (false, false) => "after a paragraph: a sibling of the heading before",
                    }
                    .into(),
                );
                Kind::Heading(None)
            }
        })
        .collect();
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
    signals: &[Signal],
    i: usize,
) -> bool {
    let last_section_of_one_paragraph = i + 2 == lines.len();
    let siblings_before = groups[i].map_or(0, |group| (0..i).filter(|&j| groups[j] == Some(group)).count());
    let follows_pattern = signals
        .iter()
        .any(|s| s.weight < 0.0 && s.rule == FOLLOWS_PATTERN);
    last_section_of_one_paragraph && siblings_before >= 2 && !follows_pattern
}

/// The text of every heading-shaped block (a short line without closing punctuation).
pub(super) fn short_lines(blocks: &[Block]) -> Vec<Option<String>> {
    blocks
        .iter()
        .map(|b| {
            (b.is_short_line() && !ends_with_closing_punctuation(b.lines[0].trim())).then(|| b.normalised())
        })
        .collect()
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
    let words: Vec<String> = line
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_string())
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
        .map(String::as_str)
        .collect();
    lower.sort_unstable();
    lower.dedup();
    if !lower.is_empty() {
        keys.push(format!("lower:{}", lower.join(" ")));
    }
    keys
}

/// The evidence that the short line `i`, standing between two paragraphs, is a caption rather
/// than a heading. Each signal is one rule of the text; none decides alone unless it is strong.
pub(super) fn caption_signals(
    blocks: &[Block],
    lines: &[Option<String>],
    groups: &[Option<usize>],
    hints: &Hints,
    i: usize,
) -> Vec<Signal> {
    let mut signals = Vec::new();
    let Some(line) = lines[i].as_deref() else {
        return signals;
    };
    let mut push = |rule, weight| signals.push(Signal { rule, weight });
    if let Some(group) = groups[i] {
        let siblings: Vec<(usize, &str)> = (0..lines.len())
            .filter(|&j| groups[j] == Some(group))
            .filter_map(|j| lines[j].as_deref().map(|l| (j, l)))
            .collect();
        match sibling_pattern(i, line, &siblings) {
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
    let (before, after) = (blocks[i - 1].normalised(), blocks[i + 1].normalised());
    let same = same_subject(&before, &after, hints);
    if !same {
        push("the paragraph after turns to another subject", -1.0);
    }
    let following = paragraphs_after(lines, i);
    if following == 1 && same {
        push("would open a one-paragraph section on the same subject", 0.75);
    }
    if following >= 3 {
        push("would open a section of several paragraphs", -1.0);
    }
    if opens_as_continuation(&blocks[i + 1].normalised()) {
        push("next paragraph continues the one before", 0.75);
    }
    signals
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

/// Content words (five letters or more, lower-cased) of a paragraph, without the words of
/// role names, which every paragraph of a comparison shares.
pub(super) fn content_words(text: &str, hints: &Hints) -> std::collections::BTreeSet<String> {
    let role_words: std::collections::BTreeSet<String> = hints
        .roles
        .iter()
        .flatten()
        .flat_map(|name| name.split_whitespace())
        .map(str::to_lowercase)
        .collect();
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 5)
        .map(str::to_lowercase)
        .filter(|w| !role_words.contains(w))
        .collect()
}

/// Two paragraphs speak of the same subject when a fifth of the content words of the shorter
/// one occur in the other.
pub(super) fn same_subject(a: &str, b: &str, hints: &Hints) -> bool {
    let (a, b) = (content_words(a, hints), content_words(b, hints));
    let smaller = a.len().min(b.len());
    smaller > 0 && a.intersection(&b).count() * 5 >= smaller
}

/// A paragraph that opens as a continuation: a short lower-case opening phrase closed by a
/// comma ("Furthermore,", "On the other hand,"), or a pronoun pointing back. One weak signal.
pub(super) fn opens_as_continuation(paragraph: &str) -> bool {
    let words: Vec<&str> = paragraph.split_whitespace().take(4).collect();
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
