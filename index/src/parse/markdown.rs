//! Markdown (CommonMark + GitHub tables) through `pulldown-cmark`: headings,
//! paragraphs, list items, table rows and code blocks as blocks; the first H1
//! is the title. Raw HTML inside Markdown is dropped, not rendered.

use pulldown_cmark::{Event, HeadingLevel, Options, Tag, TagEnd};

use super::text::decode;
use super::{
    BlockKind, BlockSink, Deadline, DocKind, Limits, ParseFailure, ParsedDocument, Parser,
    labelled_row,
};

/// Reads `.md` files.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MarkdownParser;

impl Parser for MarkdownParser {
    fn kind(&self) -> DocKind {
        DocKind::Markdown
    }

    fn parse(&self, bytes: &[u8], limits: &Limits) -> Result<ParsedDocument, ParseFailure> {
        if bytes.is_empty() {
            return Err(ParseFailure::Empty);
        }
        let deadline = Deadline::new(limits);
        let source = decode(bytes);
        let options = Options::ENABLE_TABLES
            | Options::ENABLE_STRIKETHROUGH
            | Options::ENABLE_TASKLISTS
            | Options::ENABLE_YAML_STYLE_METADATA_BLOCKS;
        let mut builder = Builder::default();
        for (i, event) in pulldown_cmark::Parser::new_ext(&source, options).enumerate() {
            if i % 4096 == 0 {
                deadline.check()?;
            }
            builder.event(event);
        }
        builder.flush();
        Ok(ParsedDocument {
            kind: DocKind::Markdown,
            title: builder.title,
            pages: builder.sink.into_single_page()?,
        })
    }
}

#[derive(Debug, Default)]
struct Builder {
    sink: BlockSink,
    title: Option<String>,
    /// The block being filled, if any.
    current: Option<BlockKind>,
    buf: String,
    /// Nesting of list items: text in an item belongs to the innermost one.
    items: usize,
    table: Option<Table>,
    /// Inside front matter or an HTML block: text is not content.
    skipping: usize,
}

#[derive(Debug, Default)]
struct Table {
    header: Vec<String>,
    row: Vec<String>,
    in_head: bool,
    body_rows: usize,
}

impl Builder {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) | Event::Code(t) | Event::InlineMath(t) | Event::DisplayMath(t) => {
                self.text(&t);
            }
            Event::SoftBreak => self.text(" "),
            Event::HardBreak => self.text("\n"),
            Event::TaskListMarker(done) => self.text(if done { "[x] " } else { "[ ] " }),
            Event::Html(_) | Event::InlineHtml(_) | Event::FootnoteReference(_) | Event::Rule => {}
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Heading { level, .. } => self.begin(BlockKind::Heading {
                level: heading_level(level),
            }),
            Tag::Paragraph => {
                // A paragraph in a list item (a loose list) is the item's text.
                if self.current == Some(BlockKind::ListItem) {
                    if !self.buf.is_empty() {
                        self.buf.push(' ');
                    }
                } else if self.table.is_none() {
                    self.begin(BlockKind::Paragraph);
                }
            }
            Tag::Item => {
                self.items += 1;
                self.begin(BlockKind::ListItem);
            }
            Tag::CodeBlock(_) => self.begin(BlockKind::Code),
            Tag::Table(_) => {
                self.flush();
                self.table = Some(Table::default());
            }
            Tag::TableHead => {
                if let Some(t) = &mut self.table {
                    t.in_head = true;
                    t.row.clear();
                }
            }
            Tag::TableRow => {
                if let Some(t) = &mut self.table {
                    t.row.clear();
                }
            }
            Tag::TableCell => {
                if let Some(t) = &mut self.table {
                    t.row.push(String::new());
                }
            }
            Tag::MetadataBlock(_) | Tag::HtmlBlock => self.skipping += 1,
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Heading(_) | TagEnd::CodeBlock => self.flush(),
            TagEnd::Paragraph if self.current == Some(BlockKind::Paragraph) => self.flush(),
            TagEnd::Item => {
                self.flush();
                self.items = self.items.saturating_sub(1);
            }
            // Text after a nested list still belongs to the outer item.
            TagEnd::List(_) if self.items > 0 => self.current = Some(BlockKind::ListItem),
            TagEnd::TableHead => {
                if let Some(t) = &mut self.table {
                    t.in_head = false;
                    t.header = std::mem::take(&mut t.row);
                }
            }
            TagEnd::TableRow => {
                if let Some(t) = &mut self.table {
                    t.body_rows += 1;
                    let row = std::mem::take(&mut t.row);
                    self.sink
                        .push(BlockKind::TableRow, &labelled_row(&t.header, &row));
                }
            }
            TagEnd::Table => {
                if let Some(t) = self.table.take()
                    && t.body_rows == 0
                {
                    self.sink.push(BlockKind::TableRow, &t.header.join(" | "));
                }
            }
            TagEnd::MetadataBlock(_) | TagEnd::HtmlBlock => {
                self.skipping = self.skipping.saturating_sub(1);
            }
            _ => {}
        }
    }

    fn text(&mut self, text: &str) {
        if self.skipping > 0 {
            return;
        }
        if let Some(t) = &mut self.table {
            if let Some(cell) = t.row.last_mut() {
                cell.push_str(text);
            }
            return;
        }
        if self.current.is_none() {
            self.current = Some(BlockKind::Paragraph);
        }
        self.buf.push_str(text);
    }

    fn begin(&mut self, kind: BlockKind) {
        self.flush();
        self.current = Some(kind);
    }

    fn flush(&mut self) {
        if let Some(kind) = self.current.take() {
            if kind == (BlockKind::Heading { level: 1 }) && self.title.is_none() {
                let title = self.buf.trim();
                if !title.is_empty() {
                    self.title = Some(title.to_owned());
                }
            }
            self.sink.push(kind, &self.buf);
        }
        self.buf.clear();
    }
}

fn heading_level(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Block;

    fn blocks(src: &str) -> Result<(Option<String>, Vec<Block>), ParseFailure> {
        let doc = MarkdownParser.parse(src.as_bytes(), &Limits::default())?;
        let page = doc.pages.into_iter().next().ok_or(ParseFailure::Empty)?;
        Ok((doc.title, page.blocks))
    }

    fn kinds_texts(blocks: &[Block]) -> Vec<(BlockKind, &str)> {
        blocks.iter().map(|b| (b.kind, b.text.as_str())).collect()
    }

    #[test]
    fn structure_in_korean_and_english() -> Result<(), ParseFailure> {
        let src = "---\nauthor: 김\n---\n# 고혈압 진료 지침\n\n고혈압 환자의 혈압 목표는 130/80 mmHg\n\n\
                   ## Treatment\n\nFirst *line*\nsecond `line`.\n\n- 생활습관 교정\n- Drugs:\n  - ACE inhibitor\n\n\
                   ```\nlet x = 1;\n```\n\n<div>raw html</div>\n";
        let (title, blocks) = blocks(src)?;
        assert_eq!(title.as_deref(), Some("고혈압 진료 지침"));
        assert_eq!(
            kinds_texts(&blocks),
            [
                (BlockKind::Heading { level: 1 }, "고혈압 진료 지침"),
                (
                    BlockKind::Paragraph,
                    "고혈압 환자의 혈압 목표는 130/80 mmHg"
                ),
                (BlockKind::Heading { level: 2 }, "Treatment"),
                (BlockKind::Paragraph, "First line second line."),
                (BlockKind::ListItem, "생활습관 교정"),
                (BlockKind::ListItem, "Drugs:"),
                (BlockKind::ListItem, "ACE inhibitor"),
                (BlockKind::Code, "let x = 1;"),
            ]
        );
        Ok(())
    }

    #[test]
    fn tables_label_values_with_headers() -> Result<(), ParseFailure> {
        let src = "| 약물 | 용량 | note |\n|---|---|---|\n| 암로디핀 | 5 mg | |\n| Losartan | 50 mg | daily |\n";
        let (_, blocks) = blocks(src)?;
        assert_eq!(
            kinds_texts(&blocks),
            [
                (BlockKind::TableRow, "약물: 암로디핀; 용량: 5 mg"),
                (
                    BlockKind::TableRow,
                    "약물: Losartan; 용량: 50 mg; note: daily"
                ),
            ]
        );
        Ok(())
    }

    #[test]
    fn loose_list_items_keep_their_paragraphs() -> Result<(), ParseFailure> {
        let (_, blocks) = blocks("1. one\n\n   more\n\n2. two\n")?;
        assert_eq!(
            kinds_texts(&blocks),
            [
                (BlockKind::ListItem, "one more"),
                (BlockKind::ListItem, "two")
            ]
        );
        Ok(())
    }

    #[test]
    fn no_h1_no_title() -> Result<(), ParseFailure> {
        let (title, _) = blocks("## Sub\n\ntext")?;
        assert_eq!(title, None);
        Ok(())
    }
}
