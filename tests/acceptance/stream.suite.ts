/**
 * The stream acceptance suite: the behaviour every StreamBasicInterface backend must show over gRPC.
 * Run it from a one-line test file: `runStreamSuite("kafka", kafkaTarget, { outage: kafkaOutageTarget })`.
 * Every test uses streams of its own and only the offsets and partitions Append returned (offsets need
 * not start at 0, nor partitions be 0); records appended with one key share a partition.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes, randomUUID } from "node:crypto";
import { HealthStatus, LifecycleInterface } from "../../proto/gen/prism/interfaces/lifecycle_pb";
import { StreamBasicInterface, type StreamRecord } from "../../proto/gen/prism/interfaces/stream/stream_basic_pb";
import { Code, PrismError } from "../../sdk/grpc/errors";
import type { OutageTarget } from "./pubsub.suite";
import { codeOf, connect, eventually, text, utf8, type Target } from "./target";

/** What differs between stream backends. */
export interface StreamCapabilities {
  /** A target of its own whose backend the test stops and restarts; absent when the backend is in-process. */
  outage?: () => Promise<OutageTarget>;
}

const SERVICES = { st: StreamBasicInterface, life: LifecycleInterface };
type Clients = ReturnType<typeof connect<typeof SERVICES>>;

const uniqueStream = (label: string) => `acc-${label}-${randomUUID().slice(0, 8)}`;

/** Appends payloads under one key; returns what Append answered. */
async function appendAll(c: Clients, stream: string, payloads: string[], key = "k") {
  const out = [];
  for (const p of payloads) {
    const r = await c.st.append({ stream, payload: utf8(p), key, metadata: { n: p } });
    expect(r.success).toBe(true);
    out.push(r);
  }
  return out;
}

/** Reads a non-following Read to its end. */
async function readAll(c: Clients, req: Parameters<Clients["st"]["read"]>[0]): Promise<StreamRecord[]> {
  return Array.fromAsync(c.st.read(req));
}

/** Registers the stream acceptance tests against the target the factory starts (once, for all tests). */
export function runStreamSuite(name: string, target: () => Promise<Target>, caps: StreamCapabilities = {}): void {
  describe(`stream acceptance: ${name}`, () => {
    let t: Target;
    let c: Clients;
    beforeAll(async () => {
      t = await target();
      c = connect(t, SERVICES);
    }, 120_000);
    afterAll(async () => {
      c?.close();
      await t?.close();
    }, 60_000);

    test("append returns increasing offsets; read from the first returns every record in order", async () => {
      const stream = uniqueStream("append");
      const sent = ["r0", "r1", "r2", "r3", "r4"];
      const acks = await appendAll(c, stream, sent);
      const partition = acks[0]!.partition;
      for (const [i, a] of acks.entries()) {
        expect(a.partition).toBe(partition);
        if (i > 0) expect(a.offset).toBeGreaterThan(acks[i - 1]!.offset);
      }
      const records = await readAll(c, { stream, partition, fromOffset: acks[0]!.offset });
      expect(records.map((r) => text(r.payload))).toEqual(sent);
      expect(records.map((r) => r.offset)).toEqual(acks.map((a) => a.offset));
      for (const r of records) {
        expect(r.stream).toBe(stream);
        expect(r.partition).toBe(partition);
        expect(r.key).toBe("k");
        expect(r.metadata).toEqual({ n: text(r.payload) });
        expect(Number(r.timestamp)).toBeGreaterThan(Date.now() - 60_000);
      }
    }, 30_000);

    test("read from a middle offset with max_records returns that window", async () => {
      const stream = uniqueStream("window");
      const acks = await appendAll(c, stream, ["a", "b", "c", "d", "e", "f"]);
      const records = await readAll(c, { stream, partition: acks[0]!.partition, fromOffset: acks[2]!.offset, maxRecords: 3 });
      expect(records.map((r) => text(r.payload))).toEqual(["c", "d", "e"]);
    }, 30_000);

    test("read without follow ends at the end; from past the end it returns nothing", async () => {
      const stream = uniqueStream("end");
      const acks = await appendAll(c, stream, ["x", "y"]);
      const partition = acks[0]!.partition;
      const past = await Promise.race([readAll(c, { stream, partition, fromOffset: acks[1]!.offset + 1n }), Bun.sleep(15_000).then(() => "hung")]);
      expect(past).toEqual([]);
      const all = await readAll(c, { stream, partition, fromOffset: acks[0]!.offset });
      expect(all.map((r) => text(r.payload))).toEqual(["x", "y"]);
    }, 30_000);

    test("read with follow delivers records appended later", async () => {
      const stream = uniqueStream("follow");
      const [first] = await appendAll(c, stream, ["before"]);
      const abort = new AbortController();
      const got: string[] = [];
      const reading = (async () => {
        try {
          for await (const r of c.st.read(
            { stream, partition: first!.partition, fromOffset: first!.offset, follow: true },
            { signal: abort.signal, timeoutMs: 0 },
          )) {
            got.push(text(r.payload));
          }
        } catch (err) {
          if (PrismError.from(err).code !== Code.CANCELLED) throw err;
        }
      })();
      await eventually(async () => got.length >= 1, "the existing record is read", 20_000);
      await appendAll(c, stream, ["later1", "later2"]);
      await eventually(async () => got.length >= 3, "appended records are delivered", 20_000);
      abort.abort();
      await reading;
      expect(got).toEqual(["before", "later1", "later2"]);
    }, 60_000);

    test("read from a timestamp starts at the first record at or after it", async () => {
      const stream = uniqueStream("time");
      const early = await appendAll(c, stream, ["e1", "e2"]);
      // Wait (briefly, polling the clock) so the later records are stamped strictly after `from`.
      const from = Math.max(Number(early[1]!.timestamp), Date.now()) + 1;
      while (Date.now() <= from + 2) await Bun.sleep(1);
      await appendAll(c, stream, ["l1", "l2"]);
      const records = await readAll(c, { stream, partition: early[0]!.partition, fromTimestamp: BigInt(from) });
      expect(records.map((r) => text(r.payload))).toEqual(["l1", "l2"]);
    }, 30_000);

    test("trim deletes records before an offset and reports the new low offset", async () => {
      const stream = uniqueStream("trim");
      const acks = await appendAll(c, stream, ["t0", "t1", "t2", "t3", "t4", "t5"]);
      const partition = acks[0]!.partition;
      const r = await c.st.trim({ stream, partition, beforeOffset: acks[3]!.offset });
      expect(r.success).toBe(true);
      expect(r.lowOffset).toBe(acks[3]!.offset);
      const left = await readAll(c, { stream, partition, fromOffset: acks[0]!.offset });
      expect(left.map((x) => text(x.payload))).toEqual(["t3", "t4", "t5"]);
    }, 30_000);

    test("a 1 MiB record round-trips", async () => {
      const stream = uniqueStream("large");
      const payload = new Uint8Array(randomBytes(1 << 20));
      const a = await c.st.append({ stream, payload, key: "big" });
      const [r] = await readAll(c, { stream, partition: a.partition, fromOffset: a.offset, maxRecords: 1 });
      expect(Buffer.from(r!.payload).equals(Buffer.from(payload))).toBe(true);
    }, 30_000);

    test("bad requests are INVALID_ARGUMENT", async () => {
      expect(await codeOf(() => c.st.append({ stream: "", payload: utf8("x") }))).toBe(Code.INVALID_ARGUMENT);
      expect(await codeOf(() => c.st.read({ stream: uniqueStream("bad"), partition: 0, maxRecords: -1 }))).toBe(Code.INVALID_ARGUMENT);
    });

    if (caps.outage) {
      describe("backend outage", () => {
        let o: OutageTarget;
        let oc: Clients;
        beforeAll(async () => {
          o = await caps.outage!();
          oc = connect(o.target, SERVICES);
        }, 120_000);
        afterAll(async () => {
          oc?.close();
          await o?.target.close();
        }, 60_000);

        test("append is UNAVAILABLE promptly while the backend is down; appends and reads work again once it is back", async () => {
          const stream = uniqueStream("outage");
          const before = await appendAll(oc, stream, ["kept"]);
          await o.stopBackend();
          const t0 = Date.now();
          await eventually(
            async () => (await codeOf(() => oc.st.append({ stream, payload: utf8("lost?"), key: "k" }, { timeoutMs: 10_000 }))) === Code.UNAVAILABLE,
            "append is UNAVAILABLE",
            10_000,
          );
          expect(Date.now() - t0).toBeLessThan(10_000);
          await eventually(async () => (await oc.life.healthCheck({})).status === HealthStatus.UNHEALTHY, "health is UNHEALTHY", 10_000);
          await o.startBackend();
          await eventually(
            async () => (await codeOf(() => oc.st.append({ stream, payload: utf8("after"), key: "k" }))) === Code.OK,
            "append works again",
            60_000,
            250,
          );
          const records = await readAll(oc, { stream, partition: before[0]!.partition, fromOffset: before[0]!.offset });
          expect(records[0] && text(records[0].payload)).toBe("kept");
          expect(records.map((r) => text(r.payload))).toContain("after");
        }, 180_000);
      });
    }
  });
}
