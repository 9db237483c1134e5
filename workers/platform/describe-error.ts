import { DrizzleQueryError } from "drizzle-orm/errors";

/** SQLSTATE classes that mean "the database cannot serve now", not "the query is wrong". */
const unavailableSqlStates = /^(08|53|57)/;

/**
 * True for errors of the database connection: refused, dropped, past the deadline of a use
 * (`DatabaseDeadlineExceeded`, workers/platform/db.ts), timed out (the driver's
 * `query_timeout`, "Query read timeout", and `connectionTimeoutMillis`, "timeout expired" or, waiting
 * for a pooled connection, "timeout exceeded when trying to connect"; Postgres's own timeouts are
 * SQLSTATE class 57), or shut down.
 * Drizzle wraps driver errors in `cause`; an error without a SQLSTATE never reached Postgres.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current && depth < 5; depth++) {
    if (typeof current !== "object") return false;
    const { code, message } = current as { code?: unknown; message?: unknown };
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return unavailableSqlStates.test(code);
    if (typeof code === "string" && /^E(CONN|TIMEDOUT|HOSTUNREACH|PIPE|AI_AGAIN)/.test(code)) return true;
    if (
      typeof message === "string" &&
      /websocket|connection (terminated|refused|closed)|network connection lost|database deadline|query read timeout|timeout expired|timeout exceeded when trying to connect/i.test(
        message,
      )
    ) {
      return true;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * What an error says for the logs. Drizzle's own message repeats the query's parameters (emails,
 * tokens): log the driver's cause instead. A WebSocket's `ErrorEvent` (what the Neon driver emits
 * when its socket fails) is not an Error and would print as "[object ErrorEvent]": its message is used.
 */
export function describeForLog(error: unknown): string {
  let current: unknown = error;
  while (current instanceof DrizzleQueryError && current.cause) current = current.cause;
  if (current instanceof Error) return `${current.name}: ${current.message}`;
  if (typeof current === "object" && current !== null && "type" in current) {
    const event = current as { type: unknown; message?: unknown; error?: unknown };
    const inner =
      event.error instanceof Error ? describeForLog(event.error) : typeof event.message === "string" && event.message ? event.message : "";
    return `${String(event.type)} event${inner ? `: ${inner}` : ""}`;
  }
  return String(current);
}
