import { describe, expect, test } from "bun:test";
import { Code, PrismError } from "../errors";
import { errorType } from "./error_type";

const sys = (code: string, message = `connect ${code} 127.0.0.1:1`) => Object.assign(new Error(message), { code });

describe("errorType (driver_error_total's error_type)", () => {
  test("socket errors, directly or as a wrapped cause, name their class", () => {
    expect(errorType(sys("ECONNREFUSED"))).toBe("connection_refused");
    expect(errorType(new PrismError(Code.UNKNOWN, "set: outcome unknown", { cause: new Error("Connection is closed.") }))).toBe("connection_reset");
    const lost = new PrismError(Code.UNAVAILABLE, "redis unavailable: Reached the max retries per request limit (which is 0)", {
      cause: new Error("Reached the max retries per request limit (which is 0)"),
    });
    expect(errorType(new PrismError(Code.UNKNOWN, "set: outcome unknown", { cause: lost }))).toBe("unavailable");
    expect(errorType(new PrismError(Code.UNKNOWN, "set: outcome unknown", { cause: new Error("Command aborted due to connection close") }))).toBe(
      "connection_reset",
    );
    expect(errorType(new PrismError(Code.UNAVAILABLE, "redis down", { cause: sys("ECONNRESET") }))).toBe("connection_reset");
    expect(errorType(new PrismError(Code.UNAVAILABLE, "redis x unavailable: not connected (connect ECONNREFUSED 127.0.0.1:6390)"))).toBe("connection_refused");
    expect(errorType(sys("EHOSTUNREACH"))).toBe("host_unreachable");
    expect(errorType(sys("ENOTFOUND", "getaddrinfo ENOTFOUND nohost"))).toBe("dns");
    expect(errorType(sys("ETIMEDOUT"))).toBe("timeout");
  });

  test("timeouts, open breakers and status codes", () => {
    expect(errorType(new PrismError(Code.UNAVAILABLE, "redis x unavailable: Command timed out"))).toBe("timeout");
    expect(errorType(new PrismError(Code.DEADLINE_EXCEEDED, "deadline"))).toBe("timeout");
    expect(errorType(new DOMException("slow", "TimeoutError"))).toBe("timeout");
    expect(errorType(new PrismError(Code.UNAVAILABLE, "circuit open for redis"))).toBe("circuit_open");
    expect(errorType(new PrismError(Code.UNAVAILABLE, "no leader"))).toBe("unavailable");
    expect(errorType(new PrismError(Code.FAILED_PRECONDITION, "WRONGTYPE"))).toBe("failed_precondition");
    expect(errorType(new PrismError(Code.RESOURCE_EXHAUSTED, "full"))).toBe("resource_exhausted");
    expect(errorType(new Error("boom"))).toBe("internal");
    expect(errorType("str")).toBe("internal");
  });
});
