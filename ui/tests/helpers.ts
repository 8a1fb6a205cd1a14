import { clearMocks } from "@tauri-apps/api/mocks";
import { FakeBackend } from "../dev/fakeBackend";
import { App } from "../src/app";

export let current: { app: App; root: HTMLElement; fake: FakeBackend } | null = null;

/** Lets pending promises and zero-delay timers run. */
export async function settle(rounds = 8): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setTimeout(r, 0));
}

export async function startApp(fake = new FakeBackend()) {
  fake.install();
  const root = document.createElement("div");
  document.body.appendChild(root);
  const app = new App(root);
  await app.start();
  await settle();
  current = { app, root, fake };
  return current;
}

export function stopApp(): void {
  current?.app.destroy();
  current = null;
  clearMocks();
  document.body.replaceChildren();
}

export const all = (id: string, root: ParentNode = document) => [...root.querySelectorAll<HTMLElement>(`[data-testid="${id}"]`)];

export function one<T extends HTMLElement = HTMLElement>(id: string, root: ParentNode = document): T {
  const found = all(id, root);
  if (found.length !== 1) throw new Error(`expected one [data-testid="${id}"], found ${found.length}`);
  return found[0] as T;
}

export function type(input: HTMLInputElement | HTMLTextAreaElement, value: string): void {
  input.value = value;
  input.dispatchEvent(new Event("input", { bubbles: true }));
}

export function press(target: EventTarget, key: string, init: KeyboardEventInit = {}): KeyboardEvent {
  const e = new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true, ...init });
  target.dispatchEvent(e);
  return e;
}
