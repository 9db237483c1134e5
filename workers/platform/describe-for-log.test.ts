import { DrizzleQueryError } from "drizzle-orm/errors";
import { describe, expect, it } from "vitest";
import { describeForLog } from "./describe-error.ts";

describe("describeForLog", () => {
  it("names an Error by its name and message", () => {
    expect(describeForLog(new TypeError("fetch failed"))).toBe("TypeError: fetch failed");
  });

  it("logs a failed query's driver cause, not drizzle's message with the parameters", () => {
    const cause = new Error("connection terminated");
    const error = new DrizzleQueryError("select * from users where email = $1", ["someone@example.com"], cause);
    expect(describeForLog(error)).toBe("Error: connection terminated");
    expect(describeForLog(error)).not.toContain("someone@example.com");
  });

  it("reads a WebSocket ErrorEvent's message instead of printing [object ErrorEvent]", () => {
    const event = new ErrorEvent("error", { message: "WebSocket connection to 127.0.0.1:5432 failed" });
    expect(describeForLog(event)).toBe("error event: WebSocket connection to 127.0.0.1:5432 failed");
    expect(describeForLog(new ErrorEvent("error", { error: new RangeError("socket closed") }))).toBe(
      "error event: RangeError: socket closed",
    );
    expect(describeForLog(new Event("close"))).toBe("close event");
  });
});
