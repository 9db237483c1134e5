import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { REFRESH_GRACE_MS } from "../durable-objects/viewer-state/sessions.ts";
import { callWithEnv, signUpAdmin } from "./test/catalog.ts";
import { advanceClock, call, type SignedIn, strongPassword } from "./test/helpers.ts";
import { mediaBase, pathOf, play, readyVideo, subscribedViewer } from "./test/playback.ts";
import { captureConsole } from "./test/telemetry.ts";
import { deliver, freeTheDouble, lastDispatch, message, report, resetDouble, transcodingEnv } from "./test/transcoding.ts";
import { videoWithQueuedJob } from "./test/uploads.ts";

// What a test left running goes with it: another file's cron must not find it stalled.
afterEach(freeTheDouble);

/** The secrets of the Worker's own configuration: its signing keys' private parts and HMAC keys. */
function configurationSecrets(): string[] {
  const jwt = JSON.parse(env.JWT_SIGNING_KEYS) as { keys: { d: string }[] };
  const media = JSON.parse(env.MEDIA_SIGNING_KEYS) as { keys: { secret: string }[] };
  return [...jwt.keys.map((key) => key.d), ...media.keys.map((key) => key.secret), env.INTERNAL_SIGNING_SECRET];
}

function parsed(lines: string[]): Record<string, unknown>[] {
  return lines.flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

/**
 * Requests that carry every kind of credential, through the real Worker, with every console line
 * it writes collected: passwords, access and refresh tokens (good, tampered, reused), media tokens
 * in URL paths (served, missing, revoked), a player beacon's signed URL, a transcoder's storage
 * grant (refused), and a database that cannot be reached with a password in its URL. No line may
 * hold any of them, nor the Worker's own keys.
 */
describe("the Worker's logs", () => {
  it("hold no token, password, grant or key, while the requests that carried them are logged", async () => {
    const lines = captureConsole();
    const secrets: string[] = [...configurationSecrets(), strongPassword, "wrong horse battery staple"];
    const keep = (viewer: SignedIn) => secrets.push(viewer.accessToken, viewer.refreshToken);

    // Accounts and playback: passwords (one wrong), tokens (one tampered), the media token in the
    // path of every media request and in a beacon's body, then a refresh token used twice, which
    // ends the session, so its stream is refused.
    const [viewer, video] = await Promise.all([subscribedViewer(), readyVideo()]);
    keep(viewer);
    expect(
      (await call("/v1/auth/signin", { method: "POST", json: { email: viewer.user.email, password: "wrong horse battery staple" } }))
        .status,
    ).toBe(401);
    expect((await call("/v1/me", { token: `${viewer.accessToken.slice(0, -4)}AAAA` })).status).toBe(401);
    const { manifestUrl } = await play(viewer, video.id);
    const token = pathOf(manifestUrl).split("/")[3] ?? "";
    secrets.push(token);
    expect((await call(pathOf(manifestUrl))).status).toBe(200);
    expect((await call(`${mediaBase(manifestUrl)}hls/720p/seg_99999.m4s`)).status).toBe(404);
    const qoe = { manifestUrl, playingMs: 1, rebufferCount: 0, rebufferMs: 0, rungSwitches: 0 };
    expect((await call("/v1/qoe", { method: "POST", json: qoe })).status).toBe(204);
    expect((await call("/v1/qoe", { method: "POST", json: { ...qoe, playingMs: -1 } })).status).toBe(400);
    const refreshed = await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: viewer.refreshToken } });
    expect(refreshed.status).toBe(200);
    keep((await refreshed.json()) as SignedIn);
    advanceClock(REFRESH_GRACE_MS);
    expect((await call("/v1/auth/refresh", { method: "POST", json: { refreshToken: viewer.refreshToken } })).status).toBe(401);
    expect((await call(`${mediaBase(manifestUrl)}hls/720p/index.m3u8`)).status).toBe(403);

    // The transcoder's grant: a read outside it, and a report for an attempt it was not issued to.
    await resetDouble();
    const admin = await signUpAdmin();
    keep(admin);
    const { videoId, jobId } = await videoWithQueuedJob(admin.accessToken, "Logs");
    await deliver(message(jobId, videoId, "plan"));
    const task = await lastDispatch(jobId, "plan");
    secrets.push(task.storage.token);
    expect(
      (await call(`/internal/storage/videos/${video.id}/hls/master.m3u8`, { token: task.storage.token, env: transcodingEnv() })).status,
    ).toBe(403);
    expect((await report({ ...task, attempt: task.attempt + 1 }, { type: "progress", percent: 1 })).status).toBe(403);

    // A database that cannot be reached, its URL holding a password.
    const databasePassword = "db-password-Zx81qLk0";
    secrets.push(databasePassword);
    const unreachable = `postgres://reelstream:${databasePassword}@127.0.0.1:1/reelstream`;
    const down = await callWithEnv({ DATABASE_URL: unreachable, DATABASE_READ_URL: unreachable }, "/v1/auth/signin", {
      method: "POST",
      json: { email: viewer.user.email, password: strongPassword },
    });
    expect(down.status).toBe(503);

    const records = parsed(lines);
    const requests = records.filter((record) => record.msg === "request");
    // The failed requests were logged (so the scan below read them), media paths with the token redacted.
    expect(requests.map((record) => `${record.status} ${record.route}`)).toEqual(
      expect.arrayContaining([
        "401 /v1/auth/signin",
        "401 /v1/me",
        "401 /v1/auth/refresh",
        "404 /media/*",
        "400 /v1/qoe",
        "403 /media/*",
        "403 /internal/storage/*",
        "403 /internal/transcode/callback",
        "503 /v1/auth/signin",
      ]),
    );
    expect(requests.filter((record) => record.route === "/media/*").map((record) => record.path)).toEqual([
      `/media/${video.id}/[redacted]/hls/720p/seg_99999.m4s`,
      `/media/${video.id}/[redacted]/hls/720p/index.m3u8`,
    ]);
    expect(records.some((record) => record.msg === "database unavailable")).toBe(true);
    for (const secret of secrets) {
      const holding = lines.filter((line) => line.includes(secret));
      expect(holding, `a log line holds a secret (${secret.slice(0, 6)}…)`).toEqual([]);
    }
  });
});
