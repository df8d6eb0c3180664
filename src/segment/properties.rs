//! Properties of segmentation over generated documents: nothing is lost or duplicated, and
//! passages respect the length limit.

use proptest::prelude::*;

use super::*;

/// File name of generated documents; its stem is the title when the text gives none, and
/// no generated word equals it.
const SOURCE_STEM: &str = "generated_sample";

/// Words a document is made of: plain, Unicode, sentence ends, continuation openers,
/// Markdown-looking marks, and words with a sentence boundary inside.
const VOCABULARY: &[&str] = &[
    "the",
    "product",
    "manager",
    "CEO",
    "CTO",
    "market",
    "strategy",
    "team",
    "builds",
    "leads",
    "café",
    "naïve",
    "日本語",
    "検索",
    "مدير",
    "المنتج",
    "🚀",
    "Ωmega",
    "straße",
    "done.",
    "why?",
    "stop!",
    "end.",
    "etc.",
    "e.g.",
    "Dr.",
    "(CEO)",
    "\"quoted\"",
    "well,",
    "so;",
    "note:",
    "—",
    "Furthermore,",
    "In",
    "addition,",
    "They",
    "Also",
    "However,",
    "#",
    "##",
    "```",
    "-",
    "*",
    "1.",
    "2024",
    "why?Because",
    "end.Next",
    "a.b",
    "x\u{a0}y",
    "tab\tbed",
];

/// Words for Markdown bodies: no `#`, fence or list marks, which Markdown reads as
/// structure.
fn markdown_word() -> impl Strategy<Value = String> {
    proptest::sample::select(VOCABULARY)
        .prop_filter("structure mark", |w| {
            !w.starts_with('#') && !w.starts_with("```") && !matches!(*w, "-" | "*" | "1.")
        })
        .prop_map(str::to_string)
}

/// Words of a generated document: its text, and the words a reader sees in order.
type Generated = (String, Vec<String>);

/// Markdown pieces people write besides paragraphs and `#` headings: a list with nested
/// items, a table (its separator row shows nothing, a bar parts its cells), or an HTML
/// block (tags and comments show nothing).
fn markdown_rich_block() -> impl Strategy<Value = Generated> {
    let words = || prop::collection::vec(markdown_word(), 1..8);
    let list = prop::collection::vec((0usize..3, any::<bool>(), words()), 1..6).prop_map(|items| {
        let mut text = String::new();
        let mut seen = Vec::new();
        for (depth, ordered, words) in items {
            let marker = if ordered { "1." } else { "-" };
            text.push_str(&format!("{}{marker} {}\n", "  ".repeat(depth), words.join(" ")));
            seen.extend(words);
        }
        (text, seen)
    });
    let table = prop::collection::vec(prop::collection::vec(words(), 2..4), 1..4).prop_map(|rows| {
        let mut text = String::new();
        let mut seen = Vec::new();
        for (r, cells) in rows.iter().enumerate() {
            let shown: Vec<String> = cells.iter().map(|c| c.join(" ")).collect();
            text.push_str(&format!("| {} |\n", shown.join(" | ")));
            if r == 0 {
                text.push_str(&format!("|{}\n", "---|".repeat(cells.len())));
            }
            for (c, cell) in cells.iter().enumerate() {
                if c > 0 {
                    seen.push("|".to_string());
                }
                seen.extend(cell.iter().cloned());
            }
        }
        (text, seen)
    });
    let html = (words(), words()).prop_map(|(a, b)| {
            let text = format!(
                "<div class=\"note\">\n<!-- hidden note -->\n<p>{}</p>\n<script>var x = 1;</script>\n<p><em>{}</em></p>\n</div>\n",
                a.join(" "),
                b.join(" ")
            );
            (text, a.into_iter().chain(b).collect())
        });
    prop_oneof![list, table, html]
}

/// A Markdown document mixing paragraphs, `#` headings and the pieces of
/// [`markdown_rich_block`], separated by blank lines.
fn markdown_rich_document() -> impl Strategy<Value = Generated> {
    let paragraph = prop::collection::vec(markdown_word(), 1..40).prop_map(|w| (w.join(" ") + "\n", w));
    let heading = (1usize..4, prop::collection::vec(markdown_word(), 1..6))
        .prop_map(|(level, w)| (format!("{} {}\n", "#".repeat(level), w.join(" ")), w));
    let item = prop_oneof![2 => paragraph, 1 => heading, 2 => markdown_rich_block()];
    prop::collection::vec(item, 0..10).prop_map(|items| {
        let mut text = String::new();
        let mut seen = Vec::new();
        for (piece, words) in items {
            text.push_str(&piece);
            text.push('\n');
            seen.extend(words);
        }
        (text, seen)
    })
}

/// An HTML page: an optional `h1` (the title), then headings, paragraphs with inline
/// markup, lists, quotations, figures and link-only paragraphs, among navigation, scripts
/// and comments whose words must never show.
fn html_document() -> impl Strategy<Value = Generated> {
    let words = || prop::collection::vec(word(), 1..30);
    let escape = |w: &[String]| {
        w.iter()
            .map(|w| w.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;"))
            .collect::<Vec<_>>()
    };
    let piece = prop_oneof![
        (2usize..5, prop::collection::vec(word(), 1..6))
            .prop_map(move |(level, w)| (format!("<h{level}>{}</h{level}>", escape(&w).join(" ")), w)),
        words().prop_map(move |w| {
            let mut shown = escape(&w);
            shown[0] = format!("<b>{}</b>", shown[0]);
            (format!("<p>{}</p>", shown.join("\n  ")), w)
        }),
        prop::collection::vec(words(), 1..4).prop_map(move |items| {
            let li: Vec<String> = items
                .iter()
                .map(|w| format!("<li>{}</li>", escape(w).join(" ")))
                .collect();
            (format!("<ul>{}</ul>", li.join("")), items.concat())
        }),
        words().prop_map(move |w| (
            format!("<blockquote><p>{}</p></blockquote>", escape(&w).join(" ")),
            w
        )),
        words().prop_map(move |w| {
            (
                format!(
                    "<figure><img src=a.png alt=\"\"><figcaption>{}</figcaption></figure>",
                    escape(&w).join(" ")
                ),
                w,
            )
        }),
        words().prop_map(move |w| (format!("<p><a href=\"/x\">{}</a></p>", escape(&w).join(" ")), w)),
        Just((
            "<nav><a href=/>market strategy</a></nav><!-- team --><script>leads()</script>".to_string(),
            Vec::new()
        )),
    ];
    (
        proptest::option::of(prop::collection::vec(word(), 1..6)),
        prop::collection::vec(piece, 0..12),
    )
        .prop_map(move |(h1, pieces)| {
            let mut text = String::from("<!DOCTYPE html><html><head><style>p {}</style></head><body>\n");
            let mut seen = Vec::new();
            if let Some(h1) = h1 {
                text.push_str(&format!("<h1>{}</h1>\n", escape(&h1).join(" ")));
                seen.extend(h1);
            }
            for (markup, words) in pieces {
                text.push_str(&markup);
                text.push('\n');
                seen.extend(words);
            }
            text.push_str("<footer>product team</footer></body></html>\n");
            (text, seen)
        })
}

/// The words of a generated document, split as a reader splits them.
fn seen_words(seen: &[String]) -> Vec<&str> {
    seen.iter().flat_map(|w| w.split_whitespace()).collect()
}

fn word() -> impl Strategy<Value = String> {
    proptest::sample::select(VOCABULARY).prop_map(str::to_string)
}

/// A block: a short line (heading- or caption-shaped), or a paragraph of one to three
/// hundred words over one or more lines.
fn block(word: BoxedStrategy<String>) -> impl Strategy<Value = Vec<Vec<String>>> {
    prop_oneof![
        3 => prop::collection::vec(word.clone(), 1..8).prop_map(|line| vec![line]),
        3 => prop::collection::vec(prop::collection::vec(word.clone(), 1..30), 1..4),
        2 => prop::collection::vec(word.clone(), 100..300).prop_map(|words| {
            words.chunks(17).map(<[String]>::to_vec).collect()
        }),
    ]
}

/// What separates blocks: one or more blank lines, some holding spaces or tabs.
fn gap() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![Just(""), Just("  "), Just("\t"), Just(" \u{3000}")],
        1..4,
    )
    .prop_map(|lines| lines.join("\n") + "\n")
}

/// A plain-text document: blocks separated by blank-line runs, with LF or CRLF line ends.
fn text_document() -> impl Strategy<Value = (String, bool)> {
    (
        prop::collection::vec((block(word().boxed()), gap()), 0..14),
        any::<bool>(),
    )
        .prop_map(|(blocks, crlf)| (render(&blocks, crlf), crlf))
}

/// A Markdown document: `#` headings of levels 1 to 3 among paragraphs and short lines.
fn markdown_document() -> impl Strategy<Value = String> {
    let heading = (1usize..4, prop::collection::vec(markdown_word(), 1..6))
        .prop_map(|(level, words)| vec![vec![format!("{} {}", "#".repeat(level), words.join(" "))]]);
    let item = prop_oneof![1 => heading, 3 => block(markdown_word().boxed())];
    prop::collection::vec((item, gap()), 0..14).prop_map(|blocks| {
        let blocks: Vec<(Vec<Vec<String>>, String)> = blocks;
        render(&blocks, false)
    })
}

fn render(blocks: &[(Vec<Vec<String>>, String)], crlf: bool) -> String {
    let mut text = String::new();
    for (lines, gap) in blocks {
        for line in lines {
            text.push_str(&line.join(" "));
            text.push('\n');
        }
        text.push_str(gap);
    }
    if crlf {
        text = text.replace('\n', "\r\n");
    }
    text
}

fn segment(text: &str, format: Format) -> Document {
    let extension = match format {
        Format::Text => "txt",
        Format::Markdown => "md",
        Format::Html => "html",
    };
    document(&SourceText {
        source: format!("notes/{SOURCE_STEM}.{extension}"),
        format,
        text: text.to_string(),
    })
}

/// The words a reader sees in the document; in Markdown a heading's `#` marks are markup.
fn document_words(text: &str, format: Format) -> Vec<&str> {
    text.split_whitespace()
        .filter(|w| format == Format::Text || !w.chars().all(|c| c == '#'))
        .collect()
}

/// Checks that `doc_words` is exactly: the title, then for each section its heading, then
/// its captions and passages interleaved, each caption and passage in order.
fn every_word_in_one_place(doc: &Document, doc_words: &[&str]) -> Result<(), String> {
    let mut pos = 0;
    if doc.title != SOURCE_STEM {
        let title: Vec<&str> = doc.title.split_whitespace().collect();
        if doc_words.get(..title.len()) != Some(title.as_slice()) {
            return Err(format!("title {:?} does not open the document", doc.title));
        }
        pos = title.len();
    }
    let mut passages = doc.passages.iter();
    for section in &doc.sections {
        if let Some(heading) = section.path.last() {
            let heading: Vec<&str> = heading.split_whitespace().collect();
            if doc_words.get(pos..pos + heading.len()) != Some(heading.as_slice()) {
                return Err(format!("heading {:?} not at word {pos}", section.path));
            }
            pos += heading.len();
        }
        let own: Vec<&Passage> = passages.by_ref().take(section.passages).collect();
        if own.len() != section.passages || own.iter().any(|p| p.section != section.path) {
            return Err(format!("passages of {:?} do not match its count", section.path));
        }
        let body: Vec<&str> = own.iter().flat_map(|p| p.text.split_whitespace()).collect();
        let captions: Vec<Vec<&str>> = section
            .captions
            .iter()
            .map(|c| c.split_whitespace().collect())
            .collect();
        let len = body.len() + captions.iter().map(Vec::len).sum::<usize>();
        let Some(span) = doc_words.get(pos..pos + len) else {
            return Err(format!("section {:?} runs past the end", section.path));
        };
        if !interleaves(span, &captions, &body) {
            return Err(format!("words of section {:?} out of place", section.path));
        }
        pos += len;
    }
    if passages.next().is_some() {
        return Err("passages outside every section".into());
    }
    if pos != doc_words.len() {
        return Err(format!("{} of {} words placed", pos, doc_words.len()));
    }
    Ok(())
}

/// Is `span` the caption blocks (each whole, in order) and the body words (in order) merged?
fn interleaves(span: &[&str], captions: &[Vec<&str>], body: &[&str]) -> bool {
    let mut reachable = vec![vec![false; body.len() + 1]; captions.len() + 1];
    reachable[0][0] = true;
    for c in 0..=captions.len() {
        for b in 0..=body.len() {
            if !reachable[c][b] {
                continue;
            }
            let at = captions[..c].iter().map(Vec::len).sum::<usize>() + b;
            if b < body.len() && span[at] == body[b] {
                reachable[c][b + 1] = true;
            }
            if c < captions.len() && span.get(at..at + captions[c].len()) == Some(captions[c].as_slice()) {
                reachable[c + 1][b] = true;
            }
        }
    }
    reachable[captions.len()][body.len()]
}

/// A passage over the limit must be one sentence that cannot be cut.
fn within_limit(doc: &Document) -> Result<(), String> {
    for passage in &doc.passages {
        if passage.text.trim().is_empty() {
            return Err("empty passage".into());
        }
        let words = word_count(&passage.text);
        if words > MAX_PASSAGE_WORDS && sentences(&passage.text).len() > 1 {
            return Err(format!("passage {} has {words} words", passage.ordinal));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn plain_text_loses_no_word((text, crlf) in text_document()) {
        let doc = segment(&text, Format::Text);
        let words = document_words(&text, Format::Text);
        prop_assert_eq!(every_word_in_one_place(&doc, &words), Ok(()), "{:#?}", doc);
        prop_assert_eq!(within_limit(&doc), Ok(()));
        if crlf {
            prop_assert_eq!(segment(&text.replace("\r\n", "\n"), Format::Text), doc);
        }
    }

    #[test]
    fn markdown_loses_no_word(text in markdown_document()) {
        let doc = segment(&text, Format::Markdown);
        let words = document_words(&text, Format::Markdown);
        prop_assert_eq!(every_word_in_one_place(&doc, &words), Ok(()), "{:#?}", doc);
        prop_assert_eq!(within_limit(&doc), Ok(()));
    }

    #[test]
    fn markdown_lists_tables_and_html_lose_no_word((text, seen) in markdown_rich_document()) {
        let doc = segment(&text, Format::Markdown);
        prop_assert_eq!(every_word_in_one_place(&doc, &seen_words(&seen)), Ok(()), "{}\n{:#?}", text, doc);
        prop_assert_eq!(within_limit(&doc), Ok(()));
        prop_assert!(doc.passages.iter().all(|p| !p.text.contains('<')), "{:#?}", doc);
    }

    #[test]
    fn html_loses_no_word((text, seen) in html_document()) {
        let doc = segment(&text, Format::Html);
        prop_assert_eq!(every_word_in_one_place(&doc, &seen_words(&seen)), Ok(()), "{}\n{:#?}", text, doc);
        prop_assert_eq!(within_limit(&doc), Ok(()));
    }

    #[test]
    fn long_paragraph_pieces_join_back(words in prop::collection::vec(word(), 1..600)) {
        let paragraph = words.join(" ").split_whitespace().collect::<Vec<_>>().join(" ");
        let pieces = split_paragraph(&paragraph, MAX_PASSAGE_WORDS);
        prop_assert_eq!(pieces.join(" "), paragraph);
        for piece in &pieces {
            prop_assert!(word_count(piece) <= MAX_PASSAGE_WORDS || sentences(piece).len() == 1);
        }
    }
}
