/**
 * The queue module's call policy against a scripted Producer/Consumer server: the idempotency key sent in the
 * header and in idempotency_key (the same on a retry, per message in a batch), local refusals of batches and
 * dead letters from capabilities, and ack/nack through a delivery.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { ConsumerCapabilitiesSchema, ConsumerPattern } from "../../proto/gen/prism/patterns/consumer/consumer_pattern_pb";
import { ProducerCapabilitiesSchema, ProducerPattern, Support } from "../../proto/gen/prism/patterns/producer/producer_pattern_pb";
import { serviceDefinition } from "../../sdk/grpc/definition";
import { Code, connect, type PrismClientError } from "./index";

type Handler = (call: grpc.ServerUnaryCall<unknown, unknown> & grpc.ServerWritableStream<unknown, unknown>, cb?: grpc.sendUnaryData<unknown>) => void;

const server = new grpc.Server();
let address = "";
let calls: { method: string; key?: string; req: Record<string, unknown> }[] = [];
let handlers: Record<string, Handler> = {};
let producerCaps = create(ProducerCapabilitiesSchema, { supportsBatch: false, batch: Support.UNAVAILABLE, slots: { queueBackendType: "scripted" } });
let consumerCaps = create(ConsumerCapabilitiesSchema, { deadLetter: Support.UNAVAILABLE, slots: { queueBackendType: "scripted" } });

beforeAll(async () => {
  for (const service of [ProducerPattern, ConsumerPattern])
    server.addService(
      serviceDefinition(service),
      Object.fromEntries(
        service.methods.map((m) => [
          m.localName,
          (call: Parameters<Handler>[0], cb?: grpc.sendUnaryData<unknown>) => {
            calls.push({
              method: m.localName,
              key: call.metadata.get("x-prism-idempotency-key")[0] as string | undefined,
              req: call.request as Record<string, unknown>,
            });
            const h = handlers[m.localName];
            if (h) return h(call, cb);
            cb!(null, m.localName !== "getCapabilities" ? {} : service === ProducerPattern ? producerCaps : consumerCaps);
          },
        ]),
      ),
    );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  address = `127.0.0.1:${port}`;
});
afterAll(() => server.forceShutdown());
afterEach(() => {
  calls = [];
  handlers = {};
});

const fast = { initialBackoffMs: 1, maxBackoffMs: 5 };
const only = (method: string) => calls.filter((c) => c.method === method);
async function rejection(p: Promise<unknown>): Promise<PrismClientError> {
  try {
    await p;
  } catch (err) {
    return err as PrismClientError;
  }
  throw new Error("expected a rejection");
}

describe("queue through the client", () => {
  test("publish carries one idempotency key in the header and the field, the same on a retry", async () => {
    const c = await connect({ address, retry: { attempts: 3, ...fast } });
    try {
      let left = 1;
      handlers.publish = (_call, cb) =>
        left-- > 0 ? cb!({ code: grpc.status.UNAVAILABLE, details: "down" } as grpc.ServiceError, null) : cb!(null, { messageId: "1" });
      expect((await c.queue.publish("t", { payload: "x", key: "k", headers: { h: "1" } })).messageId).toBe("1");
      const [a, b] = only("publish");
      expect(a!.key).toMatch(/^[0-9a-f-]{36}$/);
      expect([b!.key, a!.req.idempotencyKey, b!.req.idempotencyKey, a!.req.key]).toEqual([a!.key, a!.key, a!.key, "k"]);
    } finally {
      c.close();
    }
  });

  test("a batch and dead letters the capabilities call unavailable are refused before calling; emulated ones counted", async () => {
    const c = await connect({ address, retry: fast });
    try {
      let e = await rejection(c.queue.publishBatch("t", ["a", "b"]));
      expect([e.code, e.reason, e.message]).toEqual([
        Code.UNIMPLEMENTED,
        "unsupported",
        "publish batch not supported by scripted: the namespace's capabilities say supports_batch=false",
      ]);
      e = await rejection(c.queue.deadLetters("t", "g"));
      expect([e.reason, e.backend]).toEqual(["unsupported", "scripted"]);
      e = await rejection(c.queue.redrive("t", "g"));
      expect(e.reason).toBe("unsupported");
      expect(only("publishBatch").length + only("getDeadLetters").length + only("redrive").length).toBe(0);
    } finally {
      c.close();
    }
    const saved = [producerCaps, consumerCaps] as const;
    producerCaps = create(ProducerCapabilitiesSchema, { ...saved[0], supportsBatch: true, batch: Support.EMULATED });
    consumerCaps = create(ConsumerCapabilitiesSchema, { ...saved[1], deadLetter: Support.EMULATED });
    const d = await connect({ address, retry: fast, onEvent: () => {} });
    try {
      await d.queue.publishBatch("t", ["a", "b"], { metadata: { "x-prism-idempotency-key": "K" } });
      expect((only("publishBatch")[0]!.req.messages as { idempotencyKey: string }[]).map((m) => m.idempotencyKey)).toEqual(["K/0", "K/1"]);
      await d.queue.deadLetters("t", "g");
      expect(d.stats.emulated).toEqual({ "queue.publish batch": 1, "queue.dead letters": 1 });
    } finally {
      d.close();
      [producerCaps, consumerCaps] = saved;
    }
  });

  test("acks made while one is in flight go together in the next Ack; each learns whether its token was known", async () => {
    const c = await connect({ address, retry: fast });
    handlers.consume = (call) => {
      for (let i = 1; i <= 6; i++) call.write({ messageId: `m${i}`, ackToken: `tok${i}` });
    };
    // Each Ack is answered after 30 ms; tok4 is no longer known to the server.
    handlers.ack = (call, cb) => {
      const tokens = (call.request as { ackTokens: string[] }).ackTokens;
      const unknownTokens = tokens.filter((t) => t === "tok4");
      setTimeout(() => cb!(null, { acked: tokens.length - unknownTokens.length, unknownTokens }), 30);
    };
    const ac = new AbortController();
    try {
      const settled: Promise<boolean>[] = [];
      for await (const d of c.queue.consume("t", "g", { signal: ac.signal })) {
        // Settled concurrently: nothing awaited between the acks.
        settled.push(d.ack());
        if (settled.length === 6) break;
      }
      expect(await Promise.all(settled)).toEqual([true, true, true, false, true, true]);
      // The first at once, the five made meanwhile in one call.
      expect(only("ack").map((a) => a.req.ackTokens)).toEqual([["tok1"], ["tok2", "tok3", "tok4", "tok5", "tok6"]]);
      // Awaited one by one: one call each, as before.
      calls = [];
      const one = (await c.queue.consume("t", "g", { signal: ac.signal }).next()).value!;
      expect(await one.ack()).toBe(true);
      expect(only("ack").map((a) => a.req.ackTokens)).toEqual([["tok1"]]);
    } finally {
      ac.abort();
      c.close();
    }
  });

  test("a failed Ack fails every ack it carried, and the next ones still go", async () => {
    const c = await connect({ address, retry: { attempts: 1, ...fast } });
    handlers.consume = (call) => {
      for (let i = 1; i <= 3; i++) call.write({ messageId: `m${i}`, ackToken: `tok${i}` });
    };
    let n = 0;
    handlers.ack = (call, cb) => {
      const tokens = (call.request as { ackTokens: string[] }).ackTokens;
      // The first (tok1) and second (tok2, tok3) calls fail; later ones succeed.
      setTimeout(() => (n++ < 2 ? cb!({ code: grpc.status.INTERNAL, details: "boom" } as grpc.ServiceError, null) : cb!(null, { acked: tokens.length })), 20);
    };
    const ac = new AbortController();
    try {
      const settled: Promise<boolean>[] = [];
      for await (const d of c.queue.consume("t", "g", { signal: ac.signal })) {
        settled.push(d.ack());
        if (settled.length === 3) break;
      }
      const outcomes = await Promise.allSettled(settled);
      expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected", "rejected"]);
      expect(only("ack").map((a) => a.req.ackTokens)).toEqual([["tok1"], ["tok2", "tok3"]]);
      const again = (await c.queue.consume("t", "g", { signal: ac.signal }).next()).value!;
      expect(await again.ack()).toBe(true);
    } finally {
      ac.abort();
      c.close();
    }
  });

  test("a delivery's ack and nack name its topic, group and token", async () => {
    const c = await connect({ address, retry: fast });
    handlers.consume = (call) => {
      call.write({ messageId: "m1", ackToken: "tok1" });
      call.write({ messageId: "m2", ackToken: "tok2" });
    };
    handlers.ack = (_call, cb) => cb!(null, { acked: 1 });
    handlers.nack = (_call, cb) => cb!(null, { known: true });
    const ac = new AbortController();
    try {
      const seen: string[] = [];
      for await (const d of c.queue.consume("t", "g", { maxInFlight: 7, signal: ac.signal })) {
        seen.push(d.messageId);
        if (d.messageId === "m1") expect(await d.ack()).toBe(true);
        else {
          expect(await d.nack({ redeliverAfterMs: 50, error: "boom" })).toBe(true);
          break;
        }
      }
      expect(seen).toEqual(["m1", "m2"]);
      expect(only("consume")[0]!.req.maxInFlight).toBe(7);
      expect(only("ack")[0]!.req).toMatchObject({ topic: "t", group: "g", ackTokens: ["tok1"] });
      expect(only("nack")[0]!.req).toMatchObject({ topic: "t", group: "g", ackToken: "tok2", redeliverAfterMs: 50, error: "boom" });
    } finally {
      ac.abort();
      c.close();
    }
  });

  test("consume opens the stream again after a failure of the path, with the same request", async () => {
    const c = await connect({ address, retry: fast, onEvent: () => {} });
    let opened = 0;
    handlers.consume = (call) => {
      opened++;
      call.write({ messageId: `m${opened}`, ackToken: `tok${opened}` });
      if (opened === 1) setTimeout(() => call.emit("error", { code: grpc.status.UNAVAILABLE, details: "proxy restarting" }), 20);
    };
    const ac = new AbortController();
    try {
      const seen: string[] = [];
      for await (const d of c.queue.consume("t", "g", { consumerId: "w1", maxInFlight: 3, signal: ac.signal })) {
        seen.push(d.messageId);
        if (seen.length === 2) break;
      }
      expect(seen).toEqual(["m1", "m2"]);
      expect(only("consume").map((x) => [x.req.topic, x.req.group, x.req.consumerId, x.req.maxInFlight])).toEqual([
        ["t", "g", "w1", 3],
        ["t", "g", "w1", 3],
      ]);
      expect(c.stats.resubscriptions).toBe(1);
    } finally {
      ac.abort();
      c.close();
    }
  });
});
