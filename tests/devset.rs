//! Development set: articles of the same kind as the bundled one, on other roles, each with the
//! outline, captions, section paths, roles and topics a careful reader gives (`gold.outline`).

use std::fs;
use std::path::Path;

use rsearch::label::Taxonomy;
use rsearch::model::{Format, SourceText};
use rsearch::{prepare, segment};

/// What rsearch makes of one article, in the lines of a gold file:
/// `section: A > B`, `caption: A > B | text`, `passage: N | A > B | roles | topics`.
fn describe(dir: &Path) -> Vec<String> {
    let text = fs::read_to_string(dir.join("article.txt")).expect("article.txt");
    describe_text(dir, text)
}

/// [`describe`] of `text` read with the taxonomy of `dir`.
fn describe_text(dir: &Path, text: String) -> Vec<String> {
    let taxonomy_text = fs::read_to_string(dir.join("taxonomy.toml")).expect("taxonomy.toml");
    let taxonomy = Taxonomy::parse(&taxonomy_text).expect("taxonomy parses");
    let source = SourceText {
        source: "article.txt".into(),
        text,
        format: Format::Text,
    };
    let doc = segment::document_with(&source, &prepare::hints(&taxonomy));
    let mut lines = Vec::new();
    for section in doc.sections.iter().filter(|s| !s.path.is_empty()) {
        lines.push(format!("section: {}", section.path.join(" > ")));
    }
    for section in &doc.sections {
        for caption in &section.captions {
            lines.push(format!("caption: {} | {caption}", section.path.join(" > ")));
        }
    }
    for passage in &doc.passages {
        let labels = taxonomy.label(&passage.section, &passage.text);
        lines.push(format!(
            "passage: {} | {} | {} | {}",
            passage.ordinal,
            passage.section.join(" > "),
            labels.roles.join(" "),
            labels.topics.join(" ")
        ));
    }
    lines
}

/// Right and total lines of each kind.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Score {
    right: usize,
    total: usize,
}

#[test]
fn devset_scores_against_gold() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/devset");
    let mut dirs: Vec<_> = fs::read_dir(&root)
        .expect("devset folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 3, "at least three articles");
    let kinds = ["section", "caption", "passage"];
    let mut totals = [Score::default(); 3];
    let mut misses = Vec::new();
    for dir in &dirs {
        let gold_text = fs::read_to_string(dir.join("gold.outline")).expect("gold.outline");
        let gold: Vec<&str> = gold_text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .collect();
        let got = describe(dir);
        let name = dir.file_name().unwrap_or_default().to_string_lossy().to_string();
        let mut scores = [Score::default(); 3];
        for line in &gold {
            let kind = kinds
                .iter()
                .position(|k| line.starts_with(k))
                .expect("known line kind");
            scores[kind].total += 1;
            if got.iter().any(|g| g == line) {
                scores[kind].right += 1;
            } else {
                misses.push(format!("{name}: missing  {line}"));
            }
        }
        for line in got.iter().filter(|g| !gold.contains(&g.as_str())) {
            misses.push(format!("{name}: extra    {line}"));
        }
        println!(
            "{name:32} sections {}/{}  captions {}/{}  passages (path, roles, topics) {}/{}",
            scores[0].right,
            scores[0].total,
            scores[1].right,
            scores[1].total,
            scores[2].right,
            scores[2].total
        );
        for (total, score) in totals.iter_mut().zip(scores) {
            total.right += score.right;
            total.total += score.total;
        }
    }
    println!(
        "{:32} sections {}/{}  captions {}/{}  passages (path, roles, topics) {}/{}",
        "all",
        totals[0].right,
        totals[0].total,
        totals[1].right,
        totals[1].total,
        totals[2].right,
        totals[2].total
    );
    for miss in &misses {
        println!("{miss}");
    }
    // Every heading, caption, section path, role and topic of the set is right; a change that
    // gets one wrong fails here and prints what it missed.
    for (kind, score) in kinds.iter().zip(totals) {
        assert_eq!(score.right, score.total, "{kind}s:\n{}", misses.join("\n"));
    }
    assert!(misses.is_empty(), "{}", misses.join("\n"));
}

/// The passages' texts of `text`, in order.
fn texts(text: String) -> Vec<String> {
    let source = SourceText {
        source: "article.txt".into(),
        text,
        format: Format::Text,
    };
    segment::document(&source)
        .passages
        .into_iter()
        .map(|p| p.text)
        .collect()
}

/// Every article of the set, and the bundled one: (folder holding its taxonomy, its text).
fn articles() -> Vec<(std::path::PathBuf, String)> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs: Vec<_> = fs::read_dir(manifest.join("tests/fixtures/devset"))
        .expect("devset folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut articles: Vec<_> = dirs
        .into_iter()
        .map(|dir| {
            let text = fs::read_to_string(dir.join("article.txt")).expect("article.txt");
            (dir, text)
        })
        .collect();
    let corpus = manifest.join("corpus");
    let bundled =
        fs::read_to_string(corpus.join("product-manager-vs-ceo-vs-cto.txt")).expect("bundled article");
    articles.push((corpus, bundled));
    articles
}

#[test]
fn articles_typed_a_paragraph_a_line_give_the_outline_of_their_blank_line_form() {
    for (dir, text) in articles() {
        let squeezed: String = text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| format!("{line}\n"))
            .collect();
        assert_ne!(squeezed, text);
        let before = describe_text(&dir, text.clone());
        assert!(before.iter().filter(|l| l.starts_with("section:")).count() >= 3);
        assert_eq!(describe_text(&dir, squeezed.clone()), before, "{}", dir.display());
        assert_eq!(texts(squeezed), texts(text), "{}", dir.display());
    }
}

#[test]
fn hard_wrapped_articles_keep_the_outline_of_their_unwrapped_form() {
    for (dir, text) in articles() {
        // Every paragraph wrapped at 72 columns, blank lines between paragraphs kept.
        let wrapped: String = text
            .lines()
            .map(|line| {
                let mut out = String::new();
                let mut width = 0;
                for word in line.split_whitespace() {
                    if width > 0 && width + 1 + word.len() > 72 {
                        out.push('\n');
                        width = 0;
                    } else if width > 0 {
                        out.push(' ');
                        width += 1;
                    }
                    out.push_str(word);
                    width += word.len();
                }
                out + "\n"
            })
            .collect();
        assert_ne!(wrapped, text);
        let before = describe_text(&dir, text.clone());
        assert_eq!(describe_text(&dir, wrapped.clone()), before, "{}", dir.display());
        assert_eq!(texts(wrapped), texts(text), "{}", dir.display());
    }
}
