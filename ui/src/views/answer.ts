// One question-and-answer turn: streaming text, then checked sentences with
// their citations, evidence, sources, receipts and notices.
//
// Safety: every piece of model output, document text and path becomes a text
// node. Markdown-ish structure comes from lib/answerText, which only returns
// plain objects.
import { h, icon, type Child } from "../dom";
import { t } from "../i18n";
import type {
  Answer,
  AnswerStatus,
  AppError,
  Flag,
  Quote,
  Receipts,
  SentenceCheck,
  Source,
  Span,
  StoredTurn,
} from "../ipc/types";
import { layoutSentences, layoutStored, markerNumbers, parseInline, type Block, type Inline } from "../lib/answerText";
import { formatPercent } from "../lib/text";
import { button, errorBlock, ocrBadge } from "./common";

/** What to show: a page, the cited span on it and, for a quote, the sentence within the span. */
export type SourceRef = { path: string; page: number; span: Span | null; quote?: string };

export type Turn = {
  question: string;
  status: "streaming" | AnswerStatus | "error";
  /** Raw streamed model text. */
  text: string;
  sources: Source[];
  quotes: Quote[];
  receipts: Receipts | null;
  answer: Answer | null;
  stored: StoredTurn | null;
  error: AppError | null;
  /** The live text node tokens are appended to, and how much of `text` it shows. */
  live: Text | null;
  shown: number;
  pending: HTMLElement | null;
};

export function newTurn(question: string): Turn {
  return {
    question,
    status: "streaming",
    text: "",
    sources: [],
    quotes: [],
    receipts: null,
    answer: null,
    stored: null,
    error: null,
    live: null,
    shown: 0,
    pending: null,
  };
}

export function storedTurn(stored: StoredTurn): Turn {
  return { ...newTurn(stored.question), status: stored.status, text: stored.answer, stored };
}

export type AnswerContext = {
  openSource: (ref: SourceRef) => void;
  copy: (text: string) => Promise<void>;
};

/** A source as the answer knows it: from a live answer or a stored citation. */
type SourceLike = {
  number: number;
  title: string;
  page: number;
  path: string;
  span: Span;
  collection?: string;
  ocr_confidence?: number | null;
  low_confidence?: boolean;
  /** A stored citation whose document has since been removed from the library. */
  source_deleted?: boolean;
};

// ----- Sentences -----

function chip(n: number, source: SourceLike | undefined, ctx: AnswerContext, extra?: { added?: boolean }): HTMLElement {
  const title = extra?.added
    ? t("answer.addedCitation")
    : source
      ? `${source.title} · ${t("answer.page", { page: source.page })}`
      : t("answer.cite", { n });
  return h(
    "button",
    {
      type: "button",
      class: extra?.added ? "chip added" : "chip",
      testid: "citation-chip",
      "data-source": n,
      "data-added": extra?.added ? "true" : null,
      title,
      "aria-label": `${t("answer.cite", { n })}${extra?.added ? ` (${t("answer.addedCitation")})` : ""}`,
      disabled: !source || source.source_deleted === true,
      onclick: () => source && ctx.openSource({ path: source.path, page: source.page, span: source.span }),
    },
    String(n),
  );
}

function inlineNodes(items: Inline[], marker: (n: number) => Node): Node[] {
  const out: Node[] = [];
  for (const item of items) {
    if (item.kind === "text") out.push(document.createTextNode(item.text));
    else if (item.kind === "code") out.push(h("code", null, item.text));
    else if (item.kind === "strong") out.push(h("strong", null, inlineNodes(item.children, marker)));
    else for (const n of item.numbers) out.push(marker(n));
  }
  return out;
}

export function describeFlag(flag: Flag): string {
  const str = (v: unknown) => (Array.isArray(v) ? v.map(String).join(", ") : String(v ?? ""));
  switch (flag.kind) {
    case "unknownSource":
    case "malformedMarker":
      return t(`flag.${flag.kind}`, { marker: str(flag.marker) });
    case "markup":
    case "hiddenCharacters":
    case "negationMismatch":
    case "quoteNotInSource":
      return t(`flag.${flag.kind}`);
    case "numberMismatch": {
      const sources = str(flag.sources);
      return sources
        ? t("flag.numberMismatchSources", { answer: str(flag.answer), sources })
        : t("flag.numberMismatch", { answer: str(flag.answer) });
    }
    case "dateMismatch":
      return t("flag.dateMismatch", { answer: str(flag.answer) });
    case "lowOverlap":
      return t("flag.lowOverlap", { percent: str(flag.percent) });
    case "contradiction":
      return t("flag.contradiction", { sources: str(flag.sources), detail: str(flag.detail) });
    default:
      return t("flag.other", { kind: flag.kind });
  }
}

type Segment = {
  text: string;
  support: SentenceCheck["support"] | "cited";
  citations: number[];
  added: number[];
  problems: Flag[];
};

function sentenceEl(seg: Segment, sources: Map<number, SourceLike>, ctx: AnswerContext): HTMLElement {
  const shown = new Set<number>();
  const marker = (n: number) => {
    shown.add(n);
    return chip(n, sources.get(n), ctx);
  };
  const body = inlineNodes(parseInline(seg.text), marker);
  const rest = seg.citations.filter((n) => !shown.has(n)).map(marker);
  const added = seg.added.filter((n) => !shown.has(n)).map((n) => chip(n, sources.get(n), ctx, { added: true }));
  const flagged = seg.support === "unsupported" || seg.support === "uncited";
  const problems = seg.problems.map(describeFlag).join("; ");
  const title =
    seg.support === "uncited"
      ? t("answer.uncitedTitle")
      : seg.support === "unsupported"
        ? t("answer.unsupportedTitle", { problems: problems || "—" })
        : null;
  return h(
    "span",
    { class: `sentence support-${seg.support}`, testid: "sentence", "data-support": seg.support, title },
    h("span", { class: "sentence-text" }, body),
    rest,
    added,
    flagged
      ? h(
          "span",
          { class: "flag-badge", "data-flag": seg.support },
          icon("alert"),
          seg.support === "uncited" ? t("answer.noSource") : t("answer.unsupported"),
        )
      : null,
  );
}

function blocksEl(blocks: Block[], segment: (i: number) => HTMLElement): HTMLElement {
  const join = (indices: number[]): Child[] => indices.flatMap((i, k) => (k ? [" ", segment(i)] : [segment(i)]));
  return h(
    "div",
    { class: "answer-text" },
    blocks.map((b) => {
      if (b.kind === "h") return h("h4", { class: "answer-heading" }, join(b.sentences));
      if (b.kind === "p") return h("p", null, b.lines.flatMap((line, k) => (k ? [h("br"), ...join(line)] : join(line))));
      return h(b.kind, null, b.items.map((item) => h("li", null, join(item))));
    }),
  );
}

function liveAnswerBody(a: Answer, sources: Map<number, SourceLike>, ctx: AnswerContext): HTMLElement {
  if (a.sentences.length === 0) return storedBody(a.text, sources, ctx);
  const segments: Segment[] = a.sentences.map((s, i) => ({
    text: s.text,
    support: s.support,
    citations: s.citations,
    added: a.attributions.filter((x) => x.sentence === i).map((x) => x.source),
    problems: s.problems,
  }));
  return blocksEl(layoutSentences(a.text, a.sentences), (i) => sentenceEl(segments[i]!, sources, ctx));
}

/** Text without per-sentence checks (history): each piece is shown as cited by its own markers, or not. */
function storedBody(text: string, sources: Map<number, SourceLike>, ctx: AnswerContext): HTMLElement {
  const { blocks, sentences } = layoutStored(text);
  const headings = new Set(blocks.flatMap((b) => (b.kind === "h" ? b.sentences : [])));
  const segments: Segment[] = sentences.map((s, i) => {
    const citations = markerNumbers(s);
    const label = headings.has(i) || /[:：]$/.test(s);
    return {
      text: s,
      support: citations.length ? "cited" : label ? "exempt" : "uncited",
      citations,
      added: [],
      problems: [],
    };
  });
  return blocksEl(blocks, (i) => sentenceEl(segments[i]!, sources, ctx));
}

// ----- Evidence, sources, receipts -----

function evidenceEl(quotes: Quote[], sources: Map<number, SourceLike>, ctx: AnswerContext, open: boolean): HTMLElement | null {
  if (!quotes.length) return null;
  const details = h(
    "details",
    { class: "evidence" },
    h("summary", null, `${t("answer.evidence")} (${quotes.length})`),
    h(
      "ol",
      null,
      quotes.map((q) => {
        const src = sources.get(q.source);
        return h(
          "li",
          null,
          h(
            "button",
            {
              type: "button",
              class: "num",
              testid: "evidence-source",
              "data-source": q.source,
              "aria-label": t("answer.cite", { n: q.source }),
              disabled: !src,
              onclick: () => src && ctx.openSource({ path: src.path, page: src.page, span: src.span, quote: q.text }),
            },
            String(q.source),
          ),
          h("q", null, q.text),
        );
      }),
    ),
  );
  details.open = open;
  return details;
}

function sourcesEl(list: SourceLike[], cited: Set<number>, ctx: AnswerContext): HTMLElement | null {
  if (!list.length) return null;
  const item = (s: SourceLike) =>
    h(
      "li",
      { class: cited.size && !cited.has(s.number) ? "source not-cited" : "source" },
      h(
        "button",
        {
          type: "button",
          class: "source-link",
          testid: "source-item",
          "data-source": s.number,
          "data-deleted": s.source_deleted ? "true" : null,
          // Its pages are erased: the answer stays, the source cannot open.
          disabled: s.source_deleted === true,
          onclick: () => ctx.openSource({ path: s.path, page: s.page, span: s.span }),
        },
        h("span", { class: "num" }, String(s.number)),
        h("span", { class: "source-title" }, s.title),
        h("span", { class: "source-page" }, t("answer.page", { page: s.page })),
        ocrBadge(s),
        s.source_deleted ? h("span", { class: "badge warn", testid: "source-deleted" }, t("answer.sourceDeleted")) : null,
      ),
      h("div", { class: "source-path", title: s.path }, s.path),
    );
  return h(
    "div",
    { class: "sources" },
    h("h4", null, t("answer.sources")),
    h("ol", null, [...list].sort((a, b) => a.number - b.number).map(item)),
  );
}

export function receiptsEl(r: Receipts, ctx: AnswerContext): HTMLElement {
  return h(
    "div",
    { class: "receipts", testid: "receipts" },
    h("h4", null, t("receipts.title")),
    h(
      "dl",
      null,
      h("dt", null, t("receipts.queries")),
      h("dd", null, r.queries.map((q) => h("span", { class: "query" }, q))),
      h("dt", null, t("receipts.collections")),
      h("dd", null, r.collections.length ? r.collections.join(", ") : t("receipts.allCollections")),
    ),
    h(
      "p",
      { class: "receipt-line" },
      t("receipts.chunks", { chunks: r.chunks_searched, documents: r.documents_matched }),
    ),
    h(
      "p",
      { class: "receipt-line" },
      t("receipts.coverage", { best: formatPercent(r.best_coverage), threshold: formatPercent(r.threshold) }),
    ),
    h("h5", null, t("receipts.nearMisses")),
    r.near_misses.length
      ? h(
          "ul",
          { class: "near-misses" },
          r.near_misses.map((m) =>
            h(
              "li",
              null,
              h(
                "button",
                {
                  type: "button",
                  class: "link",
                  testid: "near-miss",
                  onclick: () => ctx.openSource({ path: m.path, page: m.page, span: null }),
                },
                h("span", { class: "source-path" }, m.path),
                " · ",
                t("answer.page", { page: m.page }),
                " · ",
                formatPercent(m.coverage),
              ),
              h("blockquote", null, m.excerpt),
            ),
          ),
        )
      : h("p", { class: "muted" }, t("receipts.none")),
  );
}

function notFoundEl(receipts: Receipts | null, ctx: AnswerContext): HTMLElement {
  return h(
    "div",
    { class: "not-found", testid: "not-found", role: "status" },
    h("div", { class: "not-found-head" }, icon("search"), h("strong", null, t("answer.notFound"))),
    h("p", null, t("answer.notFoundBody")),
    receipts ? receiptsEl(receipts, ctx) : null,
  );
}

function note(kind: "info" | "warn", text: string): HTMLElement {
  return h("p", { class: `note note-${kind}` }, icon(kind === "warn" ? "alert" : "info"), h("span", null, text));
}

// ----- Copy -----

/** The answer as plain text: sentences with [n] markers (Sillok's included), then the sources. */
export function answerAsText(turn: Turn): string {
  const a = turn.answer;
  let body: string;
  let list: SourceLike[];
  if (a) {
    list = a.sources;
    const withAdded = a.sentences.map((s, i) => {
      const extra = a.attributions
        .filter((x) => x.sentence === i && !markerNumbers(s.text).includes(x.source))
        .map((x) => `[${x.source}]`);
      return extra.length ? `${s.text} ${extra.join("")}` : s.text;
    });
    body = a.sentences.length
      ? layoutSentences(a.text, a.sentences)
          .map((b) => {
            const join = (ix: number[]) => ix.map((i) => withAdded[i]).join(" ");
            if (b.kind === "h") return join(b.sentences);
            if (b.kind === "p") return b.lines.map(join).join("\n");
            return b.items.map((it, k) => `${b.kind === "ol" ? `${k + 1}.` : "-"} ${join(it)}`).join("\n");
          })
          .join("\n\n")
      : a.text || a.quotes.map((q) => `“${q.text}” [${q.source}]`).join("\n");
    const cited = new Set([...a.cited, ...a.attributions.map((x) => x.source)]);
    if (cited.size) list = list.filter((s) => cited.has(s.number));
  } else {
    body = turn.text;
    list = turn.stored?.citations ?? turn.sources;
  }
  const sources = [...list]
    .sort((x, y) => x.number - y.number)
    .map((s) => `[${s.number}] ${s.title}, ${t("answer.page", { page: s.page })} — ${s.path}`);
  return sources.length ? `${body.trim()}\n\n${t("answer.copySources")}:\n${sources.join("\n")}\n` : `${body.trim()}\n`;
}

// ----- The turn -----

function sourceMap(turn: Turn): Map<number, SourceLike> {
  const list: SourceLike[] = turn.answer?.sources ?? turn.stored?.citations ?? turn.sources;
  return new Map(list.map((s) => [s.number, s]));
}

function copyButton(turn: Turn, ctx: AnswerContext): HTMLElement {
  const btn = button(
    t("answer.copy"),
    () => {
      void ctx.copy(answerAsText(turn)).then(() => {
        btn.classList.add("done");
        btn.querySelector(".btn-label")!.textContent = t("answer.copied");
      });
    },
    { icon: "copy", class: "btn small ghost", testid: "copy-answer" },
  );
  return btn;
}

function streamingBody(turn: Turn): HTMLElement {
  turn.live = document.createTextNode(turn.text);
  turn.shown = turn.text.length;
  turn.pending = turn.text
    ? null
    : h("p", { class: "pending" }, h("span", { class: "spinner", "aria-hidden": "true" }), turn.sources.length ? t("chat.writing") : t("chat.searching"));
  return h("div", { class: "answer-body" }, turn.pending, h("p", { class: "stream-text" }, turn.live, h("span", { class: "caret", "aria-hidden": "true" })));
}

function finishedBody(turn: Turn, ctx: AnswerContext): Child[] {
  const sources = sourceMap(turn);
  const a = turn.answer;
  if (turn.status === "error") {
    return [turn.error ? errorBlock(turn.error) : null, turn.text ? h("p", { class: "stream-text" }, turn.text) : null];
  }
  if (turn.stored) {
    const st = turn.stored;
    if (st.status === "not-found") return [notFoundEl(null, ctx)];
    const problems = st.flags.filter((f) => f.sentence !== null).length;
    return [
      st.status === "cancelled" ? note("warn", t("answer.stoppedNote")) : null,
      st.status === "evidence-only" ? note("info", t("answer.evidenceOnly")) : null,
      storedBody(st.answer, sources, ctx),
      note("info", t("answer.stored")),
      problems ? note("warn", t("answer.storedFlags", { n: problems })) : null,
      sourcesEl(st.citations, new Set(markerNumbers(st.answer)), ctx),
    ];
  }
  if (!a) {
    return [turn.status === "cancelled" ? note("warn", t("answer.stoppedNote")) : null, h("p", { class: "stream-text" }, turn.text)];
  }
  const cited = new Set([...a.cited, ...a.attributions.map((x) => x.source)]);
  const quotes = a.quotes.length ? a.quotes : turn.quotes;
  const notices = a.notices.map((n) => note("info", n));
  const checks = a.flags.length
    ? h("p", { class: "checks" }, h("span", { class: "checks-label" }, `${t("answer.checks")}: `), a.flags.map(describeFlag).join("; "))
    : null;
  switch (a.status) {
    case "not-found":
      return [notFoundEl(a.receipts ?? turn.receipts, ctx), notices];
    case "evidence-only":
      return [note("info", t("answer.evidenceOnly")), notices, evidenceEl(quotes, sources, ctx, true), sourcesEl(a.sources, cited, ctx)];
    case "cancelled": {
      const partial = a.sentences.length
        ? liveAnswerBody(a, sources, ctx)
        : h("p", { class: "stream-text" }, a.text || turn.text);
      return [note("warn", t("answer.stoppedNote")), partial, notices, sourcesEl(a.sources, cited, ctx)];
    }
    default: {
      // When no sentence of the model's is backed by a source, the verbatim evidence is the answer to read.
      const backed = a.sentences.some((s) => s.support === "supported");
      return [liveAnswerBody(a, sources, ctx), notices, checks, evidenceEl(quotes, sources, ctx, !backed), sourcesEl(a.sources.filter((s) => !cited.size || cited.has(s.number)), cited, ctx)];
    }
  }
}

export function renderTurn(turn: Turn, ctx: AnswerContext): HTMLElement {
  const streaming = turn.status === "streaming";
  const answerLang = turn.answer?.language;
  const stopped = turn.status === "cancelled";
  const canCopy = !streaming && turn.status !== "error" && turn.status !== "not-found";
  return h(
    "article",
    { class: "turn" },
    h("div", { class: "question" }, h("span", { class: "question-label" }, t("chat.you")), h("p", null, turn.question)),
    h(
      "section",
      {
        class: `answer status-${turn.status}`,
        testid: "answer",
        "data-status": turn.status,
        "aria-live": streaming ? "polite" : null,
        "aria-busy": streaming ? "true" : null,
        "aria-label": t("answer.label"),
        lang: answerLang ?? null,
      },
      stopped ? h("span", { class: "badge warn stopped-badge" }, t("answer.stopped")) : null,
      streaming
        ? [streamingBody(turn), evidenceEl(turn.quotes, sourceMap(turn), ctx, false)]
        : finishedBody(turn, ctx),
      !streaming
        ? h(
            "footer",
            { class: "answer-footer" },
            canCopy ? copyButton(turn, ctx) : null,
            turn.answer?.model ? h("span", { class: "muted small" }, t("answer.model", { name: turn.answer.model.name })) : null,
          )
        : null,
    ),
  );
}

/** Appends streamed text that the live node does not show yet (called at most once per frame). */
export function flushTokens(turn: Turn): void {
  if (!turn.live || turn.shown >= turn.text.length) return;
  turn.live.appendData(turn.text.slice(turn.shown));
  turn.shown = turn.text.length;
  if (turn.pending) {
    turn.pending.remove();
    turn.pending = null;
  }
}
