/**
 * The time, from one place. Every unit of work (a request, a queue message, a cron run, a Durable
 * Object's call or alarm) reads it from the clock its entry point was composed with, and so does
 * every query that compares with "now" (the value is passed in, never Postgres's `now()`): the
 * production entry (`workers/index.ts`) composes the system clock; the test Worker
 * (`testing/worker/index.ts`) a clock its tests can move forward. No request can set it.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
