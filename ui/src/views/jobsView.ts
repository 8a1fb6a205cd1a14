// Views of the shared jobs. Each is rendered on one screen at a time, so their
// test ids stay unique in the document.
import type { App } from "../app";
import { h } from "../dom";
import { lang, t } from "../i18n";
import * as ipc from "../ipc";
import type { IngestReport } from "../ipc/types";
import { baseName, formatBytes } from "../lib/text";
import { button, errorBlock, errorText, field, progressBar, reactive } from "./common";

/** Import a GGUF model: path, Browse…, Import, progress and the computed hash. */
export function importCard(app: App): HTMLElement {
  const job = app.importJob;
  const start = async () => {
    const model = await job.run();
    if (model) {
      app.toast(t("models.imported", { name: model.name }));
      await Promise.all([app.refreshModels(), app.refreshStatus()]);
    }
  };
  return reactive(job, () => {
    const input = h("input", {
      type: "text",
      class: "grow",
      testid: "model-path-input",
      value: job.path,
      placeholder: t("models.pathPlaceholder"),
      disabled: job.busy,
      spellcheck: "false",
      oninput: () => {
        job.path = input.value;
      },
      onkeydown: (e: KeyboardEvent) => {
        if (e.key === "Enter" && !e.isComposing) void start();
      },
    });
    const browse = button(
      t("common.browse"),
      async () => {
        try {
          const path = await ipc.pickFile();
          if (path) {
            job.path = path;
            job.emit();
          }
        } catch (e) {
          app.toast(errorText(e));
        }
      },
      { icon: "folder", testid: "model-browse", disabled: job.busy },
    );
    const go = button(t("models.import"), () => void start(), {
      class: "btn primary",
      testid: "model-import",
      disabled: job.busy,
    });
    const showProgress = job.busy || job.result !== null || job.sha256 !== null;
    const total = job.result && !job.total ? job.result.size_bytes : job.total;
    const done = job.result ? total : job.done;
    return h(
      "div",
      { class: "import-card" },
      h("h3", null, t("models.importTitle")),
      h("p", { class: "muted" }, t("models.importBody")),
      field(t("models.path"), h("div", { class: "input-row" }, input, browse, go)),
      showProgress
        ? h(
            "div",
            { class: "progress-block" },
            progressBar(done, total, "import-progress", t("models.importing")),
            h(
              "span",
              { class: "muted small" },
              job.busy ? `${t("models.importing")} ${formatBytes(done, lang())} / ${formatBytes(total, lang())}` : "",
            ),
          )
        : null,
      job.result ? h("p", { class: "success" }, t("models.imported", { name: job.result.name })) : null,
      job.sha256
        ? h("p", { class: "hash" }, h("span", { class: "hash-label" }, t("models.sha256")), h("code", { testid: "import-sha256" }, job.sha256))
        : null,
      job.error ? errorBlock(job.error) : null,
    );
  });
}

/** A report's counts, as message parameters. */
function counts(r: IngestReport): Record<string, number> {
  const { ocr_unavailable: _unavailable, cancelled: _cancelled, ...numbers } = r;
  return numbers;
}

/** OCR progress of the running job: the page being read, and the pages of the run. */
function ocrProgress(app: App): HTMLElement | null {
  const job = app.ingestJob;
  const o = job.ocr;
  if (!job.busy || !o) return null;
  return h(
    "div",
    { class: "progress-block ocr-progress" },
    progressBar(o.done, o.total, "ocr-progress", t("library.ocrRun", { done: o.done, total: o.total })),
    h("span", { class: "muted small", testid: "ocr-page" }, t("library.ocrProgress", { page: o.page, pages: Math.max(o.pages, o.page) }), ` · ${baseName(o.path)}`),
    h("span", { class: "muted small" }, t("library.ocrRun", { done: o.done, total: o.total })),
    job.ocrLow ? h("span", { class: "badge warn" }, t("library.ocrLowRun", { n: job.ocrLow })) : null,
  );
}

/** Progress and summary of the current (or last) indexing job, with its Stop button. */
export function ingestStatus(app: App): HTMLElement {
  const job = app.ingestJob;
  return reactive(job, () => {
    if (!job.busy && !job.report && !job.error) return null;
    const r = job.report;
    const ocrRan = r && r.ocr_read + r.ocr_failed + r.ocr_pages > 0;
    return h(
      "div",
      { class: "ingest-status card-inner" },
      job.collection ? h("h3", null, job.collection) : null,
      job.busy || r
        ? h(
            "div",
            { class: "progress-block" },
            progressBar(r ? 1 : job.done, r ? 1 : job.total ?? 0, "ingest-progress", t("library.progressUnknown")),
            job.busy
              ? h(
                  "span",
                  { class: "muted small" },
                  job.total === null ? t("library.progressUnknown") : t("library.progress", { done: job.done, total: job.total }),
                )
              : null,
            job.busy && job.current ? h("span", { class: "muted small ellipsis", title: job.current }, job.current) : null,
          )
        : null,
      ocrProgress(app),
      job.busy
        ? h(
            "div",
            { class: "row-actions" },
            button(job.cancelling ? t("library.cancelling") : t("library.cancel"), () => void job.cancel(), {
              icon: "stop",
              class: "btn small",
              testid: "ingest-cancel",
              disabled: job.cancelling,
            }),
          )
        : null,
      r
        ? h(
            "div",
            { class: r.cancelled ? "ingest-done warn" : "ingest-done success", testid: "ingest-done", role: "status", "data-cancelled": r.cancelled ? "true" : null },
            r.cancelled ? h("p", { testid: "ingest-cancelled" }, t("library.cancelled")) : null,
            h("p", null, t("library.done", counts(r))),
            h("p", { class: "muted small" }, t("library.doneExtra", counts(r))),
            ocrRan ? h("p", { class: "muted small", testid: "ingest-ocr" }, t("library.ocrDone", counts(r))) : null,
            r.ocr_unavailable ? h("p", { class: "warn small" }, t("library.ocrUnavailable", { reason: r.ocr_unavailable })) : null,
          )
        : null,
      job.failures.length
        ? h(
            "details",
            { class: "failures" },
            h("summary", null, `${t("library.failedFiles")} (${job.failures.length})`),
            h(
              "ul",
              null,
              job.failures.map((f) => h("li", null, h("span", { class: "source-path" }, f.path), f.reason ? ` — ${f.reason}` : "")),
            ),
          )
        : null,
      job.error ? errorBlock(job.error) : null,
    );
  }, "ingest-slot");
}

/**
 * Background embedding for search by meaning: "Indexing meaning: n of N
 * passages (p%)" while it runs; in `detail` mode (settings) also what holds
 * when it does not.
 */
export function embeddingStatus(app: App, detail = false): HTMLElement {
  const job = app.embedding;
  return reactive(job, () => {
    const s = job.status;
    if (!s) return null;
    if (s.state === "running") {
      if (s.pending === 0) return h("p", { class: "muted small", testid: "embedding-status", "data-state": "running" }, t("embedding.preparing"));
      const label = t("embedding.progress", { done: s.done, total: s.pending, percent: s.percent });
      return h(
        "div",
        { class: "progress-block embedding-status", testid: "embedding-status", "data-state": "running" },
        progressBar(s.done, s.pending, "embedding-progress", label),
        h("span", { class: "muted small" }, label),
      );
    }
    if (s.state === "failed") {
      return h(
        "div",
        { class: "embedding-status", testid: "embedding-status", "data-state": "failed" },
        errorBlock({ kind: "model", message: `${t("embedding.failed")}: ${s.error ?? ""}` }),
      );
    }
    if (!detail) return null;
    return h(
      "p",
      { class: "muted small", testid: "embedding-status", "data-state": "idle" },
      s.model ? t("embedding.ready", { model: s.model }) : t("embedding.noModel"),
    );
  }, "embedding-slot");
}
