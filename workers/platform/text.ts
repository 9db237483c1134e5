import { z } from "@hono/zod-openapi";

/**
 * Free text from clients, checked once for every field before it can reach Postgres, KV or a
 * log line. Three classes of characters are at stake:
 *
 * - **Control characters** (`\p{Cc}`: C0, DEL and C1), U+0000 among them: Postgres refuses NUL in
 *   `text` (SQLSTATE 22021, which was a 500), and the others are invisible or move the cursor.
 *   A multi-line field keeps its line breaks (and `\r\n` becomes `\n`); nothing keeps tabs.
 * - **Unpaired surrogates** (`\p{Cs}`): not characters at all; they have no UTF-8 encoding, so a
 *   database either refuses them or silently stores U+FFFD instead of what was sent.
 * - **Invisible formatting characters** (`\p{Cf}`, and the line and paragraph separators
 *   U+2028/U+2029): zero-width spaces, bidirectional marks, embeddings, overrides and isolates,
 *   the word joiner, soft hyphens, tag characters. Harmless in a film's summary, they are how one
 *   identity is made to look like another ("zw\u200bada@…" beside "zwada@…", a display name
 *   reversed by U+202E). Fields that name a person or an account refuse them: `invisible:
 *   "refuse"` refuses all of them (emails); `"refuse-except-joiners"` keeps the zero-width joiner
 *   and non-joiner (U+200D, U+200C), which Persian, Indic scripts and emoji sequences need (names).
 */
export interface TextRules {
  /** What the field is called in messages, as the subject of a sentence: "A title", "An email address". */
  label: string;
  /** Characters (UTF-16 code units, as the database's `varchar` limits and zod count), after trimming. */
  min?: number;
  max: number;
  /** Keep line breaks (summaries). */
  multiline?: boolean;
  invisible?: "allow" | "refuse" | "refuse-except-joiners";
  /** Unicode normalisation applied before the checks (default NFC: one spelling of each character). */
  normalize?: "NFC" | "NFKC";
}

const JOINERS = new Set([0x200c, 0x200d]);
const control = /[\p{Cc}\p{Cs}]/u;
const invisibleCharacter = /[\p{Cf}\u2028\u2029]/u;

/** `U+200B` for a code point: how the messages name a character nobody can see. */
function codePoint(character: string): string {
  return `U+${(character.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;
}

/**
 * Why `value` cannot be stored under `rules` (a sentence a person can act on), or null when it
 * can. For text that does not arrive through a zod schema (tus `Upload-Metadata` values).
 *
 * @example
 * unsafeCharacterReason("a\u0000b", { label: "A title" }); // "A title contains U+0000, a control character: remove it."
 */
export function unsafeCharacterReason(value: string, rules: Pick<TextRules, "label" | "multiline" | "invisible">): string | null {
  for (const character of value) {
    const code = character.codePointAt(0) ?? 0;
    if (rules.multiline && character === "\n") continue;
    if (control.test(character)) {
      const what = code >= 0xd800 && code <= 0xdfff ? "an unpaired surrogate, which is not a character" : "a control character";
      return `${rules.label} contains ${codePoint(character)}, ${what}: remove it.`;
    }
    const invisible = rules.invisible ?? "allow";
    if (invisible !== "allow" && invisibleCharacter.test(character) && !(invisible === "refuse-except-joiners" && JOINERS.has(code))) {
      return `${rules.label} contains ${codePoint(character)}, an invisible formatting character (a zero-width space, a bidirectional control or similar): remove it.`;
    }
  }
  return null;
}

/**
 * The shared building block of every free-text field: normalises (NFC unless told), turns `\r\n`
 * into `\n` when multi-line, trims, then refuses what `unsafeCharacterReason` names and enforces the
 * length, each with its own message. Compose further with `.transform(...)` and `.pipe(...)`.
 *
 * @example
 * const title = safeText({ label: "A title", min: 1, max: 200 });
 * const email = safeText({ label: "An email address", max: 320, invisible: "refuse" }).pipe(z.email());
 */
export function safeText(rules: TextRules) {
  const { label, min, max } = rules;
  return z
    .string()
    .transform((value) => {
      const normalized = value.normalize(rules.normalize ?? "NFC");
      return (rules.multiline ? normalized.replaceAll("\r\n", "\n") : normalized).trim();
    })
    .superRefine((value, ctx) => {
      const reason = unsafeCharacterReason(value, rules);
      if (reason) ctx.addIssue({ code: "custom", message: reason, abort: true });
      else if (min !== undefined && value.length < min) {
        ctx.addIssue({ code: "custom", message: min === 1 ? `${label} cannot be empty.` : `${label} has at least ${min} characters.` });
      } else if (value.length > max) ctx.addIssue({ code: "custom", message: `${label} has at most ${max} characters.` });
    })
    .openapi({ type: "string", ...(min !== undefined ? { minLength: min } : {}), maxLength: max });
}
