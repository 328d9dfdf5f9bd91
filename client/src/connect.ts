import { Health } from "../../proto/gen/grpc/health/v1/health_pb";
import { Code, PrismClientError } from "./errors";
import { MODULES } from "./modules";
import { type ConnectOptions, type ResolvedOptions, resolveOptions } from "./options";
import { type ModuleContext, notServed, type PatternModule, Stats } from "./pattern";
import { Transport } from "./transport";

type Modules = typeof MODULES;
type ApiOf<M> = M extends { create: (...args: never[]) => infer A } ? A : never;
type CapsOf<M> = M extends { create: (ctx: never, caps: infer C) => unknown } ? Exclude<C, undefined> : never;
/** The modules with capabilities (a Caps type other than unknown). */
type Probed = { [K in keyof Modules as unknown extends CapsOf<Modules[K]> ? never : K]: Modules[K] };

/** A connection to a namespace through one or more proxies, with one object per pattern. */
export type PrismClient = { readonly [K in keyof Modules]: ApiOf<Modules[K]> } & {
  readonly namespace: string;
  readonly options: ResolvedOptions;
  /** GetCapabilities of each pattern the namespace serves, as fetched on connect (absent: not served). */
  readonly capabilities: { readonly [K in keyof Probed]?: CapsOf<Probed[K]> };
  /** Counters: emulated operations by "<pattern>.<operation>", retries, fail-overs, resubscriptions. */
  readonly stats: Stats;
  /** Closes every channel; calls in flight fail with CANCELLED. */
  close(): void;
};

/**
 * Connects to a namespace: opens a channel per proxy address and asks every pattern protocol for its
 * capabilities (UNIMPLEMENTED = the namespace does not serve it). Rejects when the proxies cannot be reached
 * or the namespace does not exist. A pattern the namespace does not serve throws (reason "not_served") when used.
 */
export async function connect(options: ConnectOptions): Promise<PrismClient> {
  const resolved = resolveOptions(options);
  const stats = new Stats();
  const hook = resolved.onEvent;
  resolved.onEvent = (e) => {
    stats.count(e);
    hook(e);
  };
  const transport = new Transport(resolved, Health);
  const ctx: ModuleContext = {
    transport,
    namespace: resolved.namespace,
    emulated: (pattern, operation, backend, how) => resolved.onEvent({ kind: "emulated", pattern, operation, backend, how }),
  };
  const capabilities: Record<string, unknown> = {};
  const why: Record<string, string> = {};
  try {
    await Promise.all(
      (Object.values(MODULES) as PatternModule[]).map(async (m) => {
        if (!m.probe || !resolved.probe) return;
        try {
          capabilities[m.name] = await m.probe(ctx);
        } catch (err) {
          const e = PrismClientError.from(err);
          if (e.code !== Code.UNIMPLEMENTED) throw e;
          why[m.name] = e.message;
        }
      }),
    );
  } catch (err) {
    transport.close();
    throw err;
  }
  const client: Record<string, unknown> = {
    namespace: resolved.namespace,
    options: resolved,
    capabilities,
    stats,
    close: () => transport.close(),
  };
  for (const m of Object.values(MODULES) as PatternModule[]) {
    let api: unknown;
    Object.defineProperty(client, m.name, {
      enumerable: true,
      get: () => {
        if (m.probe && !(m.name in capabilities))
          throw notServed(
            m.service?.typeName ?? m.name,
            resolved.namespace,
            why[m.name] ?? (resolved.probe ? "no capabilities" : "connected with probe: false"),
          );
        api ??= m.create(ctx, capabilities[m.name]);
        return api;
      },
    });
  }
  return client as PrismClient;
}
