import type { PatternMetadata } from "../proto/gen/prism/interfaces/lifecycle_pb";
import type { SlotConfig } from "./config";

/**
 * How a pattern declares its slots and drivers to the proxy, in PatternMetadata.extra
 * (sent at registration and in InitializeResponse):
 *   slot.<slot>.requires    = "keyvalue_basic,keyvalue_scan"   interfaces the slot needs
 *   slot.<slot>.optional    = "true"                          the slot may stay empty
 *   driver.<driver>.implements = "keyvalue_basic,keyvalue_ttl" interfaces a built-in driver has
 */
export interface SlotDeclarations {
  slots: Map<string, { requires: string[]; optional: boolean }>;
  drivers: Map<string, string[]>;
}

const list = (v: string | undefined) =>
  (v ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

/** Reads the slot and driver declarations out of a pattern's metadata. */
export function slotDeclarations(metadata: PatternMetadata | undefined): SlotDeclarations {
  const slots = new Map<string, { requires: string[]; optional: boolean }>();
  const drivers = new Map<string, string[]>();
  for (const [k, v] of Object.entries(metadata?.extra ?? {})) {
    let m = /^slot\.([^.]+)\.requires$/.exec(k);
    if (m) {
      const s = slots.get(m[1]!) ?? { requires: [], optional: false };
      s.requires = list(v);
      slots.set(m[1]!, s);
      continue;
    }
    m = /^slot\.([^.]+)\.optional$/.exec(k);
    if (m) {
      const s = slots.get(m[1]!) ?? { requires: [], optional: false };
      s.optional = v === "true";
      slots.set(m[1]!, s);
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
  message: string;
}

/**
 * Checks configured slots against a pattern's declarations (contract §4): every
 * configured slot exists, its driver is built in and implements each required
 * interface, and every required slot is filled. Returns the first problem, if any.
 */
export function checkSlots(
  pattern: string,
  configured: Record<string, SlotConfig> | undefined,
  metadata: PatternMetadata | undefined,
): SlotProblem | undefined {
  const decl = slotDeclarations(metadata);
  const slots = configured ?? {};
  if (Object.keys(slots).length > 0 && decl.slots.size === 0) {
    return { message: `pattern ${pattern} declares no slots; remove \`slots\` (configure it with \`config\`)` };
  }
  for (const [slot, { driver }] of Object.entries(slots)) {
    const want = decl.slots.get(slot);
    if (!want) return { slot, message: `pattern ${pattern} has no slot "${slot}" (slots: ${[...decl.slots.keys()].join(", ")})` };
    const has = decl.drivers.get(driver);
    if (!has)
      return {
        slot,
        message: `slot "${slot}": driver "${driver}" is not built into pattern ${pattern} (drivers: ${[...decl.drivers.keys()].join(", ") || "none"})`,
      };
    const missing = want.requires.filter((i) => !has.includes(i));
    if (missing.length > 0) {
      return { slot, message: `slot "${slot}": driver "${driver}" does not implement required interface ${missing.join(", ")}` };
    }
  }
  if (configured !== undefined) {
    for (const [slot, d] of decl.slots) {
      if (!d.optional && !(slot in slots)) return { slot, message: `slot "${slot}" of pattern ${pattern} is required (needs ${d.requires.join(", ")})` };
    }
  }
  return undefined;
}
