/** What a redacted value is replaced by. */
export const REDACTED = "[redacted]";

/** Field names whose values are credentials whatever they hold. */
const secretFieldName = /pass(word|phrase)?$|secret|token|authorization|cookie|grant|signature|credential|api[-_]?key|private[-_]?key/i;

/**
 * Credentials as they appear inside text, whatever their kind:
 * - anything dotted around a run of 40+ base64url characters with both cases in it: 32 random bytes
 *   are 43 such characters, which every signature, key and random token here has (media tokens
 *   `v2.….{signature}`, refresh tokens `rsr_…`, storage grants `{payload}.{signature}`, HMAC
 *   secrets, a JWK's `d`), while long names (`reelstream-production-transcodercontainer-production`)
 *   and hex digests have one case only;
 * - a JWT or anything else base64url-encoded JSON (`eyJ…`), however short;
 * - the value of an `Authorization: Bearer …` or `Basic …`.
 * Identifiers stay readable: UUIDs, video ids, R2 keys, queue and container names.
 */
const dotted = /(?:[\w-]+\.)*(?:[\w-]{40,}|eyJ[\w-]{6,})(?:\.[\w-]+)*|(?<=\b(?:Bearer|Basic) )\S+/g;

function isCredential(match: string, before: string): boolean {
  if (/\b(?:Bearer|Basic) $/.test(before) || /(^|\.)eyJ/.test(match)) return true;
  return match.split(".").some((part) => part.length >= 40 && /[A-Z]/.test(part) && /[a-z]/.test(part));
}

/** `text` with every credential in it replaced by `[redacted]`. */
export function redactText(text: string): string {
  return text.replace(dotted, (match, offset: number) =>
    isCredential(match, text.slice(Math.max(0, offset - 7), offset)) ? REDACTED : match,
  );
}

/**
 * A log record with no credential left in it: fields named like one are replaced whole, and every
 * string (nested ones too) loses the credentials it contains. The logger applies it to every line,
 * so a token that reaches a message, a path or an error by accident never reaches the logs.
 *
 * @example
 * redactSecrets({ path: "/media/v1/v2.k.1.720.u.s.l.AbC…43/hls/master.m3u8" }); // { path: "/media/v1/[redacted]/hls/master.m3u8" }
 */
export function redactSecrets<T>(value: T, depth = 0): T {
  if (typeof value === "string") return redactText(value) as T;
  if (depth > 8 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((item) => redactSecrets(item, depth + 1)) as T;
  return Object.fromEntries(
    Object.entries(value).map(([key, field]) => [
      key,
      secretFieldName.test(key) && field != null ? REDACTED : redactSecrets(field, depth + 1),
    ]),
  ) as T;
}
