import { afterEach, describe, expect, test } from "vitest";
import { FakeBackend, status } from "../dev/fakeBackend";
import { one, settle, startApp, stopApp, type } from "./helpers";

afterEach(stopApp);

/** The fake backend in English, with these saved idle minutes and policy. */
function fake(idle: number | null, policyLocked: string[] = []): FakeBackend {
  const backend = new FakeBackend();
  backend.status = status({ os_locale: "en-US", policy_locked: policyLocked });
  backend.status.settings.idle_lock_minutes = idle;
  return backend;
}

async function openSettings(backend: FakeBackend): Promise<HTMLInputElement> {
  await startApp(backend);
  one("nav-settings").click();
  await settle();
  return one<HTMLInputElement>("idle-lock-input");
}

const message = () => document.querySelector(".settings-screen .form-message")?.textContent;

describe("idle lock minutes", () => {
  test("are edited and saved; out of range is refused; empty means the default", async () => {
    const backend = fake(20);
    const idle = await openSettings(backend);
    expect(idle.disabled).toBe(false);
    expect(idle.value).toBe("20");

    for (const bad of ["0", "1441", "2.5"]) {
      type(idle, bad);
      one("settings-save").click();
      await settle();
      expect(backend.called("settings_set")).toHaveLength(0);
      expect(message()).toBe("Enter minutes from 1 to 1440, or leave empty for 15.");
    }

    type(idle, "5");
    one("settings-save").click();
    await settle();
    expect(backend.called("settings_set").at(-1)).toMatchObject({ settings: { idle_lock_minutes: 5 } });
    expect(backend.status.settings.idle_lock_minutes).toBe(5);

    type(one<HTMLInputElement>("idle-lock-input"), "");
    one("settings-save").click();
    await settle();
    const sent = backend.called("settings_set").at(-1) as { settings: { idle_lock_minutes?: number | null } };
    expect(sent.settings.idle_lock_minutes ?? null).toBeNull();
  });

  test("are shown but not editable when the site policy fixes them", async () => {
    const backend = fake(5, ["idle_lock_minutes"]);
    const idle = await openSettings(backend);
    expect(idle.disabled).toBe(true);
    expect(idle.value).toBe("5");
    expect(idle.closest(".field")?.textContent).toContain("Fixed by your organisation's policy.");
    // Saving other settings sends the fixed value back unchanged.
    type(one<HTMLInputElement>("threads-input"), "4");
    one("settings-save").click();
    await settle();
    expect(backend.called("settings_set").at(-1)).toMatchObject({ settings: { idle_lock_minutes: 5, threads: 4 } });
  });
});
