import { type MaturityRank, NO_CEILING } from "../../schema/maturity/ratings.ts";
import { base64url, fromBase64url } from "../../workers/platform/crypto.ts";

/** An account has at most this many profiles (the default one included). */
export const MAX_PROFILES = 5;
/** Wrong PINs allowed per profile within `PIN_WINDOW_MS`; the next try waits until the window ends. */
export const PIN_TRIES = 5;
export const PIN_WINDOW_MS = 15 * 60_000;
/**
 * PBKDF2-SHA256 with a random salt per PIN: a PIN is never stored as typed. Four to eight digits are
 * few enough to try all of them offline, so what protects a PIN is the object's throttle; the hash
 * keeps it out of storage and logs. 100,000 is the most iterations workerd's PBKDF2 accepts.
 */
const PIN_ITERATIONS = 100_000;

/** A profile as the object holds it (no PIN, only whether there is one). */
export interface Profile {
  id: string;
  name: string;
  kids: boolean;
  /** The highest maturity rank the profile may see (0 `all` … 4 `18+`). */
  maturityCeiling: MaturityRank;
  hasPin: boolean;
  audioLanguage: string | null;
  captionLanguage: string | null;
  /** The account's first profile (its id is the user id): it cannot be deleted. */
  isDefault: boolean;
  createdAt: number;
}

export interface ProfileFields {
  name: string;
  kids: boolean;
  maturityCeiling: MaturityRank;
  /** A new PIN (digits), or null to remove it; undefined leaves it as it is. */
  pin?: string | null;
  audioLanguage: string | null;
  captionLanguage: string | null;
}

export type ProfileChange = Partial<ProfileFields>;

/** Why a profile operation was refused; the Worker words each one for people. */
export type ProfileRefusal =
  | { refused: "not-found" }
  | { refused: "limit"; max: number }
  | { refused: "default-profile" }
  | { refused: "in-use" }
  | { refused: "pin-required" }
  | { refused: "wrong-pin"; triesLeft: number }
  | { refused: "locked"; retryAfterMs: number };

interface ProfileRow {
  id: string;
  name: string;
  kids: number;
  ceiling: number;
  pin_hash: string | null;
  audio_language: string | null;
  caption_language: string | null;
  created_at: number;
  [column: string]: SqlStorageValue;
}

function toProfile(row: ProfileRow, defaultId: string): Profile {
  return {
    id: row.id,
    name: row.name,
    kids: row.kids === 1,
    maturityCeiling: Math.min(Math.max(Math.trunc(row.ceiling), 0), NO_CEILING) as MaturityRank,
    hasPin: row.pin_hash !== null,
    audioLanguage: row.audio_language,
    captionLanguage: row.caption_language,
    isDefault: row.id === defaultId,
    createdAt: row.created_at,
  };
}

async function derivePin(pin: string, salt: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(pin), "PBKDF2", false, ["deriveBits"]);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations: PIN_ITERATIONS }, key, 256));
}

/** `pbkdf2-sha256$<iterations>$<salt>$<hash>`, base64url. */
export async function hashPin(pin: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  return `pbkdf2-sha256$${PIN_ITERATIONS}$${base64url(salt)}$${base64url(await derivePin(pin, salt))}`;
}

async function pinMatches(stored: string, pin: string): Promise<boolean> {
  const [scheme, , saltText, hashText] = stored.split("$");
  const salt = saltText ? fromBase64url(saltText) : undefined;
  const expected = hashText ? fromBase64url(hashText) : undefined;
  if (scheme !== "pbkdf2-sha256" || !salt || !expected) return false;
  const actual = await derivePin(pin, salt);
  // Constant time over the whole digest.
  let difference = actual.length ^ expected.length;
  for (let i = 0; i < actual.length; i++) difference |= (actual[i] ?? 0) ^ (expected[i] ?? 0);
  return difference === 0;
}

/**
 * The account's profiles (up to `MAX_PROFILES`): each has its own progress, continue-watching and
 * preferences, and a maturity ceiling the catalog enforces from the access token (`mc`). The default
 * profile's id is the user id, so what was kept per user before profiles is its state; it is made on
 * first need from the account's name, and cannot be deleted.
 * A PIN is hashed before it is stored; wrong PINs are counted per profile (`PIN_TRIES` per
 * `PIN_WINDOW_MS`), on this object's clock.
 */
export class Profiles {
  constructor(private readonly sql: SqlStorage) {}

  createTables(): void {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS profiles (id TEXT PRIMARY KEY, name TEXT NOT NULL, kids INTEGER NOT NULL,
      ceiling INTEGER NOT NULL, pin_hash TEXT, audio_language TEXT, caption_language TEXT, created_at INTEGER NOT NULL,
      pin_failures INTEGER NOT NULL DEFAULT 0, pin_window_start INTEGER)`);
  }

  /** Makes the default profile (id = the user id, named after the account) unless it exists. */
  ensureDefault(userId: string, name: string, now: number): void {
    this.sql.exec(
      "INSERT INTO profiles (id, name, kids, ceiling, created_at) VALUES (?, ?, 0, ?, ?) ON CONFLICT (id) DO NOTHING",
      userId,
      name,
      NO_CEILING,
      now,
    );
  }

  list(defaultId: string): Profile[] {
    return this.sql
      .exec<ProfileRow>("SELECT * FROM profiles ORDER BY created_at, id")
      .toArray()
      .map((row) => toProfile(row, defaultId));
  }

  get(id: string, defaultId: string): Profile | null {
    const row = this.row(id);
    return row ? toProfile(row, defaultId) : null;
  }

  async create(fields: ProfileFields, defaultId: string, now: number): Promise<Profile | ProfileRefusal> {
    // Hashed first: from the count to the insert nothing is awaited, so two creations cannot both pass the limit.
    const pinHash = fields.pin ? await hashPin(fields.pin) : null;
    const count = this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM profiles").one().n;
    if (count >= MAX_PROFILES) return { refused: "limit", max: MAX_PROFILES };
    const id = crypto.randomUUID();
    this.sql.exec(
      `INSERT INTO profiles (id, name, kids, ceiling, pin_hash, audio_language, caption_language, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      id,
      fields.name,
      fields.kids ? 1 : 0,
      fields.maturityCeiling,
      pinHash,
      fields.audioLanguage,
      fields.captionLanguage,
      now,
    );
    return this.get(id, defaultId) as Profile;
  }

  async update(id: string, change: ProfileChange, defaultId: string): Promise<Profile | ProfileRefusal> {
    if (id === defaultId && change.kids === true) return { refused: "default-profile" };
    const newPinHash = change.pin ? await hashPin(change.pin) : null;
    // Read after the hash: nothing is awaited between this read and the write.
    const row = this.row(id);
    if (!row) return { refused: "not-found" };
    const pinHash = change.pin === undefined ? row.pin_hash : newPinHash;
    this.sql.exec(
      `UPDATE profiles SET name = ?, kids = ?, ceiling = ?, pin_hash = ?, audio_language = ?, caption_language = ?,
         pin_failures = CASE WHEN ? THEN 0 ELSE pin_failures END WHERE id = ?`,
      change.name ?? row.name,
      change.kids === undefined ? row.kids : change.kids ? 1 : 0,
      change.maturityCeiling ?? row.ceiling,
      pinHash,
      change.audioLanguage === undefined ? row.audio_language : change.audioLanguage,
      change.captionLanguage === undefined ? row.caption_language : change.captionLanguage,
      change.pin !== undefined ? 1 : 0,
      id,
    );
    return this.get(id, defaultId) as Profile;
  }

  delete(id: string, defaultId: string): ProfileRefusal | null {
    if (id === defaultId) return { refused: "default-profile" };
    const cursor = this.sql.exec("DELETE FROM profiles WHERE id = ?", id);
    cursor.toArray();
    return cursor.rowsWritten > 0 ? null : { refused: "not-found" };
  }

  /**
   * Checks the PIN of profile `id` (if it has one), counting wrong ones: after `PIN_TRIES` wrong
   * PINs within `PIN_WINDOW_MS` every try is refused, right or wrong, until the window ends.
   */
  async checkPin(id: string, pin: string | undefined, defaultId: string, now: number): Promise<Profile | ProfileRefusal> {
    const row = this.row(id);
    if (!row) return { refused: "not-found" };
    if (row.pin_hash === null) return toProfile(row, defaultId);
    const windowStart = row.pin_window_start === null ? null : Number(row.pin_window_start);
    const windowOpen = windowStart !== null && now < windowStart + PIN_WINDOW_MS;
    if (windowOpen && Number(row.pin_failures) >= PIN_TRIES) return { refused: "locked", retryAfterMs: windowStart + PIN_WINDOW_MS - now };
    if (pin === undefined) return { refused: "pin-required" };
    // Counted as wrong before the comparison (which awaits): tries sent at once are all counted.
    const start = windowOpen ? windowStart : now;
    const failures = (windowOpen ? Number(row.pin_failures) : 0) + 1;
    this.sql.exec("UPDATE profiles SET pin_failures = ?, pin_window_start = ? WHERE id = ?", failures, start, id);
    if (await pinMatches(row.pin_hash, pin)) {
      this.sql.exec("UPDATE profiles SET pin_failures = 0, pin_window_start = NULL WHERE id = ?", id);
      return toProfile(row, defaultId);
    }
    if (failures >= PIN_TRIES) return { refused: "locked", retryAfterMs: start + PIN_WINDOW_MS - now };
    return { refused: "wrong-pin", triesLeft: PIN_TRIES - failures };
  }

  private row(id: string): ProfileRow | undefined {
    return this.sql.exec<ProfileRow>("SELECT * FROM profiles WHERE id = ?", id).toArray()[0];
  }
}
