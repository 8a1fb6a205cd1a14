// The first start on a machine without an OS keychain: no vault can be made
// there, so the lock screen offers this form instead — a passphrase (typed
// twice) makes a vault that opens by passphrase only. The recovery key the
// core makes with it is shown once, then the app opens unlocked.
import { h, replaceChildren } from "../dom";
import { t } from "../i18n";
import * as ipc from "../ipc";
import { button, errorText, field } from "./common";

/** The core's minimum (characters after NFC and trimming); it checks again. */
export const MIN_PASSPHRASE_CHARS = 8;

export class NewVaultScreen {
  private card: HTMLElement = h("div", { class: "lock-card" });
  private error: HTMLElement = h("p", { class: "lock-error", role: "alert", testid: "new-vault-error" });
  private busy = false;

  /** `onUnlocked` runs once the vault is made and its recovery key was seen. */
  constructor(private onUnlocked: () => void) {}

  render(): HTMLElement {
    const passphrase = h("input", { type: "password", autocomplete: "new-password", testid: "new-vault-passphrase" });
    const confirm = h("input", { type: "password", autocomplete: "new-password", testid: "new-vault-confirm" });
    replaceChildren(
      this.card,
      h("span", { class: "brand-mark", "aria-hidden": "true" }, "實"),
      h("h1", { id: "lock-title" }, t("newVault.title")),
      h("p", { class: "hint" }, t("newVault.explain")),
      h(
        "form",
        {
          class: "lock-form",
          testid: "new-vault-form",
          onsubmit: (e: SubmitEvent) => {
            e.preventDefault();
            void this.create(passphrase, confirm);
          },
        },
        field(t("newVault.passphrase"), passphrase, t("newVault.hint")),
        field(t("newVault.confirm"), confirm),
        h("button", { type: "submit", class: "btn primary", testid: "new-vault-submit" }, t("newVault.create")),
      ),
      this.error,
    );
    return h(
      "div",
      { class: "lock-screen", testid: "new-vault", role: "dialog", "aria-modal": "true", "aria-labelledby": "lock-title" },
      this.card,
    );
  }

  private async create(passphrase: HTMLInputElement, confirm: HTMLInputElement): Promise<void> {
    if (this.busy) return;
    if ([...passphrase.value.normalize("NFC").trim()].length < MIN_PASSPHRASE_CHARS) {
      this.error.textContent = t("newVault.tooShort");
      passphrase.focus();
      return;
    }
    if (passphrase.value !== confirm.value) {
      this.error.textContent = t("newVault.mismatch");
      confirm.select();
      confirm.focus();
      return;
    }
    this.busy = true;
    this.error.textContent = t("newVault.working");
    try {
      const created = await ipc.vaultCreate(passphrase.value);
      passphrase.value = "";
      confirm.value = "";
      if (created.recovery_key) this.showRecoveryKey(created.recovery_key);
      else this.onUnlocked();
    } catch (e) {
      this.error.textContent = errorText(e);
    } finally {
      this.busy = false;
    }
  }

  /** Shown once: the key lives only in the user's notes from now on. */
  private showRecoveryKey(key: string): void {
    replaceChildren(
      this.card,
      h("span", { class: "brand-mark", "aria-hidden": "true" }, "實"),
      h("h1", { id: "lock-title" }, t("newVault.recoveryTitle")),
      h("p", { class: "hint" }, t("newVault.recoveryExplain")),
      h("p", { class: "recovery-key", testid: "new-vault-recovery-key" }, h("code", null, key)),
      button(
        t("newVault.recoveryDone"),
        () => {
          replaceChildren(this.card);
          this.onUnlocked();
        },
        { class: "btn primary", testid: "new-vault-recovery-done" },
      ),
    );
  }
}
