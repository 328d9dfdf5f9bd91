import type { DescService } from "@bufbuild/protobuf";
import { Code, PrismClientError, unsupported } from "./errors";
import type { ClientEvent } from "./options";
import type { Transport } from "./transport";

/** What a pattern module gets from the connection: the transport, the namespace and the emulation bookkeeping. */
export interface ModuleContext {
  readonly transport: Transport;
  readonly namespace: string;
  /** Reports one emulated operation: counted in `stats.emulated` and passed to the onEvent hook. */
  emulated(pattern: string, operation: string, backend: string, how: string): void;
}

/**
 * One pattern of the client (client/src/<pattern>.ts): the service whose GetCapabilities tells whether and how the
 * namespace serves it (absent for the interface services, which have none), and the object the application uses.
 * Adding a pattern is one such module and one line in modules.ts.
 */
export interface PatternModule<Api = unknown, Caps = unknown> {
  /** Property of the connected client, e.g. "keyValue". */
  readonly name: string;
  /** The protocol, e.g. prism.patterns.keyvalue.KeyValuePattern. */
  readonly service: DescService | undefined;
  /** Asks the namespace for its capabilities; undefined when the pattern has no GetCapabilities. */
  readonly probe?: (ctx: ModuleContext) => Promise<Caps>;
  readonly create: (ctx: ModuleContext, caps: Caps | undefined) => Api;
}

/** Declares a module with its types inferred. */
export function definePattern<Api, Caps>(m: PatternModule<Api, Caps>): PatternModule<Api, Caps> {
  return m;
}

/** The error a pattern the namespace does not serve answers with, before any call. */
export function notServed(pattern: string, namespace: string, why: string): PrismClientError {
  return new PrismClientError(Code.UNIMPLEMENTED, `${pattern} not served by namespace ${namespace}: ${why}`, { reason: "not_served" });
}

/** Throws `unsupported` when `available` is false: a local refusal with the server's wording. */
export function require(available: boolean, operation: string, backend: string, why: string): void {
  if (!available) throw unsupported(operation, backend, why);
}

/** Per-operation counters of the connection (what the onEvent hook also sees). */
export class Stats {
  /** "<pattern>.<operation>" → calls that were emulated by the backend. */
  readonly emulated: Record<string, number> = {};
  retries = 0;
  failovers = 0;
  resubscriptions = 0;

  count(e: ClientEvent): void {
    if (e.kind === "emulated") this.emulated[`${e.pattern}.${e.operation}`] = (this.emulated[`${e.pattern}.${e.operation}`] ?? 0) + 1;
    else if (e.kind === "retry") this.retries++;
    else if (e.kind === "failover") this.failovers++;
    else this.resubscriptions++;
  }
}
