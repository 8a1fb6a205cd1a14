// Keyboard rules of the question box, safe for Korean (and any) IME input.
//
// While an IME composes a syllable, Enter belongs to the IME: browsers report
// that keydown with isComposing = true, or keyCode 229 (Safari/WebKit even
// after compositionend), and some fire it between compositionstart and
// compositionend without either. Sending then would send a half-built
// syllable, and the IME's commit would land again in the cleared box.

export type ComposerActions = {
  /** Enter: send this text (already trimmed, never empty); false if it was not taken (busy). */
  send: (text: string) => boolean;
  /** Esc: stop the answer being written; false if there was nothing to stop (Esc then bubbles on). */
  cancel: () => boolean;
};

/** Milliseconds after a send in which a stray IME commit is swallowed. */
const LATE_COMMIT_MS = 300;

export function attachComposer(box: HTMLTextAreaElement, actions: ComposerActions): () => void {
  let composing = false;
  let lastSend = -Infinity;

  const onCompositionStart = () => {
    composing = true;
  };
  const onCompositionEnd = (e: CompositionEvent) => {
    composing = false;
    // The commit of a syllable that already went out with the sent text must not
    // stay behind in the emptied box (and so be sent again with the next question).
    if (performance.now() - lastSend < LATE_COMMIT_MS && e.data && box.value === e.data) {
      box.value = "";
    }
  };
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === "Escape") {
      if (e.isComposing || composing) return; // Esc cancels the composition, not the answer
      if (actions.cancel()) e.preventDefault();
      return;
    }
    if (e.key !== "Enter" || e.shiftKey || e.altKey) return;
    if (e.isComposing || e.keyCode === 229 || composing) return;
    e.preventDefault();
    const text = box.value.trim();
    if (!text) return;
    if (actions.send(text)) lastSend = performance.now();
  };

  box.addEventListener("compositionstart", onCompositionStart);
  box.addEventListener("compositionend", onCompositionEnd);
  box.addEventListener("keydown", onKeyDown);
  return () => {
    box.removeEventListener("compositionstart", onCompositionStart);
    box.removeEventListener("compositionend", onCompositionEnd);
    box.removeEventListener("keydown", onKeyDown);
  };
}
