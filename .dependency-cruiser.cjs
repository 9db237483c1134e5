/**
 * Module boundaries, checked by `npm run lint` (docs/architecture.md explains them):
 * - `workers/platform/` is below every service: it imports none of them;
 * - a service reaches another service only through that service's `index.ts` (or its `schema.ts`,
 *   the contract the web app reads too);
 * - Durable Objects import only the platform and `schema/`;
 * - product code never imports tools or tests (scripts, bench, e2e, test fixtures), and tools
 *   never import test fixtures;
 * - no module, and no folder, imports back into one that imports it.
 * Folder cycles are checked on the product graph alone (.dependency-cruiser.product.cjs): a test
 * beside its code imports a fixture folder that imports the code back, by design.
 * `scripts/boundaries.test.ts` proves each rule fires on a deliberate violation.
 */
/** Product code: what ships in the Worker and the transcoder image. */
const product = "^(workers|durable-objects|schema|transcoder/src)/";
/** Test code inside product folders: test files, fixtures and their helpers. */
const testCode = "(\\.test\\.ts$|/test/|/test-support\\.ts$)";

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
      name: "web-app-takes-only-types-from-the-worker",
      comment: "The web app talks to the API over HTTP; from the Worker it may import the contract's types, never code.",
      severity: "error",
      from: { path: "^web/src/" },
      to: { path: "^(workers|durable-objects|schema|scripts|testing|bench|e2e|transcoder)/", dependencyTypesNot: ["type-only"] },
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
    exclude: { path: "(^|/)(node_modules|\\.wrangler|\\.reelstream|dist)/|worker-configuration\\.d\\.ts$" },
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
