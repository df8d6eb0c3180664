//! Table tests of segmentation: one rule each, named for the rule.

use super::*;

fn text_doc(text: &str) -> Document {
    document(&SourceText {
        source: "dir/sample.txt".into(),
        format: Format::Text,
        text: text.into(),
    })
}

fn md_doc(text: &str) -> Document {
    document(&SourceText {
        source: "notes.md".into(),
        format: Format::Markdown,
        text: text.into(),
    })
}

fn paths(doc: &Document) -> Vec<String> {
    doc.sections.iter().map(|s| s.path.join(" > ")).collect()
}

const BODY: &str = "This paragraph has enough words to be body text and it ends with a full stop.";

#[test]
fn passages_without_outline_are_those_of_the_document() {
    let text =
        format!("T\n\nTop\n\nChild\n\n{BODY}\n\nCaption line\n\nFurthermore, more text.\n\nNext\n\n{BODY}");
    let source = SourceText {
        source: "a.txt".into(),
        format: Format::Text,
        text,
    };
    let full = document(&source);
    let (lean, sections) = passages(&source);
    assert_eq!(lean.passages, full.passages);
    assert_eq!(lean.title, full.title);
    assert_eq!(
        sections,
        full.sections.iter().filter(|s| !s.path.is_empty()).count()
    );
    assert!(lean.sections.is_empty());
}

#[test]
fn first_line_is_the_title() {
    let doc = text_doc(&format!("My Title\n\n{BODY}\n"));
    assert_eq!(doc.title, "My Title");
    assert_eq!(doc.passages.len(), 1);
    assert!(doc.passages[0].section.is_empty());
}

#[test]
fn heading_followed_by_heading_is_its_parent() {
    let doc = text_doc(&format!(
        "T\n\nTop\n\nChild one\n\n{BODY}\n\nChild two\n\n{BODY}\n\nNext top\n\nChild three\n\n{BODY}"
    ));
    assert_eq!(
        paths(&doc),
        [
            "Top",
            "Top > Child one",
            "Top > Child two",
            "Next top",
            "Next top > Child three"
        ]
    );
    assert_eq!(doc.passages[1].section, ["Top", "Child two"]);
}

#[test]
fn lone_headings_are_siblings_at_top_level_without_parents() {
    let doc = text_doc(&format!("T\n\nOne\n\n{BODY}\n\nTwo\n\n{BODY}"));
    assert_eq!(paths(&doc), ["One", "Two"]);
}

fn text_doc_with(text: &str, hints: &Hints) -> Document {
    document_with(
        &SourceText {
            source: "doc.txt".into(),
            text: text.into(),
            format: Format::Text,
        },
        hints,
    )
}

fn role_hints() -> Hints {
    Hints {
        roles: vec![vec!["PT".into(), "Picture Technician".into()]],
    }
}

const WIDGETS: &str = "Widgets are small parts that widget makers assemble into larger machines every day.";

#[test]
fn role_full_name_with_acronym_is_a_caption_not_a_section() {
    let doc = text_doc_with(
            &format!("T\n\nSection\n\n{BODY}\n\nPicture Technician (PT)\n\nFurthermore, the text goes on here as before.\n"),
            &role_hints(),
        );
    assert_eq!(paths(&doc), ["Section"]);
    assert_eq!(doc.sections[0].captions, ["Picture Technician (PT)"]);
    assert_eq!(doc.passages.len(), 2);
    assert_eq!(doc.passages[1].section, ["Section"]);
    assert!(doc.passages.iter().all(|p| !p.text.contains("Picture")));
}

#[test]
fn role_full_name_without_taxonomy_is_no_signal() {
    let doc = text_doc(&format!(
        "T\n\nSection\n\n{BODY}\n\nPicture Technician (PT)\n\nThe text goes on here as before.\n"
    ));
    assert_eq!(paths(&doc), ["Section", "Picture Technician (PT)"]);
}

#[test]
fn question_inside_one_thought_is_a_caption() {
    let doc = text_doc(&format!(
            "T\n\nSection\n\n{WIDGETS}\n\nWhat is a widget?\n\nIn addition, widget makers sell widgets to machines makers.\n"
        ));
    assert_eq!(doc.sections[0].captions, ["What is a widget?"]);
    assert_eq!(doc.passages.len(), 2);
}

#[test]
fn line_breaking_its_siblings_pattern_is_a_caption() {
    let text = format!(
            "T\n\nTop\n\nRole of a A\n\n{BODY}\n\nRole of a B\n\n{BODY}\n\nNotes on the paragraph\n\n{BODY}\n\nRole of a C\n\n{BODY}\n"
        );
    let doc = text_doc(&text);
    assert_eq!(
        paths(&doc),
        [
            "Top",
            "Top > Role of a A",
            "Top > Role of a B",
            "Top > Role of a C"
        ]
    );
    assert_eq!(doc.sections[2].captions, ["Notes on the paragraph"]);
}

#[test]
fn line_following_its_siblings_pattern_is_a_heading_even_before_a_connective() {
    let doc = text_doc(&format!(
        "T\n\nTop\n\nRole of a A\n\n{BODY}\n\nRole of a B\n\nFurthermore, this goes on.\n"
    ));
    assert_eq!(paths(&doc), ["Top", "Top > Role of a A", "Top > Role of a B"]);
}

#[test]
fn heading_ending_its_siblings_pattern_leaves_their_parent() {
    let doc = text_doc(&format!(
            "T\n\nTop\n\nRole of a A\n\n{BODY}\n\nRole of a B\n\n{BODY}\n\nRole of a C\n\n{BODY}\n\nWhich Pays More Money?\n\nSalaries differ widely between countries.\n"
        ));
    assert_eq!(
        paths(&doc),
        [
            "Top",
            "Top > Role of a A",
            "Top > Role of a B",
            "Top > Role of a C",
            "Which Pays More Money?"
        ]
    );
}

#[test]
fn markdown_setext_headings_give_levels_and_a_title() {
    let doc = md_doc("The Title\n=========\n\nIntro text.\n\nPart One\n--------\n\nBody of part one.\n");
    assert_eq!(doc.title, "The Title");
    assert_eq!(paths(&doc), ["", "Part One"]);
    assert_eq!(doc.passages[1].section, ["Part One"]);
}

#[test]
fn markdown_front_matter_gives_the_title_and_is_no_passage() {
    let doc = md_doc("---\ntitle: \"Front Title\"\nauthor: someone\n---\n\n# Section\n\nBody text here.\n");
    assert_eq!(doc.title, "Front Title");
    assert_eq!(paths(&doc), ["Section"]);
    assert_eq!(doc.passages.len(), 1);
    assert!(doc.passages.iter().all(|p| !p.text.contains("author")));
}

#[test]
fn markdown_reads_as_rendered_without_its_inline_markup() {
    let doc = md_doc(
        "---\ntitle: \"Teacher vs Principal\"\n---\n\n# Teacher vs **Principal**\n\n*Updated May 2024*\n\n\
         ## The `teacher`\n\n**Key responsibilities:** planning [lessons](#l) and ~~grading~~ marking.\n\n\
         - [Overview](#overview)\n\n| **Role** | Pay |\n|---|---|\n| _Teacher_ | $50,000 |\n\n```\nlet x = **y**;\n```\n",
    );
    // The heading repeating the front matter's title is the title, not a section over all.
    assert_eq!(doc.title, "Teacher vs Principal");
    assert_eq!(paths(&doc), ["", "The teacher"]);
    assert_eq!(doc.sections[1].captions, ["Overview"]);
    let texts: Vec<&str> = doc.passages.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "Updated May 2024",
            "Key responsibilities: planning lessons and grading marking.",
            "Role | Pay",
            "Teacher | $50,000",
            "let x = **y**;"
        ]
    );
    // Markup that renders as nothing is kept as written: no empty passage or heading.
    let doc = md_doc("# T\n\n## <span></span>\n\n`\n`\n\n[^1]\n\nText.\n");
    assert_eq!(paths(&doc), ["<span></span>"]);
    let texts: Vec<&str> = doc.passages.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(texts, ["` `", "[^1]", "Text."]);
    // A different heading after front matter stays a section.
    let doc = md_doc("---\ntitle: Guide\n---\n\n# Getting started\n\nBody.\n");
    assert_eq!(doc.title, "Guide");
    assert_eq!(paths(&doc), ["Getting started"]);
}

#[test]
fn markdown_bold_lines_alone_are_subheadings_beside_each_other() {
    let doc = md_doc(
        "# T\n\n## Teacher\n\nTeachers plan lessons.\n\n**Key responsibilities:**\n\n- Planning lessons.\n- Marking tests.\n\n\
         __Skills__:\n\nPatience and clarity.\n\n**A bold sentence that runs on for far too many words to be any kind of heading.**\n\n\
         ## Principal\n\n**Can a principal teach?**\nYes, some do.\n\n**Not** a heading, only bold at the start.\n",
    );
    assert_eq!(
        paths(&doc),
        [
            "Teacher",
            "Teacher > Key responsibilities:",
            "Teacher > Skills:",
            "Principal"
        ]
    );
    let sections: Vec<(String, &str)> = doc
        .passages
        .iter()
        .map(|p| (p.section.join(" > "), p.text.as_str()))
        .collect();
    assert_eq!(
        sections[1],
        ("Teacher > Key responsibilities:".to_string(), "Planning lessons.")
    );
    assert_eq!(
        sections[3],
        ("Teacher > Skills:".to_string(), "Patience and clarity.")
    );
    // Too long to be a heading: a passage of the bold line's section.
    assert_eq!(sections[4].0, "Teacher > Skills:");
    // A bold question with its answer on the next line is one passage.
    assert_eq!(
        sections[5],
        ("Principal".to_string(), "Can a principal teach? Yes, some do.")
    );
    assert_eq!(sections[6].1, "Not a heading, only bold at the start.");
}

#[test]
fn markdown_link_reference_definitions_are_no_passages() {
    let doc = md_doc(
        "# T\n\nSee [the guide][g].\n\n[g]: https://example.com/guide \"Guide\"\n[h]: https://example.com\n",
    );
    assert_eq!(doc.passages.len(), 1);
    assert_eq!(doc.passages[0].text, "See the guide.");
}

#[test]
fn figure_label_before_a_colon_is_a_caption() {
    let doc = text_doc(&format!(
        "T\n\nSection\n\n{BODY}\n\nFigure 2: The team at work\n\n{BODY}\n"
    ));
    assert_eq!(paths(&doc), ["Section"]);
    assert_eq!(doc.sections[0].captions, ["Figure 2: The team at work"]);
}

#[test]
fn heading_with_a_long_colon_label_stays_a_heading() {
    let doc = text_doc(&format!(
        "T\n\nSection\n\n{BODY}\n\nConflict and Resolution: Handling Overlaps\n\n{BODY}\n\n{BODY}\n"
    ));
    assert_eq!(
        paths(&doc),
        ["Section", "Conflict and Resolution: Handling Overlaps"]
    );
}

#[test]
fn line_reading_as_a_link_is_a_caption() {
    let doc = text_doc(&format!(
        "T\n\nSection\n\n{BODY}\n\nSee the full guide →\n\n{BODY}\n"
    ));
    assert_eq!(doc.sections[0].captions, ["See the full guide →"]);
}

#[test]
fn connective_opening_alone_does_not_make_a_caption() {
    let doc = text_doc(&format!(
        "T\n\nSection\n\n{BODY}\n\nA Lone Sub Heading\n\nFurthermore, a new matter starts.\n"
    ));
    assert_eq!(paths(&doc), ["Section", "A Lone Sub Heading"]);
}

#[test]
fn continuation_opening_is_a_short_lowercase_phrase_with_a_comma_or_a_pronoun() {
    for (text, expected) in [
        ("Furthermore, yes", true),
        ("On the other hand, no", true),
        ("They do it", true),
        ("The CEO, or chief", false),
        ("In a dynamic business environment, we", false),
        ("Theyre", false),
    ] {
        assert_eq!(opens_as_continuation(text), expected, "{text}");
    }
}

#[test]
fn same_subject_needs_shared_content_words() {
    let none = Hints::default();
    assert!(same_subject(WIDGETS, "Widget makers love widgets.", &none));
    assert!(!same_subject(WIDGETS, "Rivers flow to oceans.", &none));
}

#[test]
fn question_line_before_fresh_paragraph_is_a_heading() {
    let doc = text_doc(&format!(
        "T\n\n{BODY}\n\nWhat does a widget do?\n\nA widget does things.\n"
    ));
    assert_eq!(paths(&doc), ["", "What does a widget do?"]);
}

#[test]
fn short_cjk_sentence_with_full_stop_is_a_paragraph() {
    let doc = text_doc(&format!("T\n\n{BODY}\n\n検索 エンジン は 文書 を 探す。\n"));
    assert_eq!(doc.passages.len(), 2);
    assert!(doc.sections.iter().all(|s| s.path.is_empty()));
}

#[test]
fn short_sentence_with_full_stop_is_a_paragraph() {
    let doc = text_doc(&format!("T\n\n{BODY}\n\nThat is all.\n"));
    assert_eq!(doc.passages.len(), 2);
    assert_eq!(doc.passages[1].text, "That is all.");
}

#[test]
fn whitespace_is_normalised_and_lines_joined() {
    let doc = text_doc("T\n\nfirst   line\nsecond\tline.\r\n");
    assert_eq!(doc.passages[0].text, "first line second line.");
}

#[test]
fn crlf_line_ends_behave_like_lf() {
    let lf = text_doc(&format!("T\n\nHead\n\n{BODY}\n"));
    let crlf = text_doc(&format!("T\r\n\r\nHead\r\n\r\n{BODY}\r\n"));
    assert_eq!(lf, crlf);
}

#[test]
fn long_paragraph_is_cut_at_sentence_boundaries_below_the_limit() {
    let sentence = "Alpha beta gamma delta epsilon zeta eta theta iota kappa. ";
    let paragraph = sentence.repeat(30);
    let pieces = split_paragraph(paragraph.trim(), 120);
    assert!(pieces.len() >= 3);
    for piece in &pieces {
        assert!(word_count(piece) <= 120, "{} words", word_count(piece));
        assert!(piece.ends_with('.'));
    }
    assert_eq!(pieces.join(" "), paragraph.trim());
}

#[test]
fn run_on_paragraph_is_cut_at_a_word_boundary_under_the_byte_cap() {
    // No sentence end anywhere: only the byte cap cuts it.
    let paragraph = "runon word ".repeat(2000);
    let doc = text_doc(&format!("T\n\n{}\n", paragraph.trim()));
    assert!(doc.passages.len() >= 5, "{} passages", doc.passages.len());
    for passage in &doc.passages {
        assert!(
            passage.text.len() <= MAX_PASSAGE_BYTES,
            "{} bytes",
            passage.text.len()
        );
        assert!(!passage.text.starts_with(' ') && !passage.text.ends_with(' '));
        assert!(passage.text.split(' ').all(|w| w == "runon" || w == "word"));
    }
    let joined: Vec<&str> = doc.passages.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(joined.join(" "), paragraph.trim(), "nothing lost");
}

#[test]
fn passage_cap_cuts_only_a_word_longer_than_the_cap() {
    let cases: &[(&str, usize, &[&str])] = &[
        ("short text", 100, &["short text"]),
        ("aaaa bbbb cccc", 9, &["aaaa bbbb", "cccc"]),
        ("aaaa bbbb cccc", 4, &["aaaa", "bbbb", "cccc"]),
        ("abcdefghij", 4, &["abcd", "efgh", "ij"]),
        ("ab cdefghij", 4, &["ab", "cdef", "ghij"]),
        // A character is never split: é is two bytes.
        ("ééé", 3, &["é", "é", "é"]),
        ("x  \n y", 1, &["x", "y"]),
    ];
    for (text, cap, want) in cases {
        assert_eq!(cap_passage(text.to_string(), *cap), *want, "{text:?} at {cap}");
    }
}

#[test]
fn single_sentence_longer_than_the_limit_stays_whole() {
    let sentence = "word ".repeat(200);
    let pieces = split_paragraph(sentence.trim(), 120);
    assert_eq!(pieces.len(), 1);
}

#[test]
fn markdown_headings_give_levels_and_first_heading_is_title() {
    let doc = md_doc(&format!("# Title\n\nIntro text here.\n\n## A\n\n{BODY}\n\n### A1\n\n{BODY}\n\n## B\n\n![a picture](x.png)\n\n{BODY}"));
    assert_eq!(doc.title, "Title");
    assert_eq!(paths(&doc), ["", "A", "A > A1", "B"]);
    assert_eq!(doc.sections[3].captions, ["a picture"]);
    assert_eq!(doc.passages.len(), 4);
}

#[test]
fn markdown_fence_keeps_blank_lines_inside_one_block() {
    let doc = md_doc("# T\n\n```\ncode\n\nmore code\n```\n");
    assert_eq!(doc.passages.len(), 1);
    assert!(doc.passages[0].text.contains("more code"));
}

#[test]
fn file_without_title_line_uses_file_stem() {
    let long = "word ".repeat(60);
    let doc = text_doc(&long);
    assert_eq!(doc.title, "sample");
    assert_eq!(doc.passages.len(), 1);
}

#[test]
fn ordinals_count_passages_from_one() {
    let doc = text_doc(&format!("T\n\n{BODY}\n\nH\n\n{BODY}\n\n{BODY}"));
    let ordinals: Vec<u64> = doc.passages.iter().map(|p| p.ordinal).collect();
    assert_eq!(ordinals, [1, 2, 3]);
}

#[test]
fn article_outline_has_four_top_sections_and_ten_subsections() {
    let text = include_str!("../../corpus/product-manager-vs-ceo-vs-cto.txt");
    // The role names of the article's taxonomy, as prepare passes them.
    let hints = Hints {
        roles: vec![
            vec!["Product Manager".into()],
            vec!["CEO".into(), "Chief Executive Officer".into()],
            vec!["CTO".into(), "Chief Technology Officer".into()],
        ],
    };
    let doc = document_with(
        &SourceText {
            source: "product-manager-vs-ceo-vs-cto.txt".into(),
            format: Format::Text,
            text: text.into(),
        },
        &hints,
    );
    let top: Vec<_> = doc.sections.iter().filter(|s| s.path.len() == 1).collect();
    let sub: Vec<_> = doc.sections.iter().filter(|s| s.path.len() == 2).collect();
    assert_eq!(top.len(), 4, "{:?}", paths(&doc));
    assert_eq!(sub.len(), 10, "{:?}", paths(&doc));
    let captions: Vec<&String> = doc.sections.iter().flat_map(|s| &s.captions).collect();
    assert_eq!(
        captions,
        [
            "What is a project manager?",
            "Chief Executive Officer (CEO)",
            "Chief Technology Officer (CTO)"
        ]
    );
    for p in &doc.passages {
        assert!(
            word_count(&p.text) > MAX_SHORT_LINE_WORDS,
            "stray short passage {:?}",
            p.text
        );
    }
}
#[test]
fn cut_never_falls_inside_a_word() {
    assert_eq!(
        sentences("Why?Because it is. Next one."),
        ["Why?Because it is. ", "Next one."]
    );
    let paragraph = format!(
        "{} why?Because {}",
        "word ".repeat(100).trim(),
        "more ".repeat(100).trim()
    );
    let pieces = split_paragraph(&paragraph, 120);
    assert_eq!(pieces.join(" "), paragraph);
}

fn html_doc(text: &str) -> Document {
    document(&SourceText {
        source: "page.html".into(),
        format: Format::Html,
        text: text.into(),
    })
}

#[test]
fn html_headings_nest_by_level_and_captions_stay_with_their_section() {
    let doc = html_doc(
        "<title>Page</title><h1>Page</h1><p>Intro.</p><h2>A</h2><h3>A1</h3><p>One.</p>\
             <figure><figcaption>Figure 1: a chart</figcaption></figure><p>Two.</p><h2>B</h2><p>Three.</p>",
    );
    assert_eq!(doc.title, "Page");
    assert_eq!(paths(&doc), ["", "A", "A > A1", "B"]);
    assert_eq!(doc.sections[2].captions, ["Figure 1: a chart"]);
    assert_eq!(doc.sections[2].caption_reasons, [["HTML: a figure caption"]]);
    assert_eq!(doc.sections[2].heading_reasons, ["an HTML <h3> heading"]);
    let texts: Vec<&str> = doc.passages.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(texts, ["Intro.", "One.", "Two.", "Three."]);
}

#[test]
fn html_heading_text_is_taken_as_written() {
    let doc = html_doc("<h2># Notes</h2><p>Body.</p>");
    assert_eq!(paths(&doc), ["# Notes"]);
    assert_eq!(doc.title, "page");
}

#[test]
fn markdown_table_rows_are_passages_and_the_separator_row_is_dropped() {
    let doc = md_doc("# T\n\n| Role | Reports to |\n|:-----|-----------:|\n| CTO  | CEO |\n|  | board |\n");
    let texts: Vec<&str> = doc.passages.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(texts, ["Role | Reports to", "CTO | CEO", "board"]);
}

#[test]
fn markdown_bars_without_a_separator_row_are_a_paragraph() {
    let doc = md_doc("# T\n\nEither a | b or c.\nNo table here.\n");
    assert_eq!(doc.passages.len(), 1);
    assert_eq!(doc.passages[0].text, "Either a | b or c. No table here.");
}

#[test]
fn markdown_list_items_nested_or_not_are_passages_without_markers() {
    let doc = md_doc("# T\n\n- First item\n  goes on here\n  - Nested item\n    1. Deeper, numbered\n* Star item\n2) Other number\n- [A link](https://x.org)\n");
    let texts: Vec<&str> = doc.passages.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "First item goes on here",
            "Nested item",
            "Deeper, numbered",
            "Star item",
            "Other number"
        ]
    );
    assert_eq!(doc.sections[0].captions, ["A link"]);
}

#[test]
fn markdown_html_blocks_show_their_text_never_their_tags() {
    let doc = md_doc("# T\n\n<div align=\"center\">\n  <img src=\"logo.png\" alt=\"Project logo\">\n</div>\n\n<!-- a note to editors -->\n\n<details><summary>More</summary>Hidden &amp; shown.</details>\n\n<h2>Usage</h2>\n\nRun it.\n\n<https://example.org> is a link, not HTML.\n");
    assert_eq!(paths(&doc), ["", "Usage"]);
    assert_eq!(doc.sections[0].captions, ["Project logo"]);
    let texts: Vec<&str> = doc.passages.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "More",
            "Hidden & shown.",
            "Run it.",
            "https://example.org is a link, not HTML."
        ]
    );
    assert_eq!(
        doc.sections[1].heading_reasons,
        ["an HTML <h2> heading in Markdown"]
    );
}

#[test]
fn markdown_block_quote_is_a_passage_without_its_marks() {
    let doc = md_doc("# T\n\n> Quoted words\n> go on.\n> > Nested reply.\n\n>\n");
    let texts: Vec<&str> = doc.passages.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(texts, ["Quoted words go on. Nested reply."]);
}

#[test]
fn markdown_level_one_heading_after_only_a_logo_is_the_title() {
    let doc = md_doc("<p align=\"center\"><img src=\"logo.png\" alt=\"Logo\"></p>\n\n[![build](b.svg)](ci)\n\n# My Tool\n\nIt does things.\n\n## Use\n\nRun it.\n");
    assert_eq!(doc.title, "My Tool");
    assert_eq!(paths(&doc), ["", "Use"]);
    assert_eq!(doc.sections[0].captions, ["Logo", "build"]);
    let doc = md_doc("![Logo](l.png)\n\n## Not a title\n\nText.\n");
    assert_eq!(doc.title, "notes");
}

#[test]
fn markdown_html_h1_opening_the_file_is_its_title() {
    let doc = md_doc("<h1 align=\"center\">My Tool</h1>\n\nIt does things.\n");
    assert_eq!(doc.title, "My Tool");
    assert_eq!(doc.passages.len(), 1);
}

/// An article of two parts, the second with two sub-sections, then `closing` over the
/// given paragraphs.
fn closing_article(closing: &str, paragraphs: &[&str]) -> Document {
    let tail: String = paragraphs.iter().map(|p| format!("\n\n{p}")).collect();
    text_doc(&format!(
            "T\n\nFirst Part\n\nIntro Here\n\n{BODY}\n\nSecond Part\n\nWater Supply Lines\n\n{BODY}\n\nHow Pumps Fail?\n\n{WIDGETS}\n\n{closing}{tail}\n"
        ))
}

#[test]
fn closing_heading_of_one_paragraph_after_two_sub_sections_stands_at_the_top() {
    let doc = closing_article(
        "Final Words",
        &["Rivers flow to oceans and the story of this article ends."],
    );
    assert_eq!(paths(&doc).last().map(String::as_str), Some("Final Words"));
    let last = doc.sections.last().expect("a section");
    assert!(
        last.heading_reasons.iter().any(|r| r == CLOSING),
        "{:?}",
        last.heading_reasons
    );
}

#[test]
fn closing_rule_needs_one_paragraph_two_siblings_and_no_shared_pattern() {
    // Two paragraphs: one more sub-section.
    let doc = closing_article(
        "Final Words",
        &["Rivers flow to oceans.", "Seas are salty and deep."],
    );
    assert_eq!(
        paths(&doc).last().map(String::as_str),
        Some("Second Part > Final Words")
    );
    // It follows its siblings' pattern (`How …?`): one more sub-section.
    let doc = closing_article(
        "How Pipes Burst?",
        &["Rivers flow to oceans and the story of this article ends."],
    );
    assert_eq!(
        paths(&doc).last().map(String::as_str),
        Some("Second Part > How Pipes Burst?")
    );
    // Only one sub-section before it: the part may go on.
    let doc = text_doc(&format!(
            "T\n\nFirst Part\n\nIntro Here\n\n{BODY}\n\nFinal Words\n\nRivers flow to oceans and the story ends.\n"
        ));
    assert_eq!(
        paths(&doc).last().map(String::as_str),
        Some("First Part > Final Words")
    );
}

#[test]
fn plain_text_headings_say_where_they_stand() {
    let doc = text_doc(&format!("T\n\nTop\n\nChild\n\n{BODY}\n\nNext\n\n{BODY}\n"));
    let last = |i: usize| {
        doc.sections[i]
            .heading_reasons
            .last()
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(last(0), "followed directly by a heading: its parent");
    assert_eq!(last(1), "after a heading: its child");
    assert!(doc.sections[0].heading_reasons[0].starts_with("a short line (1 word)"));
    assert!(doc.sections[2]
        .heading_reasons
        .iter()
        .any(|r| r.contains("caption evidence")));
}

#[test]
fn hash_in_a_plain_text_heading_is_kept() {
    let doc = text_doc(&format!("T\n\n# Notes\n\n{BODY}\n"));
    assert_eq!(paths(&doc), ["# Notes"]);
}

/// The sibling lines of each group as `sibling_pattern` takes them, from `lines` and `groups`.
fn group_siblings<'a>(
    lines: &'a [Option<String>],
    groups: &[Option<usize>],
    group: usize,
) -> Vec<(usize, &'a str)> {
    (0..lines.len())
        .filter(|&j| groups[j] == Some(group))
        .filter_map(|j| lines[j].as_deref().map(|l| (j, l)))
        .collect()
}

#[test]
fn sibling_keys_gathered_once_give_the_written_rule() {
    let cases: &[&[Option<&str>]] = &[
        &[
            Some("Role of a CEO"),
            None,
            Some("Role of a CTO"),
            None,
            Some("Summary"),
            None,
        ],
        &[
            Some("Role of a CEO"),
            None,
            Some("Picture"),
            None,
            Some("Role of a CTO"),
            None,
        ],
        &[
            Some("Part one"),
            Some("Part two"),
            None,
            Some("Part three"),
            None,
            Some("End"),
            None,
        ],
        &[
            Some("CEO vs CTO"),
            None,
            Some("PM vs CEO"),
            None,
            Some("Lone"),
            None,
            Some("CTO vs PM"),
        ],
        &[
            Some("A"),
            None,
            Some("A"),
            None,
            Some("B"),
            None,
            Some("B"),
            None,
            Some("C"),
        ],
        &[Some("Only"), None],
    ];
    for case in cases {
        let lines: Vec<Option<String>> = case.iter().map(|l| l.map(str::to_string)).collect();
        let groups = sibling_groups(&lines);
        let siblings = Siblings::new(&lines, &groups);
        for i in 0..lines.len() {
            let (Some(group), Some(line)) = (groups[i], lines[i].as_deref()) else {
                continue;
            };
            let written = sibling_pattern(i, line, &group_siblings(&lines, &groups, group));
            assert_eq!(
                siblings.pattern(group, i, &pattern_keys(line)),
                written,
                "{case:?} line {i}"
            );
            let before = (0..i).filter(|&j| groups[j] == Some(group)).count();
            assert_eq!(siblings.before(group, i), before, "{case:?} line {i}");
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// Any run of short lines and paragraphs: the pattern from keys gathered once is the rule's.
    #[test]
    fn sibling_keys_agree_with_the_rule_on_any_lines(
        picks in proptest::collection::vec(proptest::option::weighted(0.6, 0usize..12), 1..40),
    ) {
        const LINES: [&str; 12] = [
            "Role of a CEO", "Role of a CTO", "Role of the board", "Skills of a CEO", "Skills",
            "CEO vs CTO", "PM vs CEO", "Summary", "Notes on roles", "notes", "Part one", "Part two",
        ];
        let lines: Vec<Option<String>> = picks.iter().map(|p| p.map(|n| LINES[n].to_string())).collect();
        let groups = sibling_groups(&lines);
        let siblings = Siblings::new(&lines, &groups);
        for i in 0..lines.len() {
            let (Some(group), Some(line)) = (groups[i], lines[i].as_deref()) else {
                continue;
            };
            let written = sibling_pattern(i, line, &group_siblings(&lines, &groups, group));
            proptest::prop_assert_eq!(siblings.pattern(group, i, &pattern_keys(line)), written);
        }
    }
}

#[test]
fn content_words_of_a_block_are_those_of_its_collapsed_text() {
    let none = RoleWords::default();
    let block = Block {
        lines: vec![
            "  Widgets, GADGETS and Ünïcode   words",
            "widgets again: Σίσυφος lived",
        ],
    };
    let joined = block.normalised();
    assert_eq!(block_words(&block, &none), content_words(&joined, &none));
    let owned: Vec<String> = block_words(&block, &none)
        .into_iter()
        .map(|w| w.into_owned())
        .collect();
    assert_eq!(
        owned,
        [
            "again",
            "gadgets",
            "lived",
            "widgets",
            "words",
            "ünïcode",
            "σίσυφος"
        ]
    );
}

#[test]
fn a_paragraph_that_fits_is_one_passage_and_its_words_are_its_spaces_plus_one() {
    assert_eq!(normalised_words(""), 0);
    assert_eq!(normalised_words("one"), 1);
    assert_eq!(normalised_words("one two three"), 3);
    let doc = text_doc(&format!("T\n\n{BODY}"));
    assert_eq!(doc.passages[0].text, BODY);
}

#[test]
fn collapsing_ascii_lines_byte_by_byte_gives_the_words_of_split_whitespace() {
    for line in [
        "",
        "   ",
        "one",
        " one\ttwo \x0b three\x0cfour\r ",
        "a  b",
        "non-ascii\u{a0}space and\u{2003}em",
        "mixed ascii then é then  spaces ",
    ] {
        let mut out = String::from("x");
        push_collapsed(&mut out, line);
        let expected: Vec<&str> = std::iter::once("x").chain(line.split_whitespace()).collect();
        assert_eq!(out, expected.join(" "), "{line:?}");
    }
}

fn texts(doc: &Document) -> Vec<(String, &str)> {
    doc.passages
        .iter()
        .map(|p| (p.section.join(" > "), p.text.as_str()))
        .collect()
}

#[test]
fn plain_text_bullet_lines_between_blank_lines_are_items_not_nested_headings() {
    let doc = text_doc(&format!(
        "T\n\nDuties of a Nurse\n\nTheir main duties are:\n\n- Giving medication\n\n- Checking vital signs\n\n\
         • Comforting families\n\n{BODY}\n\nDuties of a Doctor\n\n{BODY}"
    ));
    assert_eq!(paths(&doc), ["Duties of a Nurse", "Duties of a Doctor"]);
    let texts = texts(&doc);
    assert_eq!(texts[1], ("Duties of a Nurse".into(), "- Giving medication"));
    assert_eq!(texts[3], ("Duties of a Nurse".into(), "• Comforting families"));
    assert_eq!(texts[5].0, "Duties of a Doctor");
}

#[test]
fn plain_text_list_inside_a_paragraph_gives_its_lead_in_then_each_item_as_written() {
    let doc = text_doc(&format!(
        "T\n\nSkills\n\nKey duties include:\n- Meeting the client to understand\n  the brief and the budget\n\
         * Drawing floor plans\n• Applying for permits\n\n1. Pricing the job\n2) Ordering materials\n\n{BODY}"
    ));
    let texts: Vec<&str> = doc.passages.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "Key duties include:",
            "- Meeting the client to understand the brief and the budget",
            "* Drawing floor plans",
            "• Applying for permits",
            "1. Pricing the job",
            "2) Ordering materials",
            BODY
        ]
    );
}

#[test]
fn plain_text_prose_with_one_line_opening_like_an_item_stays_one_paragraph() {
    let doc = text_doc(
        "T\n\nThe team grew fast and the product manager\n- not the CEO - chose the market.\nIt worked.\n",
    );
    assert_eq!(doc.passages.len(), 1);
    assert!(doc.passages[0].text.contains("manager - not the CEO"));
}

#[test]
fn plain_text_short_lines_numbered_in_order_are_items_and_numbered_headings_stay_headings() {
    let doc = text_doc(&format!(
        "T\n\nTop skills\n\n1. Communication\n\n2. Leadership\n\n3. Problem solving\n\n{BODY}\n\nNext part\n\n{BODY}"
    ));
    assert_eq!(paths(&doc), ["Top skills", "Next part"]);
    let texts = texts(&doc);
    assert_eq!(texts[0], ("Top skills".into(), "1. Communication"));
    assert_eq!(texts[2], ("Top skills".into(), "3. Problem solving"));
    // Numbered headings each over their own text stay headings, numbers and all.
    let doc = text_doc(&format!("T\n\n1. Introduction\n\n{BODY}\n\n2. Methods\n\n{BODY}"));
    assert_eq!(paths(&doc), ["1. Introduction", "2. Methods"]);
    // Out of order, a run is no list.
    let doc = text_doc(&format!("T\n\n1. Part one\n\n3. Part three\n\n{BODY}"));
    assert_eq!(paths(&doc), ["1. Part one", "1. Part one > 3. Part three"]);
}

#[test]
fn markdown_atx_heading_needs_no_blank_line_around_it() {
    let doc = md_doc("# Title\nIntro text.\n## Duties\nDoctors treat.\nThey also teach.\n### Sub\n- item one\n- item two\n");
    assert_eq!(doc.title, "Title");
    assert_eq!(paths(&doc), ["", "Duties", "Duties > Sub"]);
    let texts: Vec<&str> = doc.passages.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "Intro text.",
            "Doctors treat. They also teach.",
            "item one",
            "item two"
        ]
    );
    // Indented four spaces, a `#` line is code, not a heading.
    let doc = md_doc("# T\n\nSome text\n    # not a heading\n");
    assert_eq!(doc.passages.len(), 1);
}

#[test]
fn markdown_list_interrupting_a_paragraph_gives_its_lead_in_then_each_item() {
    let doc = md_doc("# T\n\n## Teacher\n\nKey duties include:\n- Planning lessons\n- Marking tests\n\n**Key skills:**\n1. Patience\n2. Clarity\n\nIt ran to\n2. Not a list: only `1.` interrupts a paragraph.\n");
    assert_eq!(paths(&doc), ["Teacher", "Teacher > Key skills:"]);
    let texts = texts(&doc);
    assert_eq!(
        texts,
        [
            ("Teacher".into(), "Key duties include:"),
            ("Teacher".into(), "Planning lessons"),
            ("Teacher".into(), "Marking tests"),
            ("Teacher > Key skills:".into(), "Patience"),
            ("Teacher > Key skills:".into(), "Clarity"),
            (
                "Teacher > Key skills:".into(),
                "It ran to 2. Not a list: only 1. interrupts a paragraph."
            ),
        ]
    );
}

#[test]
fn markdown_thematic_breaks_are_no_passages_and_dashes_under_text_are_a_heading() {
    let doc =
        md_doc("# T\n\nFirst.\n\n---\n\nSecond.\n***\nThird.\n\n* * *\n\n___\n\nSetext\n---\n\nFourth.\n");
    let texts: Vec<&str> = doc.passages.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(texts, ["First.", "Second.", "Third.", "Fourth."]);
    assert_eq!(paths(&doc), ["", "Setext"]);
}

#[test]
fn markdown_fenced_code_shows_its_lines_without_the_fences_and_empty_fences_nothing() {
    let doc = md_doc("# T\n\nRun this:\n```sh\nrsearch index\n```\nThen query.\n\n```\n```\n");
    let texts: Vec<&str> = doc.passages.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(texts, ["Run this:", "rsearch index", "Then query."]);
}

#[test]
fn markdown_bold_line_before_the_first_heading_is_no_parent_of_the_headings_after_it() {
    let doc = md_doc(
        "# T\n\n**Table of Contents**\n\n- [Overview](#overview)\n\n## Overview\n\nText.\n\n**Key skills:**\n\nPatience.\n\n## Next\n\nMore.\n",
    );
    assert_eq!(
        paths(&doc),
        ["Table of Contents", "Overview", "Overview > Key skills:", "Next"]
    );
}

#[test]
fn markdown_heading_attributes_and_task_boxes_are_no_text() {
    let doc = md_doc("# Guide {#top}\n\n## Overview {#overview .intro}\n\n- [ ] Call the board\n- [x] Hire a CTO\n\n## Set {theory}\n\nText.\n");
    assert_eq!(doc.title, "Guide");
    assert_eq!(paths(&doc), ["Overview", "Set {theory}"]);
    let texts: Vec<&str> = doc.passages.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(texts, ["Call the board", "Hire a CTO", "Text."]);
}

#[test]
fn plain_text_written_a_paragraph_a_line_gives_its_title_headings_and_paragraphs() {
    let long =
        "The captain is in command of the aircraft and responsible for the safety of everyone on board.";
    let doc = text_doc(&format!(
        "Pilot vs Controller: Who Keeps a Flight Safe?\nEvery flight depends on two groups of people, in the air and on the ground.\n\
         What Does a Pilot Do?\n{long}\n{long}\nWhat Does a Controller Do?\n{long}\n"
    ));
    assert_eq!(doc.title, "Pilot vs Controller: Who Keeps a Flight Safe?");
    assert_eq!(
        paths(&doc),
        ["", "What Does a Pilot Do?", "What Does a Controller Do?"]
    );
    assert_eq!(doc.passages.len(), 4);
    assert_eq!(doc.passages[1].text, long);
}

#[test]
fn plain_text_hard_wrapped_paragraphs_stay_whole() {
    for text in [
        // Lines running on mid-sentence, into a line opening in lower case.
        "T\n\nThe product manager talks to customers every week and\nbrings what they say back to the team, who turn it\ninto the plan for the next release of the product.\n",
        // A comma at a line's end, short lines opening in capitals.
        "T\n\nThe CEO answers to the board, the investors and the press,\nMedia interviews included\nNot every week.\n",
        // Short sentences a line: no line of prose, so one passage.
        "T\n\nArchitect: design.\nEngineer: structure.\nContractor: cost.\n",
    ] {
        let doc = text_doc(text);
        assert_eq!(doc.passages.len(), 1, "{text}");
        assert!(doc.sections.iter().all(|s| s.path.is_empty()), "{text}");
    }
}

#[test]
fn plain_text_title_wrapped_over_two_lines_is_the_title_and_a_wrapped_paragraph_is_not() {
    let doc = text_doc(&format!(
        "Pilot vs Flight Attendant vs Air Traffic Controller: Who Keeps a\nFlight Safe?\n\n{BODY}\n"
    ));
    assert_eq!(
        doc.title,
        "Pilot vs Flight Attendant vs Air Traffic Controller: Who Keeps a Flight Safe?"
    );
    assert_eq!(doc.passages.len(), 1);
    let doc = text_doc(&format!(
        "Every flight depends on three groups.\nPilots fly the plane\n\n{BODY}\n"
    ));
    assert_eq!(doc.title, "sample");
    assert_eq!(doc.passages.len(), 2);
}
