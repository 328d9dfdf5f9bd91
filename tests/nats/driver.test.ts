/**
 * dist/nats against a real nats-server of its own: starting before the server exists, namespace isolation,
 * and the slow-subscriber policy (bounded buffer, oldest dropped, counted in health and in /metrics).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { LifecycleInterface, HealthStatus } from "../../proto/gen/prism/interfaces/lifecycle_pb";
import { PubSubBasicInterface } from "../../proto/gen/prism/interfaces/pubsub/pubsub_basic_pb";
import { StreamBasicInterface } from "../../proto/gen/prism/interfaces/stream/stream_basic_pb";
import { codeOf, connect, eventually, text, utf8, type Target } from "../acceptance/target";
import { PrismError } from "../../sdk/grpc/errors";
import { Subscriber, uniqueTopic, waitLive } from "../acceptance/pubsub.suite";
import { Code } from "../../sdk/grpc/errors";
import { sample, scrape } from "../helpers/metrics";
import { rssOf } from "../kafka/proc_stats";
import { freePort, startNatsServer, type DedicatedNats } from "./server";
import { natsPattern, testConfig } from "./target";

const SERVICES = { ps: PubSubBasicInterface, st: StreamBasicInterface, life: LifecycleInterface };

/** The error a call fails with (a test failure when it succeeds). */
async function failureOf(call: () => Promise<unknown>): Promise<PrismError> {
  try {
    await call();
  } catch (err) {
    return PrismError.from(err);
  }
  throw new Error("the call succeeded");
}

describe("nats pattern started before its server", () => {
  let server: DedicatedNats;
  let t: Target;
  beforeAll(async () => {
    server = await startNatsServer({ port: await freePort(), started: false });
    t = await natsPattern(testConfig(server.url));
  });
  afterAll(async () => {
    try {
      await t?.close();
    } finally {
      await server?.close();
    }
  });

  test("serves UNAVAILABLE at once and reports UNHEALTHY, then recovers by itself when the server appears", async () => {
    const c = connect(t, SERVICES);
    try {
      // Refused by the connection check ("unreachable"), not after waiting for a confirmation that cannot come.
      for (const call of [() => c.ps.publish({ topic: "t", payload: utf8("x") }), () => c.st.append({ stream: "s", payload: utf8("x") })]) {
        const err = await failureOf(call);
        expect(err.code).toBe(Code.UNAVAILABLE);
        expect(err.message).toContain("unreachable");
      }
      const h = await c.life.healthCheck({});
      expect(h.status).toBe(HealthStatus.UNHEALTHY);
      expect(h.message).toContain("nats");
      await server.start();
      await eventually(async () => (await codeOf(() => c.ps.publish({ topic: "t", payload: utf8("x") }))) === Code.OK, "publish works", 15_000);
      expect((await c.life.healthCheck({})).status).toBe(HealthStatus.HEALTHY);
    } finally {
      c.close();
    }
  }, 30_000);
});

describe("nats pattern on a shared server", () => {
  let server: DedicatedNats;
  let a: Target;
  let b: Target & { pid: number };
  let bMetrics: number;
  beforeAll(async () => {
    server = await startNatsServer();
    a = await natsPattern(testConfig(server.url, "team-a"));
    bMetrics = await freePort();
    b = await natsPattern({ ...testConfig(server.url, "team-b"), subscriber_buffer: 100 }, undefined, ["--metrics-port", String(bMetrics)]);
  });
  afterAll(async () => {
    try {
      await a?.close();
    } finally {
      try {
        await b?.close();
      } finally {
        await server?.close();
      }
    }
  });

  test("namespaces sharing a server never see each other's messages or streams", async () => {
    const ca = connect(a, SERVICES);
    const cb = connect(b, SERVICES);
    const topic = uniqueTopic("iso");
    const sa = new Subscriber(ca, topic, "s");
    const sb = new Subscriber(cb, topic, "s");
    try {
      await waitLive(ca, topic, [sa], 10_000);
      await waitLive(cb, topic, [sb], 10_000);
      await ca.ps.publish({ topic, payload: utf8("for a") });
      await cb.ps.publish({ topic, payload: utf8("for b") });
      await sa.until(() => sa.messages.length >= 1, "a gets its message");
      await sb.until(() => sb.messages.length >= 1, "b gets its message");
      expect(sa.texts()).toEqual(["for a"]);
      expect(sb.texts()).toEqual(["for b"]);
      await ca.st.append({ stream: topic, payload: utf8("a's record") });
      expect(await Array.fromAsync(cb.st.read({ stream: topic, partition: 0, fromOffset: 0n }))).toEqual([]);
    } finally {
      sa.cancel();
      sb.cancel();
      ca.close();
      cb.close();
    }
  }, 30_000);

  test("a Read without follow ends at the stream's last record when it arrived, while another client keeps appending", async () => {
    const c = connect(a, SERVICES);
    const stream = uniqueTopic("snapshot");
    const preloaded = 50;
    let appending = true;
    let lastAcked = 0n;
    const appender = (async () => {
      // One append in flight: the server's last sequence is never more than one past lastAcked.
      for (let i = 0; appending && i < 100_000; i++) lastAcked = (await c.st.append({ stream, payload: utf8(`late ${i}`) })).offset;
    })();
    try {
      for (let i = 0; i < preloaded; i++) await c.st.append({ stream, payload: utf8(`r${i}`) });
      await eventually(async () => lastAcked > 0n, "the appender is running");
      const before = lastAcked;
      const offsets: bigint[] = [];
      let boundAtFirstRecord = 0n;
      const t0 = Date.now();
      // The reader is slower than the appender, so the stream never runs dry while the read goes on.
      for await (const r of c.st.read({ stream, partition: 0, fromOffset: 1n }, { timeoutMs: 20_000 })) {
        if (offsets.length === 0) boundAtFirstRecord = lastAcked + 1n;
        offsets.push(r.offset);
        await Bun.sleep(20);
      }
      const elapsed = Date.now() - t0;
      expect(offsets.length).toBeGreaterThanOrEqual(preloaded);
      expect(offsets).toEqual(offsets.map((_, i) => BigInt(i + 1)));
      expect(offsets.at(-1)!).toBeGreaterThanOrEqual(before);
      expect(offsets.at(-1)!).toBeLessThanOrEqual(boundAtFirstRecord);
      expect(lastAcked).toBeGreaterThan(offsets.at(-1)!);
      expect(elapsed).toBeLessThan(15_000);
    } finally {
      appending = false;
      await appender.catch(() => undefined);
      c.close();
    }
  }, 60_000);

  test("a subscriber that stops reading costs a bounded buffer: the oldest messages are dropped and counted (health, /metrics), the newest delivered", async () => {
    const c = connect(b, SERVICES);
    const topic = uniqueTopic("slow");
    const abort = new AbortController();
    const it = c.ps.subscribe({ topic, subscriberId: "slow" }, { signal: abort.signal, timeoutMs: 0 })[Symbol.asyncIterator]();
    try {
      // Live once the first probe arrives; after that the client reads nothing until every message is sent.
      const first = it.next();
      let live = false;
      void first.then(() => (live = true));
      for (let i = 0; !live && i < 100; i++) {
        await c.ps.publish({ topic, payload: utf8("probe") });
        await Bun.sleep(50);
      }
      await first;
      const dropMetric = { driver: "nats", topic };
      expect(sample(await scrape(bMetrics), "prism_subscriber_dropped_messages_total", dropMetric)).toBeUndefined();
      const rssBefore = await rssOf(b.pid);
      const n = 5_000;
      const payload = new Uint8Array(4096);
      for (let i = 0; i < n; i += 50) await Promise.all(Array.from({ length: 50 }, () => c.ps.publish({ topic, payload })));
      await c.ps.publish({ topic, payload: utf8("newest") });
      const h = (await c.life.healthCheck({})).details;
      const rssAfter = await rssOf(b.pid);
      const dropped = Number(h.dropped_messages_total);
      const metrics = await scrape(bMetrics);
      console.log(
        `nats slow subscriber: published ${n} x 4 KiB (${(n * 4096) / 2 ** 20} MiB) to a stalled stream; buffered ${h.buffered_messages}/${h.subscriber_buffer}, dropped ${dropped}, pattern RSS ${(rssBefore / 2 ** 20).toFixed(0)} -> ${(rssAfter / 2 ** 20).toFixed(0)} MiB`,
      );
      expect(Number(h.buffered_messages)).toBeLessThanOrEqual(100);
      expect(dropped).toBeGreaterThan(n / 2);
      // Scraped after the health check: the counter has at least what health said, all of it on this topic.
      expect(sample(metrics, "prism_subscriber_dropped_messages_total", dropMetric)).toBeGreaterThanOrEqual(dropped);
      expect(sample(metrics, "prism_subscriber_dropped_messages_total", { driver: "nats", topic: "" })).toBe(0);
      const buffered = sample(metrics, "prism_subscriber_buffered_messages", { driver: "nats" });
      expect(buffered).toBeGreaterThan(0);
      expect(buffered).toBeLessThanOrEqual(100);
      expect(sample(metrics, "backend_driver_connections_active", { driver: "nats" })).toBe(1);
      // Reading again: the newest message is among what is left.
      let got = 0;
      for (;;) {
        const r = await it.next();
        if (r.done) throw new Error("stream ended");
        got++;
        if (text(r.value.payload) === "newest") break;
      }
      expect(got).toBeLessThan(n - dropped + 10);
    } finally {
      abort.abort();
      await it.return?.();
      c.close();
    }
  }, 60_000);
});

describe("nats stream read across a server restart", () => {
  let server: DedicatedNats;
  let t: Target;
  beforeAll(async () => {
    server = await startNatsServer();
    t = await natsPattern(testConfig(server.url));
  });
  afterAll(async () => {
    try {
      await t?.close();
    } finally {
      await server?.close();
    }
  });

  test("a publish that failed while the server was going down is never delivered once it is back (a retry makes no duplicate)", async () => {
    const c = connect(t, SERVICES);
    const topic = uniqueTopic("nodup");
    const sub = new Subscriber(c, topic, "s");
    const failed = new Set<string>();
    let n = 0;
    const publish = async () => {
      const id = `m${n++}`;
      if ((await codeOf(() => c.ps.publish({ topic, payload: utf8(id) }))) !== Code.OK) failed.add(id);
    };
    try {
      await waitLive(c, topic, [sub], 10_000);
      // Publishes in flight as the server dies, including ones made before the pattern has noticed.
      let going = true;
      const publisher = (async () => {
        while (going) await Promise.all([publish(), publish(), publish(), Bun.sleep(2)]);
      })();
      await Bun.sleep(50);
      await server.stop();
      await Bun.sleep(300);
      going = false;
      await publisher;
      // What came before the restart came on the old connection: a publish the server took in just before it died
      // can fail (its PONG lost) and still have reached the subscriber — the window nats/README names. After the
      // restart, nothing that failed may come.
      const beforeRestart = sub.texts().length;
      await server.start();
      await eventually(async () => (await publish(), n > 0 && !failed.has(`m${n - 1}`)), "publish works again", 15_000);
      await c.ps.publish({ topic, payload: utf8("last") });
      // Anything nats.js had kept from the outage goes out on the new connection before this one.
      await sub.until(() => sub.texts().includes("last"), "the last message arrives");
      expect(failed.size).toBeGreaterThan(0);
      const afterRestart = sub.texts().slice(beforeRestart);
      expect(afterRestart.filter((m) => failed.has(m))).toEqual([]);
    } finally {
      sub.cancel();
      c.close();
    }
  }, 60_000);

  test("a following Read ends with UNAVAILABLE naming the offset to resume from, and resuming there loses nothing", async () => {
    const c = connect(t, SERVICES);
    const stream = uniqueTopic("resume");
    const abort = new AbortController();
    try {
      const first = await c.st.append({ stream, payload: utf8("r1") });
      const got: string[] = [];
      let failure: unknown;
      const reading = (async () => {
        try {
          for await (const r of c.st.read({ stream, partition: 0, fromOffset: first.offset, follow: true }, { signal: abort.signal, timeoutMs: 0 }))
            got.push(text(r.payload));
        } catch (err) {
          failure = err;
        }
      })();
      await eventually(async () => got.length === 1, "the first record is read");
      await server.stop();
      await Promise.race([reading, Bun.sleep(10_000)]);
      expect((failure as { code?: number })?.code).toBe(Code.UNAVAILABLE);
      const offset = BigInt(/resume from offset (\d+)/.exec(String((failure as Error).message))![1]!);
      expect(offset).toBe(first.offset + 1n);
      await server.start();
      await eventually(async () => (await codeOf(() => c.st.append({ stream, payload: utf8("r2") }))) === Code.OK, "append works again", 15_000);
      const rest = await Array.fromAsync(c.st.read({ stream, partition: 0, fromOffset: offset }));
      expect(rest.map((r) => text(r.payload))).toEqual(["r2"]);
    } finally {
      abort.abort();
      c.close();
    }
  }, 60_000);
});

describe("nats stream read while its server hangs", () => {
  let server: DedicatedNats;
  let t: Target;
  beforeAll(async () => {
    server = await startNatsServer();
    // Requests wait up to 5 s, and no ping declares the connection stale meanwhile: a hang, not a lost connection.
    t = await natsPattern({ namespace: "acceptance", url: server.url, request_timeout: "5s", ping_interval: "30s" });
  });
  afterAll(async () => {
    try {
      server?.resume();
      await t?.close();
    } finally {
      await server?.close();
    }
  });

  /** Appends `total` records whose payloads start with their number (1 KB each, 50 at a time). */
  async function preload(c: ReturnType<typeof connect<typeof SERVICES>>, stream: string, total: number): Promise<void> {
    const filler = "x".repeat(1_000);
    for (let i = 0; i < total; i += 50)
      await Promise.all(Array.from({ length: Math.min(50, total - i) }, (_, j) => c.st.append({ stream, payload: utf8(`${i + j} ${filler}`) })));
  }
  const numberOf = (r: { payload: Uint8Array }) => Number(text(r.payload).split(" ")[0]);
  const everyOnce = (got: number[], total: number) => expect([...new Set(got)].sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i));

  // More than one fetch's worth (nats/streams.ts asks for at most MAX_BATCH records, fewer by size): the read fetches
  // again after the first batch, while the server is stopped, and that fetch's 2 s expiry passes with nothing.
  const total = 1_500;

  test("a Read without follow does not end early when a fetch comes back empty during a hang: the rest still comes", async () => {
    const c = connect(t, SERVICES);
    const stream = uniqueTopic("hung");
    try {
      await preload(c, stream, total);
      const got: number[] = [];
      let resumed = false;
      for await (const r of c.st.read({ stream, partition: 0, fromOffset: 1n }, { timeoutMs: 60_000 })) {
        if (got.length === 0) {
          server.pause();
          setTimeout(() => {
            resumed = true;
            server.resume();
          }, 3_500);
        }
        got.push(numberOf(r));
      }
      // Before the fix the read ended at the empty fetch: 1,000 records, the server still stopped.
      expect({ records: got.length, resumed }).toEqual({ records: total, resumed: true });
      everyOnce(got, total);
    } finally {
      server.resume();
      c.close();
    }
  }, 60_000);

  test("a hang longer than the read waits for is UNAVAILABLE naming the offset to resume from, not an early end", async () => {
    const c = connect(t, SERVICES);
    const stream = uniqueTopic("hung-long");
    try {
      await preload(c, stream, total);
      const got: number[] = [];
      let failure: unknown;
      try {
        for await (const r of c.st.read({ stream, partition: 0, fromOffset: 1n }, { timeoutMs: 60_000 })) {
          if (got.length === 0) server.pause();
          got.push(numberOf(r));
        }
      } catch (err) {
        failure = err;
      }
      server.resume();
      expect((failure as { code?: number })?.code).toBe(Code.UNAVAILABLE);
      const offset = BigInt(/resume from offset (\d+)/.exec(String((failure as Error).message))![1]!);
      expect(offset).toBe(BigInt(got.length + 1));
      // The pattern may have given up on the hung connection and be reconnecting: resume once it serves again.
      await eventually(
        async () => (await codeOf(() => c.st.append({ stream: uniqueTopic("probe"), payload: utf8("x") }))) === Code.OK,
        "the pattern serves again",
        20_000,
      );
      for await (const r of c.st.read({ stream, partition: 0, fromOffset: offset }, { timeoutMs: 30_000 })) got.push(numberOf(r));
      expect(got.length).toBe(total);
      everyOnce(got, total);
    } finally {
      server.resume();
      c.close();
    }
  }, 60_000);
});
