import { readFileSync } from "node:fs";
import { connect, type PrismClient } from "../client/src/index";
import { type Invocation, UsageError } from "./args";
import type { Command, CommandContext } from "./command";
import type { Output } from "./output";

/** The command the words name, and its arguments; a UsageError when none matches. */
export function resolve(commands: Command[], words: string[]): { command: Command; args: string[] } {
  const [group, verb, ...rest] = words;
  if (group === undefined) throw new UsageError("no command given");
  const inGroup = commands.filter((c) => c.group === group);
  if (inGroup.length === 0) throw new UsageError(`unknown command "${group}"`);
  const whole = inGroup.find((c) => c.verb === undefined);
  const command = whole ?? inGroup.find((c) => c.verb === verb || c.aliases?.includes(verb ?? ""));
  if (!command) throw new UsageError(`unknown ${group} command "${verb ?? ""}" (${inGroup.map((c) => c.verb).join(", ")})`);
  const args = whole ? words.slice(1) : rest;
  const [min, max] = typeof command.arity === "number" ? [command.arity, command.arity] : command.arity;
  if (args.length < min || args.length > max)
    throw new UsageError(`usage: prismctl ${[command.group, command.verb].filter(Boolean).join(" ")} ${command.args}`.trimEnd());
  return { command, args };
}

/** Connection options from the invocation (TLS files read here, so a missing file is reported before any call). */
function connectOptions(inv: Invocation) {
  const read = (file: string | undefined, what: string) => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new UsageError(`${what}: cannot read ${file}: ${(err as Error).message}`);
    }
  };
  return {
    addresses: inv.addresses,
    namespace: inv.namespace,
    adminAddress: inv.admin,
    deadline: inv.timeoutMs,
    token: inv.token,
    apiKey: inv.apiKey,
    tls: inv.tls && {
      ca: read(inv.tls.caFile, "--tls-ca"),
      cert: read(inv.tls.certFile, "--tls-cert"),
      key: read(inv.tls.keyFile, "--tls-key"),
      serverName: inv.tls.serverName,
    },
    // A CLI reports emulation through `caps`; warnings on stderr would pollute scripts.
    onEvent: () => {},
  };
}

/** Runs the command the invocation names; resolves with its exit code. Errors propagate (main maps them). */
export async function run(commands: Command[], inv: Invocation, io: Output, signal: AbortSignal): Promise<number> {
  const { command, args } = resolve(commands, inv.words);
  let client: PrismClient | undefined;
  const ctx: CommandContext = {
    inv,
    io,
    signal,
    commands,
    client: async (o) => (client ??= await connect({ ...connectOptions(inv), probe: o?.probe ?? true })),
  };
  try {
    return await command.run(ctx, args);
  } finally {
    client?.close();
  }
}
