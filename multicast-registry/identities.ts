import type { JsonObject } from "@bufbuild/protobuf";
import {
  nestJsonFilter,
  invalidArgument,
  resourceExhausted,
  type Driver,
  type JsonFilter,
  type JsonFilterScanDriver,
  type KeyValueBasicDriver,
  type KeyValueBatchDriver,
  type KeyValueScanDriver,
} from "@prism/sdk";
import { type FilterNode, matches } from "./filter";

/** The registry slot's driver: basic key-value and scan (batch used when present). */
export type RegistryDriver = Driver & KeyValueBasicDriver & KeyValueScanDriver & Partial<KeyValueBatchDriver>;

/** One registered identity as stored: JSON {"m": metadata, "r": registered at, "e": expires at (0 = never)}. */
export interface IdentityRecord {
  identity: string;
  metadata: JsonObject;
  /** Unix ms of the first registration. */
  registeredAt: number;
  /** Unix ms; 0 = no expiry. */
  expiresAt: number;
}

/** Keys in the registry slot (the driver adds its namespace prefix). */
export const ID_PREFIX = "id/";
export const idKey = (identity: string) => ID_PREFIX + identity;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeRecord(r: IdentityRecord): Uint8Array {
  return encoder.encode(JSON.stringify({ m: r.metadata, r: r.registeredAt, e: r.expiresAt }));
}

/** The record under key `id/<identity>`, or undefined when it is not one of ours. */
export function decodeRecord(identity: string, value: Uint8Array): IdentityRecord | undefined {
  try {
    const o = JSON.parse(decoder.decode(value)) as { m?: unknown; r?: unknown; e?: unknown };
    if (typeof o.m !== "object" || o.m === null || Array.isArray(o.m)) return undefined;
    return { identity, metadata: o.m as JsonObject, registeredAt: Number(o.r) || 0, expiresAt: Number(o.e) || 0 };
  } catch {
    return undefined;
  }
}

export const live = (r: IdentityRecord, now: number) => r.expiresAt === 0 || r.expiresAt > now;

/** One batch of live identities matching a filter, and where the next batch starts ("" = done). */
export interface MatchBatch {
  records: IdentityRecord[];
  next: string;
}

/** A metadata filter as one over stored records: not expired at `now` (no e, e 0 or e later), metadata under "m". */
function recordFilter(filter: FilterNode | undefined, now: number): JsonFilter {
  const unexpired: JsonFilter = {
    op: "or",
    of: [
      { op: "not", of: { op: "exists", path: ["e"] } },
      { op: "eq", path: ["e"], value: 0 },
      { op: "gt", path: ["e"], value: now },
    ],
  };
  return { op: "and", of: [{ op: "exists", path: ["m"] }, unexpired, ...(filter ? [nestJsonFilter(filter, "m")] : [])] };
}

const MAX_IDENTITY_BYTES = 256;
/** Keys read per batch when the pattern filters (client side). */
const SCAN_BATCH = 500;
/**
 * Keys examined per native call: a Redis script blocks the server while it runs (about 10-25 ms for 500 keys on a
 * loaded machine, from SLOWLOG), so batches stay smaller there.
 */
const NATIVE_BATCH = 200;
/** A client-held cursor carries at most this many identities matched but not yet returned. */
const MAX_PENDING = 10_000;

export function checkIdentity(identity: string): void {
  if (identity === "") throw invalidArgument("identity is empty");
  if (encoder.encode(identity).length > MAX_IDENTITY_BYTES) throw invalidArgument(`identity is longer than ${MAX_IDENTITY_BYTES} bytes`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f]/.test(identity)) throw invalidArgument("identity contains control characters");
}

/** Enumerate's client-held position: the backend cursor and identities matched but not returned yet. */
interface PageCursor {
  b: string;
  p: string[];
}

function decodeCursor(text: string): PageCursor {
  if (text === "") return { b: "", p: [] };
  try {
    const c = JSON.parse(Buffer.from(text, "base64url").toString("utf8")) as PageCursor;
    if (typeof c.b === "string" && Array.isArray(c.p) && c.p.length <= MAX_PENDING && c.p.every((x) => typeof x === "string")) return c;
  } catch {
    // fall through
  }
  throw invalidArgument("cursor is not one this pattern returned");
}

const encodeCursor = (c: PageCursor) => Buffer.from(JSON.stringify(c)).toString("base64url");

/**
 * The identities held in the registry slot: register (with TTL: the backend's own expiry, plus the
 * expiry time in the record so an identity is invisible from its TTL on whatever the backend's reaping),
 * unregister, lookup, and filtered iteration — natively when the backend can, in the pattern otherwise.
 */
export class IdentityStore {
  constructor(
    readonly driver: RegistryDriver,
    /** The registry driver itself when it evaluates filters (FILTER_NATIVE), else undefined. */
    readonly native: JsonFilterScanDriver | undefined,
    private readonly maxIdentities: number,
    private readonly now: () => number = Date.now,
  ) {}

  async get(identity: string): Promise<IdentityRecord | undefined> {
    const v = await this.driver.get(idKey(identity));
    const r = v && decodeRecord(identity, v);
    return r && live(r, this.now()) ? r : undefined;
  }

  /** Adds or replaces an identity; the TTL (ms, 0 = none) counts from now. */
  async register(identity: string, metadata: JsonObject, ttlMs: number): Promise<{ record: IdentityRecord; created: boolean }> {
    const now = this.now();
    const existing = await this.get(identity);
    if (!existing && this.maxIdentities > 0 && (await this.driver.count(ID_PREFIX)) >= this.maxIdentities) {
      throw resourceExhausted(`registry holds max_identities (${this.maxIdentities}) identities`);
    }
    const record: IdentityRecord = { identity, metadata, registeredAt: existing?.registeredAt ?? now, expiresAt: ttlMs > 0 ? now + ttlMs : 0 };
    await this.driver.set(idKey(identity), encodeRecord(record), ttlMs > 0 ? Math.ceil(ttlMs / 1000) : 0);
    return { record, created: !existing };
  }

  /** True when a live identity was removed. */
  async unregister(identity: string): Promise<boolean> {
    const existing = await this.get(identity);
    const deleted = await this.driver.delete(idKey(identity));
    return deleted && existing !== undefined;
  }

  /** One batch of live matching identities from a backend cursor. */
  batch(filter: FilterNode | undefined, cursor: string, signal: AbortSignal): Promise<MatchBatch> {
    const now = this.now();
    if (this.native) return this.nativeBatch(filter, cursor, now, signal);
    return this.clientSideBatch(filter, cursor, now, signal);
  }

  /** The backend evaluates the filter, on the metadata of records not expired at `now` (FILTER_NATIVE). */
  async nativeBatch(filter: FilterNode | undefined, cursor: string, now: number, signal: AbortSignal): Promise<MatchBatch> {
    const page = await this.native!.filterScan({ prefix: ID_PREFIX, filter: recordFilter(filter, now), cursor, count: NATIVE_BATCH, signal });
    const records: IdentityRecord[] = [];
    for (const e of page.entries) {
      const r = decodeRecord(e.key.slice(ID_PREFIX.length), e.value);
      if (r && live(r, now)) records.push(r);
    }
    return { records, next: page.nextCursor };
  }

  /** The client-side evaluation (FILTER_CLIENT_SIDE), also the reference the native one must agree with. */
  async clientSideBatch(filter: FilterNode | undefined, cursor: string, now: number, signal: AbortSignal): Promise<MatchBatch> {
    const records: IdentityRecord[] = [];
    let next = "";
    for await (const e of this.driver.scan({ prefix: ID_PREFIX, limit: SCAN_BATCH, cursor, withValues: true, signal })) {
      if (e.nextCursor) next = e.nextCursor;
      if (!e.value) continue;
      const r = decodeRecord(e.key.slice(ID_PREFIX.length), e.value);
      if (r && live(r, now) && matches(filter, r.metadata)) records.push(r);
    }
    return { records, next };
  }

  /** Every live identity matching the filter. */
  async *all(filter: FilterNode | undefined, signal: AbortSignal): AsyncIterable<IdentityRecord> {
    let cursor = "";
    do {
      const b = await this.batch(filter, cursor, signal);
      yield* b.records;
      cursor = b.next;
    } while (cursor !== "");
  }

  /** One Enumerate page of at most `limit` identities, with the cursor of the next. */
  async page(filter: FilterNode | undefined, limit: number, cursorText: string, signal: AbortSignal): Promise<{ records: IdentityRecord[]; next: string }> {
    const c = decodeCursor(cursorText);
    const out: IdentityRecord[] = [];
    // Identities matched by an earlier page but cut by its limit: still live and still matching?
    for (const id of c.p) {
      const r = await this.get(id);
      if (r && matches(filter, r.metadata)) out.push(r);
    }
    let b = c.b;
    let done = cursorText !== "" && b === "";
    while (out.length < limit && !done) {
      const batch = await this.batch(filter, b, signal);
      out.push(...batch.records);
      b = batch.next;
      done = b === "";
    }
    const pending = out.splice(limit).map((r) => r.identity);
    return { records: out, next: done && pending.length === 0 ? "" : encodeCursor({ b, p: pending }) };
  }
}
