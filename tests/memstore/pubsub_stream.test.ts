import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { LifecycleInterface } from "../../proto/gen/prism/interfaces/lifecycle_pb";
import { PubSubBasicInterface, type Message } from "../../proto/gen/prism/interfaces/pubsub/pubsub_basic_pb";
import { StreamBasicInterface } from "../../proto/gen/prism/interfaces/stream/stream_basic_pb";
import { createClient } from "../../sdk/grpc/client";
import { Code } from "../../sdk/grpc/errors";
import { startPattern, type StartedPattern } from "../helpers/process";
import { codeOf, eventually, text, utf8 } from "../acceptance/target";
import { sample, scrape } from "../helpers/metrics";
import { freePort, tempConfig } from "./helpers";

describe("memstore pub/sub and streams over gRPC", () => {
  let p: StartedPattern;
  let ps: ReturnType<typeof createClient<typeof PubSubBasicInterface>>;
  let st: ReturnType<typeof createClient<typeof StreamBasicInterface>>;
  let lc: ReturnType<typeof createClient<typeof LifecycleInterface>>;
  beforeAll(async () => {
    p = await startPattern("memstore");
    ps = createClient(PubSubBasicInterface, p.address);
    st = createClient(StreamBasicInterface, ps.raw);
    lc = createClient(LifecycleInterface, ps.raw);
  });
  afterAll(async () => {
    ps?.close();
    expect(await p?.stop()).toBe(0);
  });

  const subscribers = async () => Number((await lc.client.healthCheck({})).details.subscribers);

  test("fan-out to distinct subscriber ids, round-robin within one id, Unsubscribe ends the streams", async () => {
    const collect = (subscriberId: string) => Array.fromAsync(ps.client.subscribe({ topic: "news", subscriberId })) as Promise<Message[]>;
    const alone = collect("alone");
    const shared = [collect("shared"), collect("shared")];
    await eventually(async () => (await subscribers()) === 3, "three subscriptions are registered");
    for (let i = 0; i < 6; i++) {
      const r = await ps.client.publish({ topic: "news", payload: utf8(String(i)), metadata: { n: String(i) } });
      expect(r.success).toBe(true);
      expect(r.messageId).not.toBe("");
    }
    expect((await ps.client.unsubscribe({ topic: "news", subscriberId: "alone" })).success).toBe(true);
    expect((await ps.client.unsubscribe({ topic: "news", subscriberId: "shared" })).success).toBe(true);
    const got = await alone;
    expect(got.map((m) => text(m.payload))).toEqual(["0", "1", "2", "3", "4", "5"]);
    expect(got[2]).toMatchObject({ topic: "news", metadata: { n: "2" } });
    expect(got[0]!.timestamp).toBeGreaterThan(0n);
    const [a, b] = (await Promise.all(shared)).map((ms) => ms.map((m) => text(m.payload)));
    expect(a!.length).toBe(3);
    expect(b!.length).toBe(3);
    expect([...a!, ...b!].sort()).toEqual(["0", "1", "2", "3", "4", "5"]);
    expect(await subscribers()).toBe(0);
    expect((await ps.client.unsubscribe({ topic: "news", subscriberId: "alone" })).success).toBe(false);
  });

  test("a cancelled subscription leaves the topic", async () => {
    const ac = new AbortController();
    const sub = Array.fromAsync(ps.client.subscribe({ topic: "cancel", subscriberId: "x" }, { signal: ac.signal })).catch(() => "cancelled");
    await eventually(async () => (await subscribers()) === 1, "the subscription is registered");
    ac.abort();
    expect(await sub).toBe("cancelled");
    await eventually(async () => (await subscribers()) === 0, "the subscription is gone");
  });

  test("append, read from an offset or a time, follow, trim", async () => {
    for (let i = 0; i < 3; i++) expect((await st.client.append({ stream: "log", payload: utf8(`r${i}`) })).offset).toBe(BigInt(i));
    const all = await Array.fromAsync(st.client.read({ stream: "log" }));
    expect(all.map((r) => [r.offset, text(r.payload)])).toEqual([
      [0n, "r0"],
      [1n, "r1"],
      [2n, "r2"],
    ]);
    const fromTime = await Array.fromAsync(st.client.read({ stream: "log", fromTimestamp: all[1]!.timestamp }));
    expect(fromTime[0]!.offset).toBeLessThanOrEqual(1n);
    expect(fromTime.at(-1)!.offset).toBe(2n);

    const follower = Array.fromAsync(st.client.read({ stream: "log", fromOffset: 2n, follow: true, maxRecords: 3 }));
    await eventually(async () => (await lc.client.healthCheck({})).details.stream_followers === "1", "the follower waits");
    await st.client.append({ stream: "log", payload: utf8("r3") });
    await st.client.append({ stream: "log", payload: utf8("r4") });
    expect((await follower).map((r) => text(r.payload))).toEqual(["r2", "r3", "r4"]);

    expect((await st.client.trim({ stream: "log", beforeOffset: 3n })).lowOffset).toBe(3n);
    expect((await Array.fromAsync(st.client.read({ stream: "log" }))).map((r) => r.offset)).toEqual([3n, 4n]);
    expect(await codeOf(() => st.client.read({ stream: "log", partition: 1 }))).toBe(Code.INVALID_ARGUMENT);
    expect(await codeOf(() => st.client.append({ stream: "", payload: utf8("x") }))).toBe(Code.INVALID_ARGUMENT);
  });
});

describe("memstore slow subscriber", () => {
  let p: StartedPattern;
  let metricsPort: number;
  let config: ReturnType<typeof tempConfig>;
  beforeAll(async () => {
    config = tempConfig("subscriber_buffer: 16\n");
    metricsPort = await freePort();
    p = await startPattern("memstore", ["--config", config.path, "--metrics-port", String(metricsPort)]);
  });
  afterAll(async () => {
    config?.remove();
    expect(await p?.stop()).toBe(0);
  });

  test("loses its oldest messages to a bounded buffer, counted in prism_subscriber_dropped_messages_total{topic}", async () => {
    // HTTP/2's default window (the SDK's client announces 4 MiB), so that the windows fill after a few messages.
    const ps = createClient(PubSubBasicInterface, p.address, undefined, { "grpc-node.flow_control_window": 65_535 });
    const topic = "slow-memstore";
    const abort = new AbortController();
    const it = ps.client.subscribe({ topic, subscriberId: "slow" }, { signal: abort.signal, timeoutMs: 0 })[Symbol.asyncIterator]();
    const dropped = async () => sample(await scrape(metricsPort), "prism_subscriber_dropped_messages_total", { driver: "memstore", topic }) ?? 0;
    let lost = 0;
    try {
      const first = it.next();
      let live = false;
      void first.then(() => (live = true));
      for (let i = 0; !live && i < 100; i++) {
        await ps.client.publish({ topic, payload: utf8("probe") });
        await Bun.sleep(20);
      }
      await first;
      expect(await dropped()).toBe(0);
      // The client reads nothing now: HTTP/2 windows fill, then the 16-message buffer, then drops begin.
      const n = 2_000;
      const payload = new Uint8Array(4096);
      for (let i = 0; i < n; i += 50) await Promise.all(Array.from({ length: 50 }, () => ps.client.publish({ topic, payload })));
      await ps.client.publish({ topic, payload: utf8("newest") });
      const metrics = await scrape(metricsPort);
      lost = sample(metrics, "prism_subscriber_dropped_messages_total", { driver: "memstore", topic }) ?? 0;
      expect(lost).toBeGreaterThan(n / 2);
      expect(sample(metrics, "prism_subscriber_dropped_messages_total", { driver: "memstore", topic: "" })).toBe(0);
      const buffered = sample(metrics, "prism_subscriber_buffered_messages", { driver: "memstore" });
      expect(buffered).toBeGreaterThan(0);
      expect(buffered).toBeLessThanOrEqual(16);
      let got = 0;
      for (;;) {
        const r = await it.next();
        if (r.done) throw new Error("stream ended");
        got++;
        if (text(r.value.payload) === "newest") break;
      }
      expect(got).toBeLessThan(n - lost + 10);
      await eventually(
        async () => sample(await scrape(metricsPort), "prism_subscriber_buffered_messages", { driver: "memstore" }) === 0,
        "the buffer is read empty",
      );
    } finally {
      abort.abort();
      await it.return?.();
      ps.close();
    }
    // A counter: the drops stay counted after the subscriber left.
    expect(await dropped()).toBeGreaterThanOrEqual(lost);
  }, 60_000);
});
