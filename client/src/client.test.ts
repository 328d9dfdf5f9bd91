/**
 * The client's call policy against a scripted in-process server (grpc-js): retries only where safe, the
 * idempotency key it adds, deadlines, fail-over, local refusals, emulation events, resubscription, back-pressure
 * and cancellation. The same client against real patterns: tests/client/.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  BatchPerformance,
  CapabilitiesSchema,
  ExpirationPerformance,
  KeyValuePattern,
  ScanPerformance,
} from "../../proto/gen/prism/patterns/keyvalue/keyvalue_pattern_pb";
import { MulticastRegistryPattern, CapabilitiesSchema as McCaps } from "../../proto/gen/prism/patterns/multicast_registry/multicast_registry_pattern_pb";
import { serviceDefinition } from "../../sdk/grpc/definition";
import { waitFor } from "../../tests/helpers/wait";
import { Code, connect, type ClientEvent, PrismClientError } from "./index";

type Handler = (call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>, cb?: grpc.sendUnaryData<unknown>) => void;

/** A server whose handlers each test replaces; every call is recorded with its metadata. */
class Scripted {
  server = new grpc.Server();
  address = "";
  calls: { method: string; key?: string; req: unknown }[] = [];
  handlers: Record<string, Handler> = {};
  caps = create(CapabilitiesSchema, {
    scanPerformance: ScanPerformance.SCAN_EMULATED,
    batchPerformance: BatchPerformance.BATCH_UNAVAILABLE,
    expirationPerformance: ExpirationPerformance.EXPIRATION_NATIVE,
    supportsScan: true,
    supportsExpiration: true,
    slots: { primaryBackendType: "scripted" },
  });

  async start(): Promise<void> {
    const impl = (service: typeof KeyValuePattern | typeof MulticastRegistryPattern) =>
      Object.fromEntries(
        service.methods.map((m) => [
          m.localName,
          (call: grpc.ServerUnaryCall<unknown, unknown>, cb?: grpc.sendUnaryData<unknown>) => {
            this.calls.push({ method: m.localName, key: call.metadata.get("x-prism-idempotency-key")[0] as string | undefined, req: call.request });
            const h = this.handlers[m.localName];
            if (h) return h(call, cb);
            if (m.localName === "getCapabilities")
              return cb!(null, service === KeyValuePattern ? this.caps : create(McCaps, { supportsStreaming: true, supportsFiltering: true }));
            cb!(null, {});
          },
        ]),
      );
    this.server.addService(serviceDefinition(KeyValuePattern), impl(KeyValuePattern));
    this.server.addService(serviceDefinition(MulticastRegistryPattern), impl(MulticastRegistryPattern));
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.address = `127.0.0.1:${port}`;
  }
  count(method: string): number {
    return this.calls.filter((c) => c.method === method).length;
  }
}

const unavailable = { code: grpc.status.UNAVAILABLE, details: "backend down: nothing applied" };
const fast = { initialBackoffMs: 1, maxBackoffMs: 5 };

let s: Scripted;
beforeAll(async () => {
  s = new Scripted();
  await s.start();
});
afterAll(() => s.server.forceShutdown());
afterEach(() => {
  s.calls = [];
  s.handlers = {};
});

/** A handler that fails the first n calls with `err`, then answers `reply`. */
function failing(n: number, err: Partial<grpc.StatusObject>, reply: unknown = {}): Handler {
  let left = n;
  return (_call, cb) => (left-- > 0 ? cb!(err as grpc.ServiceError, null) : cb!(null, reply));
}

describe("connect", () => {
  test("fetches capabilities of every pattern the namespace serves; one it does not serve throws not_served when used", async () => {
    const c = await connect({ address: s.address, retry: fast });
    try {
      expect(Object.keys(c.capabilities).sort()).toEqual(["keyValue", "multicast"]);
      expect(c.keyValue.capabilities.slots?.primaryBackendType).toBe("scripted");
      expect(c.keyValue.backend).toBe("scripted");
    } finally {
      c.close();
    }
    s.handlers.getCapabilities = (_call, cb) => cb!({ code: grpc.status.UNIMPLEMENTED, details: "no such service" } as grpc.ServiceError, null);
    const d = await connect({ address: s.address, retry: fast });
    try {
      expect(d.capabilities).toEqual({});
      const e = (() => {
        try {
          return d.keyValue;
        } catch (err) {
          return err as PrismClientError;
        }
      })() as PrismClientError;
      expect([e.code, e.reason]).toEqual([Code.UNIMPLEMENTED, "not_served"]);
      expect(e.message).toContain("KeyValuePattern not served by namespace default");
    } finally {
      d.close();
    }
  });

  test("an unknown namespace rejects connect with NOT_FOUND, reason namespace_not_found", async () => {
    s.handlers.getCapabilities = (_call, cb) => cb!({ code: grpc.status.NOT_FOUND, details: 'unknown namespace "nope"' } as grpc.ServiceError, null);
    const err = await connect({ address: s.address, namespace: "nope" }).catch((e) => e);
    expect(err).toBeInstanceOf(PrismClientError);
    expect([err.code, err.reason]).toEqual([Code.NOT_FOUND, "namespace_not_found"]);
  });
});

describe("capabilities before calling", () => {
  test("an unavailable operation fails locally, naming the backend; an emulated one is counted and reported", async () => {
    const events: ClientEvent[] = [];
    const c = await connect({ address: s.address, onEvent: (e) => events.push(e) });
    try {
      const err = await c.keyValue.storeBatch({ requests: [{ key: "a", value: new Uint8Array() }] }).catch((e) => e);
      expect([err.code, err.reason, err.backend]).toEqual([Code.UNIMPLEMENTED, "unsupported", "scripted"]);
      expect(err.message).toMatch(/^batch not supported by scripted: the namespace's capabilities say BATCH_UNAVAILABLE/);
      expect(s.count("storeBatch")).toBe(0);
      s.handlers.scan = (call) => {
        (call as grpc.ServerWritableStream<unknown, unknown>).write({ keys: ["k"] });
        (call as grpc.ServerWritableStream<unknown, unknown>).end();
      };
      expect(await Array.fromAsync(c.keyValue.entries(""))).toEqual([["k", undefined]]);
      await Array.fromAsync(c.keyValue.entries(""));
      expect(c.stats.emulated).toEqual({ "keyValue.scan": 2 });
      expect(events.filter((e) => e.kind === "emulated")).toHaveLength(2);
      expect(events[0]).toMatchObject({ kind: "emulated", pattern: "keyValue", operation: "scan", backend: "scripted" });
      // Tags where supports_tags is false: refused before calling.
      const tags = await c.keyValue.store({ key: "t", value: new Uint8Array(), tags: { tags: { a: "b" } } }).catch((e) => e);
      expect(tags.message).toMatch(/^tags not supported by scripted: /);
      expect(s.count("store")).toBe(0);
    } finally {
      c.close();
    }
  });
});

describe("retries", () => {
  test("a write is sent again after UNAVAILABLE with the same idempotency key the client added", async () => {
    s.handlers.store = failing(2, unavailable, { success: true, version: "v" });
    const events: ClientEvent[] = [];
    const c = await connect({ address: s.address, retry: fast, onEvent: (e) => events.push(e) });
    try {
      expect(await c.keyValue.set("k", "v")).toBe("v");
      const keys = s.calls.filter((x) => x.method === "store").map((x) => x.key);
      expect(keys).toHaveLength(3);
      expect(new Set(keys).size).toBe(1);
      expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
      expect(events.filter((e) => e.kind === "retry")).toHaveLength(2);
      // A second write gets a key of its own.
      s.handlers.store = failing(0, unavailable, { success: true });
      await c.keyValue.set("k", "w");
      expect(s.calls.at(-1)!.key).not.toBe(keys[0]);
    } finally {
      c.close();
    }
  });

  test("a write whose outcome is unknown is retried with its key; without keys it is sent once and the error says so", async () => {
    const lost = { code: grpc.status.UNKNOWN, details: "redis: the write was sent and its outcome is unknown (it may have been applied)" };
    s.handlers.delete = failing(1, lost, { success: true, found: true });
    const c = await connect({ address: s.address, retry: fast });
    try {
      expect(await c.keyValue.del("k")).toBe(true);
      expect(s.count("delete")).toBe(2);
    } finally {
      c.close();
    }
    s.calls = [];
    s.handlers.delete = failing(1, lost, { success: true, found: true });
    s.handlers.store = failing(1, { code: grpc.status.UNAVAILABLE, details: "Connection dropped" });
    const plain = await connect({ address: s.address, retry: fast, idempotencyKeys: false });
    try {
      const err = await plain.keyValue.del("k").catch((e) => e);
      expect([err.code, err.reason]).toEqual([Code.UNKNOWN, "outcome_unknown"]);
      expect(s.calls.filter((x) => x.method === "delete").map((x) => x.key)).toEqual([undefined]);
      // UNAVAILABLE after the request may have left: a write without a key is not sent again either.
      expect((await plain.keyValue.set("k", "v").catch((e) => e)).code).toBe(Code.UNAVAILABLE);
      expect(s.count("store")).toBe(1);
    } finally {
      plain.close();
    }
  });

  test("reads are retried; a refusal (INVALID_ARGUMENT) is not; attempts are bounded", async () => {
    s.handlers.retrieve = failing(1, unavailable, { found: true, value: new TextEncoder().encode("x") });
    const c = await connect({ address: s.address, retry: { ...fast, attempts: 3 } });
    try {
      expect(await c.keyValue.getText("k")).toBe("x");
      expect(s.count("retrieve")).toBe(2);
      s.handlers.exists = failing(5, { code: grpc.status.INVALID_ARGUMENT, details: "empty key" });
      expect((await c.keyValue.exists({ key: "" }).catch((e) => e)).code).toBe(Code.INVALID_ARGUMENT);
      expect(s.count("exists")).toBe(1);
      s.handlers.retrieve = failing(10, unavailable);
      expect((await c.keyValue.get("k").catch((e) => e)).code).toBe(Code.UNAVAILABLE);
      expect(s.count("retrieve")).toBe(2 + 3);
    } finally {
      c.close();
    }
  });

  test("an OK reply with success=false is a failure (contract §5)", async () => {
    s.handlers.store = (_call, cb) => cb!(null, { success: false, error: "disk full" });
    const c = await connect({ address: s.address, retry: { attempts: 1 } });
    try {
      const err = await c.keyValue.set("k", "v").catch((e) => e);
      expect(err.code).toBe(Code.UNKNOWN);
      expect(err.message).toContain("disk full");
    } finally {
      c.close();
    }
  });

  test("every call has a deadline: a server that never answers ends in DEADLINE_EXCEEDED", async () => {
    s.handlers.retrieve = () => {};
    const c = await connect({ address: s.address, deadline: 300 });
    try {
      const t0 = performance.now();
      const err = await c.keyValue.get("k").catch((e) => e);
      expect([err.code, err.reason]).toEqual([Code.DEADLINE_EXCEEDED, "deadline"]);
      expect(performance.now() - t0).toBeLessThan(10_000);
    } finally {
      c.close();
    }
  });
});

describe("several addresses", () => {
  test("calls are spread round-robin over live addresses", async () => {
    const other = new Scripted();
    await other.start();
    const c = await connect({ addresses: [s.address, other.address] });
    try {
      for (let i = 0; i < 10; i++) await c.keyValue.exists({ key: "k" });
      expect([s.count("exists"), other.count("exists")]).toEqual([5, 5]);
    } finally {
      c.close();
      other.server.forceShutdown();
    }
  });

  test("calls spread over the addresses; one that refuses connections is failed over, writes included", async () => {
    const dead = new grpc.Server();
    const port = await new Promise<number>((r) => dead.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (_e, p) => r(p)));
    dead.forceShutdown();
    const events: ClientEvent[] = [];
    s.handlers.store = (_call, cb) => cb!(null, { success: true });
    const c = await connect({ addresses: [`127.0.0.1:${port}`, s.address], retry: fast, onEvent: (e) => events.push(e) });
    try {
      for (let i = 0; i < 6; i++) await c.keyValue.set(`k${i}`, "v", {});
      expect(s.count("store")).toBe(6);
      expect(c.stats.failovers).toBeGreaterThan(0);
      expect(events.some((e) => e.kind === "failover" && e.to === s.address)).toBe(true);
    } finally {
      c.close();
    }
  });
});

describe("streams", () => {
  test("a subscription is re-opened after a failure and ends on abort with CANCELLED", async () => {
    let opened = 0;
    s.handlers.subscribe = (call) => {
      const w = call as grpc.ServerWritableStream<unknown, unknown>;
      opened++;
      w.write({ messageId: `m${opened}`, payload: new Uint8Array([opened]) });
      if (opened === 1) setTimeout(() => w.emit("error", { code: grpc.status.UNAVAILABLE, details: "pattern restarting" }), 10);
    };
    const events: ClientEvent[] = [];
    const c = await connect({ address: s.address, retry: fast, onEvent: (e) => events.push(e) });
    const ac = new AbortController();
    const got: string[] = [];
    try {
      const err = await (async () => {
        for await (const m of c.multicast.subscribe("me", { signal: ac.signal })) {
          got.push(m.messageId);
          if (got.length === 2) ac.abort();
        }
      })().catch((e) => e);
      expect(got).toEqual(["m1", "m2"]);
      expect(err?.code).toBe(Code.CANCELLED);
      expect(events.filter((e) => e.kind === "resubscribe")).toHaveLength(1);
    } finally {
      c.close();
    }
  });

  test("a scan broken after a page resumes from that page's cursor; a broken subscription-free stream is not resent after items without one", async () => {
    const cursors: string[] = [];
    s.handlers.scan = (call) => {
      const w = call as grpc.ServerWritableStream<{ cursor: string }, unknown>;
      cursors.push(w.request.cursor);
      if (w.request.cursor === "") {
        w.write({ keys: ["a"], hasMore: true, nextCursor: "after-a" });
        setTimeout(() => w.emit("error", { code: grpc.status.UNAVAILABLE, details: "pattern restarting" }), 10);
      } else {
        w.write({ keys: ["b"], hasMore: false });
        w.end();
      }
    };
    const c = await connect({ address: s.address, retry: fast, onEvent: () => {} });
    try {
      expect((await Array.fromAsync(c.keyValue.entries(""))).map(([k]) => k)).toEqual(["a", "b"]);
      expect(cursors).toEqual(["", "after-a"]);
      // With a limit the server's count cannot be resumed: the failure is reported, not hidden.
      cursors.length = 0;
      const err = await Array.fromAsync(c.keyValue.scan({ prefix: "", limit: 5 })).catch((e) => e);
      expect([err.code, cursors]).toEqual([Code.UNAVAILABLE, [""]]);
    } finally {
      c.close();
    }
  });

  test("back-pressure: a consumer that stops reading stops the server's writes (write() returns false)", async () => {
    let written = 0;
    let blocked = false;
    s.handlers.subscribe = (call) => {
      const w = call as grpc.ServerWritableStream<unknown, unknown>;
      const payload = new Uint8Array(16 * 1024);
      const pump = () => {
        while (written < 20_000) {
          written++;
          if (!w.write({ messageId: String(written), payload })) {
            blocked = true;
            return;
          }
        }
      };
      pump();
    };
    const c = await connect({ address: s.address });
    const ac = new AbortController();
    try {
      const it = c.multicast.subscribe("slow", { signal: ac.signal })[Symbol.asyncIterator]();
      expect((await it.next()).value?.messageId).toBe("1");
      await waitFor(() => blocked, "the server's write() returned false");
      // 20 000 × 16 KiB = 320 MiB were on offer; the server got far less out before being held back.
      expect(written).toBeLessThan(20_000);
      await it.return?.(undefined);
    } finally {
      ac.abort();
      c.close();
    }
  });

  test("an aborted signal cancels a unary call before it starts", async () => {
    const c = await connect({ address: s.address });
    try {
      const err = await c.keyValue.get("k", { signal: AbortSignal.abort() }).catch((e) => e);
      expect(err.code).toBe(Code.CANCELLED);
      expect(s.count("retrieve")).toBe(0);
    } finally {
      c.close();
    }
  });
});
