/**
 * `npm run deploy -- --env <staging|production>`: builds the web app and deploys the environment
 * (`wrangler deploy --env …`: the Worker, its assets, and the transcoder image, which needs Docker).
 * There is no default environment. Gradual rollouts and rollback: docs/operations.md.
 */
import { deployArguments, runScript, runWrangler } from "./lib/deploy-env.ts";
import { buildWebApp } from "./lib/web-app.ts";

async function main(): Promise<number> {
  const { env } = deployArguments(process.argv.slice(2), "npm run deploy -- --env <staging|production>");
  await buildWebApp();
  return (await runWrangler(["deploy", "--env", env])).code;
}

runScript(main);
