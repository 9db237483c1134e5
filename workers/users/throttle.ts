import { ApiError } from "../platform/errors.ts";
import { enforceRateLimits, spendAllowance } from "../platform/rate-limit.ts";
import type { Services } from "../platform/services.ts";

/** Every sign-in and sign-up limiter counts per minute (`period = 60` in wrangler.toml). */
export const THROTTLE_PERIOD_SECONDS = 60;
/** `SIGNIN_ACCOUNT_CLIENT_LIMITER`'s limit: attempts on one account from one address per minute. */
const ACCOUNT_CLIENT_LIMIT = 10;

const accountClientKey = (email: string, client: string) => `account:${email}|client:${client}`;

/**
 * Sign-in throttling that nobody can turn against the account's owner (issue 15.6).
 *
 * Before the password is checked (so a refused guess costs no Argon2id hash):
 * - per client address, 20 attempts a minute, whatever the accounts: one address spraying many;
 * - per account and address, 10 a minute: one address guessing one account. A stranger uses up
 *   their own allowance, never the owner's, which is counted against the owner's address.
 *
 * After a wrong password, `recordFailedSignin`: failures per account from every address, 20 a
 * minute. Past that the account is under attack, and an address that fails on it loses the rest
 * of its allowance for the window: a botnet rotating addresses gets one guess per address per
 * minute instead of ten, while an address that has not failed (the owner, on their own device)
 * still has its password checked and signs in. The limit is a guess budget, not a lock.
 *
 * Unknown emails take the same path with the same keys, so throttling says nothing about which
 * accounts exist. Counters are per Cloudflare location (the binding's design): an attacker spread
 * over many locations gets each location's allowance, which is why the budget is per address.
 */
export async function admitSignin(services: Services, email: string, client: string): Promise<void> {
  const { rateLimiters } = services;
  await enforceRateLimits([
    { limiter: rateLimiters.signinClient, period: THROTTLE_PERIOD_SECONDS, key: `client:${client}`, subject: "this client" },
    {
      limiter: rateLimiters.signinAccountClient,
      period: THROTTLE_PERIOD_SECONDS,
      key: accountClientKey(email, client),
      subject: "this client for this account",
    },
  ]);
}

/** Counts a wrong password; on an account under attack, the failing address waits out the window. */
export async function recordFailedSignin(services: Services, email: string, client: string): Promise<void> {
  const { rateLimiters } = services;
  const { success } = await rateLimiters.signinAccountFailures.limit({ key: `account:${email}` });
  if (!success) await spendAllowance(rateLimiters.signinAccountClient, accountClientKey(email, client), ACCOUNT_CLIENT_LIMIT);
}

/**
 * Sign-up throttling (issue 15.7): each sign-up costs an Argon2id hash (about 16 ms of CPU), so
 * one address may create 5 accounts a minute, checked before the hash. A household or an office
 * signing up together stays well inside it.
 */
export async function admitSignup(services: Services, client: string): Promise<void> {
  await enforceRateLimits([
    { limiter: services.rateLimiters.signupClient, period: THROTTLE_PERIOD_SECONDS, key: `client:${client}`, subject: "this client" },
  ]);
}

/** Whether `error` is the answer to a wrong email or password. */
export function isInvalidCredentials(error: unknown): boolean {
  return error instanceof ApiError && error.code === "invalid-credentials";
}
