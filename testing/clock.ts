import type { Clock } from "../workers/platform/clock.ts";

let offset = 0;

/**
 * The test Worker's clock (testing/worker/index.ts): the system's time plus an offset that only
 * test code moves, forward. The Worker's handlers and its Durable Objects read this one object in
 * the test isolate, so a test that moves it moves time for all of them at once; the end-to-end
 * tests and the benchmarks never move it. Tests move it through `advanceClock`
 * (workers/test/helpers.ts), which puts it back when the test ends.
 */
export const testClock: Clock & { advance(ms: number): void; reset(): void } = {
  now: () => Date.now() + offset,
  advance(ms) {
    if (!(ms >= 0)) throw new Error(`the test clock only moves forward (asked to move by ${ms} ms)`);
    offset += ms;
  },
  reset() {
    offset = 0;
  },
};
