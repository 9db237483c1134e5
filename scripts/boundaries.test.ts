import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "./lib/local-stack/index.ts";

const run = promisify(execFile);

/**
 * The module boundaries `npm run lint` enforces (.dependency-cruiser.cjs and, for folder cycles,
 * .dependency-cruiser.product.cjs), each proven to fire: a small tree shaped like this repository
 * commits every violation once, and dependency-cruiser must name each rule. The real tree passing
 * is `npm run lint` itself.
 */
const violations: Record<string, string> = {
  // Each entry: a file and what it imports. The comments name the rule it breaks.
  "workers/platform/cache.ts": 'import "../videos/service.ts";', // platform-imports-no-service
  "workers/videos/index.ts": 'export * from "./service.ts";',
  "workers/videos/service.ts": 'import "../playback/index.ts";\nexport const video = 1;', // half of a folder cycle
  "workers/playback/index.ts": 'export * from "./service.ts";',
  "workers/playback/service.ts": 'import "../videos/index.ts";\nexport const play = 1;', // the other half
  "workers/search/service.ts": 'import { video } from "../videos/service.ts";\nexport const s = video;', // service-through-its-index
  "durable-objects/viewer-state.ts": 'import "../workers/videos/index.ts";', // durable-objects-on-platform-only
  "workers/users/service.ts": 'import "../../scripts/lib/stack.ts";', // product-never-imports-tools-or-tests
  "scripts/lib/stack.ts": "export const stack = 1;",
  "scripts/seed.ts": 'import "../transcoder/test/clips.ts";', // tools-never-import-test-fixtures
  "transcoder/test/clips.ts": "export const clip = 1;",
  "bench/api.ts": 'import "../e2e/lib/stack.ts";', // bench-and-e2e-apart
  "e2e/lib/stack.ts": "export const e2e = 1;",
  "web/src/app.tsx": 'import { play } from "../../workers/playback/service.ts";\nexport const app = play;', // web-app-takes-only-types-from-the-worker
  "workers/health/a.ts": 'import "./b.ts";', // no-circular-modules
  "workers/health/b.ts": 'import "./a.ts";',
  // transcoder-imports-only-the-contract: a value import of another workers/ module; the contract's passes.
  "transcoder/src/server.ts":
    'import { grant } from "../../workers/transcoding/storage-grant.ts";\nimport { contract } from "../../workers/transcoding/contract.ts";\nexport const server = [grant, contract];',
  "workers/transcoding/storage-grant.ts": "export const grant = 1;",
  // contract-stands-alone: the contract imports a module of the repository (zod passes).
  "workers/transcoding/contract.ts": 'import { z } from "zod";\nimport { keys } from "./keys.ts";\nexport const contract = [z, keys];',
  "workers/transcoding/keys.ts": "export const keys = 1;",
  "transcoder/src/probe.ts": 'import { Hono } from "hono";\nexport const probe = Hono;', // transcoder-image-needs-only-its-packages
  "node_modules/zod/package.json": '{ "name": "zod", "type": "module", "main": "index.js" }',
  "node_modules/zod/index.js": "export const z = {};",
  "node_modules/hono/package.json": '{ "name": "hono", "type": "module", "main": "index.js" }',
  "node_modules/hono/index.js": "export const Hono = {};",
  "workers/uploads/test-support.ts": 'import { env } from "cloudflare:test";\nexport const fixture = env;', // product-never-imports-test-frameworks
};

let tree: string;

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

async function violationsOf(config: string, paths: string[]): Promise<Violation[]> {
  const bin = join(repoRoot, "node_modules/.bin/depcruise");
  const result = await run(bin, ["--config", join(repoRoot, config), "--output-type", "json", ...paths], { cwd: tree }).catch(
    (error: { stdout?: string }) => ({ stdout: error.stdout ?? "" }),
  );
  return (JSON.parse(result.stdout) as { summary: { violations: Violation[] } }).summary.violations;
}

async function cruise(config: string, paths: string[]): Promise<string[]> {
  return (await violationsOf(config, paths)).map((violation) => violation.rule.name);
}

beforeAll(() => {
  tree = mkdtempSync(join(tmpdir(), "reelstream-boundaries-"));
  writeFileSync(join(tree, "tsconfig.json"), JSON.stringify({ compilerOptions: { allowImportingTsExtensions: true, noEmit: true } }));
  for (const [file, source] of Object.entries(violations)) {
    mkdirSync(join(tree, dirname(file)), { recursive: true });
    writeFileSync(join(tree, file), `${source}\n`);
  }
});

afterAll(() => rmSync(tree, { recursive: true, force: true }));

describe("module boundaries (npm run lint)", () => {
  it("names every rule a deliberate violation breaks", async () => {
    const broken = await cruise(".dependency-cruiser.cjs", [
      "workers",
      "durable-objects",
      "scripts",
      "bench",
      "e2e",
      "transcoder",
      "web/src",
    ]);
    expect(new Set(broken)).toEqual(
      new Set([
        "platform-imports-no-service",
        "service-through-its-index",
        "durable-objects-on-platform-only",
        "product-never-imports-tools-or-tests",
        "tools-never-import-test-fixtures",
        "bench-and-e2e-apart",
        "web-app-takes-only-types-from-the-worker",
        "no-circular-modules",
        "transcoder-imports-only-the-contract",
        "transcoder-image-needs-only-its-packages",
        "contract-stands-alone",
        "product-never-imports-test-frameworks",
      ]),
    );
  }, 60_000);

  it("lets transcoder/src import the wire contract (values too), zod, mediabunny, and nothing else of the repository or npm", async () => {
    const image = (await violationsOf(".dependency-cruiser.cjs", ["transcoder", "workers"])).filter((violation) =>
      ["transcoder-imports-only-the-contract", "transcoder-image-needs-only-its-packages", "contract-stands-alone"].includes(
        violation.rule.name,
      ),
    );
    expect(image.map(({ rule, from, to }) => `${rule.name}: ${from} -> ${to}`).sort()).toEqual([
      "contract-stands-alone: workers/transcoding/contract.ts -> workers/transcoding/keys.ts",
      "transcoder-image-needs-only-its-packages: transcoder/src/probe.ts -> node_modules/hono/index.js",
      "transcoder-imports-only-the-contract: transcoder/src/server.ts -> workers/transcoding/storage-grant.ts",
    ]);
  }, 60_000);

  it("finds a folder that imports back into one that imports it (videos -> playback -> videos)", async () => {
    expect(await cruise(".dependency-cruiser.product.cjs", ["workers", "durable-objects"])).toContain("no-circular-folders");
  }, 60_000);
});
