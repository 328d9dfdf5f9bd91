import { invalidArgument, resourceExhausted } from "@prism/sdk";

/** What one session may hold and how long it may live (settings; reported by GetCapabilities). */
export interface SessionLimits {
  maxAttributes: number;
  /** Names and values of all attributes together. */
  maxAttributeBytes: number;
  maxTtlSeconds: number;
  defaultTtlSeconds: number;
  maxOwnerBytes: number;
}

/** RESOURCE_EXHAUSTED naming the limit when the attributes are over it. */
export function checkAttributes(attributes: Record<string, Uint8Array>, limits: SessionLimits): void {
  const names = Object.keys(attributes);
  if (names.length > limits.maxAttributes) {
    throw resourceExhausted(`session would have ${names.length} attributes, over max_attributes ${limits.maxAttributes}`);
  }
  let bytes = 0;
  for (const n of names) {
    if (n === "") throw invalidArgument("attribute names must not be empty");
    bytes += Buffer.byteLength(n) + attributes[n]!.byteLength;
  }
  if (bytes > limits.maxAttributeBytes) {
    throw resourceExhausted(`session attributes would take ${bytes} bytes, over max_attribute_bytes ${limits.maxAttributeBytes}`);
  }
}

/** The ttl to apply: 0 = the default; over max_ttl is refused. */
export function ttlOf(requested: number, limits: SessionLimits, fallback = limits.defaultTtlSeconds): number {
  if (requested > limits.maxTtlSeconds) throw invalidArgument(`ttl_seconds ${requested} is over max_ttl ${limits.maxTtlSeconds}s`);
  return requested > 0 ? requested : fallback;
}

export function checkOwner(owner: string, limits: SessionLimits): void {
  if (owner === "") throw invalidArgument("owner must not be empty");
  if (Buffer.byteLength(owner) > limits.maxOwnerBytes) throw invalidArgument(`owner is over ${limits.maxOwnerBytes} bytes`);
}
