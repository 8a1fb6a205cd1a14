//! The document model shared by Hancom's two formats, HWP 5.0 (binary
//! records, [`super::hwp`]) and HWPX (OWPML XML, [`super::hwpx`]): both are a
//! tree of paragraphs and the controls anchored in them (tables, text boxes,
//! notes, headers and footers), and both readers feed the same [`Tree`], which
//! turns it into pages of blocks. What each format's bytes mean stays in its
//! own module.
//!
//! The rules, the same for both formats:
//!
//! - Paragraphs are blocks: a heading when their paragraph shape is an outline
//!   level (개요), a list item when it is numbered or bulleted.
//! - A table is one [`BlockKind::TableRow`] per row, cells joined with
//!   `" | "` (a cell's paragraphs with spaces); a table nested in a cell joins
//!   that cell, its rows separated by `"; "`. A caption reads before its table.
//! - Text boxes and other drawing objects read where they are anchored: the
//!   text of the paragraph before the anchor, then the box, then the rest.
//! - Footnotes go at the end of the page they are anchored on, under a
//!   "Footnotes" heading; endnotes, and the distinct texts of headers,
//!   footers and master pages (repeated on many pages, indexed once), go at
//!   the end of the document under "Endnotes" and "Headers and footers".
//! - Pages: neither format has fixed pages, so a top-level paragraph starts a
//!   new page when it opens a section, carries an explicit page or section
//!   break, or when the line layout saved with it marks its first line as the
//!   first of a page. A paragraph that runs over a page boundary stays on the
//!   page where it starts and the next one starts a new page. Page numbers are
//!   counted over the whole document; blank pages keep their number but are
//!   left out. The real files tested (Hangul 2010 era) set no such layout
//!   flag, so there long stretches without manual breaks read as one page.

use std::collections::HashSet;

use super::{BlockKind, BlockSink, Limits, ParseFailure, ParsedPage};

/// Headings put before the parts that follow the body.
pub(super) const FOOTNOTES: &str = "Footnotes";
pub(super) const ENDNOTES: &str = "Endnotes";
pub(super) const HEADERS_FOOTERS: &str = "Headers and footers";

/// Deepest nesting of paragraphs and controls (a table in a text box in a
/// cell …) accepted; real documents stay under twenty.
const MAX_NESTING: usize = 64;

/// What a paragraph shape makes of a paragraph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum Shape {
    #[default]
    Plain,
    /// An outline (개요) paragraph: a heading of this level (1–9).
    Heading(u8),
    /// A numbered or bulleted paragraph.
    List,
}

impl Shape {
    /// The shape of an outline level `level` (0-based, as both formats store
    /// it), clamped to the heading levels blocks have.
    pub(super) fn heading(level: u32) -> Shape {
        Shape::Heading(u8::try_from(level.saturating_add(1).min(9)).unwrap_or(9))
    }

    fn block_kind(self) -> BlockKind {
        match self {
            Shape::Plain => BlockKind::Paragraph,
            Shape::Heading(level) => BlockKind::Heading { level },
            Shape::List => BlockKind::ListItem,
        }
    }
}

/// The kinds of control the tree treats differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Control {
    Table,
    Footnote,
    Endnote,
    /// Headers, footers and master pages: text repeated on many pages.
    Repeated,
    /// Anything else (text boxes, drawings, hidden comments, fields): its
    /// paragraphs, if any, read where the control stands.
    Inline,
}

/// One open paragraph or control. `level` is the nesting level the format
/// gives it (record level, XML depth): a scope stays open until something at
/// its level or above comes.
enum Scope {
    Para(Para),
    Ctrl(Ctrl),
}

impl Scope {
    fn level(&self) -> u32 {
        match self {
            Scope::Para(p) => p.level,
            Scope::Ctrl(c) => c.level,
        }
    }
}

/// An open paragraph. The format readers fill `text` (and, for HWP, the
/// `anchors` of its controls) through [`Tree::para_mut`].
pub(super) struct Para {
    level: u32,
    shape: Shape,
    /// Not inside any control: it takes part in page breaking.
    top: bool,
    /// An explicit page or section break before it.
    breaks_page: bool,
    /// From the line layout: the first line starts a page; a later one does.
    first_on_page: bool,
    spans_pages: bool,
    lines: u32,
    placed: bool,
    pub(super) text: String,
    /// Byte offsets in `text` where the paragraph's controls stand, in order
    /// (HWP; HWPX controls stand where the text has got to).
    pub(super) anchors: Vec<usize>,
    /// How many controls have been opened, so which anchor is next.
    controls: usize,
    /// How much of `text` has been emitted already (before a table or box).
    emitted: usize,
}

struct Ctrl {
    level: u32,
    kind: CtrlKind,
}

enum CtrlKind {
    /// A table: cells once its rows start, a caption before that.
    Table {
        started: bool,
        cells: Vec<Cell>,
        /// Rows seen and cells in the current one, for formats that mark
        /// rows ([`Tree::table_row`]) rather than address cells.
        rows: u16,
        cols: u16,
    },
    Footnote,
    Endnote,
    Repeated(String),
    Inline,
}

struct Cell {
    /// (row, column), when known.
    address: Option<(u16, u16)>,
    text: String,
}

/// Where a finished paragraph or table row goes.
enum Dest {
    Body,
    /// Into the last cell of the table at this stack index.
    Cell(usize),
    Footnote,
    Endnote,
    /// Into the repeated text at this stack index.
    Repeated(usize),
}

/// Rebuilds the paragraph and control tree from the events a format reader
/// sends, and collects the blocks page by page.
pub(super) struct Tree {
    stack: Vec<Scope>,
    out: Output,
}

impl Tree {
    pub(super) fn new(limits: &Limits) -> Tree {
        Tree {
            stack: Vec::new(),
            out: Output::new(limits),
        }
    }

    /// Closes what is open and makes the next top-level paragraph start a
    /// page.
    ///
    /// # Errors
    ///
    /// [`ParseFailure::LimitExceeded`] past [`Limits::max_pages`].
    pub(super) fn start_section(&mut self) -> Result<(), ParseFailure> {
        self.close_to(0)?;
        self.out.pending_break = true;
        Ok(())
    }

    /// Closes every scope at `level` or deeper.
    ///
    /// # Errors
    ///
    /// [`ParseFailure::LimitExceeded`] past [`Limits::max_pages`].
    pub(super) fn close_to(&mut self, level: u32) -> Result<(), ParseFailure> {
        while self.stack.last().is_some_and(|s| s.level() >= level) {
            self.close()?;
        }
        Ok(())
    }

    fn push(&mut self, scope: Scope) -> Result<(), ParseFailure> {
        if self.stack.len() >= MAX_NESTING {
            return Err(ParseFailure::Malformed {
                detail: "paragraphs and controls nest too deeply".to_owned(),
            });
        }
        self.stack.push(scope);
        Ok(())
    }

    /// Opens a paragraph at `level`.
    ///
    /// # Errors
    ///
    /// [`ParseFailure::Malformed`] when nesting goes too deep.
    pub(super) fn open_para(
        &mut self,
        level: u32,
        shape: Shape,
        breaks_page: bool,
    ) -> Result<(), ParseFailure> {
        self.push(Scope::Para(Para {
            level,
            shape,
            top: self.stack.is_empty(),
            breaks_page,
            first_on_page: false,
            spans_pages: false,
            lines: 0,
            placed: false,
            text: String::new(),
            anchors: Vec::new(),
            controls: 0,
            emitted: 0,
        }))
    }

    /// The innermost open scope, if it is a paragraph.
    pub(super) fn para_mut(&mut self) -> Option<&mut Para> {
        match self.stack.last_mut() {
            Some(Scope::Para(p)) => Some(p),
            _ => None,
        }
    }

    /// Whether the innermost open scope is a paragraph.
    pub(super) fn in_paragraph(&self) -> bool {
        matches!(self.stack.last(), Some(Scope::Para(_)))
    }

    /// Appends text to the open paragraph.
    pub(super) fn text(&mut self, text: &str) {
        if let Some(p) = self.para_mut() {
            p.text.push_str(text);
        }
    }

    /// One line of the open paragraph's saved layout; bit 0 of `flags`: the
    /// line is the first of a page.
    pub(super) fn line(&mut self, flags: u32) {
        if let Some(p) = self.para_mut()
            && p.top
        {
            let on_page = flags & 1 != 0;
            if p.lines == 0 {
                p.first_on_page = on_page;
            } else {
                p.spans_pages |= on_page;
            }
            p.lines = p.lines.saturating_add(1);
        }
    }

    /// Opens a control at `level`. Inside a paragraph it takes the next
    /// anchor (or stands where the text has got to): a table or box first
    /// emits the paragraph text before it; `own_text` (text the control holds
    /// itself, like ruby) is put into the paragraph there.
    ///
    /// # Errors
    ///
    /// A limit, or [`ParseFailure::Malformed`] when nesting goes too deep.
    pub(super) fn open_control(
        &mut self,
        level: u32,
        control: Control,
        own_text: Option<&str>,
    ) -> Result<(), ParseFailure> {
        if matches!(self.stack.last(), Some(Scope::Para(_))) {
            self.place_paragraph()?;
            let below = self.stack.len() - 1;
            let mut before = None;
            if let Some(p) = self.para_mut() {
                let anchor = p.anchors.get(p.controls).copied();
                p.controls += 1;
                let at = anchor
                    .unwrap_or(p.text.len())
                    .clamp(p.emitted, p.text.len());
                if let Some(own) = own_text {
                    if p.text.is_char_boundary(at) {
                        p.text.insert_str(at, own);
                        for later in p.anchors.iter_mut().skip(p.controls) {
                            *later += own.len();
                        }
                    }
                } else if matches!(control, Control::Table | Control::Inline)
                    && p.text.is_char_boundary(at)
                {
                    before = Some((p.shape, p.text[p.emitted..at].to_owned()));
                    p.emitted = at;
                }
            }
            if let Some((shape, text)) = before {
                self.emit(below, shape.block_kind(), &text)?;
            }
        }
        let kind = match control {
            Control::Table => CtrlKind::Table {
                started: false,
                cells: Vec::new(),
                rows: 0,
                cols: 0,
            },
            Control::Footnote => CtrlKind::Footnote,
            Control::Endnote => CtrlKind::Endnote,
            Control::Repeated => CtrlKind::Repeated(String::new()),
            Control::Inline => CtrlKind::Inline,
        };
        self.push(Scope::Ctrl(Ctrl { level, kind }))
    }

    /// The open table whose cells come next, if the innermost scope is one.
    fn table_mut(&mut self) -> Option<(&mut bool, &mut Vec<Cell>, &mut u16, &mut u16)> {
        match self.stack.last_mut() {
            Some(Scope::Ctrl(Ctrl {
                kind:
                    CtrlKind::Table {
                        started,
                        cells,
                        rows,
                        cols,
                    },
                ..
            })) => Some((started, cells, rows, cols)),
            _ => None,
        }
    }

    /// The open table's cells start (what came before was its caption).
    pub(super) fn start_table(&mut self) {
        if let Some((started, ..)) = self.table_mut() {
            *started = true;
        }
    }

    /// A new row of the open table, for formats that mark rows.
    pub(super) fn table_row(&mut self) {
        if let Some((started, _, rows, cols)) = self.table_mut() {
            *started = true;
            *rows = rows.saturating_add(1);
            *cols = 0;
        }
    }

    /// A new cell of the open table; without an `address`, the next one in
    /// the row [`Tree::table_row`] started (or none, in a damaged file).
    pub(super) fn cell(&mut self, address: Option<(u16, u16)>) {
        if let Some((true, cells, rows, cols)) = self.table_mut() {
            let address = address.or_else(|| {
                let row = rows.checked_sub(1)?;
                let col = *cols;
                *cols = cols.saturating_add(1);
                Some((row, col))
            });
            cells.push(Cell {
                address,
                text: String::new(),
            });
        }
    }

    /// Starts a page for the innermost (top-level) paragraph if it opens one;
    /// once per paragraph, before any of its text or controls are emitted.
    fn place_paragraph(&mut self) -> Result<(), ParseFailure> {
        let Some(Scope::Para(p)) = self.stack.last_mut() else {
            return Ok(());
        };
        if !p.top || p.placed {
            return Ok(());
        }
        p.placed = true;
        if p.first_on_page || p.breaks_page || self.out.pending_break || self.out.pages.is_empty() {
            self.out.pending_break = false;
            self.out.new_page()?;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), ParseFailure> {
        self.place_paragraph()?;
        let Some(scope) = self.stack.pop() else {
            return Ok(());
        };
        let below = self.stack.len();
        match scope {
            Scope::Para(p) => {
                if p.top && p.spans_pages {
                    self.out.pending_break = true;
                }
                let rest = p.text.get(p.emitted..).unwrap_or_default();
                self.emit(below, p.shape.block_kind(), rest)?;
            }
            Scope::Ctrl(c) => match c.kind {
                CtrlKind::Table { cells, .. } => {
                    for row in table_rows(cells) {
                        self.emit(below, BlockKind::TableRow, &row)?;
                    }
                }
                CtrlKind::Repeated(text) => {
                    let text = text.trim();
                    if !text.is_empty() && self.out.seen_repeated.insert(text.to_owned()) {
                        self.out.repeated.push(text.to_owned());
                    }
                }
                CtrlKind::Footnote | CtrlKind::Endnote | CtrlKind::Inline => {}
            },
        }
        Ok(())
    }

    /// Where text closed with `below` scopes still open goes.
    fn dest(&self, below: usize) -> Dest {
        for (i, scope) in self.stack.iter().enumerate().take(below).rev() {
            let Scope::Ctrl(c) = scope else { continue };
            match &c.kind {
                CtrlKind::Table { started: true, .. } => return Dest::Cell(i),
                CtrlKind::Footnote => return Dest::Footnote,
                CtrlKind::Endnote => return Dest::Endnote,
                CtrlKind::Repeated(_) => return Dest::Repeated(i),
                // A caption reads where its table stands.
                CtrlKind::Table { started: false, .. } | CtrlKind::Inline => {}
            }
        }
        Dest::Body
    }

    fn emit(&mut self, below: usize, kind: BlockKind, text: &str) -> Result<(), ParseFailure> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(());
        }
        let separator = if kind == BlockKind::TableRow {
            "; "
        } else {
            " "
        };
        match self.dest(below) {
            Dest::Body => self.out.page()?.body.push(kind, text),
            Dest::Footnote => self.out.page()?.footnotes.push(plain(kind), text),
            Dest::Endnote => self.out.endnotes.push(plain(kind), text),
            Dest::Cell(i) => {
                if let Some(Scope::Ctrl(Ctrl {
                    kind: CtrlKind::Table { cells, .. },
                    ..
                })) = self.stack.get_mut(i)
                    && let Some(cell) = cells.last_mut()
                {
                    append(&mut cell.text, text, separator);
                }
            }
            Dest::Repeated(i) => {
                if let Some(Scope::Ctrl(Ctrl {
                    kind: CtrlKind::Repeated(lines),
                    ..
                })) = self.stack.get_mut(i)
                {
                    append(lines, text, "\n");
                }
            }
        }
        Ok(())
    }

    /// Closes everything and returns the pages that have text.
    ///
    /// # Errors
    ///
    /// [`ParseFailure::Empty`] if no text was found, or a limit.
    pub(super) fn finish(mut self) -> Result<Vec<ParsedPage>, ParseFailure> {
        self.close_to(0)?;
        self.out.into_pages()
    }
}

/// Notes keep rows as rows but have no headings or lists of their own.
fn plain(kind: BlockKind) -> BlockKind {
    match kind {
        BlockKind::TableRow => BlockKind::TableRow,
        _ => BlockKind::Paragraph,
    }
}

fn append(out: &mut String, text: &str, separator: &str) {
    if !out.is_empty() {
        out.push_str(separator);
    }
    out.push_str(text);
}

/// Rows of a table, cells joined with `" | "`, in row then column order
/// (when any cell has no address, in a damaged file, each cell in the order
/// stored is a row of its own).
fn table_rows(mut cells: Vec<Cell>) -> Vec<String> {
    if cells.iter().all(|c| c.address.is_some()) {
        cells.sort_by_key(|c| c.address);
    }
    let mut rows: Vec<(Option<u16>, Vec<String>)> = Vec::new();
    for cell in cells {
        let row = cell.address.map(|(row, _)| row);
        let text = cell.text.trim().to_owned();
        match rows.last_mut() {
            Some((r, texts)) if *r == row && row.is_some() => texts.push(text),
            _ => rows.push((row, vec![text])),
        }
    }
    rows.into_iter()
        .map(|(_, texts)| {
            texts
                .into_iter()
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .filter(|row| !row.is_empty())
        .collect()
}

/// The blocks of the whole document, page by page.
struct Output {
    pages: Vec<PageOut>,
    /// The number of the last page started (pages with no text included).
    number: u32,
    /// The next top-level paragraph starts a page (a new section, or the
    /// previous paragraph ran over a page boundary).
    pending_break: bool,
    max_pages: u32,
    endnotes: BlockSink,
    /// Distinct header, footer and master-page texts, in order.
    repeated: Vec<String>,
    seen_repeated: HashSet<String>,
}

struct PageOut {
    number: u32,
    body: BlockSink,
    footnotes: BlockSink,
}

impl Output {
    fn new(limits: &Limits) -> Output {
        Output {
            pages: Vec::new(),
            number: 0,
            pending_break: true,
            max_pages: limits.max_pages,
            endnotes: BlockSink::default(),
            repeated: Vec::new(),
            seen_repeated: HashSet::new(),
        }
    }

    fn new_page(&mut self) -> Result<(), ParseFailure> {
        self.number += 1;
        if self.number > self.max_pages {
            return Err(ParseFailure::LimitExceeded {
                limit: "max_pages",
                max: u64::from(self.max_pages),
            });
        }
        // Pages left blank so far hold nothing: drop them as we go, so a
        // run of empty page breaks costs no memory.
        if self
            .pages
            .last()
            .is_some_and(|p| p.body.is_empty() && p.footnotes.is_empty())
        {
            self.pages.pop();
        }
        self.pages.push(PageOut {
            number: self.number,
            body: BlockSink::default(),
            footnotes: BlockSink::default(),
        });
        Ok(())
    }

    fn page(&mut self) -> Result<&mut PageOut, ParseFailure> {
        if self.pages.is_empty() {
            self.new_page()?;
        }
        self.pages.last_mut().ok_or(ParseFailure::Empty)
    }

    fn into_pages(mut self) -> Result<Vec<ParsedPage>, ParseFailure> {
        let mut tail = BlockSink::default();
        if !self.endnotes.is_empty() {
            tail.push(BlockKind::Heading { level: 1 }, ENDNOTES);
            move_blocks(self.endnotes, &mut tail);
        }
        if !self.repeated.is_empty() {
            tail.push(BlockKind::Heading { level: 1 }, HEADERS_FOOTERS);
            for text in &self.repeated {
                tail.push(BlockKind::Paragraph, text);
            }
        }
        let mut pages: Vec<ParsedPage> = Vec::new();
        for page in self.pages.drain(..) {
            let mut blocks = page.body;
            if !page.footnotes.is_empty() {
                blocks.push(BlockKind::Heading { level: 1 }, FOOTNOTES);
                move_blocks(page.footnotes, &mut blocks);
            }
            if !blocks.is_empty() {
                pages.push(ParsedPage::new(page.number, blocks.into_blocks()));
            }
        }
        if !tail.is_empty() {
            match pages.last_mut() {
                Some(last) => last.blocks.extend(tail.into_blocks()),
                None => pages.push(ParsedPage::new(1, tail.into_blocks())),
            }
        }
        if pages.is_empty() {
            return Err(ParseFailure::Empty);
        }
        Ok(pages)
    }
}

fn move_blocks(from: BlockSink, to: &mut BlockSink) {
    for block in from.into_blocks() {
        to.push(block.kind, &block.text);
    }
}
