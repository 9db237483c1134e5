/**
 * Module boundaries, checked by `npm run lint` (docs/architecture.md explains them):
 * - `workers/platform/` is below every service: it imports none of them;
 * - a service reaches another service only through that service's `index.ts` (or its `schema.ts`,
 *   the contract the web app reads too);
 * - Durable Objects import only the platform and `schema/`;
 * - product code never imports tools or tests (scripts, bench, e2e, test fixtures) nor a test
 *   framework, so test support lives in `test/` folders and `testing/`, never beside product code;
 *   tools never import test fixtures;
 * - the transcoder's image holds transcoder/src, the wire contract and zod: transcoder/src imports
 *   nothing else of the repository, and the contract nothing but zod;
 * - no module, and no folder, imports back into one that imports it.
 * Folder cycles are checked on the product graph alone (.dependency-cruiser.product.cjs): a test
 * beside its code imports a fixture folder that imports the code back, by design.
 * `scripts/boundaries.test.ts` proves each rule fires on a deliberate violation.
 */
/** Product code: what ships in the Worker and the transcoder image. */
const product = "^(workers|durable-objects|schema|transcoder/src)/";
/** Test code inside product folders: test files, and the `test/` folders of fixtures and helpers. */
const testCode = "(\\.test\\.ts$|/test/)";

module.exports = {
  forbidden: [
    {
      name: "platform-imports-no-service",
      comment: "workers/platform is the floor every service stands on; a service needed there belongs in the platform or is passed in.",
      severity: "error",
      from: { path: "^workers/platform/", pathNot: testCode },
      to: { path: "^(workers/(?!platform/)|durable-objects/)" },
    },
    {
      name: "service-through-its-index",
      comment: "Another service is reached only through its index.ts (its public face) or its schema.ts (its contract, types and zod).",
      severity: "error",
      from: { path: "^workers/([^/]+)/", pathNot: testCode },
      to: { path: "^workers/([^/]+)/", pathNot: ["^workers/$1/", "^workers/platform/", "^workers/[^/]+/(index|schema)\\.ts$"] },
    },
    {
      name: "durable-objects-on-platform-only",
      comment: "Durable Objects are infrastructure: they see the platform and the schema, never a service's internals.",
      severity: "error",
      from: { path: "^durable-objects/", pathNot: testCode },
      to: { path: "^workers/(?!platform/)" },
    },
    {
      name: "product-never-imports-tools-or-tests",
      comment: "Scripts, benchmarks, end-to-end tests and test fixtures are not part of what ships.",
      severity: "error",
      from: { path: product, pathNot: testCode },
      to: { path: ["^(scripts|bench|e2e|testing)/", testCode] },
    },
    {
      name: "transcoder-imports-only-the-contract",
      comment:
        "The transcoder's image carries transcoder/src, workers/transcoding/contract.ts and zod (transcoder/Dockerfile): of the rest of the repository it may import nothing, not even types.",
      severity: "error",
      from: { path: "^transcoder/src/", pathNot: testCode },
      to: { path: "^(workers|durable-objects|schema|scripts|bench|e2e|testing|web)/", pathNot: "^workers/transcoding/contract\\.ts$" },
    },
    {
      name: "transcoder-image-needs-only-its-packages",
      comment: "Of npm, the transcoder's image installs zod and mediabunny (the container index reader, keyframe-index.ts) alone.",
      severity: "error",
      from: { path: "^(transcoder/src/|workers/transcoding/contract\\.ts$)", pathNot: testCode },
      to: { dependencyTypesNot: ["core", "local"], pathNot: "^node_modules/(zod|mediabunny)/" },
    },
    {
      name: "contract-stands-alone",
      comment: "workers/transcoding/contract.ts is copied into the transcoder's image alone: it imports no module of the repository.",
      severity: "error",
      from: { path: "^workers/transcoding/contract\\.ts$" },
      to: { dependencyTypes: ["local"] },
    },
    {
      name: "web-app-takes-only-types-from-the-worker",
      comment: "The web app talks to the API over HTTP; from the Worker it may import the contract's types, never code.",
      severity: "error",
      from: { path: "^web/src/" },
      to: { path: "^(workers|durable-objects|schema|scripts|testing|bench|e2e|transcoder)/", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "product-never-imports-test-frameworks",
      comment:
        "A product module that imports vitest or cloudflare:test is test support in the wrong place: it goes to a test/ folder or testing/.",
      severity: "error",
      from: { path: product, pathNot: testCode },
      to: { path: "^(cloudflare:test$|node_modules/(vitest|@vitest/[^/]+|@cloudflare/vitest-plugin)/)" },
    },
    {
      name: "tools-never-import-test-fixtures",
      comment: "Scripts and benchmarks are run by people and CI; what they share with tests lives in scripts/lib.",
      severity: "error",
      from: { path: "^(scripts|bench)/", pathNot: testCode },
      to: { path: testCode },
    },
    {
      name: "bench-and-e2e-apart",
      comment: "Benchmarks and end-to-end tests share the local-stack harness, not each other's files.",
      severity: "error",
      from: { path: "^(bench|e2e)/" },
      to: { path: "^(bench|e2e)/", pathNot: "^$1/" },
    },
    {
      name: "no-circular-modules",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "no-unresolvable",
      severity: "error",
      from: {},
      to: { couldNotResolve: true, dependencyTypesNot: ["type-only"] },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(\\.wrangler|\\.reelstream|web/dist)/|worker-configuration\\.d\\.ts$" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      extensions: [".ts", ".js", ".mjs", ".json"],
      exportsFields: ["exports"],
      conditionNames: ["workerd", "worker", "import", "require", "node", "types", "default"],
      mainFields: ["module", "main", "types"],
    },
    builtInModules: { add: ["cloudflare:workers", "cloudflare:test", "cloudflare:email", "cloudflare:sockets"] },
  },
};
