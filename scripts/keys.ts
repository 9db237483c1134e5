/**
 * `npm run keys -- --env <staging|production> [--replace <NAME>]…`: makes the environment's
 * JWT_SIGNING_KEYS, MEDIA_SIGNING_KEYS and INTERNAL_SIGNING_SECRET and loads them with
 * `wrangler secret bulk` (through stdin: no value is printed, passed as an argument or written to
 * disk). Only the missing ones are made, so running it again changes nothing; `--replace NAME`
 * makes a new value for a secret that is set (docs/operations.md says what each replacement ends).
 * The first run creates the Worker if it does not exist yet, so the first deploy finds the
 * secrets `secrets.required` lists.
 */

import { deployArguments, readDeployConfig, runScript, runWrangler, secretsToMake } from "./lib/deploy-env.ts";
import { type GeneratedSecretName, generatedSecretNames, generateSecrets } from "./lib/dev-keys.ts";

const usage = "npm run keys -- --env <staging|production> [--replace JWT_SIGNING_KEYS|MEDIA_SIGNING_KEYS|INTERNAL_SIGNING_SECRET]";

/** The names of the secrets set on the environment's Worker (none when the Worker does not exist yet). */
async function secretsSet(env: string): Promise<string[]> {
  const { code, output } = await runWrangler(["secret", "list", "--env", env, "--format", "json"], { quiet: true });
  if (code !== 0) {
    if (/not found|does not exist|10007/i.test(output)) return [];
    throw new Error(`wrangler secret list --env ${env} failed:\n${output}`);
  }
  const json = output.slice(output.indexOf("["));
  return (JSON.parse(json) as { name: string }[]).map((secret) => secret.name);
}

/** `--replace` as given (once or more). */
function replaceList(values: Record<string, unknown>): string[] {
  const replace = values.replace;
  return Array.isArray(replace) ? replace.map(String) : [];
}

async function main(): Promise<number> {
  const { env, values } = deployArguments(process.argv.slice(2), usage, { replace: { type: "string", multiple: true } });
  const config = readDeployConfig(env);
  const set = await secretsSet(env);
  const make = secretsToMake(set, replaceList(values));
  if (make.length > 0) {
    console.log(`[keys] making ${make.join(", ")} for ${config.name} (${env})…`);
    const secrets = await generateSecrets(make, env);
    const { code } = await runWrangler(["secret", "bulk", "--env", env], { input: JSON.stringify(secrets) });
    if (code !== 0) return code;
  } else {
    console.log(`[keys] ${generatedSecretNames.join(", ")} are set on ${config.name}; nothing made (--replace NAME makes a new one).`);
  }
  const required: string[] = config.secrets?.required ?? [];
  const byHand = required.filter((name) => !set.includes(name) && !make.includes(name as GeneratedSecretName));
  for (const name of byHand) {
    console.log(`[keys] still to set: ${name} (wrangler secret put ${name} --env ${env}; docs/operations.md says what it holds)`);
  }
  return 0;
}

runScript(main);
