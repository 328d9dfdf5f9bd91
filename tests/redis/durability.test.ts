/**
 * wait: after a stored write the Redis pattern can wait for replicas (WAIT) or the AOF fsync (WAITAOF). With
 * fewer acknowledgements than asked the write is on the primary but not as durable as configured: the call says
 * its outcome is unknown (DEADLINE_EXCEEDED), never OK.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code, PrismError } from "../../sdk/grpc/errors";
import { directRedis, startOwnRedis, startRedisPattern, text, type OwnRedis } from "./harness";

describe("redis wait (durability)", () => {
  let own: OwnRedis;
  beforeAll(async () => {
    own = await startOwnRedis();
  });
  afterAll(async () => {
    await own?.destroy();
  });

  test("wait.replicas with no replica: DEADLINE_EXCEEDED saying the write is applied but not durable", async () => {
    const p = await startRedisPattern({ address: own.address, key_prefix: "w:", wait: { replicas: 1, timeout: "100ms" } });
    try {
      const err = await p.clients.kv.set({ key: "k", value: text("v") }).catch((e) => PrismError.from(e));
      expect((err as PrismError).code).toBe(Code.DEADLINE_EXCEEDED);
      expect((err as PrismError).message).toContain("not as durable as configured");
      expect((err as PrismError).message).toContain("0 of 1 replicas");
      const r = directRedis(own.address);
      expect(await r.get("w:k")).toBe("v");
      r.disconnect();
    } finally {
      await p.stop();
    }
  }, 30_000);

  test("wait.replicas 0 with local_aof off is no wait; a wait timeout not under command_timeout is refused at start", async () => {
    const p = await startRedisPattern({ address: own.address, key_prefix: "w0:", wait: { replicas: 0 } });
    try {
      expect((await p.clients.kv.set({ key: "k", value: text("v") })).success).toBe(true);
    } finally {
      await p.stop();
    }
    await expect(startRedisPattern({ address: own.address, wait: { replicas: 1, timeout: "2s" } })).rejects.toThrow(/shorter than command_timeout/);
  }, 30_000);
});
