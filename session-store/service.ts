import { defineBinding, invalidArgument } from "@prism/sdk";
import { SessionStorePattern } from "../proto/gen/prism/patterns/session/session_store_pattern_pb";
import type { SessionStoreInstance } from "./pattern_driver";
import { SESSION_ID, type SessionRecord } from "./record";

export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 1000;

function sessionMessage(r: SessionRecord) {
  return {
    sessionId: r.id,
    owner: r.owner,
    attributes: r.attributes,
    version: BigInt(r.version),
    createdAt: BigInt(r.createdAt),
    expiresAt: BigInt(r.expiresAt),
    ttlSeconds: r.ttlSeconds,
    region: r.region,
  };
}

function checkId(id: string): string {
  if (!SESSION_ID.test(id)) throw invalidArgument("session_id must be 32 lowercase hex digits");
  return id;
}

/** prism.patterns.session.SessionStorePattern over a SessionStoreInstance. */
export const sessionStoreService = defineBinding({
  interfaceName: "session_store",
  service: SessionStorePattern,
  // The shard drivers answer for themselves; the pattern's own metrics count moves and replication.
  driverMethods: [],
  implement: (served: { readonly current: SessionStoreInstance }) => ({
    getCapabilities: () => served.current.capabilities,

    async createSession(req) {
      return sessionMessage(await served.current.store.create(req.owner, req.attributes, req.ttlSeconds));
    },

    async getSession(req) {
      const rec = await served.current.store.get(checkId(req.sessionId));
      return rec ? { found: true, session: sessionMessage(rec) } : { found: false };
    },

    async updateSession(req) {
      const expected = req.expectedVersion === undefined ? undefined : Number(req.expectedVersion);
      return sessionMessage(await served.current.store.update(checkId(req.sessionId), req.set, req.remove, expected));
    },

    async touch(req) {
      return sessionMessage(await served.current.store.touch(checkId(req.sessionId), req.ttlSeconds));
    },

    async deleteSession(req) {
      return { found: await served.current.store.delete(checkId(req.sessionId)) };
    },

    async listSessions(req, ctx) {
      if (req.limit > MAX_PAGE) throw invalidArgument(`limit must be at most ${MAX_PAGE}`);
      if (req.cursor !== "" && !SESSION_ID.test(req.cursor)) throw invalidArgument("cursor is not one this store gave");
      const page = await served.current.store.list(req.owner, req.limit || DEFAULT_PAGE, req.cursor, ctx.signal);
      return { sessions: page.sessions.map(sessionMessage), nextCursor: page.next };
    },
  }),
});
