import { beforeEach, describe, expect, test } from "vitest";
import { answer, notFoundAnswer, sentence, sources } from "../dev/fakeBackend";
import { setLang } from "../src/i18n";
import type { Answer, StoredTurn } from "../src/ipc/types";
import { answerAsText, flushTokens, newTurn, renderTurn, storedTurn, type SourceRef, type Turn } from "../src/views/answer";

let opened: SourceRef[];
let copied: string[];
const ctx = {
  openSource: (ref: SourceRef) => void opened.push(ref),
  copy: async (text: string) => void copied.push(text),
};

function done(a: Answer): Turn {
  const turn = newTurn(a.question);
  turn.answer = a;
  turn.status = a.status;
  return turn;
}

function render(turn: Turn): HTMLElement {
  const el = renderTurn(turn, ctx);
  document.body.replaceChildren(el);
  return el;
}

const q = (root: ParentNode, id: string) => [...root.querySelectorAll<HTMLElement>(`[data-testid="${id}"]`)];

beforeEach(() => {
  opened = [];
  copied = [];
  setLang("en");
});

describe("checked answers", () => {
  test("each sentence is a span with its support; supported ones carry their citation chips", () => {
    const el = render(done(answer()));
    const sentences = q(el, "sentence");
    expect(sentences.map((s) => s.dataset.support)).toEqual([
      "supported",
      "supported",
      "supported",
      "uncited",
      "unsupported",
      "supported",
    ]);
    expect(q(sentences[0]!, "citation-chip").map((c) => c.dataset.source)).toEqual(["1"]);
    expect(q(sentences[2]!, "citation-chip").map((c) => c.dataset.source)).toEqual(["2"]);
    // Markers become chips: no "[1]" is left in the text.
    expect(sentences[0]!.textContent).not.toContain("[1]");
    expect(sentences[1]!.querySelector("strong")?.textContent).toBe("최대 용량");
  });

  test("uncited and unsupported sentences are marked and carry no plain chips of their own", () => {
    const el = render(done(answer()));
    const [, , , uncited, unsupported] = q(el, "sentence");
    expect(uncited!.querySelector(".flag-badge")?.textContent).toBe("no source");
    expect(q(uncited!, "citation-chip")).toHaveLength(0);
    expect(uncited!.title).toContain("cites no document");
    expect(unsupported!.querySelector(".flag-badge")?.textContent).toBe("not supported by the source");
    expect(unsupported!.title).toContain("20 mg is not in the cited source (it gives 5 mg, 10 mg)");
    // Supported sentences have no badge.
    for (const s of q(el, "sentence").filter((s) => s.dataset.support === "supported")) {
      expect(s.querySelector(".flag-badge")).toBeNull();
    }
  });

  test("Sillok's attributions add dotted chips to their sentence", () => {
    const el = render(done(answer({ attributions: [{ sentence: 5, source: 2 }] })));
    const last = q(el, "sentence")[5]!;
    const chips = q(last, "citation-chip");
    expect(chips.map((c) => [c.dataset.source, c.dataset.added])).toEqual([["2", "true"]]);
    expect(chips[0]!.classList.contains("added")).toBe(true);
    expect(chips[0]!.title).toBe("citation added by Sillok's check");
  });

  test("sentences without markers still get chips from sentence.citations", () => {
    const text = "Dose is 5 mg.";
    const a = answer({ text, sentences: [sentence(text, "Dose is 5 mg.", "supported", [2])], attributions: [] });
    const el = render(done(a));
    expect(q(el, "citation-chip").map((c) => c.dataset.source)).toEqual(["2"]);
  });

  test("clicking a chip opens its source's page and span", () => {
    const el = render(done(answer()));
    q(el, "citation-chip")[0]!.click();
    expect(opened).toEqual([{ path: sources()[0]!.path, page: 12, span: sources()[0]!.span }]);
  });

  test("the answer block carries the final status and lists, evidence and sources render", () => {
    const el = render(done(answer()));
    const block = q(el, "answer")[0]!;
    expect(block.dataset.status).toBe("answered");
    expect(block.querySelector("ul")?.children).toHaveLength(3);
    expect(q(el, "source-item").map((s) => s.dataset.source)).toEqual(["1", "2"]);
    expect(el.querySelector(".evidence li q")?.textContent).toContain("통상 시작 용량은");
    expect(el.querySelector(".note")?.textContent).toContain("waiting to be indexed");
  });

  test("copy gives the text with [n] markers (Sillok's included) and a source list", async () => {
    const turn = done(answer());
    const text = answerAsText(turn);
    expect(text).toContain("암로디핀의 통상 시작 용량은 1일 1회 5 mg입니다 [1].");
    expect(text).toContain("- 신기능 저하 환자는 용량 조절이 필요 없습니다.");
    expect(text).toContain("말초 부종이 흔한 부작용입니다. [1]");
    expect(text).toContain("Sources:\n[1] 고혈압 진료지침 2022, p. 12 — /home/user/문서/지침/고혈압-진료지침-2022.pdf");
    const el = render(turn);
    q(el, "copy-answer")[0]!.click();
    await Promise.resolve();
    expect(copied).toEqual([text]);
  });
});

describe("other statuses", () => {
  test("not-found shows the message and the search receipts", () => {
    const el = render(done(notFoundAnswer()));
    expect(q(el, "answer")[0]!.dataset.status).toBe("not-found");
    const nf = q(el, "not-found")[0]!;
    expect(nf.textContent).toContain("Not found in your documents");
    const receipts = q(nf, "receipts")[0]!;
    expect(receipts.textContent).toContain("소아 용량");
    expect(receipts.textContent).toContain("paediatric dose");
    expect(receipts.textContent).toContain("documents, labels");
    expect(receipts.textContent).toContain("932 passages searched in 3 matching documents");
    expect(receipts.textContent).toContain("Best coverage 18% (needed 40%)");
    expect(receipts.textContent).toContain("/home/user/문서/labels/amlodipine-label.pdf");
    expect(receipts.textContent).toContain("p. 7");
    expect(q(el, "sentence")).toHaveLength(0);
  });

  test("not-found is localised in Korean", () => {
    setLang("ko");
    const el = render(done(notFoundAnswer()));
    expect(q(el, "not-found")[0]!.textContent).toContain("문서에서 찾을 수 없습니다");
  });

  test("evidence-only shows the quotes with their source numbers and a note", () => {
    const a = answer({ status: "evidence-only", text: "", sentences: [], model: null, attributions: [] });
    const el = render(done(a));
    expect(el.textContent).toContain("No chat model is ready");
    expect((el.querySelector(".evidence") as HTMLDetailsElement).open).toBe(true);
    expect(q(el, "evidence-source").map((b) => b.dataset.source)).toEqual(["1", "2"]);
  });

  test("cancelled shows the partial text marked stopped", () => {
    const turn = newTurn("q");
    turn.text = "통상 시작 용량은";
    turn.status = "cancelled";
    const el = render(turn);
    expect(q(el, "answer")[0]!.dataset.status).toBe("cancelled");
    expect(el.querySelector(".stopped-badge")?.textContent).toBe("Stopped");
    expect(el.textContent).toContain("통상 시작 용량은");
  });

  test("an error shows the localised headline for its kind and the message", () => {
    const turn = newTurn("q");
    turn.status = "error";
    turn.error = { kind: "no_model", message: "No chat model is installed." };
    const el = render(turn);
    const block = el.querySelector(".error-block")!;
    expect(block.querySelector(".error-title")?.textContent).toBe("No chat model is ready");
    expect(block.textContent).toContain("No chat model is installed.");
  });

  test("streaming shows tokens as plain text appended to one text node", () => {
    const turn = newTurn("q");
    const el = render(turn);
    const block = q(el, "answer")[0]!;
    expect(block.dataset.status).toBe("streaming");
    expect(block.getAttribute("aria-live")).toBe("polite");
    const node = turn.live!;
    turn.text += "**굵게** [1]";
    flushTokens(turn);
    turn.text += " 계속";
    flushTokens(turn);
    expect(turn.live).toBe(node);
    expect(block.querySelector(".stream-text")!.textContent).toBe("**굵게** [1] 계속");
    expect(block.querySelector("strong")).toBeNull();
    expect(q(el, "citation-chip")).toHaveLength(0);
    expect(block.querySelector(".pending")).toBeNull();
  });
});

describe("stored turns (history)", () => {
  const stored: StoredTurn = {
    ordinal: 1,
    question: "q",
    answer: "통상 시작 용량은 5 mg입니다 [1]. 신기능 저하 환자는 조절이 필요 없습니다.\n출처:",
    status: "answered",
    citations: sources().map(({ number, path, title, page, span, text }) => ({ number, path, title, page, span, snippet: text, source_deleted: false })),
    flags: [{ sentence: 1, kind: "sentence" }],
    created_at: 0,
  };

  test("pieces with markers get chips; pieces without are marked as having no source", () => {
    const el = render(storedTurn(stored));
    const s = q(el, "sentence");
    expect(s.map((x) => x.dataset.support)).toEqual(["cited", "uncited", "exempt"]);
    expect(q(s[0]!, "citation-chip").map((c) => c.dataset.source)).toEqual(["1"]);
    expect(s[1]!.querySelector(".flag-badge")?.textContent).toBe("no source");
    expect(el.textContent).toContain("flagged 1 sentence problem");
    q(s[0]!, "citation-chip")[0]!.click();
    expect(opened[0]!.page).toBe(12);
  });

  test("a citation whose document was removed keeps the answer, says so, and cannot be opened", () => {
    const citations = stored.citations.map((c) => ({ ...c, source_deleted: c.number === 1 }));
    const el = render(storedTurn({ ...stored, citations }));
    expect(q(el, "sentence")[0]!.textContent).toContain("5 mg");
    const items = q(el, "source-item") as HTMLButtonElement[];
    const first = items.find((b) => b.dataset.source === "1")!;
    expect(first.dataset.deleted).toBe("true");
    expect(first.disabled).toBe(true);
    expect(first.textContent).toContain("deleted from the library");
    expect((q(q(el, "sentence")[0]!, "citation-chip")[0] as HTMLButtonElement).disabled).toBe(true);
    first.click();
    expect(opened).toHaveLength(0);
    const others = items.filter((b) => b.dataset.source !== "1");
    expect(others.every((b) => !b.disabled && b.dataset.deleted === undefined)).toBe(true);
  });

  test("a stored not-found turn shows the not-found block", () => {
    const el = render(storedTurn({ ...stored, status: "not-found", answer: "", citations: [] }));
    expect(q(el, "not-found")).toHaveLength(1);
    expect(q(el, "answer")[0]!.dataset.status).toBe("not-found");
  });
});
