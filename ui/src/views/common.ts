// Small building blocks shared by the screens.
import { h, icon, replaceChildren, type Child, type IconName, type Props } from "../dom";
import { t } from "../i18n";
import { toAppError } from "../ipc";
import type { AppError } from "../ipc/types";
import type { Emitter } from "../store";

/** A box whose content is rebuilt whenever `source` emits, for as long as it stays in the document. */
export function reactive(source: Emitter, render: () => Child, className = "reactive"): HTMLElement {
  const box = h("div", { class: className });
  replaceChildren(box, render());
  const off = source.subscribe(() => {
    if (!box.isConnected) {
      off();
      return;
    }
    replaceChildren(box, render());
  });
  return box;
}

export function button(
  label: string,
  onclick: (e: MouseEvent) => void,
  props: Props & { icon?: IconName; iconEnd?: IconName } = {},
): HTMLButtonElement {
  const { icon: name, iconEnd, class: cls, ...rest } = props;
  return h(
    "button",
    { type: "button", class: cls ?? "btn", ...rest, onclick },
    name ? icon(name) : null,
    h("span", { class: "btn-label" }, label),
    iconEnd ? icon(iconEnd) : null,
  );
}

/** A button showing only an icon, labelled for screen readers and tooltips. */
export function iconButton(name: IconName, label: string, onclick: (e: MouseEvent) => void, props: Props = {}) {
  return h("button", { type: "button", class: "icon-btn", "aria-label": label, title: label, ...props, onclick }, icon(name));
}

/** An error from the shell: localised headline for its kind, the shell's sentence beneath. */
export function errorBlock(err: AppError): HTMLElement {
  return h(
    "div",
    { class: "error-block", role: "alert", "data-kind": err.kind },
    icon("alert"),
    h("div", null, h("strong", { class: "error-title" }, t(`error.${err.kind}`)), h("p", { class: "error-message" }, err.message)),
  );
}

/** One line for a toast: localised headline and the shell's message. */
export function errorText(e: unknown): string {
  const err = toAppError(e);
  return `${t(`error.${err.kind}`)}: ${err.message}`;
}

/** A labelled form field. */
export function field(label: string, control: HTMLElement, hint?: string): HTMLElement {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    control,
    hint ? h("p", { class: "hint" }, hint) : null,
  );
}

let openDialog: HTMLElement | null = null;

/** An in-app confirmation (native confirm() is unreliable in webviews). */
export function confirmDialog(message: string, confirmLabel: string): Promise<boolean> {
  openDialog?.remove();
  const previous = document.activeElement as HTMLElement | null;
  return new Promise((resolve) => {
    const close = (answer: boolean) => {
      overlay.remove();
      if (openDialog === overlay) openDialog = null;
      previous?.focus?.();
      resolve(answer);
    };
    const ok = h("button", { type: "button", class: "btn danger", testid: "confirm-ok", onclick: () => close(true) }, confirmLabel);
    const cancel = h("button", { type: "button", class: "btn", onclick: () => close(false) }, t("common.cancel"));
    const overlay = modalOverlay(
      () => close(false),
      h(
        "div",
        { class: "dialog", role: "alertdialog", "aria-modal": "true", "aria-label": message },
        h("p", null, message),
        h("div", { class: "dialog-actions" }, cancel, ok),
      ),
    );
    document.body.appendChild(overlay);
    openDialog = overlay;
    cancel.focus();
  });
}

/** A modal overlay around `dialog`: Escape or a click beside the dialog dismisses it. */
function modalOverlay(dismiss: () => void, dialog: HTMLElement): HTMLElement {
  const overlay = h(
    "div",
    {
      class: "overlay",
      onkeydown: (e: KeyboardEvent) => {
        if (e.key === "Escape") {
          e.preventDefault();
          e.stopPropagation();
          dismiss();
        }
      },
      onclick: (e: MouseEvent) => {
        if (e.target === overlay) dismiss();
      },
    },
    dialog,
  );
  return overlay;
}

/**
 * Asks why a conversation is exported (required: the audit trail records it)
 * and whether to de-identify it; `null` when cancelled.
 */
export function exportDialog(): Promise<{ reason: string; deidentify: boolean } | null> {
  openDialog?.remove();
  const previous = document.activeElement as HTMLElement | null;
  return new Promise((resolve) => {
    const close = (answer: { reason: string; deidentify: boolean } | null) => {
      overlay.remove();
      if (openDialog === overlay) openDialog = null;
      previous?.focus?.();
      resolve(answer);
    };
    const submit = () => {
      if (reason.value.trim()) close({ reason: reason.value.trim(), deidentify: deidentify.checked });
    };
    const ok = h("button", { type: "button", class: "btn primary", testid: "export-ok", disabled: true, onclick: submit }, t("export.confirm"));
    const reason = h("input", {
      type: "text",
      testid: "export-reason",
      placeholder: t("export.reasonPlaceholder"),
      maxlength: 500,
      oninput: () => (ok.disabled = !reason.value.trim()),
      onkeydown: (e: KeyboardEvent) => {
        if (e.key === "Enter") {
          e.preventDefault();
          submit();
        }
      },
    });
    const deidentify = h("input", { type: "checkbox", testid: "export-deidentify" });
    const cancel = h("button", { type: "button", class: "btn", onclick: () => close(null) }, t("common.cancel"));
    const overlay = modalOverlay(
      () => close(null),
      h(
        "div",
        { class: "dialog", role: "dialog", "aria-modal": "true", "aria-label": t("export.title") },
        h("p", null, t("export.title")),
        field(t("export.reason"), reason),
        field(t("export.deidentify"), deidentify),
        h("div", { class: "dialog-actions" }, cancel, ok),
      ),
    );
    document.body.appendChild(overlay);
    openDialog = overlay;
    reason.focus();
  });
}

export function progressBar(done: number, total: number, testid: string, label: string): HTMLElement {
  const bar = h("progress", { testid, max: Math.max(total, 1), "aria-label": label });
  if (total > 0) bar.value = Math.min(done, total);
  else bar.removeAttribute("value"); // indeterminate until the total is known
  return bar;
}

/** A hit or source read by OCR: its confidence, marked when low. */
export function ocrBadge(x: { ocr_confidence?: number | null; low_confidence?: boolean }): HTMLElement | null {
  if (x.low_confidence) {
    return h("span", { class: "badge warn", testid: "low-confidence", title: t("library.lowConfidenceTitle") }, t("library.lowConfidence"));
  }
  if (x.ocr_confidence === null || x.ocr_confidence === undefined) return null;
  return h("span", { class: "badge subtle" }, t("library.ocrBadge", { confidence: x.ocr_confidence }));
}
