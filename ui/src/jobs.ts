// Long-running jobs whose progress outlives the screen that started them (you
// may navigate away while a folder is indexed or a model is hashed).
import * as ipc from "./ipc";
import type { AppError, FileStatus, IngestEvent, IngestReport, ModelInfo, ProgressEvent } from "./ipc/types";
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
  report: IngestReport | null = null;
  error: AppError | null = null;

  private onEvent = (e: IngestEvent) => {
    if (e.event === "discovered") this.total = e.data.files;
    else if (e.event === "file") {
      this.done = e.data.done;
      this.current = e.data.path;
      if (e.data.status === "failed") this.failures.push(e.data);
    }
    this.emit();
  };

  add(collection: string, path: string): Promise<IngestReport | null> {
    return this.start(collection, () => ipc.libraryAddFolder(collection, path, this.onEvent));
  }

  reindex(collection: string): Promise<IngestReport | null> {
    return this.start(collection, () => ipc.libraryReindex(collection, this.onEvent));
  }

  private async start(collection: string, call: () => Promise<IngestReport>): Promise<IngestReport | null> {
    if (this.busy) return null;
    Object.assign(this, { busy: true, collection, total: null, done: 0, current: "", failures: [], report: null, error: null });
    this.emit();
    try {
      this.report = await call();
      return this.report;
    } catch (e) {
      this.error = ipc.toAppError(e);
      return null;
    } finally {
      this.busy = false;
      this.emit();
    }
  }
}
