import { afterEach, describe, expect, test, vi } from "vitest";
import { FakeBackend } from "../dev/fakeBackend";
import { LOCK_POLL_MS } from "../src/app";
import { all, one, settle, startApp, stopApp, type } from "./helpers";

afterEach(() => {
  vi.useRealTimers();
  stopApp();
});

/** Text of the sample conversation and source page the fake backend serves. */
const DOCUMENT_TEXT = ["암로디핀", "통상 시작 용량"];

/** The fake backend, in English. */
function english(): FakeBackend {
  const fake = new FakeBackend();
  fake.status.settings.ui_language = "en";
  return fake;
}

function shownText(): string {
  return document.body.textContent ?? "";
}

async function openConversationAndSource(): Promise<void> {
  all("conversation-item")[0]!.click();
  await settle();
  expect(shownText()).toContain("암로디핀");
}

describe("lock screen", () => {
  test("lock now hides every conversation, answer and source, then the passphrase unlocks", async () => {
    const { fake, app } = await startApp(english());
    await openConversationAndSource();
    expect(app.chat.turns.length).toBeGreaterThan(0);
    one("lock-now").click();
    await settle();
    expect(fake.called("vault_lock")).toHaveLength(1);
    // Dropped from the UI's memory too, not only from the page.
    expect(app.chat.turns).toEqual([]);
    expect(app.conversations).toEqual([]);
    expect(app.viewer.isOpen).toBe(false);
    one("lock-screen");
    for (const text of DOCUMENT_TEXT) expect(shownText()).not.toContain(text);
    expect(all("conversation-item")).toHaveLength(0);
    expect(all("nav-chat")).toHaveLength(0);

    // A wrong passphrase is named as such, and the screen stays.
    type(one<HTMLInputElement>("unlock-passphrase"), "not the passphrase");
    one("unlock-passphrase-submit").click();
    await settle();
    expect(one("unlock-error").textContent).toBe("Wrong passphrase. Try again.");
    one("lock-screen");

    type(one<HTMLInputElement>("unlock-passphrase"), fake.vault.secret);
    one("unlock-passphrase-submit").click();
    await settle();
    expect(all("lock-screen")).toHaveLength(0);
    expect(fake.called("vault_unlock").map((a) => a.method)).toEqual(["passphrase", "passphrase"]);
    expect(all("conversation-item").length).toBeGreaterThan(0);
  });

  test("the keychain unlocks in one click; a refusal says to use the passphrase or recovery key", async () => {
    const fake = english();
    fake.vault.locked = true;
    fake.vault.keychainRefusal = "keychain-locked";
    await startApp(fake);
    one("lock-screen");
    one("unlock-keychain").click();
    await settle();
    expect(one("unlock-error").textContent).toContain("The OS keychain is locked");
    expect(one("unlock-error").textContent).toContain("passphrase or recovery key");

    type(one<HTMLInputElement>("unlock-recovery"), "ABCD-EFGH-JKMN-PQRS-TVWX-YZ01-2345-6789-0000");
    one("unlock-recovery_key-submit").click();
    await settle();
    expect(one("unlock-error").textContent).toBe("This recovery key does not open this vault.");

    fake.vault.keychainRefusal = null;
    one("unlock-keychain").click();
    await settle();
    expect(all("lock-screen")).toHaveLength(0);
    one("nav-chat");
  });

  test("the idle lock found by the poll shows the lock screen", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const { fake } = await startApp();
    await openConversationAndSource();
    fake.vault.locked = true; // the core's idle lock struck
    await vi.advanceTimersByTimeAsync(LOCK_POLL_MS + 10);
    await settle();
    one("lock-screen");
    for (const text of DOCUMENT_TEXT) expect(shownText()).not.toContain(text);
  });

  test("Korean strings", async () => {
    const fake = new FakeBackend();
    fake.status.settings.ui_language = "ko";
    fake.vault.locked = true;
    await startApp(fake);
    expect(shownText()).toContain("실록이 잠겼습니다");
    type(one<HTMLInputElement>("unlock-passphrase"), "틀린 암호");
    one("unlock-passphrase-submit").click();
    await settle();
    expect(one("unlock-error").textContent).toBe("암호 문구가 틀렸습니다. 다시 입력하세요.");
  });
});

describe("web storage", () => {
  test("no document text, question or answer lands in localStorage, sessionStorage or IndexedDB", async () => {
    const writes: string[] = [];
    const spy = vi.spyOn(Storage.prototype, "setItem").mockImplementation((k: string, v: string) => {
      writes.push(`${k}=${v}`);
    });
    const opened: string[] = [];
    if (globalThis.indexedDB) {
      vi.spyOn(globalThis.indexedDB, "open").mockImplementation((name: string) => {
        opened.push(name);
        throw new Error("IndexedDB is not used");
      });
    }
    const { fake } = await startApp();
    await openConversationAndSource();
    const box = one<HTMLTextAreaElement>("question-input");
    type(box, "김가상 환자에게 추가한 약은?");
    one("send").click();
    await settle(20);
    expect(fake.called("ask")).toHaveLength(1);
    one("lock-now").click();
    await settle();
    spy.mockRestore();
    expect(writes).toEqual([]);
    expect(opened).toEqual([]);
    expect(localStorage.length).toBe(0);
    expect(sessionStorage.length).toBe(0);
  });
});
