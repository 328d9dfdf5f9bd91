import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { Tracer } from "@opentelemetry/api";
import type { Registry } from "prom-client";
import { createHash } from "node:crypto";
import { HealthStatus, PatternMetadataSchema, type InterfaceDeclarationSchema, type PatternMetadata } from "../../proto/gen/prism/interfaces/lifecycle_pb";
import { validate } from "../config/schema";
import { redact, resolveSecrets } from "../config/secrets";
import type { Driver, HealthReport } from "../drivers/interfaces";
import { instrumentDriver, type DriverMetrics } from "../drivers/instrument";
import { DriverRegistry } from "../drivers/registry";
import { Code, PrismError } from "../errors";
import { isAsyncIterable, type Interceptor } from "../grpc/interceptor";
import type { Logger } from "../observability/logger";
import { DriverSlot } from "../services/binding";
import { DEFAULT_LIMITS, type Limits } from "../services/limits";
import { emulateKeyValue, EMULATION_DRIVER_METHODS } from "../emulation/keyvalue";
import { emulationSchema, toPolicy } from "../emulation/policy";
import type { PatternDefinition } from "./pattern";
import { closeSlots, fillSlots, slotMetadata, type FilledSlots } from "./slots";

export type RuntimeState = "idle" | "initialized" | "serving" | "draining" | "stopped";

export interface RuntimeDeps {
  logger: Logger;
  driverMetrics: DriverMetrics;
  /** Where drivers register their own metrics. */
  registry: Registry;
  tracer?: Tracer;
  /** Where the config came from, for error messages. */
  configFile: string;
  lineOf?: (path: readonly (string | number)[]) => number | undefined;
}

/** Keys of a pattern's config that the SDK consumes itself. */
export const sdkConfigSchema = {
  type: "object",
  fields: {
    max_key_size: { type: "bytes", default: DEFAULT_LIMITS.maxKeyBytes },
    max_value_size: { type: "bytes", default: DEFAULT_LIMITS.maxValueBytes },
    max_stream_value_size: { type: "bytes", default: DEFAULT_LIMITS.maxStreamValueBytes },
    max_batch_size: { type: "integer", min: 1, default: DEFAULT_LIMITS.maxBatchSize },
    idempotency_window: { type: "duration", default: DEFAULT_LIMITS.idempotencyWindowMs },
    namespace: { type: "string", default: "" },
    emulation: emulationSchema,
  },
} as const;

const healthStatusOf: Record<HealthReport["status"], HealthStatus> = {
  healthy: HealthStatus.HEALTHY,
  degraded: HealthStatus.DEGRADED,
  unhealthy: HealthStatus.UNHEALTHY,
};

/**
 * The state of one pattern instance: its driver, its lifecycle state and the
 * calls in flight. Data services reach the driver through `slot`; the `gate`
 * interceptor refuses data calls unless the pattern is serving.
 */
export class PatternRuntime<D extends Driver = Driver> {
  private current: RuntimeState = "idle";
  /** Called after every state change (health reporting follows the lifecycle). */
  onStateChange?: (state: RuntimeState) => void;

  get state(): RuntimeState {
    return this.current;
  }

  private set state(next: RuntimeState) {
    this.current = next;
    this.onStateChange?.(next);
  }
  readonly slot = new DriverSlot<D>();
  /** Shared with every binding; updated in place on Initialize. */
  readonly limits: Limits = { ...DEFAULT_LIMITS };
  dataEndpoint = "";
  namespace = "";
  /** The configuration of the first Initialize (its own --config when run on its own), as given. */
  private ownConfig: Record<string, unknown> = {};
  private inflight = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly streams = new Set<AbortController>();
  private interfaces?: MessageInitShape<typeof InterfaceDeclarationSchema>[];
  /** The drivers filling the pattern's slots (empty for a single-backend pattern); closed on stop. */
  private filled: FilledSlots = new Map();

  constructor(
    readonly def: PatternDefinition<D>,
    private readonly deps: RuntimeDeps,
  ) {}

  /**
   * Pattern name, version, the interfaces it serves (hashed on first use, not at start-up), its namespace,
   * and its slots and built-in drivers (slot.<slot>.requires, driver.<driver>.implements: proxy/slots.ts).
   */
  patternMetadata(): PatternMetadata {
    const def = this.def;
    this.interfaces ??= def.bindings.map((b) => ({
      name: b.service.typeName,
      protoFile: `${b.service.file.name}.proto`,
      version: "v1",
      protoHash: createHash("sha256").update(toBinary(FileDescriptorProtoSchema, b.service.file.proto)).digest("hex"),
      metadata: { interface: b.interfaceName },
    }));
    return create(PatternMetadataSchema, {
      name: def.name,
      version: def.version,
      interfaces: this.interfaces,
      extra: {
        ...(def.slots && def.drivers ? slotMetadata(def.slots, def.drivers) : {}),
        ...(this.namespace ? { namespace: this.namespace } : {}),
      },
    });
  }

  /**
   * Builds the driver from configuration. A pattern initialized already (run
   * directly, from its own --config) keeps its driver: a later Initialize is
   * accepted unless it names another namespace than the one configured, which
   * would mix two namespaces' data, or asks for settings other than those it runs
   * with, which it would otherwise ignore without a word.
   */
  async initialize(config: Record<string, unknown>): Promise<void> {
    if (this.state !== "idle") {
      const asked = typeof config.namespace === "string" ? config.namespace : "";
      if (asked !== "" && this.namespace !== "" && asked !== this.namespace) {
        throw new PrismError(Code.FAILED_PRECONDITION, `pattern already serves namespace "${this.namespace}", not "${asked}"`);
      }
      const differs = Object.keys(config).filter(
        (k) => k !== "namespace" && k !== "lifecycle" && JSON.stringify(config[k]) !== JSON.stringify(this.ownConfig[k]),
      );
      if (differs.length > 0) {
        throw new PrismError(
          Code.FAILED_PRECONDITION,
          `pattern runs with its own configuration, which differs at ${differs.map((k) => `"${k}"`).join(", ")}: configure it where it runs, or leave config: out of the namespace`,
        );
      }
      this.deps.logger.info("initialize: already initialized from its own configuration; keeping it", { state: this.state, namespace: this.namespace });
      return;
    }
    this.ownConfig = config;
    // Secrets ({file: PATH} / {env: NAME}) are read here, in the pattern: they never cross the control stream.
    config = resolveSecrets(config, { file: this.deps.configFile, lineOf: this.deps.lineOf });
    // `lifecycle` is the process's (read by loadSettings), never the driver's.
    const {
      max_key_size,
      max_value_size,
      max_stream_value_size,
      max_batch_size,
      idempotency_window,
      namespace,
      emulation,
      lifecycle: _lifecycle,
      ...rest
    } = config;
    let driverConfig: Record<string, unknown> = rest;
    const sdk = validate<{
      max_key_size: number;
      max_value_size: number;
      max_stream_value_size: number;
      max_batch_size: number;
      idempotency_window: number;
      namespace: string;
      emulation: Parameters<typeof toPolicy>[0];
    }>({ max_key_size, max_value_size, max_stream_value_size, max_batch_size, idempotency_window, namespace, emulation }, sdkConfigSchema, {
      file: this.deps.configFile,
      lineOf: this.deps.lineOf,
    });
    this.limits.maxKeyBytes = sdk.max_key_size;
    this.limits.maxValueBytes = sdk.max_value_size;
    this.limits.maxStreamValueBytes = sdk.max_stream_value_size;
    this.limits.maxBatchSize = sdk.max_batch_size;
    this.limits.idempotencyWindowMs = sdk.idempotency_window;
    this.namespace = sdk.namespace;
    const env = {
      logger: this.deps.logger,
      namespace: sdk.namespace,
      configFile: this.deps.configFile,
      lineOf: this.deps.lineOf,
      registry: this.deps.registry,
    };
    let filled: FilledSlots = new Map();
    if (this.def.slots && !this.def.ownSlots) {
      const { slots, ...own } = driverConfig;
      filled = await fillSlots(slots, {
        pattern: this.def.name,
        decls: this.def.slots,
        drivers: this.def.drivers ?? new DriverRegistry(),
        env,
        metrics: this.deps.driverMetrics,
        tracer: this.deps.tracer,
      });
      driverConfig = own;
    }
    let driver: D;
    try {
      driver = await this.def.create(driverConfig, env, filled);
    } catch (err) {
      await closeSlots(filled).catch(() => undefined);
      throw err;
    }
    this.filled = filled;
    const methods = [...this.def.bindings.flatMap((b) => b.driverMethods), ...EMULATION_DRIVER_METHODS];
    const instrumented = instrumentDriver(driver, methods, {
      driver: this.def.name,
      dbSystem: this.def.dbSystem ?? this.def.name,
      metrics: this.deps.driverMetrics,
      tracer: this.deps.tracer,
    });
    // One wrap, seen by every binding: what the backend lacks is emulated (or refused) the same way for all.
    this.slot.set(
      emulateKeyValue(instrumented, {
        policy: toPolicy(sdk.emulation),
        limits: this.limits,
        namespace: sdk.namespace,
        registry: this.deps.registry,
        onSweepError: (err) => this.deps.logger.warn("expiry sweep failed", { err }),
      }),
    );
    this.state = "initialized";
  }

  /** Opens the gate for data calls. */
  start(): void {
    if (this.state === "idle") throw new PrismError(Code.FAILED_PRECONDITION, "start before initialize");
    if (this.state === "initialized") this.state = "serving";
  }

  get serving(): boolean {
    return this.state === "serving";
  }

  /** Refuses data calls unless serving, and counts calls in flight for drain. */
  gate(): Interceptor {
    return (next) => (call) => {
      if (this.state !== "serving") {
        throw new PrismError(Code.UNAVAILABLE, `pattern ${this.def.name} is ${this.state === "idle" ? "not initialized" : this.state}`);
      }
      if (call.method.methodKind !== "unary") return this.trackStream(next, call);
      this.inflight++;
      let out;
      try {
        out = next(call) as Promise<unknown>;
      } catch (err) {
        this.done();
        throw err;
      }
      return out.finally(() => this.done());
    };
  }

  /**
   * Streams get a signal that also fires on drain, so they do not hold shutdown; a stream ended by the drain
   * ends with UNAVAILABLE ("shutting down"), so clients that reconnect on UNAVAILABLE resubscribe elsewhere
   * (or to the restarted pattern) instead of taking the end for a normal end of stream.
   */
  private trackStream(next: Parameters<Interceptor>[0], call: Parameters<Parameters<Interceptor>[0]>[0]) {
    const ac = new AbortController();
    const signal = AbortSignal.any([call.ctx.signal, ac.signal]);
    this.streams.add(ac);
    const out = next({ ...call, ctx: { ...call.ctx, signal } });
    const streams = this.streams;
    const name = this.def.name;
    const shutDown = () => new PrismError(Code.UNAVAILABLE, `pattern ${name} is shutting down: reconnect to resume the stream`);
    if (!isAsyncIterable(out)) {
      return (out as Promise<unknown>).finally(() => streams.delete(ac));
    }
    return (async function* () {
      try {
        try {
          for await (const m of out) {
            if (ac.signal.aborted) break;
            yield m;
          }
        } catch (err) {
          // The drain's abort surfaces in some drivers as a cancellation: it is still a shutdown.
          if (ac.signal.aborted && !call.ctx.signal.aborted) throw shutDown();
          throw err;
        }
        if (ac.signal.aborted && !call.ctx.signal.aborted) throw shutDown();
      } finally {
        streams.delete(ac);
      }
    })();
  }

  private done(): void {
    if (--this.inflight === 0 && this.idleWaiters.length > 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /** Refuses new data calls, waits (bounded) for unary calls in flight, then ends open streams. */
  async drain(timeoutMs: number): Promise<{ drained: number; aborted: number; unfinished: number }> {
    if (this.state === "stopped") return { drained: 0, aborted: 0, unfinished: 0 };
    this.state = "draining";
    const waiting = this.inflight;
    if (this.inflight > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let waiter!: () => void;
      await Promise.race([new Promise<void>((r) => this.idleWaiters.push((waiter = r))), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
      this.idleWaiters = this.idleWaiters.filter((w) => w !== waiter);
    }
    // Unary calls still running at the bound are cut off; open streams end with UNAVAILABLE (see trackStream).
    const unfinished = this.inflight;
    const aborted = unfinished + this.streams.size;
    for (const ac of this.streams) ac.abort();
    this.streams.clear();
    return { drained: waiting - unfinished, aborted, unfinished };
  }

  /** Closes the driver. */
  async stop(): Promise<void> {
    if (this.state === "stopped") return;
    this.state = "stopped";
    const driver = this.slot.isSet ? this.slot.current : undefined;
    this.slot.set(undefined);
    const filled = this.filled;
    this.filled = new Map();
    try {
      await driver?.close();
    } finally {
      await closeSlots(filled);
    }
  }

  /** Lifecycle health: the driver's own report, or why there is none. */
  async health(): Promise<{ status: HealthStatus; message: string; details: Record<string, string> }> {
    if (!this.slot.isSet) {
      return { status: HealthStatus.UNHEALTHY, message: `pattern is ${this.state}`, details: { state: this.state } };
    }
    try {
      const r = await this.slot.current.health();
      return {
        status: this.state === "serving" ? healthStatusOf[r.status] : HealthStatus.UNHEALTHY,
        message: redact(r.message ?? (this.state === "serving" ? "" : `pattern is ${this.state}`)),
        details: { ...r.details, state: this.state },
      };
    } catch (err) {
      return { status: HealthStatus.UNHEALTHY, message: redact(PrismError.from(err).message), details: { state: this.state } };
    }
  }
}
