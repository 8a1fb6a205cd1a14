// A stateful stand-in for the Rust shell, for tests and the dev harness
// (dev/mock.html). It speaks the IPC contract through @tauri-apps/api/mocks.
import { mockIPC } from "@tauri-apps/api/mocks";
import type {
  Answer,
  AppStatus,
  AskEvent,
  CollectionInfo,
  ConversationSummary,
  ConversationView,
  EmbeddingStatus,
  FileInfo,
  IngestEvent,
  IngestReport,
  ModelInfo,
  PageView,
  ProgressEvent,
  Receipts,
  SearchHit,
  SentenceCheck,
  Source,
  Support,
} from "../src/ipc/types";

export type Args = Record<string, unknown>;
export type Call = { cmd: string; args: Args };
type Emit<E> = (event: E) => void;

/** The on_event channel of a call, as a function (the mock passes the Channel object itself). */
export function emitter<E>(args: Args): Emit<E> {
  const channel = args.on_event as { onmessage: (e: E) => void };
  return (e) => channel.onmessage(e);
}

const utf8 = new TextEncoder();

/** A checked sentence whose byte range is where `sentence` first occurs in `text` after `from`. */
export function sentence(
  text: string,
  s: string,
  support: Support,
  citations: number[] = [],
  problems: SentenceCheck["problems"] = [],
): SentenceCheck {
  const at = text.indexOf(s);
  if (at < 0) throw new Error(`sentence not in text: ${s}`);
  const start = utf8.encode(text.slice(0, at)).length;
  return { text: s, range: { start, end: start + utf8.encode(s).length }, citations, support, problems };
}

export const PAGE_TEXT =
  "제2장 약물 치료\n암로디핀(amlodipine)은 장시간 작용하는 칼슘통로차단제이다. 통상 시작 용량은 1일 1회 5 mg이며, 최대 10 mg까지 증량할 수 있다. 💊 고령자나 간기능 저하 환자는 2.5 mg으로 시작한다.\n부작용으로 말초 부종이 흔하다.";

export function spanOf(text: string, sub: string): { start: number; end: number } {
  const at = text.indexOf(sub);
  const start = Array.from(text.slice(0, at)).length;
  return { start, end: start + Array.from(sub).length };
}

export function sources(): Source[] {
  return [
    {
      number: 1,
      doc_key: "k1",
      collection: "documents",
      path: "/home/user/문서/지침/고혈압-진료지침-2022.pdf",
      title: "고혈압 진료지침 2022",
      headings: "제2장 약물 치료",
      page: 12,
      span: spanOf(PAGE_TEXT, "통상 시작 용량은 1일 1회 5 mg이며, 최대 10 mg까지 증량할 수 있다."),
      chunk_index: 4,
      score: 12.3,
      coverage: 0.82,
      text: "통상 시작 용량은 1일 1회 5 mg이며, 최대 10 mg까지 증량할 수 있다.",
      ocr_confidence: null,
      low_confidence: false,
    },
    {
      number: 2,
      doc_key: "k2",
      collection: "documents",
      path: "/home/user/문서/labels/amlodipine-label.pdf",
      title: "Amlodipine besylate tablets — prescribing information",
      headings: "Dosage and administration",
      page: 3,
      span: { start: 0, end: 40 },
      chunk_index: 1,
      score: 10.1,
      coverage: 0.7,
      text: "Start with 2.5 mg once daily in patients with hepatic impairment.",
      ocr_confidence: null,
      low_confidence: false,
    },
  ];
}

export const RECEIPTS: Receipts = {
  queries: ["암로디핀 시작 용량", "amlodipine starting dose"],
  collections: ["documents"],
  chunks_searched: 1284,
  documents_matched: 17,
  best_coverage: 0.82,
  threshold: 0.4,
  near_misses: [],
};

export const ANSWER_TEXT =
  "암로디핀의 통상 시작 용량은 1일 1회 5 mg입니다 [1]. **최대 용량**은 10 mg입니다 [1].\n\n- 간기능 저하 환자는 2.5 mg으로 시작합니다 [2].\n- 신기능 저하 환자는 용량 조절이 필요 없습니다.\n- 고령자는 20 mg까지 쓸 수 있습니다 [1].\n\n말초 부종이 흔한 부작용입니다.";

export function answer(over: Partial<Answer> = {}): Answer {
  const text = over.text ?? ANSWER_TEXT;
  return {
    question: "암로디핀 시작 용량은?",
    language: "ko",
    status: "answered",
    text,
    sentences:
      over.sentences ??
      [
        sentence(text, "암로디핀의 통상 시작 용량은 1일 1회 5 mg입니다 [1].", "supported", [1]),
        sentence(text, "**최대 용량**은 10 mg입니다 [1].", "supported", [1]),
        sentence(text, "간기능 저하 환자는 2.5 mg으로 시작합니다 [2].", "supported", [2]),
        sentence(text, "신기능 저하 환자는 용량 조절이 필요 없습니다.", "uncited"),
        sentence(text, "고령자는 20 mg까지 쓸 수 있습니다 [1].", "unsupported", [1], [
          { kind: "numberMismatch", answer: "20 mg", sources: ["5 mg", "10 mg"] },
        ]),
        sentence(text, "말초 부종이 흔한 부작용입니다.", "supported"),
      ],
    sources: sources(),
    cited: [1, 2],
    cited_by_model: [1, 2],
    attributions: over.attributions ?? [{ sentence: 5, source: 1 }],
    quotes: [
      { source: 1, text: "통상 시작 용량은 1일 1회 5 mg이며, 최대 10 mg까지 증량할 수 있다." },
      { source: 2, text: "Start with 2.5 mg once daily in patients with hepatic impairment." },
    ],
    flags: [],
    notices: ["3 files are waiting to be indexed; the answer may miss them."],
    receipts: RECEIPTS,
    model: { name: "qwen2.5-7b-instruct-q4_k_m", sha256: "ab".repeat(32) },
    stop: "eos",
    prompt_tokens: 1200,
    generated_tokens: 80,
    ...over,
  };
}

export function notFoundAnswer(): Answer {
  return answer({
    status: "not-found",
    text: "",
    sentences: [],
    sources: [],
    cited: [],
    cited_by_model: [],
    attributions: [],
    quotes: [],
    notices: [],
    model: null,
    receipts: {
      queries: ["소아 용량", "paediatric dose"],
      collections: ["documents", "labels"],
      chunks_searched: 932,
      documents_matched: 3,
      best_coverage: 0.18,
      threshold: 0.4,
      near_misses: [{ path: "/home/user/문서/labels/amlodipine-label.pdf", page: 7, coverage: 0.18, excerpt: "Pediatric use: safety not established." }],
    },
  });
}

export function model(over: Partial<ModelInfo> = {}): ModelInfo {
  return {
    name: "qwen2.5-7b-instruct-q4_k_m",
    role: "chat",
    file: "/home/user/.local/share/sillok/models/qwen2.5-7b-instruct-q4_k_m.gguf",
    size_bytes: 4_683_073_536,
    sha256: "ab".repeat(32),
    quantization: "Q4_K_M",
    license: "Apache-2.0",
    architecture: "qwen2",
    parameters: 7_615_616_512,
    context_length: 32768,
    provenance: "known",
    is_default: true,
    fit: { fits: true, needed_bytes: 5_900_000_000, available_bytes: 16_000_000_000 },
    ...over,
  };
}

export function status(over: Partial<AppStatus> = {}): AppStatus {
  return {
    version: "0.4.0",
    data_dir: "/home/user/.local/share/sillok",
    os_locale: "ko-KR",
    model: { state: "ready", name: "qwen2.5-7b-instruct-q4_k_m", error: null },
    settings: { ui_language: null, profile: null, chat_model: null, embedding_model: null, threads: null, context_length: null, hybrid_search: null },
    profiles: [
      { name: "clinical", description: "Clinical guidelines and drug labels" },
      { name: "bio-research", description: "Papers and lab protocols" },
      { name: "korean-medicine", description: "한의학 문헌" },
    ],
    sample_library: "/opt/sillok/samples/library",
    ...over,
  };
}

const REPORT: IngestReport = {
  indexed: 12,
  unchanged: 0,
  duplicates: 1,
  needs_ocr: 1,
  ocr_pages: 2,
  failed: 1,
  removed: 0,
  chunks: 240,
  ocr_read: 3,
  ocr_low_confidence: 1,
  ocr_failed: 0,
  ocr_unavailable: null,
  cancelled: false,
};

export class FakeBackend {
  calls: Call[] = [];
  status = status();
  models: ModelInfo[] = [
    model(),
    model({ name: "multilingual-e5-small-q8", role: "embedding", size_bytes: 134_000_000, quantization: "Q8_0", license: "MIT", provenance: "user", is_default: true, architecture: "bert", parameters: 117_000_000, context_length: 512 }),
    model({ name: "llama-3.1-70b-q4", is_default: false, license: null, provenance: "user", size_bytes: 42_500_000_000, fit: { fits: false, needed_bytes: 44_000_000_000, available_bytes: 15_200_000_000 } }),
  ];
  collections: CollectionInfo[] = [
    { name: "documents", roots: ["/home/user/문서"], files: 42, indexed: 38, failed: 1, needs_ocr: 2, pending: 1, chunks: 1284, ocr: true },
  ];
  files: Record<string, FileInfo[]> = {
    documents: [
      { path: "/home/user/문서/지침/고혈압-진료지침-2022.pdf", status: "indexed", reason: null, doc_type: "pdf", chunks: 120, size_bytes: 2_400_000, ocr_pages: [], ocr: null },
      { path: "/home/user/문서/scan/old-protocol.pdf", status: "needs-ocr", reason: null, doc_type: "pdf", chunks: 0, size_bytes: 8_100_000, ocr_pages: [1, 2], ocr: null },
      { path: "/home/user/문서/broken.docx", status: "failed", reason: "not a valid DOCX archive", doc_type: "docx", chunks: 0, size_bytes: 1200, ocr_pages: [], ocr: null },
      { path: "/home/user/문서/copy of 지침.pdf", status: "duplicate", reason: "/home/user/문서/지침/고혈압-진료지침-2022.pdf", doc_type: "pdf", chunks: 0, size_bytes: 2_400_000, ocr_pages: [], ocr: null },
    ],
  };
  conversations: ConversationSummary[] = [
    { id: 7, title: "암로디핀 용량", created_at: 1_764_000_000, updated_at: 1_764_100_000, turns: 1 },
    { id: 3, title: "Metformin and eGFR", created_at: 1_763_000_000, updated_at: 1_763_050_000, turns: 2 },
  ];
  views: Record<number, ConversationView> = {
    7: {
      summary: this.conversations[0]!,
      profile: "clinical",
      collections: ["documents"],
      turns: [
        {
          ordinal: 1,
          question: "암로디핀 시작 용량은?",
          answer: "통상 시작 용량은 1일 1회 5 mg입니다 [1]. 신기능 저하 환자는 조절이 필요 없습니다.",
          status: "answered",
          citations: sources().map(({ number, path, title, page, span, text }) => ({ number, path, title, page, span, snippet: text, source_deleted: false })),
          flags: [],
          created_at: 1_764_100_000,
        },
      ],
    },
  };
  pages: Record<string, string[]> = {
    [sources()[0]!.path]: Array.from({ length: 20 }, (_, i) => (i === 11 ? PAGE_TEXT : `${i + 1}쪽 본문입니다.`)),
    [sources()[1]!.path]: ["Label page 1", "Label page 2", "Start with 2.5 mg once daily in patients with hepatic impairment.", "Page 4"],
  };
  hits: SearchHit[] = [
    {
      path: sources()[0]!.path,
      collection: "documents",
      title: "고혈압 진료지침 2022",
      page: 12,
      span: sources()[0]!.span,
      doc_type: "pdf",
      snippet: "통상 시작 용량은 1일 1회 5 mg이며, 최대 10 mg까지 증량할 수 있다.",
      score: 12.3,
      ocr_confidence: null,
      low_confidence: false,
    },
  ];
  /** What `embedding_status` reports. */
  embedding: EmbeddingStatus = { state: "idle", model: "multilingual-e5-small-q8", done: 0, pending: 0, total: 0, percent: 100, error: null };
  /** How `ask` answers; the default streams the sample answer. */
  ask: (args: Args, emit: Emit<AskEvent>) => unknown = (args, emit) => {
    emit({ event: "evidence", data: { sources: sources(), quotes: answer().quotes } });
    for (const piece of ANSWER_TEXT.match(/.{1,6}/gsu) ?? []) emit({ event: "token", data: { text: piece, sent_at_ms: Date.now() } });
    emit({ event: "receipts", data: RECEIPTS });
    const id = this.conversationFor(args);
    emit({ event: "done", data: { answer: answer({ question: String(args.question) }), conversation_id: id } });
    return { conversation_id: id };
  };

  /** The conversation an `ask` lands in: the given one, or a new one titled after the question. */
  conversationFor(args: Args): number {
    const given = args.conversation_id as number | null;
    if (given !== null && given !== undefined) return given;
    const id = Math.max(0, ...this.conversations.map((c) => c.id)) + 1;
    this.conversations.unshift({ id, title: String(args.question).slice(0, 40), created_at: 1_764_200_000, updated_at: 1_764_200_000, turns: 1 });
    return id;
  }
  /** The vault: locked or not, its slots, and the secrets that open it. */
  vault = {
    locked: false,
    passphrase: true,
    recovery_key: true,
    /** Why the keychain refuses (null: it opens the vault). */
    keychainRefusal: null as string | null,
    /** No vault yet, and no keychain to make one in (the shell's "no-keychain-for-vault"). */
    noKeychainForVault: false,
    secret: "correct horse battery staple",
    recoveryKey: "ABCD-EFGH-JKMN-PQRS-TVWX-YZ01-2345-6789-ABCD",
  };
  /** Per-command overrides, for tests. */
  overrides: Record<string, (args: Args) => unknown> = {};

  install(): this {
    mockIPC((cmd, payload) => this.handle(cmd, (payload ?? {}) as Args));
    return this;
  }

  called(cmd: string): Args[] {
    return this.calls.filter((c) => c.cmd === cmd).map((c) => c.args);
  }

  private unlock(method: string, secret: string | null) {
    const refuse = (reason: string) => ({ unlocked: false, reason, message: reason });
    if (method === "keychain" && this.vault.keychainRefusal) return refuse(this.vault.keychainRefusal);
    if (method === "passphrase" && secret !== this.vault.secret) return refuse("wrong-passphrase");
    if (method === "recovery_key" && secret !== this.vault.recoveryKey) return refuse("wrong-recovery-key");
    this.vault.locked = false;
    return { unlocked: true, reason: null, message: null };
  }

  handle(cmd: string, args: Args): unknown {
    this.calls.push({ cmd, args });
    const override = this.overrides[cmd];
    if (override) return override(args);
    switch (cmd) {
      case "app_status":
        return structuredClone(this.status);
      case "settings_set":
        this.status.settings = structuredClone(args.settings as AppStatus["settings"]);
        return structuredClone(this.status.settings);
      case "models_list":
        return structuredClone(this.models);
      case "models_import": {
        const emit = emitter<ProgressEvent>(args);
        emit({ event: "progress", data: { done: 0, total: 1000 } });
        emit({ event: "progress", data: { done: 1000, total: 1000 } });
        emit({ event: "hashed", data: { sha256: "cd".repeat(32) } });
        const m = model({ name: "imported-model", sha256: "cd".repeat(32), provenance: "user", is_default: false });
        this.models.push(m);
        if (this.status.model.state === "none") this.status.model = { state: "ready", name: m.name, error: null };
        return m;
      }
      case "models_verify": {
        const emit = emitter<ProgressEvent>(args);
        emit({ event: "progress", data: { done: 500, total: 1000 } });
        emit({ event: "progress", data: { done: 1000, total: 1000 } });
        return null;
      }
      case "models_remove":
        this.models = this.models.filter((m) => m.name !== args.name);
        return null;
      case "models_set_default":
        for (const m of this.models) if (m.role === "chat") m.is_default = m.name === args.name;
        return null;
      case "pick_file":
        return "/media/usb/models/model.gguf";
      case "pick_folder":
        return "/home/user/문서/new";
      case "library_overview":
        return structuredClone(this.collections);
      case "library_files":
        return structuredClone(this.files[String(args.collection)] ?? []);
      case "library_add_folder":
      case "library_reindex": {
        const emit = emitter<IngestEvent>(args);
        emit({ event: "discovered", data: { files: 3 } });
        emit({ event: "file", data: { path: "/a.pdf", status: "indexed", reason: null, done: 1 } });
        emit({ event: "file", data: { path: "/b.docx", status: "failed", reason: "encrypted", done: 2 } });
        emit({ event: "file", data: { path: "/c.txt", status: "indexed", reason: null, done: 3 } });
        emit({ event: "committed", data: { seq: 5 } });
        emit({ event: "ocr", data: { path: "/a.pdf", page: 2, pages: 3, confidence: 41, low_confidence: true, failure: null, done: 1, total: 3 } });
        const name = String(args.collection);
        if (!this.collections.some((c) => c.name === name)) {
          this.collections.push({ name, roots: [String(args.path)], files: 3, indexed: 2, failed: 1, needs_ocr: 0, pending: 0, chunks: 40, ocr: true });
        }
        return REPORT;
      }
      case "library_cancel":
        return null;
      case "library_set_ocr": {
        const c = this.collections.find((x) => x.name === args.collection);
        if (!c) throw { kind: "not_found", message: "unknown collection" };
        c.ocr = Boolean(args.on);
        return null;
      }
      case "embedding_status":
        return structuredClone(this.embedding);
      case "library_remove":
        this.collections = this.collections.filter((c) => c.name !== args.collection);
        return null;
      case "library_search":
        return structuredClone(this.hits);
      case "document_page": {
        const pages = this.pages[String(args.path)];
        const page = Number(args.page);
        if (!pages || page < 1 || page > pages.length) throw { kind: "not_found", message: "No such page." };
        const src = sources().find((s) => s.path === args.path);
        const view: PageView = {
          path: String(args.path),
          collection: "documents",
          title: src?.title ?? "Document",
          doc_type: "pdf",
          page,
          pages: pages.length,
          text: pages[page - 1]!,
        };
        return view;
      }
      case "reveal_file":
        return null;
      case "ask":
        return this.ask(args, emitter<AskEvent>(args));
      case "ask_cancel":
        return null;
      case "conversations_list":
        return structuredClone(this.conversations);
      case "conversation_get": {
        const view = this.views[Number(args.id)];
        if (!view) throw { kind: "not_found", message: "No such conversation." };
        return structuredClone(view);
      }
      case "conversation_rename": {
        const c = this.conversations.find((x) => x.id === args.id);
        if (c) c.title = String(args.title);
        return null;
      }
      case "conversation_delete":
        this.conversations = this.conversations.filter((x) => x.id !== args.id);
        return null;
      case "conversation_export":
        return "# 암로디핀 용량\n\n**Q:** 암로디핀 시작 용량은?\n";
      case "save_text_file":
        return `/home/user/Documents/${String(args.suggested_name)}`;
      case "vault_state":
        if (this.vault.noKeychainForVault) {
          return { locked: true, reason: "no-keychain-for-vault", message: "no keychain", passphrase: false, recovery_key: false };
        }
        return {
          locked: this.vault.locked,
          reason: this.vault.locked ? "locked" : null,
          message: null,
          passphrase: this.vault.passphrase,
          recovery_key: this.vault.recovery_key,
        };
      case "vault_create": {
        const passphrase = String(args.passphrase);
        if (!this.vault.noKeychainForVault) throw { kind: "invalid_input", message: "a vault already exists" };
        if ([...passphrase.trim()].length < 8) throw { kind: "invalid_input", message: "use at least 8 characters" };
        this.vault = { ...this.vault, noKeychainForVault: false, locked: false, secret: passphrase, recovery_key: true };
        return { recovery_key: this.vault.recoveryKey };
      }
      case "vault_locked":
        return this.vault.locked;
      case "vault_lock":
        this.vault.locked = true;
        return null;
      case "vault_unlock":
        return this.unlock(String(args.method), args.secret as string | null);
      default:
        throw { kind: "internal", message: `unknown command ${cmd}` };
    }
  }
}
