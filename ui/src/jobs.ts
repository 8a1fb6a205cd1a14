// Long-running jobs whose progress outlives the screen that started them (you
// may navigate away while a folder is indexed or a model is hashed).
import * as ipc from "./ipc";
import type {
  AppError,
  EmbeddingStatus,
  FileStatus,
  IngestEvent,
  IngestReport,
  ModelInfo,
  OcrProgress,
  ProgressEvent,
} from "./ipc/types";
import { Emitter } from "./store";

export class ImportJob extends Emitter {
  path = "";
  busy = false;
  done = 0;
  total = 0;
  sha256: string | null = null;
  result: ModelInfo | null = null;
  error: AppError | null = null;

  async run(): Promise<ModelInfo | null> {
    const path = this.path.trim();
    if (this.busy || !path) return null;
    Object.assign(this, { busy: true, done: 0, total: 0, sha256: null, result: null, error: null });
    this.emit();
    try {
      this.result = await ipc.modelsImport(path, (e: ProgressEvent) => {
        if (e.event === "progress") Object.assign(this, e.data);
        else this.sha256 = e.data.sha256;
        this.emit();
      });
      this.sha256 = this.result.sha256 || this.sha256;
      this.path = "";
      return this.result;
    } catch (e) {
      this.error = ipc.toAppError(e);
      return null;
    } finally {
      this.busy = false;
      this.emit();
    }
  }
}

export type IngestFile = { path: string; status: FileStatus; reason: string | null };

export class IngestJob extends Emitter {
  busy = false;
  collection: string | null = null;
  /** Files found; null until discovery reports. */
  total: number | null = null;
  done = 0;
  current = "";
  failures: IngestFile[] = [];
  /** The latest page OCR read in this run; null until OCR starts. */
  ocr: OcrProgress | null = null;
  /** Pages read in this run with low confidence. */
  ocrLow = 0;
  /** Cancel was asked for; the shell stops at its next batch or page. */
  cancelling = false;
  report: IngestReport | null = null;
  error: AppError | null = null;

  private onEvent = (e: IngestEvent) => {
    if (e.event === "discovered") this.total = e.data.files;
    else if (e.event === "file") {
      this.done = e.data.done;
      this.current = e.data.path;
      if (e.data.status === "failed") this.failures.push(e.data);
    } else if (e.event === "ocr") {
      this.ocr = e.data;
      if (e.data.low_confidence) this.ocrLow += 1;
    }
    this.emit();
  };

  add(collection: string, path: string): Promise<IngestReport | null> {
    return this.start(collection, () => ipc.libraryAddFolder(collection, path, this.onEvent));
  }

  reindex(collection: string): Promise<IngestReport | null> {
    return this.start(collection, () => ipc.libraryReindex(collection, this.onEvent));
  }

  /** Asks the shell to stop the run; it ends with a report marked cancelled. */
  async cancel(): Promise<void> {
    if (!this.busy || this.cancelling) return;
    this.cancelling = true;
    this.emit();
    try {
      await ipc.libraryCancel();
    } catch (e) {
      this.cancelling = false;
      this.error = ipc.toAppError(e);
      this.emit();
    }
  }

  private async start(collection: string, call: () => Promise<IngestReport>): Promise<IngestReport | null> {
    if (this.busy) return null;
    Object.assign(this, {
      busy: true,
      collection,
      total: null,
      done: 0,
      current: "",
      failures: [],
      ocr: null,
      ocrLow: 0,
      cancelling: false,
      report: null,
      error: null,
    });
    this.emit();
    try {
      this.report = await call();
      return this.report;
    } catch (e) {
      this.error = ipc.toAppError(e);
      return null;
    } finally {
      this.busy = false;
      this.cancelling = false;
      this.emit();
    }
  }
}

/**
 * Background embedding (search by meaning) as the shell reports it: polled
 * while a run is going, idle otherwise. The shell updates its figures in
 * steps of 1%, so polling faster would show nothing new.
 */
export class EmbeddingJob extends Emitter {
  status: EmbeddingStatus | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;

  constructor(private readonly intervalMs = 1000) {
    super();
  }

  get running(): boolean {
    return this.status?.state === "running";
  }

  /** Reads the status now, and keeps polling while a run is going. */
  async refresh(): Promise<void> {
    this.stopped = false;
    try {
      this.status = await ipc.embeddingStatus();
    } catch {
      // keep the last known status; the next refresh retries
    }
    if (this.stopped) return;
    this.emit();
    if (this.running && !this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        void this.refresh();
      }, this.intervalMs);
    }
  }

  /** Stops polling (the app is torn down). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
