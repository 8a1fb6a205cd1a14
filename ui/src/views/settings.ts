// The settings screen. Language applies (and is saved) at once; the rest on Save.
import type { App, Screen } from "../app";
import { h } from "../dom";
import { lang, t, type Lang } from "../i18n";
import * as ipc from "../ipc";
import type { Settings } from "../ipc/types";
import { errorText, field } from "./common";
import { embeddingStatus } from "./jobsView";

/** "" → null (automatic); a positive whole number; undefined when invalid. */
export function parseOptionalInt(text: string): number | null | undefined {
  const s = text.trim();
  if (!s) return null;
  return /^\d+$/.test(s) && Number(s) > 0 ? Number(s) : undefined;
}

/** The idle lock's range in minutes, as the core checks it. */
const IDLE_LOCK_MAX_MINUTES = 1440;

export class SettingsScreen implements Screen {
  /** Unsaved edits, kept across re-renders (e.g. a language switch). */
  private draft: Settings | null = null;
  private threadsText = "";
  private contextText = "";
  private idleLockText = "";

  constructor(private app: App) {}

  shown(): void {
    void this.app.refreshModels();
    void this.app.embedding.refresh();
  }

  render(): HTMLElement {
    const status = this.app.status;
    if (!this.draft && status) {
      this.draft = { ...status.settings };
      this.threadsText = status.settings.threads?.toString() ?? "";
      this.contextText = status.settings.context_length?.toString() ?? "";
      this.idleLockText = status.settings.idle_lock_minutes?.toString() ?? "";
    }
    const draft = this.draft ?? {
      ui_language: null,
      profile: null,
      chat_model: null,
      embedding_model: null,
      threads: null,
      context_length: null,
      hybrid_search: null,
    };

    const language = h(
      "select",
      {
        testid: "language-select",
        onchange: () => {
          draft.ui_language = language.value as Lang;
          void this.app.setLanguage(language.value as Lang);
        },
      },
      h("option", { value: "ko" }, "한국어"),
      h("option", { value: "en" }, "English"),
    );
    language.value = lang();

    const select = (
      testid: string,
      value: string | null,
      none: string,
      options: { value: string; label: string }[],
      set: (v: string | null) => void,
    ) => {
      const el = h(
        "select",
        { testid, onchange: () => set(el.value || null) },
        h("option", { value: "" }, none),
        options.map((o) => h("option", { value: o.value }, o.label)),
      );
      el.value = value ?? "";
      return el;
    };
    const profiles = status?.profiles ?? [];
    const profile = select(
      "profile-select",
      draft.profile,
      t("settings.profileDefault"),
      profiles.map((p) => ({ value: p.name, label: p.description ? `${p.name} — ${p.description}` : p.name })),
      (v) => (draft.profile = v),
    );
    const byRole = (role: "chat" | "embedding") =>
      this.app.models.filter((m) => m.role === role).map((m) => ({ value: m.name, label: m.name }));
    const chatModel = select("chat-model-select", draft.chat_model, t("settings.catalogueDefault"), byRole("chat"), (v) => (draft.chat_model = v));
    const embedModel = select(
      "embedding-model-select",
      draft.embedding_model,
      t("settings.catalogueDefault"),
      byRole("embedding"),
      (v) => (draft.embedding_model = v),
    );
    const hybrid = h("input", {
      type: "checkbox",
      testid: "hybrid-search-toggle",
      onchange: () => (draft.hybrid_search = hybrid.checked),
    });
    hybrid.checked = draft.hybrid_search ?? true;
    const number = (testid: string, value: string, set: (v: string) => void) => {
      const el = h("input", {
        type: "number",
        min: 1,
        step: 1,
        inputmode: "numeric",
        testid,
        value,
        placeholder: t("common.automatic"),
        oninput: () => set(el.value),
      });
      return el;
    };
    const threads = number("threads-input", this.threadsText, (v) => (this.threadsText = v));
    const context = number("context-length-input", this.contextText, (v) => (this.contextText = v));
    // The site policy may fix the idle lock: shown, not editable.
    const idleLockFixed = status?.policy_locked?.includes("idle_lock_minutes") ?? false;
    const idleLock = number("idle-lock-input", this.idleLockText, (v) => (this.idleLockText = v));
    idleLock.max = String(IDLE_LOCK_MAX_MINUTES);
    idleLock.placeholder = t("settings.idleLockDefault");
    idleLock.disabled = idleLockFixed;
    const message = h("p", { class: "form-message", role: "status" });

    const save = async () => {
      const threadsN = parseOptionalInt(this.threadsText);
      const contextN = parseOptionalInt(this.contextText);
      const idleN = parseOptionalInt(this.idleLockText);
      if (threadsN === undefined || contextN === undefined) {
        message.textContent = t("settings.invalidNumber");
        message.className = "form-message error";
        return;
      }
      if (idleN === undefined || (idleN !== null && idleN > IDLE_LOCK_MAX_MINUTES)) {
        message.textContent = t("settings.invalidIdleLock");
        message.className = "form-message error";
        return;
      }
      const next: Settings = { ...draft, ui_language: lang(), threads: threadsN, context_length: contextN };
      // A fixed value is sent back as it came (the core refuses any other);
      // empty is left out, which the core reads as its default.
      if (!idleLockFixed) next.idle_lock_minutes = idleN ?? undefined;
      try {
        const stored = await ipc.settingsSet(next);
        if (this.app.status) this.app.status.settings = stored;
        this.draft = { ...stored };
        message.textContent = t("settings.saved");
        message.className = "form-message success";
        // The shell starts embedding for the (new) embedding model.
        void this.app.embedding.refresh();
        await this.app.refreshStatus();
        if (this.app.status?.model.state === "loading") message.textContent += ` ${t("settings.reloading")}`;
      } catch (e) {
        message.textContent = errorText(e);
        message.className = "form-message error";
      }
    };

    return h(
      "section",
      { class: "screen settings-screen", "aria-label": t("settings.title") },
      h("header", { class: "screen-header" }, h("h1", null, t("settings.title"))),
      h("div", { class: "card form" }, field(t("settings.language"), language, t("settings.languageHint"))),
      h(
        "form",
        {
          class: "card form",
          novalidate: true, // our own message, in the UI language
          onsubmit: (e: SubmitEvent) => {
            e.preventDefault();
            void save();
          },
        },
        field(t("settings.profile"), profile),
        h("div", { class: "form-grid" }, field(t("settings.chatModel"), chatModel), field(t("settings.embeddingModel"), embedModel)),
        field(t("settings.hybridSearch"), hybrid, t("settings.hybridSearchHint")),
        embeddingStatus(this.app, true),
        h(
          "div",
          { class: "form-grid" },
          field(t("settings.threads"), threads, t("settings.automaticHint")),
          field(t("settings.contextLength"), context, t("settings.automaticHint")),
        ),
        field(t("settings.idleLock"), idleLock, t(idleLockFixed ? "settings.idleLockPolicy" : "settings.idleLockHint")),
        h(
          "div",
          { class: "form-actions" },
          h("button", { type: "submit", class: "btn primary", testid: "settings-save" }, t("settings.save")),
          message,
        ),
      ),
      h(
        "div",
        { class: "card form about" },
        h("div", { class: "field" }, h("span", { class: "label" }, t("settings.dataDir")), h("code", { class: "source-path", testid: "data-dir" }, status?.data_dir ?? "")),
        h("p", { class: "muted small" }, t("settings.version", { version: status?.version ?? "" })),
      ),
    );
  }
}
