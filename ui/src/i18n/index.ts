import { en, type MessageKey, type Messages } from "./en";
import { ko } from "./ko";

export type Lang = "ko" | "en";
export type { MessageKey };

export const MESSAGES: Record<Lang, Messages> = { en, ko };

let current: Lang = "en";

export function lang(): Lang {
  return current;
}

export function setLang(next: Lang): void {
  current = next;
  document.documentElement.lang = next;
}

/** The language to start in: the saved setting, else the OS locale (ko* → Korean). */
export function pickLang(setting: Lang | null | undefined, osLocale: string | null | undefined): Lang {
  if (setting === "ko" || setting === "en") return setting;
  return (osLocale ?? "").toLowerCase().startsWith("ko") ? "ko" : "en";
}

/** The message for `key`, with {name} placeholders filled. */
export function t(key: MessageKey, params?: Record<string, string | number>): string {
  const text = MESSAGES[current][key] ?? en[key];
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}
