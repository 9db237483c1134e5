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

describe("redaction", () => {
  const signature = "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6";
  const mediaToken = `v2.m1.1767225600.1080.user-1.session-1.lease-1.${signature}`;
  const jwt = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJl";

  it("writes no credential, in a field named like one or inside any text, and keeps identifiers", () => {
    const { lines, sink } = collect();
    createLogger({ requestId: "0f6c1f3e-2b1d-4b8e-9a53-5f3a0a3d6e21" }, sink).warn("request", {
      path: `/media/abcdefghij0123456789/${mediaToken}/hls/720p/segment_00001.m4s`,
      password: "correct horse battery staple",
      refreshToken: "rsr_short",
      nested: { note: `Authorization: Bearer ${jwt}`, key: "catalog:page:1" },
      error: new Error(`refresh rsr_${signature} refused`),
    });
    const [line] = lines;
    expect(line?.record).toEqual({
      level: "warn",
      msg: "request",
      requestId: "0f6c1f3e-2b1d-4b8e-9a53-5f3a0a3d6e21",
      path: "/media/abcdefghij0123456789/[redacted]/hls/720p/segment_00001.m4s",
      password: "[redacted]",
      refreshToken: "[redacted]",
      nested: { note: "Authorization: Bearer [redacted]", key: "catalog:page:1" },
      error: "Error: refresh [redacted] refused",
    });
  });
});
