/**
 * `npm run gameday [-- <seconds>]`: breaks the database on purpose and shows what a viewer sees.
 * The local stack (wrangler dev with its queue consumers, production's queue settings; the test
 * Worker, whose routes put the demo ladder into R2) runs against a throw-away PostgreSQL cluster.
 * A signed-in viewer watches (testing/viewer-journey.ts: browse, refresh, play, segments, a
 * heartbeat every 5 s, resume, continue watching) while the cluster is crashed
 * (`pg_ctl stop -m immediate`) for `<seconds>` (default 90, or `GAMEDAY_SECONDS`: past a minute, so that the viewer refreshes its token meanwhile) and started
 * again; each minute a sign-in and an admin write ask for Postgres. Every answer is printed as it
 * comes, `/health` when its state changes, then the wait for the backlog, and the check: every
 * position the viewer was acknowledged is in Postgres, none written twice. Exits 1 otherwise.
 * docs/resilience.md ("Game day") says what to look for, and how to do it by hand with `npm start`.
 */

import { drainReport, needsPostgresEachMinute, outageReport, startOutageStage } from "../testing/outage.ts";
import type { Answer } from "../testing/viewer-journey.ts";
import { installedPostgresql } from "./lib/local-stack/index.ts";

const seconds = Number(process.argv[2] ?? process.env.GAMEDAY_SECONDS ?? 90);
/** The consumer's backoff grows to 300 s a step: the backlog gets up to 10 minutes. */
const DRAIN_SECONDS = 600;

let origin = Date.now();
const clock = () => `+${String(Math.round((Date.now() - origin) / 1000)).padStart(4)} s`;
const say = (line: string) => console.log(`${clock()}  ${line}`);

/** One answer as a viewer would read it: the family, the status, and the words of a refusal. */
function describe(answer: Answer): string {
  const status = answer.status === 0 ? "no answer" : String(answer.status);
  const mark = answer.ok ? "ok     " : answer.status === 503 && answer.detail ? "refused" : "FAILED ";
  const words = answer.detail ? ` "${answer.detail}"${answer.retryAfter ? ` (Retry-After ${answer.retryAfter} s)` : ""}` : "";
  return `${mark} ${answer.family.padEnd(18)} ${status}${words}`;
}

/** Asks `/health` every 5 s and says when its state changes, until `stop()`; `first` is its first answer. */
function watchHealth(baseUrl: string) {
  let last = "";
  let stopped = false;
  let heard: () => void = () => {};
  const first = new Promise<void>((resolve) => {
    heard = resolve;
  });
  const loop = (async () => {
    while (!stopped) {
      let state: string;
      try {
        const response = await fetch(`${baseUrl}/health`);
        const body = (await response.json()) as { status: string; checks: Record<string, string> };
        const failing = Object.entries(body.checks).filter(([, check]) => check !== "ok");
        state = `${response.status} ${body.status}${failing.length > 0 ? ` (${failing.map(([name]) => name).join(", ")}: error)` : ""}`;
      } catch {
        state = "no answer";
      }
      if (state !== last) say(`/health ${state}`);
      last = state;
      heard();
      await new Promise((resolve) => setTimeout(resolve, 5000));
    }
  })();
  return {
    first,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

async function main() {
  if (!Number.isFinite(seconds) || seconds < 5)
    throw new Error(`gameday: the outage is a number of seconds, at least 5 (got ${process.argv[2]})`);
  if (!installedPostgresql()) throw new Error("gameday crashes a PostgreSQL cluster: install PostgreSQL (apt-get install postgresql)");
  console.log(`Game day: Postgres crashed for ${seconds} s while a viewer watches (a throw-away PostgreSQL cluster)`);
  const stage = await startOutageStage(1);
  const { stack, control, admin } = stage;
  const [journey] = stage.journeys;
  let health: ReturnType<typeof watchHealth> | undefined;
  try {
    if (!journey) throw new Error("no viewer");
    console.log(`Stack at ${stack.url}; the viewer has browsed and started watching with Postgres up.\n`);

    origin = Date.now();
    health = watchHealth(stack.url);
    await health.first;
    await control.stop();
    say("Postgres crashed (pg_ctl stop -m immediate). The viewer goes on watching:");
    const log = await journey.run({
      seconds,
      alsoEachMinute: needsPostgresEachMinute(stack.url, admin),
      onAnswer: (answer) => say(describe(answer)),
    });
    await control.start();
    const restartedAt = Date.now();
    say("Postgres started again. Waiting for the heartbeats kept meanwhile to reach it:");

    let lastHeld = -1;
    const drained = await drainReport(stage.database, stage.expected(), restartedAt, DRAIN_SECONDS, (held, total) => {
      if (held !== lastHeld) say(`Postgres holds ${held} of the ${total} last positions the viewer was acknowledged`);
      lastHeld = held;
    });
    await health.stop();
    health = undefined;

    console.log("\nDuring the outage:");
    const report = outageReport(log.answers);
    for (const line of [...report.lines, ...drained.lines]) console.log(`  ${line}`);
    const passed = report.whole && drained.intact;
    console.log(passed ? "\nPassed: the viewer never noticed, and nothing was lost." : "\nFAILED: see the lines above.");
    if (!passed) process.exitCode = 1;
  } finally {
    await health?.stop();
    await stage.stop();
  }
}

await main();
