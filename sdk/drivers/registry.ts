import type { Driver, InterfaceName } from "./interfaces";

/** How to build a driver from its configuration map. */
export interface DriverFactory<D extends Driver = Driver> {
  readonly name: string;
  /** The interfaces every driver this factory builds implements. */
  readonly interfaces: readonly InterfaceName[];
  create(config: Record<string, unknown>, env: DriverEnv): D | Promise<D>;
}

/** What a driver gets from the SDK when it is created. */
export interface DriverEnv {
  readonly logger: import("../observability/logger").Logger;
  /** The namespace this pattern instance serves (for key prefixes); "" when unknown. */
  readonly namespace: string;
  /** The file the configuration came from, for error messages. */
  readonly configFile: string;
  readonly lineOf?: (path: readonly (string | number)[]) => number | undefined;
  /** The process's Prometheus registry, for driver-specific metrics (dropped messages, paused partitions). */
  readonly registry: import("prom-client").Registry;
}

/**
 * Drivers by name, so configuration can pick a backend (slots: {driver: redis}).
 * Patterns register only the drivers they import, keeping executables small.
 */
export class DriverRegistry {
  private readonly factories = new Map<string, DriverFactory>();

  /** A registry holding these factories. */
  static of(...factories: DriverFactory[]): DriverRegistry {
    const r = new DriverRegistry();
    for (const f of factories) r.register(f);
    return r;
  }

  register(factory: DriverFactory): this {
    if (this.factories.has(factory.name)) throw new Error(`driver ${factory.name} registered twice`);
    this.factories.set(factory.name, factory);
    return this;
  }

  get(name: string): DriverFactory | undefined {
    return this.factories.get(name);
  }

  names(): string[] {
    return [...this.factories.keys()];
  }

  /** The interfaces a slot requires that the named driver lacks ([] when it has them all). */
  missing(name: string, required: readonly InterfaceName[]): InterfaceName[] {
    const f = this.factories.get(name);
    if (!f) return [...required];
    return required.filter((i) => !f.interfaces.includes(i));
  }
}
