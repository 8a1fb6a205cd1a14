// Payload types of the IPC contract (docs/app-ipc.md), field for field.
// Keep this file a mirror of the contract: snake_case, same names, same unions.

export type ErrorKind =
  | "invalid_input"
  | "not_found"
  | "in_use"
  | "no_model"
  | "model"
  | "library"
  | "busy"
  | "cancelled"
  | "vault_locked"
  | "internal";

export type AppError = { kind: ErrorKind; message: string };

// ----- App and settings -----

export type ModelState = {
  state: "none" | "loading" | "ready" | "failed";
  name: string | null;
  error: string | null;
};

export type Settings = {
  ui_language: "ko" | "en" | null;
  profile: string | null;
  chat_model: string | null;
  embedding_model: string | null;
  threads: number | null;
  context_length: number | null;
  /** Fuse keyword search with the embedding model's vectors; null: on. */
  hybrid_search: boolean | null;
  /** Minutes unused before the vault locks (1–1440); null: 15. */
  idle_lock_minutes?: number | null;
  /** Days audit records are kept (730–36500); null: two years. */
  audit_retention_days?: number | null;
  /** Regular expressions for patient ids / MRNs masked as PHI. */
  phi_patterns?: string[] | null;
};

export type AppStatus = {
  version: string;
  data_dir: string;
  os_locale: string;
  model: ModelState;
  settings: Settings;
  profiles: { name: string; description: string }[];
  sample_library: string | null;
  /** Settings the site policy fixes (shown, not editable), e.g. "idle_lock_minutes". */
  policy_locked?: string[];
};

// ----- Vault lock -----

/** Why the vault is locked or an unlock was refused (stable names from the core). */
export type LockReason =
  | "locked"
  | "wrong-passphrase"
  | "wrong-recovery-key"
  | "bad-recovery-key"
  | "keychain-missing"
  | "keychain-locked"
  | "keychain-unavailable"
  | "keychain-invalid"
  | "keychain-failed"
  | "no-such-unlock"
  | "no-vault"
  | "no-keychain-for-vault"
  | "other";

export type VaultState = {
  locked: boolean;
  reason: LockReason | null;
  message: string | null;
  passphrase: boolean;
  recovery_key: boolean;
};

export type UnlockMethod = "keychain" | "passphrase" | "recovery_key";

export type UnlockOutcome = { unlocked: boolean; reason: LockReason | null; message: string | null };

/** A passphrase-only vault just made: its recovery key, shown once. */
export type VaultCreated = { recovery_key: string | null };

// ----- Models -----

export type ModelInfo = {
  name: string;
  role: "chat" | "embedding";
  file: string;
  size_bytes: number;
  sha256: string;
  quantization: string;
  license: string | null;
  architecture: string;
  parameters: number;
  context_length: number;
  provenance: "known" | "user";
  is_default: boolean;
  fit: { fits: boolean; needed_bytes: number; available_bytes: number };
};

export type ProgressEvent =
  | { event: "progress"; data: { done: number; total: number } }
  | { event: "hashed"; data: { sha256: string } };

// ----- Library -----

export type CollectionInfo = {
  name: string;
  roots: string[];
  files: number;
  indexed: number;
  failed: number;
  needs_ocr: number;
  pending: number;
  chunks: number;
  /** Whether scanned pages of its files are read by OCR. */
  ocr: boolean;
};

export type FileStatus = "pending" | "indexed" | "duplicate" | "needs-ocr" | "failed" | "removed";

export type FileInfo = {
  path: string;
  status: FileStatus;
  reason: string | null;
  doc_type: string | null;
  chunks: number;
  size_bytes: number;
  ocr_pages: number[];
  /** What OCR read of the file; null when it read none of it. */
  ocr: FileOcr | null;
};

export type FileOcr = {
  pages_read: number[];
  mean_confidence: number | null;
  /** Pages read below the shell's low-confidence threshold. */
  low_confidence_pages: number[];
  failed: { page: number; reason: string }[];
  note: string | null;
};

export type OcrProgress = {
  path: string;
  page: number;
  pages: number;
  confidence: number | null;
  low_confidence: boolean;
  failure: string | null;
  done: number;
  total: number;
};

export type IngestEvent =
  | { event: "discovered"; data: { files: number } }
  | { event: "file"; data: { path: string; status: FileStatus; reason: string | null; done: number } }
  | { event: "committed"; data: { seq: number } }
  | { event: "ocr"; data: OcrProgress };

export type IngestReport = {
  indexed: number;
  unchanged: number;
  duplicates: number;
  needs_ocr: number;
  ocr_pages: number;
  failed: number;
  removed: number;
  chunks: number;
  ocr_read: number;
  ocr_low_confidence: number;
  ocr_failed: number;
  ocr_unavailable: string | null;
  /** Stopped by library_cancel; a re-index goes on from there. */
  cancelled: boolean;
};

export type EmbeddingStatus = {
  state: "idle" | "running" | "failed";
  model: string | null;
  done: number;
  pending: number;
  total: number;
  percent: number;
  error: string | null;
};

/** Offsets in characters (Unicode code points), not UTF-16 units. */
export type Span = { start: number; end: number };

export type SearchHit = {
  path: string;
  collection: string;
  title: string;
  page: number;
  span: Span;
  doc_type: string;
  snippet: string;
  score: number;
  ocr_confidence: number | null;
  low_confidence: boolean;
};

export type PageView = {
  path: string;
  collection: string;
  title: string;
  doc_type: string;
  page: number;
  pages: number;
  text: string;
};

// ----- Chat -----

export type Source = {
  number: number;
  doc_key: string;
  collection: string;
  path: string;
  title: string;
  headings: string;
  page: number;
  span: Span;
  chunk_index: number;
  score: number;
  coverage: number;
  text: string;
  ocr_confidence: number | null;
  low_confidence: boolean;
};

export type Quote = { source: number; text: string };

export type Support = "supported" | "unsupported" | "uncited" | "exempt";

export type Flag = { kind: string; [detail: string]: unknown };

export type SentenceCheck = {
  text: string;
  range: Span;
  citations: number[];
  support: Support;
  problems: Flag[];
};

export type Receipts = {
  queries: string[];
  collections: string[];
  chunks_searched: number;
  documents_matched: number;
  best_coverage: number;
  threshold: number;
  near_misses: { path: string; page: number; coverage: number; excerpt: string }[];
};

export type AnswerStatus = "answered" | "not-found" | "evidence-only" | "cancelled";

export type Answer = {
  question: string;
  language: "ko" | "en";
  status: AnswerStatus;
  /** Sentences index this text in bytes; use sentences[].text. */
  text: string;
  sentences: SentenceCheck[];
  sources: Source[];
  cited: number[];
  cited_by_model: number[];
  attributions: { sentence: number; source: number }[];
  quotes: Quote[];
  flags: Flag[];
  notices: string[];
  receipts: Receipts;
  model: { name: string; sha256: string } | null;
  stop: string | null;
  prompt_tokens: number;
  generated_tokens: number;
};

export type AskEvent =
  | { event: "evidence"; data: { sources: Source[]; quotes: Quote[] } }
  | { event: "token"; data: { text: string; sent_at_ms: number } }
  | { event: "citation"; data: { sentence: number; source: number } }
  | { event: "flag"; data: Flag }
  | { event: "receipts"; data: Receipts }
  | { event: "done"; data: { answer: Answer; conversation_id: number } }
  | { event: "error"; data: AppError };

// ----- Conversations -----

export type ConversationSummary = {
  id: number;
  title: string;
  created_at: number;
  updated_at: number;
  turns: number;
};

export type StoredTurn = {
  ordinal: number;
  question: string;
  answer: string;
  status: AnswerStatus;
  citations: { number: number; path: string; title: string; page: number; span: Span; snippet: string; source_deleted: boolean }[];
  flags: { sentence: number | null; kind: string }[];
  created_at: number;
};

export type ConversationView = {
  summary: ConversationSummary;
  profile: string | null;
  collections: string[];
  turns: StoredTurn[];
};
