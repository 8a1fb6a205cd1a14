import { afterEach, describe, expect, test } from "vitest";
import { FakeBackend } from "../dev/fakeBackend";
import { all, one, settle, startApp, stopApp, type } from "./helpers";

afterEach(() => stopApp());

/** The fake backend, in English, on a machine without a keychain and without a vault. */
function noKeychain(): FakeBackend {
  const fake = new FakeBackend();
  fake.status.settings.ui_language = "en";
  fake.vault.noKeychainForVault = true;
  return fake;
}

function fill(passphrase: string, confirm: string): void {
  type(one<HTMLInputElement>("new-vault-passphrase"), passphrase);
  type(one<HTMLInputElement>("new-vault-confirm"), confirm);
  one("new-vault-submit").click();
}

describe("passphrase-only vault", () => {
  test("without a keychain the app offers a passphrase instead of an unlock it cannot do", async () => {
    await startApp(noKeychain());
    one("new-vault");
    expect(all("unlock-keychain")).toHaveLength(0);
    expect(all("nav-chat")).toHaveLength(0);
    expect(document.body.textContent).toContain("Protect your library with a passphrase");
  });

  test("a mismatch or a short passphrase is refused before the shell is asked", async () => {
    const { fake } = await startApp(noKeychain());
    fill("correct horse battery", "correct horse batterx");
    await settle();
    expect(one("new-vault-error").textContent).toBe("The two passphrases differ.");
    fill("short", "short");
    await settle();
    expect(one("new-vault-error").textContent).toBe("Use at least 8 characters.");
    // Eight characters once trimmed, as the core counts them.
    fill("  seven7  ", "  seven7  ");
    await settle();
    expect(one("new-vault-error").textContent).toBe("Use at least 8 characters.");
    expect(fake.called("vault_create")).toHaveLength(0);
    one("new-vault");
  });

  test("a matching passphrase makes the vault, shows the recovery key once, then opens the app", async () => {
    const { fake } = await startApp(noKeychain());
    fill("밤하늘 별빛 여덟 글자", "밤하늘 별빛 여덟 글자");
    await settle();
    expect(fake.called("vault_create")).toEqual([{ passphrase: "밤하늘 별빛 여덟 글자" }]);
    expect(one("new-vault-recovery-key").textContent).toBe(fake.vault.recoveryKey);
    expect(all("nav-chat")).toHaveLength(0);
    one("new-vault-recovery-done").click();
    await settle();
    expect(all("new-vault")).toHaveLength(0);
    expect(all("new-vault-recovery-key")).toHaveLength(0);
    one("nav-chat");
    expect(document.body.textContent).not.toContain(fake.vault.recoveryKey);
  });

  test("the shell's refusal is shown and the form stays", async () => {
    const fake = noKeychain();
    fake.overrides.vault_create = () => {
      throw { kind: "invalid_input", message: "the data directory holds library data but no vault" };
    };
    await startApp(fake);
    fill("correct horse battery", "correct horse battery");
    await settle();
    expect(one("new-vault-error").textContent).toContain("library data but no vault");
    one("new-vault");
  });
});
