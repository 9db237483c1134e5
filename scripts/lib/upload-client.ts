import { readFileSync } from "node:fs";
import { eq } from "drizzle-orm";
import { Upload } from "tus-js-client";
import { type MaturityRating, type TranscodeTask, users } from "../../schema/index.ts";
// The transcoding service's readers themselves, not its index: the index pulls in the Worker's
// routes, and through playback's (masterProblems) modules that import cloudflare:workers, which
// Node cannot load.
import { claimTask, jobTasks, latestJob } from "../../workers/transcoding/service.ts";
import { signStorageGrant } from "../../workers/transcoding/storage-grant.ts";
import { createNodeDb, createNodePool } from "./database.ts";

/**
 * The admin side of the upload pipeline as an outside client sees it (seed script, end-to-end
 * tests): an admin session, a catalog entry, a tus upload with tus-js-client, and waiting for
 * the transcoder.
 */
export interface AdminVideoStatus {
  state: string;
  progress: number | null;
  error: string | null;
  /** The latest transcode job (see docs/api.md). */
  transcode: { step: string; chunksDone: number; chunksTotal: number; attempt: number; waitingForTranscoder: boolean } | null;
  renditions: { height: number; bitrate: number; codec: string }[];
  qualityReport: Record<string, unknown> | null;
  /** `publishedAt`: when the video first became ready (the database's clock). */
  video: { id: string; title: string; publishedAt: string | null };
}

async function json<T>(response: Response, what: string): Promise<T> {
  if (!response.ok) throw new Error(`${what}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/** Signs in (or up) the given account and makes it an admin in the database, as `npm run admin -- grant` does. */
export async function adminToken(
  baseUrl: string,
  database: { url: string; wsProxy?: string },
  account: { email: string; password: string; name: string },
): Promise<string> {
  const pool = createNodePool(database.url, database.wsProxy);
  try {
    const signup = await fetch(`${baseUrl}/v1/auth/signup`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(account),
    });
    if (signup.status !== 201 && signup.status !== 409) throw new Error(`sign-up: ${signup.status} ${await signup.text()}`);
    await createNodeDb(pool).update(users).set({ role: "admin" }).where(eq(users.email, account.email.toLowerCase()));
    const signin = await fetch(`${baseUrl}/v1/auth/signin`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: account.email, password: account.password }),
    });
    return (await json<{ accessToken: string }>(signin, "sign-in")).accessToken;
  } finally {
    await pool.end();
  }
}

/**
 * An admin's access token for work that outlasts one (access tokens live 5 minutes): signed up and
 * made admin once, signed in again whenever the token in hand is 4 minutes old.
 */
export function adminSession(
  baseUrl: string,
  database: { url: string; wsProxy?: string },
  account: { email: string; password: string; name: string },
): () => Promise<string> {
  let current: { token: string; at: number } | null = null;
  return async () => {
    if (!current || Date.now() - current.at > 240_000) current = { token: await adminToken(baseUrl, database, account), at: Date.now() };
    return current.token;
  };
}

export async function createVideo(
  baseUrl: string,
  token: string,
  fields: { title: string; summary: string; genres: string[]; releaseYear: number; cast?: string[]; maturityRating?: MaturityRating },
): Promise<string> {
  const response = await fetch(`${baseUrl}/v1/admin/videos`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify(fields),
  });
  return (await json<{ video: { id: string } }>(response, "create video")).video.id;
}

/** Uploads a file with tus-js-client (the real protocol path), in 8 MiB chunks. */
export function tusUpload(
  baseUrl: string,
  token: string,
  videoId: string,
  path: string,
  onProgress?: (sent: number, total: number) => void,
): Promise<string> {
  const file = readFileSync(path);
  return new Promise((resolve, reject) => {
    const upload = new Upload(file, {
      endpoint: `${baseUrl}/v1/admin/videos/${videoId}/uploads`,
      headers: { Authorization: `Bearer ${token}` },
      chunkSize: 8 * 1024 * 1024,
      retryDelays: [0, 1000, 3000],
      metadata: { filename: path.split("/").at(-1) ?? "source" },
      storeFingerprintForResuming: false,
      onProgress,
      onError: reject,
      onSuccess: () => resolve(upload.url ?? ""),
    });
    upload.start();
  });
}

/** The admin view of a video. A 503 (the database did not answer in time) is asked again, as its Retry-After says. */
export async function videoStatus(baseUrl: string, token: string, videoId: string): Promise<AdminVideoStatus> {
  for (let attempt = 1; ; attempt++) {
    const response = await fetch(`${baseUrl}/v1/admin/videos/${videoId}`, { headers: { Authorization: `Bearer ${token}` } });
    if (response.status !== 503 || attempt >= 5) return json<AdminVideoStatus>(response, "video status");
    await response.body?.cancel();
    await new Promise((resolve) => setTimeout(resolve, 1000 * Number(response.headers.get("Retry-After") ?? 1)));
  }
}

/**
 * Polls until the video is `ready` or `failed` (or `until` says stop), reporting each change. A
 * publish can outlast an access token (5 minutes): pass `adminSession`'s getter to sign in again.
 */
export async function waitForVideo(
  baseUrl: string,
  token: string | (() => Promise<string>),
  videoId: string,
  options: { timeoutMs?: number; onChange?: (status: AdminVideoStatus) => void; until?: (status: AdminVideoStatus) => boolean } = {},
): Promise<AdminVideoStatus> {
  const deadline = Date.now() + (options.timeoutMs ?? 300_000);
  let last = "";
  for (;;) {
    const status = await videoStatus(baseUrl, typeof token === "string" ? token : await token(), videoId);
    const seen = `${status.state}:${status.progress}:${status.error}`;
    if (seen !== last) {
      last = seen;
      options.onChange?.(status);
    }
    if (options.until ? options.until(status) : status.state === "ready" || status.state === "failed") return status;
    if (Date.now() > deadline) throw new Error(`video ${videoId} still ${status.state} after ${options.timeoutMs ?? 300_000} ms`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * The tasks of a video's latest transcode job, read from the database (what no public route
 * shows: each task's attempt, failures, instance and timings).
 */
export async function latestJobTasks(database: { url: string; wsProxy?: string }, videoId: string): Promise<TranscodeTask[]> {
  const pool = createNodePool(database.url, database.wsProxy);
  try {
    const db = createNodeDb(pool);
    const job = await latestJob(db, videoId);
    return job ? await jobTasks(db, job.id) : [];
  } finally {
    await pool.end();
  }
}

/**
 * A grant to read a video's master through `/internal/storage`, as dispatch signs one for a plan
 * task (`scope: "source"`): the job's plan task is first taken as a transcoder `instance` would be
 * given it (running, its next attempt), since a grant is valid only while its attempt runs. For
 * tools that read masters the transcoder's way on a stack without transcoders (bench:storage-ranges,
 * bench:plan). Valid for `seconds` (at most the 2 h dispatch signs, STORAGE_GRANT_TTL_SECONDS).
 */
export async function planSourceGrant(
  database: { url: string; wsProxy?: string },
  secret: string,
  videoId: string,
  instance = "bench",
  seconds = 600,
): Promise<{ key: string; token: string }> {
  const pool = createNodePool(database.url, database.wsProxy);
  try {
    const db = createNodeDb(pool);
    const job = await latestJob(db, videoId);
    if (!job) throw new Error(`video ${videoId} has no transcode job`);
    const task = await claimTask(db, { jobId: job.id, taskId: "plan" }, instance, { now: new Date(), seconds: Math.max(3600, seconds) });
    if (!task) throw new Error(`the plan task of job ${job.id} is not waiting to be taken`);
    const exp = Math.floor(Date.now() / 1000) + seconds;
    const token = await signStorageGrant(secret, {
      scope: "source",
      job: job.id,
      task: "plan",
      attempt: task.attempt,
      key: job.sourceKey,
      exp,
    });
    return { key: job.sourceKey, token };
  } finally {
    await pool.end();
  }
}
