import { afterEach, describe, expect, test } from "vitest";
import { answer, FakeBackend, sources, spanOf, status } from "../dev/fakeBackend";
import type { AskEvent, IngestReport } from "../src/ipc/types";
import { all, one, press, settle, startApp, stopApp, type } from "./helpers";

const REPORT_ZERO: IngestReport = {
  indexed: 0,
  unchanged: 0,
  duplicates: 0,
  needs_ocr: 0,
  ocr_pages: 0,
  failed: 0,
  removed: 0,
  chunks: 0,
  ocr_read: 0,
  ocr_low_confidence: 0,
  ocr_failed: 0,
  ocr_unavailable: null,
  cancelled: false,
};

afterEach(() => stopApp());

function fakeWith(over: Partial<ReturnType<typeof status>> = {}) {
  const fake = new FakeBackend();
  fake.status = status(over);
  return fake;
}

/** An ask the test drives by hand. */
function manualAsk(fake: FakeBackend) {
  const ctl = { emit: (_e: AskEvent) => {}, resolve: (_v: unknown) => {}, reject: (_e: unknown) => {} };
  fake.ask = (_args, emit) => {
    ctl.emit = emit;
    return new Promise((resolve, reject) => Object.assign(ctl, { resolve, reject }));
  };
  return ctl;
}

describe("start-up and language", () => {
  test("Korean from the OS locale when no language is set", async () => {
    await startApp(fakeWith({ os_locale: "ko-KR" }));
    expect(one("nav-chat").textContent).toBe("대화");
    expect(one("nav-library").textContent).toBe("자료실");
  });

  test("English for other locales; the saved setting wins over the locale", async () => {
    await startApp(fakeWith({ os_locale: "en-US" }));
    expect(one("nav-chat").textContent).toBe("Chat");
    stopApp();
    const fake = fakeWith({ os_locale: "ko-KR" });
    fake.status.settings.ui_language = "en";
    await startApp(fake);
    expect(one("nav-models").textContent).toBe("Models");
  });

  test("switching language in Settings re-renders everything and is saved", async () => {
    const fake = fakeWith({ os_locale: "ko-KR" });
    fake.status.settings.threads = 6;
    await startApp(fake);
    one("nav-settings").click();
    const select = one<HTMLSelectElement>("language-select");
    expect(select.value).toBe("ko");
    select.value = "en";
    select.dispatchEvent(new Event("change"));
    await settle();
    expect(one("nav-chat").textContent).toBe("Chat");
    expect(document.querySelector(".settings-screen h1")?.textContent).toBe("Settings");
    expect(document.querySelector(".state-label")?.textContent).toBe("Ready");
    expect(one<HTMLSelectElement>("language-select").value).toBe("en");
    expect(fake.called("settings_set").at(-1)).toEqual({ settings: { ...fake.status.settings, ui_language: "en", threads: 6 } });
    expect(document.documentElement.lang).toBe("en");
  });

  test("a language switch mid-answer keeps the streamed text and goes on streaming", async () => {
    const fake = fakeWith();
    const ctl = manualAsk(fake);
    const { app } = await startApp(fake);
    app.chat.send("질문");
    await settle();
    ctl.emit({ event: "token", data: { text: "첫 ", sent_at_ms: Date.now() } });
    await app.setLanguage("en");
    ctl.emit({ event: "token", data: { text: "둘", sent_at_ms: Date.now() } });
    await new Promise((r) => requestAnimationFrame(r));
    expect(one("answer").querySelector(".stream-text")!.textContent).toBe("첫 둘");
    expect(one("stop").textContent).toBe("Stop");
  });

  test("the model state badge shows the raw state with a localised label beside it", async () => {
    await startApp(fakeWith({ os_locale: "en-US" }));
    expect(one("model-state").textContent).toBe("ready");
    expect(one("model-state").nextElementSibling?.textContent).toBe("Ready");
    expect(document.querySelector(".model-name")?.textContent).toBe("qwen2.5-7b-instruct-q4_k_m");
  });
});

describe("asking", () => {
  test("Enter sends; the answer renders with its status; the next question continues the conversation", async () => {
    const fake = fakeWith();
    await startApp(fake);
    const box = one<HTMLTextAreaElement>("question-input");
    type(box, "암로디핀 시작 용량은?");
    press(box, "Enter");
    await settle();
    expect(fake.called("ask")[0]).toMatchObject({ question: "암로디핀 시작 용량은?", conversation_id: null, collections: [] });
    expect(one("answer").dataset.status).toBe("answered");
    expect(all("sentence").length).toBe(6);
    expect(all("citation-chip").length).toBeGreaterThan(0);
    expect(box.value).toBe("");
    const id = fake.called("ask")[0] && fake.conversations[0]!.id;
    type(box, "두 번째");
    one("send").click();
    await settle();
    expect(fake.called("ask")[1]).toMatchObject({ question: "두 번째", conversation_id: id });
    expect(all("answer")).toHaveLength(2);
  });

  test("Send becomes Stop while streaming; the first token shows at once; Esc cancels once", async () => {
    const fake = fakeWith();
    const ctl = manualAsk(fake);
    await startApp(fake);
    const box = one<HTMLTextAreaElement>("question-input");
    type(box, "질문");
    press(box, "Enter");
    await settle();
    expect(all("send")).toHaveLength(0);
    expect(one("stop")).toBeTruthy();
    expect(one("answer").dataset.status).toBe("streaming");

    ctl.emit({ event: "token", data: { text: "<b>첫", sent_at_ms: Date.now() } });
    expect(one("answer").querySelector(".stream-text")!.textContent).toBe("<b>첫");

    press(box, "Escape");
    await settle();
    expect(fake.called("ask_cancel")).toHaveLength(1);

    const partial = answer({ status: "cancelled", text: "<b>첫", sentences: [] });
    ctl.emit({ event: "done", data: { answer: partial, conversation_id: 5 } });
    ctl.resolve({ conversation_id: 5 });
    await settle();
    expect(one("answer").dataset.status).toBe("cancelled");
    expect(one("answer").textContent).toContain("<b>첫");
    expect(one("send")).toBeTruthy();
    expect(all("stop")).toHaveLength(0);
  });

  test("Esc anywhere stops the answer; the Stop button does too", async () => {
    const fake = fakeWith();
    manualAsk(fake);
    const { app } = await startApp(fake);
    app.chat.send("질문");
    await settle();
    press(document.body, "Escape");
    await settle();
    expect(fake.called("ask_cancel")).toHaveLength(1);
    one("stop").click();
    await settle();
    expect(fake.called("ask_cancel")).toHaveLength(2);
  });

  test("a rejected ask shows the localised headline for its kind inline in the turn", async () => {
    const fake = fakeWith({ os_locale: "en-US" });
    fake.overrides.ask = () => Promise.reject({ kind: "in_use", message: "Library in use by process 42." });
    const { app } = await startApp(fake);
    app.chat.send("q");
    await settle();
    const turn = one("answer");
    expect(turn.dataset.status).toBe("error");
    expect(turn.querySelector(".error-title")?.textContent).toBe("The library is in use by another Sillok process");
    expect(turn.textContent).toContain("Library in use by process 42.");
  });

  test("an error event shows inline too", async () => {
    const fake = fakeWith({ os_locale: "en-US" });
    fake.ask = (_a, emit) => {
      emit({ event: "error", data: { kind: "model", message: "Generation failed." } });
      return Promise.reject({ kind: "model", message: "Generation failed." });
    };
    const { app } = await startApp(fake);
    app.chat.send("q");
    await settle();
    expect(one("answer").querySelector(".error-title")?.textContent).toBe("The model reported a problem");
  });
});

describe("keyboard", () => {
  test("Ctrl+K and Cmd+K open the library and focus its search box", async () => {
    await startApp();
    const e = press(document.body, "k", { ctrlKey: true });
    expect(e.defaultPrevented).toBe(true);
    expect(document.activeElement).toBe(one("search-input"));
    one("nav-chat").click();
    (document.activeElement as HTMLElement | null)?.blur();
    press(document.body, "k", { metaKey: true });
    expect(document.activeElement).toBe(one("search-input"));
  });
});

describe("source viewer", () => {
  test("a citation chip opens the page with the cited span highlighted, path and reveal", async () => {
    const fake = fakeWith();
    const path = sources()[0]!.path;
    const page = "😀 👩‍⚕️ 서론 𠀀. 목표 혈압은 130/80 mmHg 미만이다. 끝.";
    fake.pages[path]![11] = page;
    fake.ask = (_args, emit) => {
      const a = answer();
      a.sources[0]!.span = spanOf(page, "목표 혈압은 130/80 mmHg 미만이다.");
      emit({ event: "done", data: { answer: a, conversation_id: 1 } });
      return { conversation_id: 1 };
    };
    const { app } = await startApp(fake);
    app.chat.send("q");
    await settle();
    all("citation-chip")[0]!.click();
    await settle();
    const viewer = one("source-viewer");
    expect(fake.called("document_page")[0]).toEqual({ path, page: 12 });
    expect(one("source-highlight", viewer).textContent).toBe("목표 혈압은 130/80 mmHg 미만이다.");
    expect(one("source-path", viewer).textContent).toBe(path);
    expect(one("viewer-page").textContent).toBe("12 / 20쪽");
    one("reveal-file").click();
    await settle();
    expect(fake.called("reveal_file")).toEqual([{ path }]);
    one("viewer-next").click();
    await settle();
    expect(fake.called("document_page").at(-1)).toEqual({ path, page: 13 });
    expect(all("source-highlight")).toHaveLength(0);
    one("viewer-prev").click();
    await settle();
    expect(one("source-highlight").textContent).toBe("목표 혈압은 130/80 mmHg 미만이다.");
    press(document.body, "Escape");
    expect(all("source-viewer")).toHaveLength(0);
  });
});

describe("first run", () => {
  test("with no model the chat shows the guide, import controls once, and the sample library", async () => {
    const fake = fakeWith({ model: { state: "none", name: null, error: null } });
    await startApp(fake);
    expect(one("first-run")).toBeTruthy();
    expect(one("model-state").textContent).toBe("none");
    one("add-sample-library").click();
    await settle();
    expect(fake.called("library_add_folder")[0]).toMatchObject({ collection: "samples", path: "/opt/sillok/samples/library" });
    expect(one("ingest-done").textContent).toContain("12");

    one("nav-models").click();
    await settle();
    expect(all("first-run")).toHaveLength(0);
    for (const id of ["model-path-input", "model-import"]) expect(all(id)).toHaveLength(1);

    one("nav-chat").click();
    await settle();
    type(one<HTMLInputElement>("model-path-input"), "/media/usb/qwen.gguf");
    one("model-import").click();
    await settle();
    expect(fake.called("models_import")[0]).toMatchObject({ path: "/media/usb/qwen.gguf" });
    // The fake now reports a ready model: the guide goes away and the badge follows.
    expect(all("first-run")).toHaveLength(0);
    expect(one("model-state").textContent).toBe("ready");
  });

  test("app_status is polled every 500 ms while the model loads", async () => {
    const fake = fakeWith({ model: { state: "loading", name: "m", error: null } });
    await startApp(fake);
    expect(one("model-state").textContent).toBe("loading");
    await new Promise((r) => setTimeout(r, 1150));
    const polls = fake.called("app_status").length;
    expect(polls).toBeGreaterThanOrEqual(3);
    fake.status.model = { state: "ready", name: "m", error: null };
    await new Promise((r) => setTimeout(r, 600));
    expect(one("model-state").textContent).toBe("ready");
    const after = fake.called("app_status").length;
    await new Promise((r) => setTimeout(r, 600));
    expect(fake.called("app_status").length).toBe(after);
  });
});

describe("library", () => {
  test("add a folder: progress, then the summary, then the collection", async () => {
    const fake = fakeWith({ os_locale: "en-US" });
    await startApp(fake);
    one("nav-library").click();
    await settle();
    expect(one<HTMLInputElement>("collection-name-input").value).toBe("documents");
    one("folder-browse").click();
    await settle();
    expect(one<HTMLInputElement>("folder-path-input").value).toBe("/home/user/문서/new");
    type(one<HTMLInputElement>("collection-name-input"), "guidelines");
    one("folder-add").click();
    await settle();
    expect(fake.called("library_add_folder")[0]).toMatchObject({ collection: "guidelines", path: "/home/user/문서/new" });
    const bar = one<HTMLProgressElement>("ingest-progress");
    expect(bar.value).toBe(bar.max);
    expect(one("ingest-done").textContent).toContain("12 indexed, 0 unchanged, 1 failed, 1 need OCR");
    expect(all("collection-row").map((r) => r.dataset.name)).toEqual(["documents", "guidelines"]);
  });

  test("ingest progress counts discovered and done files while it runs", async () => {
    const fake = fakeWith({ os_locale: "en-US" });
    let emit: (e: unknown) => void = () => {};
    let finish: (v: unknown) => void = () => {};
    fake.overrides.library_add_folder = (args) => {
      emit = (e) => (args.on_event as { onmessage: (e: unknown) => void }).onmessage(e);
      return new Promise((r) => (finish = r));
    };
    await startApp(fake);
    one("nav-library").click();
    type(one<HTMLInputElement>("folder-path-input"), "/docs");
    one("folder-add").click();
    await settle();
    emit({ event: "discovered", data: { files: 10 } });
    emit({ event: "file", data: { path: "/docs/a.pdf", status: "indexed", reason: null, done: 4 } });
    const bar = one<HTMLProgressElement>("ingest-progress");
    expect([bar.value, bar.max]).toEqual([4, 10]);
    expect(all("ingest-done")).toHaveLength(0);
    finish({ ...REPORT_ZERO, indexed: 10, chunks: 9 });
    await settle();
    expect(one("ingest-done").textContent).toContain("10 indexed");
  });

  test("a collection lists its files with status, reasons and duplicates", async () => {
    const fake = fakeWith({ os_locale: "en-US" });
    await startApp(fake);
    one("nav-library").click();
    await settle();
    (one("collection-row").querySelector(".collection-open") as HTMLElement).click();
    await settle();
    expect(fake.called("library_files")).toEqual([{ collection: "documents" }]);
    expect(all("file-row").map((r) => r.dataset.status)).toEqual(["indexed", "needs-ocr", "failed", "duplicate"]);
    const failed = all("file-row").find((r) => r.dataset.status === "failed")!;
    expect(one("file-reason", failed).textContent).toBe("not a valid DOCX archive");
    const dup = all("file-row").find((r) => r.dataset.status === "duplicate")!;
    expect(one("file-reason", dup).textContent).toContain("same as /home/user/문서/지침/고혈압-진료지침-2022.pdf");
  });

  test("removing a collection asks first", async () => {
    const fake = fakeWith({ os_locale: "en-US" });
    await startApp(fake);
    one("nav-library").click();
    await settle();
    one("collection-remove").click();
    await settle();
    expect(document.querySelector(".dialog")?.textContent).toContain("documents");
    (document.querySelector(".dialog .btn:not(.danger)") as HTMLElement).click();
    await settle();
    expect(fake.called("library_remove")).toHaveLength(0);
    one("collection-remove").click();
    await settle();
    one("confirm-ok").click();
    await settle();
    expect(fake.called("library_remove")).toEqual([{ collection: "documents" }]);
    expect(all("collection-row")).toHaveLength(0);
  });

  test("search sends the filters and a hit opens the viewer at its page", async () => {
    const fake = fakeWith();
    await startApp(fake);
    one("nav-library").click();
    await settle();
    const docType = one<HTMLSelectElement>("search-doc-type");
    docType.value = "pdf";
    docType.dispatchEvent(new Event("change"));
    type(one<HTMLInputElement>("search-input"), "암로디핀");
    press(one("search-input"), "Enter");
    await settle();
    expect(fake.called("library_search").at(-1)).toEqual({ query: "암로디핀", collections: [], doc_type: "pdf", limit: 30 });
    const hit = one("search-hit");
    expect(hit.textContent).toContain("고혈압 진료지침 2022");
    hit.click();
    await settle();
    expect(fake.called("document_page").at(-1)).toEqual({ path: fake.hits[0]!.path, page: 12 });
    expect(one("source-highlight").textContent).toBe(fake.hits[0]!.snippet);
  });
});

describe("models", () => {
  test("rows show role, size, provenance, fit warnings; verify, default and remove call the shell", async () => {
    const fake = fakeWith({ os_locale: "en-US" });
    await startApp(fake);
    one("nav-models").click();
    await settle();
    const rows = all("model-row");
    expect(rows.map((r) => r.dataset.name)).toEqual(["qwen2.5-7b-instruct-q4_k_m", "multilingual-e5-small-q8", "llama-3.1-70b-q4"]);
    expect(rows[0]!.textContent).toContain("4.7 GB");
    expect(rows[0]!.textContent).toContain("Known model");
    expect(rows[1]!.textContent).toContain("User import");
    expect(all("model-fit-warning", rows[0]!)).toHaveLength(0);
    expect(one("model-fit-warning", rows[2]!).textContent).toBe("Needs 44 GB, 15.2 GB free: it may not fit in memory.");

    one("model-verify", rows[0]!).click();
    await settle();
    expect(fake.called("models_verify")[0]).toMatchObject({ name: "qwen2.5-7b-instruct-q4_k_m" });
    expect(one("verify-result").textContent).toContain("Verified");

    const big = () => all("model-row").find((r) => r.dataset.name === "llama-3.1-70b-q4")!;
    one("model-make-default", big()).click();
    await settle();
    expect(fake.called("models_set_default")).toEqual([{ name: "llama-3.1-70b-q4" }]);
    expect(all("model-default", big())).toHaveLength(1);

    one("model-remove", big()).click();
    await settle();
    one("confirm-ok").click();
    await settle();
    expect(fake.called("models_remove")).toEqual([{ name: "llama-3.1-70b-q4" }]);
    expect(all("model-row")).toHaveLength(2);
  });

  test("a failed verification shows its error", async () => {
    const fake = fakeWith({ os_locale: "en-US" });
    fake.overrides.models_verify = () => Promise.reject({ kind: "model", message: "Hash mismatch." });
    await startApp(fake);
    one("nav-models").click();
    await settle();
    one("model-verify", all("model-row")[0]).click();
    await settle();
    expect(one("verify-result").textContent).toContain("Verification failed");
    expect(one("verify-result").textContent).toContain("Hash mismatch.");
  });

  test("import shows progress and the computed SHA-256", async () => {
    const fake = fakeWith({ os_locale: "en-US" });
    await startApp(fake);
    one("nav-models").click();
    await settle();
    one("model-browse").click();
    await settle();
    expect(one<HTMLInputElement>("model-path-input").value).toBe("/media/usb/models/model.gguf");
    one("model-import").click();
    await settle();
    expect(fake.called("models_import")[0]).toMatchObject({ path: "/media/usb/models/model.gguf" });
    expect(one("import-progress")).toBeTruthy();
    expect(one("import-sha256").textContent).toBe("cd".repeat(32));
    expect(all("model-row").map((r) => r.dataset.name)).toContain("imported-model");
  });
});

describe("settings", () => {
  test("save sends the form as Settings; empty numbers mean automatic", async () => {
    const fake = fakeWith({ os_locale: "en-US" });
    await startApp(fake);
    one("nav-settings").click();
    await settle();
    const profile = one<HTMLSelectElement>("profile-select");
    expect([...profile.options].map((o) => o.value)).toEqual(["", "clinical", "bio-research", "korean-medicine"]);
    profile.value = "clinical";
    profile.dispatchEvent(new Event("change"));
    const chat = one<HTMLSelectElement>("chat-model-select");
    expect([...chat.options].map((o) => o.value)).toEqual(["", "qwen2.5-7b-instruct-q4_k_m", "llama-3.1-70b-q4"]);
    chat.value = "llama-3.1-70b-q4";
    chat.dispatchEvent(new Event("change"));
    type(one<HTMLInputElement>("threads-input"), "8");
    const hybrid = one<HTMLInputElement>("hybrid-search-toggle");
    expect(hybrid.checked).toBe(true); // null means on
    hybrid.checked = false;
    hybrid.dispatchEvent(new Event("change"));
    one("settings-save").click();
    await settle();
    expect(fake.called("settings_set").at(-1)).toEqual({
      settings: {
        ui_language: "en",
        profile: "clinical",
        chat_model: "llama-3.1-70b-q4",
        embedding_model: null,
        threads: 8,
        context_length: null,
        hybrid_search: false,
      },
    });
    expect(one("data-dir").textContent).toBe("/home/user/.local/share/sillok");
  });

  test("an invalid number is refused before anything is sent", async () => {
    const fake = fakeWith({ os_locale: "en-US" });
    await startApp(fake);
    one("nav-settings").click();
    await settle();
    type(one<HTMLInputElement>("context-length-input"), "-5");
    one("settings-save").click();
    await settle();
    expect(fake.called("settings_set")).toHaveLength(0);
    expect(document.querySelector(".form-message")?.textContent).toBe("Enter a whole number, or leave empty.");
  });
});

describe("conversations", () => {
  test("open, export, rename and delete", async () => {
    const fake = fakeWith({ os_locale: "en-US" });
    await startApp(fake);
    expect(all("conversation-item").map((c) => c.textContent)).toEqual([
      expect.stringContaining("암로디핀 용량"),
      expect.stringContaining("Metformin and eGFR"),
    ]);
    all("conversation-item")[0]!.click();
    await settle();
    expect(fake.called("conversation_get")).toEqual([{ id: 7 }]);
    expect(one("answer").dataset.status).toBe("answered");
    expect(document.querySelector(".chat-title")?.textContent).toBe("암로디핀 용량");

    // An export asks why (required, for the audit trail) and whether to de-identify.
    one("export").click();
    await settle();
    expect(fake.called("conversation_export")).toHaveLength(0);
    const ok = one<HTMLButtonElement>("export-ok");
    expect(ok.disabled).toBe(true);
    const reason = one<HTMLInputElement>("export-reason");
    reason.value = "  ";
    reason.dispatchEvent(new Event("input"));
    press(reason, "Enter");
    await settle();
    expect(ok.disabled).toBe(true);
    expect(fake.called("conversation_export")).toHaveLength(0);
    reason.value = "referral letter";
    reason.dispatchEvent(new Event("input"));
    one<HTMLInputElement>("export-deidentify").click();
    ok.click();
    await settle();
    expect(fake.called("conversation_export")).toEqual([{ id: 7, reason: "referral letter", deidentify: true }]);
    expect(fake.called("save_text_file")[0]).toEqual({ suggested_name: "암로디핀 용량.md", text: "# 암로디핀 용량\n\n**Q:** 암로디핀 시작 용량은?\n" });

    all("conversation-rename")[0]!.click();
    await settle();
    const input = one<HTMLInputElement>("conversation-rename-input");
    input.value = "새 제목";
    press(input, "Enter");
    await settle();
    expect(fake.called("conversation_rename")).toEqual([{ id: 7, title: "새 제목" }]);
    expect(all("conversation-item")[0]!.textContent).toContain("새 제목");
    expect(document.querySelector(".chat-title")?.textContent).toBe("새 제목");

    all("conversation-delete")[0]!.click();
    await settle();
    one("confirm-ok").click();
    await settle();
    expect(fake.called("conversation_delete")).toEqual([{ id: 7 }]);
    expect(all("conversation-item")).toHaveLength(1);
    expect(all("answer")).toHaveLength(0);
  });
});
