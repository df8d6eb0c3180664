//! Parsing a page with a bound on how deep its elements nest: html5ever's tree builder looks
//! through the open elements at every tag, so a page nested thousands deep took time growing
//! with the square of its depth (10,000 nested `div`s: 17 s in a debug build; 1.0 s now,
//! 20,000: 2.3 s, 40,000: 4.4 s).

use ego_tree::NodeId;
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::{BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer};
use html5ever::tree_builder::TreeBuilder;
use html5ever::{Attribute, TokenizerResult};
use scraper::{Html, HtmlTreeSink, Node};

/// Deepest an element may stand in the page's tree (the document is 0, `<html>` 1): an
/// element opened deeper is closed again at once, so what follows it (its text, its children)
/// stands beside it, at this depth. Real pages stay far below (a few dozen levels; browsers
/// stop nesting at 512), so they parse as before.
pub(super) const MAX_DEPTH: usize = 256;

/// Levels past [`MAX_DEPTH`] an element may stand in one that hides what it holds (see
/// [`Capped::made_too_deep`]): the depth stays bounded, the more so as such an element nested
/// that deep holds nothing of the page's text.
pub(super) const HIDDEN_EXTRA_DEPTH: usize = 64;

/// [`Html::parse_document`], with elements nested deeper than [`MAX_DEPTH`] flattened: the
/// work stays linear in the page's size whatever its depth, and every text is kept.
pub(super) fn parse_document(text: &str) -> Html {
    let builder = TreeBuilder::new(HtmlTreeSink::new(Html::new_document()), Default::default());
    let tokenizer = Tokenizer::new(Capped { builder }, Default::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from(text));
    // As html5ever's own driver does: a `Script` result only pauses the tokenizer.
    while !matches!(tokenizer.feed(&input), TokenizerResult::Done) {}
    tokenizer.end();
    let Capped { builder } = tokenizer.sink;
    builder.sink.0.into_inner()
}

/// The tree builder, behind a look at each element a start tag made: one deeper than
/// [`MAX_DEPTH`] gets its end tag at once.
struct Capped {
    builder: TreeBuilder<NodeId, HtmlTreeSink>,
}

impl Capped {
    /// Whether the newest node of the tree (made by the token just processed, when `before`
    /// nodes were there until then) is an element named `name` deeper than [`MAX_DEPTH`] that
    /// is to be closed at once. One that hides what it holds (`<div hidden>`, `<nav>`), or
    /// stands in such an element, is closed only deeper than [`HIDDEN_EXTRA_DEPTH`] more:
    /// closed at once, the first would hide nothing, and the end tags of those inside it
    /// (closed at once, each end tag closes the next element of that name above) would
    /// close it early and show the rest of what it holds.
    fn made_too_deep(&self, before: usize, name: &str) -> bool {
        let html = self.builder.sink.0.borrow();
        let mut nodes = html.tree.nodes();
        if nodes.len() == before {
            return false;
        }
        // The newest node is the arena's last (`last()` would walk them all).
        nodes.next_back().is_some_and(|node| {
            let Node::Element(element) = node.value() else {
                return false;
            };
            if element.name() != name || node.ancestors().nth(MAX_DEPTH).is_none() {
                return false;
            }
            let hidden = || {
                hides(element)
                    || node
                        .ancestors()
                        .any(|a| a.value().as_element().is_some_and(hides))
            };
            node.ancestors().nth(MAX_DEPTH + HIDDEN_EXTRA_DEPTH).is_some() || !hidden()
        })
    }

    /// Formatting elements left open (`<b>`, `<font>`, `<i>`… without their end tag) are
    /// opened again at the next text of every following block, all of them, each a new node
    /// (the "active formatting elements" of HTML parsing, of which a page keeps at most three
    /// alike, but any number that differ by an attribute). When the token just processed
    /// opened more than [`MAX_REOPENED`] of them again, the newest beyond that are closed, so
    /// the next blocks open at most that many again; the text they hold stays in the page.
    /// One of the closed that hides what it holds (`<b hidden>`) would have hidden every text
    /// after it, in this block and the next: then the newest kept is closed too and a copy of
    /// the hiding one opened in its place, so what follows stays hidden, as without the bound.
    fn close_reopened_past_the_bound(&self, before: usize, line_number: u64) {
        let (names, hiding) = {
            let html = self.builder.sink.0.borrow();
            let made = html.tree.nodes().len() - before;
            if made <= MAX_REOPENED {
                return;
            }
            let reopened: Vec<_> = html
                .tree
                .nodes()
                .skip(before)
                .filter(|node| matches!(node.value(), Node::Element(e) if is_formatting(&e.name.local)))
                .collect();
            if reopened.len() <= MAX_REOPENED {
                return;
            }
            let names: Vec<_> = reopened
                .iter()
                .filter_map(|node| node.value().as_element().map(|e| e.name.local.clone()))
                .collect();
            // What the newest kept element holds is hidden already when it or one above it
            // hides (an element left open outside the formatting ones too).
            let kept = reopened[MAX_REOPENED - 1];
            let hidden_already = std::iter::once(kept)
                .chain(kept.ancestors())
                .any(|node| node.value().as_element().is_some_and(hides));
            let hiding = if hidden_already {
                None
            } else {
                reopened[MAX_REOPENED..]
                    .iter()
                    .find_map(|node| node.value().as_element().filter(|e| hides(e)).map(start_tag_of))
            };
            (names, hiding)
        };
        // With a copy to open, it takes the place of the newest kept.
        let keep = MAX_REOPENED - usize::from(hiding.is_some());
        for name in names.into_iter().skip(keep).rev() {
            // An end tag of a formatting element never pauses the tokenizer.
            let _ = self.builder.process_token(end_tag(name), line_number);
        }
        if let Some(tag) = hiding {
            // Nor does a start tag of one.
            let _ = self.builder.process_token(Token::TagToken(tag), line_number);
        }
    }

    fn node_count(&self) -> usize {
        self.builder.sink.0.borrow().tree.nodes().len()
    }
}

impl TokenSink for Capped {
    type Handle = NodeId;

    fn process_token(&self, token: Token, line_number: u64) -> TokenSinkResult<NodeId> {
        let opened = match &token {
            Token::TagToken(tag) if tag.kind == TagKind::StartTag => Some(tag.name.clone()),
            _ => None,
        };
        let before = self.node_count();
        let result = self.builder.process_token(token, line_number);
        if matches!(result, TokenSinkResult::Continue) {
            self.close_reopened_past_the_bound(before, line_number);
        }
        // Only an element that holds parsed content is closed: a raw text element (`script`,
        // `style`, `textarea`…) has switched the tokenizer already and ends with its own end
        // tag, and a void element (`br`, `img`) is closed by the builder.
        if let (Some(name), TokenSinkResult::Continue) = (opened, &result) {
            if !is_void(&name) && self.made_too_deep(before, &name) {
                return self.builder.process_token(end_tag(name), line_number);
            }
        }
        result
    }

    fn end(&self) {
        self.builder.end();
    }

    fn adjusted_current_node_present_but_not_in_html_namespace(&self) -> bool {
        self.builder
            .adjusted_current_node_present_but_not_in_html_namespace()
    }
}

/// Whether `element` hides what it holds from the page's text (the reader leaves it out).
fn hides(element: &scraper::node::Element) -> bool {
    super::is_dropped(element.name(), element)
}

/// The start tag that makes an element like `element` (same name, same attributes).
fn start_tag_of(element: &scraper::node::Element) -> Tag {
    Tag {
        kind: TagKind::StartTag,
        name: element.name.local.clone(),
        self_closing: false,
        attrs: element
            .attrs
            .iter()
            .map(|(name, value)| Attribute {
                name: name.clone(),
                value: value.clone(),
            })
            .collect(),
        had_duplicate_attributes: false,
    }
}

/// The end tag of the element named `name`, as the tokenizer would have made it.
fn end_tag(name: html5ever::LocalName) -> Token {
    Token::TagToken(Tag {
        kind: TagKind::EndTag,
        name,
        self_closing: false,
        attrs: Vec::new(),
        had_duplicate_attributes: false,
    })
}

/// Most formatting elements one token may open again (see
/// [`Capped::close_reopened_past_the_bound`]): real pages leave a few open at most.
pub(super) const MAX_REOPENED: usize = 32;

/// The formatting elements of HTML parsing: left open, they are opened again in later blocks.
fn is_formatting(name: &str) -> bool {
    matches!(
        name,
        "a" | "b"
            | "big"
            | "code"
            | "em"
            | "font"
            | "i"
            | "nobr"
            | "s"
            | "small"
            | "strike"
            | "strong"
            | "tt"
            | "u"
    )
}

/// Elements that never hold content: an end tag for one means something else (`</br>` is a
/// `<br>`).
fn is_void(name: &str) -> bool {
    matches!(
        name,
        "area"
            | "base"
            | "basefont"
            | "bgsound"
            | "br"
            | "col"
            | "embed"
            | "frame"
            | "hr"
            | "image"
            | "img"
            | "input"
            | "keygen"
            | "link"
            | "meta"
            | "param"
            | "source"
            | "track"
            | "wbr"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Depth of the deepest node of a parsed page.
    fn deepest(html: &Html) -> usize {
        html.tree
            .nodes()
            .map(|node| node.ancestors().count())
            .max()
            .unwrap_or(0)
    }

    fn nested(depth: usize, inner: &str) -> String {
        format!("{}{inner}{}", "<div>".repeat(depth), "</div>".repeat(depth))
    }

    #[test]
    fn a_page_nested_deeper_than_the_bound_is_flattened_at_the_bound_with_its_text() {
        let html = parse_document(&nested(20_000, "<h2>Deep</h2><p>quokka <b>lives</b></p>"));
        assert!(deepest(&html) <= MAX_DEPTH + 1, "{}", deepest(&html));
        let text: String = html.root_element().text().collect();
        assert_eq!(text, "Deepquokka lives");
    }

    #[test]
    fn pages_within_the_bound_parse_as_html5ever_parses_them() {
        for page in [
            nested(MAX_DEPTH - 3, "<p>just within</p>"),
            "<title>T</title><table><tr><td>a<td>b</table><p>one<p>two<ul><li>x<li>y</ul>".to_string(),
            "<p><b>bold <i>both</b> italic</i><script>if (a < b) {}</script><svg><g/></svg>".to_string(),
        ] {
            assert_eq!(
                parse_document(&page).html(),
                Html::parse_document(&page).html(),
                "{page}"
            );
        }
    }

    #[test]
    fn formatting_left_open_is_opened_again_in_each_block_at_most_a_bound_of_times() {
        let tags = 250;
        let paragraphs = 400;
        let mut page = String::from("<p>");
        for n in 0..tags {
            page.push_str(&format!("<b class=c{n}>w{n} "));
        }
        for n in 0..paragraphs {
            page.push_str(&format!("<p>para{n}</p>"));
        }
        let html = parse_document(&page);
        // Each paragraph opens at most the bound again (and holds its own text), where
        // html5ever alone opens all 250 again in each: 100,000 nodes.
        let nodes = html.tree.nodes().len();
        let bound = 2 * tags + paragraphs * (MAX_REOPENED + 3);
        assert!(nodes <= bound, "{nodes} nodes, bound {bound}");
        assert!(Html::parse_document(&page).tree.nodes().len() > paragraphs * tags);
        let text: String = html.root_element().text().collect();
        let words: String = (0..tags).map(|n| format!("w{n} ")).collect();
        let paras: String = (0..paragraphs).map(|n| format!("para{n}")).collect();
        assert_eq!(text, words + &paras);
    }

    #[test]
    fn a_few_formatting_elements_left_open_parse_as_html5ever_parses_them() {
        let mut page = String::from("<p>");
        for n in 0..MAX_REOPENED {
            page.push_str(&format!("<i title=t{n}>x{n} "));
        }
        page.push_str("<p>one<p>two<div>three</div>");
        assert_eq!(parse_document(&page).html(), Html::parse_document(&page).html());
    }

    /// A paragraph opening `tags` formatting elements left open, the one at `hidden_at`
    /// written as `hidden` (its attributes), then `paragraphs` paragraphs and a closing block.
    fn hidden_among_left_open(tags: usize, hidden_at: usize, hidden: &str, paragraphs: usize) -> String {
        let mut page = String::from("<p>");
        for n in 0..tags {
            let attrs = if n == hidden_at { hidden } else { "" };
            let name = if n % 3 == 0 { "i" } else { "b" };
            page.push_str(&format!("<{name} class=c{n} {attrs}>w{n} "));
        }
        for n in 0..paragraphs {
            page.push_str(&format!("<p>para{n} <em>more{n}</em></p>"));
        }
        page.push_str("<div>tail</div>");
        page
    }

    #[test]
    fn a_hiding_formatting_element_past_the_bound_still_hides_what_follows() {
        let tags = 40;
        for hidden_at in [0, MAX_REOPENED - 1, MAX_REOPENED, MAX_REOPENED + 3, tags - 1] {
            for hidden in ["hidden", "aria-hidden=true", "role=navigation"] {
                let page = hidden_among_left_open(tags, hidden_at, hidden, 20);
                let expected = super::super::walk(&Html::parse_document(&page));
                assert_eq!(
                    super::super::walk(&parse_document(&page)),
                    expected,
                    "hidden at {hidden_at} ({hidden})"
                );
                // What follows the hiding element is left out (and the text before it kept).
                let text: String = expected.items.iter().map(|(_, t)| t.as_str()).collect();
                assert!(!text.contains("para"), "{text}");
                assert!(text.contains(&format!("w{}", hidden_at.max(1) - 1)) || hidden_at == 0);
            }
        }
    }

    #[test]
    fn a_hiding_formatting_element_left_open_past_the_bound_keeps_the_node_count_bounded() {
        let (tags, paragraphs) = (250, 400);
        let page = hidden_among_left_open(tags, 200, "hidden", paragraphs);
        let html = parse_document(&page);
        let nodes = html.tree.nodes().len();
        // The tags and their words, then the first paragraph opens all of them again; each
        // next one opens the bound again (the copy of the hiding one among them) and holds its
        // own four nodes.
        let bound = 3 * tags + paragraphs * (MAX_REOPENED + 4) + 10;
        assert!(nodes <= bound, "{nodes} nodes, bound {bound}");
        assert!(Html::parse_document(&page).tree.nodes().len() > paragraphs * tags);
        assert_eq!(
            super::super::walk(&html),
            super::super::walk(&Html::parse_document(&page))
        );
    }

    #[test]
    fn a_hiding_element_past_the_depth_bound_still_hides_what_it_holds() {
        for inner in [
            "<div hidden>secret<p>deeper secret</p><b>bold secret</b></div><p>shown</p>",
            "<nav><ul><li>menu</ul></nav><p>shown <span aria-hidden=true>x<i>y</i></span>too</p>",
            "<section role=search><div hidden><p>twice hidden</p></div>find</section><p>shown</p>",
        ] {
            let page = nested(MAX_DEPTH + 10, inner);
            let capped = parse_document(&page);
            assert_eq!(
                super::super::walk(&capped),
                super::super::walk(&Html::parse_document(&page)),
                "{inner}"
            );
            assert!(
                deepest(&capped) <= MAX_DEPTH + HIDDEN_EXTRA_DEPTH + 2,
                "{}",
                deepest(&capped)
            );
        }
        // Hiding elements nested without end stay within the bound, a few levels further.
        let page = nested(MAX_DEPTH - 1, &format!("{}secret", "<div hidden>".repeat(5_000)));
        let capped = parse_document(&page);
        let deepest = deepest(&capped);
        assert!(deepest <= MAX_DEPTH + HIDDEN_EXTRA_DEPTH + 2, "{deepest}");
        assert!(super::super::walk(&capped).items.is_empty());
    }

    #[test]
    fn raw_text_and_void_elements_past_the_bound_stay_what_they_are() {
        let html = parse_document(&nested(
            MAX_DEPTH + 10,
            "<script>var hidden = 1;</script><p>shown<br>too</p><img alt=x><style>p{}</style>",
        ));
        let text: String = html.root_element().text().collect();
        assert_eq!(text, "var hidden = 1;showntoop{}");
        let scripts = html
            .tree
            .nodes()
            .filter(|n| matches!(n.value(), Node::Element(e) if e.name() == "script"))
            .count();
        assert_eq!(scripts, 1);
    }
}
