import { PrismClientError } from "../client/src/index";
import { parseInvocation, UsageError } from "./args";
import { COMMANDS } from "./commands";
import type { Output } from "./output";
import { run } from "./run";
import { EXIT, usage } from "./usage";

const io: Output = {
  out: (line) => process.stdout.write(line + "\n"),
  bytes: (b) => process.stdout.write(b),
  err: (line) => process.stderr.write(line + "\n"),
  color: process.stdout.isTTY === true && !process.env.NO_COLOR,
};

/** Exit codes (usage.ts EXIT): 0 ok, 1 the call failed (or found nothing), 2 usage error, 3 the namespace cannot do it. */
async function main(): Promise<number> {
  const stop = new AbortController();
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => stop.abort());
  try {
    const inv = parseInvocation(process.argv.slice(2), process.env);
    if (inv.help) {
      io.out(usage(COMMANDS));
      return EXIT.OK;
    }
    return await run(COMMANDS, inv, io, stop.signal);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`prismctl: ${err.message}\n${usage(COMMANDS)}`);
      return EXIT.USAGE;
    }
    const e = PrismClientError.from(err);
    io.err(`prismctl: ${e.codeName}: ${e.message}`);
    return e.reason === "unsupported" || e.reason === "not_served" ? EXIT.UNSUPPORTED : EXIT.FAILED;
  }
}

process.exit(await main());
