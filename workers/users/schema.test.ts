import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { emailSchema, nameSchema, normalizeEmail, PASSWORD_MAX, PASSWORD_MIN, passwordSchema, signupBody } from "./schema.ts";

/** Property-based tests of the validators: whatever a client sends, they answer and never throw. */
describe("validators", () => {
  it("never throw, whatever the input", () => {
    fc.assert(
      fc.property(fc.anything(), (input) => {
        expect(() => signupBody.safeParse(input)).not.toThrow();
        expect(() => emailSchema.safeParse(input)).not.toThrow();
      }),
      { numRuns: 500 },
    );
  });

  it("normalise emails idempotently, and an accepted email is stored lower-cased and trimmed", () => {
    fc.assert(
      fc.property(fc.emailAddress(), fc.constantFrom("", " ", "\t"), (email, pad) => {
        const once = normalizeEmail(pad + email.toUpperCase() + pad);
        expect(normalizeEmail(once)).toBe(once);
        const parsed = emailSchema.safeParse(pad + email.toUpperCase() + pad);
        if (parsed.success) expect(parsed.data).toBe(once);
      }),
      { numRuns: 300 },
    );
  });

  it("accept every password of allowed length with enough distinct characters, and refuse shorter or longer ones", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", minLength: 0, maxLength: 200 }), (password) => {
        const normalized = password.normalize("NFKC");
        const length = [...normalized].length;
        const result = passwordSchema.safeParse(password);
        if (length < PASSWORD_MIN || length > PASSWORD_MAX) expect(result.success).toBe(false);
        else if (new Set(normalized).size >= 6 && !/^\d+$/.test(normalized)) expect(result.success).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("trim names and refuse control characters, unpaired surrogates and invisible formatting but joiners", () => {
    const refused = /[\p{Cc}\p{Cs}\u2028\u2029]|(?![\u200c\u200d])\p{Cf}/u;
    fc.assert(
      fc.property(fc.string({ unit: "binary", minLength: 1, maxLength: 90 }), (name) => {
        const result = nameSchema.safeParse(name);
        const trimmed = name.normalize("NFC").trim();
        if (result.success) {
          expect(result.data).toBe(trimmed);
          expect(result.data).not.toMatch(refused);
        } else {
          expect(trimmed === "" || trimmed.length > 100 || refused.test(trimmed)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});
