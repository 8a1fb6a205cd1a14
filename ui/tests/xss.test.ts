/// <reference types="vite/client" />
// Model output, document text, file names and anything else from IPC must show
// as literal text and never become markup, load a resource or run code.
import { afterEach, describe, expect, test } from "vitest";
import { answer, FakeBackend, sentence, sources } from "../dev/fakeBackend";
import type { AskEvent, StoredTurn } from "../src/ipc/types";
import { all, one, press, settle, startApp, stopApp, type } from "./helpers";

const EVIL =
  '<script>window.__pwned=1</script><img src="http://198.51.100.1/a.png" onerror="window.__pwned=2"><iframe src="http://198.51.100.1/"></iframe>';
const MD_EVIL = "**<img src=x onerror=alert(1)>** `<script>alert(2)</script>`";

declare global {
  interface Window {
    __pwned?: number;
  }
}

function assertInert(): void {
  const active = document.querySelectorAll("script, img, iframe, object, embed, link, style, image, video, audio, source, base, meta, form[action]");
  expect([...active].map((e) => e.outerHTML)).toEqual([]);
  for (const el of document.querySelectorAll("*")) {
    for (const attr of el.attributes) expect(attr.name.startsWith("on"), `${el.tagName} ${attr.name}`).toBe(false);
    for (const attr of ["src", "href", "srcset", "action", "style"]) expect(el.hasAttribute(attr), `${el.tagName}[${attr}]`).toBe(false);
  }
  expect(window.__pwned).toBeUndefined();
}

function hostileFake(): FakeBackend {
  const fake = new FakeBackend();
  fake.status.os_locale = "en-US";
  fake.status.model.name = EVIL;
  fake.conversations[0]!.title = EVIL;
  fake.collections[0]!.name = EVIL;
  fake.collections[0]!.roots = [EVIL];
  fake.files[EVIL] = [
    { path: `/docs/${EVIL}.pdf`, status: "failed", reason: EVIL, doc_type: "pdf", chunks: 0, size_bytes: 1, ocr_pages: [], ocr: null },
    {
      path: `/docs/${EVIL}.png`,
      status: "indexed",
      reason: null,
      doc_type: "image",
      chunks: 1,
      size_bytes: 1,
      ocr_pages: [],
      ocr: { pages_read: [1], mean_confidence: 40, low_confidence_pages: [1], failed: [{ page: 2, reason: EVIL }], note: EVIL },
    },
  ];
  fake.hits[0] = { ...fake.hits[0]!, title: EVIL, snippet: EVIL, path: `/docs/${EVIL}` };
  fake.models[0]!.name = EVIL;
  fake.models[0]!.license = EVIL;
  const path = sources()[0]!.path;
  fake.pages[path]![11] = `${EVIL} 앞 😀 cited ${EVIL} 뒤`;
  return fake;
}

afterEach(() => {
  stopApp();
  delete window.__pwned;
});

describe("hostile text stays inert", () => {
  test("streamed tokens, checked sentences, quotes, sources, notices and flags", async () => {
    const fake = hostileFake();
    let emitLater: (e: AskEvent) => void = () => {};
    let finish: (v: unknown) => void = () => {};
    fake.ask = (_args, emit) => {
      emitLater = emit;
      return new Promise((r) => (finish = r));
    };
    const { app } = await startApp(fake);
    app.chat.send(EVIL);
    await settle();
    const src = sources().map((s) => ({ ...s, title: EVIL, path: `/x/${EVIL}`, text: EVIL }));
    emitLater({ event: "evidence", data: { sources: src, quotes: [{ source: 1, text: EVIL }] } });
    emitLater({ event: "token", data: { text: EVIL, sent_at_ms: Date.now() } });
    emitLater({ event: "token", data: { text: MD_EVIL, sent_at_ms: Date.now() } });
    await new Promise((r) => requestAnimationFrame(r));
    expect(one("answer").querySelector(".stream-text")!.textContent).toBe(EVIL + MD_EVIL);
    assertInert();

    const text = `Dose ${EVIL} is 5 mg [1].\n- ${MD_EVIL}`;
    const a = answer({
      text,
      sentences: [sentence(text, `Dose ${EVIL} is 5 mg [1].`, "supported", [1]), sentence(text, MD_EVIL, "uncited")],
      sources: src,
      quotes: [{ source: 1, text: EVIL }],
      notices: [EVIL],
      flags: [{ kind: "unknownSource", marker: EVIL }, { kind: EVIL }],
      attributions: [],
      model: { name: EVIL, sha256: "x" },
    });
    emitLater({ event: "done", data: { answer: a, conversation_id: 1 } });
    finish({ conversation_id: 1 });
    await settle();
    const block = one("answer");
    expect(block.dataset.status).toBe("answered");
    const [first, second] = all("sentence");
    expect(first!.querySelector(".sentence-text")!.textContent).toBe(`Dose ${EVIL} is 5 mg 1.`) // "1" is the chip;
    expect(second!.querySelector("strong")!.textContent).toBe("<img src=x onerror=alert(1)>");
    expect(second!.querySelector("code")!.textContent).toBe("<script>alert(2)</script>");
    expect(block.textContent).toContain(`check: ${EVIL}`);
    expect(block.querySelector(".evidence q")!.textContent).toBe(EVIL);
    assertInert();

    // The source viewer: page text and title from the document.
    all("citation-chip")[0]!.click();
    await settle();
    expect(one("source-viewer").textContent).toContain(EVIL);
    assertInert();
  });

  test("not-found receipts and error messages", async () => {
    const fake = hostileFake();
    fake.ask = (_args, emit) => {
      const a = answer({ status: "not-found", text: "", sentences: [], attributions: [] });
      a.receipts = { ...a.receipts, queries: [EVIL], collections: [EVIL], near_misses: [{ path: EVIL, page: 1, coverage: 0.1, excerpt: EVIL }] };
      emit({ event: "done", data: { answer: a, conversation_id: 1 } });
      return { conversation_id: 1 };
    };
    const { app } = await startApp(fake);
    app.chat.send("q");
    await settle();
    expect(one("receipts").textContent).toContain(EVIL);
    fake.ask = () => Promise.reject({ kind: "internal", message: EVIL });
    app.chat.send("q2");
    await settle();
    expect(all("answer")[1]!.querySelector(".error-message")!.textContent).toBe(EVIL);
    assertInert();
  });

  test("stored turns, conversation titles, library, search and models", async () => {
    const fake = hostileFake();
    const stored: StoredTurn = {
      ordinal: 1,
      question: EVIL,
      answer: `${EVIL} [1]\n${MD_EVIL}`,
      status: "answered",
      citations: [{ number: 1, path: EVIL, title: EVIL, page: 1, span: { start: 0, end: 3 }, snippet: EVIL, source_deleted: false }],
      flags: [],
      created_at: 0,
    };
    fake.views[7]!.turns = [stored];
    fake.views[7]!.summary.title = EVIL;
    await startApp(fake);
    expect(all("conversation-item")[0]!.textContent).toContain(EVIL);
    all("conversation-item")[0]!.click();
    await settle();
    expect(one("answer").textContent).toContain(EVIL);
    assertInert();

    one("nav-library").click();
    await settle();
    (one("collection-row").querySelector(".collection-open") as HTMLElement).click();
    await settle();
    expect(one("file-reason").textContent).toBe(EVIL);
    expect(one("file-ocr").textContent).toContain(EVIL);
    type(one<HTMLInputElement>("search-input"), "q");
    press(one("search-input"), "Enter");
    await settle();
    expect(one("search-hit").textContent).toContain(EVIL);
    assertInert();

    one("nav-models").click();
    await settle();
    expect(all("model-row")[0]!.textContent).toContain(EVIL);
    expect(document.querySelector(".model-status")!.textContent).toContain(EVIL);
    assertInert();
  });
});

describe("source code rules", () => {
  const files = import.meta.glob("../src/**/*.{ts,css}", { query: "?raw", import: "default", eager: true }) as Record<string, string>;

  test("the sources were found", () => {
    expect(Object.keys(files).length).toBeGreaterThan(10);
  });

  test("no HTML injection sinks, eval or inline styles", () => {
    for (const [name, text] of Object.entries(files)) {
      const code = text.replace(/\/\/.*$/gm, "");
      expect(code, name).not.toMatch(/\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function\(|setAttribute\(\s*["']style/);
    }
  });

  test("no remote URLs (the SVG namespace is not a fetch)", () => {
    for (const [name, text] of Object.entries(files)) {
      const urls = (text.match(/\b(?:https?|wss?|ftp):\/\/[^\s"'`)]+/g) ?? []).filter((u) => u !== "http://www.w3.org/2000/svg");
      expect(urls, name).toEqual([]);
      if (name.endsWith(".css")) expect(text, name).not.toMatch(/@import|url\(/);
    }
  });

  test("only src/ipc imports @tauri-apps/api", () => {
    for (const [name, text] of Object.entries(files)) {
      if (name.startsWith("../src/ipc/")) continue;
      expect(text, name).not.toMatch(/@tauri-apps\/api|__TAURI/);
    }
  });
});
