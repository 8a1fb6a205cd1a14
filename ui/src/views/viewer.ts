// The right-hand source panel: one page of a library document with the cited
// span highlighted.
import type { App } from "../app";
import { h } from "../dom";
import { t } from "../i18n";
import * as ipc from "../ipc";
import type { AppError, PageView } from "../ipc/types";
import { codePointToIndex, splitAtSpan } from "../lib/text";
import type { SourceRef } from "./answer";
import { button, errorBlock, errorText, iconButton } from "./common";

/**
 * A quoted sentence is highlighted on its own (the span is the whole chunk): its
 * first occurrence inside the span, else nowhere (null: highlight the span).
 */
export function quoteWithin(text: string, span: { start: number; end: number }, quote?: string): [string, string, string] | null {
  if (!quote) return null;
  const from = codePointToIndex(text, span.start);
  const to = codePointToIndex(text, span.end);
  const at = text.indexOf(quote, from);
  if (at < 0 || at + quote.length > to) return null;
  return [text.slice(0, at), quote, text.slice(at + quote.length)];
}

export class SourceViewer {
  /** What was cited; null while closed. */
  ref: SourceRef | null = null;
  page = 1;
  view: PageView | null = null;
  error: AppError | null = null;
  loading = false;
  private seq = 0;

  constructor(private app: App) {}

  get isOpen(): boolean {
    return this.ref !== null;
  }

  async open(ref: SourceRef): Promise<void> {
    this.ref = ref;
    await this.show(ref.page);
  }

  close(): void {
    this.ref = null;
    this.view = null;
    this.seq += 1;
    this.app.renderViewer();
  }

  private async show(page: number): Promise<void> {
    if (!this.ref) return;
    const seq = ++this.seq;
    this.page = page;
    this.loading = true;
    this.error = null;
    this.app.renderViewer();
    try {
      const view = await ipc.documentPage(this.ref.path, page);
      if (seq !== this.seq) return;
      this.view = view;
    } catch (e) {
      if (seq !== this.seq) return;
      this.error = ipc.toAppError(e);
    }
    this.loading = false;
    this.app.renderViewer();
    const mark = document.querySelector<HTMLElement>('[data-testid="source-highlight"]');
    if (mark && typeof mark.scrollIntoView === "function") mark.scrollIntoView({ block: "center" });
  }

  private pageText(view: PageView): HTMLElement {
    const ref = this.ref;
    const highlight = ref?.span && view.page === ref.page && ref.span.end > ref.span.start ? ref.span : null;
    if (!view.text) return h("p", { class: "muted" }, t("viewer.emptyPage"));
    if (!highlight) return h("div", { class: "page-text", tabindex: 0 }, view.text);
    const [before, cited, after] = quoteWithin(view.text, highlight, ref?.quote) ?? splitAtSpan(view.text, highlight.start, highlight.end);
    return h(
      "div",
      { class: "page-text", tabindex: 0 },
      before,
      h("mark", { testid: "source-highlight", class: "source-highlight" }, cited),
      after,
    );
  }

  render(): HTMLElement {
    const ref = this.ref!;
    const view = this.view && this.view.path === ref.path ? this.view : null;
    const path = view?.path ?? ref.path;
    const pages = view?.pages ?? 0;
    const current = view?.page ?? this.page;
    const nav = (label: string, iconName: "left" | "right", page: number, testid: string) =>
      button(label, () => void this.show(page), {
        [iconName === "left" ? "icon" : "iconEnd"]: iconName,
        class: "btn small",
        testid,
        disabled: this.loading || !view || page < 1 || page > pages,
      });
    return h(
      "section",
      { class: "source-viewer", testid: "source-viewer", "aria-label": t("viewer.title") },
      h(
        "header",
        { class: "viewer-header" },
        h(
          "div",
          { class: "viewer-title-row" },
          h("h2", { class: "viewer-title" }, view?.title ?? t("viewer.title")),
          iconButton("close", t("viewer.close"), () => this.close(), { testid: "viewer-close" }),
        ),
        h(
          "div",
          { class: "viewer-meta" },
          view ? h("span", { class: "badge", testid: "viewer-page" }, t("viewer.page", { page: current, pages })) : null,
          view?.collection ? h("span", { class: "badge subtle" }, view.collection) : null,
          view?.doc_type ? h("span", { class: "badge subtle" }, view.doc_type) : null,
        ),
        h("div", { class: "source-path", testid: "source-path", title: path }, path),
        h(
          "div",
          { class: "viewer-actions" },
          nav(t("viewer.prev"), "left", current - 1, "viewer-prev"),
          nav(t("viewer.next"), "right", current + 1, "viewer-next"),
          h("span", { class: "spacer" }),
          button(
            t("viewer.reveal"),
            () => {
              ipc.revealFile(path).catch((e: unknown) => this.app.toast(errorText(e)));
            },
            { icon: "folder", class: "btn small", testid: "reveal-file" },
          ),
        ),
      ),
      h(
        "div",
        { class: "viewer-body", "aria-busy": this.loading ? "true" : null },
        this.error ? errorBlock(this.error) : null,
        this.loading && !view ? h("p", { class: "muted" }, t("common.loading")) : null,
        view && !this.error ? this.pageText(view) : null,
      ),
    );
  }
}
