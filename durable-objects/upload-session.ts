import { DurableObject } from "cloudflare:workers";
import { createLogger } from "../workers/platform/logger.ts";
import { createMediaStore } from "../workers/platform/media-store.ts";

/**
 * - `active`: accepting PATCHes.
 * - `assembled`: every byte is in R2 at the master key; the video is not yet queued (a PATCH at
 *   the final offset retries that step).
 * - `finished`: the video is queued; nothing more to do.
 * - `terminated`, `expired`: its bytes are gone; the record stays a while so that HEAD can say why.
 */
export type UploadPhase = "active" | "assembled" | "finished" | "terminated" | "expired";

export interface UploadPart {
  partNumber: number;
  etag: string;
}

/** What a tus upload is, as the Worker sees it. */
export interface UploadRecord {
  uploadId: string;
  videoId: string;
  /** R2 key the master is assembled at. */
  masterKey: string;
  /** R2 prefix of this upload's scratch objects (the tail). */
  scratchPrefix: string;
  /** An upload without a PATCH for this long expires. */
  idleExpiryMs: number;
  length: number;
  /** Bytes acknowledged: every whole part plus the tail. */
  offset: number;
  partSize: number;
  metadata: Record<string, string>;
  phase: UploadPhase;
  /** The R2 multipart upload (at the master key), created with the first whole part. */
  multipartUploadId: string | null;
  parts: UploadPart[];
  /** Bytes after the last whole part, kept as an R2 object until a part is full. */
  tailKey: string | null;
  tailLength: number;
  createdAt: number;
  expiresAt: number;
}

export type BeginWrite =
  | { ok: true; token: string; record: UploadRecord }
  | { ok: false; reason: "gone"; record: UploadRecord | null }
  | { ok: false; reason: "offset"; record: UploadRecord }
  | { ok: false; reason: "busy"; record: UploadRecord; retryAfterSeconds: number };

/** A PATCH holds the write lease while it streams; a crashed one loses it after this long without commits. */
const WRITE_LEASE_MS = 2 * 60 * 1000;
/** How long a terminated, expired or finished upload still answers HEAD with its reason. */
const TOMBSTONE_MS = 7 * 24 * 3600 * 1000;

/** Sent on the Worker's queue when an idle upload expired: the uploads service frees the video. */
export interface UploadExpiredMessage {
  kind: "upload-expired";
  uploadId: string;
  videoId: string;
}

/**
 * One tus upload (`idFromName(uploadId)`). It holds the offset, the R2 multipart upload and its
 * parts, and the tail, in SQLite; the Worker streams the bytes to R2 and commits each step here,
 * so that the committed state always describes bytes that exist. Only one PATCH writes at a time.
 * The alarm expires an idle upload: it aborts the multipart upload, deletes the tail objects and
 * asks the uploads service (a queue message) to free the video for another upload. The object
 * knows R2 and nothing of the catalog: keys and expiry come with `create`.
 */
export class UploadSession extends DurableObject<Env> {
  private readonly log = createLogger({ durableObject: "UploadSession" });
  private record: UploadRecord | null = null;
  private writer: { token: string; until: number } | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      const sqlStorage = this.ctx.storage.sql;
      sqlStorage.exec("CREATE TABLE IF NOT EXISTS upload (id INTEGER PRIMARY KEY CHECK (id = 1), record TEXT NOT NULL)");
      sqlStorage.exec("CREATE TABLE IF NOT EXISTS parts (part_number INTEGER PRIMARY KEY, etag TEXT NOT NULL)");
      const row = sqlStorage.exec<{ record: string }>("SELECT record FROM upload WHERE id = 1").toArray()[0];
      if (row) {
        const stored = JSON.parse(row.record) as Omit<UploadRecord, "parts">;
        const parts = sqlStorage
          .exec<{ part_number: number; etag: string }>("SELECT part_number, etag FROM parts ORDER BY part_number")
          .toArray()
          .map((part) => ({ partNumber: part.part_number, etag: part.etag }));
        this.record = { ...stored, parts };
      }
    });
  }

  private save(record: UploadRecord): UploadRecord {
    const { parts: _parts, ...rest } = record;
    this.ctx.storage.sql.exec(
      "INSERT INTO upload (id, record) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET record = excluded.record",
      JSON.stringify(rest),
    );
    this.record = record;
    return record;
  }

  private ownsLease(token: string): UploadRecord {
    if (!this.record || this.writer?.token !== token) throw new Error("this PATCH no longer holds the upload's write lease");
    this.writer.until = Date.now() + WRITE_LEASE_MS;
    return this.record;
  }

  /** Starts the upload; idempotent for the same id. */
  async create(
    init: Pick<UploadRecord, "uploadId" | "videoId" | "masterKey" | "scratchPrefix" | "idleExpiryMs" | "length" | "partSize" | "metadata">,
  ) {
    if (this.record) return this.record;
    const now = Date.now();
    const record = this.save({
      ...init,
      offset: 0,
      phase: "active",
      multipartUploadId: null,
      parts: [],
      tailKey: null,
      tailLength: 0,
      createdAt: now,
      expiresAt: now + init.idleExpiryMs,
    });
    await this.ctx.storage.setAlarm(record.expiresAt);
    return record;
  }

  async status(): Promise<UploadRecord | null> {
    return this.record;
  }

  /**
   * Takes the write lease for a PATCH at `offset`. A PATCH at the final offset of an `assembled`
   * upload is let through so that it can finish queueing the video.
   */
  async beginWrite(offset: number): Promise<BeginWrite> {
    const record = this.record;
    if (!record || (record.phase !== "active" && record.phase !== "assembled")) return { ok: false, reason: "gone", record };
    if (offset !== record.offset) return { ok: false, reason: "offset", record };
    const now = Date.now();
    if (this.writer && this.writer.until > now) {
      return { ok: false, reason: "busy", record, retryAfterSeconds: Math.ceil((this.writer.until - now) / 1000) };
    }
    this.writer = { token: crypto.randomUUID(), until: now + WRITE_LEASE_MS };
    const expiresAt = now + record.idleExpiryMs;
    this.save({ ...record, expiresAt });
    await this.ctx.storage.setAlarm(expiresAt);
    return { ok: true, token: this.writer.token, record: this.record as UploadRecord };
  }

  async endWrite(token: string): Promise<void> {
    if (this.writer?.token === token) this.writer = null;
  }

  async setMultipartUpload(token: string, multipartUploadId: string): Promise<void> {
    const record = this.ownsLease(token);
    this.save({ ...record, multipartUploadId });
  }

  /** A whole part is in R2: it replaces the tail, whose bytes it began with. Returns the old tail key. */
  async commitPart(token: string, part: UploadPart): Promise<{ record: UploadRecord; staleTailKey: string | null }> {
    const record = this.ownsLease(token);
    if (part.partNumber !== record.parts.length + 1) throw new Error(`part ${part.partNumber} is out of order`);
    this.ctx.storage.sql.exec("INSERT INTO parts (part_number, etag) VALUES (?, ?)", part.partNumber, part.etag);
    const parts = [...record.parts, part];
    const saved = this.save({ ...record, parts, offset: parts.length * record.partSize, tailKey: null, tailLength: 0 });
    return { record: saved, staleTailKey: record.tailKey };
  }

  /** A new tail object holds every byte after the last whole part. Returns the old tail key. */
  async commitTail(token: string, tailKey: string, tailLength: number): Promise<{ record: UploadRecord; staleTailKey: string | null }> {
    const record = this.ownsLease(token);
    const saved = this.save({ ...record, tailKey, tailLength, offset: record.parts.length * record.partSize + tailLength });
    return { record: saved, staleTailKey: record.tailKey };
  }

  /** The master is complete in R2. */
  async markAssembled(token: string): Promise<UploadRecord> {
    const record = this.ownsLease(token);
    return this.save({ ...record, phase: "assembled", offset: record.length, multipartUploadId: null, tailKey: null, tailLength: 0 });
  }

  /** The video is queued: keep a tombstone for HEAD, then forget. */
  async markFinished(): Promise<UploadRecord | null> {
    if (!this.record) return null;
    const record = this.save({ ...this.record, phase: "finished", expiresAt: Date.now() + TOMBSTONE_MS });
    this.writer = null;
    await this.ctx.storage.setAlarm(record.expiresAt);
    return record;
  }

  /**
   * tus termination: releases the bytes. `released` is false when there was nothing left to
   * release (terminated, expired or finished before): only a release frees the video.
   */
  async terminate(): Promise<{ record: UploadRecord; released: boolean } | null> {
    const phase = this.record?.phase;
    const record = await this.release("terminated");
    return record && { record, released: phase === "active" || phase === "assembled" };
  }

  override async alarm(): Promise<void> {
    const record = this.record;
    if (!record) return;
    if (record.phase === "active" || record.phase === "assembled") {
      if (Date.now() < record.expiresAt) {
        await this.ctx.storage.setAlarm(record.expiresAt);
        return;
      }
      const released = await this.release("expired");
      if (released) {
        const message: UploadExpiredMessage = { kind: "upload-expired", uploadId: released.uploadId, videoId: released.videoId };
        await this.env.TRANSCODE_QUEUE.send(message);
      }
      return;
    }
    // A tombstone whose time is up.
    this.record = null;
    await this.ctx.storage.deleteAll();
  }

  /**
   * Aborts the multipart upload and deletes the tail objects. An `assembled` upload also deletes
   * its master: it was never queued. The caller frees the video (the terminate route at once, the
   * uploads service on `upload-expired`).
   */
  private async release(phase: "terminated" | "expired"): Promise<UploadRecord | null> {
    const record = this.record;
    if (!record) return null;
    if (record.phase !== "active" && record.phase !== "assembled") return record;
    const media = createMediaStore(this.env.MEDIA);
    if (record.multipartUploadId) {
      try {
        await media.bucket.resumeMultipartUpload(record.masterKey, record.multipartUploadId).abort();
      } catch (error) {
        // Already aborted or completed: nothing is left to release.
        this.log.warn("multipart abort failed", { uploadId: record.uploadId, error });
      }
    }
    await media.deleteByPrefix(record.scratchPrefix);
    if (record.phase === "assembled") await media.bucket.delete(record.masterKey);
    this.ctx.storage.sql.exec("DELETE FROM parts");
    this.writer = null;
    const saved = this.save({
      ...record,
      phase,
      parts: [],
      multipartUploadId: null,
      tailKey: null,
      tailLength: 0,
      expiresAt: Date.now() + TOMBSTONE_MS,
    });
    await this.ctx.storage.setAlarm(saved.expiresAt);
    return saved;
  }
}
