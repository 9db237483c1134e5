import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { unstable_readConfig } from "wrangler";
import { bundleWorker, webDist, wranglerConfig, writeWorkerConfig } from "../scripts/lib/local-stack/index.ts";
import { ACCOUNT_CONCURRENT_VCPU, containerInstanceTypes, isContainerInstanceType } from "../workers/platform/container-instances.ts";
import { testWorkerEntry } from "./test-worker.ts";

function filesBelow(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesBelow(path) : [path];
  });
}

/** Everything wrangler wrote for upload (modules, source maps), as one text. */
function bundledText(outdir: string): string {
  return filesBelow(outdir)
    .map((file) => readFileSync(file, "latin1"))
    .join("\n");
}

/** The test clock's own words (testing/clock.ts): present where it is, and only there. */
const TEST_CLOCK_MARKER = "the test clock only moves forward";

/**
 * Test code stays out of the production graph: the bundle `wrangler deploy --env production`
 * uploads has no test route and no clock a test can move, while the test Worker, bundled the same
 * way, has them.
 */
describe("the production bundle", () => {
  const work = mkdtempSync(join(tmpdir(), "reelstream-bundles-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("holds no /internal/test route and no test clock", async () => {
    const outdir = join(work, "production");
    await bundleWorker({ config: wranglerConfig, env: "production", outdir });
    const text = bundledText(outdir);
    // The app is in it (its internal storage routes), and the test routes and clock are not.
    expect(text).toContain("/internal/storage");
    expect(text).not.toContain("/internal/test");
    expect(text).not.toContain(TEST_CLOCK_MARKER);
  }, 120_000);

  it("is told apart from the test Worker's bundle, which has both test routes and the test clock", async () => {
    const config = writeWorkerConfig(join(work, "test"), { main: testWorkerEntry });
    const outdir = join(work, "test", "bundle");
    await bundleWorker({ config, outdir });
    const text = bundledText(outdir);
    expect(text).toContain("/internal/test/media/");
    expect(text).toContain("/internal/test/viewer-state/");
    expect(text).toContain(TEST_CLOCK_MARKER);
  }, 120_000);

  it("comes from the same wrangler.toml as the test Worker's configuration, which differs only in main and the assets folder's path", () => {
    const generated = readFileSync(writeWorkerConfig(join(work, "drift"), { main: testWorkerEntry }), "utf8").split("\n");
    const original = readFileSync(wranglerConfig, "utf8").split("\n");
    expect(generated[0]).toMatch(/^# Generated from .*wrangler\.toml/);
    const body = generated.slice(1);
    expect(body).toHaveLength(original.length);
    const changed = body.flatMap((line, i) => (line === original[i] ? [] : [[original[i], line]]));
    const assets = `directory = ${JSON.stringify(webDist)}`;
    expect(changed).toEqual([
      ['main = "workers/index.ts"', `main = ${JSON.stringify(testWorkerEntry)}`],
      ['directory = "./web/dist"', assets],
      ['directory = "./web/dist"', assets],
    ]);
  });
});

/**
 * The transcoder fleet is named twice in wrangler.toml: `[[env.production.containers]]` sizes it
 * for Cloudflare, and the production vars tell the Worker what it has (dispatch spreads tasks over
 * `TRANSCODER_MAX_INSTANCES`, the scratch quota is the type's disk). They must agree.
 */
describe("the production transcoder fleet in wrangler.toml", () => {
  const production = unstable_readConfig({ config: wranglerConfig, env: "production" });
  const containers = (production.containers ?? []) as { class_name: string; instance_type?: unknown; max_instances?: number }[];
  const container = containers.find((entry) => entry.class_name === "TranscoderContainer");
  const vars = production.vars as Record<string, string>;

  it("names a current instance type, the same in the container and in the Worker's vars", () => {
    expect(container?.instance_type).toBe(vars.TRANSCODER_INSTANCE_TYPE);
    expect(isContainerInstanceType(String(container?.instance_type))).toBe(true);
  });

  it("has as many instances in both, within the account's concurrent vCPU", () => {
    expect(container?.max_instances).toBe(Number(vars.TRANSCODER_MAX_INSTANCES));
    const type = containerInstanceTypes[vars.TRANSCODER_INSTANCE_TYPE as keyof typeof containerInstanceTypes];
    expect((container?.max_instances ?? 0) * type.vcpu).toBeLessThanOrEqual(ACCOUNT_CONCURRENT_VCPU);
  });

  it("cuts masters into chunks of at most two minutes, and checks leases every minute", () => {
    expect(Number(vars.TRANSCODE_CHUNK_SECONDS)).toBeGreaterThan(0);
    expect(Number(vars.TRANSCODE_CHUNK_SECONDS)).toBeLessThanOrEqual(120);
    expect(production.triggers.crons).toEqual(["* * * * *"]);
  });

  it("retries a failed dispatch message after a delay, not at once, on every transcode consumer (here and locally)", () => {
    for (const config of [production, unstable_readConfig({ config: wranglerConfig })]) {
      const consumers = (config.queues.consumers ?? []) as { queue: string; retry_delay?: number }[];
      expect(consumers.map((consumer) => consumer.queue).sort()).toEqual(["reelstream-transcode", "reelstream-transcode-dlq"]);
      for (const consumer of consumers) expect(consumer.retry_delay, consumer.queue).toBe(30);
    }
  });
});
