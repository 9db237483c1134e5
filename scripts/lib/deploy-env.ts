import { spawn } from "node:child_process";
import { type ParseArgsOptionsConfig, parseArgs } from "node:util";
import { unstable_readConfig } from "wrangler";
import { type GeneratedSecretName, generatedSecretNames } from "./dev-keys.ts";
import { repoRoot } from "./local-stack/paths.ts";
import { wranglerConfig } from "./local-stack/worker.ts";

/** The environments that deploy (wrangler.toml `[env.<name>]`); the top level is local development. */
export const deployEnvironments = ["staging", "production"] as const;
export type DeployEnvironment = (typeof deployEnvironments)[number];

function isDeployEnvironment(name: string | undefined): name is DeployEnvironment {
  return deployEnvironments.includes(name as DeployEnvironment);
}

/**
 * The `--env <staging|production>` every deploy script needs, and its other options. There is no
 * default: an operator names the environment each time, so nothing reaches production by omission.
 *
 * @example
 * const { env, values } = deployArguments(process.argv.slice(2), "npm run keys -- --env <staging|production>", {
 *   replace: { type: "string", multiple: true },
 * });
 */
export function deployArguments(argv: string[], usage: string, options: ParseArgsOptionsConfig = {}) {
  const parsed = parseArgs({
    args: argv,
    options: { env: { type: "string", short: "e" }, ...options },
    allowPositionals: false,
    strict: true,
  });
  const env = parsed.values.env;
  if (typeof env !== "string" || !isDeployEnvironment(env)) {
    throw new Error(`${typeof env === "string" ? `"${env}" is not an environment` : "Name the environment"}: ${usage}`);
  }
  return { env, values: parsed.values };
}

/** An environment's configuration as wrangler resolves it (`[env.<name>]` over the top level). */
export function readDeployConfig(env: DeployEnvironment) {
  return unstable_readConfig({ config: wranglerConfig, env });
}

/**
 * Every queue an environment names: what it produces to, what it consumes, and their dead-letter
 * queues. Wrangler creates KV namespaces and R2 buckets on deploy, but not queues.
 */
export function queuesOf(config: ReturnType<typeof readDeployConfig>): string[] {
  const producers = (config.queues.producers ?? []) as { queue: string }[];
  const consumers = (config.queues.consumers ?? []) as { queue: string; dead_letter_queue?: string }[];
  const names = [
    ...producers.map((producer) => producer.queue),
    ...consumers.flatMap((consumer) => [consumer.queue, consumer.dead_letter_queue]),
  ];
  return [...new Set(names.filter((name): name is string => typeof name === "string"))];
}

/** The secrets to make: the generated ones not set yet, and those named to replace. */
export function secretsToMake(alreadySet: readonly string[], replace: readonly string[]): GeneratedSecretName[] {
  const unknown = replace.filter((name) => !generatedSecretNames.includes(name as GeneratedSecretName));
  if (unknown.length > 0) throw new Error(`--replace takes ${generatedSecretNames.join(", ")}; not ${unknown.join(", ")}`);
  return generatedSecretNames.filter((name) => !alreadySet.includes(name) || replace.includes(name));
}

const wranglerBin = `${repoRoot}node_modules/wrangler/bin/wrangler.js`;

/**
 * Runs wrangler (this repository's) with `args`; `input` goes to its stdin (a secret never is an
 * argument or a file). Its output is shown unless `quiet`, in which case it is returned.
 */
export function runWrangler(args: string[], options: { input?: string; quiet?: boolean } = {}): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [wranglerBin, ...args], {
      cwd: repoRoot,
      stdio: [options.input === undefined ? "inherit" : "pipe", options.quiet ? "pipe" : "inherit", options.quiet ? "pipe" : "inherit"],
    });
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once("error", reject);
    child.once("exit", (code) => resolve({ code: code ?? 1, output }));
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Runs a script's `main`, printing a thrown error's message (not its stack) and exiting non-zero. */
export function runScript(main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : String(error));
      process.exit(1);
    },
  );
}
