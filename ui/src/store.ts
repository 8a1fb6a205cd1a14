// Minimal change notification for state shared by several views.
export class Emitter {
  private subs = new Set<() => void>();

  subscribe(fn: () => void): () => void {
    this.subs.add(fn);
    return () => this.subs.delete(fn);
  }

  emit(): void {
    for (const fn of [...this.subs]) fn();
  }
}
