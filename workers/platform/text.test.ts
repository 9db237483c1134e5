import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { safeText, unsafeCharacterReason } from "./text.ts";

const title = safeText({ label: "A title", min: 1, max: 20 });
const summary = safeText({ label: "A summary", min: 1, max: 200, multiline: true });
const email = safeText({ label: "An email address", max: 320, invisible: "refuse" });
const name = safeText({ label: "A name", min: 1, max: 100, invisible: "refuse-except-joiners" });

function messages(result: { success: boolean; error?: { issues: { message: string }[] } }): string[] {
  return result.error?.issues.map((issue) => issue.message) ?? [];
}

describe("safeText", () => {
  it("refuses NUL and every other control character, naming the code point", () => {
    for (const control of ["\u0000", "\u0001", "\u001b", "\u007f", "\u0085", "\u009f", "\t"]) {
      const result = title.safeParse(`a${control}b`);
      expect(result.success, JSON.stringify(control)).toBe(false);
      const hex = control.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
      expect(messages(result)).toEqual([`A title contains U+${hex}, a control character: remove it.`]);
    }
  });

  it("refuses unpaired surrogates, which have no UTF-8 encoding, and keeps paired ones (emoji)", () => {
    expect(messages(title.safeParse("a\ud800b"))).toEqual([
      "A title contains U+D800, an unpaired surrogate, which is not a character: remove it.",
    ]);
    expect(title.safeParse("b\udc00").success).toBe(false);
    expect(title.parse("film 🎬")).toBe("film 🎬");
  });

  it("keeps line breaks only in multi-line fields, with \\r\\n made \\n", () => {
    expect(summary.parse("one\r\ntwo\nthree")).toBe("one\ntwo\nthree");
    expect(title.safeParse("one\ntwo").success).toBe(false);
    expect(summary.safeParse("one\rtwo").success).toBe(false);
  });

  it("trims and normalises before checking, so surrounding whitespace is forgiven and lengths count what is stored", () => {
    expect(title.parse("\t  Cafe\u0301 \n")).toBe("Café");
    expect(messages(title.safeParse("   "))).toEqual(["A title cannot be empty."]);
    expect(messages(title.safeParse("x".repeat(21)))).toEqual(["A title has at most 20 characters."]);
  });

  it("refuses invisible formatting characters where identities are at stake, and only there", () => {
    for (const invisible of ["\u200b", "\u200e", "\u202e", "\u2066", "\u2060", "\u00ad", "\u2028", "\u{e0041}"]) {
      expect(email.safeParse(`zw${invisible}ada@example.com`).success, JSON.stringify(invisible)).toBe(false);
      expect(name.safeParse(`Ada${invisible}Brook`).success, JSON.stringify(invisible)).toBe(false);
      expect(title.safeParse(`The${invisible}Film`).success, JSON.stringify(invisible)).toBe(true);
    }
    expect(messages(name.safeParse("Ada\u202eBrook"))).toEqual([
      "A name contains U+202E, an invisible formatting character (a zero-width space, a bidirectional control or similar): remove it.",
    ]);
    // Joiners: a family emoji and a Persian name with a zero-width non-joiner are names; in an email they are look-alikes.
    expect(name.parse("👨\u200d👩\u200d👧")).toBe("👨\u200d👩\u200d👧");
    expect(name.parse("می\u200cخواهم")).toBe("می\u200cخواهم");
    expect(email.safeParse("ada\u200d@example.com").success).toBe(false);
  });

  it("never lets a refused character through and never throws, whatever the input (property)", () => {
    const refused = /[\p{Cc}\p{Cs}\u2028\u2029]|(?![\u200c\u200d])\p{Cf}/u;
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 40 }), (input) => {
        const trimmed = input.normalize("NFC").trim();
        const acceptable = trimmed !== "" && !refused.test(trimmed);
        expect(name.safeParse(input)).toMatchObject(acceptable ? { success: true, data: trimmed } : { success: false });
        expect(() => title.safeParse(input)).not.toThrow();
      }),
      { numRuns: 1000 },
    );
  });

  it("says why outside zod too (tus metadata)", () => {
    expect(unsafeCharacterReason("clip\u0000.mp4", { label: "The filename" })).toBe(
      "The filename contains U+0000, a control character: remove it.",
    );
    expect(unsafeCharacterReason("clip.mp4", { label: "The filename" })).toBeNull();
  });
});
