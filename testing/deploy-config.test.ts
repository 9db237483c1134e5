import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { unstable_readConfig } from "wrangler";
import { deployEnvironments, queuesOf, readDeployConfig, secretsToMake } from "../scripts/lib/deploy-env.ts";
import { generatedSecretNames, generateSecrets } from "../scripts/lib/dev-keys.ts";
import { bundleWorker, wranglerConfig } from "../scripts/lib/local-stack/index.ts";
import { loadConfig, requiredConfigNames } from "../workers/platform/config.ts";
import { ACCOUNT_CONCURRENT_VCPU, containerInstanceTypes } from "../workers/platform/container-instances.ts";
import { isDeadLetterQueue } from "../workers/platform/queue-names.ts";

/**
 * wrangler.toml as wrangler itself reads it (`unstable_readConfig`), for the environments that
 * deploy: what a real `wrangler deploy --env <name>` needs is in the repository, and nothing in it
 * is a placeholder, someone's account or a local value.
 */
const local = unstable_readConfig({ config: wranglerConfig });
const deployed = Object.fromEntries(deployEnvironments.map((env) => [env, readDeployConfig(env)]));
type WranglerConfig = typeof local;

/** Hosts that are no one's: reserved names (RFC 2606, RFC 6761) and the local machine. */
function isPlaceholderHost(host: string): boolean {
  return /(^|\.)(example|test|invalid|localhost|local)$/i.test(host) || /(^|\.)example\.(com|net|org)$/i.test(host);
}

/** Every binding name of a configuration, by kind: none of them is inherited by an environment. */
function bindingNames(config: WranglerConfig): string[] {
  const named = (entries: unknown[] | undefined, key: "binding" | "name") =>
    ((entries ?? []) as Record<string, string>[]).map((entry) => entry[key]);
  return [
    ...named(config.kv_namespaces, "binding"),
    ...named(config.r2_buckets, "binding"),
    ...named(config.queues.producers, "binding"),
    ...named(config.durable_objects.bindings, "name"),
    ...named(config.ratelimits, "name"),
    ...named(config.analytics_engine_datasets, "binding"),
    ...(config.version_metadata ? [config.version_metadata.binding] : []),
  ];
}

function consumers(config: WranglerConfig) {
  return (config.queues.consumers ?? []) as { queue: string; retry_delay?: number; dead_letter_queue?: string }[];
}

describe.each(deployEnvironments)("wrangler.toml's %s environment", (env) => {
  const config = deployed[env] as WranglerConfig;
  const vars = config.vars as Record<string, string>;

  it("is a Worker of its own, on no account written in the repository", () => {
    const others = [local, ...deployEnvironments.filter((other) => other !== env).map((other) => deployed[other] as WranglerConfig)];
    expect(others.map((other) => other.name)).not.toContain(config.name);
    expect(config.account_id).toBeUndefined();
  });

  it("names its domain once: the custom domain route, PUBLIC_BASE_URL and the tokens' issuer agree, and it is no placeholder", async () => {
    const origin = new URL(vars.PUBLIC_BASE_URL ?? "");
    expect(origin.protocol).toBe("https:");
    expect(isPlaceholderHost(origin.hostname), `${origin.hostname} is a placeholder`).toBe(false);
    const routes = (config.routes ?? []) as { pattern: string; custom_domain?: boolean }[];
    expect(routes).toEqual([{ pattern: origin.hostname, custom_domain: true }]);
    expect(vars.JWT_ISSUER).toBeUndefined();
    const named = JSON.stringify({ vars, routes });
    expect(named.match(/[\w.-]*(\.example\b|example\.(com|net|org)|localhost|127\.0\.0\.1)[\w.-]*/g)).toBeNull();
  });

  it("has no account-specific or placeholder ids: wrangler provisions KV and R2 by name", () => {
    for (const namespace of config.kv_namespaces as { id?: string; preview_id?: string }[]) {
      expect(namespace.id).toBeUndefined();
      expect(namespace.preview_id).toBeUndefined();
    }
    expect(config.d1_databases).toEqual([]);
    expect(JSON.stringify(config).match(/0{16,}|<[A-Za-z_ ]+>|placeholder|changeme|\btodo\b/gi)).toBeNull();
  });

  it("shares no bucket, queue, dataset or rate-limit counter with another environment", () => {
    const resources = (of: WranglerConfig) => [
      ...(of.r2_buckets as { bucket_name: string }[]).map((bucket) => `r2:${bucket.bucket_name}`),
      ...queuesOf(of).map((queue) => `queue:${queue}`),
      ...(of.analytics_engine_datasets as { dataset: string }[]).map((dataset) => `dataset:${dataset.dataset}`),
      ...(of.ratelimits as { namespace_id: string }[]).map((limit) => `ratelimit:${limit.namespace_id}`),
    ];
    const mine = resources(config);
    expect(new Set(mine).size).toBe(mine.length);
    for (const other of [local, ...deployEnvironments.filter((name) => name !== env).map((name) => deployed[name] as WranglerConfig)]) {
      expect(mine.filter((resource) => resources(other).includes(resource))).toEqual([]);
    }
  });

  it("has every binding and var of the local Worker (an environment inherits none)", () => {
    expect(bindingNames(config).sort()).toEqual(expect.arrayContaining(bindingNames(local).sort()));
    expect(Object.keys(vars)).toEqual(expect.arrayContaining(Object.keys(local.vars)));
  });

  it("lists in secrets.required every setting the Worker cannot start without that is not a var", () => {
    const required: string[] = config.secrets?.required ?? [];
    const missing = requiredConfigNames().filter((name) => !(name in vars) && !required.includes(name));
    expect(missing).toEqual([]);
    expect(required.filter((name) => name in vars)).toEqual([]);
    // What `npm run keys` makes is listed, so a deploy without them fails instead of every request.
    expect(required).toEqual(expect.arrayContaining([...generatedSecretNames]));
  });

  it("starts with its vars, the secrets npm run keys makes and a DATABASE_URL", async () => {
    const secrets = await generateSecrets(secretsToMake([], []), env);
    const started = await loadConfig({
      ...vars,
      ...secrets,
      DATABASE_URL: "postgres://reelstream@db.invalid/reelstream",
    } as unknown as Env);
    expect(started.JWT_ISSUER).toBe(vars.PUBLIC_BASE_URL);
    expect(started.APP_ENV).toBe("production");
    expect(started.signingKeys[0]?.kid).toMatch(new RegExp(`^${env}-`));
  });

  it("keeps Workers Logs (its own lines, not the invocation logs that record URLs) and traces, each sampled", () => {
    const observability = config.observability as {
      enabled?: boolean;
      logs?: { enabled?: boolean; invocation_logs?: boolean; head_sampling_rate?: number };
      traces?: { enabled?: boolean; head_sampling_rate?: number };
    };
    expect(observability.enabled).toBe(true);
    expect(observability.logs).toMatchObject({ enabled: true, invocation_logs: false });
    expect(observability.traces?.enabled).toBe(true);
    for (const rate of [observability.logs?.head_sampling_rate, observability.traces?.head_sampling_rate]) {
      expect(rate).toBeGreaterThan(0);
      expect(rate).toBeLessThanOrEqual(1);
    }
    const containers = (config.containers ?? []) as { observability?: { logs?: { enabled?: boolean } } }[];
    for (const container of containers) expect(container.observability?.logs?.enabled).toBe(true);
  });

  it("retries every queue message after a delay, and dead-letters into a -dlq queue it consumes", () => {
    const consumed = consumers(config).map((consumer) => consumer.queue);
    for (const consumer of consumers(config)) {
      expect(consumer.retry_delay, `${consumer.queue} has no retry_delay`).toBeGreaterThan(0);
      if (consumer.dead_letter_queue) {
        expect(isDeadLetterQueue(consumer.dead_letter_queue)).toBe(true);
        expect(consumed).toContain(consumer.dead_letter_queue);
      }
    }
    // Every queue the Worker sends to is consumed here (a message nobody reads is lost work).
    for (const producer of (config.queues.producers ?? []) as { queue: string }[]) expect(consumed).toContain(producer.queue);
  });

  it("passes wrangler deploy --dry-run", async () => {
    const outdir = mkdtempSync(join(tmpdir(), `reelstream-dry-run-${env}-`));
    try {
      await expect(bundleWorker({ config: wranglerConfig, env, outdir })).resolves.toMatch(/index\.js$/);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe("the deployed environments together", () => {
  it("fit their transcoder fleets within the account's concurrent vCPU", () => {
    const vcpu = deployEnvironments.flatMap((env) =>
      ((deployed[env] as WranglerConfig).containers as { max_instances?: number; instance_type?: string }[]).map(
        (container) =>
          (container.max_instances ?? 0) * containerInstanceTypes[container.instance_type as keyof typeof containerInstanceTypes].vcpu,
      ),
    );
    expect(vcpu.reduce((sum, each) => sum + each, 0)).toBeLessThanOrEqual(ACCOUNT_CONCURRENT_VCPU);
  });

  it("make only the secrets that are missing, or named to replace", () => {
    expect(secretsToMake([], [])).toEqual([...generatedSecretNames]);
    expect(secretsToMake(["DATABASE_URL", ...generatedSecretNames], [])).toEqual([]);
    expect(secretsToMake([...generatedSecretNames], ["INTERNAL_SIGNING_SECRET"])).toEqual(["INTERNAL_SIGNING_SECRET"]);
    expect(() => secretsToMake([], ["DATABASE_URL"])).toThrow(/--replace takes/);
  });
});
