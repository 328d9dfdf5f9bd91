import { intFlag, UsageError } from "../args";
import type { Command } from "../command";
import { toJson } from "../output";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Prints "(not found) KEY" (or {"found":false} with --json) and answers exit code 1. */
function notFound(ctx: Parameters<Command["run"]>[0], key: string): number {
  if (ctx.inv.json) ctx.io.out(toJson({ key, found: false }));
  else ctx.io.err(`(not found) ${key}`);
  return 1;
}

/** Key-value commands over KeyValuePattern (prism.patterns.keyvalue). */
export const KV_COMMANDS: Command[] = [
  {
    group: "kv",
    verb: "set",
    args: "KEY VALUE",
    arity: 2,
    flags: ["ttl"],
    summary: "store a value (--ttl SECONDS: expire)",
    async run(ctx, [key, value]) {
      const kv = (await ctx.client()).keyValue;
      const ttl = intFlag(ctx.inv, "ttl");
      const r = await kv.store({ key: key!, value: encoder.encode(value!), expirationSeconds: ttl > 0 ? BigInt(ttl) : undefined });
      ctx.io.out(ctx.inv.json ? toJson({ key, version: r.version }) : "OK");
      return 0;
    },
  },
  {
    group: "kv",
    verb: "get",
    args: "KEY",
    arity: 1,
    summary: "print the value (exit 1 when not found)",
    async run(ctx, [key]) {
      const r = await (await ctx.client()).keyValue.retrieve({ key: key! });
      if (!r.found) return notFound(ctx, key!);
      if (ctx.inv.json) ctx.io.out(toJson({ key, found: true, value: decoder.decode(r.value), version: r.version }));
      else {
        ctx.io.bytes(r.value);
        ctx.io.out("");
      }
      return 0;
    },
  },
  {
    group: "kv",
    verb: "del",
    aliases: ["delete"],
    args: "KEY",
    arity: 1,
    summary: "delete (exit 1 when not found)",
    async run(ctx, [key]) {
      const r = await (await ctx.client()).keyValue.delete({ key: key! });
      if (!r.found) return notFound(ctx, key!);
      ctx.io.out(ctx.inv.json ? toJson({ key, found: true }) : "deleted");
      return 0;
    },
  },
  {
    group: "kv",
    verb: "exists",
    args: "KEY",
    arity: 1,
    summary: "true / false (exit 1 when false)",
    async run(ctx, [key]) {
      const { exists } = await (await ctx.client()).keyValue.exists({ key: key! });
      ctx.io.out(ctx.inv.json ? toJson({ key, exists }) : String(exists));
      return exists ? 0 : 1;
    },
  },
  {
    group: "kv",
    verb: "ttl",
    args: "KEY",
    arity: 1,
    summary: "remaining seconds, or none (exit 1 when not found)",
    async run(ctx, [key]) {
      const s = (await (await ctx.client()).keyValue.getExpiration({ key: key! })).expirationSeconds;
      if (s === -2n) return notFound(ctx, key!);
      ctx.io.out(ctx.inv.json ? toJson({ key, ttl_seconds: s === -1n ? null : s }) : s === -1n ? "none" : `${s}s`);
      return 0;
    },
  },
  {
    group: "kv",
    verb: "expire",
    args: "KEY SECONDS",
    arity: 2,
    summary: "set the expiry; 0 removes it (exit 1 when not found)",
    async run(ctx, [key, secs]) {
      const seconds = Number(secs);
      if (!Number.isInteger(seconds) || seconds < 0) throw new UsageError(`SECONDS must be a whole number >= 0, got "${secs}"`);
      const r = await (await ctx.client()).keyValue.setExpiration({ key: key!, expirationSeconds: BigInt(seconds) });
      if (!r.keyExisted) return notFound(ctx, key!);
      ctx.io.out(ctx.inv.json ? toJson({ key, ttl_seconds: seconds || null }) : "OK");
      return 0;
    },
  },
  {
    group: "kv",
    verb: "scan",
    args: "[PREFIX]",
    arity: [0, 1],
    flags: ["limit", "keys-only"],
    summary: "list keys (and values) under a prefix",
    async run(ctx, [prefix]) {
      const keysOnly = ctx.inv.flags["keys-only"] === "true";
      const pages = (await ctx.client()).keyValue.scan({ prefix: prefix ?? "", limit: intFlag(ctx.inv, "limit"), includeValues: !keysOnly });
      for await (const page of pages)
        page.keys.forEach((k, i) => {
          if (ctx.inv.json) ctx.io.out(toJson(keysOnly ? { key: k } : { key: k, value: page.values[i] }));
          else ctx.io.out(keysOnly ? k : `${k}\t${decoder.decode(page.values[i])}`);
        });
      return 0;
    },
  },
  {
    group: "kv",
    verb: "count",
    args: "[PREFIX]",
    arity: [0, 1],
    summary: "how many keys live under a prefix",
    async run(ctx, [prefix]) {
      const { count } = await (await ctx.client()).keyValue.count({ prefix: prefix ?? "" });
      ctx.io.out(ctx.inv.json ? toJson({ prefix: prefix ?? "", count }) : String(count));
      return 0;
    },
  },
];
