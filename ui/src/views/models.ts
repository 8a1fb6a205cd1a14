// The models screen: installed models, verify / make default / remove, import.
import type { App, Screen } from "../app";
import { h, icon, replaceChildren } from "../dom";
import { lang, t } from "../i18n";
import * as ipc from "../ipc";
import type { AppError, ModelInfo } from "../ipc/types";
import { formatBytes, formatCount } from "../lib/text";
import { button, confirmDialog, errorBlock, errorText, progressBar } from "./common";
import { importCard } from "./jobsView";

type Verify = { busy: boolean; done: number; total: number; ok: boolean; error: AppError | null };

export class ModelsScreen implements Screen {
  private verify = new Map<string, Verify>();
  private root: HTMLElement | null = null;
  private listSlot: HTMLElement | null = null;

  constructor(private app: App) {}

  shown(): void {
    void this.app.refreshModels();
  }

  modelsChanged(): void {
    if (this.root?.isConnected) this.renderList();
  }

  render(): HTMLElement {
    this.listSlot = h("div", { class: "model-list" });
    this.renderList();
    // On first run the import controls live in the chat screen's guide; only one
    // of the two screens is in the document at a time.
    this.root = h(
      "section",
      { class: "screen models-screen", "aria-label": t("models.title") },
      h("header", { class: "screen-header" }, h("h1", null, t("models.title")), h("p", { class: "muted" }, t("models.subtitle"))),
      this.listSlot,
      h("div", { class: "card" }, importCard(this.app)),
    );
    return this.root;
  }

  private renderList(): void {
    if (!this.listSlot) return;
    const models = this.app.models;
    replaceChildren(
      this.listSlot,
      models.length ? models.map((m) => this.row(m)) : h("div", { class: "card" }, h("p", { class: "muted" }, t("models.empty"))),
    );
  }

  private row(m: ModelInfo): HTMLElement {
    const v = this.verify.get(m.name);
    const l = lang();
    return h(
      "div",
      { class: m.is_default ? "card model-row default" : "card model-row", testid: "model-row", "data-name": m.name },
      h(
        "div",
        { class: "model-head" },
        h("h3", { class: "model-name" }, m.name),
        h("span", { class: `badge role-${m.role}` }, t(`models.role.${m.role}`)),
        m.is_default ? h("span", { class: "badge accent", testid: "model-default" }, icon("check"), t("models.default")) : null,
        h(
          "span",
          {
            class: m.provenance === "known" ? "badge ok" : "badge subtle",
            title: m.provenance === "known" ? t("models.knownTitle") : t("models.userTitle"),
            "data-provenance": m.provenance,
          },
          m.provenance === "known" ? t("models.known") : t("models.user"),
        ),
      ),
      h(
        "p",
        { class: "model-facts muted" },
        [
          formatBytes(m.size_bytes, l),
          m.quantization,
          m.architecture,
          m.parameters ? t("models.params", { params: formatCount(m.parameters) }) : null,
          m.context_length ? t("models.context", { n: m.context_length.toLocaleString(l) }) : null,
          m.license ? t("models.license", { license: m.license }) : t("models.licenseUnknown"),
        ]
          .filter(Boolean)
          .join(" · "),
      ),
      h("p", { class: "source-path", title: m.file }, m.file),
      !m.fit.fits
        ? h(
            "p",
            { class: "note note-warn", testid: "model-fit-warning" },
            icon("alert"),
            h("span", null, t("models.fit", { needed: formatBytes(m.fit.needed_bytes, l), available: formatBytes(m.fit.available_bytes, l) })),
          )
        : null,
      v?.busy ? progressBar(v.done, v.total, "verify-progress", t("models.verifying")) : null,
      v && !v.busy && v.ok ? h("p", { class: "success", testid: "verify-result" }, icon("check"), t("models.verified")) : null,
      v && !v.busy && v.error
        ? h("div", { testid: "verify-result" }, h("p", { class: "error-title" }, t("models.verifyFailed")), errorBlock(v.error))
        : null,
      h(
        "div",
        { class: "row-actions" },
        button(v?.busy ? t("models.verifying") : t("models.verify"), () => void this.runVerify(m.name), {
          class: "btn small",
          testid: "model-verify",
          disabled: v?.busy ?? false,
        }),
        m.is_default
          ? null
          : button(t("models.makeDefault"), () => void this.makeDefault(m.name), { class: "btn small", testid: "model-make-default" }),
        button(t("common.remove"), () => void this.remove(m.name), { class: "btn small danger-ghost", testid: "model-remove" }),
      ),
    );
  }

  private async runVerify(name: string): Promise<void> {
    const state: Verify = { busy: true, done: 0, total: 0, ok: false, error: null };
    this.verify.set(name, state);
    this.modelsChanged();
    try {
      await ipc.modelsVerify(name, (e) => {
        if (e.event === "progress") {
          state.done = e.data.done;
          state.total = e.data.total;
          this.modelsChanged();
        }
      });
      state.ok = true;
    } catch (e) {
      state.error = ipc.toAppError(e);
    }
    state.busy = false;
    this.modelsChanged();
  }

  private async makeDefault(name: string): Promise<void> {
    try {
      await ipc.modelsSetDefault(name);
    } catch (e) {
      this.app.toast(errorText(e));
    }
    await Promise.all([this.app.refreshModels(), this.app.refreshStatus()]);
  }

  private async remove(name: string): Promise<void> {
    if (!(await confirmDialog(t("models.removeConfirm", { name }), t("common.remove")))) return;
    try {
      await ipc.modelsRemove(name);
      this.verify.delete(name);
    } catch (e) {
      this.app.toast(errorText(e));
    }
    await Promise.all([this.app.refreshModels(), this.app.refreshStatus()]);
  }
}
