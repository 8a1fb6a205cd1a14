import { Channel } from "@tauri-apps/api/core";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import * as ipc from "../src/ipc";

type Seen = { cmd: string; args: Record<string, unknown> };
let seen: Seen[] = [];

beforeEach(() => {
  seen = [];
  mockIPC((cmd, args) => {
    seen.push({ cmd, args: (args ?? {}) as Record<string, unknown> });
    return null;
  });
});
afterEach(() => clearMocks());

const noop = () => {};
const settings = { ui_language: "ko", profile: null, chat_model: null, embedding_model: null, threads: 4, context_length: null, hybrid_search: null } as const;

// Each wrapper, the command it must send, and the exact argument object (channels checked separately).
const cases: [string, () => Promise<unknown>, string, Record<string, unknown>][] = [
  ["appStatus", () => ipc.appStatus(), "app_status", {}],
  ["settingsSet", () => ipc.settingsSet({ ...settings }), "settings_set", { settings }],
  ["modelsList", () => ipc.modelsList(), "models_list", {}],
  ["modelsImport", () => ipc.modelsImport("/m.gguf", noop), "models_import", { path: "/m.gguf" }],
  ["modelsVerify", () => ipc.modelsVerify("m", noop), "models_verify", { name: "m" }],
  ["modelsRemove", () => ipc.modelsRemove("m"), "models_remove", { name: "m" }],
  ["modelsSetDefault", () => ipc.modelsSetDefault("m"), "models_set_default", { name: "m" }],
  ["pickFile", () => ipc.pickFile(), "pick_file", {}],
  ["libraryOverview", () => ipc.libraryOverview(), "library_overview", {}],
  ["libraryFiles", () => ipc.libraryFiles("docs"), "library_files", { collection: "docs" }],
  ["libraryAddFolder", () => ipc.libraryAddFolder("docs", "/d", noop), "library_add_folder", { collection: "docs", path: "/d" }],
  ["libraryReindex", () => ipc.libraryReindex("docs", noop), "library_reindex", { collection: "docs" }],
  ["libraryCancel", () => ipc.libraryCancel(), "library_cancel", {}],
  ["librarySetOcr", () => ipc.librarySetOcr("docs", false), "library_set_ocr", { collection: "docs", on: false }],
  ["embeddingStatus", () => ipc.embeddingStatus(), "embedding_status", {}],
  ["libraryRemove", () => ipc.libraryRemove("docs"), "library_remove", { collection: "docs" }],
  [
    "librarySearch",
    () => ipc.librarySearch("q", ["docs"], null, 20),
    "library_search",
    { query: "q", collections: ["docs"], doc_type: null, limit: 20 },
  ],
  ["pickFolder", () => ipc.pickFolder(), "pick_folder", {}],
  ["documentPage", () => ipc.documentPage("/a.pdf", 3), "document_page", { path: "/a.pdf", page: 3 }],
  ["revealFile", () => ipc.revealFile("/a.pdf"), "reveal_file", { path: "/a.pdf" }],
  [
    "ask",
    () => ipc.ask("질문?", 7, ["docs"], noop),
    "ask",
    { question: "질문?", conversation_id: 7, collections: ["docs"] },
  ],
  ["askCancel", () => ipc.askCancel(), "ask_cancel", {}],
  ["conversationsList", () => ipc.conversationsList(), "conversations_list", {}],
  ["conversationGet", () => ipc.conversationGet(3), "conversation_get", { id: 3 }],
  ["conversationRename", () => ipc.conversationRename(3, "t"), "conversation_rename", { id: 3, title: "t" }],
  ["conversationDelete", () => ipc.conversationDelete(3), "conversation_delete", { id: 3 }],
  [
    "conversationExport",
    () => ipc.conversationExport(3, "referral", true),
    "conversation_export",
    { id: 3, reason: "referral", deidentify: true },
  ],
  ["saveTextFile", () => ipc.saveTextFile("a.md", "# x"), "save_text_file", { suggested_name: "a.md", text: "# x" }],
];

describe("IPC wrappers", () => {
  test.each(cases)("%s sends %s with snake_case args", async (_name, call, cmd, expected) => {
    await call();
    expect(seen).toHaveLength(1);
    expect(seen[0]!.cmd).toBe(cmd);
    const { on_event, ...rest } = seen[0]!.args;
    expect(rest).toEqual(expected);
    const streaming = ["models_import", "models_verify", "library_add_folder", "library_reindex", "ask"];
    if (streaming.includes(cmd)) expect(on_event).toBeInstanceOf(Channel);
    else expect(on_event).toBeUndefined();
  });

  test("every command of the contract has a wrapper", () => {
    const commands = new Set(cases.map((c) => c[2]));
    expect(commands.size).toBe(28);
  });

  test("a new conversation is asked with conversation_id null, not undefined", async () => {
    await ipc.ask("q", null, [], noop);
    expect(seen[0]!.args).toHaveProperty("conversation_id", null);
  });

  test("channel messages reach the handler", async () => {
    const got: unknown[] = [];
    mockIPC((_cmd, args) => {
      const ch = (args as { on_event: Channel<unknown> }).on_event;
      ch.onmessage({ event: "token", data: { text: "안녕", sent_at_ms: Date.now() } });
      return { conversation_id: 1 };
    });
    await expect(ipc.ask("q", null, [], (e) => got.push(e))).resolves.toEqual({ conversation_id: 1 });
    expect(got).toEqual([{ event: "token", data: { text: "안녕", sent_at_ms: expect.any(Number) } }]);
  });

  test("rejections become AppError; unknown shapes become internal", async () => {
    expect(ipc.toAppError({ kind: "no_model", message: "No model." })).toEqual({ kind: "no_model", message: "No model." });
    expect(ipc.toAppError({ kind: "weird", message: "x" }).kind).toBe("internal");
    expect(ipc.toAppError("boom")).toEqual({ kind: "internal", message: "boom" });
    mockIPC(() => Promise.reject({ kind: "busy", message: "An answer is being generated." }));
    await expect(ipc.askCancel()).rejects.toEqual({ kind: "busy", message: "An answer is being generated." });
  });
});
