// The library screen: search, add a folder, collections and their files.
import type { App, Screen } from "../app";
import { h, icon, replaceChildren } from "../dom";
import { lang, t } from "../i18n";
import * as ipc from "../ipc";
import type { AppError, CollectionInfo, FileInfo, FileOcr, SearchHit } from "../ipc/types";
import { baseName, formatBytes } from "../lib/text";
import { button, confirmDialog, errorBlock, errorText, field, ocrBadge } from "./common";
import { embeddingStatus, ingestStatus } from "./jobsView";

const DOC_TYPES = ["pdf", "docx", "txt", "md", "html", "csv", "tsv"];
const SEARCH_LIMIT = 30;
const SEARCH_DEBOUNCE_MS = 250;
/** Rows rendered at once; a library can hold many thousands of files. */
const FILE_ROWS = 500;

export class LibraryScreen implements Screen {
  query = "";
  searchCollection = "";
  docType = "";
  hits: SearchHit[] | null = null;
  searchError: AppError | null = null;
  selected: string | null = null;
  files: FileInfo[] | null = null;
  filesError: AppError | null = null;
  addName = "documents";
  addPath = "";

  private root: HTMLElement | null = null;
  private searchInput: HTMLInputElement | null = null;
  private resultsSlot: HTMLElement | null = null;
  private collectionsSlot: HTMLElement | null = null;
  private filesSlot: HTMLElement | null = null;
  private searchTimer: ReturnType<typeof setTimeout> | null = null;
  /** Collections whose OCR switch is being stored, with the value asked for. */
  private readonly storingOcr = new Map<string, boolean>();
  private searchSeq = 0;

  constructor(private app: App) {}

  private get mounted(): boolean {
    return !!this.root?.isConnected;
  }

  shown(): void {
    void this.app.refreshCollections();
    void this.app.embedding.refresh();
  }

  focusSearch(): void {
    this.searchInput?.focus();
    this.searchInput?.select();
  }

  render(): HTMLElement {
    this.resultsSlot = h("div", { class: "results" });
    this.collectionsSlot = h("div", { class: "collections" });
    this.filesSlot = h("div", { class: "files-slot" });
    this.renderResults();
    this.renderCollections();
    this.renderFiles();
    this.root = h(
      "section",
      { class: "screen library-screen", "aria-label": t("library.title") },
      h("header", { class: "screen-header" }, h("h1", null, t("library.title")), h("p", { class: "muted" }, t("library.subtitle"))),
      h("div", { class: "card search-card" }, this.searchBar(), this.resultsSlot),
      this.addCard(),
      ingestStatus(this.app),
      embeddingStatus(this.app),
      h("div", { class: "card" }, h("h2", null, t("library.collections")), this.collectionsSlot),
      this.filesSlot,
    );
    return this.root;
  }

  // ----- Search -----

  private searchBar(): HTMLElement {
    const input = h("input", {
      type: "search",
      class: "search-input grow",
      testid: "search-input",
      value: this.query,
      placeholder: t("library.searchPlaceholder"),
      "aria-label": t("library.search"),
      oninput: () => {
        this.query = input.value;
        this.scheduleSearch();
      },
      onkeydown: (e: KeyboardEvent) => {
        if (e.key === "Enter" && !e.isComposing && e.keyCode !== 229) {
          e.preventDefault();
          void this.search();
        }
      },
    });
    this.searchInput = input;
    const collection = h(
      "select",
      {
        testid: "search-collection",
        "aria-label": t("library.searchCollection"),
        onchange: () => {
          this.searchCollection = collection.value;
          void this.search();
        },
      },
      h("option", { value: "" }, t("chat.scopeAll")),
      this.app.collections.map((c) => h("option", { value: c.name }, c.name)),
    );
    collection.value = this.searchCollection;
    const docType = h(
      "select",
      {
        testid: "search-doc-type",
        "aria-label": t("library.docType"),
        onchange: () => {
          this.docType = docType.value;
          void this.search();
        },
      },
      h("option", { value: "" }, t("library.docTypeAny")),
      DOC_TYPES.map((d) => h("option", { value: d }, d.toUpperCase())),
    );
    docType.value = this.docType;
    return h("div", { class: "search-bar" }, h("span", { class: "search-icon" }, icon("search")), input, collection, docType);
  }

  private scheduleSearch(): void {
    if (this.searchTimer) clearTimeout(this.searchTimer);
    this.searchTimer = setTimeout(() => void this.search(), SEARCH_DEBOUNCE_MS);
  }

  async search(): Promise<void> {
    if (this.searchTimer) clearTimeout(this.searchTimer);
    this.searchTimer = null;
    const seq = ++this.searchSeq;
    const query = this.query.trim();
    if (!query) {
      this.hits = null;
      this.searchError = null;
      this.renderResults();
      return;
    }
    try {
      const hits = await ipc.librarySearch(
        query,
        this.searchCollection ? [this.searchCollection] : [],
        this.docType || null,
        SEARCH_LIMIT,
      );
      if (seq !== this.searchSeq) return;
      this.hits = hits;
      this.searchError = null;
    } catch (e) {
      if (seq !== this.searchSeq) return;
      this.searchError = ipc.toAppError(e);
    }
    this.renderResults();
  }

  private renderResults(): void {
    if (!this.resultsSlot) return;
    if (this.searchError) return replaceChildren(this.resultsSlot, errorBlock(this.searchError));
    if (this.hits === null) return replaceChildren(this.resultsSlot);
    if (this.hits.length === 0) return replaceChildren(this.resultsSlot, h("p", { class: "muted" }, t("library.noHits")));
    replaceChildren(
      this.resultsSlot,
      h(
        "ul",
        { class: "hit-list" },
        this.hits.map((hit) =>
          h(
            "li",
            null,
            h(
              "button",
              {
                type: "button",
                class: "search-hit",
                testid: "search-hit",
                "data-path": hit.path,
                "data-page": hit.page,
                onclick: () => this.app.openSource({ path: hit.path, page: hit.page, span: hit.span }),
              },
              h(
                "span",
                { class: "hit-head" },
                h("span", { class: "hit-title" }, hit.title || baseName(hit.path)),
                h("span", { class: "badge subtle" }, t("answer.page", { page: hit.page })),
                h("span", { class: "badge subtle" }, hit.doc_type),
                h("span", { class: "badge subtle" }, hit.collection),
                ocrBadge(hit),
              ),
              h("span", { class: "hit-snippet" }, hit.snippet),
              h("span", { class: "source-path" }, hit.path),
            ),
          ),
        ),
      ),
    );
  }

  // ----- Add a folder -----

  private addCard(): HTMLElement {
    const name = h("input", {
      type: "text",
      testid: "collection-name-input",
      value: this.addName,
      spellcheck: "false",
      oninput: () => {
        this.addName = name.value;
      },
    });
    const path = h("input", {
      type: "text",
      class: "grow",
      testid: "folder-path-input",
      value: this.addPath,
      placeholder: t("library.folderPlaceholder"),
      spellcheck: "false",
      oninput: () => {
        this.addPath = path.value;
      },
    });
    const browse = button(
      t("common.browse"),
      async () => {
        try {
          const picked = await ipc.pickFolder();
          if (picked) {
            this.addPath = picked;
            path.value = picked;
          }
        } catch (e) {
          this.app.toast(errorText(e));
        }
      },
      { icon: "folder", testid: "folder-browse" },
    );
    const add = button(t("library.add"), () => void this.addFolder(), { icon: "plus", class: "btn primary", testid: "folder-add" });
    const sample = this.app.status?.sample_library;
    return h(
      "div",
      { class: "card add-card" },
      h("h2", null, t("library.addTitle")),
      h("p", { class: "muted" }, t("library.addBody")),
      h(
        "div",
        { class: "add-grid" },
        field(t("library.collectionName"), name),
        field(t("library.folderPath"), h("div", { class: "input-row" }, path, browse)),
        h("div", { class: "add-actions" }, add),
      ),
      sample
        ? h(
            "p",
            { class: "sample-line" },
            h("span", { class: "muted" }, t("library.sampleBody")),
            button(t("library.sample"), () => void this.ingest(() => this.app.ingestJob.add("samples", sample)), {
              class: "btn small ghost",
              testid: "add-sample-library",
            }),
          )
        : null,
    );
  }

  private async addFolder(): Promise<void> {
    const name = this.addName.trim();
    const path = this.addPath.trim();
    if (!name || !path) {
      this.app.toast(t("error.invalid_input"));
      return;
    }
    await this.ingest(() => this.app.ingestJob.add(name, path));
  }

  private async ingest(run: () => Promise<unknown>): Promise<void> {
    if (this.app.ingestJob.busy) {
      this.app.toast(t("error.busy"));
      return;
    }
    const running = run();
    // The OCR switches and Re-index buttons are off while it runs.
    this.renderCollections();
    await running;
    // The shell starts embedding what the run added.
    void this.app.embedding.refresh();
    await this.app.refreshCollections();
    if (this.selected) await this.loadFiles(this.selected);
  }

  // ----- Collections and files -----

  collectionsChanged(): void {
    if (!this.mounted) return;
    this.renderCollections();
    // The search bar's collection filter lists them too.
    const bar = this.root!.querySelector(".search-bar");
    if (bar && document.activeElement !== this.searchInput) bar.replaceWith(this.searchBar());
  }

  private renderCollections(): void {
    if (!this.collectionsSlot) return;
    const list = this.app.collections;
    if (!list.length) {
      replaceChildren(this.collectionsSlot, h("p", { class: "muted" }, t("library.noCollections")));
      return;
    }
    replaceChildren(this.collectionsSlot, list.map((c) => this.collectionRow(c)));
  }

  private collectionRow(c: CollectionInfo): HTMLElement {
    // A re-index started before the OCR switch is stored would race it for the writer.
    const busy = this.app.ingestJob.busy || this.storingOcr.has(c.name);
    return h(
      "div",
      {
        class: this.selected === c.name ? "collection-row selected" : "collection-row",
        testid: "collection-row",
        "data-name": c.name,
      },
      h(
        "button",
        {
          type: "button",
          class: "collection-open",
          "aria-expanded": this.selected === c.name ? "true" : "false",
          onclick: () => void this.select(c.name),
        },
        h("span", { class: "collection-name" }, c.name),
        h(
          "span",
          { class: "collection-counts" },
          t("library.counts", { files: c.files, indexed: c.indexed, failed: c.failed, needs_ocr: c.needs_ocr }),
          c.pending ? ` · ${t("library.pending", { n: c.pending })}` : "",
          ` · ${t("library.chunks", { n: c.chunks })}`,
          c.ocr ? "" : ` · ${t("library.ocrOffBadge")}`,
        ),
        c.roots.map((r) => h("span", { class: "source-path" }, r)),
      ),
      h(
        "div",
        { class: "row-actions" },
        this.ocrToggle(c, busy),
        button(t("library.reindex"), () => void this.ingest(() => this.app.ingestJob.reindex(c.name)), {
          class: "btn small",
          testid: "collection-reindex",
          disabled: busy,
        }),
        button(t("common.remove"), () => void this.remove(c.name), {
          class: "btn small danger-ghost",
          testid: "collection-remove",
          disabled: busy,
        }),
      ),
    );
  }

  /** The collection's OCR switch (off while indexing runs: it needs the library's writer). */
  private ocrToggle(c: CollectionInfo, busy: boolean): HTMLElement {
    const box = h("input", {
      type: "checkbox",
      testid: "collection-ocr-toggle",
      "data-name": c.name,
      disabled: busy,
      onchange: () => void this.setOcr(c.name, box.checked),
    });
    box.checked = this.storingOcr.get(c.name) ?? c.ocr;
    return h("label", { class: "toggle small", title: t("library.ocrToggleTitle") }, box, h("span", null, t("library.ocrToggle")));
  }

  private async setOcr(name: string, on: boolean): Promise<void> {
    this.storingOcr.set(name, on);
    this.renderCollections();
    try {
      await ipc.librarySetOcr(name, on);
      this.app.toast(t(on ? "library.ocrOn" : "library.ocrOff", { name }));
    } catch (e) {
      this.app.toast(errorText(e));
    }
    this.storingOcr.delete(name);
    // Shows the state as stored (reverting the box when the change failed).
    await this.app.refreshCollections();
  }

  private async remove(name: string): Promise<void> {
    if (!(await confirmDialog(t("library.removeConfirm", { name }), t("common.remove")))) return;
    try {
      await ipc.libraryRemove(name);
      if (this.selected === name) {
        this.selected = null;
        this.files = null;
        this.renderFiles();
      }
    } catch (e) {
      this.app.toast(errorText(e));
    }
    await this.app.refreshCollections();
  }

  private async select(name: string): Promise<void> {
    this.selected = this.selected === name ? null : name;
    this.files = null;
    this.renderCollections();
    this.renderFiles();
    if (this.selected) await this.loadFiles(this.selected);
  }

  private async loadFiles(name: string): Promise<void> {
    try {
      const files = await ipc.libraryFiles(name);
      if (this.selected !== name) return;
      this.files = files;
      this.filesError = null;
    } catch (e) {
      this.filesError = ipc.toAppError(e);
    }
    this.renderFiles();
  }

  private renderFiles(): void {
    if (!this.filesSlot) return;
    if (!this.selected) return replaceChildren(this.filesSlot);
    const files = this.files;
    replaceChildren(
      this.filesSlot,
      h(
        "div",
        { class: "card files-card" },
        h("h2", null, t("library.files", { name: this.selected })),
        this.filesError ? errorBlock(this.filesError) : null,
        files === null && !this.filesError ? h("p", { class: "muted" }, t("common.loading")) : null,
        files && !files.length ? h("p", { class: "muted" }, t("library.noFiles")) : null,
        files && files.length
          ? h("ul", { class: "file-list" }, files.slice(0, FILE_ROWS).map((f) => fileRow(f)))
          : null,
        files && files.length > FILE_ROWS
          ? h("p", { class: "muted small" }, t("library.moreFiles", { shown: FILE_ROWS, total: files.length }))
          : null,
      ),
    );
  }
}

const STATUS_ICON: Partial<Record<FileInfo["status"], string>> = { indexed: "✓", failed: "✗" };

function fileRow(f: FileInfo): HTMLElement {
  const reason =
    f.status === "duplicate" && f.reason
      ? t("library.sameAs", { path: f.reason })
      : f.status === "failed" && f.reason
        ? f.reason
        : null;
  return h(
    "li",
    { class: `file-row status-${f.status}`, testid: "file-row", "data-status": f.status, "data-path": f.path },
    h(
      "span",
      { class: `status-badge status-${f.status}` },
      STATUS_ICON[f.status] ? h("span", { "aria-hidden": "true" }, `${STATUS_ICON[f.status]} `) : null,
      t(`status.${f.status}`),
    ),
    h(
      "span",
      { class: "file-main" },
      h("span", { class: "file-name" }, baseName(f.path)),
      h("span", { class: "source-path", title: f.path }, f.path),
      reason ? h("span", { class: "file-reason", testid: "file-reason" }, reason) : null,
      f.ocr ? fileOcr(f.ocr) : null,
      f.ocr_pages.length ? h("span", { class: "muted small" }, t("library.ocrPages", { pages: f.ocr_pages.join(", ") })) : null,
    ),
    h(
      "span",
      { class: "file-meta muted small" },
      [f.doc_type?.toUpperCase(), formatBytes(f.size_bytes, lang()), f.chunks ? t("library.chunks", { n: f.chunks }) : null]
        .filter(Boolean)
        .join(" · "),
    ),
  );
}

/** What OCR read of a file: pages, mean confidence, the pages to check, failures. */
export function fileOcr(o: FileOcr): HTMLElement {
  return h(
    "span",
    { class: "file-ocr muted small", testid: "file-ocr" },
    o.pages_read.length && o.mean_confidence !== null
      ? h("span", null, t("library.fileOcr", { n: o.pages_read.length, confidence: o.mean_confidence }))
      : null,
    o.low_confidence_pages.length
      ? h(
          "span",
          { class: "badge warn", testid: "low-confidence", title: t("library.lowConfidenceTitle"), "data-pages": o.low_confidence_pages.join(",") },
          t("library.lowConfidencePages", { pages: o.low_confidence_pages.join(", ") }),
        )
      : null,
    o.failed.map((f) => h("span", { class: "file-reason" }, t("library.ocrFailed", { page: f.page, reason: f.reason }))),
    o.note ? h("span", { class: "file-reason" }, o.note) : null,
  );
}
