//! HTML through `scraper` (html5ever, the browsers' parsing algorithm): h1–h6,
//! paragraphs, list items, table rows and `<pre>` as blocks; script, style,
//! navigation and hidden elements skipped; the title from `<title>`, else the
//! first h1. Nothing is ever fetched: images, frames and links are just markup.

use ego_tree::iter::Edge;
use html5ever::tendril::TendrilSink;
use scraper::{Html, HtmlTreeSink, Node, StrTendril};

use super::text::decode;
use super::{
    BlockKind, BlockSink, Deadline, DocKind, Limits, ParseFailure, ParsedDocument, Parser,
    push_collapsed,
};

/// Reads `.html` files.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HtmlParser;

impl Parser for HtmlParser {
    fn kind(&self) -> DocKind {
        DocKind::Html
    }

    fn parse(&self, bytes: &[u8], limits: &Limits) -> Result<ParsedDocument, ParseFailure> {
        if bytes.is_empty() {
            return Err(ParseFailure::Empty);
        }
        let deadline = Deadline::new(limits);
        let html = parse_html(&decode(bytes), deadline)?;
        let mut walker = Walker::default();
        // `traverse` is iterative, so deeply nested markup cannot overflow the stack.
        for (i, edge) in html.tree.root().traverse().enumerate() {
            if i % 4096 == 0 {
                deadline.check()?;
            }
            match edge {
                Edge::Open(node) => walker.open(node.value()),
                Edge::Close(node) => walker.close(node.value()),
            }
        }
        walker.end_block();
        let title = walker
            .title
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .or(walker.first_h1);
        Ok(ParsedDocument {
            kind: DocKind::Html,
            title,
            pages: walker.sink.into_single_page()?,
        })
    }
}

/// Bytes fed to html5ever between deadline checks. Its tree builder is
/// quadratic in nesting depth (a page of 50 000 nested `<div>`s takes many
/// seconds), so feeding in slices is what lets a timed-out parse stop.
const FEED_BYTES: usize = 16 * 1024;

/// `Html::parse_document`, fed in slices with the deadline checked between.
fn parse_html(source: &str, deadline: Deadline) -> Result<Html, ParseFailure> {
    let mut parser = html5ever::driver::parse_document(
        HtmlTreeSink::new(Html::new_document()),
        Default::default(),
    );
    let mut rest = source;
    while !rest.is_empty() {
        deadline.check()?;
        let mut cut = rest.len().min(FEED_BYTES);
        while !rest.is_char_boundary(cut) {
            cut += 1;
        }
        let (slice, tail) = rest.split_at(cut);
        parser.process(StrTendril::from_slice(slice));
        rest = tail;
    }
    deadline.check()?;
    Ok(parser.finish())
}

#[derive(Debug, Default)]
struct Walker {
    sink: BlockSink,
    title: Option<String>,
    first_h1: Option<String>,
    /// Kind of each open block element, innermost last: text after a nested
    /// block closes belongs to the enclosing one again.
    kinds: Vec<BlockKind>,
    buf: String,
    /// Depth inside skipped subtrees (script, nav, …).
    skip: usize,
    in_title: bool,
    pre: usize,
    /// Cells of the open table rows, innermost last (tables nest).
    rows: Vec<Vec<String>>,
}

enum Role {
    Skip,
    Title,
    Block(BlockKind),
    Row,
    Cell,
    LineBreak,
    Inline,
}

fn role(name: &str) -> Role {
    match name {
        "script" | "style" | "nav" | "noscript" | "template" | "svg" | "math" | "iframe"
        | "object" | "select" | "button" => Role::Skip,
        "title" => Role::Title,
        "h1" => Role::Block(BlockKind::Heading { level: 1 }),
        "h2" => Role::Block(BlockKind::Heading { level: 2 }),
        "h3" => Role::Block(BlockKind::Heading { level: 3 }),
        "h4" => Role::Block(BlockKind::Heading { level: 4 }),
        "h5" => Role::Block(BlockKind::Heading { level: 5 }),
        "h6" => Role::Block(BlockKind::Heading { level: 6 }),
        "li" | "dt" | "dd" => Role::Block(BlockKind::ListItem),
        "pre" => Role::Block(BlockKind::Code),
        "p" | "div" | "section" | "article" | "main" | "aside" | "header" | "footer"
        | "blockquote" | "address" | "figure" | "figcaption" | "form" | "fieldset" | "legend"
        | "details" | "summary" | "dialog" | "ul" | "ol" | "dl" | "table" | "caption" | "hr"
        | "body" | "html" | "center" => Role::Block(BlockKind::Paragraph),
        "tr" => Role::Row,
        "td" | "th" => Role::Cell,
        "br" => Role::LineBreak,
        _ => Role::Inline,
    }
}

impl Walker {
    fn open(&mut self, node: &Node) {
        let element = match node {
            Node::Text(text) => return self.text(text),
            Node::Element(element) => element,
            _ => return,
        };
        let role = role(element.name());
        if self.skip > 0 || matches!(role, Role::Skip) || is_hidden(element) {
            self.skip += 1;
            return;
        }
        // Only the first: an svg or a stray second title is not the page's.
        if matches!(role, Role::Title) && self.title.is_none() {
            self.in_title = true;
            self.title = Some(String::new());
            return;
        }
        match role {
            Role::Block(kind) => {
                if kind == BlockKind::Code {
                    self.pre += 1;
                }
                // Inside a table cell, blocks are just part of the cell text.
                if self.rows.is_empty() {
                    self.end_block();
                    self.kinds.push(kind);
                } else {
                    self.cell_separator();
                }
            }
            Role::Row => {
                if self.rows.is_empty() {
                    self.end_block();
                }
                self.rows.push(Vec::new());
            }
            Role::Cell => {
                if let Some(row) = self.rows.last_mut() {
                    row.push(String::new());
                }
            }
            Role::LineBreak => self.push_text("\n"),
            Role::Skip | Role::Title | Role::Inline => {}
        }
    }

    fn close(&mut self, node: &Node) {
        let Node::Element(element) = node else {
            return;
        };
        let role = role(element.name());
        if self.skip > 0 {
            self.skip -= 1;
            return;
        }
        if matches!(role, Role::Title) && self.in_title {
            self.in_title = false;
            return;
        }
        match role {
            Role::Block(kind) => {
                if kind == BlockKind::Code {
                    self.pre = self.pre.saturating_sub(1);
                }
                if self.rows.is_empty() {
                    self.end_block();
                    self.kinds.pop();
                }
            }
            Role::Row => {
                if let Some(cells) = self.rows.pop() {
                    let joined = cells
                        .iter()
                        .map(|c| c.trim())
                        .filter(|c| !c.is_empty())
                        .collect::<Vec<_>>()
                        .join(" | ");
                    match self.rows.last_mut().and_then(|r| r.last_mut()) {
                        // A nested table's row becomes part of the outer cell.
                        Some(cell) => {
                            if !cell.trim().is_empty() {
                                cell.push_str("; ");
                            }
                            cell.push_str(&joined);
                        }
                        None => self.sink.push(BlockKind::TableRow, &joined),
                    }
                }
            }
            Role::Skip | Role::Title | Role::Cell | Role::LineBreak | Role::Inline => {}
        }
    }

    fn text(&mut self, text: &str) {
        if self.in_title {
            if let Some(title) = &mut self.title {
                push_collapsed(title, text);
            }
            return;
        }
        if self.skip == 0 {
            self.push_text(text);
        }
    }

    fn push_text(&mut self, text: &str) {
        let pre = self.pre > 0;
        let out = match self.rows.last_mut() {
            Some(row) => match row.last_mut() {
                Some(cell) => cell,
                // Text in a row but outside any cell: browsers move it out of
                // the table; keeping it as an extra cell is close enough.
                None => {
                    row.push(String::new());
                    match row.last_mut() {
                        Some(cell) => cell,
                        None => return,
                    }
                }
            },
            None => &mut self.buf,
        };
        if pre {
            out.push_str(text);
        } else if text == "\n" {
            let trimmed = out.trim_end_matches(' ').len();
            out.truncate(trimmed);
            out.push('\n');
        } else {
            push_collapsed(out, text);
        }
    }

    fn cell_separator(&mut self) {
        if let Some(cell) = self.rows.last_mut().and_then(|r| r.last_mut())
            && !cell.is_empty()
            && !cell.ends_with([' ', '\n'])
        {
            cell.push(' ');
        }
    }

    fn end_block(&mut self) {
        let kind = self.kinds.last().copied().unwrap_or(BlockKind::Paragraph);
        if kind == (BlockKind::Heading { level: 1 }) && self.first_h1.is_none() {
            let text = self.buf.trim();
            if !text.is_empty() {
                self.first_h1 = Some(text.to_owned());
            }
        }
        self.sink.push(kind, &self.buf);
        self.buf.clear();
    }
}

fn is_hidden(element: &scraper::node::Element) -> bool {
    element.attr("hidden").is_some()
        || element.attr("aria-hidden") == Some("true")
        || element.attr("style").is_some_and(|s| {
            let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
            s.to_ascii_lowercase().contains("display:none")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> Result<ParsedDocument, ParseFailure> {
        HtmlParser.parse(src.as_bytes(), &Limits::default())
    }

    fn kinds_texts(doc: &ParsedDocument) -> Vec<(BlockKind, String)> {
        doc.pages[0]
            .blocks
            .iter()
            .map(|b| (b.kind, b.text.clone()))
            .collect()
    }

    #[test]
    fn structure_in_korean_and_english() -> Result<(), ParseFailure> {
        let doc = parse(
            "<!doctype html><html><head><title> 고혈압  지침 </title><style>p{}</style>\
             <script>alert('x')</script></head><body>\
             <nav><a href='/'>Home</a></nav>\
             <h1>고혈압</h1><p>고혈압 환자의 혈압 목표는 <b>130/80</b> mmHg</p>\
             <div>Loose <i>div</i> text<p>inner para</p>after</div>\
             <ul><li>first<ul><li>nested</li></ul></li><li>second<br>line</li></ul>\
             <table><tr><th>약물</th><th>용량</th></tr><tr><td><p>암로디핀</p></td><td>5 mg</td></tr></table>\
             <pre>  let x = 1;\n  let y = 2;</pre>\
             <p hidden>secret</p><p style='display: none'>gone</p>\
             <img src='http://example.com/x.png'><svg><title>icon</title></svg><h2>End</h2></body></html>",
        )?;
        assert_eq!(doc.title.as_deref(), Some("고혈압 지침"));
        let expected: Vec<(BlockKind, String)> = [
            (BlockKind::Heading { level: 1 }, "고혈압"),
            (
                BlockKind::Paragraph,
                "고혈압 환자의 혈압 목표는 130/80 mmHg",
            ),
            (BlockKind::Paragraph, "Loose div text"),
            (BlockKind::Paragraph, "inner para"),
            (BlockKind::Paragraph, "after"),
            (BlockKind::ListItem, "first"),
            (BlockKind::ListItem, "nested"),
            (BlockKind::ListItem, "second\nline"),
            (BlockKind::TableRow, "약물 | 용량"),
            (BlockKind::TableRow, "암로디핀 | 5 mg"),
            (BlockKind::Code, "  let x = 1;\n  let y = 2;"),
            (BlockKind::Heading { level: 2 }, "End"),
        ]
        .into_iter()
        .map(|(k, t)| (k, t.to_owned()))
        .collect();
        assert_eq!(kinds_texts(&doc), expected);
        Ok(())
    }

    #[test]
    fn title_falls_back_to_first_h1() -> Result<(), ParseFailure> {
        let doc =
            parse("<p>intro</p><svg><title>logo</title></svg><h1>Heading one</h1><h1>two</h1>")?;
        assert_eq!(doc.title.as_deref(), Some("Heading one"));
        Ok(())
    }

    #[test]
    fn only_scripts_is_empty() {
        assert_eq!(
            parse("<html><head><script>var a;</script></head><body> </body></html>"),
            Err(ParseFailure::Empty)
        );
    }

    #[test]
    fn deep_nesting_does_not_overflow() -> Result<(), ParseFailure> {
        let depth = 5_000;
        let src = format!("{}deep{}", "<div>".repeat(depth), "</div>".repeat(depth));
        let doc = parse(&src)?;
        assert_eq!(doc.pages[0].text(), "deep");
        Ok(())
    }

    #[test]
    fn quadratic_nesting_stops_at_the_deadline() {
        let depth = 200_000;
        let src = format!("{}deep{}", "<div>".repeat(depth), "</div>".repeat(depth));
        let limits = Limits {
            max_parse_time: std::time::Duration::from_millis(300),
            ..Limits::default()
        };
        let started = std::time::Instant::now();
        assert_eq!(
            HtmlParser.parse(src.as_bytes(), &limits),
            Err(ParseFailure::TimedOut)
        );
        // The parser itself stops (not just the caller waiting for it).
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn nested_tables_fold_into_the_outer_cell() -> Result<(), ParseFailure> {
        let doc = parse(
            "<table><tr><td>a</td><td><table><tr><td>x</td><td>y</td></tr></table></td></tr></table>",
        )?;
        assert_eq!(
            kinds_texts(&doc),
            [(BlockKind::TableRow, "a | x | y".to_owned())]
        );
        Ok(())
    }
}
