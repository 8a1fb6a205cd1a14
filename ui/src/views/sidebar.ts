// The conversation list in the sidebar: open, rename in place, delete.
import type { App } from "../app";
import { h } from "../dom";
import { lang, t } from "../i18n";
import * as ipc from "../ipc";
import type { ConversationSummary } from "../ipc/types";
import { formatTime } from "../lib/text";
import { button, confirmDialog, errorText, iconButton } from "./common";

/** The conversation being renamed and the title typed so far (kept across sidebar re-renders). */
let renaming: { id: number; value: string } | null = null;

function renameInput(app: App, c: ConversationSummary, draft: { value: string }): HTMLElement {
  const input = h("input", {
    type: "text",
    class: "rename-input",
    value: draft.value,
    "aria-label": t("conv.renameLabel"),
    testid: "conversation-rename-input",
    oninput: () => {
      draft.value = input.value;
    },
  });
  let finished = false;
  const finish = async (save: boolean) => {
    if (finished) return;
    finished = true;
    renaming = null;
    const title = input.value.trim();
    if (save && title && title !== c.title) {
      try {
        await ipc.conversationRename(c.id, title);
        if (app.chat.conversationId === c.id) app.chat.setTitle(title);
      } catch (e) {
        app.toast(errorText(e));
      }
      await app.refreshConversations();
    } else {
      app.renderSidebar();
    }
  };
  input.addEventListener("keydown", (e) => {
    if (e.isComposing || e.keyCode === 229) return;
    if (e.key === "Enter") {
      e.preventDefault();
      void finish(true);
    } else if (e.key === "Escape") {
      e.preventDefault();
      void finish(false);
    }
  });
  input.addEventListener("blur", () => void finish(true));
  queueMicrotask(() => {
    input.focus();
    input.select();
  });
  return h("li", { class: "conversation renaming" }, input);
}

async function remove(app: App, c: ConversationSummary): Promise<void> {
  const title = c.title || t("conv.untitled");
  if (!(await confirmDialog(t("conv.deleteConfirm", { title }), t("common.delete")))) return;
  try {
    await ipc.conversationDelete(c.id);
    if (app.chat.conversationId === c.id) app.chat.newConversation();
  } catch (e) {
    app.toast(errorText(e));
  }
  await app.refreshConversations();
}

export function renderConversations(app: App): HTMLElement {
  const items = app.conversations.map((c) => {
    if (renaming?.id === c.id) return renameInput(app, c, renaming);
    const active = app.chat.conversationId === c.id;
    return h(
      "li",
      { class: active ? "conversation active" : "conversation" },
      h(
        "button",
        {
          type: "button",
          class: "conversation-open",
          testid: "conversation-item",
          "data-id": c.id,
          "aria-current": active ? "true" : null,
          onclick: () => {
            app.navigate("chat");
            void app.chat.load(c.id);
          },
        },
        h("span", { class: "conversation-title" }, c.title || t("conv.untitled")),
        h("span", { class: "conversation-meta" }, formatTime(c.updated_at, lang())),
      ),
      h(
        "span",
        { class: "conversation-actions" },
        iconButton("edit", t("conv.rename"), () => {
          renaming = { id: c.id, value: c.title };
          app.renderSidebar();
        }, { testid: "conversation-rename" }),
        iconButton("trash", t("conv.delete"), () => void remove(app, c), { testid: "conversation-delete" }),
      ),
    );
  });
  return h(
    "section",
    { class: "conversations", "aria-label": t("conv.heading") },
    button(t("conv.new"), () => {
      app.navigate("chat");
      app.chat.newConversation();
    }, { icon: "plus", class: "btn new-conversation", testid: "new-conversation" }),
    h("h2", { class: "sidebar-heading" }, t("conv.heading")),
    items.length ? h("ul", { class: "conversation-list" }, items) : h("p", { class: "muted small" }, t("conv.empty")),
  );
}
