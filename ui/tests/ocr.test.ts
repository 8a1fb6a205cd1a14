// The library's OCR and background-embedding pieces: OCR progress and Stop,
// the per-collection OCR switch, OCR confidence on files, hits and sources,
// and the "indexing meaning" progress polled from the shell.
import { afterEach, describe, expect, test } from "vitest";
import { FakeBackend, sources, status } from "../dev/fakeBackend";
import type { IngestEvent, IngestReport } from "../src/ipc/types";
import { all, one, press, settle, startApp, stopApp, type } from "./helpers";

afterEach(() => stopApp());

function english(): FakeBackend {
  const fake = new FakeBackend();
  fake.status = status({ os_locale: "en-US" });
  return fake;
}

const REPORT: IngestReport = {
  indexed: 1,
  unchanged: 0,
  duplicates: 0,
  needs_ocr: 1,
  ocr_pages: 3,
  failed: 0,
  removed: 0,
  chunks: 4,
  ocr_read: 2,
  ocr_low_confidence: 1,
  ocr_failed: 0,
  ocr_unavailable: null,
  cancelled: false,
};

/** An add-folder call the test drives by hand. */
function manualIngest(fake: FakeBackend) {
  const ctl = { emit: (_e: IngestEvent) => {}, finish: (_r: IngestReport) => {} };
  fake.overrides.library_add_folder = (args) => {
    ctl.emit = (e) => (args.on_event as { onmessage: (e: IngestEvent) => void }).onmessage(e);
    return new Promise((resolve) => (ctl.finish = resolve));
  };
  return ctl;
}

async function openLibrary(): Promise<void> {
  one("nav-library").click();
  await settle();
}

const ocrToggle = () => one<HTMLInputElement>("collection-ocr-toggle");

describe("OCR while a folder is added", () => {
  test("each page read shows 'OCR page x of y' with its file, the run's pages, and low confidence", async () => {
    const fake = english();
    const ctl = manualIngest(fake);
    await startApp(fake);
    await openLibrary();
    type(one<HTMLInputElement>("folder-path-input"), "/scans");
    one("folder-add").click();
    await settle();
    expect(all("ocr-progress")).toHaveLength(0);
    ctl.emit({ event: "discovered", data: { files: 2 } });
    ctl.emit({ event: "file", data: { path: "/scans/fax.pdf", status: "needs-ocr", reason: null, done: 2 } });
    const page = (n: number, confidence: number | null, low: boolean, done: number) =>
      ctl.emit({ event: "ocr", data: { path: "/scans/fax.pdf", page: n, pages: 5, confidence, low_confidence: low, failure: null, done, total: 5 } });
    page(1, 91, false, 1);
    expect(one("ocr-page").textContent).toBe("OCR page 1 of 5 · fax.pdf");
    const bar = one<HTMLProgressElement>("ocr-progress");
    expect([bar.value, bar.max]).toEqual([1, 5]);
    expect(document.querySelector(".ocr-progress .badge.warn")).toBeNull();
    page(2, 38, true, 2);
    page(3, 52, true, 3);
    expect(one("ocr-page").textContent).toBe("OCR page 3 of 5 · fax.pdf");
    expect(document.querySelector(".ocr-progress")!.textContent).toContain("Reading scanned pages: 3 of 5");
    expect(document.querySelector(".ocr-progress .badge.warn")!.textContent).toBe("2 pages read with low confidence so far");

    ctl.finish(REPORT);
    await settle();
    expect(all("ocr-progress")).toHaveLength(0);
    expect(one("ingest-ocr").textContent).toBe("OCR: 2 pages read (1 low confidence), 0 failed, 3 still waiting");
    expect(all("ingest-cancelled")).toHaveLength(0);
  });

  test("Stop cancels the run: one call, the button waits, the summary says how to go on", async () => {
    const fake = english();
    const ctl = manualIngest(fake);
    await startApp(fake);
    await openLibrary();
    expect(all("ingest-cancel")).toHaveLength(0);
    type(one<HTMLInputElement>("folder-path-input"), "/scans");
    one("folder-add").click();
    await settle();
    ctl.emit({ event: "ocr", data: { path: "/scans/a.tif", page: 1, pages: 1, confidence: 80, low_confidence: false, failure: null, done: 1, total: 9 } });
    one("ingest-cancel").click();
    await settle();
    one("ingest-cancel").click();
    await settle();
    expect(fake.called("library_cancel")).toEqual([{}]);
    expect(one<HTMLButtonElement>("ingest-cancel").disabled).toBe(true);
    expect(one("ingest-cancel").textContent).toBe("Stopping…");

    ctl.finish({ ...REPORT, cancelled: true });
    await settle();
    expect(all("ingest-cancel")).toHaveLength(0);
    expect(one("ingest-done").dataset.cancelled).toBe("true");
    expect(one("ingest-cancelled").textContent).toContain("Re-index the collection to go on");
  });

  test("a run that finishes normally is not marked cancelled; missing OCR tools are said", async () => {
    const fake = english();
    fake.overrides.library_add_folder = () => ({ ...REPORT, ocr_unavailable: "tesseract is not installed" });
    await startApp(fake);
    await openLibrary();
    type(one<HTMLInputElement>("folder-path-input"), "/scans");
    one("folder-add").click();
    await settle();
    expect(one("ingest-done").dataset.cancelled).toBeUndefined();
    expect(one("ingest-done").textContent).toContain("Scanned pages were not read: tesseract is not installed");
  });
});

describe("the OCR switch of a collection", () => {
  test("turning it off calls the shell, and the row shows the stored state", async () => {
    const fake = english();
    await startApp(fake);
    await openLibrary();
    expect(ocrToggle().checked).toBe(true);
    expect(one("collection-row").textContent).not.toContain("OCR off");
    ocrToggle().checked = false;
    ocrToggle().dispatchEvent(new Event("change"));
    await settle();
    expect(fake.called("library_set_ocr")).toEqual([{ collection: "documents", on: false }]);
    expect(ocrToggle().checked).toBe(false);
    expect(one("collection-row").textContent).toContain("OCR off");
    expect(document.querySelector(".toast")!.textContent).toContain("OCR is off for documents");

    // Shown again from the shell's state, e.g. after navigating away.
    one("nav-chat").click();
    await openLibrary();
    expect(ocrToggle().checked).toBe(false);
    ocrToggle().checked = true;
    ocrToggle().dispatchEvent(new Event("change"));
    await settle();
    expect(fake.called("library_set_ocr").at(-1)).toEqual({ collection: "documents", on: true });
    expect(ocrToggle().checked).toBe(true);
  });

  test("a refused change puts the switch back and says why", async () => {
    const fake = english();
    fake.overrides.library_set_ocr = () => Promise.reject({ kind: "in_use", message: "library in use by process 42" });
    await startApp(fake);
    await openLibrary();
    ocrToggle().checked = false;
    ocrToggle().dispatchEvent(new Event("change"));
    await settle();
    expect(ocrToggle().checked).toBe(true);
    expect(document.querySelector(".toast")!.textContent).toContain("library in use by process 42");
  });

  test("re-index waits until the switch is stored, and the switch shows the value asked for", async () => {
    const fake = english();
    let store = () => {};
    fake.overrides.library_set_ocr = () => new Promise<null>((resolve) => (store = () => resolve(null)));
    await startApp(fake);
    await openLibrary();
    ocrToggle().checked = false;
    ocrToggle().dispatchEvent(new Event("change"));
    await settle();
    expect(ocrToggle().checked).toBe(false);
    expect(one<HTMLButtonElement>("collection-reindex").disabled).toBe(true);
    expect(ocrToggle().disabled).toBe(true);
    store();
    await settle();
    expect(one<HTMLButtonElement>("collection-reindex").disabled).toBe(false);
    expect(ocrToggle().disabled).toBe(false);
  });

  test("it cannot be switched while a folder is being indexed", async () => {
    const fake = english();
    const ctl = manualIngest(fake);
    await startApp(fake);
    await openLibrary();
    type(one<HTMLInputElement>("folder-path-input"), "/scans");
    one("folder-add").click();
    await settle();
    expect(ocrToggle().disabled).toBe(true);
    ctl.finish(REPORT);
    await settle();
    expect(ocrToggle().disabled).toBe(false);
  });
});

describe("OCR confidence on files, hits and sources", () => {
  test("a scanned file shows the pages read, the mean confidence and its low-confidence pages", async () => {
    const fake = english();
    fake.files.documents = [
      {
        path: "/home/user/문서/scan/fax.pdf",
        status: "indexed",
        reason: null,
        doc_type: "pdf",
        chunks: 6,
        size_bytes: 90_000,
        ocr_pages: [4],
        ocr: { pages_read: [1, 2, 3], mean_confidence: 71, low_confidence_pages: [2, 3], failed: [{ page: 4, reason: "the page took too long" }], note: null },
      },
      { path: "/home/user/문서/a.txt", status: "indexed", reason: null, doc_type: "text", chunks: 1, size_bytes: 10, ocr_pages: [], ocr: null },
    ];
    await startApp(fake);
    await openLibrary();
    (one("collection-row").querySelector(".collection-open") as HTMLElement).click();
    await settle();
    const [scan, text] = all("file-row");
    expect(one("file-ocr", scan).textContent).toContain("OCR read 3 pages, mean confidence 71%");
    expect(one("file-ocr", scan).textContent).toContain("OCR failed on page 4: the page took too long");
    const low = one("low-confidence", scan);
    expect(low.textContent).toBe("Low OCR confidence: p. 2, 3");
    expect(low.dataset.pages).toBe("2,3");
    expect(low.title).toContain("Check it against the page");
    expect(all("file-ocr", text!)).toHaveLength(0);
  });

  test("search hits read by OCR show their confidence, marked when low", async () => {
    const fake = english();
    const base = fake.hits[0]!;
    fake.hits = [
      { ...base, title: "fax", ocr_confidence: 44, low_confidence: true },
      { ...base, title: "clear scan", ocr_confidence: 88, low_confidence: false },
      { ...base, title: "text layer" },
    ];
    await startApp(fake);
    await openLibrary();
    type(one<HTMLInputElement>("search-input"), "amlodipine");
    press(one("search-input"), "Enter");
    await settle();
    const [fax, clear, text] = all("search-hit");
    expect(one("low-confidence", fax).textContent).toBe("Low OCR confidence");
    expect(all("low-confidence", clear!)).toHaveLength(0);
    expect(clear!.textContent).toContain("OCR 88%");
    expect(all("low-confidence", text!)).toHaveLength(0);
    expect(text!.textContent).not.toContain("OCR");
  });

  test("an answer's sources mark the ones read with low confidence", async () => {
    const fake = english();
    const list = sources();
    list[1] = { ...list[1]!, ocr_confidence: 33, low_confidence: true };
    const ask = fake.ask;
    fake.ask = (args, emit) => {
      const wrapped = (e: Parameters<typeof emit>[0]) => {
        if (e.event === "done") e.data.answer.sources = list;
        emit(e);
      };
      return ask(args, wrapped);
    };
    const { app } = await startApp(fake);
    app.chat.send("amlodipine?");
    await settle();
    const items = all("source-item");
    expect(items.map((i) => all("low-confidence", i).length)).toEqual([0, 1]);
  });
});

describe("indexing meaning in the background", () => {
  test("its progress is polled while it runs, shown in the library, and polling stops when it ends", async () => {
    const fake = english();
    fake.embedding = { state: "running", model: "e5", done: 120, pending: 1000, total: 1500, percent: 12, error: null };
    await startApp(fake);
    await openLibrary();
    const bar = one<HTMLProgressElement>("embedding-progress");
    expect([bar.value, bar.max]).toEqual([120, 1000]);
    expect(one("embedding-status").textContent).toBe("Indexing meaning: 120 of 1000 passages (12%)");
    fake.embedding = { ...fake.embedding, done: 500, percent: 50 };
    await new Promise((r) => setTimeout(r, 1100));
    expect(one("embedding-status").textContent).toBe("Indexing meaning: 500 of 1000 passages (50%)");
    fake.embedding = { ...fake.embedding, state: "idle", done: 1000, percent: 100 };
    await new Promise((r) => setTimeout(r, 1100));
    expect(all("embedding-status")).toHaveLength(0);
    const polls = fake.called("embedding_status").length;
    await new Promise((r) => setTimeout(r, 1100));
    expect(fake.called("embedding_status").length).toBe(polls);
  });

  test("settings say whether search by meaning is ready, preparing or failed", async () => {
    const fake = english();
    await startApp(fake);
    one("nav-settings").click();
    await settle();
    expect(one("embedding-status").textContent).toBe("Search by meaning is up to date (multilingual-e5-small-q8).");
    fake.embedding = { state: "running", model: "e5", done: 0, pending: 0, total: 0, percent: 0, error: null };
    one("nav-chat").click();
    one("nav-settings").click();
    await settle();
    expect(one("embedding-status").dataset.state).toBe("running");
    expect(one("embedding-status").textContent).toBe("Preparing search by meaning…");
    fake.embedding = { state: "failed", model: "e5", done: 0, pending: 0, total: 0, percent: 0, error: "the embedding model failed to load" };
    one("nav-chat").click();
    one("nav-settings").click();
    await settle();
    expect(one("embedding-status").textContent).toContain("the embedding model failed to load");
    fake.embedding = { state: "idle", model: null, done: 0, pending: 0, total: 0, percent: 100, error: null };
    one("nav-chat").click();
    one("nav-settings").click();
    await settle();
    expect(one("embedding-status").textContent).toBe("No embedding model is installed: search uses keywords only.");
  });

  test("adding a folder looks for the embedding it starts", async () => {
    const fake = english();
    await startApp(fake);
    await openLibrary();
    const before = fake.called("embedding_status").length;
    type(one<HTMLInputElement>("folder-path-input"), "/docs");
    one("folder-add").click();
    await settle();
    expect(fake.called("embedding_status").length).toBeGreaterThan(before);
  });
});
