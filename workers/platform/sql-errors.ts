/** SQLSTATE codes that handlers turn into client errors. */
export const SqlState = {
  uniqueViolation: "23505",
  foreignKeyViolation: "23503",
} as const;

/** True when Postgres answered with `code`; drizzle wraps driver errors in `cause`, so the chain is searched. */
export function hasSqlState(error: unknown, code: string): boolean {
  for (let current = error, depth = 0; current && typeof current === "object" && depth < 5; depth++) {
    if ((current as { code?: unknown }).code === code) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
