/**
 * `npm run provision -- --env <staging|production>`: creates what wrangler.toml names for the
 * environment and `wrangler deploy` does not create: its queues and their dead-letter queues, and
 * the media bucket's lock on masters (`MASTER_RETENTION_DAYS` on `masters/`, so a master cannot be
 * deleted or overwritten that soon after its upload, by a bug or a stolen token; the app marks
 * deleted masters and its cron removes them after the same retention: docs/resilience.md).
 * Idempotent: a queue or a lock rule that exists is left as it is. KV namespaces are created by
 * the first deploy itself (the media bucket too, unless provisioning made it first, for its lock),
 * Analytics Engine datasets by their first write, Durable Objects by the migrations and the
 * container application by the deploy (docs/operations.md).
 */
import { MASTER_RETENTION_DAYS } from "../workers/platform/master-retention.ts";
import { deployArguments, queuesOf, readDeployConfig, runScript, runWrangler } from "./lib/deploy-env.ts";

/** The lock rule's name on the media bucket. */
const MASTERS_LOCK_RULE = "masters-retention";

/** The media bucket exists (made here if not), with its lock rule on `masters/`. */
async function lockMasters(bucket: string): Promise<number> {
  const step = `[provision] bucket ${bucket}: lock ${MASTERS_LOCK_RULE} (${MASTER_RETENTION_DAYS} days on masters/)`;
  const rules = await runWrangler(["r2", "bucket", "lock", "list", bucket], { quiet: true });
  if (rules.code === 0 && rules.output.includes(MASTERS_LOCK_RULE)) {
    console.log(`${step}: exists`);
    return 0;
  }
  if (rules.code !== 0) {
    if (!/not exist|not found|10006/i.test(rules.output)) {
      console.error(`${step}: wrangler r2 bucket lock list failed:\n${rules.output}`);
      return rules.code;
    }
    console.log(`[provision] bucket ${bucket}: creating…`);
    const created = await runWrangler(["r2", "bucket", "create", bucket]);
    if (created.code !== 0) return created.code;
  }
  console.log(`${step}: adding…`);
  const added = await runWrangler([
    "r2",
    "bucket",
    "lock",
    "add",
    bucket,
    MASTERS_LOCK_RULE,
    "masters/",
    "--retention-days",
    String(MASTER_RETENTION_DAYS),
    "--force",
  ]);
  return added.code;
}

async function main(): Promise<number> {
  const { env } = deployArguments(process.argv.slice(2), "npm run provision -- --env <staging|production>");
  const config = readDeployConfig(env);
  const queues = queuesOf(config);
  for (const [index, queue] of queues.entries()) {
    const step = `[provision] ${index + 1}/${queues.length} queue ${queue}`;
    const info = await runWrangler(["queues", "info", queue], { quiet: true });
    if (info.code === 0) {
      console.log(`${step}: exists`);
      continue;
    }
    if (!/not found|does not exist/i.test(info.output)) {
      console.error(`${step}: wrangler queues info failed (logged in? CLOUDFLARE_API_TOKEN in CI):\n${info.output}`);
      return info.code;
    }
    console.log(`${step}: creating…`);
    const { code } = await runWrangler(["queues", "create", queue]);
    if (code !== 0) return code;
  }
  const media = (config.r2_buckets as { binding: string; bucket_name?: string }[]).find(
    (bucket) => bucket.binding === "MEDIA",
  )?.bucket_name;
  if (!media) throw new Error(`wrangler.toml names no MEDIA bucket for ${env}`);
  const locked = await lockMasters(media);
  if (locked !== 0) return locked;
  console.log(`[provision] ${env}: every queue exists, masters are locked. Next: npm run keys -- --env ${env}`);
  return 0;
}

runScript(main);
