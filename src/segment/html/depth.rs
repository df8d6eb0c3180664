//! Parsing a page with a bound on how deep its elements nest: html5ever's tree builder looks
//! through the open elements at every tag, so a page nested thousands deep took time growing
//! with the square of its depth (10,000 nested `div`s: 17 s in a debug build; 1.0 s now,
//! 20,000: 2.3 s, 40,000: 4.4 s).

use ego_tree::NodeId;
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::{BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer};
use html5ever::tree_builder::TreeBuilder;
use html5ever::TokenizerResult;
use scraper::{Html, HtmlTreeSink, Node};

/// Deepest an element may stand in the page's tree (the document is 0, `<html>` 1): an
/// element opened deeper is closed again at once, so what follows it (its text, its children)
/// stands beside it, at this depth. Real pages stay far below (a few dozen levels; browsers
/// stop nesting at 512), so they parse as before.
pub(super) const MAX_DEPTH: usize = 256;

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
    /// nodes were there until then) is an element named `name` deeper than [`MAX_DEPTH`].
    fn made_too_deep(&self, before: usize, name: &str) -> bool {
        let html = self.builder.sink.0.borrow();
        let mut nodes = html.tree.nodes();
        if nodes.len() == before {
            return false;
        }
        // The newest node is the arena's last (`last()` would walk them all).
        nodes.next_back().is_some_and(|node| {
            matches!(node.value(), Node::Element(e) if e.name() == name)
                && node.ancestors().nth(MAX_DEPTH).is_some()
        })
    }

    /// Formatting elements left open (`<b>`, `<font>`, `<i>`… without their end tag) are
    /// opened again at the next text of every following block, all of them, each a new node
    /// (the "active formatting elements" of HTML parsing, of which a page keeps at most three
    /// alike, but any number that differ by an attribute). When the token just processed
    /// opened more than [`MAX_REOPENED`] of them again, the newest beyond that are closed, so
    /// the next blocks open at most that many again; the text they hold stays in the page.
    fn close_reopened_past_the_bound(&self, before: usize, line_number: u64) {
        let names: Vec<_> = {
            let html = self.builder.sink.0.borrow();
            let made = html.tree.nodes().len() - before;
            if made <= MAX_REOPENED {
                return;
            }
            html.tree
                .nodes()
                .skip(before)
                .filter_map(|node| match node.value() {
                    Node::Element(e) if is_formatting(&e.name.local) => Some(e.name.local.clone()),
                    _ => None,
                })
                .collect()
        };
        for name in names.into_iter().skip(MAX_REOPENED).rev() {
            // An end tag of a formatting element never pauses the tokenizer.
            let _ = self.builder.process_token(end_tag(name), line_number);
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
