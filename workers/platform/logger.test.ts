import { DrizzleQueryError } from "drizzle-orm/errors";
import { describe, expect, it } from "vitest";
import { createLogger, type LogLevel } from "./logger.ts";

function collect() {
  const lines: { level: LogLevel; record: Record<string, unknown> }[] = [];
  return { lines, sink: (level: LogLevel, line: string) => lines.push({ level, record: JSON.parse(line) }) };
}

describe("createLogger", () => {
  it("writes one JSON object per line with the scope's fields, a child adding its own", () => {
    const { lines, sink } = collect();
    const log = createLogger({ requestId: "r-1" }, sink);
    log.info("hello", { n: 1 });
    log.child({ videoId: "v" }).warn("careful");
    expect(lines).toEqual([
      { level: "info", record: { level: "info", msg: "hello", requestId: "r-1", n: 1 } },
      { level: "warn", record: { level: "warn", msg: "careful", requestId: "r-1", videoId: "v" } },
    ]);
  });

  it("describes an `error` field without the query parameters a driver error carries", () => {
    const { lines, sink } = collect();
    const error = new DrizzleQueryError("select * from users where email = $1", ["someone@example.com"], new Error("connection lost"));
    createLogger({}, sink).error("query failed", { error });
    expect(lines[0]?.record.error).toBe("Error: connection lost");
    expect(JSON.stringify(lines)).not.toContain("someone@example.com");
  });
});
