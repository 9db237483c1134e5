import type { z } from "zod";
import type { Config } from "./config.ts";
import { base64url, fromBase64url } from "./crypto.ts";
import { ApiError } from "./errors.ts";

/**
 * Opaque, tamper-evident keyset cursors: `base64url(JSON)` + `.` + `base64url(HMAC-SHA256)`.
 *
 * Why signed, when a cursor only names a position in public data: listing pages are cached under
 * their cursor, so a client that could mint cursors at will could make every request a cache
 * miss (a database query and a KV write). Signed, the only cursors that exist are the ones the
 * server handed out. The MAC also covers a `scope`, so a search cursor cannot page the catalog.
 *
 * The HMAC keys are `config.cursorKeys`, derived (HKDF) from the JWT signing keys: the first one
 * signs, every one verifies, so a key rotation keeps cursors valid exactly as it keeps access
 * tokens valid.
 */
export interface CursorCodec<T> {
  encode(value: T): Promise<string>;
  /** Throws 400 (`bad-request`) for anything the server did not issue for this scope. */
  decode(cursor: string): Promise<T>;
}

const encoder = new TextEncoder();

/**
 * A codec for one kind of cursor. `schema` checks the payload after the signature, so a cursor
 * issued by an older version of the code with another shape is refused cleanly too.
 *
 * @example
 * const cursors = cursorCodec(services.config, "videos", z.object({ t: z.iso.datetime(), i: z.string() }));
 * const after = query.cursor ? await cursors.decode(query.cursor) : undefined;
 */
export function cursorCodec<T>(config: Pick<Config, "cursorKeys">, scope: string, schema: z.ZodType<T>): CursorCodec<T> {
  const invalid = () =>
    new ApiError(
      "bad-request",
      "The cursor is not valid. Use the nextCursor of a previous page unchanged, or leave cursor out to start over.",
      {
        errors: [{ path: "cursor", message: "Not a cursor this server issued for this list." }],
      },
    );
  const signed = (payload: string) => encoder.encode(`${scope}.${payload}`);
  return {
    async encode(value) {
      const payload = base64url(encoder.encode(JSON.stringify(value)));
      const [key] = config.cursorKeys;
      if (!key) throw new Error("no cursor key: JWT_SIGNING_KEYS is empty");
      const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, signed(payload)));
      return `${payload}.${base64url(mac)}`;
    },
    async decode(cursor) {
      const [payload, macText, ...rest] = cursor.split(".");
      const mac = macText === undefined ? undefined : fromBase64url(macText);
      if (!payload || !mac || mac.length !== 32 || rest.length > 0 || cursor.length > 512) throw invalid();
      let verified = false;
      for (const key of config.cursorKeys) {
        if (await crypto.subtle.verify("HMAC", key, mac, signed(payload))) {
          verified = true;
          break;
        }
      }
      if (!verified) throw invalid();
      let value: unknown;
      try {
        value = JSON.parse(new TextDecoder().decode(fromBase64url(payload)));
      } catch {
        throw invalid();
      }
      const parsed = schema.safeParse(value);
      if (!parsed.success) throw invalid();
      return parsed.data;
    },
  };
}
