import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { KeyValueBatchInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_batch_pb";
import { KeyValueScanInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_scan_pb";
import { KeyValueTTLInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_ttl_pb";
import type { InterfaceName } from "../drivers/interfaces";
import type { Limits } from "../services/limits";

/** How the pattern provides one feature over its backend. */
export type Support = "native" | "emulated" | "unavailable";

/** One key-value interface of the primary slot and how it is provided. */
export interface InterfaceSupport {
  name: InterfaceName;
  /** Full gRPC service name of the interface service. */
  service: string;
  support: Support;
  /** Who emulates it ("sdk" or "driver") when emulated; why not when unavailable. */
  how: string;
}

/**
 * What a namespace's key-value backend can do, derived once at Initialize from the driver's methods,
 * `Driver.emulates`, the emulation policy and the limits in force. KeyValuePattern.GetCapabilities answers
 * from it; the emulation layer is built from the same decisions, so the answer is what the code does.
 */
export interface KeyValueCapabilities {
  /** Backend type (the driver's name): memstore, redis, postgres, nats-kv, … */
  backend: string;
  basic: InterfaceSupport;
  scan: InterfaceSupport;
  batch: InterfaceSupport;
  expiration: InterfaceSupport;
  transactions: false;
  /** Conditional writes by version (expected_version) work: the driver has the versioned methods. */
  conditionalWrites: boolean;
  /** Tags are stored with values (the driver stores them and every operation is its own, none emulated). */
  tags: boolean;
  /** Values past the single-message limit are stored chunked (StoreStream / RetrieveStream work). */
  chunked: boolean;
  limits: Readonly<Limits>;
}

export const SERVICE_OF: Record<"keyvalue_basic" | "keyvalue_scan" | "keyvalue_batch" | "keyvalue_ttl", string> = {
  keyvalue_basic: KeyValueBasicInterface.typeName,
  keyvalue_scan: KeyValueScanInterface.typeName,
  keyvalue_batch: KeyValueBatchInterface.typeName,
  keyvalue_ttl: KeyValueTTLInterface.typeName,
};

/** The operation names UNIMPLEMENTED messages use, by feature. */
const OPERATION = { scan: "scan", batch: "batch", expiration: "expiration" } as const;

/** UNIMPLEMENTED message for an unavailable feature: "<op> not supported by <backend>: <why>". */
export function unavailableMessage(caps: KeyValueCapabilities, feature: "scan" | "batch" | "expiration"): string {
  return `${OPERATION[feature]} not supported by ${caps.backend}: ${caps[feature].how}`;
}

/** The interfaces served over the backend (natively or emulated), as full service names. */
export function servedInterfaces(caps: KeyValueCapabilities): string[] {
  return [caps.basic, caps.scan, caps.batch, caps.expiration].filter((i) => i.support !== "unavailable").map((i) => i.service);
}

const CAPABILITIES = Symbol.for("prism.keyvalue.capabilities");
const REFUSAL = Symbol.for("prism.keyvalue.refusal");

/** Marks a (wrapped) driver as serving no key-value, with the UNIMPLEMENTED message its key-value calls answer. */
export function attachRefusal(driver: object, message: string): void {
  Object.defineProperty(driver, REFUSAL, { value: message, enumerable: false });
}

/** Why this driver serves no key-value (the UNIMPLEMENTED message), or undefined. */
export function refusalOf(driver: object): string | undefined {
  return (driver as Record<symbol, string | undefined>)[REFUSAL];
}

/** Attaches capabilities to a (wrapped) driver. */
export function attachCapabilities(driver: object, caps: KeyValueCapabilities): void {
  Object.defineProperty(driver, CAPABILITIES, { value: caps, enumerable: false });
}

/** The capabilities the emulation layer derived for this driver, or undefined when it has no key-value interface. */
export function capabilitiesOf(driver: object): KeyValueCapabilities | undefined {
  return (driver as Record<symbol, KeyValueCapabilities | undefined>)[CAPABILITIES];
}
