/**
 * How long one database call may take. A request that waits longer answers 503 with Retry-After
 * (see `isDatabaseUnavailable` in errors.ts) instead of holding the Worker and the client: a slow
 * or overloaded database must not turn into a pile of hanging requests.
 */
export const DATABASE_TIMEOUT_MS = 3000;

/** Thrown when a database call runs past its deadline; `errors.ts` maps it to 503. */
export class DatabaseTimeoutError extends Error {
  override readonly name = "DatabaseTimeoutError";
}

/**
 * Bounds one database call (a drizzle query or transaction) in time.
 * The query itself is not cancelled: its connection belongs to the request's pool, which is
 * closed when the response has been sent.
 *
 * @example
 * const rows = await withDatabaseTimeout(db.select().from(plans), "list plans");
 */
export async function withDatabaseTimeout<T>(query: PromiseLike<T>, what: string, ms = DATABASE_TIMEOUT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DatabaseTimeoutError(`${what}: no answer from the database within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([query, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
