import { createReadStream } from "node:fs";
import { open, rename, rm, stat } from "node:fs/promises";
import { intFlag } from "../args";
import type { Command } from "../command";
import { toJson } from "../output";

/**
 * Files as key-value values of any size, over StoreStream / RetrieveStream (the client's setStream / getStream):
 * neither side holds the whole file in memory.
 */
export const KV_FILE_COMMANDS: Command[] = [
  {
    group: "kv",
    verb: "put-file",
    args: "KEY FILE",
    arity: 2,
    flags: ["ttl"],
    summary: "store a file's bytes as the value, streamed (--ttl SECONDS: expire)",
    async run(ctx, [key, file]) {
      const kv = (await ctx.client()).keyValue;
      const ttl = intFlag(ctx.inv, "ttl");
      const { size } = await stat(file!);
      const version = await kv.setStream(key!, createReadStream(file!), { size, ttlSeconds: ttl > 0 ? ttl : undefined, signal: ctx.signal });
      ctx.io.out(ctx.inv.json ? toJson({ key, version, bytes: size }) : `OK (${size} bytes)`);
      return 0;
    },
  },
  {
    group: "kv",
    verb: "get-file",
    args: "KEY FILE",
    arity: 2,
    summary: "write the value to a file, streamed (exit 1 when not found; the file is left alone then)",
    async run(ctx, [key, file]) {
      const v = await (await ctx.client()).keyValue.getStream(key!, { signal: ctx.signal });
      if (!v.found) {
        if (ctx.inv.json) ctx.io.out(toJson({ key, found: false }));
        else ctx.io.err(`(not found) ${key}`);
        return 1;
      }
      // Written beside the target and renamed when whole: a read that fails half-way leaves no partial file.
      const partial = `${file}.partial-${process.pid}`;
      const out = await open(partial, "w");
      let bytes = 0;
      try {
        for await (const chunk of v.chunks) {
          await out.write(chunk);
          bytes += chunk.byteLength;
        }
        await out.close();
        await rename(partial, file!);
      } catch (err) {
        await out.close().catch(() => {});
        await rm(partial, { force: true });
        throw err;
      }
      ctx.io.out(ctx.inv.json ? toJson({ key, found: true, version: v.version, bytes }) : `OK (${bytes} bytes)`);
      return 0;
    },
  },
];
