/**
 * `npm run provision -- --env <staging|production>`: creates what wrangler.toml names for the
 * environment and `wrangler deploy` does not create: its queues and their dead-letter queues.
 * Idempotent: a queue that exists is left as it is. KV namespaces and R2 buckets without ids are
 * created by the first deploy itself, Analytics Engine datasets by their first write, Durable
 * Objects by the migrations and the container application by the deploy (docs/operations.md).
 */
import { deployArguments, queuesOf, readDeployConfig, runScript, runWrangler } from "./lib/deploy-env.ts";

async function main(): Promise<number> {
  const { env } = deployArguments(process.argv.slice(2), "npm run provision -- --env <staging|production>");
  const queues = queuesOf(readDeployConfig(env));
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
  console.log(`[provision] ${env}: every queue exists. Next: npm run keys -- --env ${env}`);
  return 0;
}

runScript(main);
