/**
 * A signed-in viewer's journey against a running stack, with every answer written down per route
 * family: browse (home, a title page, the catalog), refresh, play, segments (playlists and media),
 * heartbeats every 5 s, resume (where the viewer stopped) and continue watching (the home page's
 * first row holds what the viewer watches). The outage test (e2e/outage.test.ts) and
 * `npm run bench:outage` run it while Postgres is down.
 */

/** The families a viewer's path is counted in: each must be answered without Postgres. */
export const routeFamilies = ["browse", "refresh", "play", "segments", "heartbeat", "resume", "continue watching", "my list"] as const;

export interface Answer {
  family: string;
  status: number;
  ok: boolean;
  /** `Retry-After`, when the answer has one. */
  retryAfter: string | null;
  /** A problem's `detail`, when the answer is one. */
  detail?: string;
  /** A JSON body, for the families that keep it (health). */
  body?: unknown;
  /** Milliseconds since the epoch. */
  at: number;
}

export class JourneyLog {
  readonly answers: Answer[] = [];

  /** `onAnswer` hears each answer as it is written down (the game day prints them). */
  constructor(private readonly onAnswer?: (answer: Answer) => void) {}

  push(answer: Answer): void {
    this.answers.push(answer);
    this.onAnswer?.(answer);
  }

  /** Writes down an answer (reading a problem's detail, or a health body); `ok` unless said otherwise. */
  async record(family: string, response: Response, ok = response.ok): Promise<Answer> {
    const type = response.headers.get("Content-Type") ?? "";
    const answer: Answer = { family, status: response.status, ok, retryAfter: response.headers.get("Retry-After"), at: Date.now() };
    if (type.includes("json")) {
      const body = (await response.json()) as { detail?: string };
      if (type.includes("problem")) answer.detail = body.detail;
      if (family === "health") answer.body = body;
    } else {
      await response.body?.cancel();
    }
    this.push(answer);
    return answer;
  }

  /** A request that did not get an answer at all (refused, reset). */
  failed(family: string): void {
    this.push({ family, status: 0, ok: false, retryAfter: null, at: Date.now() });
  }

  byFamily(family: string): Answer[] {
    return this.answers.filter((answer) => answer.family === family);
  }
}

export interface JourneyViewer {
  accessToken: string;
  refreshToken: string;
  user: { id: string };
}

export interface ViewerJourney {
  /** With Postgres up: reads every page the journey browses once (so KV holds them), plays the first title, one heartbeat. Throws on any failure. */
  warmUp(): Promise<void>;
  /**
   * Watches for `seconds`: a heartbeat every 5 s; every 30 s the home page (continue watching),
   * a title page, the catalog, resume and a segment; a refresh every minute; the first title,
   * then the second from half-time (a play each). `alsoEachMinute` runs at the start of every minute.
   */
  run(options: {
    seconds: number;
    alsoEachMinute?: (log: JourneyLog) => Promise<unknown>;
    onAnswer?: (answer: Answer) => void;
  }): Promise<JourneyLog>;
  /** The last position each title was acknowledged at (204), by video id. */
  lastPositions(): Record<string, number>;
  /** The viewer's choices as the API acknowledged them: the titles on My List, and each title's thumb. */
  choices(): { listed: string[]; thumbs: Record<string, "up" | "down"> };
}

const HEARTBEAT_MS = 5000;

export function viewerJourney(baseUrl: string, viewer: JourneyViewer, titles: string[]): ViewerJourney {
  let { accessToken, refreshToken } = viewer;
  const positions = new Map<string, number>();
  const acknowledged: Record<string, number> = {};
  let manifestUrl: string | undefined;
  let segmentIndex = 0;
  const auth = () => ({ Authorization: `Bearer ${accessToken}` });

  const attempt = async (log: JourneyLog, family: string, request: () => Promise<Response>, isOk?: (response: Response) => boolean) => {
    try {
      const response = await request();
      return await log.record(family, response, isOk ? isOk(response) : response.ok);
    } catch {
      log.failed(family);
      return undefined;
    }
  };

  const browse = async (log: JourneyLog) => {
    for (const path of ["/v1/home", `/v1/videos/${titles[0]}`, `/v1/videos/${titles[1] ?? titles[0]}`, "/v1/videos?limit=20"]) {
      await attempt(log, "browse", () => fetch(`${baseUrl}${path}`, { headers: auth() }));
    }
  };

  const continueWatching = async (log: JourneyLog) => {
    const watching = [...positions.keys()];
    try {
      const response = await fetch(`${baseUrl}/v1/home`, { headers: auth() });
      const body = response.ok ? ((await response.json()) as { rows: { id: string; items: { id: string }[] }[] }) : undefined;
      const row = body?.rows.find((candidate) => candidate.id === "continue-watching");
      const shown = new Set(row?.items.map((item) => item.id));
      const ok = response.ok && watching.every((id) => shown.has(id));
      log.push({
        family: "continue watching",
        status: response.status,
        ok,
        retryAfter: response.headers.get("Retry-After"),
        at: Date.now(),
      });
    } catch {
      log.failed("continue watching");
    }
  };

  const refresh = async (log: JourneyLog) => {
    const answer = await attempt(log, "refresh", async () => {
      const response = await fetch(`${baseUrl}/v1/auth/refresh`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refreshToken }),
      });
      if (response.ok) {
        const pair = (await response.clone().json()) as { accessToken: string; refreshToken: string };
        accessToken = pair.accessToken;
        refreshToken = pair.refreshToken;
      }
      return response;
    });
    return answer?.ok ?? false;
  };

  const play = async (log: JourneyLog, videoId: string) => {
    await attempt(log, "play", async () => {
      const response = await fetch(`${baseUrl}/v1/videos/${videoId}/play`, { headers: auth() });
      if (response.ok) {
        const playback = (await response.clone().json()) as { manifestUrl: string; resumeAt: number };
        manifestUrl = `${baseUrl}${new URL(playback.manifestUrl).pathname}`;
        if (!positions.has(videoId)) positions.set(videoId, Math.floor(playback.resumeAt));
        segmentIndex = 0;
      }
      return response;
    });
  };

  /** The master playlist, the first rendition's playlist, and its next segment. */
  const segments = async (log: JourneyLog) => {
    if (!manifestUrl) return;
    const url = manifestUrl;
    let variantUrl: string | undefined;
    await attempt(log, "segments", async () => {
      const response = await fetch(url);
      const variant = (await response.clone().text()).split("\n").find((line) => line.trim() !== "" && !line.startsWith("#"));
      variantUrl = variant ? new URL(variant, url).toString() : undefined;
      return response;
    });
    if (!variantUrl) return;
    const playlistUrl = variantUrl;
    let segmentUrl: string | undefined;
    await attempt(log, "segments", async () => {
      const response = await fetch(playlistUrl);
      const names = (await response.clone().text()).split("\n").filter((line) => line.trim() !== "" && !line.startsWith("#"));
      const name = names[segmentIndex++ % Math.max(1, names.length)];
      segmentUrl = name ? new URL(name, playlistUrl).toString() : undefined;
      return response;
    });
    if (segmentUrl) await attempt(log, "segments", () => fetch(segmentUrl as string));
  };

  const heartbeat = async (log: JourneyLog, videoId: string) => {
    // The test ladder is 12 s long: positions move a quarter second a heartbeat and wrap before its
    // end (which would finish the title), so each heartbeat reports a position of its own.
    const clamped = Math.round((((positions.get(videoId) ?? 0) + 0.25) % 10) * 100) / 100;
    positions.set(videoId, clamped);
    const answer = await attempt(log, "heartbeat", () =>
      fetch(`${baseUrl}/v1/videos/${videoId}/progress`, {
        method: "PUT",
        headers: { ...auth(), "Content-Type": "application/json" },
        body: JSON.stringify({ positionSeconds: clamped }),
      }),
    );
    if (answer?.status === 204) acknowledged[videoId] = clamped;
  };

  const listed = new Set<string>();
  const thumbs: Record<string, "up" | "down"> = {};
  let choiceStep = 0;
  /**
   * My List and a thumb: each time, the next title goes on the list or comes off it and gets a
   * thumb; then the home page's My List row must show the list as it now is (at this location, at once).
   */
  const choose = async (log: JourneyLog) => {
    const videoId = titles[choiceStep % titles.length] as string;
    const rating = choiceStep % 3 === 0 ? "down" : "up";
    choiceStep++;
    const adding = !listed.has(videoId);
    const changed = await attempt(log, "my list", () =>
      fetch(`${baseUrl}/v1/my-list/${videoId}`, { method: adding ? "PUT" : "DELETE", headers: auth() }),
    );
    if (changed?.ok) {
      if (adding) listed.add(videoId);
      else listed.delete(videoId);
    }
    const rated = await attempt(log, "my list", () =>
      fetch(`${baseUrl}/v1/videos/${videoId}/rating`, {
        method: "PUT",
        headers: { ...auth(), "Content-Type": "application/json" },
        body: JSON.stringify({ rating }),
      }),
    );
    if (rated?.ok) thumbs[videoId] = rating;
    try {
      const response = await fetch(`${baseUrl}/v1/home`, { headers: auth() });
      const body = response.ok ? ((await response.json()) as { rows: { id: string; items: { id: string }[] }[] }) : undefined;
      const shown = body?.rows.find((row) => row.id === "my-list")?.items.map((item) => item.id) ?? [];
      log.push({
        family: "my list",
        status: response.status,
        ok: response.ok && shown.length === listed.size && shown.every((id) => listed.has(id)),
        retryAfter: response.headers.get("Retry-After"),
        at: Date.now(),
      });
    } catch {
      log.failed("my list");
    }
  };

  const resume = (log: JourneyLog, videoId: string) =>
    attempt(log, "resume", () => fetch(`${baseUrl}/v1/videos/${videoId}/progress`, { headers: auth() }));

  return {
    async warmUp() {
      const log = new JourneyLog();
      await browse(log);
      for (const id of titles) await attempt(log, "browse", () => fetch(`${baseUrl}/v1/videos/${id}`, { headers: auth() }));
      await play(log, titles[0] as string);
      await segments(log);
      await heartbeat(log, titles[0] as string);
      await continueWatching(log);
      await choose(log);
      const failed = log.answers.filter((answer) => !answer.ok);
      if (failed.length > 0) throw new Error(`the warm-up failed: ${JSON.stringify(failed)}`);
    },

    async run({ seconds, alsoEachMinute, onAnswer }) {
      const log = new JourneyLog(onAnswer);
      const started = Date.now();
      const ticks = Math.max(1, Math.round((seconds * 1000) / HEARTBEAT_MS));
      const switchAt = Math.floor(ticks / 2);
      let videoId = titles[0] as string;
      for (let tick = 0; tick < ticks; tick++) {
        const due = started + tick * HEARTBEAT_MS;
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now())));
        if (tick % 12 === 0) {
          if (tick > 0) await refresh(log);
          await alsoEachMinute?.(log);
        }
        if (tick === 0 || tick === switchAt) {
          videoId = (tick === 0 ? titles[0] : (titles[1] ?? titles[0])) as string;
          await play(log, videoId);
          await segments(log);
        }
        await heartbeat(log, videoId);
        if (tick % 6 === 3) {
          await browse(log);
          await continueWatching(log);
          await choose(log);
          await resume(log, videoId);
          await segments(log);
        }
      }
      return log;
    },

    lastPositions: () => ({ ...acknowledged }),
    choices: () => ({ listed: [...listed].sort(), thumbs: { ...thumbs } }),
  };
}
