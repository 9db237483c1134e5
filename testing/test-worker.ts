import { fileURLToPath } from "node:url";

/**
 * The test Worker's entry (testing/worker/index.ts: the production app plus the test-only
 * routes), for `startLocalStack({ main: testWorkerEntry })`. A path, not an import: Node never
 * loads the Worker's modules.
 */
export const testWorkerEntry = fileURLToPath(new URL("./worker/index.ts", import.meta.url));
