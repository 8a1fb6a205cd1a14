// Turns answer text into a safe block structure (paragraphs, lists, headings)
// whose leaves are sentence indices, so each sentence keeps its own verdict.
// Nothing here produces HTML: views build elements from these plain objects.
import type { Span } from "../ipc/types";
import { byteToIndex } from "./text";

export type Block =
  | { kind: "p"; lines: number[][] }
  | { kind: "ul" | "ol"; items: number[][] }
  | { kind: "h"; sentences: number[] };

type LineKind = "text" | "ul" | "ol" | "h" | "blank";
type Line = { kind: LineKind; start: number; end: number; contentStart: number };

// The same bullets the verifier strips (core/src/answer/verify.rs, split_sentences).
const BULLET = /^[ \t]*(?:([-*•·‣▪◦–>])|([0-9]{1,3})[.)]|(#{1,6}))[ \t]+/;

function lines(text: string): Line[] {
  const out: Line[] = [];
  let start = 0;
  for (const raw of text.split("\n")) {
    const end = start + raw.length;
    const m = BULLET.exec(raw);
    let kind: LineKind = raw.trim() === "" ? "blank" : "text";
    if (m && raw.length > m[0].length) kind = m[1] ? "ul" : m[2] ? "ol" : "h";
    out.push({ kind, start, end, contentStart: start + (m ? m[0].length : 0) });
    start = end + 1;
  }
  return out;
}

/** Groups per-line sentence lists into blocks. */
function group(entries: { kind: LineKind; sentences: number[] }[]): Block[] {
  const blocks: Block[] = [];
  for (const { kind, sentences } of entries) {
    const last = blocks[blocks.length - 1];
    if (kind === "blank") {
      blocks.push({ kind: "p", lines: [] }); // a paragraph break; empty ones are dropped below
    } else if (kind === "h") {
      blocks.push({ kind: "h", sentences });
    } else if (kind === "ul" || kind === "ol") {
      if (last && last.kind === kind) last.items.push(sentences);
      else blocks.push({ kind, items: [sentences] });
    } else if (last && last.kind === "p") {
      last.lines.push(sentences);
    } else {
      blocks.push({ kind: "p", lines: [sentences] });
    }
  }
  return blocks.filter((b) => (b.kind === "p" ? b.lines.length > 0 : true));
}

/**
 * Lays out checked sentences by where they sit in the answer text. `range`s are
 * byte offsets into `text`; if they do not line up (a contract drift), every
 * sentence still shows, in order, in one paragraph.
 */
export function layoutSentences(text: string, sentences: { text: string; range: Span }[]): Block[] {
  const all = sentences.map((_, i) => i);
  const fallback: Block[] = sentences.length ? [{ kind: "p", lines: [all] }] : [];
  const starts: number[] = [];
  for (const s of sentences) {
    const a = byteToIndex(text, s.range.start);
    const b = byteToIndex(text, s.range.end);
    if (a < 0 || b < a || text.slice(a, b) !== s.text) return fallback;
    starts.push(a);
  }
  let next = 0;
  const entries = lines(text).map((line) => {
    const mine: number[] = [];
    while (next < sentences.length && starts[next]! <= line.end) mine.push(next++);
    // A line whose only content was merged into the sentence before it shows nothing.
    const kind: LineKind = mine.length === 0 ? "blank" : line.kind === "blank" ? "text" : line.kind;
    return { kind, sentences: mine };
  });
  // Sentences beyond the last line (should not happen) are not dropped.
  if (next < sentences.length) entries.push({ kind: "text", sentences: all.slice(next) });
  return group(entries);
}

// A sentence end: terminator, then any citation markers, then space before more text.
const SENTENCE_BREAK = /(?<=[.?!。](?:\s*\[\d+(?:\s*,\s*\d+)*\])*)\s+(?=[^\s[])/;

/**
 * For stored turns, which keep no per-sentence checks: splits the answer the way
 * the verifier roughly does (lines, bullets, sentence ends) so each piece can be
 * shown as cited or not by its own markers.
 */
export function layoutStored(text: string): { blocks: Block[]; sentences: string[] } {
  const sentences: string[] = [];
  const entries = lines(text).map((line) => {
    if (line.kind === "blank") return { kind: line.kind, sentences: [] };
    const content = text.slice(line.contentStart, line.end).trim();
    const mine = content
      .split(SENTENCE_BREAK)
      .filter((s) => s.trim() !== "")
      .map((s) => sentences.push(s.trim()) - 1);
    return { kind: line.kind, sentences: mine };
  });
  return { blocks: group(entries), sentences };
}

export type Inline =
  | { kind: "text"; text: string }
  | { kind: "strong"; children: Inline[] }
  | { kind: "code"; text: string }
  | { kind: "marker"; numbers: number[] };

const INLINE = /\[(\d+(?:\s*,\s*\d+)*)\]|\*\*([^*\n]+?)\*\*|`([^`\n]+)`/g;

/** Parses the little inline Markdown answers use: **bold**, `code` and [n] markers. */
export function parseInline(text: string): Inline[] {
  const out: Inline[] = [];
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    const at = m.index;
    if (at > last) out.push({ kind: "text", text: text.slice(last, at) });
    if (m[1] !== undefined) out.push({ kind: "marker", numbers: m[1].split(",").map((n) => Number(n.trim())) });
    else if (m[2] !== undefined) out.push({ kind: "strong", children: parseInline(m[2]) });
    else out.push({ kind: "code", text: m[3]! });
    last = at + m[0].length;
  }
  if (last < text.length) out.push({ kind: "text", text: text.slice(last) });
  return out;
}

/** Every number cited by markers in `text`, in order of first use. */
export function markerNumbers(text: string): number[] {
  const seen: number[] = [];
  const walk = (items: Inline[]) => {
    for (const item of items) {
      if (item.kind === "marker") for (const n of item.numbers) if (!seen.includes(n)) seen.push(n);
      if (item.kind === "strong") walk(item.children);
    }
  };
  walk(parseInline(text));
  return seen;
}

/** The sentence without its markers, for copying and for screen readers. */
export function stripMarkers(text: string): string {
  return text.replace(/\s*\[\d+(?:\s*,\s*\d+)*\]/g, "").trim();
}
