import type { UploadRecord, UploadSession } from "../../durable-objects/upload-session.ts";

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
    let multipart: R2MultipartUpload;
    if (record.multipartUploadId) {
      multipart = bucket.resumeMultipartUpload(key, record.multipartUploadId);
    } else {
      multipart = await bucket.createMultipartUpload(key);
      await session.setMultipartUpload(token, multipart.uploadId);
      record = { ...record, multipartUploadId: multipart.uploadId };
    }
    const uploaded = await multipart.uploadPart(record.parts.length + 1, bytes);
    const committed = await session.commitPart(token, { partNumber: uploaded.partNumber, etag: uploaded.etag });
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
    await assemble(bucket, key, record, buffer.subarray(0, filled));
    record = await session.markAssembled(token);
    assembled = true; // the caller deletes the scratch prefix, tails included
  } else if (filled > 0 && (record.tailKey === null || filled !== record.tailLength)) {
    const tailKey = `${record.scratchPrefix}tail-${record.parts.length}-${crypto.randomUUID()}`;
    await bucket.put(tailKey, buffer.subarray(0, filled));
    const committed = await session.commitTail(token, tailKey, filled);
    record = committed.record;
    if (committed.staleTailKey) staleTails.push(committed.staleTailKey);
  }
  if (staleTails.length > 0) await bucket.delete([...new Set(staleTails)]);
  return { record, interrupted, capped, assembled };
}

/** Writes the final bytes: the last part of the multipart upload, or the whole master when it is smaller than a part. */
async function assemble(bucket: R2Bucket, key: string, record: UploadRecord, last: Uint8Array): Promise<void> {
  if (record.parts.length === 0) {
    await bucket.put(key, last);
    if (record.multipartUploadId) await bucket.resumeMultipartUpload(key, record.multipartUploadId).abort();
    return;
  }
  if (!record.multipartUploadId) throw new Error("an upload with parts has no multipart upload id");
  const multipart = bucket.resumeMultipartUpload(key, record.multipartUploadId);
  const parts: R2UploadedPart[] = [...record.parts];
  if (last.byteLength > 0) parts.push(await multipart.uploadPart(record.parts.length + 1, last));
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
