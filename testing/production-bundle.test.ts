import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { bundleWorker, webDist, wranglerConfig, writeWorkerConfig } from "../scripts/lib/local-stack/index.ts";
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

/**
 * Test code stays out of the production graph: the bundle `wrangler deploy --env production`
 * uploads has no test route, while the test Worker, bundled the same way, has them.
 */
describe("the production bundle", () => {
  const work = mkdtempSync(join(tmpdir(), "reelstream-bundles-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("holds no /internal/test route", async () => {
    const outdir = join(work, "production");
    await bundleWorker({ config: wranglerConfig, env: "production", outdir });
    const text = bundledText(outdir);
    // The app is in it (its internal storage routes), and the test routes are not.
    expect(text).toContain("/internal/storage");
    expect(text).not.toContain("/internal/test");
  }, 120_000);

  it("is told apart from the test Worker's bundle, which has both test routes", async () => {
    const config = writeWorkerConfig(join(work, "test"), { main: testWorkerEntry });
    const outdir = join(work, "test", "bundle");
    await bundleWorker({ config, outdir });
    const text = bundledText(outdir);
    expect(text).toContain("/internal/test/media/");
    expect(text).toContain("/internal/test/viewer-state/");
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
