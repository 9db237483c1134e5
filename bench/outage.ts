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

import { installedPostgresql } from "../scripts/lib/local-stack/index.ts";
import { drainReport, needsPostgresEachMinute, outageReport, startOutageStage } from "../testing/outage.ts";
import type { JourneyLog } from "../testing/viewer-journey.ts";

const outageSeconds = Number(process.env.BENCH_OUTAGE_SECONDS ?? 90);
const viewerCount = Number(process.env.BENCH_VIEWERS ?? 3);
/** The consumer's backoff reaches 300 s a step: the backlog gets up to 10 minutes to drain. */
const drainDeadlineSeconds = Number(process.env.BENCH_DRAIN_SECONDS ?? 600);

async function main() {
  if (!installedPostgresql()) throw new Error("bench:outage crashes a PostgreSQL cluster: install PostgreSQL (apt-get install postgresql)");
  console.log(`Outage of ${outageSeconds} s, ${viewerCount} viewers (a throw-away PostgreSQL cluster, crashed and started again)`);
  const stage = await startOutageStage(viewerCount);
  const { stack, control, admin, journeys } = stage;
  try {
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
    const drained = await drainReport(stage.database, stage.expected(), restartedAt, drainDeadlineSeconds);
    for (const line of drained.lines) console.log(line);
    if (!drained.intact) process.exitCode = 1;
  } finally {
    await stage.stop();
  }
}

await main();
