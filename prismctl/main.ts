import { codeName, PrismError } from "../sdk/grpc/errors";
import { parseInvocation, USAGE, UsageError } from "./args";
import { run, type Output } from "./commands";

const io: Output = {
  out: (line) => process.stdout.write(line + "\n"),
  bytes: (b) => process.stdout.write(b),
  err: (line) => process.stderr.write(line + "\n"),
};

/** Exit codes: 0 ok, 1 the call failed (or found nothing), 2 usage error. */
async function main(): Promise<number> {
  try {
    const inv = parseInvocation(process.argv.slice(2), process.env);
    if (inv.help) {
      io.out(USAGE);
      return 0;
    }
    return await run(inv, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`prismctl: ${err.message}\n${USAGE}`);
      return 2;
    }
    const e = PrismError.from(err);
    io.err(`prismctl: ${codeName(e.code)}: ${e.message}`);
    return 1;
  }
}

process.exit(await main());
