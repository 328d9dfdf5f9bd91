import type { Registry } from "prom-client";
import { IDEMPOTENCY_HEADER, type WriteOptions } from "../drivers/idempotency";
import type { InterfaceName, KeyValueBasicDriver, ScanEntry, ScanOptions } from "../drivers/interfaces";
import type { KeyValueVersionedDriver } from "../drivers/versions";
import { unimplemented } from "../errors";
import type { Limits } from "../services/limits";
import { PipelinedBatch } from "./batch";
import {
  attachCapabilities,
  attachRefusal,
  SERVICE_OF,
  unavailableMessage,
  type InterfaceSupport,
  type KeyValueCapabilities,
  type Support,
} from "./capabilities";
import { attachChunked, hideChunks, hidingLister } from "./chunked_reads";
import { ChunkedValues } from "./chunked";
import { ExpiryEmulation, type CountOp } from "./expiry";
import { emulatedOperations } from "./metrics";
import type { EmulationPolicy } from "./policy";
import { listingCount, listingScan, type KeyLister } from "./scan";

export interface EmulateOptions {
  policy: EmulationPolicy;
  /** The limits in force (shared object; capabilities report them). */
  limits: Readonly<Limits>;
  namespace: string;
  /** Where prism_emulated_operations_total is registered; none = not counted. */
  registry?: Registry;
  /** A failed background sweep (the backend is down): the caller logs it. */
  onSweepError?: (err: unknown) => void;
  /** Clock of the expiry emulation (tests). */
  now?: () => number;
}

/** Driver methods the emulation layer calls besides the bindings' (instrumented like theirs). */
export const EMULATION_DRIVER_METHODS: readonly string[] = ["listKeys"];

type AnyDriver = Record<string, unknown> & {
  name?: unknown;
  emulates?: readonly InterfaceName[];
  keyValueUnavailable?: unknown;
  idempotentKeyValue?: unknown;
  storesTags?: unknown;
  close?: () => Promise<void>;
};

/** Key-value write methods and the position of their WriteOptions argument. */
const WRITE_ARG: Record<string, number> = { set: 3, delete: 1, expire: 2, persist: 1, batchSet: 1, batchDelete: 1, setVersioned: 4, deleteVersioned: 2 };

/** Every driver method a key-value binding or the emulation layer may call. */
export const KEY_VALUE_METHODS = [
  "set",
  "get",
  "delete",
  "exists",
  "expire",
  "getTTL",
  "persist",
  "scan",
  "count",
  "batchSet",
  "batchGet",
  "batchDelete",
  "listKeys",
  "getVersioned",
  "setVersioned",
  "deleteVersioned",
];

/**
 * Wraps a driver once so every binding — the interface services and KeyValuePattern alike — reaches the same
 * data through the same operations: features the backend lacks are emulated (scan over key listing, batches as
 * a pipeline of single operations, expiry stored beside the value) or answer UNIMPLEMENTED with the operation,
 * the backend and why. Native methods are inherited untouched (no per-call cost). The capabilities derived on
 * the way are attached to the result (capabilitiesOf). A driver without the basic key-value methods is returned
 * as it is; one that declares `keyValueUnavailable` gets no capabilities and every key-value method refused.
 */
export function emulateKeyValue<D extends object>(driver: D, o: EmulateOptions): D {
  const d = driver as unknown as AnyDriver;
  const has = (...names: string[]) => names.every((n) => typeof d[n] === "function");
  if (!has("set", "get", "delete", "exists")) return driver;
  const backend = typeof d.name === "string" && d.name !== "" ? d.name : "backend";
  if (typeof d.keyValueUnavailable === "string" && d.keyValueUnavailable !== "") {
    const message = `key-value not supported by ${backend}: ${d.keyValueUnavailable}`;
    const refused = Object.create(driver) as AnyDriver;
    for (const m of KEY_VALUE_METHODS)
      refused[m] = () => {
        throw unimplemented(message);
      };
    attachRefusal(refused, message);
    return refused as unknown as D;
  }
  const driverEmulates = new Set<InterfaceName>(d.emulates ?? []);
  const counter = o.registry ? emulatedOperations(o.registry) : undefined;
  const count: CountOp = counter ? (operation) => counter.inc({ namespace: o.namespace, operation }) : () => {};
  const p = o.policy;
  const out = Object.create(driver) as AnyDriver;

  const support = (name: keyof typeof SERVICE_OF, s: Support, how: string): InterfaceSupport => ({ name, service: SERVICE_OF[name], support: s, how });
  const ofDriver = (name: keyof typeof SERVICE_OF) =>
    driverEmulates.has(name) ? support(name, "emulated", "emulated by the driver") : support(name, "native", "native");

  // Expiration first: when the SDK keeps expiry beside the value, every other operation must read through it.
  let expiry: ExpiryEmulation | undefined;
  let expiration: InterfaceSupport;
  if (has("expire", "getTTL", "persist") && p.expiration !== "force") expiration = ofDriver("keyvalue_ttl");
  else if (p.expiration === "off") expiration = support("keyvalue_ttl", "unavailable", "the backend has no per-key expiry and emulation.expiration is off");
  else {
    expiry = new ExpiryEmulation(driver as unknown as KeyValueBasicDriver, { ...p, count, onSweepError: o.onSweepError, now: o.now });
    expiration = support("keyvalue_ttl", "emulated", "expiry stored beside the value by the SDK, swept in the background");
  }
  const kv: KeyValueBasicDriver = expiry ?? (driver as unknown as KeyValueBasicDriver);

  const rawLister: KeyLister | undefined = has("listKeys")
    ? (prefix, signal) => (d.listKeys as KeyLister)(prefix, signal)
    : has("scan")
      ? async function* (prefix, signal) {
          const scan = d.scan as (opts: ScanOptions) => AsyncIterable<ScanEntry> | Iterable<ScanEntry>;
          for await (const e of scan({ prefix, limit: 0, cursor: "", withValues: false, signal })) yield e.key;
        }
      : undefined;
  // What scans and counts list: without the chunk store's keys.
  const lister = rawLister && hidingLister(rawLister);

  let scan: InterfaceSupport;
  if (has("scan", "count") && !expiry && p.scan !== "force") scan = ofDriver("keyvalue_scan");
  else if (p.scan === "off")
    scan = support(
      "keyvalue_scan",
      "unavailable",
      expiry ? "emulated expiry needs the emulated scan and emulation.scan is off" : "the backend cannot scan and emulation.scan is off",
    );
  else if (lister) scan = support("keyvalue_scan", "emulated", "paged by the SDK over a listing of the prefix's keys");
  else scan = support("keyvalue_scan", "unavailable", "the backend can neither scan nor list its keys");

  let batch: InterfaceSupport;
  if (has("batchSet", "batchGet", "batchDelete") && !expiry && p.batch !== "force") batch = ofDriver("keyvalue_batch");
  else if (p.batch === "off")
    batch = support(
      "keyvalue_batch",
      "unavailable",
      expiry ? "emulated expiry needs pipelined batches and emulation.batch is off" : "the backend has no batch operations and emulation.batch is off",
    );
  else batch = support("keyvalue_batch", "emulated", `pipelined by the SDK as single operations, ${p.concurrency} at a time`);

  const caps: KeyValueCapabilities = {
    backend,
    basic: driverEmulates.has("keyvalue_basic")
      ? support("keyvalue_basic", "emulated", "emulated by the driver")
      : support("keyvalue_basic", "native", expiry ? "native, values carry their expiry" : "native"),
    scan,
    batch,
    expiration,
    transactions: false,
    conditionalWrites: has("getVersioned", "setVersioned", "deleteVersioned"),
    tags: false,
    chunked: lister !== undefined,
    limits: o.limits,
  };
  const refuse = (feature: "scan" | "batch" | "expiration") => () => {
    throw unimplemented(unavailableMessage(caps, feature));
  };

  if (expiry) {
    const e = expiry;
    Object.assign(out, {
      set: e.set.bind(e),
      get: e.get.bind(e),
      delete: e.delete.bind(e),
      exists: e.exists.bind(e),
      expire: e.expire.bind(e),
      getTTL: e.getTTL.bind(e),
      persist: e.persist.bind(e),
      ...(caps.conditionalWrites
        ? { getVersioned: e.getVersioned.bind(e), setVersioned: e.setVersioned.bind(e), deleteVersioned: e.deleteVersioned.bind(e) }
        : {}),
      /** Runs one sweep now (tests; the timer does the same). */
      sweepNow: () => e.sweep(),
      close: async () => {
        e.close();
        await d.close?.call(driver);
      },
    });
  } else if (expiration.support === "unavailable") {
    const set = d.set as KeyValueBasicDriver["set"];
    const noTtl = refuse("expiration");
    out.set = (key: string, value: Uint8Array, ttlSeconds: number, write?: WriteOptions) => (ttlSeconds > 0 ? noTtl() : set.call(driver, key, value, 0, write));
    out.expire = out.getTTL = out.persist = noTtl;
    if (caps.conditionalWrites) {
      const setVersioned = d.setVersioned as KeyValueVersionedDriver["setVersioned"];
      out.setVersioned = (
        key: string,
        value: Uint8Array,
        ttlSeconds: number,
        expected: string | undefined,
        write?: WriteOptions,
        tags?: Record<string, string>,
      ) => (ttlSeconds > 0 ? noTtl() : setVersioned.call(driver, key, value, 0, expected, write, tags));
    }
  }

  if (scan.support === "unavailable") out.scan = out.count = refuse("scan");
  else if (scan.how.includes("SDK")) {
    const read = expiry ? (k: string) => expiry.peek(k) : (k: string) => (d.get as KeyValueBasicDriver["get"]).call(driver, k);
    const opts = { list: lister!, read, verify: expiry !== undefined, concurrency: p.concurrency, count };
    out.scan = (s: ScanOptions) => listingScan(s, opts);
    out.count = (prefix: string) => listingCount(prefix, opts);
  }

  if (batch.support === "unavailable") out.batchSet = out.batchGet = out.batchDelete = refuse("batch");
  else if (batch.how.includes("SDK")) {
    const b = new PipelinedBatch(kv, p.concurrency, count);
    Object.assign(out, { batchSet: b.batchSet.bind(b), batchGet: b.batchGet.bind(b), batchDelete: b.batchDelete.bind(b) });
  }

  // Emulated scan, batches and expiry read and write values without their tags.
  caps.tags = d.storesTags === true && caps.conditionalWrites && !expiry && !scan.how.includes("SDK") && !batch.how.includes("SDK");

  if (d.idempotentKeyValue !== "durable" && d.idempotentKeyValue !== "in-process") refuseKeyedWrites(out, backend);

  // Large values: chunks and manifests written and read through everything above (expiry envelope included).
  if (rawLister) {
    const chunked = new ChunkedValues(methodsOf(out, driver) as unknown as ConstructorParameters<typeof ChunkedValues>[0], rawLister, {
      chunkBytes: p.chunkBytes,
      graceMs: p.chunkGraceMs,
      sweepIntervalMs: p.chunkSweepIntervalMs,
      maxMessageValueBytes: () => o.limits.maxValueBytes,
      maxStreamValueBytes: () => o.limits.maxStreamValueBytes,
      onSweepError: o.onSweepError,
      now: o.now,
    });
    hideChunks(out, methodsOf(out, driver), chunked);
    const close = methodsOf(out, driver).close;
    out.close = async () => {
      chunked.close();
      await close?.();
    };
    attachChunked(out, chunked);
  }

  attachCapabilities(out, caps);
  return out as unknown as D;
}

/** The wrapped driver's methods as they stand, each bound to whoever defines it (an override, or the driver). */
function methodsOf(out: AnyDriver, driver: object): Record<string, ((...a: never[]) => unknown) | undefined> & AnyDriver {
  const bound: Record<string, unknown> = {};
  for (const m of [...KEY_VALUE_METHODS, "close"]) {
    const f = out[m];
    if (typeof f === "function") bound[m] = f.bind(Object.hasOwn(out, m) ? out : driver);
  }
  return bound as Record<string, ((...a: never[]) => unknown) | undefined> & AnyDriver;
}

/**
 * A driver that does not declare how it deduplicates keyed writes: every key-value write carrying an idempotency
 * key is refused (UNIMPLEMENTED) instead of being applied without deduplication; unkeyed writes pass untouched.
 */
function refuseKeyedWrites(out: AnyDriver, backend: string): void {
  for (const [method, at] of Object.entries(WRITE_ARG)) {
    const inner = out[method];
    if (typeof inner !== "function") continue;
    out[method] = function (this: unknown, ...args: unknown[]) {
      if ((args[at] as WriteOptions | undefined)?.idempotencyKey)
        throw unimplemented(`${IDEMPOTENCY_HEADER} not supported by ${backend}: its driver cannot apply a retried ${method} once`);
      return (inner as (...a: unknown[]) => unknown).apply(this, args);
    };
  }
}
