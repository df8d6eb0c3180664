//! HTML reading for segmentation: a web page's title, headings, captions and text blocks, in
//! reading order, with page furniture (navigation, headers, scripts, forms) left out.

use std::collections::HashSet;

use ego_tree::iter::Edge;
use ego_tree::NodeId;
use scraper::{Html, Node};

mod depth;

/// What a piece of a page is, as its markup says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Item {
    /// An `h1`–`h6` heading with its level.
    Heading(usize),
    /// A figure caption, image alt text, table caption or a block that is only link text,
    /// with why it is one.
    Caption(&'static str),
    /// A paragraph, list item, quotation, table row or loose text: a passage.
    Text,
}

/// A page read into its title (when the page names one) and its items with their texts,
/// whitespace collapsed and entities decoded.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Page {
    pub title: Option<String>,
    pub items: Vec<(Item, String)>,
}

/// Elements whose whole content is page furniture or not text, never part of the article.
const DROPPED: &[&str] = &[
    "head", "nav", "header", "footer", "aside", "script", "style", "noscript", "template", "form", "button",
    "select", "textarea", "input", "label", "iframe", "object", "embed", "svg", "math", "canvas", "audio",
    "video", "map", "dialog", "menu",
];

/// ARIA roles that mark the same furniture as [`DROPPED`] elements do.
const DROPPED_ROLES: &[&str] = &[
    "navigation",
    "banner",
    "contentinfo",
    "complementary",
    "search",
    "form",
    "menu",
    "menubar",
    "dialog",
];

/// Words of a `class` or `id` (split at anything not a letter or digit) that site templates
/// give to furniture kept in plain `div`s: consent banners, newsletter and share boxes, related
/// links, comments, tables of contents, bylines and advertisements.
const FURNITURE_WORDS: &[&str] = &[
    "ad",
    "ads",
    "advert",
    "advertisement",
    "breadcrumb",
    "breadcrumbs",
    "byline",
    "comment",
    "comments",
    "consent",
    "cookie",
    "cookies",
    "disqus",
    "gdpr",
    "meta",
    "newsletter",
    "pagination",
    "popup",
    "promo",
    "related",
    "share",
    "sharing",
    "sidebar",
    "signup",
    "social",
    "sponsor",
    "sponsored",
    "subscribe",
    "subscription",
    "toc",
    "widget",
];

/// Elements never taken for furniture by their `class` or `id`: they hold the page or the
/// article whatever their template calls them.
const NEVER_FURNITURE: &[&str] = &[
    "html", "body", "main", "article", "h1", "h2", "h3", "h4", "h5", "h6",
];

/// Elements that end the text before them and start a new block.
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "blockquote",
    "body",
    "caption",
    "center",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hgroup",
    "hr",
    "html",
    "legend",
    "li",
    "main",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "ul",
];

/// The block being gathered: its text, and how much of it is link text.
#[derive(Debug, Default)]
struct Gathered {
    text: String,
    /// A space is due before the next visible character.
    space: bool,
    /// Letters or digits inside and outside links.
    linked: usize,
    plain: usize,
}

impl Gathered {
    /// Appends text, collapsing every run of whitespace to one space (as a browser shows it).
    fn push(&mut self, text: &str, in_link: bool) {
        for c in text.chars() {
            if c.is_whitespace() {
                self.space = true;
                continue;
            }
            if self.space && !self.text.is_empty() {
                self.text.push(' ');
            }
            self.space = false;
            self.text.push(c);
            if c.is_alphanumeric() {
                if in_link {
                    self.linked += 1;
                } else {
                    self.plain += 1;
                }
            }
        }
    }

    fn take(&mut self) -> Gathered {
        std::mem::take(self)
    }
}

/// The state of a walk over the page.
#[derive(Default)]
struct Reader {
    page: Page,
    current: Gathered,
    /// What the block being gathered becomes when it ends.
    current_kind: Option<Item>,
    /// Depth of open `a` elements.
    links: usize,
    /// Alt texts of images met in the current block, given as captions after it.
    alts: Vec<String>,
    /// Cells of each open table row (rows nest when tables do), each cell's text so far.
    rows: Vec<Vec<String>>,
}

impl Reader {
    /// Ends the block gathered so far: inside a table row it becomes the row's cell text,
    /// else a heading, caption or passage.
    fn flush(&mut self) {
        let block = self.current.take();
        let kind = self.current_kind.take();
        if !block.text.is_empty() {
            if let Some(row) = self.rows.last_mut() {
                match row.last_mut() {
                    Some(cell) if !cell.is_empty() => {
                        cell.push(' ');
                        cell.push_str(&block.text);
                    }
                    Some(cell) => cell.push_str(&block.text),
                    None => row.push(block.text),
                }
            } else {
                let item = match kind {
                    Some(item) => item,
                    None if block.plain == 0 && block.linked > 0 => {
                        Item::Caption("a block that is only link text")
                    }
                    None => Item::Text,
                };
                self.page.items.push((item, block.text));
            }
        }
        if self.rows.is_empty() {
            for alt in self.alts.drain(..) {
                self.page.items.push((Item::Caption("an image's alt text"), alt));
            }
        }
    }

    fn open(&mut self, name: &str, element: &scraper::node::Element) {
        if BLOCKS.contains(&name) {
            self.flush();
        }
        match name {
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" if self.rows.is_empty() => {
                let level = usize::from(name.as_bytes()[1] - b'0');
                self.current_kind = Some(Item::Heading(level));
            }
            "figcaption" => self.current_kind = Some(Item::Caption("a figure caption")),
            "caption" => self.current_kind = Some(Item::Caption("a table caption")),
            "a" => self.links += 1,
            "br" | "wbr" => self.current.space = true,
            "img" => {
                let mut alt = Gathered::default();
                alt.push(element.attr("alt").unwrap_or(""), false);
                if !alt.text.is_empty() {
                    self.alts.push(alt.text);
                }
            }
            "tr" => self.rows.push(Vec::new()),
            "td" | "th" => {
                if let Some(row) = self.rows.last_mut() {
                    row.push(String::new());
                }
            }
            _ => {}
        }
    }

    fn close(&mut self, name: &str) {
        if BLOCKS.contains(&name) {
            self.flush();
        }
        match name {
            "a" => self.links = self.links.saturating_sub(1),
            "tr" => {
                if let Some(row) = self.rows.pop() {
                    let cells: Vec<String> = row.into_iter().filter(|c| !c.is_empty()).collect();
                    if !cells.is_empty() {
                        // A row reads as its cells in order; the bar keeps cells apart as the
                        // table's columns do.
                        self.current.push(&cells.join(" | "), false);
                        self.current.plain += 1;
                        self.flush();
                    }
                }
            }
            // Inline elements that a browser shows apart from their neighbours.
            "td" | "th" | "li" | "img" => self.current.space = true,
            _ => {}
        }
    }
}

/// Is this element page furniture: a dropped element, an ARIA role that marks one, or hidden?
fn is_dropped(name: &str, element: &scraper::node::Element) -> bool {
    DROPPED.contains(&name)
        || element.attr("hidden").is_some()
        || element.attr("aria-hidden") == Some("true")
        || element
            .attr("role")
            .is_some_and(|role| DROPPED_ROLES.contains(&role.trim().to_ascii_lowercase().as_str()))
}

/// Does the element's `class` or `id` name furniture ([`FURNITURE_WORDS`], or a table of
/// contents spelled out)?
fn is_furniture_by_name(name: &str, element: &scraper::node::Element) -> bool {
    if NEVER_FURNITURE.contains(&name) {
        return false;
    }
    let names = [element.attr("class"), element.attr("id")];
    names.into_iter().flatten().any(|value| {
        let value = value.to_ascii_lowercase();
        value.contains("table-of-contents")
            || value.contains("tableofcontents")
            || value
                .split(|c: char| !c.is_ascii_alphanumeric())
                .any(|word| FURNITURE_WORDS.contains(&word))
    })
}

/// The elements named as furniture ([`is_furniture_by_name`]) that a page can lose without
/// losing its article: those holding no `h1` and at most half the page's letters and digits
/// (a wrapper called `has-sidebar` around the whole article stays). One pass over the tree.
fn furniture_by_name(html: &Html) -> HashSet<NodeId> {
    // Per open element: its id, whether it is a candidate, its letters so far, an h1 inside.
    let mut open: Vec<(NodeId, bool, usize, bool)> = Vec::new();
    let mut candidates: Vec<(NodeId, usize)> = Vec::new();
    let mut total = 0usize;
    let mut skipping = None;
    for edge in html.tree.root().traverse() {
        match edge {
            Edge::Open(node) if skipping.is_none() => match node.value() {
                Node::Element(element) => {
                    let name = element.name();
                    if is_dropped(name, element) {
                        skipping = Some(node.id());
                    } else {
                        let candidate = is_furniture_by_name(name, element);
                        open.push((node.id(), candidate, 0, name == "h1"));
                    }
                }
                Node::Text(text) => {
                    let letters = text.chars().filter(|c| c.is_alphanumeric()).count();
                    total += letters;
                    if let Some(top) = open.last_mut() {
                        top.2 += letters;
                    }
                }
                _ => {}
            },
            Edge::Open(_) => {}
            Edge::Close(node) => {
                if skipping == Some(node.id()) {
                    skipping = None;
                } else if skipping.is_none() && open.last().is_some_and(|top| top.0 == node.id()) {
                    if let Some((id, candidate, letters, has_h1)) = open.pop() {
                        if candidate && !has_h1 {
                            candidates.push((id, letters));
                        }
                        if let Some(parent) = open.last_mut() {
                            parent.2 += letters;
                            parent.3 |= has_h1;
                        }
                    }
                }
            }
        }
    }
    candidates
        .into_iter()
        .filter(|&(_, letters)| letters * 2 <= total)
        .map(|(id, _)| id)
        .collect()
}

/// Reads a page: `<title>` (else the first `h1`; the `h1` when the `<title>` holds it and
/// more, such as the site's name) gives the title, `h1`–`h6` the headings,
/// `figcaption`, table captions, image alt text and blocks that are only link text the
/// captions, and paragraphs, list items, quotations and table rows (cells joined by ` | `) the
/// passages. A single `h1` opening the body that the `<title>` contains repeats the title and
/// is dropped; without a `<title>`, the first `h1` is the title. The walk is iterative, so
/// markup nested thousands deep cannot overflow the stack, and elements deeper than
/// [`depth::MAX_DEPTH`] are flattened, so that it cannot take time either.
pub(super) fn read(text: &str) -> Page {
    let html = depth::parse_document(text);
    let mut page = walk(&html);
    page.title = title_element(&html);
    // A `<title>` often adds the site's name to the article's own: when it holds the first
    // `h1` (even one in a header left out), the `h1` is the article's title.
    if let (Some(title), Some(h1)) = (&page.title, first_h1(&html)) {
        if title.to_lowercase().contains(&h1.to_lowercase()) {
            page.title = Some(h1);
        }
    }
    settle_title(&mut page);
    page
}

/// The text of the page's first `h1`, wherever it stands, whitespace collapsed, if not empty.
fn first_h1(html: &Html) -> Option<String> {
    let h1 = html
        .tree
        .root()
        .descendants()
        .find(|n| n.value().as_element().is_some_and(|e| e.name() == "h1"))?;
    let mut text = Gathered::default();
    for node in h1.descendants() {
        if let Node::Text(t) = node.value() {
            text.push(t, false);
        }
    }
    (!text.text.is_empty()).then_some(text.text)
}

/// The items of a parsed page, in reading order.
fn walk(html: &Html) -> Page {
    let mut reader = Reader::default();
    let furniture = furniture_by_name(html);
    let mut skipping = None;
    for edge in html.tree.root().traverse() {
        match edge {
            Edge::Open(node) => {
                if skipping.is_some() {
                    continue;
                }
                match node.value() {
                    Node::Element(element) => {
                        let name = element.name();
                        if is_dropped(name, element) || furniture.contains(&node.id()) {
                            skipping = Some(node.id());
                            // Furniture between two words still separates them.
                            reader.current.space = true;
                            continue;
                        }
                        reader.open(name, element);
                    }
                    Node::Text(text) => {
                        let in_link = reader.links > 0;
                        reader.current.push(text, in_link);
                    }
                    _ => {}
                }
            }
            Edge::Close(node) => {
                if skipping == Some(node.id()) {
                    skipping = None;
                    continue;
                }
                if skipping.is_some() {
                    continue;
                }
                if let Node::Element(element) = node.value() {
                    reader.close(element.name());
                }
            }
        }
    }
    reader.flush();
    reader.page
}

/// Reads a piece of HTML inside another document (a Markdown HTML block): its items only,
/// every `h1` a heading.
pub(super) fn read_fragment(text: &str) -> Vec<(Item, String)> {
    walk(&depth::parse_document(text)).items
}

/// The text of the page's `<title>` (in its head), whitespace collapsed, if not empty.
fn title_element(html: &Html) -> Option<String> {
    let head = html
        .tree
        .root()
        .descendants()
        .find(|n| n.value().as_element().is_some_and(|e| e.name() == "head"))?;
    let title = head
        .children()
        .find(|n| n.value().as_element().is_some_and(|e| e.name() == "title"))?;
    let mut text = Gathered::default();
    for node in title.descendants() {
        if let Node::Text(t) = node.value() {
            text.push(t, false);
        }
    }
    (!text.text.is_empty()).then_some(text.text)
}

/// Decides which `h1`, if any, is the title rather than a section (see [`read`]).
fn settle_title(page: &mut Page) {
    let h1s: Vec<usize> = (0..page.items.len())
        .filter(|&i| page.items[i].0 == Item::Heading(1))
        .collect();
    match &page.title {
        None => {
            if let Some(&first) = h1s.first() {
                page.title = Some(page.items.remove(first).1);
            }
        }
        Some(title) => {
            let opens_body = h1s.len() == 1 && h1s[0] == 0;
            if opens_body && title.to_lowercase().contains(&page.items[0].1.to_lowercase()) {
                page.items.remove(0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(html: &str) -> Vec<(Item, String)> {
        read(html).items
    }

    fn texts(html: &str) -> Vec<String> {
        items(html).into_iter().map(|(_, t)| t).collect()
    }

    #[test]
    fn title_comes_from_the_title_element_and_a_repeating_h1_is_dropped() {
        let page = read(
            "<html><head><title>My Page</title></head><body><h1>My Page</h1><p>Body text.</p></body></html>",
        );
        assert_eq!(page.title.as_deref(), Some("My Page"));
        assert_eq!(page.items, [(Item::Text, "Body text.".into())]);
    }

    #[test]
    fn a_title_element_holding_the_h1_and_the_site_name_gives_the_h1() {
        for html in [
            "<title>How Pumps Fail | Pump Blog</title><header><h1>How Pumps Fail</h1></header><p>Body.</p>",
            "<title>How Pumps Fail | Pump Blog</title><h1>How  pumps fail</h1><p>Body.</p>",
        ] {
            let page = read(html);
            assert!(
                page.title
                    .is_some_and(|t| t.eq_ignore_ascii_case("How Pumps Fail")),
                "{html}"
            );
            assert_eq!(page.items, [(Item::Text, "Body.".into())], "{html}");
        }
    }

    #[test]
    fn without_a_title_element_the_first_h1_is_the_title() {
        let page = read("<p>Intro.</p><h1>Heading One</h1><p>Body.</p>");
        assert_eq!(page.title.as_deref(), Some("Heading One"));
        assert_eq!(
            texts("<p>Intro.</p><h1>Heading One</h1><p>Body.</p>"),
            ["Intro.", "Body."]
        );
    }

    #[test]
    fn an_h1_the_title_does_not_contain_stays_a_section() {
        let page = read("<title>Site</title><h1>Article</h1><p>Body.</p>");
        assert_eq!(page.title.as_deref(), Some("Site"));
        assert_eq!(page.items[0], (Item::Heading(1), "Article".into()));
    }

    #[test]
    fn headings_keep_their_levels() {
        let got = items("<h2>A</h2><p>x</p><h3>B <em>b</em></h3><h6>C</h6>");
        assert_eq!(
            got,
            [
                (Item::Heading(2), "A".into()),
                (Item::Text, "x".into()),
                (Item::Heading(3), "B b".into()),
                (Item::Heading(6), "C".into()),
            ]
        );
    }

    #[test]
    fn furniture_scripts_forms_and_comments_are_dropped() {
        let html = "<header><p>Site name</p></header><nav><a href=/>Home</a></nav>\
            <p>Kept <!-- a comment --> text.</p><aside>Ad</aside><script>var x = 1;</script>\
            <style>p {}</style><form><label>Email</label><input></form>\
            <div role=navigation>Menu</div><p hidden>Secret</p><footer>Legal</footer>";
        assert_eq!(texts(html), ["Kept text."]);
    }

    #[test]
    fn blocks_a_template_names_as_furniture_are_dropped() {
        let article = "<p>The editor shapes the manuscript and the publisher pays for the print run, \
            while the writer drafts every chapter and revises it after each round of notes.</p>";
        for furniture in [
            "<div class=\"cookie-banner\">We use cookies to improve your experience.</div>",
            "<div id=gdpr-consent>Accept all</div>",
            "<p class=\"byline\">By Jane Roe · 8 min read</p>",
            "<div class=\"ez-toc-container\"><p>Table of contents</p><ol><li>One</li></ol></div>",
            "<div class=\"table-of-contents\"><p>Contents</p></div>",
            "<section class=\"related_posts\"><h3>Related posts</h3><p>Ten tips</p></section>",
            "<div class=\"newsletter signup\"><h3>Subscribe</h3><p>Tips every week.</p></div>",
            "<ul class=\"social-share\"><li>Share on X</li></ul>",
            "<div id=\"comments\"><p>Great post!</p></div>",
        ] {
            let html = format!("<h2>Roles</h2>{article}{furniture}");
            assert_eq!(texts(&html), ["Roles", &texts(article)[0]], "{furniture}");
        }
    }

    #[test]
    fn a_wrapper_named_like_furniture_that_holds_the_article_stays() {
        // Half or more of the page, or the page's h1, is the article whatever the class says.
        let body = "<p>The editor shapes the manuscript.</p><p>The publisher pays for the print run.</p>";
        for html in [
            format!("<div class=\"has-sidebar\">{body}</div><div class=ad>Buy now</div>"),
            format!("<div class=\"post-meta-wrapper\"><h1>Roles</h1>{body}</div>"),
            format!("<main class=sidebar>{body}</main>"),
        ] {
            let got = texts(&html);
            assert!(
                got.iter().any(|t| t == "The publisher pays for the print run."),
                "{html}: {got:?}"
            );
            assert!(!got.iter().any(|t| t == "Buy now"), "{html}: {got:?}");
        }
    }

    #[test]
    fn class_words_match_whole_words_only() {
        // `shared`, `loading`, `metallic` and `tocsin` hold furniture words inside other words.
        let html = "<p class=shared>One.</p><p class=loading>Two.</p><p id=metallic>Three.</p>\
            <p class=tocsin>Four.</p><p>Five more words to keep the page long.</p>";
        assert_eq!(
            texts(html),
            [
                "One.",
                "Two.",
                "Three.",
                "Four.",
                "Five more words to keep the page long."
            ]
        );
    }

    #[test]
    fn entities_are_decoded_and_whitespace_collapsed() {
        assert_eq!(
            texts("<p>  Fish &amp; chips\n\t cost &pound;5&nbsp;&mdash; <b>cheap</b>!  </p>"),
            ["Fish & chips cost £5 — cheap!"]
        );
    }

    #[test]
    fn inline_markup_does_not_split_words() {
        assert_eq!(texts("<p>un<b>break</b>able<br>next</p>"), ["unbreakable next"]);
    }

    #[test]
    fn list_items_quotes_and_loose_text_are_passages() {
        let html = "<ul><li>One <ul><li>Nested</li></ul></li><li>Two</li></ul>\
            <blockquote><p>Quoted.</p></blockquote><div>Loose text</div>";
        assert_eq!(texts(html), ["One", "Nested", "Two", "Quoted.", "Loose text"]);
    }

    #[test]
    fn table_rows_are_passages_with_cells_joined() {
        let html = "<table><caption>Pay</caption><tr><th>Role</th><th>Salary</th></tr>\
            <tr><td>CEO</td><td><p>High</p></td></tr></table>";
        assert_eq!(
            items(html),
            [
                (Item::Caption("a table caption"), "Pay".into()),
                (Item::Text, "Role | Salary".into()),
                (Item::Text, "CEO | High".into()),
            ]
        );
    }

    #[test]
    fn figcaption_and_image_alt_text_are_captions() {
        let html =
            "<figure><img src=a.png alt=\"A chart\"><figcaption>Figure 1: growth</figcaption></figure>\
            <p>Text with <img src=b.png alt=\"\"> a decorative image.</p>";
        assert_eq!(
            items(html),
            [
                (Item::Caption("an image's alt text"), "A chart".into()),
                (Item::Caption("a figure caption"), "Figure 1: growth".into()),
                (Item::Text, "Text with a decorative image.".into()),
            ]
        );
    }

    #[test]
    fn a_paragraph_that_is_only_a_link_is_a_caption() {
        for (html, caption) in [
            ("<p><a href=x>Read more about roles</a></p>", true),
            ("<p> <a href=x>One</a> · <a href=y>Two</a> </p>", true),
            ("<p>See <a href=x>the guide</a> first.</p>", false),
        ] {
            let got = items(html);
            assert_eq!(matches!(got[0].0, Item::Caption(_)), caption, "{html}");
        }
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let html = format!("{}<p>deep</p>{}", "<div>".repeat(2_000), "</div>".repeat(2_000));
        assert_eq!(texts(&html), ["deep"]);
    }
}
