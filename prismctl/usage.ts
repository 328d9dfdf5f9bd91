import { COMMAND_FLAGS, type Flag, GLOBAL_FLAGS } from "./args";
import type { Command } from "./command";

/** Exit codes, as documented in the usage text. */
export const EXIT = { OK: 0, FAILED: 1, USAGE: 2, UNSUPPORTED: 3 } as const;

const flagWords = (f: Flag) => `${f.short ? `-${f.short}, ` : ""}--${f.name}${f.value ? ` ${f.value}` : ""}`;

/** The usage text, from the command table. */
export function usage(commands: Command[]): string {
  const lines = commands.map((c) => [`${[c.group, c.verb].filter(Boolean).join(" ")}${c.args ? ` ${c.args}` : ""}`, c.summary] as const);
  const width = Math.max(...lines.map(([l]) => l.length));
  const flags = (list: Flag[]) => {
    const w = Math.max(...list.map((f) => flagWords(f).length));
    return list.map((f) => `  ${flagWords(f).padEnd(w)}  ${f.help}${f.env ? ` ($${f.env})` : ""}`);
  };
  return [
    "Usage: prismctl [flags] COMMAND",
    "Commands:",
    ...lines.map(([l, s]) => `  ${l.padEnd(width)}  ${s}`),
    "Flags:",
    ...flags(GLOBAL_FLAGS),
    "Command flags:",
    ...flags(COMMAND_FLAGS),
    "Exit codes: 0 ok; 1 the call failed, or found nothing / false; 2 usage error; 3 the namespace cannot do it",
    "(its pattern or backend lacks the operation: refused from its capabilities before calling).",
    "Patterns: kv = KeyValuePattern, multicast = MulticastRegistryPattern, pubsub = PubSubBasicInterface (prism.*).",
  ].join("\n");
}
