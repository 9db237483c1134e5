import type { Fenced, UploadRecord, UploadSession } from "../../durable-objects/upload-session.ts";

/**
 * The body went past `Upload-Length` (tus: refused, never cut short). Whole parts stored before
 * the overflow was seen stay stored; nothing after the last of them is committed.
 */
export class BodyPastUploadLength extends Error {
  constructor(readonly length: number) {
    super(`the body goes past Upload-Length ${length}`);
  }
}

/**
 * The upload's Durable Object refused a write of this PATCH: the upload was terminated, expired or
 * finished meanwhile, or another PATCH holds the write lease. What this PATCH wrote after the
 * refusal is deleted; nothing it writes can land on another upload (each has its own keys).
 */
export class UploadFenced extends Error {
  constructor(readonly fenced: Fenced) {
    super(`the upload refused this PATCH's write (${fenced.reason})`);
  }
}

/** An admitted step (`Admitted<T>`, as RPC returns it), or `UploadFenced`. */
function admitted<S extends { ok: boolean }>(step: S): Extract<S, { ok: true }> {
  if (!step.ok) throw new UploadFenced(step as unknown as Fenced);
  return step as Extract<S, { ok: true }>;
}

export interface WriteOutcome {
  record: UploadRecord;
  /** The body ended early (client gone, stream error): everything received is kept. */
  interrupted: boolean;
  /** The body was longer than the cap: reading stopped there. */
  capped: boolean;
  /** Every byte of the upload is now in R2 at the master key. */
  assembled: boolean;
}

/**
 * Streams one PATCH body into the upload's R2 multipart upload.
 *
 * R2 wants every part but the last to have the same size, and tus clients send chunks of any
 * size. So bytes are gathered into one part-sized buffer, which starts with the bytes left over
 * by earlier PATCHes (the "tail", an R2 object below `uploads/{uploadId}/`); each time it is full
 * it becomes the next part. What is left at the end becomes the new tail, under a new key, and is
 * committed to the Durable Object before the old tail is deleted: the committed state always
 * names bytes that exist, whatever moment a request dies at. Memory: one part, whatever the size
 * of the upload or of the PATCH.
 *
 * Every write asks the Durable Object's fence first (`reservePart`, `checkWrite`) and every step is
 * committed there, so a PATCH still streaming when its upload is terminated writes nothing after
 * the termination is seen: it stops with `UploadFenced` and deletes what it had just written.
 */
export async function writePatchBody(options: {
  bucket: R2Bucket;
  session: DurableObjectStub<UploadSession>;
  token: string;
  record: UploadRecord;
  body: ReadableStream<Uint8Array> | null;
  cap: number;
}): Promise<WriteOutcome> {
  const { bucket, session, token, cap } = options;
  let record = options.record;
  const key = record.masterKey;
  const buffer = new Uint8Array(record.partSize);
  let filled = 0;
  const staleTails: string[] = [];

  if (record.tailKey && record.tailLength > 0) {
    filled = await readInto(bucket, record.tailKey, buffer, record.tailLength);
  }

  const flushPart = async (bytes: Uint8Array) => {
    const { partNumber, multipartUploadId } = admitted(await session.reservePart(token));
    const uploaded = await bucket.resumeMultipartUpload(key, multipartUploadId).uploadPart(partNumber, bytes);
    // Refused here, the part stays unlisted in a multipart upload that is aborted (termination) or
    // completed without it (another PATCH's): nobody reads it.
    const committed = admitted(await session.commitPart(token, { partNumber: uploaded.partNumber, etag: uploaded.etag }));
    record = committed.record;
    if (committed.staleTailKey) staleTails.push(committed.staleTailKey);
  };

  let received = 0;
  let interrupted = false;
  let capped = false;
  const remaining = () => record.length - (record.parts.length * record.partSize + filled);
  if (options.body) {
    const reader = options.body.getReader();
    try {
      for (;;) {
        let next: ReadableStreamReadResult<Uint8Array>;
        try {
          next = await reader.read();
        } catch {
          // The client went away mid-body: keep what arrived, the next HEAD tells it where to resume.
          interrupted = true;
          break;
        }
        if (next.done) break;
        let chunk = next.value;
        if (chunk.byteLength > remaining() && remaining() <= cap - received) {
          await reader.cancel("the body goes past Upload-Length").catch(() => {});
          throw new BodyPastUploadLength(record.length);
        }
        const room = Math.min(cap - received, remaining());
        if (chunk.byteLength > room) {
          chunk = chunk.subarray(0, room);
          capped = true;
        }
        received += chunk.byteLength;
        while (chunk.byteLength > 0) {
          const take = Math.min(chunk.byteLength, buffer.byteLength - filled);
          buffer.set(chunk.subarray(0, take), filled);
          filled += take;
          chunk = chunk.subarray(take);
          // A full buffer is a part, unless it is the very last one (completion uploads that).
          if (filled === buffer.byteLength && remaining() > 0) {
            await flushPart(buffer);
            filled = 0;
          }
        }
        if (capped) {
          await reader.cancel("upload body cap reached").catch(() => {});
          break;
        }
      }
    } finally {
      reader.releaseLock();
    }
  }

  let assembled = false;
  if (remaining() === 0) {
    const last = buffer.subarray(0, filled);
    // The last part needs a number of its own when there are parts before it; else one put.
    let lastPartNumber: number | null = null;
    if (record.parts.length > 0 && filled > 0) lastPartNumber = admitted(await session.reservePart(token)).partNumber;
    else admitted(await session.checkWrite(token));
    await assemble(bucket, key, record, last, lastPartNumber);
    const done = await session.markAssembled(token);
    // Terminated while the last bytes went up: the master at this upload's own key is nobody's.
    if (!done.ok) await bucket.delete(key);
    record = admitted(done).record;
    assembled = true; // the caller deletes the scratch prefix, tails included
  } else if (filled > 0 && (record.tailKey === null || filled !== record.tailLength)) {
    admitted(await session.checkWrite(token));
    const tailKey = `${record.scratchPrefix}tail-${record.parts.length}-${crypto.randomUUID()}`;
    await bucket.put(tailKey, buffer.subarray(0, filled));
    const outcome = await session.commitTail(token, tailKey, filled);
    if (!outcome.ok) await bucket.delete(tailKey);
    const committed = admitted(outcome);
    record = committed.record;
    if (committed.staleTailKey) staleTails.push(committed.staleTailKey);
  }
  if (staleTails.length > 0) await bucket.delete([...new Set(staleTails)]);
  return { record, interrupted, capped, assembled };
}

/** Writes the final bytes: the last part of the multipart upload, or the whole master when it is smaller than a part. */
async function assemble(
  bucket: R2Bucket,
  key: string,
  record: UploadRecord,
  last: Uint8Array,
  lastPartNumber: number | null,
): Promise<void> {
  if (record.parts.length === 0) {
    await bucket.put(key, last);
    if (record.multipartUploadId) await bucket.resumeMultipartUpload(key, record.multipartUploadId).abort();
    return;
  }
  if (!record.multipartUploadId) throw new Error("an upload with parts has no multipart upload id");
  const multipart = bucket.resumeMultipartUpload(key, record.multipartUploadId);
  const parts: R2UploadedPart[] = [...record.parts];
  if (lastPartNumber !== null) parts.push(await multipart.uploadPart(lastPartNumber, last));
  await multipart.complete(parts);
}

/** Reads an R2 object into `target`, streaming (no second copy). */
async function readInto(bucket: R2Bucket, key: string, target: Uint8Array, expected: number): Promise<number> {
  const object = await bucket.get(key);
  if (!object) throw new Error(`the upload's tail object ${key} is missing`);
  let filled = 0;
  const reader = object.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    target.set(value.subarray(0, Math.min(value.byteLength, expected - filled)), filled);
    filled += value.byteLength;
  }
  if (filled !== expected) throw new Error(`the upload's tail object ${key} has ${filled} bytes, expected ${expected}`);
  return filled;
}
