import { beforeEach, describe, expect, test, vi } from "vitest";
import { attachComposer } from "../src/lib/composer";

let box: HTMLTextAreaElement;
let sent: string[];
let cancels: number;

function key(init: KeyboardEventInit & { keyCode?: number }): KeyboardEvent {
  const e = new KeyboardEvent("keydown", { bubbles: true, cancelable: true, ...init });
  // jsdom ignores keyCode in the init dictionary.
  if (init.keyCode !== undefined) Object.defineProperty(e, "keyCode", { value: init.keyCode });
  box.dispatchEvent(e);
  return e;
}
const compose = (type: "compositionstart" | "compositionend", data = "") =>
  box.dispatchEvent(new CompositionEvent(type, { bubbles: true, data }));

beforeEach(() => {
  document.body.replaceChildren();
  box = document.createElement("textarea");
  document.body.appendChild(box);
  sent = [];
  cancels = 0;
  attachComposer(box, {
    send: (text) => {
      sent.push(text);
      box.value = "";
      return true;
    },
    cancel: () => {
      cancels += 1;
      return true;
    },
  });
});

describe("question box keys", () => {
  test("Enter sends the trimmed text and is prevented", () => {
    box.value = "  혈압 목표는?  ";
    const e = key({ key: "Enter" });
    expect(sent).toEqual(["혈압 목표는?"]);
    expect(e.defaultPrevented).toBe(true);
  });

  test("Shift+Enter does not send (the newline is left to the browser)", () => {
    box.value = "첫 줄";
    const e = key({ key: "Enter", shiftKey: true });
    expect(sent).toEqual([]);
    expect(e.defaultPrevented).toBe(false);
  });

  test("Enter on an empty box sends nothing", () => {
    box.value = "   ";
    key({ key: "Enter" });
    expect(sent).toEqual([]);
  });

  test("Enter with isComposing does not send", () => {
    box.value = "안녕";
    const e = key({ key: "Enter", isComposing: true });
    expect(sent).toEqual([]);
    expect(e.defaultPrevented).toBe(false);
  });

  test("Enter with keyCode 229 (WebKit after compositionend) does not send", () => {
    box.value = "안녕";
    key({ key: "Enter", keyCode: 229 });
    expect(sent).toEqual([]);
  });

  test("Enter between compositionstart and compositionend does not send, even without isComposing", () => {
    box.value = "안";
    compose("compositionstart");
    key({ key: "Enter" });
    expect(sent).toEqual([]);
    compose("compositionend", "안");
    key({ key: "Enter" });
    expect(sent).toEqual(["안"]);
  });

  test("a full Korean composition sends once, with the committed syllable", () => {
    compose("compositionstart");
    box.value = "안녕하세요";
    key({ key: "Enter", isComposing: true, keyCode: 229 }); // the IME's Enter
    compose("compositionend", "요");
    key({ key: "Enter" }); // the user's Enter
    expect(sent).toEqual(["안녕하세요"]);
  });

  test("a late compositionend after sending does not leave the syllable behind to be sent again", () => {
    box.value = "혈압";
    key({ key: "Enter" });
    expect(sent).toEqual(["혈압"]);
    // Some IMEs commit the last syllable again into the emptied box.
    box.value = "압";
    compose("compositionend", "압");
    expect(box.value).toBe("");
    key({ key: "Enter" });
    expect(sent).toEqual(["혈압"]);
  });

  test("a compositionend long after a send is left alone", () => {
    vi.spyOn(performance, "now").mockReturnValueOnce(1000).mockReturnValueOnce(5000);
    box.value = "가";
    key({ key: "Enter" });
    box.value = "나";
    compose("compositionend", "나");
    expect(box.value).toBe("나");
  });

  test("Esc cancels, but not while composing", () => {
    compose("compositionstart");
    key({ key: "Escape" });
    expect(cancels).toBe(0);
    compose("compositionend", "가");
    const e = key({ key: "Escape" });
    expect(cancels).toBe(1);
    expect(e.defaultPrevented).toBe(true);
  });

  test("Esc with nothing to stop is not swallowed", () => {
    const other = document.createElement("textarea");
    document.body.appendChild(other);
    attachComposer(other, { send: () => true, cancel: () => false });
    const e = new KeyboardEvent("keydown", { key: "Escape", bubbles: true, cancelable: true });
    other.dispatchEvent(e);
    expect(e.defaultPrevented).toBe(false);
  });

  test("a refused send (busy) keeps the text and does not arm the late-commit guard", () => {
    const other = document.createElement("textarea");
    document.body.appendChild(other);
    const tried: string[] = [];
    attachComposer(other, { send: (t) => (tried.push(t), false), cancel: () => false });
    other.value = "기다려";
    other.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true }));
    expect(tried).toEqual(["기다려"]);
    expect(other.value).toBe("기다려");
    other.dispatchEvent(new CompositionEvent("compositionend", { data: "기다려" }));
    expect(other.value).toBe("기다려");
  });
});
