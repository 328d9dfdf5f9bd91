import type { PatternMetadata } from "../proto/gen/prism/interfaces/lifecycle_pb";
import type { SlotValue } from "./config";

/**
 * How a pattern declares its slots and drivers to the proxy, in PatternMetadata.extra
 * (sent at registration and in InitializeResponse):
 *   slot.<slot>.requires    = "keyvalue_basic,keyvalue_scan"   interfaces the slot needs
 *   slot.<slot>.optional    = "true"                          the slot may stay empty
 *   slot.<slot>.list        = "true"                          the slot takes a list of backends (shards)
 *   driver.<driver>.implements = "keyvalue_basic,keyvalue_ttl" interfaces a built-in driver has
 */
export interface SlotDeclarations {
  slots: Map<string, SlotDeclaration>;
  drivers: Map<string, string[]>;
}

const list = (v: string | undefined) =>
  (v ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

export interface SlotDeclaration {
  requires: string[];
  optional: boolean;
  list: boolean;
}

/** Reads the slot and driver declarations out of a pattern's metadata. */
export function slotDeclarations(metadata: PatternMetadata | undefined): SlotDeclarations {
  const slots = new Map<string, SlotDeclaration>();
  const drivers = new Map<string, string[]>();
  const slot = (name: string) => slots.get(name) ?? slots.set(name, { requires: [], optional: false, list: false }).get(name)!;
  for (const [k, v] of Object.entries(metadata?.extra ?? {})) {
    let m = /^slot\.([^.]+)\.requires$/.exec(k);
    if (m) {
      slot(m[1]!).requires = list(v);
      continue;
    }
    m = /^slot\.([^.]+)\.(optional|list)$/.exec(k);
    if (m) {
      slot(m[1]!)[m[2] as "optional" | "list"] = v === "true";
      continue;
    }
    m = /^driver\.([^.]+)\.implements$/.exec(k);
    if (m) drivers.set(m[1]!, list(v));
  }
  return { slots, drivers };
}

/** One reason a namespace's slots cannot be filled; `slot` is undefined for a problem with the whole map. */
export interface SlotProblem {
  slot?: string;
  /** Key path under `slots` when finer than the slot: [slot, i, "driver"] for an entry of a list slot. */
  path?: (string | number)[];
  message: string;
}

/**
 * Checks configured slots against a pattern's declarations (contract §4): every
 * configured slot exists, its driver is built in and implements each required
 * interface, and every required slot is filled. Returns the first problem, if any.
 */
export function checkSlots(pattern: string, configured: Record<string, SlotValue> | undefined, metadata: PatternMetadata | undefined): SlotProblem | undefined {
  const decl = slotDeclarations(metadata);
  const slots = configured ?? {};
  if (Object.keys(slots).length > 0 && decl.slots.size === 0) {
    return { message: `pattern ${pattern} declares no slots; remove \`slots\` (configure it with \`config\`)` };
  }
  for (const [slot, value] of Object.entries(slots)) {
    const want = decl.slots.get(slot);
    if (!want) return { slot, message: `pattern ${pattern} has no slot "${slot}" (slots: ${[...decl.slots.keys()].join(", ")})` };
    if (isList(value) && !want.list) return { slot, message: `slot "${slot}" takes one driver, not a list` };
    const entries = isList(value) ? value.map((e, i) => ({ driver: e.driver, path: [slot, i, "driver"] })) : [{ driver: value.driver, path: undefined }];
    for (const { driver, path } of entries) {
      const has = decl.drivers.get(driver);
      if (!has)
        return {
          slot,
          path,
          message: `slot "${slot}": driver "${driver}" is not built into pattern ${pattern} (drivers: ${[...decl.drivers.keys()].join(", ") || "none"})`,
        };
      const missing = want.requires.filter((i) => !has.includes(i));
      if (missing.length > 0) {
        return { slot, path, message: `slot "${slot}": driver "${driver}" does not implement required interface ${missing.join(", ")}` };
      }
    }
  }
  if (configured !== undefined) {
    for (const [slot, d] of decl.slots) {
      if (!d.optional && !(slot in slots)) return { slot, message: `slot "${slot}" of pattern ${pattern} is required (needs ${d.requires.join(", ")})` };
    }
  }
  return undefined;
}

const isList = (v: SlotValue): v is Extract<SlotValue, readonly unknown[]> => Array.isArray(v);
