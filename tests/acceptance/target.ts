/**
 * What an acceptance suite runs against, and the helpers the suites share.
 *
 * A backend joins the suites with a one-line test file that passes a factory of
 * Targets, e.g. tests/acceptance/memstore.test.ts. Suites only use `address`,
 * `metadata` and `capabilities`; they never branch on backend names.
 */
import { randomUUID } from "node:crypto";
import type { DescService } from "@bufbuild/protobuf";
import { createClient } from "../../sdk/grpc/client";
import { Code, PrismError } from "../../sdk/grpc/errors";
import type { CallOptions, ServiceClient } from "../../sdk/grpc/types";
import { waitFor } from "../helpers/wait";

/** A running server that serves the interfaces under test: a pattern process, or the proxy in front of one. */
export interface Target {
  /** host:port of its gRPC endpoint. */
  address: string;
  /** Sent with every call, e.g. {"x-prism-namespace": "acceptance"} through the proxy. */
  metadata?: Record<string, string>;
  /** What the backend can do; every field is optional and defaults as documented. */
  capabilities?: TargetCapabilities;
  /** Stops what the factory started (by pid); may throw to report an unclean exit. */
  close(): Promise<void>;
}

/** Declared differences between backends. */
export interface TargetCapabilities {
  /** Serves KeyValueTTLInterface (default true). When false the suite expects UNIMPLEMENTED from it. */
  ttl?: boolean;
  /** Serves KeyValueScanInterface (default true). When false the suite expects UNIMPLEMENTED. */
  scan?: boolean;
  /** Serves KeyValueBatchInterface (default true). When false the suite expects UNIMPLEMENTED. */
  batch?: boolean;
  /** Request limits the target enforces (default: the SDK's 4096-byte keys and 8 MiB values). */
  limits?: { maxKeyBytes: number; maxValueBytes: number };
  /**
   * A bound on key-value keys (memstore `max_keys`) answered with RESOURCE_EXHAUSTED, or false when the
   * backend has none (Redis; the default). The capacity test fills the store up to the bound, so declare
   * it only for a target that no other suite writes to at the same time.
   */
  capacity?: { maxKeys: number } | false;
}

/** Capabilities with defaults filled in. */
export function capabilitiesOf(t: Target): Required<TargetCapabilities> {
  const c = t.capabilities ?? {};
  return {
    ttl: c.ttl ?? true,
    scan: c.scan ?? true,
    batch: c.batch ?? true,
    limits: c.limits ?? { maxKeyBytes: 4096, maxValueBytes: 8 * 1024 * 1024 },
    capacity: c.capacity ?? false,
  };
}

/** Generous per-call deadline: suites run on a loaded 2-core machine. */
const CALL_TIMEOUT_MS = 15_000;

/**
 * Typed clients for the given services, all on one channel, whose calls carry
 * the target's metadata and a deadline. Close with the returned close().
 */
export function connect<S extends Record<string, DescService>>(t: Target, services: S): { [K in keyof S]: ServiceClient<S[K]> } & { close(): void } {
  const defaults: CallOptions = { metadata: t.metadata, timeoutMs: CALL_TIMEOUT_MS };
  const entries = Object.entries(services);
  const first = createClient(entries[0]![1], t.address);
  const out: Record<string, unknown> = {};
  for (const [name, service] of entries) {
    const handle = name === entries[0]![0] ? first : createClient(service, first.raw);
    const wrapped: Record<string, unknown> = {};
    for (const [method, fn] of Object.entries(handle.client as Record<string, (req: unknown, o?: CallOptions) => unknown>)) {
      wrapped[method] = (req: unknown, o?: CallOptions) => fn(req, { ...defaults, ...o });
    }
    out[name] = wrapped;
  }
  out.close = () => first.close();
  return out as { [K in keyof S]: ServiceClient<S[K]> } & { close(): void };
}

/** A key prefix no other test (or concurrent suite on the same backend) uses. */
export function uniquePrefix(label: string): string {
  return `acc:${label}:${randomUUID().slice(0, 8)}:`;
}

/** The gRPC code a call ends with (OK when it succeeds); streams are read to the end. */
export async function codeOf(call: () => Promise<unknown> | AsyncIterable<unknown>): Promise<number> {
  try {
    const r = call();
    if (r && typeof (r as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function") await Array.fromAsync(r as AsyncIterable<unknown>);
    else await r;
    return Code.OK;
  } catch (err) {
    return PrismError.from(err).code;
  }
}

/** Polls `check` until it returns true, failing after timeoutMs (no fixed sleeps). */
export async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 10_000, intervalMs = 50): Promise<void> {
  await waitFor(check, what, { timeoutMs, intervalMs });
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
export const text = (b: Uint8Array): string => new TextDecoder().decode(b);
