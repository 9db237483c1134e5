/**
 * `npm run bench:outage`: a database outage of a set length, as viewers live it. The local stack
 * (wrangler dev on the test Worker, its queue consumers, production's queue settings) runs against
 * a throw-away PostgreSQL cluster that is crashed (`pg_ctl stop -m immediate`) for
 * `BENCH_OUTAGE_SECONDS` and started again, while `BENCH_VIEWERS` signed-in viewers each run the
 * outage test's journey (testing/viewer-journey.ts: browse, refresh, play, segments, heartbeats
 * every 5 s, resume, continue watching) and, each minute, a sign-in and an admin write.
 *
 * Prints: the share of successful requests per route family during the outage (the viewer's
 * families must be 100 %; sign-in and admin writes are counted as answered in words: 503 with
 * Retry-After), the time from Postgres's return until every acknowledged position is in Postgres
 * (the backlog drained), the rows lost (must be 0) and the versions written twice (must be 0).
 */

import { rmSync } from "node:fs";
import { installedPostgresql, startDatabase, startLocalStack } from "../scripts/lib/local-stack/index.ts";
import {
  lostPositions,
  makeAdmin,
  needsPostgresEachMinute,
  outageReport,
  type Positions,
  progressWrittenTwice,
  recordProgressWrites,
  waitForPositions,
} from "../testing/outage.ts";
import {
  generateLadder,
  insertReadyVideo,
  ladderMedia,
  randomVideoId,
  subscribedViewer,
  uploadLadder,
} from "../testing/playback-fixtures.ts";
import { testWorkerEntry } from "../testing/test-worker.ts";
import { type JourneyLog, viewerJourney } from "../testing/viewer-journey.ts";

const outageSeconds = Number(process.env.BENCH_OUTAGE_SECONDS ?? 90);
const viewerCount = Number(process.env.BENCH_VIEWERS ?? 3);
/** The consumer's backoff reaches 300 s a step: the backlog gets up to 10 minutes to drain. */
const drainDeadlineSeconds = Number(process.env.BENCH_DRAIN_SECONDS ?? 600);

async function main() {
  if (!installedPostgresql()) throw new Error("bench:outage crashes a PostgreSQL cluster: install PostgreSQL (apt-get install postgresql)");
  console.log(`Outage of ${outageSeconds} s, ${viewerCount} viewers (a throw-away PostgreSQL cluster, crashed and started again)`);
  const [database, ladder] = await Promise.all([startDatabase({ kind: "postgresql" }), generateLadder(12)]);
  await recordProgressWrites(database);
  const stack = await startLocalStack({
    main: testWorkerEntry,
    database,
    transcoders: 0,
    // As the outage test: heartbeats gather 15 s before an object sends them (120 s in production).
    vars: { PROGRESS_FLUSH_SECONDS: "15" },
    logLevel: "warn",
  });
  try {
    const control = database.server;
    if (!control) throw new Error("the throw-away cluster has no server control");
    const titles = [randomVideoId(), randomVideoId()];
    for (const id of titles) {
      await insertReadyVideo(database, id, ladderMedia(ladder));
      await uploadLadder(stack.url, id, ladder.dir);
    }
    const viewers = [];
    for (let i = 0; i < viewerCount; i++) viewers.push(await subscribedViewer(stack.url, "standard"));
    const admin = await subscribedViewer(stack.url, "basic");
    await makeAdmin(database, admin.user.id);
    const journeys = viewers.map((viewer) => viewerJourney(stack.url, viewer, titles));
    for (const journey of journeys) await journey.warmUp();

    console.log("Postgres stopped (pg_ctl stop -m immediate)");
    await control.stop();
    const logs: JourneyLog[] = await Promise.all(
      journeys.map((journey, i) =>
        journey.run({
          seconds: outageSeconds,
          alsoEachMinute: i === 0 ? needsPostgresEachMinute(stack.url, admin) : undefined,
        }),
      ),
    );
    await control.start();
    const restartedAt = Date.now();
    console.log("Postgres started again\n");

    for (const line of outageReport(logs.flatMap((log) => log.answers)).lines) console.log(line);

    const expected: Positions = Object.fromEntries(viewers.map((viewer, i) => [viewer.user.id, journeys[i]?.lastPositions() ?? {}]));
    const { stored, drainedAt } = await waitForPositions(database, expected, restartedAt + drainDeadlineSeconds * 1000);
    const lost = lostPositions(expected, stored);
    const twice = await progressWrittenTwice(database);
    console.log(
      drainedAt === null
        ? `backlog NOT drained within ${drainDeadlineSeconds} s of Postgres's return`
        : `backlog drained ${((drainedAt - restartedAt) / 1000).toFixed(1)} s after Postgres's return (the consumer's backoff: 15 s doubling to 300 s)`,
    );
    console.log(`positions acknowledged: ${Object.values(expected).reduce((n, titles) => n + Object.keys(titles).length, 0)}`);
    console.log(`rows lost: ${lost.length}${lost.length > 0 ? ` (${lost.join("; ")})` : ""}`);
    console.log(`versions written twice: ${twice.length}`);
    if (lost.length > 0 || twice.length > 0) process.exitCode = 1;
  } finally {
    await stack.stop();
    await database.stop();
    rmSync(ladder.root, { recursive: true, force: true });
  }
}

await main();
