import { describe, expect, test } from "bun:test";
import { Code, PrismError } from "../sdk/grpc/errors";
import { redisError } from "./errors";

function replyError(message: string): Error {
  const e = new Error(message);
  e.name = "ReplyError";
  return e;
}

describe("redisError", () => {
  test("lost, refused and timed-out connections are UNAVAILABLE and name the server", () => {
    const source = { target: "127.0.0.1:6399", lastError: "connect ECONNREFUSED 127.0.0.1:6399" };
    const offline = redisError(new Error("Stream isn't writeable and enableOfflineQueue options is false"), source);
    expect(offline.code).toBe(Code.UNAVAILABLE);
    expect(offline.message).toBe("redis 127.0.0.1:6399 unavailable: not connected (connect ECONNREFUSED 127.0.0.1:6399)");
    expect(redisError(new Error("Connection is closed.")).code).toBe(Code.UNAVAILABLE);
    expect(redisError(new Error("Command timed out")).code).toBe(Code.UNAVAILABLE);
    expect(redisError(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })).code).toBe(Code.UNAVAILABLE);
    const aborted = new Error("Command aborted due to connection close");
    aborted.name = "AbortError";
    expect(redisError(aborted).code).toBe(Code.UNAVAILABLE);
    expect(redisError(replyError("LOADING Redis is loading the dataset in memory")).code).toBe(Code.UNAVAILABLE);
    expect(redisError(replyError("CLUSTERDOWN The cluster is down")).code).toBe(Code.UNAVAILABLE);
  });

  test("server replies map by their prefix", () => {
    expect(redisError(replyError("WRONGTYPE Operation against a key holding the wrong kind of value")).code).toBe(Code.FAILED_PRECONDITION);
    expect(redisError(replyError("OOM command not allowed when used memory > 'maxmemory'.")).code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(redisError(replyError("NOPERM this user has no permissions")).code).toBe(Code.PERMISSION_DENIED);
    expect(redisError(replyError("ERR syntax error")).code).toBe(Code.INTERNAL);
  });

  test("PrismErrors pass through unchanged", () => {
    const e = new PrismError(Code.UNAVAILABLE, "circuit open for redis");
    expect(redisError(e)).toBe(e);
  });
});
