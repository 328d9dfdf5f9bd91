import { randomBytes } from "node:crypto";

/** A session as the shards store it (JSON; attribute values base64). */
export interface SessionRecord {
  id: string;
  owner: string;
  attributes: Record<string, Uint8Array>;
  /** 1 at creation, +1 per update or delete; what compare-and-set and the replication rule compare. */
  version: number;
  createdAt: number;
  expiresAt: number;
  ttlSeconds: number;
  /** The region that made this version. */
  region: string;
  /** A delete, kept while other regions may still send older versions (replication only). */
  deleted?: boolean;
}

/** 128 random bits as 32 hex digits: nothing about the owner can be read from or guessed into an id. */
export function newSessionId(): string {
  return randomBytes(16).toString("hex");
}

export const SESSION_ID = /^[0-9a-f]{32}$/;

export function encodeRecord(r: SessionRecord): Uint8Array {
  const attributes: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.attributes)) attributes[k] = Buffer.from(v).toString("base64");
  return new TextEncoder().encode(JSON.stringify({ ...r, attributes }));
}

export function decodeRecord(bytes: Uint8Array): SessionRecord {
  const raw = JSON.parse(new TextDecoder().decode(bytes)) as Omit<SessionRecord, "attributes"> & { attributes: Record<string, string> };
  const attributes: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(raw.attributes)) attributes[k] = new Uint8Array(Buffer.from(v, "base64"));
  return { ...raw, attributes };
}

/**
 * The replication rule, the same in every region: the higher version wins, at equal versions the greater region
 * id; the expiry is the later of the two (Touch does not change the version). Commutative, associative and
 * idempotent, so regions that saw the same changes in any order hold the same session.
 */
export function merge(a: SessionRecord | undefined, b: SessionRecord): SessionRecord {
  if (!a) return b;
  const winner = a.version !== b.version ? (a.version > b.version ? a : b) : a.region >= b.region ? a : b;
  const expiresAt = Math.max(a.expiresAt, b.expiresAt);
  return winner.expiresAt === expiresAt ? winner : { ...winner, expiresAt };
}

/** Same version, region, expiry and deletion: applying one over the other changes nothing. */
export function sameState(a: SessionRecord, b: SessionRecord): boolean {
  return a.version === b.version && a.region === b.region && a.expiresAt === b.expiresAt && !!a.deleted === !!b.deleted;
}

/** Whole seconds left before `expiresAt` (at least 1: a key written with 0 would never expire). */
export function secondsLeft(expiresAt: number, now: number): number {
  return Math.max(1, Math.ceil((expiresAt - now) / 1000));
}

export const sessionKey = (id: string) => `session/${id}`;
export const SESSION_PREFIX = "session/";
export const ownerPrefix = (owner: string) => `owner/${encodeURIComponent(owner)}/`;
export const ownerKey = (owner: string, id: string) => `${ownerPrefix(owner)}${id}`;
