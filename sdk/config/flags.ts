import { parseArgs, type ParseArgsConfig } from "node:util";
import { ConfigError } from "./yaml";

type FlagSpec = NonNullable<ParseArgsConfig["options"]>;

/** The PRISM_* variable that stands for a flag: --grpc-port → PRISM_GRPC_PORT. */
export function envName(flag: string): string {
  return "PRISM_" + flag.toUpperCase().replaceAll("-", "_");
}

/**
 * Parses flags strictly and returns a reader in which a flag on the command line
 * wins over its PRISM_* variable (12-factor). Booleans read as "true".
 */
export function readFlags<S extends FlagSpec>(argv: string[], spec: S, env: Record<string, string | undefined>) {
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    values = parseArgs({ args: argv, options: spec, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new ConfigError("flags", "", undefined, (err as Error).message);
  }
  return (flag: keyof S & string): string | undefined => {
    const v = values[flag];
    if (typeof v === "string") return v;
    if (v === true) return "true";
    return env[envName(flag)] || undefined;
  };
}

export function flagBool(v: string | undefined): boolean {
  return v !== undefined && ["1", "true", "yes", "on"].includes(v.toLowerCase());
}

export function flagPort(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined || v === "") return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError("flags", name, undefined, `must be a port number 0-65535, got "${v}"`);
  return n;
}

export function flagOneOf<T extends string>(name: string, v: string | undefined, allowed: readonly T[], dflt: T): T {
  if (v === undefined || v === "") return dflt;
  if (!(allowed as readonly string[]).includes(v)) throw new ConfigError("flags", name, undefined, `must be one of ${allowed.join(", ")}, got "${v}"`);
  return v as T;
}
