// The lock screen: shown alone (no chat, no sources, no conversation titles)
// while the vault is locked. Unlock with the OS keychain in one click, or with
// the passphrase or the recovery key; a refusal says which way failed and why.
import { h } from "../dom";
import { t, type MessageKey } from "../i18n";
import * as ipc from "../ipc";
import type { LockReason, UnlockMethod, VaultState } from "../ipc/types";
import { button, errorText, field } from "./common";
import { NewVaultScreen } from "./newVault";

const REASONS: readonly LockReason[] = [
  "locked",
  "wrong-passphrase",
  "wrong-recovery-key",
  "bad-recovery-key",
  "keychain-missing",
  "keychain-locked",
  "keychain-unavailable",
  "keychain-invalid",
  "keychain-failed",
  "no-such-unlock",
  "no-vault",
  "no-keychain-for-vault",
  "other",
];

/** The localised sentence for a lock or refusal reason (unknown ones read as "other"). */
export function reasonText(reason: string | null): string {
  const known = REASONS.includes(reason as LockReason) ? (reason as LockReason) : "other";
  return t(`lock.reason.${known}` as MessageKey);
}

export class LockScreen {
  private error: HTMLElement = h("p", { class: "lock-error", role: "alert", testid: "unlock-error" });
  private busy = false;

  /** `onUnlocked` runs once the vault opened. */
  constructor(
    private state: VaultState,
    private onUnlocked: () => void,
  ) {}

  render(): HTMLElement {
    // No vault, and no keychain to make one in: offer a passphrase-only one.
    if (this.state.reason === "no-keychain-for-vault") return new NewVaultScreen(this.onUnlocked).render();
    const passphrase = h("input", { type: "password", autocomplete: "off", testid: "unlock-passphrase" });
    const recovery = h("input", {
      type: "text",
      autocomplete: "off",
      spellcheck: "false",
      placeholder: t("lock.recoveryPlaceholder"),
      testid: "unlock-recovery",
    });
    const form = (method: UnlockMethod, input: HTMLInputElement, label: string) =>
      h(
        "form",
        {
          class: "lock-form",
          testid: `unlock-${method}-form`,
          onsubmit: (e: SubmitEvent) => {
            e.preventDefault();
            void this.unlock(method, input);
          },
        },
        field(label, input),
        h("button", { type: "submit", class: "btn", testid: `unlock-${method}-submit` }, t("lock.unlock")),
      );
    this.showReason(this.state.reason === "locked" ? null : this.state.reason, this.state.message);
    return h(
      "div",
      { class: "lock-screen", testid: "lock-screen", role: "dialog", "aria-modal": "true", "aria-labelledby": "lock-title" },
      h(
        "div",
        { class: "lock-card" },
        h("span", { class: "brand-mark", "aria-hidden": "true" }, "實"),
        h("h1", { id: "lock-title" }, t("lock.title")),
        h("p", { class: "hint" }, t("lock.explain")),
        this.state.reason === "locked" ? h("p", { class: "hint" }, t("lock.reason.locked")) : null,
        button(t("lock.keychain"), () => void this.unlock("keychain", null), { class: "btn primary", testid: "unlock-keychain" }),
        this.state.passphrase ? form("passphrase", passphrase, t("lock.passphrase")) : null,
        this.state.recovery_key ? form("recovery_key", recovery, t("lock.recoveryKey")) : null,
        this.error,
      ),
    );
  }

  private showReason(reason: string | null, message: string | null): void {
    this.error.textContent = reason ? reasonText(reason) : "";
    this.error.title = message ?? "";
  }

  private async unlock(method: UnlockMethod, input: HTMLInputElement | null): Promise<void> {
    if (this.busy) return;
    const secret = input ? input.value : null;
    if (input && !secret?.trim()) {
      this.error.textContent = t("lock.empty");
      input.focus();
      return;
    }
    this.busy = true;
    this.error.textContent = t("lock.working");
    try {
      const outcome = await ipc.vaultUnlock(method, secret);
      if (outcome.unlocked) {
        if (input) input.value = "";
        this.onUnlocked();
        return;
      }
      this.showReason(outcome.reason ?? "other", outcome.message);
      if (input) {
        input.select();
        input.focus();
      }
    } catch (e) {
      this.error.textContent = errorText(e);
    } finally {
      this.busy = false;
    }
  }
}
