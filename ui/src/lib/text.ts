// Offsets and formatting helpers.
//
// Rust counts `char`s (Unicode code points) and bytes; JS strings count UTF-16
// code units. An emoji or a rare Hanja is 1 char in Rust and 2 units in JS, so
// every offset from the shell goes through these conversions.

/** UTF-16 index of the code point at `cp` in `text` (clamped to the text). */
export function codePointToIndex(text: string, cp: number): number {
  if (cp <= 0) return 0;
  let index = 0;
  let count = 0;
  for (const ch of text) {
    if (count === cp) return index;
    index += ch.length;
    count += 1;
  }
  return text.length;
}

/** Splits `text` at a character span [start, end) counted in code points. */
export function splitAtSpan(text: string, start: number, end: number): [string, string, string] {
  const a = codePointToIndex(text, start);
  const b = Math.max(a, codePointToIndex(text, end));
  return [text.slice(0, a), text.slice(a, b), text.slice(b)];
}

/** UTF-16 index of byte offset `byte` of the UTF-8 encoding of `text`, or -1 if it splits a character. */
export function byteToIndex(text: string, byte: number): number {
  let bytes = 0;
  let index = 0;
  for (const ch of text) {
    if (bytes === byte) return index;
    if (bytes > byte) return -1;
    const cp = ch.codePointAt(0)!;
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    index += ch.length;
  }
  return bytes === byte ? index : -1;
}

export function formatBytes(n: number, lang: string): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toLocaleString(lang, { maximumFractionDigits: digits })} ${units[unit]}`;
}

/** Parameters as "7.2B" / "494M". */
export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}B`;
  if (n >= 1e6) return `${Math.round(n / 1e6)}M`;
  if (n >= 1e3) return `${Math.round(n / 1e3)}K`;
  return String(n);
}

export function formatPercent(x: number): string {
  return `${Math.round(x * 100)}%`;
}

/** Unix seconds as a short local date-time. */
export function formatTime(seconds: number, lang: string): string {
  return new Date(seconds * 1000).toLocaleString(lang, {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
}

/** The last path component, for either separator. */
export function baseName(path: string): string {
  const parts = path.split(/[\\/]/).filter(Boolean);
  return parts[parts.length - 1] ?? path;
}

/** A file name safe on every OS, from a conversation title. */
export function safeFileName(title: string, fallback: string): string {
  const cleaned = title.replace(/[\\/:*?"<>|\u0000-\u001f]+/g, " ").replace(/\s+/g, " ").trim();
  return (cleaned || fallback).slice(0, 80);
}
