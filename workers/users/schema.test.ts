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

  it("normalise emails idempotently, and accept every address (up to 254 characters), stored lower-cased and trimmed", () => {
    fc.assert(
      fc.property(
        fc.emailAddress().filter((email) => email.length <= 254),
        fc.constantFrom("", " ", "\t"),
        (email, pad) => {
          const once = normalizeEmail(pad + email.toUpperCase() + pad);
          expect(normalizeEmail(once)).toBe(once);
          expect(emailSchema.safeParse(pad + email.toUpperCase() + pad)).toMatchObject({ success: true, data: once });
        },
      ),
      { numRuns: 300 },
    );
  });

  /** Code points, as the schema counts them, after the NFKC it applies. */
  const length = (password: string) => [...password.normalize("NFKC")].length;

  it("refuse passwords shorter or longer than allowed", () => {
    const short = fc.string({ unit: "grapheme", maxLength: PASSWORD_MIN - 1 }).filter((password) => length(password) < PASSWORD_MIN);
    const long = fc.string({ unit: "grapheme", minLength: PASSWORD_MAX + 1, maxLength: 200 });
    fc.assert(
      fc.property(fc.oneof(short, long), (password) => {
        expect(passwordSchema.safeParse(password).success).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it("refuse passwords of allowed length made of fewer than four distinct characters", () => {
    const printable = fc.integer({ min: 0x21, max: 0x7e }).map((code) => String.fromCharCode(code));
    const fewCharacters = fc
      .uniqueArray(printable, { minLength: 1, maxLength: 3 })
      .chain((characters) => fc.array(fc.constantFrom(...characters), { minLength: PASSWORD_MIN, maxLength: PASSWORD_MAX }))
      .map((characters) => characters.join(""));
    fc.assert(
      fc.property(fewCharacters, (password) => {
        expect(passwordSchema.safeParse(password).success).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it("accept every password of allowed length with four or more distinct characters that is not a common one", () => {
    // The common passwords are ASCII letters, digits and '!': a character outside those rules them out.
    const uncommon = fc
      .string({ unit: "grapheme", minLength: PASSWORD_MIN, maxLength: PASSWORD_MAX })
      .filter(
        (password) =>
          length(password) <= PASSWORD_MAX &&
          new Set(password.normalize("NFKC")).size >= 4 &&
          /[^a-z0-9!]/i.test(password.normalize("NFKC")),
      );
    fc.assert(
      fc.property(uncommon, (password) => {
        expect(passwordSchema.safeParse(password)).toMatchObject({ success: true, data: password.normalize("NFKC") });
      }),
      { numRuns: 500 },
    );
  });

  it("trim names and refuse control characters, unpaired surrogates and invisible formatting but joiners", () => {
    const refused = /[\p{Cc}\p{Cs}\u2028\u2029]|(?![\u200c\u200d])\p{Cf}/u;
    fc.assert(
      fc.property(fc.string({ unit: "binary", minLength: 1, maxLength: 90 }), (name) => {
        const trimmed = name.normalize("NFC").trim();
        const acceptable = trimmed !== "" && trimmed.length <= 100 && !refused.test(trimmed);
        expect(nameSchema.safeParse(name)).toMatchObject(acceptable ? { success: true, data: trimmed } : { success: false });
      }),
      { numRuns: 500 },
    );
  });
});
