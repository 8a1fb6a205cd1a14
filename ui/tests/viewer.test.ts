import { describe, expect, it } from "vitest";
import { quoteWithin } from "../src/views/viewer";

describe("quote highlighting", () => {
  const text = "😀 서론. 목표 혈압은 130/80 mmHg 미만이다. 로사르탄 50 mg을 추가한다. 끝.";
  // Code-point offsets, as the core counts them.
  const cp = (s: string) => Array.from(text.slice(0, text.indexOf(s))).length;
  const span = { start: cp("목표"), end: cp("끝.") };

  it("highlights only the quoted sentence inside the cited span", () => {
    expect(quoteWithin(text, span, "로사르탄 50 mg을 추가한다.")).toEqual([
      "😀 서론. 목표 혈압은 130/80 mmHg 미만이다. ",
      "로사르탄 50 mg을 추가한다.",
      " 끝.",
    ]);
  });

  it("falls back to the span when the quote is outside it or absent", () => {
    expect(quoteWithin(text, span, "서론.")).toBeNull();
    expect(quoteWithin(text, span, "없는 문장")).toBeNull();
    expect(quoteWithin(text, span, undefined)).toBeNull();
  });
});
