// The chat screen: transcript, question box, streaming answers, export.
import type { App, Screen } from "../app";
import { h, icon, replaceChildren } from "../dom";
import { t } from "../i18n";
import * as ipc from "../ipc";
import type { AskEvent } from "../ipc/types";
import { attachComposer } from "../lib/composer";
import { safeFileName } from "../lib/text";
import { flushTokens, newTurn, renderTurn, storedTurn, type AnswerContext, type Turn } from "./answer";
import { button, errorText, exportDialog } from "./common";
import { renderFirstRun } from "./firstRun";
import { recordFirstToken } from "../lib/metrics";

/** Pixels from the bottom within which the transcript keeps following new text. */
const STICK_PX = 80;

export class ChatScreen implements Screen {
  turns: Turn[] = [];
  conversationId: number | null = null;
  title = "";
  /** Collections to search; empty means all. */
  scope: string[] = [];
  draft = "";

  private streaming: Turn | null = null;
  private frame = 0;
  private loadSeq = 0;
  private turnEls = new Map<Turn, HTMLElement>();
  private root: HTMLElement | null = null;
  private transcript: HTMLElement | null = null;
  private box: HTMLTextAreaElement | null = null;
  private actionSlot: HTMLElement | null = null;
  private headerSlot: HTMLElement | null = null;

  constructor(private app: App) {}

  get isStreaming(): boolean {
    return this.streaming !== null;
  }

  private get mounted(): boolean {
    return !!this.root?.isConnected;
  }

  private readonly ctx: AnswerContext = {
    openSource: (ref) => this.app.openSource(ref),
    copy: (text) => copyText(text),
  };

  // ----- Rendering -----

  render(): HTMLElement {
    this.turnEls.clear();
    const box = h("textarea", {
      class: "question-input",
      testid: "question-input",
      rows: 2,
      placeholder: t("chat.placeholder"),
      "aria-label": t("chat.inputLabel"),
      oninput: () => {
        this.draft = box.value;
        this.fitBox();
      },
    });
    box.value = this.draft;
    attachComposer(box, {
      send: (text) => this.send(text),
      cancel: () => {
        if (!this.isStreaming) return false;
        void this.cancel();
        return true;
      },
    });
    this.box = box;

    this.transcript = h("div", { class: "transcript" });
    this.renderTranscript();
    this.headerSlot = h("div", { class: "chat-header" });
    this.renderHeader();
    this.actionSlot = h("div", { class: "composer-action" });
    this.renderAction();
    this.fitBox();

    this.root = h(
      "section",
      { class: "screen chat-screen", "aria-label": t("nav.chat") },
      this.headerSlot,
      this.transcript,
      h(
        "div",
        { class: "composer" },
        h("div", { class: "composer-box" }, box, this.actionSlot),
        h("p", { class: "composer-hint" }, t("chat.hint")),
      ),
    );
    queueMicrotask(() => this.scrollToBottom(true));
    return this.root;
  }

  private renderHeader(): void {
    if (!this.headerSlot) return;
    const options: { label: string; value: string[] }[] = [
      { label: t("chat.scopeAll"), value: [] },
      ...this.app.collections.map((c) => ({ label: c.name, value: [c.name] })),
    ];
    const key = (v: string[]) => v.join("\n");
    if (!options.some((o) => key(o.value) === key(this.scope))) options.push({ label: this.scope.join(", "), value: this.scope });
    const select = h(
      "select",
      {
        class: "scope-select",
        testid: "scope-select",
        "aria-label": t("chat.scope"),
        onchange: () => {
          this.scope = options[select.selectedIndex]?.value ?? [];
        },
      },
      options.map((o) => h("option", { value: key(o.value) }, o.label)),
    );
    select.selectedIndex = options.findIndex((o) => key(o.value) === key(this.scope));
    replaceChildren(
      this.headerSlot,
      h("h1", { class: "chat-title" }, this.title || (this.conversationId === null ? t("conv.new") : t("conv.untitled"))),
      h("label", { class: "scope" }, h("span", { class: "scope-label" }, t("chat.scope")), select),
      button(t("chat.export"), () => void this.exportConversation(), {
        icon: "export",
        class: "btn small",
        testid: "export",
        disabled: this.conversationId === null || this.isStreaming,
      }),
    );
  }

  private renderTranscript(): void {
    if (!this.transcript) return;
    const firstRun = this.app.status?.model.state === "none" ? renderFirstRun(this.app) : null;
    const empty =
      this.turns.length === 0 && !firstRun
        ? h(
            "div",
            { class: "empty-state" },
            h("div", { class: "empty-icon" }, icon("chat")),
            h("h2", null, t("chat.emptyTitle")),
            h("p", null, t("chat.emptyBody")),
          )
        : null;
    replaceChildren(
      this.transcript,
      firstRun,
      empty,
      this.turns.map((turn) => {
        const el = renderTurn(turn, this.ctx);
        this.turnEls.set(turn, el);
        return el;
      }),
    );
  }

  private renderAction(): void {
    if (!this.actionSlot) return;
    replaceChildren(
      this.actionSlot,
      this.isStreaming
        ? button(t("chat.stop"), () => void this.cancel(), { icon: "stop", class: "btn stop", testid: "stop" })
        : button(
            t("chat.send"),
            () => {
              const text = this.box?.value.trim() ?? "";
              if (text) this.send(text);
              else this.box?.focus();
            },
            { icon: "send", class: "btn primary send", testid: "send" },
          ),
    );
  }

  private fitBox(): void {
    if (!this.box) return;
    // Grow with the text without inline styles (the CSP forbids them).
    const lines = this.box.value.split("\n").length;
    this.box.rows = Math.min(8, Math.max(2, lines));
  }

  private updateTurn(turn: Turn): void {
    const old = this.turnEls.get(turn);
    if (!old || !this.mounted) return;
    const stick = this.nearBottom();
    const el = renderTurn(turn, this.ctx);
    old.replaceWith(el);
    this.turnEls.set(turn, el);
    if (stick) this.scrollToBottom(true);
  }

  private nearBottom(): boolean {
    const tr = this.transcript;
    return !tr || tr.scrollHeight - tr.scrollTop - tr.clientHeight < STICK_PX;
  }

  private scrollToBottom(force: boolean): void {
    const tr = this.transcript;
    if (tr && (force || this.nearBottom())) tr.scrollTop = tr.scrollHeight;
  }

  /** The collection list changed: refresh the scope selector. */
  collectionsChanged(): void {
    if (this.mounted) this.renderHeader();
  }

  setTitle(title: string): void {
    this.title = title;
    if (this.mounted) this.renderHeader();
  }

  // ----- Asking -----

  /** Sends a question; false if one is already being answered. */
  send(question: string): boolean {
    if (this.streaming || !question.trim()) return false;
    const turn = newTurn(question.trim());
    this.turns.push(turn);
    this.streaming = turn;
    this.draft = "";
    if (this.box) {
      this.box.value = "";
      this.fitBox();
    }
    if (this.mounted) {
      this.renderTranscript();
      this.renderAction();
      this.renderHeader();
      this.scrollToBottom(true);
    }
    void this.run(turn);
    return true;
  }

  private async run(turn: Turn): Promise<void> {
    try {
      const res = await ipc.ask(turn.question, this.conversationId, this.scope, (e) => this.onEvent(turn, e));
      this.conversationId = res.conversation_id;
    } catch (e) {
      const err = ipc.toAppError(e);
      if (turn.status === "streaming") {
        if (err.kind === "cancelled") turn.status = "cancelled";
        else {
          turn.status = "error";
          turn.error = err;
        }
      }
    } finally {
      if (turn.status === "streaming") turn.status = turn.answer?.status ?? "cancelled";
      this.streaming = null;
      cancelAnimationFrame(this.frame);
      this.frame = 0;
      flushTokens(turn);
      this.updateTurn(turn);
      if (this.mounted) {
        this.renderAction();
        this.box?.focus();
      }
      await this.app.refreshConversations();
      const summary = this.app.conversations.find((c) => c.id === this.conversationId);
      this.setTitle(summary?.title ?? this.title);
    }
  }

  private onEvent(turn: Turn, e: AskEvent): void {
    switch (e.event) {
      case "evidence":
        turn.sources = e.data.sources;
        turn.quotes = e.data.quotes;
        this.updateTurn(turn);
        break;
      case "token": {
        const first = turn.text === "";
        turn.text += e.data.text;
        this.scheduleFlush(turn);
        if (first) recordFirstToken(e.data.sent_at_ms);
        break;
      }
      case "receipts":
        turn.receipts = e.data;
        break;
      case "done":
        turn.answer = e.data.answer;
        turn.status = e.data.answer.status;
        this.conversationId = e.data.conversation_id;
        this.updateTurn(turn);
        break;
      case "error":
        turn.status = e.data.kind === "cancelled" ? "cancelled" : "error";
        turn.error = e.data.kind === "cancelled" ? null : e.data;
        this.updateTurn(turn);
        break;
      // "citation" and "flag" arrive again, complete, in the done answer.
      default:
        break;
    }
  }

  private scheduleFlush(turn: Turn): void {
    if (turn.shown === 0 && !this.frame) {
      // The first token shows at once; later ones are batched per frame.
      flushTokens(turn);
      this.scrollToBottom(false);
      return;
    }
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      const stick = this.nearBottom();
      flushTokens(turn);
      if (stick) this.scrollToBottom(true);
    });
  }

  async cancel(): Promise<void> {
    if (!this.streaming) return;
    try {
      await ipc.askCancel();
    } catch (e) {
      this.app.toast(errorText(e));
    }
  }

  // ----- Conversations -----

  newConversation(): void {
    if (this.streaming) {
      this.app.toast(t("error.busy"));
      return;
    }
    this.loadSeq += 1;
    this.turns = [];
    this.conversationId = null;
    this.title = "";
    this.app.renderSidebar();
    if (this.mounted) {
      this.renderHeader();
      this.renderTranscript();
      this.box?.focus();
    }
  }

  async load(id: number): Promise<void> {
    if (this.streaming) {
      this.app.toast(t("error.busy"));
      return;
    }
    const seq = ++this.loadSeq;
    try {
      const view = await ipc.conversationGet(id);
      if (seq !== this.loadSeq) return; // a later click won
      this.conversationId = id;
      this.title = view.summary.title;
      this.scope = view.collections;
      this.turns = view.turns.map(storedTurn);
    } catch (e) {
      this.app.toast(errorText(e));
      return;
    }
    this.app.renderSidebar();
    if (this.mounted) {
      this.renderHeader();
      this.renderTranscript();
      this.scrollToBottom(true);
    }
  }

  /** Re-renders the transcript (the first-run guide shows while no model is installed). */
  refresh(): void {
    if (this.mounted) this.renderTranscript();
  }

  private async exportConversation(): Promise<void> {
    if (this.conversationId === null) return;
    const id = this.conversationId;
    const choice = await exportDialog();
    if (!choice) return;
    try {
      const markdown = await ipc.conversationExport(id, choice.reason, choice.deidentify);
      const name = `${safeFileName(this.title, "conversation")}.md`;
      const path = await ipc.saveTextFile(name, markdown);
      if (path) this.app.toast(t("chat.exported", { path }));
    } catch (e) {
      this.app.toast(errorText(e));
    }
  }
}

async function copyText(text: string): Promise<void> {
  await navigator.clipboard.writeText(text);
}
