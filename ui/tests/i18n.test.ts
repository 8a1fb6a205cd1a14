import { describe, expect, test } from "vitest";
import { en } from "../src/i18n/en";
import { ko } from "../src/i18n/ko";
import { pickLang, setLang, t } from "../src/i18n";

describe("i18n", () => {
  test("Korean and English have identical key sets", () => {
    expect(Object.keys(ko).sort()).toEqual(Object.keys(en).sort());
  });

  test("no message is empty and both use the same placeholders", () => {
    const placeholders = (s: string) => (s.match(/\{\w+\}/g) ?? []).sort();
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      expect(en[key].trim(), key).not.toBe("");
      expect(ko[key].trim(), key).not.toBe("");
      expect(placeholders(ko[key]), key).toEqual(placeholders(en[key]));
    }
  });

  test("the default language comes from the setting, else the OS locale", () => {
    expect(pickLang("en", "ko-KR")).toBe("en");
    expect(pickLang("ko", "en-US")).toBe("ko");
    expect(pickLang(null, "ko-KR")).toBe("ko");
    expect(pickLang(null, "ko")).toBe("ko");
    expect(pickLang(null, "en-GB")).toBe("en");
    expect(pickLang(null, "ja-JP")).toBe("en");
  });

  test("t fills placeholders in the current language", () => {
    setLang("ko");
    expect(t("answer.notFound")).toBe("문서에서 찾을 수 없습니다");
    expect(t("viewer.page", { page: 3, pages: 12 })).toBe("3 / 12쪽");
    setLang("en");
    expect(t("answer.notFound")).toBe("Not found in your documents");
    expect(t("viewer.page", { page: 3, pages: 12 })).toBe("p. 3 / 12");
    expect(document.documentElement.lang).toBe("en");
  });
});
