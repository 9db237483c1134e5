import { describeForLog } from "./describe-error.ts";
import { redactSecrets } from "./redact.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

/**
 * Structured logs: one JSON object per line, which Workers Logs (and `wrangler tail`) index by
 * field. Every line carries the fields of its scope (the request id, the queue message, the
 * Durable Object); an `error` field is described with `describeForLog`, so no query parameter or
 * stack of a driver error reaches the logs by accident; and every line goes through
 * `redactSecrets`, so no token, key or password does either (a media URL's token included).
 *
 * @example
 * const log = createLogger({ requestId });
 * log.warn("cache unavailable, using Postgres", { key, error });
 * log.child({ videoId }).info("transcode queued");
 */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger whose every line also carries `fields`. */
  child(fields: LogFields): Logger;
}

/** Where lines go: the console by default; a test may collect them instead. */
export type LogSink = (level: LogLevel, line: string) => void;

const consoleSink: LogSink = (level, line) => {
  if (level === "error" || level === "warn") console.error(line);
  else console.log(line);
};

export function createLogger(scope: LogFields = {}, sink: LogSink = consoleSink): Logger {
  const write = (level: LogLevel, msg: string, fields: LogFields = {}) => {
    const record: LogFields = { level, msg, ...scope, ...fields };
    if ("error" in fields) record.error = describeForLog(fields.error);
    sink(level, JSON.stringify(redactSecrets(record)));
  };
  return {
    debug: (msg, fields) => write("debug", msg, fields),
    info: (msg, fields) => write("info", msg, fields),
    warn: (msg, fields) => write("warn", msg, fields),
    error: (msg, fields) => write("error", msg, fields),
    child: (fields) => createLogger({ ...scope, ...fields }, sink),
  };
}
