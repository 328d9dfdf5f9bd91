import { intFlag } from "../args";
import type { CommandContext } from "../command";

/** Prints streamed items until --count of them, the server's end, or Ctrl-C (which is a normal end: exit 0). */
export async function printStream<T>(ctx: CommandContext, items: AsyncIterable<T>, line: (item: T) => string, json: (item: T) => string): Promise<number> {
  const limit = intFlag(ctx.inv, "count");
  let n = 0;
  try {
    for await (const item of items) {
      ctx.io.out(ctx.inv.json ? json(item) : line(item));
      if (limit > 0 && ++n >= limit) break;
    }
  } catch (err) {
    if (ctx.signal.aborted) return 0;
    throw err;
  }
  return 0;
}
