/**
 * Timings the window benchmark reads from the page (no content, numbers only):
 * how long after the core sent it the first token of each answer reached the
 * screen.
 */
export const metrics = { firstTokenDelaysMs: [] as number[] };

(window as unknown as { __sillokMetrics?: typeof metrics }).__sillokMetrics = metrics;

/** Records the first token's delay at the next frame, when it is painted. */
export function recordFirstToken(sentAtMs: number): void {
  requestAnimationFrame(() => metrics.firstTokenDelaysMs.push(Date.now() - sentAtMs));
}
