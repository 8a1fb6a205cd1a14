// The application shell: sidebar, the active screen, the source viewer, and the
// state every screen shares (status, models, collections, conversations).
import { h, icon, replaceChildren } from "./dom";
import { lang, pickLang, setLang, t, type Lang } from "./i18n";
import * as ipc from "./ipc";
import type { AppStatus, CollectionInfo, ConversationSummary, ModelInfo, VaultState } from "./ipc/types";
import { EmbeddingJob, ImportJob, IngestJob } from "./jobs";
import type { SourceRef } from "./views/answer";
import { ChatScreen } from "./views/chat";
import { button, errorBlock, errorText } from "./views/common";
import { LibraryScreen } from "./views/library";
import { LockScreen } from "./views/lock";
import { ModelsScreen } from "./views/models";
import { SettingsScreen } from "./views/settings";
import { renderConversations } from "./views/sidebar";
import { SourceViewer } from "./views/viewer";

export type ScreenName = "chat" | "library" | "models" | "settings";

export interface Screen {
  render(): HTMLElement;
  /** Called after the screen is shown (data refreshes). */
  shown?(): void;
}

const POLL_MS = 500;
/** How often the UI asks whether the vault locked itself (idle lock). */
export const LOCK_POLL_MS = 2000;

export class App {
  status: AppStatus | null = null;
  models: ModelInfo[] = [];
  collections: CollectionInfo[] = [];
  conversations: ConversationSummary[] = [];
  screen: ScreenName = "chat";

  readonly importJob = new ImportJob();
  readonly ingestJob = new IngestJob();
  /** Background embedding for search by meaning (polled while it runs). */
  readonly embedding = new EmbeddingJob();
  // Screens that hold document text are made anew when the vault locks.
  chat = new ChatScreen(this);
  library = new LibraryScreen(this);
  readonly modelsScreen = new ModelsScreen(this);
  readonly settings = new SettingsScreen(this);
  viewer = new SourceViewer(this);
  /** The vault is locked: only the lock screen is shown. */
  locked = false;

  private sidebarEl = h("aside", { class: "sidebar" });
  private mainEl = h("main", { class: "main", id: "main" });
  private viewerEl = h("aside", { class: "viewer-slot" });
  private modelStatusSlot = h("div", { class: "model-status-slot" });
  private toastEl = h("div", { class: "toasts", "aria-live": "polite", role: "status" });
  private pollTimer: ReturnType<typeof setTimeout> | null = null;
  private lockTimer: ReturnType<typeof setTimeout> | null = null;
  private destroyed = false;
  private readonly onKey = (e: KeyboardEvent) => this.globalKey(e);

  constructor(readonly root: HTMLElement) {}

  async start(): Promise<void> {
    replaceChildren(this.root, h("div", { class: "boot" }, h("span", { class: "spinner" }), t("app.loading")));
    try {
      this.status = await ipc.appStatus();
    } catch (e) {
      replaceChildren(this.root, h("div", { class: "boot" }, h("h1", null, t("app.startFailed")), errorBlock(ipc.toAppError(e))));
      return;
    }
    setLang(pickLang(this.status.settings.ui_language, this.status.os_locale));
    document.addEventListener("keydown", this.onKey);
    this.watchLock();
    // The first call of a session opens the vault with the OS keychain.
    const vault = await this.vaultState();
    if (vault?.locked) {
      this.showLock(vault);
      return;
    }
    await this.showApp();
  }

  destroy(): void {
    this.destroyed = true;
    document.removeEventListener("keydown", this.onKey);
    this.embedding.stop();
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = null;
    if (this.lockTimer) clearTimeout(this.lockTimer);
    this.lockTimer = null;
  }

  // ----- The vault's lock -----

  private async vaultState(): Promise<VaultState | null> {
    try {
      return await ipc.vaultState();
    } catch (e) {
      // The shell refuses document commands while locked anyway; say why and go on.
      this.toast(errorText(e));
      return null;
    }
  }

  private async showApp(): Promise<void> {
    this.locked = false;
    this.render();
    this.pollIfLoading();
    await Promise.all([this.refreshConversations(), this.refreshCollections(), this.refreshModels(), this.embedding.refresh()]);
  }

  /** Locks now (the core drops the key), then shows the lock screen. */
  async lockNow(): Promise<void> {
    try {
      await ipc.vaultLock();
    } catch (e) {
      this.toast(errorText(e));
      return;
    }
    this.showLock(await this.vaultState());
  }

  /** Forgets every document, answer and title the UI holds, and shows only the lock screen. */
  showLock(state: VaultState | null): void {
    this.locked = true;
    if (this.chat.isStreaming) void this.chat.cancel();
    this.conversations = [];
    this.collections = [];
    this.chat = new ChatScreen(this);
    this.library = new LibraryScreen(this);
    this.viewer = new SourceViewer(this);
    this.screen = "chat";
    replaceChildren(this.sidebarEl);
    replaceChildren(this.mainEl);
    replaceChildren(this.viewerEl);
    replaceChildren(this.toastEl);
    const shown = state ?? { locked: true, reason: "locked", message: null, passphrase: true, recovery_key: true };
    const screen = new LockScreen(shown, () => void this.showApp());
    this.root.setAttribute("lang", lang());
    replaceChildren(this.root, screen.render(), this.toastEl);
  }

  /** Asks the shell every few seconds whether the idle lock struck. */
  private watchLock(): void {
    this.lockTimer = setTimeout(async () => {
      this.lockTimer = null;
      try {
        if (!this.locked && (await ipc.vaultLocked())) this.showLock(await this.vaultState());
      } catch {
        // the next check retries
      }
      if (!this.destroyed) this.watchLock();
    }, LOCK_POLL_MS);
  }

  // ----- Rendering -----

  render(): void {
    this.root.setAttribute("lang", lang());
    replaceChildren(
      this.root,
      h("div", { class: "app" }, this.sidebarEl, this.mainEl, this.viewerEl),
      this.toastEl,
    );
    this.renderSidebar();
    this.renderScreen();
    this.renderViewer();
  }

  private screenObject(name: ScreenName): Screen {
    return { chat: this.chat, library: this.library, models: this.modelsScreen, settings: this.settings }[name];
  }

  renderScreen(): void {
    const screen = this.screenObject(this.screen);
    replaceChildren(this.mainEl, screen.render());
  }

  /** Re-renders the active screen if it is `name`. */
  refreshScreen(name: ScreenName): void {
    if (this.screen === name) this.renderScreen();
  }

  renderViewer(): void {
    this.viewerEl.classList.toggle("open", this.viewer.isOpen);
    replaceChildren(this.viewerEl, this.viewer.isOpen ? this.viewer.render() : null);
  }

  renderSidebar(): void {
    const nav = (name: ScreenName, iconName: "chat" | "library" | "models" | "settings") =>
      h(
        "button",
        {
          type: "button",
          class: this.screen === name ? "nav-item active" : "nav-item",
          testid: `nav-${name}`,
          "aria-current": this.screen === name ? "page" : null,
          onclick: () => this.navigate(name),
        },
        icon(iconName),
        h("span", null, t(`nav.${name}`)),
      );
    replaceChildren(
      this.sidebarEl,
      h(
        "div",
        { class: "brand" },
        h("span", { class: "brand-mark", "aria-hidden": "true" }, "實"),
        h("div", null, h("div", { class: "brand-name" }, t("app.name")), h("div", { class: "brand-tag" }, t("app.tagline"))),
      ),
      h(
        "nav",
        { class: "nav", "aria-label": t("nav.main") },
        nav("chat", "chat"),
        nav("library", "library"),
        nav("models", "models"),
        nav("settings", "settings"),
      ),
      renderConversations(this),
      button(t("lock.now"), () => void this.lockNow(), { class: "btn lock-now", testid: "lock-now" }),
      this.modelStatusSlot,
    );
    this.renderModelStatus();
  }

  /** The always-visible model state in the sidebar footer (updated alone while polling). */
  renderModelStatus(): void {
    replaceChildren(this.modelStatusSlot, this.modelStatusEl());
  }

  private modelStatusEl(): HTMLElement {
    const m = this.status?.model ?? { state: "none" as const, name: null, error: null };
    return h(
      "div",
      { class: "model-status", title: m.error ?? "" },
      h(
        "div",
        { class: "model-status-line" },
        h("span", { class: `state-badge state-${m.state}`, testid: "model-state" }, m.state),
        h("span", { class: "state-label" }, t(`modelState.${m.state}`)),
      ),
      h("div", { class: "model-name", title: m.name ?? "" }, m.name ?? t("modelState.noName")),
      m.state === "failed" && m.error ? h("div", { class: "model-error" }, m.error) : null,
    );
  }

  // ----- Navigation and global keys -----

  navigate(name: ScreenName): void {
    if (this.screen !== name) {
      this.screen = name;
      this.renderSidebar();
      this.renderScreen();
    }
    this.screenObject(name).shown?.();
  }

  private globalKey(e: KeyboardEvent): void {
    if (this.locked) return;
    if ((e.ctrlKey || e.metaKey) && !e.altKey && (e.key.toLowerCase() === "k" || e.code === "KeyK")) {
      e.preventDefault();
      this.navigate("library");
      this.library.focusSearch();
      return;
    }
    if (e.key === "Escape" && !e.defaultPrevented && !e.isComposing) {
      if (this.chat.isStreaming) {
        e.preventDefault();
        void this.chat.cancel();
      } else if (this.viewer.isOpen && !document.querySelector(".overlay")) {
        this.viewer.close();
      }
    }
  }

  // ----- Language -----

  async setLanguage(next: Lang): Promise<void> {
    setLang(next);
    if (!this.locked) this.render();
    if (!this.status) return;
    try {
      this.status.settings = await ipc.settingsSet({ ...this.status.settings, ui_language: next });
    } catch (e) {
      this.toast(errorText(e));
    }
  }

  // ----- Shared data -----

  async refreshStatus(): Promise<void> {
    try {
      const before = this.status?.model.state;
      this.status = await ipc.appStatus();
      this.renderModelStatus();
      const after = this.status.model.state;
      // The first-run guide depends on whether a model is installed.
      if ((before === "none") !== (after === "none")) this.chat.refresh();
    } catch {
      // keep the last known status; the next poll or action retries
    }
    this.pollIfLoading();
  }

  private pollIfLoading(): void {
    if (this.status?.model.state === "loading" && !this.pollTimer) {
      this.pollTimer = setTimeout(() => {
        this.pollTimer = null;
        void this.refreshStatus();
      }, POLL_MS);
    }
  }

  async refreshConversations(): Promise<void> {
    try {
      this.conversations = await ipc.conversationsList();
    } catch (e) {
      this.toast(errorText(e));
    }
    this.renderSidebar();
  }

  async refreshCollections(): Promise<void> {
    try {
      this.collections = await ipc.libraryOverview();
    } catch (e) {
      this.toast(errorText(e));
    }
    this.library.collectionsChanged();
    this.chat.collectionsChanged();
  }

  async refreshModels(): Promise<void> {
    try {
      this.models = await ipc.modelsList();
    } catch (e) {
      this.toast(errorText(e));
    }
    this.modelsScreen.modelsChanged();
    this.refreshScreen("settings");
  }

  openSource(ref: SourceRef): void {
    void this.viewer.open(ref);
  }

  toast(message: string): void {
    const el = h("div", { class: "toast" }, message);
    this.toastEl.appendChild(el);
    setTimeout(() => el.remove(), 5000);
  }
}
