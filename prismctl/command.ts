import type { PrismClient } from "../client/src/index";
import type { Invocation } from "./args";
import type { Output } from "./output";

/** What a command runs with: the invocation, where to write, and the connection (opened on first use). */
export interface CommandContext {
  inv: Invocation;
  io: Output;
  /** Connects to the namespace; `probe: false` for commands that must work while its pattern is down. */
  client(options?: { probe?: boolean }): Promise<PrismClient>;
  /** Aborted on SIGINT / SIGTERM (ends subscriptions cleanly). */
  signal: AbortSignal;
  /** The command table (for completion). */
  commands: Command[];
}

/**
 * One prismctl command: `prismctl <group> [verb] ARGS…`. The command table (commands/index.ts) drives parsing,
 * usage text and shell completion, so a pattern's commands are one file (commands/<pattern>.ts).
 */
export interface Command {
  group: string;
  /** Undefined for a command that is a group alone (`prismctl health`). */
  verb?: string;
  aliases?: string[];
  /** Arguments as shown in usage, e.g. "KEY VALUE". */
  args: string;
  /** Positional argument count: exact, or [min, max]. */
  arity: number | [number, number];
  summary: string;
  /** Command flags it accepts (names from COMMAND_FLAGS). */
  flags?: string[];
  /** Resolves with the exit code. */
  run(ctx: CommandContext, args: string[]): Promise<number>;
}
