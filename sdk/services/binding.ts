import type { DescService } from "@bufbuild/protobuf";
import type { InterfaceName } from "../drivers/interfaces";
import { Code, PrismError } from "../errors";
import type { ServiceImpl } from "../grpc/types";
import type { Limits } from "./limits";

/** The driver a pattern instance currently serves with; throws UNAVAILABLE before Initialize. */
export interface DriverRef<D> {
  readonly current: D;
}

/** A settable DriverRef, held by the pattern runtime. */
export class DriverSlot<D> implements DriverRef<D> {
  private driver: D | undefined;
  get current(): D {
    const d = this.driver;
    if (d === undefined) throw new PrismError(Code.UNAVAILABLE, "pattern is not initialized yet");
    return d;
  }
  set(d: D | undefined): void {
    this.driver = d;
  }
  get isSet(): boolean {
    return this.driver !== undefined;
  }
}

/**
 * Ties one generated gRPC service to the driver interface that implements it.
 * Patterns list the bindings they serve; the SDK registers them and declares
 * them in InitializeResponse.metadata.interfaces.
 */
export interface ServiceBinding<S extends DescService = DescService, D = unknown> {
  /** The driver interface it serves (keyvalue_basic...), or a pattern's own service name (multicast_registry). */
  readonly interfaceName: InterfaceName | (string & {});
  readonly service: S;
  /** Driver methods this interface calls, wrapped by the observability middleware. */
  readonly driverMethods: readonly string[];
  implement(driver: DriverRef<D>, limits: Limits): ServiceImpl<S>;
}

export function defineBinding<S extends DescService, D>(b: ServiceBinding<S, D>): ServiceBinding<S, D> {
  return b;
}
