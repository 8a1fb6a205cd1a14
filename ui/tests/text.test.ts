import { describe, expect, test } from "vitest";
import { layoutSentences, layoutStored, parseInline, stripMarkers } from "../src/lib/answerText";
import { byteToIndex, codePointToIndex, formatBytes, safeFileName, splitAtSpan } from "../src/lib/text";

describe("code point offsets", () => {
  test("a span counted in characters selects the same text JS sees", () => {
    // 😀 and 𠀀 are one Rust char each but two UTF-16 units.
    const text = "😀 혈압 𠀀 목표는 130/80 mmHg 미만이다. 끝";
    const [before, cited, after] = splitAtSpan(text, 7, 28);
    expect(cited).toBe("목표는 130/80 mmHg 미만이다.");
    expect(before).toBe("😀 혈압 𠀀 ");
    expect(after).toBe(" 끝");
  });

  test("naive UTF-16 slicing would be wrong, so the test above can fail", () => {
    const text = "😀😀😀가나다";
    expect(text.slice(3, 6)).not.toBe("가나다");
    expect(splitAtSpan(text, 3, 6)[1]).toBe("가나다");
  });

  test("offsets are clamped to the text", () => {
    expect(codePointToIndex("abc", -4)).toBe(0);
    expect(codePointToIndex("a😀", 99)).toBe(3);
    expect(splitAtSpan("abc", 2, 99)).toEqual(["ab", "c", ""]);
  });

  test("byte offsets map to UTF-16 indices, or -1 inside a character", () => {
    const text = "가a😀b";
    expect(byteToIndex(text, 0)).toBe(0);
    expect(byteToIndex(text, 3)).toBe(1); // after 가 (3 bytes)
    expect(byteToIndex(text, 4)).toBe(2); // after a
    expect(byteToIndex(text, 8)).toBe(4); // after 😀 (4 bytes, 2 units)
    expect(byteToIndex(text, 9)).toBe(5);
    expect(byteToIndex(text, 1)).toBe(-1);
  });
});

describe("answer layout", () => {
  const utf8 = new TextEncoder();
  const range = (text: string, s: string) => {
    const start = utf8.encode(text.slice(0, text.indexOf(s))).length;
    return { text: s, range: { start, end: start + utf8.encode(s).length } };
  };

  test("paragraphs, bullets and numbered items keep their sentences", () => {
    const text = "요약:\n\n- 첫째입니다 [1].\n- 둘째입니다.\n\n1. 셋째입니다 [2].\n## 제목\n끝입니다.";
    const sentences = ["요약:", "첫째입니다 [1].", "둘째입니다.", "셋째입니다 [2].", "제목", "끝입니다."].map((s) => range(text, s));
    expect(layoutSentences(text, sentences)).toEqual([
      { kind: "p", lines: [[0]] },
      { kind: "ul", items: [[1], [2]] },
      { kind: "ol", items: [[3]] },
      { kind: "h", sentences: [4] },
      { kind: "p", lines: [[5]] },
    ]);
  });

  test("ranges that do not match the text fall back to one paragraph", () => {
    const text = "A. B.";
    expect(layoutSentences(text, [{ text: "A.", range: { start: 0, end: 5 } }, { text: "B.", range: { start: 3, end: 5 } }])).toEqual([
      { kind: "p", lines: [[0, 1]] },
    ]);
  });

  test("stored text splits into sentences with their markers", () => {
    const { blocks, sentences } = layoutStored("5 mg입니다. [1] 다음 문장입니다.\n- 항목 [2]");
    expect(sentences).toEqual(["5 mg입니다. [1]", "다음 문장입니다.", "항목 [2]"]);
    expect(blocks).toEqual([
      { kind: "p", lines: [[0, 1]] },
      { kind: "ul", items: [[2]] },
    ]);
  });

  test("inline Markdown: bold, code and markers only", () => {
    expect(parseInline("**굵게** `x` [1, 2] <b>no</b>")).toEqual([
      { kind: "strong", children: [{ kind: "text", text: "굵게" }] },
      { kind: "text", text: " " },
      { kind: "code", text: "x" },
      { kind: "text", text: " " },
      { kind: "marker", numbers: [1, 2] },
      { kind: "text", text: " <b>no</b>" },
    ]);
    expect(stripMarkers("Dose is 5 mg [1][2].")).toBe("Dose is 5 mg.");
  });
});

describe("formatting", () => {
  test("sizes are human", () => {
    expect(formatBytes(4_683_073_536, "en")).toBe("4.7 GB");
    expect(formatBytes(134_000_000, "en")).toBe("134 MB");
    expect(formatBytes(512, "en")).toBe("512 B");
  });

  test("export names are safe file names", () => {
    expect(safeFileName('a/b:c*?"<>|d', "x")).toBe("a b c d");
    expect(safeFileName("   ", "conversation")).toBe("conversation");
  });
});
