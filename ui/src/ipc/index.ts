// The only module that talks to the Rust shell. Every command of
// docs/app-ipc.md has one typed wrapper here; argument names are snake_case
// exactly as the contract spells them.
import { Channel, invoke } from "@tauri-apps/api/core";
import type {
  AppError,
  AppStatus,
  AskEvent,
  CollectionInfo,
  ConversationSummary,
  ConversationView,
  EmbeddingStatus,
  ErrorKind,
  FileInfo,
  IngestEvent,
  IngestReport,
  ModelInfo,
  PageView,
  ProgressEvent,
  SearchHit,
  Settings,
  UnlockMethod,
  UnlockOutcome,
  VaultCreated,
  VaultState,
} from "./types";

export type * from "./types";

const KINDS: readonly ErrorKind[] = [
  "invalid_input",
  "not_found",
  "in_use",
  "no_model",
  "model",
  "library",
  "busy",
  "cancelled",
  "vault_locked",
  "internal",
];

/** Whatever a command rejected with, as an AppError (the shell promises that shape; be lenient anyway). */
export function toAppError(e: unknown): AppError {
  if (e && typeof e === "object" && "kind" in e && "message" in e) {
    const { kind, message } = e as { kind: unknown; message: unknown };
    const known = KINDS.includes(kind as ErrorKind) ? (kind as ErrorKind) : "internal";
    return { kind: known, message: String(message) };
  }
  return { kind: "internal", message: e instanceof Error ? e.message : String(e) };
}

function channel<E>(onEvent: (event: E) => void): Channel<E> {
  return new Channel<E>(onEvent);
}

// ----- App and settings -----

export const appStatus = () => invoke<AppStatus>("app_status");
export const settingsSet = (settings: Settings) => invoke<Settings>("settings_set", { settings });

// ----- Vault lock -----

export const vaultState = () => invoke<VaultState>("vault_state");
/** Cheap; polled. Does not count as use for the idle lock. */
export const vaultLocked = () => invoke<boolean>("vault_locked");
export const vaultLock = () => invoke<null>("vault_lock");
export const vaultUnlock = (method: UnlockMethod, secret: string | null) =>
  invoke<UnlockOutcome>("vault_unlock", { method, secret });
/** Makes a vault that opens by passphrase only (no OS keychain), unlocked. */
export const vaultCreate = (passphrase: string) => invoke<VaultCreated>("vault_create", { passphrase });

// ----- Models -----

export const modelsList = () => invoke<ModelInfo[]>("models_list");
export const modelsImport = (path: string, onEvent: (e: ProgressEvent) => void) =>
  invoke<ModelInfo>("models_import", { path, on_event: channel(onEvent) });
export const modelsVerify = (name: string, onEvent: (e: ProgressEvent) => void) =>
  invoke<null>("models_verify", { name, on_event: channel(onEvent) });
export const modelsRemove = (name: string) => invoke<null>("models_remove", { name });
export const modelsSetDefault = (name: string) => invoke<null>("models_set_default", { name });
export const pickFile = () => invoke<string | null>("pick_file");

// ----- Library -----

export const libraryOverview = () => invoke<CollectionInfo[]>("library_overview");
export const libraryFiles = (collection: string) => invoke<FileInfo[]>("library_files", { collection });
export const libraryAddFolder = (collection: string, path: string, onEvent: (e: IngestEvent) => void) =>
  invoke<IngestReport>("library_add_folder", { collection, path, on_event: channel(onEvent) });
export const libraryReindex = (collection: string, onEvent: (e: IngestEvent) => void) =>
  invoke<IngestReport>("library_reindex", { collection, on_event: channel(onEvent) });
export const libraryCancel = () => invoke<null>("library_cancel");
export const librarySetOcr = (collection: string, on: boolean) => invoke<null>("library_set_ocr", { collection, on });
export const embeddingStatus = () => invoke<EmbeddingStatus>("embedding_status");
export const libraryRemove = (collection: string) => invoke<null>("library_remove", { collection });
export const librarySearch = (query: string, collections: string[], doc_type: string | null, limit: number) =>
  invoke<SearchHit[]>("library_search", { query, collections, doc_type, limit });
export const pickFolder = () => invoke<string | null>("pick_folder");
export const documentPage = (path: string, page: number) => invoke<PageView>("document_page", { path, page });
export const revealFile = (path: string) => invoke<null>("reveal_file", { path });

// ----- Chat -----

export const ask = (
  question: string,
  conversation_id: number | null,
  collections: string[],
  onEvent: (e: AskEvent) => void,
) => invoke<{ conversation_id: number }>("ask", { question, conversation_id, collections, on_event: channel(onEvent) });
export const askCancel = () => invoke<null>("ask_cancel");

// ----- Conversations -----

export const conversationsList = () => invoke<ConversationSummary[]>("conversations_list");
export const conversationGet = (id: number) => invoke<ConversationView>("conversation_get", { id });
export const conversationRename = (id: number, title: string) => invoke<null>("conversation_rename", { id, title });
export const conversationDelete = (id: number) => invoke<null>("conversation_delete", { id });
/** The conversation as Markdown; `reason` is required and recorded in the audit trail. */
export const conversationExport = (id: number, reason: string, deidentify: boolean) =>
  invoke<string>("conversation_export", { id, reason, deidentify });
export const saveTextFile = (suggested_name: string, text: string) =>
  invoke<string | null>("save_text_file", { suggested_name, text });
