/**
 * The Session Store module's call policy against a scripted SessionStorePattern server: the idempotency key on
 * create/update/delete (the same key on a retry), touch retried as idempotent, ABORTED as version_conflict with
 * the current version, NOT_FOUND as not_found, list following next_cursor, and local refusals from capabilities.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { SessionStoreCapabilitiesSchema, SessionStorePattern, Support } from "../../proto/gen/prism/patterns/session/session_store_pattern_pb";
import { serviceDefinition } from "../../sdk/grpc/definition";
import { Code, connect, PrismClientError } from "./index";

type Handler = (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => void;

const server = new grpc.Server();
let address = "";
let calls: { method: string; key?: string; req: Record<string, unknown> }[] = [];
let handlers: Record<string, Handler> = {};
let caps = create(SessionStoreCapabilitiesSchema, {
  compareAndSet: Support.NATIVE,
  slidingExpiry: Support.NATIVE,
  sharding: { shards: [{ name: "s1", backendType: "scripted" }] },
});

beforeAll(async () => {
  const impl = Object.fromEntries(
    SessionStorePattern.methods.map((m) => [
      m.localName,
      (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        calls.push({
          method: m.localName,
          key: call.metadata.get("x-prism-idempotency-key")[0] as string | undefined,
          req: call.request as Record<string, unknown>,
        });
        const h = handlers[m.localName];
        if (h) return h(call, cb);
        cb(null, m.localName === "getCapabilities" ? caps : {});
      },
    ]),
  );
  server.addService(serviceDefinition(SessionStorePattern), impl);
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
function failing(n: number, err: Partial<grpc.StatusObject>, reply: unknown): Handler {
  let left = n;
  return (_call, cb) => (left-- > 0 ? cb(err as grpc.ServiceError, null) : cb(null, reply));
}
async function rejection(p: Promise<unknown>): Promise<PrismClientError> {
  try {
    await p;
  } catch (err) {
    return err as PrismClientError;
  }
  throw new Error("expected a rejection");
}
const lost = { code: grpc.status.UNAVAILABLE, details: "shard down: nothing applied" };

describe("session store through the client", () => {
  test("create, update and delete carry an idempotency key, the same on each retry; touch is retried", async () => {
    const c = await connect({ address, retry: { attempts: 3, ...fast } });
    try {
      handlers.createSession = failing(1, lost, { sessionId: "abc", owner: "ada", version: 1n });
      handlers.updateSession = failing(1, lost, { sessionId: "abc", version: 2n });
      handlers.deleteSession = failing(1, lost, { found: true });
      handlers.touch = failing(1, lost, { sessionId: "abc", version: 2n });
      const s = await c.session.create("ada", { attributes: { cart: "3" }, ttlSeconds: 60 });
      expect([s.sessionId, s.version]).toEqual(["abc", 1n]);
      expect((await c.session.update("abc", { set: { cart: "4" }, remove: ["x"] })).version).toBe(2n);
      expect((await c.session.touch("abc", { ttlSeconds: 30 })).version).toBe(2n);
      expect(await c.session.delete("abc")).toBe(true);
      for (const m of ["createSession", "updateSession", "deleteSession"]) {
        const [a, b] = only(m);
        expect(a?.key).toMatch(/^[0-9a-f-]{36}$/);
        expect(b?.key).toBe(a!.key);
      }
      expect(only("touch").length).toBe(2);
      const req = only("createSession")[0]!.req as { owner: string; ttlSeconds: number; attributes: Record<string, Uint8Array> };
      expect([req.owner, req.ttlSeconds, new TextDecoder().decode(req.attributes.cart)]).toEqual(["ada", 60, "3"]);
    } finally {
      c.close();
    }
  });

  test("ABORTED with x-prism-current-version is a version_conflict carrying it; NOT_FOUND is not_found", async () => {
    const c = await connect({ address, retry: fast });
    try {
      const trailers = new grpc.Metadata();
      trailers.set("x-prism-current-version", "7");
      // The message names another version on purpose: the trailer is what counts.
      handlers.updateSession = (_call, cb) =>
        cb({ code: grpc.status.ABORTED, details: "session abc is at version 8, not the expected 3", metadata: trailers } as grpc.ServiceError, null);
      let e = await rejection(c.session.update("abc", { set: { a: "1" }, expectedVersion: 3 }));
      expect([e.code, e.reason, e.currentVersion]).toEqual([Code.ABORTED, "version_conflict", "7"]);
      expect(only("updateSession").length).toBe(1);
      expect(only("updateSession")[0]!.req.expectedVersion).toBe(3n);
      expect(only("getSession").length).toBe(0);

      // An update without expectedVersion that kept losing races: ABORTED without a version, not a version conflict.
      handlers.updateSession = (_call, cb) =>
        cb({ code: grpc.status.ABORTED, details: "session abc kept changing concurrently; try again" } as grpc.ServiceError, null);
      e = await rejection(c.session.update("abc", { set: { a: "1" } }));
      expect([e.code, e.reason, e.currentVersion]).toEqual([Code.ABORTED, "failed", undefined]);
      expect(only("getSession").length).toBe(0);

      handlers.updateSession = (_call, cb) => cb({ code: grpc.status.NOT_FOUND, details: "session abc not found" } as grpc.ServiceError, null);
      e = await rejection(c.session.update("abc", { set: { a: "1" } }));
      expect([e.code, e.reason]).toEqual([Code.NOT_FOUND, "not_found"]);
      handlers.getSession = (_call, cb) => cb(null, { found: false });
      expect(await c.session.get("abc")).toBeUndefined();
    } finally {
      c.close();
    }
  });

  test("list follows next_cursor", async () => {
    const c = await connect({ address, retry: fast });
    try {
      handlers.listSessions = (call, cb) => {
        const { cursor } = call.request as { cursor: string };
        cb(null, cursor === "" ? { sessions: [{ sessionId: "a" }, { sessionId: "b" }], nextCursor: "p2" } : { sessions: [{ sessionId: "c" }], nextCursor: "" });
      };
      const ids: string[] = [];
      for await (const s of c.session.list("ada", { pageSize: 2 })) ids.push(s.sessionId);
      expect(ids).toEqual(["a", "b", "c"]);
      expect(only("listSessions").map((x) => [x.req.limit, x.req.cursor])).toEqual([
        [2, ""],
        [2, "p2"],
      ]);
    } finally {
      c.close();
    }
  });

  test("compare-and-set and touch are refused before calling when unavailable; emulated ones are counted", async () => {
    const saved = caps;
    caps = create(SessionStoreCapabilitiesSchema, { ...saved, compareAndSet: Support.UNAVAILABLE, slidingExpiry: Support.EMULATED });
    const events: string[] = [];
    const c = await connect({ address, retry: fast, onEvent: (e) => e.kind === "emulated" && events.push(`${e.pattern}.${e.operation}`) });
    try {
      const e = await rejection(c.session.update("abc", { set: { a: "1" }, expectedVersion: 1 }));
      expect([e.code, e.reason, e.backend]).toEqual([Code.UNIMPLEMENTED, "unsupported", "scripted"]);
      expect(e.message).toBe("compare-and-set not supported by scripted: the namespace's capabilities say compare_and_set=SUPPORT_UNAVAILABLE");
      expect(only("updateSession").length).toBe(0);
      await c.session.touch("abc");
      expect(events).toEqual(["session.sliding expiry"]);
      expect(c.stats.emulated["session.sliding expiry"]).toBe(1);
    } finally {
      c.close();
      caps = saved;
    }
  });
});
