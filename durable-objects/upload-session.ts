import { DurableObject } from "cloudflare:workers";
import { type Clock, systemClock } from "../workers/platform/clock.ts";
import { createLogger } from "../workers/platform/logger.ts";
import { retireMaster } from "../workers/platform/master-retention.ts";
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
  /** The R2 multipart upload (at the master key), created by this object with the first whole part. */
  multipartUploadId: string | null;
  /** Committed parts, in ascending part number (numbers may skip one a failed PATCH reserved). */
  parts: UploadPart[];
  /**
   * The next part number to hand out (`reservePart`). Never reused, so a PATCH that lost its lease
   * and uploads late can only write a part number nobody commits, never over a committed one.
   */
  nextPartNumber: number;
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

/**
 * Why a PATCH may no longer write (the fence): the upload was terminated, expired or finished
 * (`gone`), or another PATCH took the write lease after this one made no progress for two minutes
 * (`lease-lost`). Every step that writes to R2 asks first, and every commit is refused with this.
 */
export type Fenced = { ok: false; reason: "gone" | "lease-lost"; record: UploadRecord | null };

/** A step the fence let through, with what it gives. */
export type Admitted<T> = ({ ok: true } & T) | Fenced;

/** A PATCH holds the write lease while it streams; a crashed one loses it after this long without commits. */
export const WRITE_LEASE_MS = 2 * 60 * 1000;
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

  /** `clock`: the entry point's (the test Worker's objects run on its test clock). */
  constructor(
    ctx: DurableObjectState,
    env: Env,
    private readonly clock: Clock = systemClock,
  ) {
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

  /**
   * The fence: the upload still takes bytes (`active`) and `token` is the PATCH that holds the
   * write lease (which this renews). Termination, expiry and finishing clear the lease, so after
   * them every write step of a PATCH still in flight is refused.
   */
  private fence(token: string): { ok: true; record: UploadRecord } | Fenced {
    const record = this.record;
    if (record?.phase !== "active") return { ok: false, reason: "gone", record };
    if (!this.writer || this.writer.token !== token) return { ok: false, reason: "lease-lost", record };
    this.writer.until = this.clock.now() + WRITE_LEASE_MS;
    return { ok: true, record };
  }

  /** Starts the upload; idempotent for the same id. */
  async create(
    init: Pick<UploadRecord, "uploadId" | "videoId" | "masterKey" | "scratchPrefix" | "idleExpiryMs" | "length" | "partSize" | "metadata">,
  ) {
    if (this.record) return this.record;
    const now = this.clock.now();
    const record = this.save({
      ...init,
      offset: 0,
      phase: "active",
      multipartUploadId: null,
      parts: [],
      nextPartNumber: 1,
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
    const now = this.clock.now();
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

  /** Asks the fence before a write that needs nothing else from this object (a tail object, the assembled master). */
  async checkWrite(token: string): Promise<Admitted<{ record: UploadRecord }>> {
    return this.fence(token);
  }

  /**
   * Asks the fence before a whole part goes to R2, and hands out its part number. The multipart
   * upload is created here, by this object, the first time: it is recorded in the same step, so no
   * multipart upload exists that termination or expiry does not know to abort (a terminate that
   * lands while R2 creates it is seen right after, and the new upload is aborted at once).
   */
  async reservePart(token: string): Promise<Admitted<{ partNumber: number; multipartUploadId: string }>> {
    const admitted = this.fence(token);
    if (!admitted.ok) return admitted;
    let { record } = admitted;
    if (!record.multipartUploadId) {
      const multipart = await this.media().bucket.createMultipartUpload(record.masterKey);
      const still = this.fence(token);
      if (!still.ok || still.record.multipartUploadId) {
        await multipart.abort().catch((error) => this.log.warn("multipart abort failed", { uploadId: record.uploadId, error }));
        if (!still.ok) return still;
      } else {
        record = this.save({ ...still.record, multipartUploadId: multipart.uploadId });
      }
      record = this.record as UploadRecord;
    }
    const partNumber = record.nextPartNumber;
    this.save({ ...record, nextPartNumber: partNumber + 1 });
    return { ok: true, partNumber, multipartUploadId: record.multipartUploadId as string };
  }

  /** A whole part is in R2: it replaces the tail, whose bytes it began with. Returns the old tail key. */
  async commitPart(token: string, part: UploadPart): Promise<Admitted<{ record: UploadRecord; staleTailKey: string | null }>> {
    const admitted = this.fence(token);
    if (!admitted.ok) return admitted;
    const { record } = admitted;
    const last = record.parts.at(-1)?.partNumber ?? 0;
    if (part.partNumber <= last || part.partNumber >= record.nextPartNumber)
      throw new Error(`part ${part.partNumber} was not reserved after part ${last}`);
    this.ctx.storage.sql.exec("INSERT INTO parts (part_number, etag) VALUES (?, ?)", part.partNumber, part.etag);
    const parts = [...record.parts, part];
    const saved = this.save({ ...record, parts, offset: parts.length * record.partSize, tailKey: null, tailLength: 0 });
    return { ok: true, record: saved, staleTailKey: record.tailKey };
  }

  /** A new tail object holds every byte after the last whole part. Returns the old tail key. */
  async commitTail(
    token: string,
    tailKey: string,
    tailLength: number,
  ): Promise<Admitted<{ record: UploadRecord; staleTailKey: string | null }>> {
    const admitted = this.fence(token);
    if (!admitted.ok) return admitted;
    const { record } = admitted;
    const saved = this.save({ ...record, tailKey, tailLength, offset: record.parts.length * record.partSize + tailLength });
    return { ok: true, record: saved, staleTailKey: record.tailKey };
  }

  /** The master is complete in R2. */
  async markAssembled(token: string): Promise<Admitted<{ record: UploadRecord }>> {
    const admitted = this.fence(token);
    if (!admitted.ok) return admitted;
    const { record } = admitted;
    return {
      ok: true,
      record: this.save({ ...record, phase: "assembled", offset: record.length, multipartUploadId: null, tailKey: null, tailLength: 0 }),
    };
  }

  /** The video is queued: keep a tombstone for HEAD, then forget. */
  async markFinished(): Promise<UploadRecord | null> {
    if (!this.record) return null;
    const record = this.save({ ...this.record, phase: "finished", expiresAt: this.clock.now() + TOMBSTONE_MS });
    this.writer = null;
    await this.ctx.storage.setAlarm(record.expiresAt);
    return record;
  }

  /**
   * tus termination: releases the bytes. `released` is false when there was nothing left to
   * release (terminated, expired or finished before): only a release frees the video. An upload
   * whose last PATCH assembled the master and is queueing the video right now is not terminated
   * (`finishing`): the video is about to be transcoded, which only deleting it undoes.
   */
  async terminate(): Promise<{ record: UploadRecord; released: boolean; finishing?: boolean } | null> {
    const current = this.record;
    if (current?.phase === "assembled" && this.writer && this.writer.until > this.clock.now()) {
      return { record: current, released: false, finishing: true };
    }
    const phase = current?.phase;
    const record = await this.release("terminated");
    return record && { record, released: phase === "active" || phase === "assembled" };
  }

  override async alarm(): Promise<void> {
    const record = this.record;
    if (!record) return;
    if (record.phase === "active" || record.phase === "assembled") {
      if (this.clock.now() < record.expiresAt) {
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
    // A tombstone whose time is up. A terminated or expired upload's PATCH that was in flight
    // may have written after the release (its own keys only: the fence refused its commits, and
    // it deletes what it wrote, unless it died first): sweep those keys once more before forgetting.
    if (record.phase === "terminated" || record.phase === "expired") {
      const media = this.media();
      await media.deleteByPrefix(record.scratchPrefix);
      await retireMaster(media.bucket, record.masterKey, this.clock);
    }
    this.record = null;
    await this.ctx.storage.deleteAll();
  }

  private media() {
    return createMediaStore(this.env.MEDIA);
  }

  /**
   * Aborts the multipart upload and deletes the tail objects. An `assembled` upload also marks its
   * master as deleted (it was never queued): the cron removes it after the masters' retention. The caller frees the video (the terminate route at once, the
   * uploads service on `upload-expired`).
   */
  private async release(phase: "terminated" | "expired"): Promise<UploadRecord | null> {
    const record = this.record;
    if (!record) return null;
    if (record.phase !== "active" && record.phase !== "assembled") return record;
    const media = this.media();
    if (record.multipartUploadId) {
      try {
        await media.bucket.resumeMultipartUpload(record.masterKey, record.multipartUploadId).abort();
      } catch (error) {
        // Already aborted or completed: nothing is left to release.
        this.log.warn("multipart abort failed", { uploadId: record.uploadId, error });
      }
    }
    await media.deleteByPrefix(record.scratchPrefix);
    if (record.phase === "assembled") await retireMaster(media.bucket, record.masterKey, this.clock);
    this.ctx.storage.sql.exec("DELETE FROM parts");
    this.writer = null;
    const saved = this.save({
      ...record,
      phase,
      parts: [],
      multipartUploadId: null,
      tailKey: null,
      tailLength: 0,
      expiresAt: this.clock.now() + TOMBSTONE_MS,
    });
    await this.ctx.storage.setAlarm(saved.expiresAt);
    return saved;
  }
}
