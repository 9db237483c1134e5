/**
 * `npm run seed`: a few short demo videos, uploaded through the real path (tus to the running
 * `npm start`, the queue, the transcoder), so the catalog has something to play. Idempotent:
 * a demo title that is already in the catalog is skipped (one that failed is uploaded again).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { videos } from "../schema/index.ts";
import { encodeClip } from "./lib/clips.ts";
import { createNodeDb, createNodePool } from "./lib/database.ts";
import { runningDevStack } from "./lib/local-stack/index.ts";
import { adminSession, createVideo, tusUpload, waitForVideo } from "./lib/upload-client.ts";

interface DemoClip {
  title: string;
  summary: string;
  genres: string[];
  releaseYear: number;
  cast: string[];
  /** lavfi video source and tone. */
  video: string;
  tone: number;
  seconds: number;
}

const demos: DemoClip[] = [
  {
    title: "Colour Bars at Dawn",
    summary: "A broadcast test pattern greets the morning with a steady 440 Hz tone.",
    genres: ["documentary"],
    releaseYear: 1971,
    cast: ["Ada Brook"],
    video: "smptehdbars=s=1280x720:r=30",
    tone: 440,
    seconds: 8,
  },
  {
    title: "The Mandelbrot Drift",
    summary: "An endless zoom into the edge of the set, scored by a low hum.",
    genres: ["sci-fi", "animation"],
    releaseYear: 1973,
    cast: ["Benoit Lane"],
    video: "mandelbrot=s=854x480:r=25",
    tone: 220,
    seconds: 10,
  },
  {
    title: "Vertical Signals",
    summary: "A portrait short: moving test signals made for phones.",
    genres: ["drama"],
    releaseYear: 1975,
    cast: ["Cleo Park", "Dev Amari"],
    video: "testsrc2=s=720x1280:r=30",
    tone: 660,
    seconds: 6,
  },
];

const account = { email: "seed-admin@reelstream.local", password: "seed admin correct horse battery", name: "Seed Admin" };

async function main() {
  const stack = runningDevStack();
  if (!stack) {
    console.error("No running `npm start` found. Start it first (in another terminal), then run `npm run seed`.");
    process.exit(1);
  }
  const base = stack.workerUrl;
  const database = { url: stack.databaseUrl, wsProxy: stack.wsProxy };
  // Seeding several titles outlasts an access token (5 minutes): signed in again as it ages.
  const session = adminSession(base, database, account);
  const pool = createNodePool(database.url, database.wsProxy);
  const work = mkdtempSync(join(tmpdir(), "reelstream-seed-"));
  try {
    const db = createNodeDb(pool);
    for (const demo of demos) {
      const existing = await db.select({ id: videos.id, state: videos.state }).from(videos).where(eq(videos.title, demo.title));
      const live = existing.find((row) => row.state !== "failed" && row.state !== "awaiting-upload");
      if (live) {
        console.log(`✓ ${demo.title}: already there (${live.state})`);
        continue;
      }
      const path = join(work, `${demo.title.replace(/\W+/g, "-").toLowerCase()}.mp4`);
      await encodeClip(path, {
        video: demo.video,
        // -t, not the source's `d=` option: mandelbrot has none.
        videoSeconds: demo.seconds,
        tone: { frequency: demo.tone, seconds: demo.seconds },
        preset: "veryfast",
        audioBitrate: "96k",
        output: ["-shortest"],
      });
      const { title, summary, genres, releaseYear, cast } = demo;
      const videoId =
        existing[0]?.id ?? (await createVideo(base, await session(), { title, summary, genres, releaseYear, cast, maturityRating: "7+" }));
      console.log(`↑ ${demo.title}: uploading`);
      await tusUpload(base, await session(), videoId, path);
      console.log(`· ${demo.title}: queued for the transcoder`);
      const status = await waitForVideo(base, session, videoId, {
        onChange: (s) => s.state === "transcoding" && console.log(`· ${demo.title}: transcoding ${Math.round((s.progress ?? 0) * 100)}%`),
      });
      if (status.state !== "ready") throw new Error(`${demo.title}: transcoding failed: ${status.error}`);
      console.log(`✓ ${demo.title}: ready (${status.renditions.map((r) => `${r.height}p`).join(", ")})`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
    await pool.end();
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
